//! The firmware's wire code against the daemon's real bytes (`tests/wire/`, recorded as
//! its README says): the mDNS answer read whole, cut short and corrupted; `/usage/gauge`
//! read whole, in every split, a byte at a time, cut short, re-framed in chunks, oversized
//! and garbled. None of it may panic; each must end in the body or the right error.

use std::net::Ipv4Addr;

use redline_core::http::{self, BODY_MAX, Body, FetchError, RESPONSE_MAX, Response};
use redline_core::mdns;
use redline_core::poll::parse_gauge;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/wire/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The port the recorded daemon advertised (see tests/wire/README.md).
const RECORDED_PORT: u16 = 42571;
const RECORDED_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

#[test]
fn the_daemons_mdns_answer_names_its_port_path_and_address() {
    let answer = fixture("mdns-ptr-answer.bin");
    assert!(mdns::is_response_to(&answer, 0x5ed1));
    assert!(!mdns::is_response_to(&answer, 0x5ed2));
    let service = mdns::read_service(&answer).unwrap();
    assert_eq!(service.target, "vm.local");
    assert_eq!(service.port, RECORDED_PORT);
    assert_eq!(service.path, "/usage/gauge");
    assert_eq!(service.addr, Some(RECORDED_ADDR));
    let endpoint = service.endpoint(RECORDED_ADDR);
    assert_eq!(endpoint.host, "vm.local");
    assert_eq!(endpoint.to_string(), "http://192.0.2.2:42571/usage/gauge");

    let answer = fixture("mdns-a-answer.bin");
    assert!(mdns::is_response_to(&answer, 0x5ed3));
    assert_eq!(mdns::find_address(&answer, "vm.local"), Some(RECORDED_ADDR));
    assert_eq!(mdns::find_address(&answer, "other.local"), None);
    // An A answer is no service.
    assert_eq!(mdns::read_service(&answer), None);
}

#[test]
fn the_query_the_daemon_answered_is_the_one_the_firmware_sends() {
    // The answer echoes the question: the firmware's query is its first bytes after the
    // header, with the header's flags and counts of a query.
    let answer = fixture("mdns-ptr-answer.bin");
    let mut query = [0u8; mdns::QUERY_MAX];
    let len = mdns::encode_query(&mut query, 0x5ed1, mdns::SERVICE, mdns::TYPE_PTR).unwrap();
    assert_eq!(&query[12..len], &answer[12..len]);
    let answer = fixture("mdns-a-answer.bin");
    let len = mdns::encode_query(&mut query, 0x5ed3, "vm.local", mdns::TYPE_A).unwrap();
    assert_eq!(&query[12..len], &answer[12..len]);
}

#[test]
fn a_cut_mdns_answer_gives_what_it_holds_and_never_panics() {
    let answer = fixture("mdns-ptr-answer.bin");
    // The records come PTR, SRV, TXT, A: once the SRV is in, the service is there (with
    // the default path until the TXT is in); without the A record (the last 16 bytes) it
    // has no address, and the firmware asks for it by name.
    let mut found = false;
    for len in 0..answer.len() {
        match mdns::read_service(&answer[..len]) {
            Some(s) => {
                found = true;
                assert_eq!((s.port, s.addr), (RECORDED_PORT, None), "{len}");
                assert!(s.path.is_empty() || s.path == "/usage/gauge");
                assert_eq!(s.endpoint(RECORDED_ADDR).path, "/usage/gauge");
            }
            None => assert!(!found, "a service, then none, at {len} bytes"),
        }
    }
    assert!(mdns::read_service(&answer[..answer.len() - 16]).is_some());
}

#[test]
fn a_corrupted_mdns_answer_never_panics() {
    for name in ["mdns-ptr-answer.bin", "mdns-a-answer.bin"] {
        let answer = fixture(name);
        for i in 0..answer.len() {
            for v in [0x00, 0x01, 0x3f, 0x40, 0x80, 0xc0, 0xc0 | 12, 0xff] {
                let mut bad = answer.clone();
                bad[i] = v;
                let _ = mdns::read_service(&bad);
                let _ = mdns::find_address(&bad, "vm.local");
            }
        }
    }
    assert_eq!(mdns::read_service(&[]), None);
    assert_eq!(mdns::read_service(&[0xff; 1500]), None);
}

/// Reads `bytes` arriving in reads of the given sizes (cycled), then the close.
fn read_in(bytes: &[u8], sizes: &[usize]) -> Result<Body, FetchError> {
    let mut buf = [0u8; RESPONSE_MAX];
    let mut response = Response::new(&mut buf);
    let mut rest = bytes;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let space = response.space()?;
        let n = size.max(1).min(space.len()).min(rest.len());
        space[..n].copy_from_slice(&rest[..n]);
        rest = &rest[n..];
        if let Some(body) = response.received(n)? {
            return Ok(body);
        }
    }
    response.received(0)?.ok_or(FetchError::Truncated)
}

/// How many bytes the reader takes before it decides (body or error).
fn decided_after(bytes: &[u8]) -> usize {
    let mut buf = [0u8; RESPONSE_MAX];
    let mut response = Response::new(&mut buf);
    for (i, &b) in bytes.iter().enumerate() {
        match response.space() {
            Ok(space) => space[0] = b,
            Err(_) => return i,
        }
        match response.received(1) {
            Ok(None) => {}
            _ => return i + 1,
        }
    }
    bytes.len()
}

fn split_head(raw: &[u8]) -> (&[u8], &[u8]) {
    let at = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    raw.split_at(at)
}

#[test]
fn the_real_gauge_reads_whole_in_every_split_and_byte_at_a_time() {
    for name in ["gauge-idle.http", "gauge-demo.http"] {
        let raw = fixture(name);
        let (_, expected) = split_head(&raw);
        let body = read_in(&raw, &[usize::MAX]).unwrap();
        assert_eq!(body.as_slice(), expected);
        parse_gauge(body.as_slice()).unwrap();
        assert_eq!(read_in(&raw, &[1]).unwrap().as_slice(), expected);
        assert_eq!(read_in(&raw, &[3, 1, 7]).unwrap().as_slice(), expected);
        for at in 1..raw.len() {
            assert_eq!(
                read_in(&raw, &[at, usize::MAX]).unwrap().as_slice(),
                expected
            );
        }
        // Content-Length ends the body: the reader does not wait for the close.
        assert_eq!(decided_after(&raw), raw.len(), "{name}");
    }
}

#[test]
fn a_cut_gauge_is_truncated_or_not_http_never_a_body() {
    let raw = fixture("gauge-idle.http");
    let (head, _) = split_head(&raw);
    for len in 0..raw.len() {
        let err = read_in(&raw[..len], &[1]).unwrap_err();
        let expected = if len >= head.len() {
            FetchError::Truncated
        } else {
            FetchError::Head
        };
        assert_eq!(err, expected, "cut at {len}");
    }
}

/// The real gauge answer re-framed as a chunked HTTP/1.1 response, `size` bytes a chunk.
fn chunked(raw: &[u8], size: usize, extension: &str) -> Vec<u8> {
    let (head, body) = split_head(raw);
    let head = String::from_utf8_lossy(head)
        .replace("HTTP/1.0", "HTTP/1.1")
        .lines()
        .filter(|l| !l.starts_with("content-length"))
        .filter(|l| !l.is_empty())
        .map(|l| format!("{l}\r\n"))
        .collect::<String>();
    let mut out = format!("{head}transfer-encoding: chunked\r\n\r\n").into_bytes();
    for chunk in body.chunks(size) {
        out.extend(format!("{:X}{extension}\r\n", chunk.len()).bytes());
        out.extend(chunk);
        out.extend(b"\r\n");
    }
    out.extend(b"0\r\n\r\n");
    out
}

#[test]
fn a_chunked_gauge_reads_as_the_same_body() {
    let raw = fixture("gauge-demo.http");
    let (_, expected) = split_head(&raw);
    for size in [1, 7, 16, 64, expected.len()] {
        for ext in ["", ";x=1"] {
            let framed = chunked(&raw, size, ext);
            assert_eq!(
                read_in(&framed, &[1]).unwrap().as_slice(),
                expected,
                "{size}"
            );
            assert_eq!(
                read_in(&framed, &[usize::MAX]).unwrap().as_slice(),
                expected
            );
            // The last chunk ends it, trailers or not.
            assert_eq!(decided_after(&framed), framed.len() - 2);
            // Cut before the last chunk: truncated.
            let cut = &framed[..framed.len() - 5];
            assert_eq!(read_in(cut, &[1]).unwrap_err(), FetchError::Truncated);
        }
    }
    // A Content-Length beside the chunks is ignored.
    let mut both = chunked(&raw, 10, "");
    let at = both.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
    both.splice(at..at, b"content-length: 5\r\n".iter().copied());
    assert_eq!(read_in(&both, &[1]).unwrap().as_slice(), expected);

    // Chunks that are not: a size that is not hex, data longer than its size.
    let framed = chunked(&raw, 16, "");
    let text = String::from_utf8(framed.clone()).unwrap();
    let bad = text.replacen("\r\n10\r\n", "\r\nzz\r\n", 1);
    assert_eq!(read_in(bad.as_bytes(), &[1]), Err(FetchError::Chunks));
    let bad = text.replacen("\r\n10\r\n", "\r\nF\r\n", 1);
    assert_eq!(read_in(bad.as_bytes(), &[1]), Err(FetchError::Chunks));
}

#[test]
fn the_daemons_real_chunked_stream_is_too_large_at_its_first_chunk() {
    let raw = fixture("events-chunked.http");
    assert_eq!(read_in(&raw, &[1]), Err(FetchError::TooLarge));
    assert_eq!(read_in(&raw, &[usize::MAX]), Err(FetchError::TooLarge));
    // Its first chunk (0x63E bytes) is refused from its size line, before its data.
    let (head, _) = split_head(&raw);
    assert_eq!(decided_after(&raw), head.len() + 5);
}

#[test]
fn an_oversized_answer_is_refused_before_the_buffer_fills() {
    let raw = fixture("usage.http");
    let (head, body) = split_head(&raw);
    assert!(body.len() > BODY_MAX && raw.len() > RESPONSE_MAX);
    assert_eq!(read_in(&raw, &[1]), Err(FetchError::TooLarge));
    // The Content-Length says it: decided at the end of the head.
    assert_eq!(decided_after(&raw), head.len());
    // Without one (HTTP/1.0, the body ends at the close): as soon as the body passes
    // BODY_MAX.
    let text = String::from_utf8(raw.clone()).unwrap();
    let start = text.find("content-length").unwrap();
    let end = start + text[start..].find("\r\n").unwrap() + 2;
    let unframed = [&raw[..start], &raw[end..]].concat();
    let head_len = head.len() - (end - start);
    assert_eq!(read_in(&unframed, &[1]), Err(FetchError::TooLarge));
    assert_eq!(decided_after(&unframed), head_len + BODY_MAX + 1);
    // A small body without a length reads to the close.
    let idle = fixture("gauge-idle.http");
    let text = String::from_utf8(idle.clone()).unwrap();
    let start = text.find("content-length").unwrap();
    let end = start + text[start..].find("\r\n").unwrap() + 2;
    let unframed = [&idle[..start], &idle[end..]].concat();
    assert_eq!(
        read_in(&unframed, &[1]).unwrap().as_slice(),
        split_head(&idle).1
    );
    // A head that never ends fills the buffer.
    let mut endless = b"HTTP/1.0 200 OK\r\n".to_vec();
    while endless.len() < 2 * RESPONSE_MAX {
        endless.extend(b"x-padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    assert_eq!(read_in(&endless, &[1]), Err(FetchError::TooLarge));
    assert_eq!(decided_after(&endless), RESPONSE_MAX);
}

#[test]
fn another_status_is_refused_at_its_head() {
    let raw = fixture("not-found.http");
    assert_eq!(read_in(&raw, &[1]), Err(FetchError::Status(404)));
    let text = String::from_utf8(fixture("gauge-idle.http")).unwrap();
    let moved = text.replace("200 OK", "503 Service Unavailable");
    assert_eq!(
        read_in(moved.as_bytes(), &[1]),
        Err(FetchError::Status(503))
    );
    let (head, _) = split_head(moved.as_bytes());
    assert_eq!(decided_after(moved.as_bytes()), head.len());
}

#[test]
fn garbage_is_refused_early_and_never_panics() {
    // Not HTTP: refused from the first byte that cannot begin a status line.
    assert_eq!(
        read_in(b"SSH-2.0-OpenSSH_9.2\r\n", &[1]),
        Err(FetchError::Head)
    );
    assert_eq!(decided_after(b"SSH-2.0-OpenSSH_9.2\r\n"), 1);
    assert_eq!(decided_after(b"HTTP/1.0 2"), 10);
    assert_eq!(
        read_in(&fixture("mdns-ptr-answer.bin"), &[1]),
        Err(FetchError::Head)
    );
    assert_eq!(read_in(b"", &[1]), Err(FetchError::Head));
    assert_eq!(
        read_in(b"HTTP/1.0 200 OK\r\nno colon\r\n\r\n", &[1]),
        Err(FetchError::Head)
    );
    let two = b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nabc";
    assert_eq!(read_in(two, &[1]), Err(FetchError::Head));
    let gzip = b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n";
    assert_eq!(read_in(gzip, &[1]), Err(FetchError::Head));
    // A 200 with a body that is not the gauge: the reader gives it, the parser refuses it.
    let html = b"HTTP/1.0 200 OK\r\ncontent-length: 6\r\n\r\n<html>";
    assert!(parse_gauge(read_in(html, &[1]).unwrap().as_slice()).is_err());

    // Every byte of the real answer replaced by a few values, read a byte at a time.
    let raw = fixture("gauge-idle.http");
    for i in 0..raw.len() {
        for v in [0, b'\n', b'\r', b':', b'9', 0xff] {
            let mut bad = raw.clone();
            bad[i] = v;
            if let Ok(body) = read_in(&bad, &[1]) {
                assert!(body.as_slice().len() <= BODY_MAX);
            }
        }
    }
    // Random bytes, from a fixed seed.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..200 {
        let bytes: Vec<u8> = (0..1500)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert!(read_in(&bytes, &[1, 50, 9]).is_err());
        let _ = mdns::read_service(&bytes);
    }
}

#[test]
fn the_request_the_daemon_answered() {
    // The fixtures' requests were this function's output (with the recorded port).
    let url = format!("http://desk.local:{RECORDED_PORT}");
    let endpoint = http::Url::parse(&url).unwrap().endpoint(RECORDED_ADDR);
    let request = http::request(&endpoint, "redline-firmware/0.1.0").unwrap();
    let text = std::str::from_utf8(request.as_bytes()).unwrap();
    assert!(text.starts_with("GET /usage/gauge HTTP/1.0\r\nHost: desk.local:42571\r\n"));
    assert!(text.ends_with("\r\n\r\n"));
}
