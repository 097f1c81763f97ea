//! The firmware's wire code (`redline_core::mdns`, `redline_core::http`) against the real
//! daemon: `redline serve --listen 0.0.0.0:0` is asked for `_redline._tcp.local` the way
//! the chip asks (a legacy-unicast mDNS query from an ephemeral UDP port), and for
//! `/usage/gauge` with the firmware's exact request, its answer fed to the response reader
//! a byte at a time.
//!
//! The same exchanges recorded the fixtures in `crates/redline-core/tests/wire/`, which
//! redline-core's own tests read: `REDLINE_RECORD_WIRE=1 cargo test -p redline --test
//! firmware_wire` writes them again.

mod common;

use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{Daemon, Home};
use redline_core::http::{self, Endpoint, FetchError, Response};
use redline_core::mdns;
use std::io::{Read, Write};

/// Where redline-core's tests read the recorded bytes.
fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../redline-core/tests/wire")
}

/// Writes a fixture when recording.
fn record(name: &str, bytes: &[u8]) {
    if std::env::var_os("REDLINE_RECORD_WIRE").is_some() {
        std::fs::write(fixtures().join(name), bytes).unwrap();
    }
}

fn port(d: &Daemon) -> u16 {
    d.addr.rsplit(':').next().unwrap().parse().unwrap()
}

/// The firmware's request for `path`, sent to the daemon; every byte of the answer, up to
/// `limit` bytes or `wait` of silence.
fn exchange(d: &Daemon, request: &[u8], limit: usize, wait: Duration) -> Vec<u8> {
    let mut s = TcpStream::connect(&d.addr).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    while out.len() < limit {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    out
}

fn endpoint(d: &Daemon, path: &str) -> Endpoint {
    let url = format!("http://desk.local:{}{path}", port(d));
    http::Url::parse(&url)
        .unwrap()
        .endpoint(Ipv4Addr::LOCALHOST)
}

/// Feeds `bytes` to the firmware's reader one byte per read, then the close.
fn read_byte_at_a_time(bytes: &[u8]) -> Result<http::Body, FetchError> {
    let mut buf = [0u8; http::RESPONSE_MAX];
    let mut response = Response::new(&mut buf);
    for &b in bytes {
        let space = response.space()?;
        space[0] = b;
        if let Some(body) = response.received(1)? {
            return Ok(body);
        }
    }
    response.received(0)?.ok_or(FetchError::Truncated)
}

#[test]
fn the_firmware_reads_the_real_daemons_gauge() {
    let home = Home::new();
    let d = Daemon::start(&home, &["--listen", "0.0.0.0:0", "--demo"]);
    let req = http::request(&endpoint(&d, "/usage/gauge"), "redline-firmware/0.1.0").unwrap();
    let raw = exchange(&d, req.as_bytes(), 4096, Duration::from_secs(5));
    let body = read_byte_at_a_time(&raw).unwrap();
    let report = redline_core::poll::parse_gauge(body.as_slice()).unwrap();
    assert_eq!(report.version, redline_core::wire::USAGE_VERSION);
    record("gauge-demo.http", &raw);

    // What the firmware refuses, from the same daemon: a document over its buffers, a
    // path that does not exist, and a stream (chunked, as HTTP/1.1 gets it).
    let req = http::request(&endpoint(&d, "/usage"), "redline-firmware/0.1.0").unwrap();
    let raw = exchange(&d, req.as_bytes(), 4096, Duration::from_secs(5));
    assert_eq!(read_byte_at_a_time(&raw).unwrap_err(), FetchError::TooLarge);
    record("usage.http", &raw);
    let req = http::request(&endpoint(&d, "/nope"), "redline-firmware/0.1.0").unwrap();
    let raw = exchange(&d, req.as_bytes(), 4096, Duration::from_secs(5));
    assert_eq!(
        read_byte_at_a_time(&raw).unwrap_err(),
        FetchError::Status(404)
    );
    record("not-found.http", &raw);
    let req = format!(
        "GET /events HTTP/1.1\r\nHost: desk.local:{}\r\nConnection: close\r\n\r\n",
        port(&d)
    );
    let raw = exchange(&d, req.as_bytes(), 2048, Duration::from_millis(1500));
    let head = String::from_utf8_lossy(&raw).to_ascii_lowercase();
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    assert_eq!(read_byte_at_a_time(&raw).unwrap_err(), FetchError::TooLarge);
    record("events-chunked.http", &raw);
}

#[test]
fn the_firmware_reads_an_idle_daemons_gauge() {
    let home = Home::new();
    let d = Daemon::start(&home, &["--listen", "0.0.0.0:0"]);
    let req = http::request(&endpoint(&d, "/usage/gauge"), "redline-firmware/0.1.0").unwrap();
    let raw = exchange(&d, req.as_bytes(), 4096, Duration::from_secs(5));
    let body = read_byte_at_a_time(&raw).unwrap();
    let report = redline_core::poll::parse_gauge(body.as_slice()).unwrap();
    assert_eq!(report.color, None);
    record("gauge-idle.http", &raw);
}

/// Sends `query` the way the chip does and returns the first response to it.
fn ask(socket: &UdpSocket, query: &[u8], id: u16) -> Option<Vec<u8>> {
    let group = SocketAddr::from((Ipv4Addr::new(224, 0, 0, 251), 5353));
    for _ in 0..3 {
        socket
            .send_to(query, group)
            .expect("cannot send to 224.0.0.251:5353: this test needs a multicast route");
        let deadline = Instant::now() + Duration::from_millis(1500);
        let mut buf = [0u8; 1536];
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            socket
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            let Ok((n, _)) = socket.recv_from(&mut buf) else {
                break;
            };
            if mdns::is_response_to(&buf[..n], id) {
                return Some(buf[..n].to_vec());
            }
        }
    }
    None
}

#[test]
fn the_firmware_finds_the_real_daemon_by_mdns() {
    let home = Home::new();
    let d = Daemon::start(&home, &["--listen", "0.0.0.0:0"]);
    let socket = UdpSocket::bind("0.0.0.0:0").unwrap();
    let id = 0x5ed1;
    let mut query = [0u8; mdns::QUERY_MAX];
    let len = mdns::encode_query(&mut query, id, mdns::SERVICE, mdns::TYPE_PTR).unwrap();
    // Other daemons on this network may answer too: wait for ours, by its port.
    let mut service = None;
    let deadline = Instant::now() + Duration::from_secs(10);
    while service.is_none() && Instant::now() < deadline {
        let answer = ask(&socket, &query[..len], id)
            .expect("no mDNS answer from the daemon (is multicast routed on this host?)");
        if let Some(s) = mdns::read_service(&answer).filter(|s| s.port == port(&d)) {
            record("mdns-ptr-answer.bin", &answer);
            service = Some(s);
        }
    }
    let service = service.expect("the daemon's own answer");
    assert_eq!(service.path, "/usage/gauge");
    assert!(service.target.ends_with(".local"), "{service:?}");
    let addr = service.addr.expect("the answer carries the address");

    // The host's address asked for by name, as the firmware does when the answer leaves
    // it out (and for a `.local` REDLINE_URL).
    let len = mdns::encode_query(&mut query, id + 2, &service.target, mdns::TYPE_A).unwrap();
    let answer = ask(&socket, &query[..len], id + 2).expect("an answer to the A query");
    let by_name = mdns::find_address(&answer, &service.target).expect("an A record");
    record("mdns-a-answer.bin", &answer);
    // Either answer may name any of the host's addresses; each must be one that reaches it.
    for a in [addr, by_name] {
        let endpoint = service.endpoint(a);
        assert_eq!(endpoint.port, port(&d));
        let req = http::request(&endpoint, "redline-firmware/0.1.0").unwrap();
        let mut s = TcpStream::connect((a, endpoint.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        let body = read_byte_at_a_time(&raw).unwrap();
        redline_core::poll::parse_gauge(body.as_slice()).unwrap();
    }
}
