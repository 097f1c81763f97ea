//! Finding the daemon by mDNS, as far as the wire goes: the one-question query the
//! firmware sends for `_redline._tcp.local` (PTR) or a `.local` host (A), and in the answer
//! names (with compression), PTR, SRV, TXT and A records.
//!
//! The firmware sends the query from an ordinary UDP port, which makes it a "legacy
//! unicast" query (RFC 6762 section 6.7): the daemon's responder (`mdns-sd`) answers
//! straight back to that port, so the chip needs neither port 5353 nor a multicast group.
//! Pure functions over byte slices, with no socket and no clock, tested on the host against
//! the daemon's real answers (`tests/wire/`). Anything malformed ends the parse of that
//! packet (`None`), never a panic: the packets come from the network.

use core::net::Ipv4Addr;

use crate::fixed::FixedStr;
use crate::http::{DEFAULT_PATH, Endpoint, HostName, Path};

/// The service type the daemon advertises.
pub const SERVICE: &str = "_redline._tcp.local";

/// Record type A (an IPv4 address).
pub const TYPE_A: u16 = 1;
/// Record type PTR (a service type's instances).
pub const TYPE_PTR: u16 = 12;
const TYPE_TXT: u16 = 16;
const TYPE_SRV: u16 = 33;

/// The largest query [`encode_query`] writes (a 96-byte name and the fixed parts).
pub const QUERY_MAX: usize = 128;

/// A name as text: labels joined by dots, lowercase, no trailing dot.
pub type Name = FixedStr<96>;

/// Writes a one-question query for `name` of type `qtype` into `out`; its length, or
/// `None` when `name` is not a valid name or does not fit.
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

/// Whether `packet` is a response to the query with this `id`: responders echo the id,
/// and it tells our answers from the other mDNS traffic a socket may see.
pub fn is_response_to(packet: &[u8], id: u16) -> bool {
    match packet {
        [hi, lo, flags, ..] => u16::from_be_bytes([*hi, *lo]) == id && flags & 0x80 != 0,
        _ => false,
    }
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// The SRV target host name (`desk.local`).
    pub target: Name,
    /// The SRV port.
    pub port: u16,
    /// The TXT record's `path=`, empty when it has none.
    pub path: Path,
    /// The target's address, when the answer carried it.
    pub addr: Option<Ipv4Addr>,
}

impl Service {
    /// Where to fetch from, with the target's address `addr` (the answer's, or one asked
    /// for by name): the TXT record's path, else [`DEFAULT_PATH`]; the target as the Host
    /// header, cut to fit.
    pub fn endpoint(&self, addr: Ipv4Addr) -> Endpoint {
        let mut host = HostName::new();
        for c in self.target.chars() {
            if host.push(c).is_err() {
                break;
            }
        }
        let path = if self.path.is_empty() {
            Path::from_text(DEFAULT_PATH).unwrap_or_default()
        } else {
            self.path
        };
        Endpoint {
            addr,
            port: self.port,
            host,
            path,
        }
    }
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
    let mut path = Path::new();
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
fn read_path(mut data: &[u8], path: &mut Path) {
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
pub fn find_address(packet: &[u8], name: &str) -> Option<Ipv4Addr> {
    let mut addr = None;
    for_each_record(packet, |r| {
        if addr.is_none() && r.rtype == TYPE_A && r.data.len() == 4 && r.name == name {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_the_header_and_one_question() {
        let mut out = [0u8; QUERY_MAX];
        let len = encode_query(&mut out, 0x1235, "_redline._tcp.local.", TYPE_PTR).unwrap();
        assert_eq!(
            &out[..len],
            b"\x12\x35\0\0\0\x01\0\0\0\0\0\0\x08_redline\x04_tcp\x05local\0\0\x0c\0\x01"
        );
        assert_eq!(encode_query(&mut out, 1, "a..local", TYPE_A), None);
        let long = [b'a'; 64];
        let long = core::str::from_utf8(&long).unwrap();
        assert_eq!(encode_query(&mut out, 1, long, TYPE_A), None);
        assert_eq!(encode_query(&mut out[..20], 1, SERVICE, TYPE_PTR), None);
    }

    #[test]
    fn a_pointer_loop_ends_the_parse() {
        // One answer whose name points at itself.
        let mut packet = [0u8; 12 + 2 + 10];
        packet[2] = 0x84;
        packet[7] = 1;
        packet[12] = 0xC0;
        packet[13] = 12;
        assert_eq!(read_service(&packet), None);
        assert_eq!(find_address(&packet, "x.local"), None);
    }
}
