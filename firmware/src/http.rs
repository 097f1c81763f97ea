//! One HTTP GET of `/usage/gauge`: a TCP connection, a minimal HTTP/1.0 request, the
//! response read into a fixed buffer and its head parsed with `httparse`; the body is
//! copied out for the panel. Also the `http://host[:port][/path]` form of `REDLINE_URL`.
//!
//! HTTP/1.0 because it rules out chunked bodies: the daemon then sends a plain body with
//! a Content-Length, which is all a 512-byte buffer needs to handle. A new connection per
//! poll (once a second on a LAN) keeps the code free of keep-alive bookkeeping.

use core::fmt::{self, Write as _};
use core::net::Ipv4Addr;

use embassy_net::Stack;
use embassy_net::tcp::TcpSocket;
use embassy_time::{Duration, with_timeout};
use heapless::String;

/// The largest body the firmware accepts; `/usage/gauge` stays under 256 bytes.
pub const BODY_MAX: usize = 512;
/// Room for the response head and the body.
pub const RESPONSE_MAX: usize = 1024;
/// The daemon's path for the firmware, when neither the URL nor mDNS names one.
pub const DEFAULT_PATH: &str = "/usage/gauge";

/// A fetched body, copied out of the response buffer.
#[derive(Clone)]
pub struct Body {
    bytes: [u8; BODY_MAX],
    len: usize,
}

impl Body {
    /// The body's bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Where to fetch from: an address to connect to and the name and path for the request.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// The daemon's IPv4 address.
    pub addr: Ipv4Addr,
    /// Its TCP port.
    pub port: u16,
    /// The name for the Host header (the URL's host or the mDNS target).
    pub host: String<64>,
    /// The request path.
    pub path: String<64>,
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
        if host.is_empty() || host.len() > 63 || path.len() > 63 || port == 0 {
            return None;
        }
        Some(Url { host, port, path })
    }
}

/// Why a fetch gave no body. Small and `Copy` so the poll loop can count and log it.
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
    /// The response head is not HTTP.
    Head,
    /// A status other than 200.
    Status(u16),
    /// The response or its body is larger than the buffers.
    TooLarge,
    /// The connection closed before the Content-Length was read.
    Truncated,
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
            FetchError::TooLarge => write!(f, "response over {RESPONSE_MAX} bytes"),
            FetchError::Truncated => f.write_str("body shorter than its Content-Length"),
        }
    }
}

/// How long one whole GET may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);

/// Fetches `endpoint`'s path, using `response` as the receive buffer.
pub async fn get(
    stack: Stack<'_>,
    endpoint: &Endpoint,
    response: &mut [u8; RESPONSE_MAX],
) -> Result<Body, FetchError> {
    let mut rx = [0u8; 512];
    let mut tx = [0u8; 256];
    let mut socket = TcpSocket::new(stack, &mut rx, &mut tx);
    socket.set_timeout(Some(FETCH_TIMEOUT));
    let result = with_timeout(FETCH_TIMEOUT, exchange(&mut socket, endpoint, response))
        .await
        .unwrap_or(Err(FetchError::Timeout));
    // Send our FIN (or abort a stuck exchange) before the socket is dropped and forgotten.
    if result.is_ok() {
        socket.close();
        let _ = with_timeout(Duration::from_millis(100), socket.flush()).await;
    } else {
        socket.abort();
    }
    result
}

async fn exchange(
    socket: &mut TcpSocket<'_>,
    endpoint: &Endpoint,
    response: &mut [u8; RESPONSE_MAX],
) -> Result<Body, FetchError> {
    socket
        .connect((endpoint.addr, endpoint.port))
        .await
        .map_err(|_| FetchError::Connect)?;

    let mut request: String<192> = String::new();
    write!(
        request,
        "GET {} HTTP/1.0\r\nHost: {}:{}\r\nAccept: application/json\r\n\
         User-Agent: redline-firmware/{}\r\nConnection: close\r\n\r\n",
        endpoint.path,
        endpoint.host,
        endpoint.port,
        env!("CARGO_PKG_VERSION")
    )
    .map_err(|_| FetchError::Write)?;
    write_all(socket, request.as_bytes()).await?;

    let mut len = 0;
    loop {
        if len == response.len() {
            return Err(FetchError::TooLarge);
        }
        let n = socket
            .read(&mut response[len..])
            .await
            .map_err(|_| FetchError::Read)?;
        len += n;
        match parse_head(&response[..len])? {
            // The whole body is here: no need to wait for the server to close.
            Some((head, Some(length))) if len >= head + length => {
                return body(&response[head..head + length]);
            }
            // Closed: whatever arrived is the body, if its length agrees.
            Some((head, length)) if n == 0 => {
                return match length {
                    Some(_) => Err(FetchError::Truncated),
                    None => body(&response[head..len]),
                };
            }
            None if n == 0 => return Err(FetchError::Head),
            _ => {}
        }
    }
}

async fn write_all(socket: &mut TcpSocket<'_>, mut bytes: &[u8]) -> Result<(), FetchError> {
    while !bytes.is_empty() {
        let n = socket.write(bytes).await.map_err(|_| FetchError::Write)?;
        if n == 0 {
            return Err(FetchError::Write);
        }
        bytes = &bytes[n..];
    }
    Ok(())
}

/// The head's length and the Content-Length once the head is complete, `None` while it is
/// not; a non-200 status or a chunked body is an error.
fn parse_head(bytes: &[u8]) -> Result<Option<(usize, Option<usize>)>, FetchError> {
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut parsed = httparse::Response::new(&mut headers);
    let head = match parsed.parse(bytes) {
        Ok(httparse::Status::Complete(head)) => head,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(FetchError::Head),
    };
    match parsed.code {
        Some(200) => {}
        Some(code) => return Err(FetchError::Status(code)),
        None => return Err(FetchError::Head),
    }
    let mut length = None;
    for header in parsed.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            let text = core::str::from_utf8(header.value).map_err(|_| FetchError::Head)?;
            length = Some(text.trim().parse().map_err(|_| FetchError::Head)?);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            // Not expected for an HTTP/1.0 request; refuse rather than misread it.
            return Err(FetchError::Head);
        }
    }
    Ok(Some((head, length)))
}

fn body(bytes: &[u8]) -> Result<Body, FetchError> {
    if bytes.len() > BODY_MAX {
        return Err(FetchError::TooLarge);
    }
    let mut body = Body {
        bytes: [0; BODY_MAX],
        len: bytes.len(),
    };
    body.bytes[..bytes.len()].copy_from_slice(bytes);
    Ok(body)
}
