//! Finding the daemon by mDNS: the socket and timer half. A one-shot query for
//! `_redline._tcp.local` PTR records sent to 224.0.0.251:5353, with the SRV (port, host),
//! TXT (`path=`) and A (address) records read from the answer; and an A query for a
//! `.local` host name in `REDLINE_URL`.
//!
//! The query goes out from an ordinary UDP port, which makes it a "legacy unicast" query
//! (RFC 6762 section 6.7): responders answer straight back to that port, so the firmware
//! needs neither port 5353 nor multicast group membership, and there is no cache to keep.
//! The packets themselves are `redline_core::mdns`'s, tested on the host against the
//! daemon's real answers.

use core::fmt;
use core::net::Ipv4Addr;

use embassy_net::udp::{PacketMetadata, UdpSocket};
use embassy_net::{IpAddress, IpEndpoint, Stack};
use embassy_time::{Duration, Instant, with_deadline};
use redline_core::http::Endpoint;
use redline_core::mdns::{self, Name, QUERY_MAX, TYPE_A, TYPE_PTR};

pub use redline_core::mdns::SERVICE;

const MDNS_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 251);
const MDNS_PORT: u16 = 5353;
/// How long each query waits for an answer, and how many times it is sent.
const WAIT: Duration = Duration::from_millis(1500);
const TRIES: u32 = 3;

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
            let Some(service) = mdns::read_service(&packet[..len]) else {
                continue;
            };
            let addr = match service.addr {
                Some(addr) => addr,
                // The address record was left out: ask for it by name.
                None => querier.ask_address(&service.target, &mut packet).await?,
            };
            return Ok(service.endpoint(addr));
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
    let name = Name::from_text(host.trim_end_matches('.')).ok_or(DiscoverError::BadName)?;
    querier.ask_address(&name, &mut packet).await
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
        let mut query = [0u8; QUERY_MAX];
        let len =
            mdns::encode_query(&mut query, self.id, name, qtype).ok_or(DiscoverError::BadName)?;
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
            if from_v4 && mdns::is_response_to(&packet[..len], self.id) {
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
                if let Some(addr) = mdns::find_address(&packet[..len], name) {
                    return Ok(addr);
                }
            }
        }
        Err(DiscoverError::Incomplete)
    }
}
