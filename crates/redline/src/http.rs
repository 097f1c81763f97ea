//! The HTTP face of the daemon: the router as a plain function of its state, so every
//! route is tested without a socket, and the Exposure rules of SPEC.md.
//!
//! On loopback everything answers. Bound beyond loopback, only the gauge endpoints
//! (`/usage`, `/usage/gauge`, `/events`, `/healthz`, `/metrics`) answer without the token;
//! the rest needs `Authorization: Bearer <token>` (or the `redline_token` cookie). No
//! request body over 1 MiB is read, on any bind.
//!
//! Against a web page in the user's own browser, on every bind, the web page, `/api/*` and
//! every POST also answer only when `Host` is one of this machine's names or addresses (or
//! one the user allowed), so a DNS-rebinding name is refused; a cross-origin `Origin` is
//! refused; and a POST body must say it is JSON (or OTLP protobuf on `/v1/*`), which no
//! cross-site form can send without a preflight. The open gauge endpoints skip the `Host`
//! check: the cluster and a LAN Prometheus ask for them by whatever name finds the machine.

use std::borrow::Cow;
use std::convert::Infallible;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use redline_engine::feed::{HookEvent, StatusFeed};
use tokio::sync::watch;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::WatchStream;

use std::sync::mpsc;

use crate::hub::{self, Input, Snapshot, Unanswered};
use crate::metrics;
use crate::otlp_http;
use crate::web;

/// The largest request body read, after decompression.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// How often `/events` sends a comment to keep idle connections open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The newest snapshot.
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    /// Where statusLine objects and hooks go.
    pub inputs: mpsc::Sender<Input>,
    /// The token, when the bind is beyond loopback (or one was configured).
    pub token: Option<Arc<str>>,
    /// Whether the bind is beyond loopback.
    pub exposed: bool,
    /// What the page draws and `/api/status` says of the configuration: made at start,
    /// and again when the config file changes.
    pub page: watch::Receiver<Arc<web::Page>>,
    /// The needle sweep (`serve --sweep`, `/api/sweep`).
    pub sweep: Arc<crate::sweep::Control>,
    /// Where the transcripts and the config file are, for `/api/calibrate`.
    pub env: Arc<redline_engine::roots::RootEnv>,
    /// `serve --demo`: the page may not write the config file.
    pub demo: bool,
    /// One calibration at a time: each reads the whole history.
    pub calibrating: Arc<tokio::sync::Semaphore>,
    /// The transcripts' roots the hub reads (the demo's own under `--demo`), for
    /// `/api/character`.
    pub roots: Arc<Vec<redline_engine::roots::Root>>,
    /// One text pass at a time (`/api/character`), and the last one's answer: a request
    /// that waited for a pass started after it came is answered by that pass.
    pub character: Arc<tokio::sync::Mutex<Option<web::CharacterAnswer>>>,
    /// The names the guarded routes answer to, and what the open ones keep to themselves.
    pub exposure: Arc<Exposure>,
    /// The `[[correlate]]` sources' kept rows.
    pub correlate: Arc<crate::correlate::keeper::Keeper>,
}

impl AppState {
    fn now(&self) -> Arc<Snapshot> {
        self.snapshots.borrow().clone()
    }
}

/// The router.
pub fn app(state: AppState) -> Router {
    let open = Router::new()
        .route("/usage", get(usage))
        .route("/usage/gauge", get(gauge))
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(healthz))
        .route("/events", get(events));
    let guarded = Router::new()
        .route("/", get(web::index))
        .route("/assets/{file}", get(web::assets))
        .route("/api/config", get(web::config))
        .route("/faces/{file}", get(web::face))
        .route("/api/calibrate", get(web::calibrate))
        .route("/api/calibrate/apply", post(web::apply))
        .route("/api/sweep", get(web::sweep).post(web::set_sweep))
        .route("/api/character", get(web::character))
        .route("/api/stats", get(web::stats_index))
        // A static segment wins over `{name}` whatever the order (tested).
        .route(
            "/api/stats/daily.csv",
            get(crate::correlate::api::daily_csv_route),
        )
        .route("/api/stats/{name}", get(web::stat))
        .route("/api/correlate", get(crate::correlate::api::correlate))
        .route("/api/git", get(web::git))
        .route("/api/status", get(status))
        .route("/api/hosts", get(hosts))
        .route("/statusline", post(statusline))
        .route("/hook", post(hook))
        .route("/v1/metrics", post(otlp_http::metrics))
        .route("/v1/logs", post(otlp_http::logs))
        .route_layer(middleware::from_fn_with_state(state.clone(), guard));
    open.merge(guarded)
        .layer(middleware::from_fn(limit_body))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// A JSON answer that is never cached.
pub fn json(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

async fn usage(State(s): State<AppState>) -> Response {
    json(s.exposure.public(&s.now().usage_json).into_owned())
}

async fn gauge(State(s): State<AppState>) -> Response {
    json(s.now().gauge_json.clone())
}

async fn metrics_text(State(s): State<AppState>) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        metrics::render(&s.now()),
    )
        .into_response()
}

async fn healthz(State(s): State<AppState>) -> Response {
    let snap = s.now();
    let body = serde_json::json!({
        "status": "ok",
        "final": snap.usage.is_final,
        "sources": {"jsonl": snap.usage.sources.jsonl.ok, "otlp": snap.usage.sources.otlp.ok},
        "files_watched": snap.files_watched,
    });
    json(body.to_string())
}

async fn status(State(s): State<AppState>) -> Response {
    let snap = s.now();
    let roots: Vec<_> = snap
        .roots
        .iter()
        .map(|(p, st)| serde_json::json!({"path": p, "state": format!("{st:?}")}))
        .collect();
    let page = s.page.borrow().clone();
    let body = serde_json::json!({
        "config": page.status,
        "roots": roots,
        "files_watched": snap.files_watched,
        "lines_read": snap.stats.lines,
        "parse_errors": snap.stats.bad_lines,
        "responses": snap.stats.responses,
        "store": {"path": snap.store, "rollups_pending": snap.rollups_pending},
        "sources": {
            "jsonl": {"ok": snap.usage.sources.jsonl.ok, "error": snap.usage.sources.jsonl.error},
            "otlp": {"ok": snap.usage.sources.otlp.ok, "error": snap.usage.sources.otlp.error},
            "prometheus": {"ok": snap.usage.sources.prometheus.ok, "error": snap.usage.sources.prometheus.error},
        },
        "values": snap.choices,
        "correlate": s.correlate.status(),
    });
    json(body.to_string())
}

/// `GET /api/hosts`: today per host (this machine's transcripts, each OpenTelemetry sender).
async fn hosts(State(s): State<AppState>) -> Response {
    match hub::ask(&s.inputs, Duration::from_secs(10), Input::Hosts).await {
        Ok(body) => json(body),
        Err(Unanswered::Closed) => {
            (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "the hub did not answer\n").into_response(),
    }
}

/// A statusLine object from `redline statusline`: applied, then answered with the
/// `/usage` document it led to.
async fn statusline(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(r) = plain_json(&headers) {
        return r;
    }
    let feed = match StatusFeed::parse(&body) {
        Ok(f) => f,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    let wait = Duration::from_millis(500);
    match hub::ask(&s.inputs, wait, |tx| Input::Status(feed, Some(tx))).await {
        Ok(usage) => json(usage),
        Err(Unanswered::Closed) => {
            (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
        }
        // Applied, but the hub is busy: the current values will do.
        Err(_) => json(s.now().usage_json.clone()),
    }
}

/// A Claude Code HTTP hook. The answer is empty: a hook's answer body is read by Claude
/// Code as instructions, and redline has none to give.
async fn hook(State(s): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if let Err(r) = plain_json(&headers) {
        return r;
    }
    match HookEvent::parse(&body) {
        Ok(h) => {
            let _ = s.inputs.send(Input::Hook(h));
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    }
}

/// Bodies arrive as plain JSON; a compressed one is refused rather than misread.
#[allow(clippy::result_large_err)]
fn plain_json(h: &HeaderMap) -> Result<(), Response> {
    match h
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
    {
        None | Some("identity") => Ok(()),
        Some(other) => Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Encoding {other} is not accepted here; send plain JSON\n"),
        )
            .into_response()),
    }
}

/// Server-sent events: the `/usage` object now, then each time the values change
/// (`event: usage`); and `event: config` (no data worth reading) when the configuration
/// changed while serving, so a page draws its faces again.
async fn events(
    State(s): State<AppState>,
) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>> {
    let exposure = s.exposure.clone();
    let mut last_seq = None;
    let usage = WatchStream::new(s.snapshots.clone()).filter_map(move |snap| {
        if last_seq == Some(snap.seq) {
            return None;
        }
        last_seq = Some(snap.seq);
        Some(Ok(Event::default()
            .event("usage")
            .data(exposure.public(&snap.usage_json))))
    });
    // Only changes: the page in force when the stream opened is what the client read.
    let config = WatchStream::from_changes(s.page.clone())
        .map(|_| Ok(Event::default().event("config").data("changed")));
    Sse::new(usage.merge(config)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

/// What the guarded routes check before anything else runs, in this order: `Host` is one
/// of this machine's (else 421), an `Origin` is this daemon's own (else 403), the token
/// when the bind is beyond loopback (else 401), and a POST says it is JSON (or OTLP
/// protobuf on `/v1/*`; else 415). A token in the query (`/?token=...`, the link the
/// daemon prints, and only there) also sets the cookie, so the page's own requests carry
/// it from then on.
async fn guard(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let host = host_of(&req);
    if let Some(h) = &host
        && !split_authority(h).is_some_and(|(name, _)| s.exposure.hosts.allows(&name))
    {
        return (
            StatusCode::MISDIRECTED_REQUEST,
            "this Host is not a name of this machine; a name of yours? add it to allowed_hosts (REDLINE_ALLOWED_HOSTS, --allowed-hosts)\n",
        )
            .into_response();
    }
    if let Some(origin) = req.headers().get(header::ORIGIN)
        && !same_origin(origin.as_bytes(), host.as_deref(), &s.exposure.hosts)
    {
        return (
            StatusCode::FORBIDDEN,
            "cross-origin requests are refused: only this daemon's own page may send them\n",
        )
            .into_response();
    }
    let mut cookie = None;
    if s.exposed {
        match token_check(&s, &req) {
            Ok(c) => cookie = c,
            Err(r) => return r,
        }
    }
    if req.method() == Method::POST
        && let Err(r) = json_body(req.uri().path(), req.headers())
    {
        return r;
    }
    let mut r = next.run(req).await;
    if let Some(c) = cookie {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

/// The authority a request was sent to: `Host`, else an absolute URI's. `None` for neither
/// (no browser sends such a request, so no web page can be behind it).
fn host_of(req: &Request) -> Option<String> {
    match req.headers().get(header::HOST) {
        // A `Host` that is not text names no host of ours.
        Some(v) => Some(v.to_str().unwrap_or("\u{0}").to_owned()),
        None => req.uri().authority().map(|a| a.as_str().to_owned()),
    }
}

/// `Ok` with the cookie to set when the request carries the token; else the 401.
#[allow(clippy::result_large_err)]
fn token_check(s: &AppState, req: &Request) -> Result<Option<HeaderValue>, Response> {
    let Some(t) = &s.token else {
        return Err(unauthorized());
    };
    // Only the page takes the token in its address: an address ends up in histories, logs
    // and Referer headers, and `/api/*` has the header and the cookie.
    let from_query = (req.uri().path() == "/")
        .then(|| req.uri().query())
        .flatten()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("token=")));
    if from_query.is_some_and(|p| same(p.as_bytes(), t.as_bytes())) {
        return Ok(HeaderValue::from_str(&format!(
            "redline_token={t}; Path=/; HttpOnly; SameSite=Strict"
        ))
        .ok());
    }
    if presented(req.headers()).is_some_and(|p| same(p.as_bytes(), t.as_bytes())) {
        return Ok(None);
    }
    Err(unauthorized())
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
        "this endpoint needs the token: Authorization: Bearer <token>\n",
    )
        .into_response()
}

/// A POST body must declare itself JSON (OTLP may be protobuf too): a cross-site form or
/// `fetch` can only send `text/plain`, form and multipart bodies without a preflight, and
/// a preflight is never answered.
#[allow(clippy::result_large_err)]
fn json_body(path: &str, h: &HeaderMap) -> Result<(), Response> {
    let ct = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    let otlp = path.starts_with("/v1/");
    if essence.eq_ignore_ascii_case("application/json")
        || (otlp && redline_engine::otlp::Encoding::from_content_type(ct).is_some())
    {
        return Ok(());
    }
    let want = if otlp {
        "application/x-protobuf or application/json"
    } else {
        "application/json"
    };
    Err((
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!("POST bodies here must be sent as Content-Type: {want}\n"),
    )
        .into_response())
}

/// The token a request presents, by header (the `Bearer` scheme in any case, as RFC 9110
/// has schemes) or cookie.
fn presented(h: &HeaderMap) -> Option<&str> {
    if let Some(v) = h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
        && let Some((scheme, t)) = v.trim().split_once([' ', '\t'])
        && scheme.eq_ignore_ascii_case("bearer")
    {
        return Some(t.trim());
    }
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("redline_token="))
}

/// Whether an `Origin` is this daemon's own: `http://` and the authority the request was
/// sent to (a request without one: a host of ours). `null` (a sandboxed or file page) and
/// every other origin are foreign.
fn same_origin(origin: &[u8], host: Option<&str>, hosts: &Hosts) -> bool {
    let Ok(origin) = std::str::from_utf8(origin) else {
        return false;
    };
    let origin = origin.trim();
    let Some(rest) = origin
        .get(..7)
        .filter(|s| s.eq_ignore_ascii_case("http://"))
        .map(|_| &origin[7..])
    else {
        return false;
    };
    let Some((name, port)) = split_authority(rest) else {
        return false;
    };
    match host.and_then(split_authority) {
        Some((h, p)) => name == h && port.unwrap_or(80) == p.unwrap_or(80),
        None => hosts.allows(&name),
    }
}

/// `name[:port]` or `[v6][:port]` as the name (lower case, brackets kept off, a trailing
/// dot dropped) and the port; `None` when it is neither.
pub fn split_authority(text: &str) -> Option<(String, Option<u16>)> {
    let text = text.trim();
    let (name, port) = if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (inside, port)
    } else {
        match text.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (text, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => Some(p.parse::<u16>().ok()?),
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b));
    valid.then(|| (name.to_ascii_lowercase(), port))
}

/// What the guarded routes answer to and what the open ones keep to themselves.
#[derive(Clone, Debug, Default)]
pub struct Exposure {
    /// The names and addresses the web page, `/api/*` and the POSTs answer to.
    pub hosts: Hosts,
    /// The home directory as it appears in a JSON string, with its trailing `/`: shown as
    /// `~/` on the open endpoints.
    home_json: Option<String>,
}

impl Exposure {
    /// This machine's names, `allowed` (host names or addresses, as `allowed_hosts` has
    /// them), and the home directory to hide.
    pub fn new(allowed: &[String], home: Option<&Path>) -> Exposure {
        let home_json = home
            .and_then(|h| h.to_str())
            .map(|h| h.trim_end_matches('/'))
            .filter(|h| !h.is_empty())
            .and_then(|h| serde_json::to_string(h).ok())
            .map(|q| format!("{}/", &q[1..q.len() - 1]));
        Exposure {
            hosts: Hosts::new(allowed),
            home_json,
        }
    }

    /// A `/usage` document as the open endpoints give it: the home directory in its
    /// errors shown as `~` (so an error names the file without the user's name and the
    /// layout above it). Anyone who can reach the port reads these; the full text stays in
    /// `/api/status` and the log.
    pub fn public<'a>(&self, usage_json: &'a str) -> Cow<'a, str> {
        match &self.home_json {
            Some(h) if usage_json.contains(h.as_str()) => Cow::Owned(usage_json.replace(h, "~/")),
            _ => Cow::Borrowed(usage_json),
        }
    }
}

/// The names and addresses the guarded routes answer to: loopback names and addresses,
/// this machine's addresses (asked of its interfaces at each request, as they come and
/// go), its name and `<name>.local`, and what the user allowed.
#[derive(Clone, Debug, Default)]
pub struct Hosts {
    names: Vec<String>,
    addrs: Vec<IpAddr>,
}

impl Hosts {
    /// This machine's names and `allowed` (names and addresses as
    /// [`crate::config::parse_allowed_hosts`] gives them).
    pub fn new(allowed: &[String]) -> Hosts {
        let mut names = Vec::new();
        if let Some(h) = crate::config::host_name() {
            let h = h.to_ascii_lowercase();
            names.push(format!("{h}.local"));
            names.push(h);
        }
        // The name the daemon advertises over mDNS.
        names.push(format!(
            "{}.local",
            crate::mdns::host_label().to_ascii_lowercase()
        ));
        let mut addrs = Vec::new();
        for a in allowed {
            match a.parse::<IpAddr>() {
                Ok(ip) => addrs.push(ip.to_canonical()),
                Err(_) => names.push(a.to_ascii_lowercase()),
            }
        }
        names.sort();
        names.dedup();
        Hosts { names, addrs }
    }

    /// Whether `name` (as [`split_authority`] gives it) is ours.
    pub fn allows(&self, name: &str) -> bool {
        if let Ok(ip) = name.parse::<IpAddr>() {
            let ip = ip.to_canonical();
            // An address cannot be rebound: a page reached by it is on this machine (or
            // behind an address the user allowed). 0.0.0.0 is the address the daemon prints
            // when bound to every address.
            return ip.is_loopback()
                || ip.is_unspecified()
                || self.addrs.contains(&ip)
                || own_addresses().contains(&ip);
        }
        name == "localhost" || name.ends_with(".localhost") || self.names.iter().any(|n| n == name)
    }
}

/// The addresses of this machine's interfaces.
#[cfg(unix)]
#[allow(unsafe_code)]
fn own_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list that stays valid until
    // freeifaddrs; each `ifa_addr` is null or points at a sockaddr of its `sa_family`.
    unsafe {
        if libc::getifaddrs(&mut list) != 0 {
            return out;
        }
        let mut cur = list;
        while !cur.is_null() {
            let addr = (*cur).ifa_addr;
            if !addr.is_null() {
                match i32::from((*addr).sa_family) {
                    libc::AF_INET => {
                        let a = &*(addr as *const libc::sockaddr_in);
                        out.push(IpAddr::from(u32::from_be(a.sin_addr.s_addr).to_be_bytes()));
                    }
                    libc::AF_INET6 => {
                        let a = &*(addr as *const libc::sockaddr_in6);
                        out.push(IpAddr::from(a.sin6_addr.s6_addr).to_canonical());
                    }
                    _ => {}
                }
            }
            cur = (*cur).ifa_next;
        }
        libc::freeifaddrs(list);
    }
    out
}

/// The addresses this machine's name resolves to, where interfaces are not listed.
#[cfg(not(unix))]
fn own_addresses() -> Vec<IpAddr> {
    use std::net::ToSocketAddrs;
    crate::config::host_name()
        .and_then(|h| (h.as_str(), 0).to_socket_addrs().ok())
        .map(|a| a.map(|a| a.ip().to_canonical()).collect())
        .unwrap_or_default()
}

/// Compares without stopping at the first difference, so timing does not tell how much of
/// a guessed token was right.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Refuses a declared body over the limit before anything reads it; a body without a
/// length is cut at the limit by [`DefaultBodyLimit`] when a handler reads it.
async fn limit_body(req: Request<Body>, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > BODY_LIMIT as u64) {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request bodies are limited to {BODY_LIMIT} bytes\n"),
        )
            .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_split_into_name_and_port() {
        let s = |t: &str| split_authority(t);
        assert_eq!(
            s("Desk.Example:7878"),
            Some(("desk.example".into(), Some(7878)))
        );
        assert_eq!(s("localhost."), Some(("localhost".into(), None)));
        assert_eq!(s("[::1]:80"), Some(("::1".into(), Some(80))));
        assert_eq!(
            s("[::FFFF:127.0.0.1]"),
            Some(("::ffff:127.0.0.1".into(), None))
        );
        for bad in [
            "", ":80", "a:b", "a:99999", "[::1", "[::1]x", "a b", "a/b", "a@b:1",
        ] {
            assert_eq!(s(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn hosts_are_loopback_this_machine_and_what_was_allowed() {
        let h = Hosts::new(&["desk.example".into(), "10.9.8.7".into()]);
        for ok in [
            "localhost",
            "app.localhost",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "::ffff:127.0.0.1",
            "0.0.0.0",
            "desk.example",
            "10.9.8.7",
            "::ffff:10.9.8.7",
        ] {
            assert!(h.allows(ok), "{ok}");
        }
        if let Some(name) = crate::config::host_name() {
            let name = name.to_ascii_lowercase();
            assert!(h.allows(&name) && h.allows(&format!("{name}.local")));
        }
        for no in [
            "evil.example",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "desk.example.evil",
            "8.8.8.8",
        ] {
            assert!(!h.allows(no), "{no}");
        }
    }

    #[test]
    fn only_the_daemons_own_origin_is_same() {
        let h = Hosts::new(&[]);
        let same = |o: &str, host: Option<&str>| same_origin(o.as_bytes(), host, &h);
        assert!(same("http://127.0.0.1:7878", Some("127.0.0.1:7878")));
        assert!(same("HTTP://LOCALHOST:7878", Some("localhost:7878")));
        assert!(same("http://localhost", Some("localhost:80")));
        assert!(same("http://[::1]:7878", Some("[::1]:7878")));
        assert!(same("http://localhost:7878", None));
        assert!(!same("http://localhost:7879", Some("localhost:7878")));
        assert!(!same("http://127.0.0.1:7878", Some("localhost:7878")));
        assert!(!same("https://localhost:7878", Some("localhost:7878")));
        assert!(!same("null", Some("localhost:7878")));
        assert!(!same("http://evil.example:7878", None));
        assert!(!same("http://localhost:7878/x", Some("localhost:7878")));
    }

    #[test]
    fn the_bearer_scheme_is_any_case() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
            presented(&h).map(str::to_owned)
        };
        for v in [
            "Bearer t0ken",
            "bearer t0ken",
            "BEARER  t0ken ",
            "Bearer\tt0ken",
        ] {
            assert_eq!(with(v).as_deref(), Some("t0ken"), "{v:?}");
        }
        assert_eq!(with("Basic t0ken"), None);
        assert_eq!(with("Bearert0ken"), None);
    }

    #[test]
    fn posts_must_say_json() {
        let with = |path: &str, ct: Option<&str>| {
            let mut h = HeaderMap::new();
            if let Some(ct) = ct {
                h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
            }
            json_body(path, &h).is_ok()
        };
        assert!(with("/hook", Some("application/json")));
        assert!(with("/hook", Some("Application/JSON ; charset=utf-8")));
        assert!(with("/v1/logs", Some("application/x-protobuf")));
        assert!(!with("/hook", Some("application/x-protobuf")));
        assert!(!with("/statusline", Some("text/plain")));
        assert!(!with("/statusline", Some("application/jsonx")));
        assert!(!with("/hook", None));
    }

    #[test]
    fn the_open_document_shows_the_home_directory_as_a_tilde() {
        let e = Exposure::new(&[], Some(Path::new("/home/al")));
        let doc = r#"{"error":"cannot watch /home/al/.claude/projects: gone; /home/alice/x"}"#;
        assert_eq!(
            e.public(doc),
            r#"{"error":"cannot watch ~/.claude/projects: gone; /home/alice/x"}"#
        );
        assert!(matches!(e.public(r#"{"error":null}"#), Cow::Borrowed(_)));
        // A home with characters JSON escapes is found as JSON writes it.
        let e = Exposure::new(&[], Some(Path::new("/home/a\"b/")));
        assert_eq!(e.public(r#""/home/a\"b/x""#), r#""~/x""#);
        // A home of `/` hides nothing rather than everything.
        let e = Exposure::new(&[], Some(Path::new("/")));
        assert_eq!(e.public(r#""/x""#), r#""/x""#);
    }
}
