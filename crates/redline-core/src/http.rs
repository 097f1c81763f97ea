//! One HTTP GET of `/usage/gauge` as far as the wire goes: the `http://host[:port][/path]`
//! form of `REDLINE_URL`, the request, and the response read into a fixed buffer as it
//! arrives (status line, headers, a body framed by Content-Length, by chunks or by the
//! connection closing), the body copied out for the panel.
//!
//! No socket and no clock: the firmware reads into [`Response::space`], reports each read
//! with [`Response::received`] (0 when the server closed) and gets the body or a
//! [`FetchError`] as soon as the bytes decide it. Tested on the host against the daemon's
//! real answers, fed whole, byte at a time, cut short, oversized and garbled.
//!
//! The request is HTTP/1.0, so the daemon answers with a plain body and a Content-Length
//! (and closes), which is all a 1 KiB buffer needs; a chunked body (a proxy that answers
//! in HTTP/1.1 anyway) is decoded all the same. A new connection per poll (once a second
//! on a LAN) keeps the firmware free of keep-alive bookkeeping.

use core::fmt::{self, Write as _};
use core::net::Ipv4Addr;

use crate::fixed::FixedStr;

/// The largest body the firmware accepts; `/usage/gauge` stays under 256 bytes.
pub const BODY_MAX: usize = 512;
/// Room for the response head and the body.
pub const RESPONSE_MAX: usize = 1024;
/// The largest request [`request`] writes.
pub const REQUEST_MAX: usize = 256;
/// The daemon's path for the firmware, when neither the URL nor mDNS names one.
pub const DEFAULT_PATH: &str = "/usage/gauge";

/// A host name as the Host header carries it.
pub type HostName = FixedStr<64>;
/// A request path.
pub type Path = FixedStr<64>;

/// A fetched body, copied out of the response buffer.
#[derive(Clone)]
pub struct Body {
    bytes: [u8; BODY_MAX],
    len: usize,
}

impl Body {
    /// An empty body.
    pub const fn new() -> Body {
        Body {
            bytes: [0; BODY_MAX],
            len: 0,
        }
    }

    /// The body's bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Appends `bytes`; [`FetchError::TooLarge`] past [`BODY_MAX`].
    fn extend(&mut self, bytes: &[u8]) -> Result<(), FetchError> {
        let end = self.len + bytes.len();
        self.bytes
            .get_mut(self.len..end)
            .ok_or(FetchError::TooLarge)?
            .copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
}

// By contents: bytes past the length are left over.
impl PartialEq for Body {
    fn eq(&self, other: &Body) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Default for Body {
    fn default() -> Body {
        Body::new()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match core::str::from_utf8(self.as_slice()) {
            Ok(text) => write!(f, "Body({text:?})"),
            Err(_) => write!(f, "Body({:?})", self.as_slice()),
        }
    }
}

/// Where to fetch from: an address to connect to and the name and path for the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The daemon's IPv4 address.
    pub addr: Ipv4Addr,
    /// Its TCP port.
    pub port: u16,
    /// The name for the Host header (the URL's host or the mDNS target).
    pub host: HostName,
    /// The request path.
    pub path: Path,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}:{}{}", self.addr, self.port, self.path)
    }
}

/// `REDLINE_URL` taken apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Url<'a> {
    /// An IPv4 address, a `.local` name (resolved by mDNS) or a DNS name.
    pub host: &'a str,
    /// The port, 80 when the URL names none (as for any http:// URL).
    pub port: u16,
    /// The path, [`DEFAULT_PATH`] when the URL has none.
    pub path: &'a str,
}

impl<'a> Url<'a> {
    /// Parses `http://host[:port][/path]`; `None` for anything else.
    pub fn parse(url: &'a str) -> Option<Url<'a>> {
        let rest = url.strip_prefix("http://")?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, port.parse().ok()?),
            None => (authority, 80),
        };
        let path = if path.is_empty() || path == "/" {
            DEFAULT_PATH
        } else {
            path
        };
        let clean = |s: &str| s.bytes().all(|b| b.is_ascii_graphic());
        if host.is_empty() || host.len() > 63 || path.len() > 63 || port == 0 {
            return None;
        }
        // Spaces or control bytes would break the request line or the Host header.
        if !clean(host) || !clean(path) {
            return None;
        }
        Some(Url { host, port, path })
    }

    /// The endpoint for this URL once its host is known to be at `addr`.
    pub fn endpoint(&self, addr: Ipv4Addr) -> Endpoint {
        // `parse` caps both at 63 bytes, so they fit.
        Endpoint {
            addr,
            port: self.port,
            host: HostName::from_text(self.host).unwrap_or_default(),
            path: Path::from_text(self.path).unwrap_or_default(),
        }
    }
}

/// Why a fetch gave no body. Small and `Copy` so the poll loop can count and log it; the
/// first four are the socket's, reported by the firmware.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchError {
    /// No TCP connection (refused, unreachable, timed out).
    Connect,
    /// The request could not be sent.
    Write,
    /// The connection failed while reading.
    Read,
    /// The whole exchange took longer than allowed.
    Timeout,
    /// The response head is not HTTP (or not one this reader takes).
    Head,
    /// A status other than 200.
    Status(u16),
    /// The response or its body is larger than the buffers.
    TooLarge,
    /// The connection closed before the body was complete.
    Truncated,
    /// A chunked body whose chunks are malformed.
    Chunks,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Connect => f.write_str("cannot connect"),
            FetchError::Write => f.write_str("cannot send the request"),
            FetchError::Read => f.write_str("connection lost while reading"),
            FetchError::Timeout => f.write_str("timed out"),
            FetchError::Head => f.write_str("not an HTTP response"),
            FetchError::Status(code) => write!(f, "HTTP status {code}"),
            FetchError::TooLarge => write!(
                f,
                "response over {RESPONSE_MAX} bytes or body over {BODY_MAX}"
            ),
            FetchError::Truncated => f.write_str("closed before the body was complete"),
            FetchError::Chunks => f.write_str("malformed chunked body"),
        }
    }
}

/// A request, ready to write to the socket.
pub struct Request {
    text: FixedStr<REQUEST_MAX>,
}

impl Request {
    /// The bytes to send.
    pub fn as_bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }
}

/// The GET of `endpoint`'s path, with `agent` (`redline-firmware/0.1.0`) as User-Agent.
/// `None` when it does not fit [`REQUEST_MAX`] (it always does for an [`Endpoint`] and a
/// short agent).
pub fn request(endpoint: &Endpoint, agent: &str) -> Option<Request> {
    let mut text = FixedStr::new();
    write!(
        text,
        "GET {} HTTP/1.0\r\nHost: {}:{}\r\nAccept: application/json\r\n\
         User-Agent: {agent}\r\nConnection: close\r\n\r\n",
        endpoint.path, endpoint.host, endpoint.port,
    )
    .ok()?;
    Some(Request { text })
}

/// How the body's end is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    Length(usize),
    /// Chunks: the body decoded so far ends at `body_end`; what follows it in the buffer
    /// is not yet decoded.
    Chunked {
        body_end: usize,
    },
    Close,
}

/// A response being read into a fixed buffer.
pub struct Response<'a> {
    buf: &'a mut [u8],
    len: usize,
    /// The head's length and the body's framing, once the head is complete.
    head: Option<(usize, Framing)>,
}

impl<'a> Response<'a> {
    /// Reads into `buf` ([`RESPONSE_MAX`] bytes on the chip).
    pub fn new(buf: &'a mut [u8]) -> Response<'a> {
        Response {
            buf,
            len: 0,
            head: None,
        }
    }

    /// Where the next read goes; [`FetchError::TooLarge`] when the buffer is full and the
    /// response not yet complete.
    pub fn space(&mut self) -> Result<&mut [u8], FetchError> {
        match &mut self.buf[self.len..] {
            [] => Err(FetchError::TooLarge),
            space => Ok(space),
        }
    }

    /// `n` more bytes were read into [`Response::space`], or the server closed (`n` is
    /// 0). The body once the response is complete, `None` while more is needed, or why
    /// there will be no body.
    pub fn received(&mut self, n: usize) -> Result<Option<Body>, FetchError> {
        let closed = n == 0;
        self.len = (self.len + n).min(self.buf.len());
        let (head, framing) = match self.head {
            Some(known) => known,
            None => match parse_head(&self.buf[..self.len])? {
                Some(known) => known,
                None if closed => return Err(FetchError::Head),
                None => return Ok(None),
            },
        };
        self.head = Some((head, framing));
        let body = &self.buf[head..self.len];
        match framing {
            // The whole body is here: no need to wait for the server to close.
            Framing::Length(length) if body.len() >= length => copy_body(&body[..length]),
            Framing::Length(_) if closed => Err(FetchError::Truncated),
            Framing::Length(_) => Ok(None),
            Framing::Chunked { body_end } => {
                let (body_end, done) = self.dechunk(head, body_end)?;
                self.head = Some((head, Framing::Chunked { body_end }));
                match done {
                    true => copy_body(&self.buf[head..body_end]),
                    false if closed => Err(FetchError::Truncated),
                    false => Ok(None),
                }
            }
            Framing::Close if closed => copy_body(body),
            Framing::Close if body.len() > BODY_MAX => Err(FetchError::TooLarge),
            Framing::Close => Ok(None),
        }
    }

    /// Decodes the complete chunks after `body_end` in place: each chunk's data moves
    /// down to the end of the body decoded so far, and the bytes not yet decoded after
    /// it, so the buffer holds the head, the body and at most one partial chunk (the
    /// chunk framing takes no room). The new end of the body, and whether the last chunk
    /// has arrived.
    fn dechunk(&mut self, head: usize, mut body_end: usize) -> Result<(usize, bool), FetchError> {
        loop {
            let raw = &self.buf[body_end..self.len];
            let mut lines = Lines { bytes: raw, pos: 0 };
            let Some(line) = lines.next() else {
                // No size line is this long: the chunks are garbage.
                return match raw.len() > 32 {
                    true => Err(FetchError::Chunks),
                    false => Ok((body_end, false)),
                };
            };
            let size = chunk_size(line)?;
            if size == 0 {
                // The last chunk; trailers, if any, are not needed.
                return Ok((body_end, true));
            }
            // Refuse a chunk that cannot fit before waiting for it.
            if body_end - head + size > BODY_MAX {
                return Err(FetchError::TooLarge);
            }
            let start = lines.pos;
            match raw.get(start + size..start + size + 2) {
                Some(b"\r\n") => {}
                Some(_) => return Err(FetchError::Chunks),
                None if raw.get(start + size).is_some_and(|&b| b != b'\r') => {
                    return Err(FetchError::Chunks);
                }
                None => return Ok((body_end, false)),
            }
            // Data down to the body's end, then what follows the chunk after it.
            let (data, rest) = (body_end + start, body_end + start + size + 2);
            self.buf.copy_within(data..data + size, body_end);
            body_end += size;
            self.buf.copy_within(rest..self.len, body_end);
            self.len -= rest - body_end;
        }
    }
}

fn copy_body(bytes: &[u8]) -> Result<Option<Body>, FetchError> {
    let mut out = Body::new();
    out.extend(bytes)?;
    Ok(Some(out))
}

/// A chunk's size from its size line (hex, before any `;extension`).
fn chunk_size(line: &[u8]) -> Result<usize, FetchError> {
    let hex = line
        .split(|&b| b == b';')
        .next()
        .unwrap_or(line)
        .trim_ascii();
    if hex.is_empty() || !hex.iter().all(u8::is_ascii_hexdigit) {
        return Err(FetchError::Chunks);
    }
    // Leading zeros say nothing ("000a" is 10), but keep one for "0".
    let zeros = hex.iter().take_while(|&&b| b == b'0').count();
    let hex = &hex[zeros.min(hex.len() - 1)..];
    if hex.len() > 4 {
        return Err(FetchError::TooLarge);
    }
    Ok(hex.iter().fold(0, |n, &d| {
        n * 16 + char::from(d).to_digit(16).unwrap_or(0) as usize
    }))
}

/// The head's length and the body's framing once the head is complete, `None` while it
/// is not; a status other than 200, a head that is not HTTP, or a body announced larger
/// than [`BODY_MAX`] is an error at once.
fn parse_head(bytes: &[u8]) -> Result<Option<(usize, Framing)>, FetchError> {
    let mut lines = Lines { bytes, pos: 0 };
    let Some(status) = lines.next() else {
        // Not even a whole status line: refuse garbage as soon as it cannot be HTTP.
        let start = &bytes[..bytes.len().min(5)];
        return match b"HTTP/".starts_with(start) {
            true => Ok(None),
            false => Err(FetchError::Head),
        };
    };
    let code = status_code(status).ok_or(FetchError::Head)?;
    let mut framing = Framing::Close;
    let mut chunked = false;
    loop {
        let Some(line) = lines.next() else {
            return Ok(None);
        };
        if line.is_empty() {
            break;
        }
        let (name, value) = split_header(line).ok_or(FetchError::Head)?;
        if name.eq_ignore_ascii_case(b"content-length") {
            let length = parse_decimal(value).ok_or(FetchError::Head)?;
            // Two lengths that disagree leave the body's end unknown.
            if matches!(framing, Framing::Length(l) if l != length) {
                return Err(FetchError::Head);
            }
            framing = Framing::Length(length);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // Only plain chunks: a compressed body could not be read anyway.
            if !value.eq_ignore_ascii_case(b"chunked") {
                return Err(FetchError::Head);
            }
            chunked = true;
        }
    }
    if code != 200 {
        return Err(FetchError::Status(code));
    }
    if chunked {
        // Chunks win over a Content-Length (RFC 9112 section 6.3).
        framing = Framing::Chunked {
            body_end: lines.pos,
        };
    }
    if matches!(framing, Framing::Length(l) if l > BODY_MAX) {
        return Err(FetchError::TooLarge);
    }
    Ok(Some((lines.pos, framing)))
}

/// The status code of `HTTP/1.x NNN reason`.
fn status_code(line: &[u8]) -> Option<u16> {
    let rest = line
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| line.strip_prefix(b"HTTP/1.0 "))?;
    let digits = rest.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) || !matches!(rest.get(3), None | Some(b' ')) {
        return None;
    }
    Some(digits.iter().fold(0, |n, d| n * 10 + u16::from(d - b'0')))
}

/// `name: value`, the value without surrounding blanks.
fn split_header(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = &line[..colon];
    if name.is_empty() || !name.iter().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    Some((name, line[colon + 1..].trim_ascii()))
}

/// A decimal number of at most 9 digits (no body here comes near).
fn parse_decimal(text: &[u8]) -> Option<usize> {
    if text.is_empty() || text.len() > 9 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(text.iter().fold(0, |n, d| n * 10 + usize::from(d - b'0')))
}

/// The lines of a head, each without its CRLF (or bare LF); `None` once the rest holds no
/// complete line.
struct Lines<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = &self.bytes[self.pos..];
        let end = rest.iter().position(|&b| b == b'\n')?;
        self.pos += end + 1;
        let line = &rest[..end];
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_defaults() {
        let url = Url::parse("http://desk.local:7878").unwrap();
        assert_eq!(
            (url.host, url.port, url.path),
            ("desk.local", 7878, DEFAULT_PATH)
        );
        let url = Url::parse("http://10.0.0.2/other").unwrap();
        assert_eq!((url.host, url.port, url.path), ("10.0.0.2", 80, "/other"));
        for bad in [
            "https://desk.local",
            "http://",
            "http://desk:0/",
            "http://desk:x/",
            "http://desk/a b",
            "desk.local:7878",
        ] {
            assert_eq!(Url::parse(bad), None, "{bad}");
        }
        let endpoint = Url::parse("http://desk.local:7878/")
            .unwrap()
            .endpoint(Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(endpoint.host, "desk.local");
        assert_eq!(endpoint.to_string(), "http://10.0.0.2:7878/usage/gauge");
    }

    #[test]
    fn the_request_is_http_1_0_with_the_host_and_port() {
        let endpoint = Url::parse("http://desk.local:7878")
            .unwrap()
            .endpoint(Ipv4Addr::LOCALHOST);
        let req = request(&endpoint, "redline-firmware/0.1.0").unwrap();
        assert_eq!(
            core::str::from_utf8(req.as_bytes()).unwrap(),
            "GET /usage/gauge HTTP/1.0\r\nHost: desk.local:7878\r\nAccept: application/json\r\n\
             User-Agent: redline-firmware/0.1.0\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn status_lines() {
        assert_eq!(status_code(b"HTTP/1.1 200 OK"), Some(200));
        assert_eq!(status_code(b"HTTP/1.0 404"), Some(404));
        assert_eq!(status_code(b"HTTP/1.0 2000"), None);
        assert_eq!(status_code(b"HTTP/2 200"), None);
        assert_eq!(status_code(b"ICY 200 OK"), None);
    }
}
