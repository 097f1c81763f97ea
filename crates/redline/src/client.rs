//! A small HTTP/1.1 GET for talking to a running daemon (`doctor`, `cluster`): one request
//! per connection, `Connection: close`, a timeout on every step. The daemon's answers are
//! small and sized, so no client library is needed.

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
    let status = std::str::from_utf8(&raw[..split])
        .ok()
        .and_then(|h| h.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no HTTP status"))?;
    Ok((status, raw[split + 4..].to_vec()))
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
}
