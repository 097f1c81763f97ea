//! Serving HTTP connections with limits: how long a client may take to send its request
//! headers, how long a kept-alive connection may sit idle, and how many connections are
//! open at once. `axum::serve` has none of these (a client that connects and says
//! nothing holds a task and a file descriptor forever), so the accept loop is here, on
//! hyper's own connection builder (HTTP/1.1, and HTTP/2 with prior knowledge, as before).
//!
//! The rules:
//!
//! - **Headers within [`HEADER_TIMEOUT`]**: a connection must send its first byte, and
//!   then a request's whole headers, within 5 seconds, or it is closed. The same limit
//!   ends a kept-alive connection idle between requests (hyper counts it from the end of
//!   the last response). A response in progress has no limit: an `/events` stream stays
//!   open as long as its reader does.
//! - **At most [`MAX_CONNECTIONS`] connections** (512). When a new one comes and all are
//!   taken, the oldest connection without a request in progress (one that has not sent
//!   its request yet, is trickling it, or idles between requests) is closed to make room:
//!   a flood of idle connections never keeps out the cluster's `/usage`, which sends its
//!   request as soon as it connects. Only when every connection has a request in
//!   progress (512 `/events` readers) is the newcomer closed at once.
//! - **Out of file descriptors** (the process's limit reached), the oldest idle
//!   connection is closed and the accept tried again; with none idle, accepting waits 50
//!   ms for connections to finish.
//!
//! [`raise_fd_limit`] lifts the soft limit on open files to the hard one at start, so
//! transcripts, the store and the connections all fit.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};

/// How long a client has to send a request's headers (from connecting, or from the end
/// of its previous response), in seconds: 5.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// The most connections open at once: 512.
pub const MAX_CONNECTIONS: usize = 512;

/// How often an HTTP/2 connection is pinged, and how long the answer may take.
const H2_PING_EVERY: Duration = Duration::from_secs(30);
const H2_PING_TIMEOUT: Duration = Duration::from_secs(10);

/// One open connection, as the accept loop sees it.
#[derive(Default)]
struct Slot {
    /// Requests in progress (their responses not yet finished or dropped).
    busy: AtomicUsize,
    /// Told to close: a newer connection needs the room.
    evict: Notify,
}

/// The open connections, oldest first.
#[derive(Default)]
struct Table {
    next: u64,
    open: BTreeMap<u64, Arc<Slot>>,
}

impl Table {
    /// Makes room for one more: `false` when every connection is busy.
    fn make_room(&mut self, max: usize) -> bool {
        while self.open.len() >= max {
            let idle = self
                .open
                .iter()
                .find(|(_, s)| s.busy.load(Ordering::Acquire) == 0)
                .map(|(&id, _)| id);
            let Some(id) = idle else { return false };
            if let Some(slot) = self.open.remove(&id) {
                slot.evict.notify_one();
            }
        }
        true
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets requests in progress
/// finish (an `/events` stream is the caller's to cut short).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, app, shutdown, MAX_CONNECTIONS).await
}

async fn serve_with(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    max: usize,
) -> std::io::Result<()> {
    let table = Arc::new(Mutex::new(Table::default()));
    // Every connection holds a receiver: stopping is a send, and when the last receiver
    // is gone every connection has finished.
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    if out_of_descriptors(&e) {
                        // Idle connections give their descriptors back first: the
                        // oldest is closed, and the accept tried again once it is.
                        let evicted = {
                            let mut t = table.lock().unwrap_or_else(|p| p.into_inner());
                            let n = t.open.len();
                            t.make_room(n) && t.open.len() < n
                        };
                        let wait = if evicted { 5 } else { 50 };
                        tokio::time::sleep(Duration::from_millis(wait)).await;
                    }
                    // Anything else is one connection's problem (reset before accept).
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let slot = {
            let mut t = table.lock().unwrap_or_else(|p| p.into_inner());
            if !t.make_room(max) {
                // Every connection has a request in progress: this one waits its turn
                // by coming back.
                drop(stream);
                continue;
            }
            let slot = Arc::new(Slot::default());
            t.next += 1;
            let id = t.next;
            t.open.insert(id, slot.clone());
            (id, slot)
        };
        tokio::spawn(connection(
            stream,
            app.clone(),
            slot,
            table.clone(),
            stop_rx.clone(),
        ));
    }
    let _ = stop_tx.send(true);
    drop(stop_rx);
    stop_tx.closed().await;
    Ok(())
}

/// Whether accepting failed for want of file descriptors.
fn out_of_descriptors(e: &std::io::Error) -> bool {
    redline_engine::roots::out_of_descriptors(e.raw_os_error())
}

/// Serves one connection until it closes, times out, is evicted or the server stops.
async fn connection(
    stream: TcpStream,
    app: Router,
    (id, slot): (u64, Arc<Slot>),
    table: Arc<Mutex<Table>>,
    mut stop: watch::Receiver<bool>,
) {
    /// Takes the connection out of the table however it ends.
    struct Leave(u64, Arc<Mutex<Table>>);
    impl Drop for Leave {
        fn drop(&mut self) {
            let mut t = self.1.lock().unwrap_or_else(|p| p.into_inner());
            t.open.remove(&self.0);
        }
    }
    let _leave = Leave(id, table);
    // The first byte within the header limit: before it, neither protocol is known, and
    // hyper's own header timer (HTTP/1.1 only) has not started.
    let mut first = [0u8; 1];
    tokio::select! {
        peeked = tokio::time::timeout(HEADER_TIMEOUT, stream.peek(&mut first)) => {
            if !matches!(peeked, Ok(Ok(n)) if n > 0) {
                return;
            }
        }
        () = slot.evict.notified() => return,
        _ = stop.changed() => return,
    }
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(H2_PING_EVERY)
        .keep_alive_timeout(H2_PING_TIMEOUT);
    let service = Counted {
        app,
        slot: slot.clone(),
    };
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    let mut stopping = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            () = slot.evict.notified() => return,
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// The application, counting the requests in progress on its connection.
#[derive(Clone)]
struct Counted {
    app: Router,
    slot: Arc<Slot>,
}

impl hyper::service::Service<Request<Incoming>> for Counted {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let busy = Busy::new(self.slot.clone());
        let mut app = self.app.clone();
        Box::pin(async move {
            // A router is always ready.
            let response = tower_service::Service::call(&mut app, req.map(Body::new)).await?;
            Ok(response.map(|inner| Body::new(Tracked { inner, _busy: busy })))
        })
    }
}

/// A request in progress: counted from its headers to the end (or drop) of its response.
struct Busy(Arc<Slot>);

impl Busy {
    fn new(slot: Arc<Slot>) -> Busy {
        slot.busy.fetch_add(1, Ordering::AcqRel);
        Busy(slot)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that holds its request's [`Busy`] until it is done.
struct Tracked {
    inner: Body,
    _busy: Busy,
}

impl http_body::Body for Tracked {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Raises the soft limit on open files to the hard limit (at most a million), so that a
/// systemd default of 1,024 does not starve transcripts of descriptors while connections
/// come and go. Returns the limits before and after, or `None` where there are none to
/// raise.
#[cfg(unix)]
#[allow(unsafe_code)]
pub fn raise_fd_limit() -> Option<(libc::rlim_t, libc::rlim_t)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    let before = lim.rlim_cur;
    let want = lim.rlim_max.min(1 << 20);
    if want <= before {
        return Some((before, before));
    }
    let raised = libc::rlimit {
        rlim_cur: want,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: setrlimit only reads the struct it is given.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        return Some((before, before));
    }
    Some((before, want))
}

/// No file limit to raise here.
#[cfg(not(unix))]
pub fn raise_fd_limit() -> Option<(u64, u64)> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_is_made_by_closing_the_oldest_idle_connection() {
        let mut t = Table::default();
        for id in 1..=3 {
            t.open.insert(id, Arc::new(Slot::default()));
        }
        t.open[&1].busy.store(1, Ordering::Release);
        assert!(t.make_room(3));
        assert_eq!(t.open.keys().copied().collect::<Vec<_>>(), [1, 3]);
        t.open[&3].busy.store(2, Ordering::Release);
        assert!(!t.make_room(2), "every connection is busy");
        assert_eq!(t.open.len(), 2);
    }
}
