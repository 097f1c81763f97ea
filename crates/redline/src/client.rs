//! A small HTTP/1.1 GET for talking to a running daemon (`doctor`, `cluster`, `watch`,
//! `statusline`) or a
//! Prometheus (`prom_source`): one request per connection, `Connection: close`, a timeout on
//! every step. The daemon's answers are small and sized; Prometheus (Go's net/http) sends
//! answers past a few KB chunked, so a chunked body is decoded. No client library needed.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// `http://host:port` (a trailing `/` allowed) to `host:port`. Only plain HTTP: the daemon
/// speaks nothing else.
pub fn authority(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url:?} is not an http:// URL"))?;
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains('/') {
        return Err(format!(
            "{url:?}: give the daemon's address only, like http://127.0.0.1:7878"
        ));
    }
    Ok(if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:80")
    })
}

/// `GET path` from `authority` (`host:port`): the status and the body.
pub fn get(authority: &str, path: &str, timeout: Duration) -> io::Result<(u16, Vec<u8>)> {
    request(authority, "GET", path, &[], &[], timeout)
}

/// One request with `headers` and `body`; `timeout` bounds each step (connect, write, read).
pub fn request(
    authority: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> io::Result<(u16, Vec<u8>)> {
    let addr = authority.to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(io::ErrorKind::NotFound, format!("{authority}: no address"))
    })?;
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method != "GET" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no HTTP header"))?;
    let head = std::str::from_utf8(&raw[..split]).unwrap_or("");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no HTTP status"))?;
    let body = &raw[split + 4..];
    let body = if is_chunked(head) {
        decode_chunked(body)?
    } else {
        body.to_vec()
    };
    Ok((status, body))
}

/// The daemon's `/usage` document from `authority`, with `token` as the bearer when one is
/// known (`/usage` is open on every bind today; a token costs nothing and keeps this
/// working behind a stricter daemon). `Err` says in words why there is none: nothing
/// listening, no answer in time, a refusal, or an answer that is not a `/usage` document
/// (another program on the port).
pub fn usage(
    authority: &str,
    token: Option<&str>,
    timeout: Duration,
) -> Result<serde_json::Value, String> {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .iter()
        .map(|b| ("Authorization", b.as_str()))
        .collect();
    let (status, body) =
        request(authority, "GET", "/usage", &headers, &[], timeout).map_err(|e| {
            match e.kind() {
                io::ErrorKind::ConnectionRefused => "nothing listens there".to_owned(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                    format!("no answer within {} s", timeout.as_secs_f64())
                }
                _ => e.to_string(),
            }
        })?;
    if status != 200 {
        return Err(format!("/usage answered {status}"));
    }
    let doc: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|_| "what answers there is not a redline daemon".to_owned())?;
    if !(doc["version"].is_u64() && doc["lamps"].is_object()) {
        return Err("what answers there is not a redline daemon".into());
    }
    Ok(doc)
}

/// Whether the header block says `Transfer-Encoding: chunked` (chunked is always the last
/// coding when present).
fn is_chunked(head: &str) -> bool {
    head.lines().skip(1).any(|line| {
        line.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("transfer-encoding")
                && v.rsplit(',')
                    .next()
                    .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
        })
    })
}

/// A chunked body (RFC 9112 §7.1) to its bytes: hex size lines (extensions after `;`
/// ignored), each chunk followed by CRLF, a zero-size chunk, then optional trailers. A body
/// that ends early or breaks the framing is an error, never a silently short answer.
fn decode_chunked(mut rest: &[u8]) -> io::Result<Vec<u8>> {
    let bad =
        |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("chunked body: {what}"));
    let mut out = Vec::with_capacity(rest.len());
    loop {
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| bad("no chunk size line"))?;
        let line = std::str::from_utf8(&rest[..eol]).map_err(|_| bad("chunk size is not text"))?;
        let hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(hex, 16).map_err(|_| bad("chunk size is not hex"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            // Trailers, if any, end with an empty line; a body cut right after the last
            // chunk's size line is accepted too (nothing more was promised).
            return Ok(out);
        }
        if rest.len() < 2 || rest.len() - 2 < size {
            return Err(bad("ends inside a chunk"));
        }
        if &rest[size..size + 2] != b"\r\n" {
            return Err(bad("chunk not followed by CRLF"));
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            authority("http://127.0.0.1:7878").unwrap(),
            "127.0.0.1:7878"
        );
        assert_eq!(
            authority("http://desk.local:7878/").unwrap(),
            "desk.local:7878"
        );
        assert_eq!(authority("http://desk.local").unwrap(), "desk.local:80");
        assert!(authority("https://x:1").is_err());
        assert!(authority("http://x:1/usage").is_err());
        assert!(authority("127.0.0.1:7878").is_err());
    }

    #[test]
    fn chunked_header_detection() {
        let h = |v: &str| format!("HTTP/1.1 200 OK\r\nContent-Type: a\r\n{v}");
        assert!(is_chunked(&h("Transfer-Encoding: chunked")));
        assert!(is_chunked(&h("transfer-encoding:Chunked")));
        assert!(is_chunked(&h("Transfer-Encoding: gzip, chunked")));
        assert!(!is_chunked(&h("Transfer-Encoding: chunked, gzip")));
        assert!(!is_chunked(&h("Content-Length: 7")));
        // The status line is not a header, whatever it says.
        assert!(!is_chunked(
            "HTTP/1.1 200 Transfer-Encoding: chunked\r\nX: y"
        ));
    }

    #[test]
    fn chunked_bodies() {
        assert_eq!(decode_chunked(b"0\r\n\r\n").unwrap(), b"");
        assert_eq!(
            decode_chunked(
                b"4\r\nWiki\r\n7;ext=1\r\npedia i\r\nB\r\nn \r\nchunks.\r\n0\r\nX-T: 1\r\n\r\n"
            )
            .unwrap(),
            b"Wikipedia in \r\nchunks."
        );
        // Go's net/http writes lower-case hex sizes.
        let big = vec![b'x'; 0x3dcc];
        let mut body = b"3dcc\r\n".to_vec();
        body.extend_from_slice(&big);
        body.extend_from_slice(b"\r\n0\r\n\r\n");
        assert_eq!(decode_chunked(&body).unwrap(), big);
        for bad in [
            &b""[..],
            b"zz\r\nab\r\n0\r\n\r\n",
            b"5\r\nab\r\n0\r\n\r\n",
            b"2\r\nabcd\r\n0\r\n\r\n",
            b"2\r\nab\r\n",
            b"ffffffffffffffffffff\r\n",
            b"ffffffffffffffff\r\nab\r\n",
        ] {
            assert!(
                decode_chunked(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    /// A one-shot server on port 0 answering `answer` to whatever comes.
    fn serve_once(answer: &'static [u8]) -> String {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = l.accept() {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = s.write_all(answer);
            }
        });
        addr
    }

    #[test]
    fn get_decodes_a_chunked_answer_and_keeps_a_sized_one() {
        let t = Duration::from_secs(2);
        let a = serve_once(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n",
        );
        assert_eq!(get(&a, "/x", t).unwrap(), (200, b"{\"a\":1}".to_vec()));
        let a = serve_once(b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno");
        assert_eq!(get(&a, "/x", t).unwrap(), (404, b"no".to_vec()));
        let a = serve_once(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nshort");
        assert_eq!(
            get(&a, "/x", t).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }

    #[test]
    fn usage_takes_only_a_usage_document() {
        let t = Duration::from_secs(2);
        let a = serve_once(
            b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n{\"version\":2,\"lamps\":{\"model\":\"on\"}}    ",
        );
        assert_eq!(usage(&a, Some("s3cret-token"), t).unwrap()["version"], 2);
        let a = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n<html>");
        assert!(
            usage(&a, None, t)
                .unwrap_err()
                .contains("not a redline daemon")
        );
        let a = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
        assert!(
            usage(&a, None, t)
                .unwrap_err()
                .contains("not a redline daemon")
        );
        let a = serve_once(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(usage(&a, None, t).unwrap_err(), "/usage answered 401");
        // A port nobody listens on.
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = free.local_addr().unwrap().to_string();
        drop(free);
        assert_eq!(usage(&a, None, t).unwrap_err(), "nothing listens there");
    }
}
