//! Finding the daemon by mDNS: a one-shot query for `_redline._tcp.local` PTR records sent
//! to 224.0.0.251:5353, with the SRV (port, host), TXT (`path=`) and A (address) records
//! read from the answer; and an A query for a `.local` host name in `REDLINE_URL`.
//!
//! The query goes out from an ordinary UDP port, which makes it a "legacy unicast" query
//! (RFC 6762 section 6.7): responders answer straight back to that port, so the firmware
//! needs neither port 5353 nor multicast group membership, and there is no cache to keep.
//! Only what a DNS answer needs is parsed: names (with compression) and the four record
//! types; anything malformed ends the parse of that packet, never the task.

use core::fmt;
use core::net::Ipv4Addr;

use embassy_net::udp::{PacketMetadata, UdpSocket};
use embassy_net::{IpAddress, IpEndpoint, Stack};
use embassy_time::{Duration, Instant, with_deadline};
use heapless::String;

use crate::http::{DEFAULT_PATH, Endpoint};

/// The service type the daemon advertises.
pub const SERVICE: &str = "_redline._tcp.local";

const MDNS_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 251);
const MDNS_PORT: u16 = 5353;
/// How long each query waits for an answer, and how many times it is sent.
const WAIT: Duration = Duration::from_millis(1500);
const TRIES: u32 = 3;

const TYPE_A: u16 = 1;
const TYPE_PTR: u16 = 12;
const TYPE_TXT: u16 = 16;
const TYPE_SRV: u16 = 33;

/// A name as text: labels joined by dots, lowercase, no trailing dot.
type Name = String<96>;

/// Why no daemon was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiscoverError {
    /// The UDP socket could not be bound or the query not sent.
    Socket,
    /// Nothing answered the query in time.
    NoAnswer,
    /// A service answered without the SRV or A record needed to reach it.
    Incomplete,
    /// The name is too long to ask for.
    BadName,
}

impl fmt::Display for DiscoverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DiscoverError::Socket => "cannot send an mDNS query",
            DiscoverError::NoAnswer => "no mDNS answer",
            DiscoverError::Incomplete => "mDNS answer without an address",
            DiscoverError::BadName => "name too long for a query",
        })
    }
}

/// The socket and its buffers, kept together for one discovery.
struct Querier<'a> {
    socket: UdpSocket<'a>,
    id: u16,
}

/// Asks for `_redline._tcp.local` and returns the first daemon that answers completely.
pub async fn find_service(stack: Stack<'_>) -> Result<Endpoint, DiscoverError> {
    let (mut rx_meta, mut tx_meta) = ([PacketMetadata::EMPTY; 2], [PacketMetadata::EMPTY; 2]);
    let (mut rx, mut tx) = ([0u8; 1536], [0u8; 256]);
    let mut querier = Querier::new(stack, &mut rx_meta, &mut rx, &mut tx_meta, &mut tx)?;
    let mut packet = [0u8; 1536];

    for _ in 0..TRIES {
        querier.send(SERVICE, TYPE_PTR).await?;
        let deadline = Instant::now() + WAIT;
        while let Some(len) = querier.receive(&mut packet, deadline).await {
            let answer = &packet[..len];
            let Some(service) = read_service(answer) else {
                continue;
            };
            let addr = match service.addr {
                Some(addr) => addr,
                // The address record was left out: ask for it by name.
                None => querier.ask_address(&service.target, &mut packet).await?,
            };
            let mut path = String::new();
            let _ = path.push_str(if service.path.is_empty() {
                DEFAULT_PATH
            } else {
                service.path.as_str()
            });
            return Ok(Endpoint {
                addr,
                port: service.port,
                host: host_name(&service.target),
                path,
            });
        }
    }
    Err(DiscoverError::NoAnswer)
}

/// Resolves a `.local` host name to its IPv4 address by mDNS.
pub async fn resolve_host(stack: Stack<'_>, host: &str) -> Result<Ipv4Addr, DiscoverError> {
    let (mut rx_meta, mut tx_meta) = ([PacketMetadata::EMPTY; 2], [PacketMetadata::EMPTY; 2]);
    let (mut rx, mut tx) = ([0u8; 1536], [0u8; 256]);
    let mut querier = Querier::new(stack, &mut rx_meta, &mut rx, &mut tx_meta, &mut tx)?;
    let mut packet = [0u8; 1536];
    let mut name = Name::new();
    name.push_str(host.trim_end_matches('.'))
        .map_err(|_| DiscoverError::BadName)?;
    querier.ask_address(&name, &mut packet).await
}

/// The Host header name for a target (`desk.local.` -> `desk.local`), cut to fit.
fn host_name(target: &Name) -> String<64> {
    let mut host = String::new();
    for c in target.chars() {
        if host.push(c).is_err() {
            break;
        }
    }
    host
}

impl<'a> Querier<'a> {
    fn new(
        stack: Stack<'a>,
        rx_meta: &'a mut [PacketMetadata],
        rx: &'a mut [u8],
        tx_meta: &'a mut [PacketMetadata],
        tx: &'a mut [u8],
    ) -> Result<Querier<'a>, DiscoverError> {
        let mut socket = UdpSocket::new(stack, rx_meta, rx, tx_meta, tx);
        // Port 0: an ephemeral port, which is what makes responders answer by unicast.
        socket.bind(0).map_err(|_| DiscoverError::Socket)?;
        // Any id will do; responders echo it, and it tells our answers from stray packets.
        let id = (Instant::now().as_ticks() as u16) | 1;
        Ok(Querier { socket, id })
    }

    /// Sends one question for `name` of type `qtype`.
    async fn send(&mut self, name: &str, qtype: u16) -> Result<(), DiscoverError> {
        let mut query = [0u8; 128];
        let len = encode_query(&mut query, self.id, name, qtype).ok_or(DiscoverError::BadName)?;
        self.socket
            .send_to(&query[..len], IpEndpoint::new(MDNS_GROUP.into(), MDNS_PORT))
            .await
            .map_err(|_| DiscoverError::Socket)
    }

    /// The next response to our query before `deadline`, or `None` when time is up.
    async fn receive(&mut self, packet: &mut [u8], deadline: Instant) -> Option<usize> {
        loop {
            let (len, meta) = with_deadline(deadline, self.socket.recv_from(packet))
                .await
                .ok()?
                .ok()?;
            let from_v4 = matches!(meta.endpoint.addr, IpAddress::Ipv4(_));
            let header = packet.get(..4)?;
            let is_ours =
                u16::from_be_bytes([header[0], header[1]]) == self.id && header[2] & 0x80 != 0;
            if from_v4 && is_ours {
                return Some(len);
            }
        }
    }

    /// Asks for the A record of `name`.
    async fn ask_address(
        &mut self,
        name: &Name,
        packet: &mut [u8],
    ) -> Result<Ipv4Addr, DiscoverError> {
        for _ in 0..TRIES {
            self.send(name, TYPE_A).await?;
            let deadline = Instant::now() + WAIT;
            while let Some(len) = self.receive(packet, deadline).await {
                if let Some(addr) = find_address(&packet[..len], name) {
                    return Ok(addr);
                }
            }
        }
        Err(DiscoverError::Incomplete)
    }
}

/// Writes a one-question query; `None` when `name` does not fit.
fn encode_query(out: &mut [u8], id: u16, name: &str, qtype: u16) -> Option<usize> {
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
struct Service {
    target: Name,
    port: u16,
    path: String<64>,
    addr: Option<Ipv4Addr>,
}

/// One resource record: its owner name, type and where its data lies in the packet.
struct Record {
    name: Name,
    rtype: u16,
    data: core::ops::Range<usize>,
}

/// Reads the service from a response to the PTR query: PTR gives the instance, the
/// instance's SRV the host and port, its TXT the path, the host's A the address.
fn read_service(packet: &[u8]) -> Option<Service> {
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
fn find_address(packet: &[u8], name: &Name) -> Option<Ipv4Addr> {
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
