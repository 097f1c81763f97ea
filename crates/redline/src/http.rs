//! The HTTP face of the daemon: the router as a plain function of its state, so every
//! route is tested without a socket, and the Exposure rules of SPEC.md.
//!
//! On loopback everything answers. Bound beyond loopback, only the gauge endpoints
//! (`/usage`, `/usage/gauge`, `/events`, `/healthz`, `/metrics`) answer without the token;
//! the rest needs `Authorization: Bearer <token>` (or the `redline_token` cookie). No
//! request body over 1 MiB is read, on any bind.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
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
    /// The resolved configuration, for `/api/status`.
    pub status: Arc<serde_json::Value>,
    /// The scales and thresholds the page draws (`/api/config`).
    pub page_config: Arc<serde_json::Value>,
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
        .route("/api/stats", get(web::stats_index))
        .route("/api/stats/{name}", get(web::stat))
        .route("/api/status", get(status))
        .route("/api/hosts", get(hosts))
        .route("/statusline", post(statusline))
        .route("/hook", post(hook))
        .route("/v1/metrics", post(otlp_http::metrics))
        .route("/v1/logs", post(otlp_http::logs))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
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
    json(s.now().usage_json.clone())
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
    let body = serde_json::json!({
        "config": *s.status,
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

/// Server-sent events: the `/usage` object now, then each time the values change.
async fn events(
    State(s): State<AppState>,
) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>> {
    let mut last_seq = None;
    let stream = WatchStream::new(s.snapshots.clone()).filter_map(move |snap| {
        if last_seq == Some(snap.seq) {
            return None;
        }
        last_seq = Some(snap.seq);
        Some(Ok(Event::default()
            .event("usage")
            .data(snap.usage_json.clone())))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

/// Lets a request through when the bind is loopback or it carries the token. A token in
/// the query (`/?token=...`, the link the daemon prints) also sets the cookie, so the
/// page's own requests carry it from then on.
async fn require_token(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if !s.exposed {
        return next.run(req).await;
    }
    let from_query = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("token=")))
        .map(str::to_owned);
    match &s.token {
        Some(t)
            if from_query
                .as_deref()
                .is_some_and(|p| same(p.as_bytes(), t.as_bytes())) =>
        {
            let mut r = next.run(req).await;
            if let Ok(v) = HeaderValue::from_str(&format!(
                "redline_token={t}; Path=/; HttpOnly; SameSite=Strict"
            )) {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
            r
        }
        Some(t) if presented(req.headers()).is_some_and(|p| same(p.as_bytes(), t.as_bytes())) => {
            next.run(req).await
        }
        _ => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
            "this endpoint needs the token: Authorization: Bearer <token>\n",
        )
            .into_response(),
    }
}

/// The token a request presents, by header or cookie.
fn presented(h: &HeaderMap) -> Option<&str> {
    if let Some(v) = h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
        && let Some(t) = v.strip_prefix("Bearer ")
    {
        return Some(t.trim());
    }
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("redline_token="))
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
