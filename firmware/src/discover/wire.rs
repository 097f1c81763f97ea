//! The DNS wire format as far as the daemon's mDNS answer needs it: a one-question query
//! out, and in the answer names (with compression), PTR, SRV, TXT and A records.
//!
//! Pure functions over byte slices, with no socket and no clock, so they can be checked
//! on a workstation against a real responder's packets. Anything malformed ends the
//! parse of that packet (`None`), never a panic: the packets come from the network.

use core::net::Ipv4Addr;

use heapless::String;

/// The service type the daemon advertises.
pub const SERVICE: &str = "_redline._tcp.local";

/// Record types the firmware asks for or reads.
pub const TYPE_A: u16 = 1;
pub const TYPE_PTR: u16 = 12;
const TYPE_TXT: u16 = 16;
const TYPE_SRV: u16 = 33;

/// A name as text: labels joined by dots, lowercase, no trailing dot.
pub type Name = String<96>;

/// Writes a one-question query; `None` when `name` does not fit.
pub fn encode_query(out: &mut [u8], id: u16, name: &str, qtype: u16) -> Option<usize> {
    let mut w = Writer { out, len: 0 };
    w.put(&id.to_be_bytes())?;
    // Flags 0 (a standard query); one question, no records.
    w.put(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0])?;
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return None;
        }
        w.put(&[label.len() as u8])?;
        w.put(label.as_bytes())?;
    }
    w.put(&[0])?;
    w.put(&qtype.to_be_bytes())?;
    // Class IN, without the unicast-response bit: the ephemeral port already asks for it.
    w.put(&1u16.to_be_bytes())?;
    Some(w.len)
}

struct Writer<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) -> Option<()> {
        self.out
            .get_mut(self.len..self.len + bytes.len())?
            .copy_from_slice(bytes);
        self.len += bytes.len();
        Some(())
    }
}

/// What one response says about the first `_redline._tcp` instance in it.
pub struct Service {
    /// The SRV target host name.
    pub target: Name,
    /// The SRV port.
    pub port: u16,
    /// The TXT record's `path=`, empty when it has none.
    pub path: String<64>,
    /// The target's address, when the answer carried it.
    pub addr: Option<Ipv4Addr>,
}

/// One resource record: its owner name, type and where its data lies in the packet.
struct Record {
    name: Name,
    rtype: u16,
    data: core::ops::Range<usize>,
}

/// Reads the service from a response to the PTR query: PTR gives the instance, the
/// instance's SRV the host and port, its TXT the path, the host's A the address.
pub fn read_service(packet: &[u8]) -> Option<Service> {
    let mut instance = None;
    for_each_record(packet, |r| {
        if instance.is_none() && r.rtype == TYPE_PTR && r.name == SERVICE {
            instance = read_name(packet, r.data.start).map(|(n, _)| n);
        }
    });
    let instance = instance?;

    let mut service = None;
    let mut path = String::new();
    for_each_record(packet, |r| {
        if r.name != instance {
            return;
        }
        match r.rtype {
            TYPE_SRV if service.is_none() && r.data.len() > 6 => {
                let d = &packet[r.data.clone()];
                let port = u16::from_be_bytes([d[4], d[5]]);
                if let Some((target, _)) = read_name(packet, r.data.start + 6) {
                    service = Some((target, port));
                }
            }
            TYPE_TXT => read_path(&packet[r.data.clone()], &mut path),
            _ => {}
        }
    });
    let (target, port) = service?;
    let addr = find_address(packet, &target);
    Some(Service {
        target,
        port,
        path,
        addr,
    })
}

/// The `path=` entry of a TXT record's strings, if any.
fn read_path(mut data: &[u8], path: &mut String<64>) {
    while let Some((&len, rest)) = data.split_first() {
        let Some(entry) = rest.get(..usize::from(len)) else {
            return;
        };
        if let Some(value) = entry.strip_prefix(b"path=")
            && let Ok(text) = core::str::from_utf8(value)
            && text.starts_with('/')
        {
            path.clear();
            let _ = path.push_str(text);
        }
        data = &rest[usize::from(len)..];
    }
}

/// The first A record for `name` in a response.
pub fn find_address(packet: &[u8], name: &Name) -> Option<Ipv4Addr> {
    let mut addr = None;
    for_each_record(packet, |r| {
        if addr.is_none() && r.rtype == TYPE_A && r.data.len() == 4 && r.name == *name {
            let d = &packet[r.data.clone()];
            addr = Some(Ipv4Addr::new(d[0], d[1], d[2], d[3]));
        }
    });
    addr
}

/// Calls `f` for every answer, authority and additional record, in order; stops quietly
/// at the first malformed one.
fn for_each_record(packet: &[u8], mut f: impl FnMut(&Record)) {
    let Some(header) = packet.get(..12) else {
        return;
    };
    let count = |i: usize| usize::from(u16::from_be_bytes([header[i], header[i + 1]]));
    let (questions, records) = (count(4), count(6) + count(8) + count(10));
    let mut pos = 12;
    for _ in 0..questions {
        let Some((_, end)) = read_name(packet, pos) else {
            return;
        };
        pos = end + 4;
    }
    for _ in 0..records {
        let Some((name, end)) = read_name(packet, pos) else {
            return;
        };
        let Some(fixed) = packet.get(end..end + 10) else {
            return;
        };
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let len = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let data = end + 10..end + 10 + len;
        if data.end > packet.len() {
            return;
        }
        pos = data.end;
        f(&Record { name, rtype, data });
    }
}

/// Reads the (possibly compressed) name at `pos`: the name, lowercase, and the position
/// just after it in the packet.
fn read_name(packet: &[u8], mut pos: usize) -> Option<(Name, usize)> {
    let mut name = Name::new();
    let mut end = None;
    // Compression pointers may chain but never loop in a valid packet; a bound stops a
    // malicious one.
    for _ in 0..32 {
        let len = *packet.get(pos)?;
        match len {
            0 => {
                return Some((name, end.unwrap_or(pos + 1)));
            }
            l if l & 0xC0 == 0xC0 => {
                let low = *packet.get(pos + 1)?;
                end.get_or_insert(pos + 2);
                pos = usize::from(u16::from_be_bytes([l & 0x3F, low]));
            }
            l if l & 0xC0 == 0 => {
                let label = packet.get(pos + 1..pos + 1 + usize::from(l))?;
                if !name.is_empty() {
                    name.push('.').ok()?;
                }
                for &b in label {
                    name.push(char::from(b.to_ascii_lowercase())).ok()?;
                }
                pos += 1 + usize::from(l);
            }
            _ => return None,
        }
    }
    None
}
