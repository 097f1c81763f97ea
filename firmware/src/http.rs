//! One HTTP GET of `/usage/gauge`: the socket half. A TCP connection, the request
//! `redline_core::http` writes, and each read handed to its response reader until it has
//! the body or an error; the whole exchange bounded by the poll schedule's deadline.
//!
//! The request, the status line, headers, Content-Length or chunks and the fixed buffers
//! are `redline_core::http`'s, tested on the host against the daemon's real answers.

use embassy_net::Stack;
use embassy_net::tcp::TcpSocket;
use embassy_time::{Duration, Instant, with_deadline, with_timeout};
use redline_core::http::{self, Response};

pub use redline_core::http::{Body, Endpoint, FetchError, RESPONSE_MAX, Url};

/// How long the FIN (after a good answer) or the RST (after a failed one) may take to
/// leave before the socket is dropped.
const LINGER: Duration = Duration::from_millis(100);

/// The User-Agent header.
const AGENT: &str = concat!("redline-firmware/", env!("CARGO_PKG_VERSION"));

/// Fetches `endpoint`'s path, using `response` as the receive buffer, giving up at
/// `deadline`.
pub async fn get(
    stack: Stack<'_>,
    endpoint: &Endpoint,
    response: &mut [u8; RESPONSE_MAX],
    deadline: Instant,
) -> Result<Body, FetchError> {
    let mut rx = [0u8; 512];
    let mut tx = [0u8; 256];
    let mut socket = TcpSocket::new(stack, &mut rx, &mut tx);
    // The deadline bounds the exchange; this bounds a connection gone quiet, for smoltcp.
    socket.set_timeout(Some(deadline.saturating_duration_since(Instant::now())));
    let result = with_deadline(deadline, exchange(&mut socket, endpoint, response))
        .await
        .unwrap_or(Err(FetchError::Timeout));
    // Send our FIN, or abort a failed or stuck exchange with a RST, and let it leave
    // before the socket is dropped: a dropped socket sends nothing more, and the daemon
    // would keep the connection until its own timeout.
    if result.is_ok() {
        socket.close();
    } else {
        socket.abort();
    }
    let _ = with_timeout(LINGER, socket.flush()).await;
    result
}

async fn exchange(
    socket: &mut TcpSocket<'_>,
    endpoint: &Endpoint,
    buf: &mut [u8; RESPONSE_MAX],
) -> Result<Body, FetchError> {
    socket
        .connect((endpoint.addr, endpoint.port))
        .await
        .map_err(|_| FetchError::Connect)?;
    let request = http::request(endpoint, AGENT).ok_or(FetchError::Write)?;
    write_all(socket, request.as_bytes()).await?;

    let mut response = Response::new(buf);
    loop {
        let n = socket
            .read(response.space()?)
            .await
            .map_err(|_| FetchError::Read)?;
        if let Some(body) = response.received(n)? {
            return Ok(body);
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
