//! OTLP over gRPC, served by axum instead of tonic: the transport only. It takes the two
//! unary `Export` calls Claude Code makes with `OTEL_EXPORTER_OTLP_PROTOCOL=grpc` (metrics
//! and logs), unframes and decompresses the one message each carries, and hands its bytes
//! to a [`Sink`]; decoding the protobuf is the sink's business.
//!
//! The wire rules are gRPC's (`PROTOCOL-HTTP2.md`): a request is `content-type:
//! application/grpc` over HTTP/2 (h2c with prior knowledge on a plain socket), its body
//! one length-prefixed message; the answer is HTTP 200 with the status in `grpc-status`,
//! in the trailers after a response message, or in the headers of an empty
//! ("trailers-only") response when the call fails. No message over [`MESSAGE_LIMIT`] is
//! read or inflated, so a huge declared length, an endless body or a gzip bomb costs at
//! most that much memory.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http_body::Frame;
use redline_engine::otlp::DecodeError;

pub use redline_engine::otlp::Signal;

/// Why the sink refused a message.
#[derive(Debug)]

pub enum Refusal {
    /// The message is not one the sink can take; the exporter should not retry it.
    /// Answered INVALID_ARGUMENT (3) with this text.
    Invalid(String),
    /// The sink cannot take anything just now; the exporter may retry.
    /// Answered UNAVAILABLE (14) with this text.
    Unavailable(String),
    /// The sink is full: the exporter should retry after this many seconds. Answered
    /// RESOURCE_EXHAUSTED (8) with a `google.rpc.RetryInfo` of that delay in
    /// `grpc-status-details-bin`, which is what makes OTLP exporters retry that code.
    Busy(String, u64),
}

/// Takes one decompressed protobuf message (`ExportMetricsServiceRequest` or
/// `ExportLogsServiceRequest` bytes, as [`Signal`] says).
pub type Sink = Arc<
    dyn Fn(Signal, Vec<u8>) -> Pin<Box<dyn Future<Output = Result<(), Refusal>> + Send>>
        + Send
        + Sync,
>;

/// The path of the metrics export call.
pub const METRICS_EXPORT: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
/// The path of the logs export call.
pub const LOGS_EXPORT: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

/// The largest message taken, after decompression; the daemon's body limit.
const MESSAGE_LIMIT: usize = crate::http::BODY_LIMIT;
/// A message's prefix: the compressed flag and the big-endian length.
const PREFIX_LEN: usize = 5;
/// The one compression this server inflates, announced in `grpc-accept-encoding`.
const ACCEPT_ENCODING: &str = "gzip";

const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");
const GRPC_STATUS_DETAILS: HeaderName = HeaderName::from_static("grpc-status-details-bin");
const GRPC_ENCODING: HeaderName = HeaderName::from_static("grpc-encoding");
const GRPC_ACCEPT_ENCODING: HeaderName = HeaderName::from_static("grpc-accept-encoding");

/// What the handlers share.
#[derive(Clone)]
struct GrpcState {
    sink: Sink,
    token: Option<Arc<str>>,
}

/// The gRPC router. `token`: when `Some`, calls must carry `authorization: Bearer <token>`
/// metadata (else UNAUTHENTICATED (16)).
pub fn router(sink: Sink, token: Option<Arc<str>>) -> Router {
    let state = GrpcState { sink, token };
    Router::new()
        .route(
            METRICS_EXPORT,
            post(|State(s): State<GrpcState>, req: Request| export(s, Signal::Metrics, req)),
        )
        .route(
            LOGS_EXPORT,
            post(|State(s): State<GrpcState>, req: Request| export(s, Signal::Logs, req)),
        )
        .fallback(unimplemented)
        // Applied to the fallback too: a call to an unknown method without the token is
        // UNAUTHENTICATED, so the answer does not tell which methods exist.
        .layer(middleware::from_fn_with_state(state.clone(), preflight))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets calls under way
/// finish. axum's server (hyper-util's auto builder) takes HTTP/2 with prior knowledge on
/// the plain socket, which is how gRPC clients speak to an `http://` endpoint.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// The gRPC status codes this server answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Code {
    Ok = 0,
    Cancelled = 1,
    InvalidArgument = 3,
    ResourceExhausted = 8,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    Unauthenticated = 16,
}

/// A failed call, answered trailers-only.
#[derive(Debug)]
struct Status {
    code: Code,
    message: String,
    /// Seconds to wait before a retry, sent as `google.rpc.RetryInfo`.
    retry_after_s: Option<u64>,
}

impl Status {
    fn new(code: Code, message: impl Into<String>) -> Self {
        Status {
            code,
            message: message.into(),
            retry_after_s: None,
        }
    }
}

impl From<Refusal> for Status {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Invalid(m) => Status::new(Code::InvalidArgument, m),
            Refusal::Unavailable(m) => Status::new(Code::Unavailable, m),
            Refusal::Busy(m, retry_after_s) => Status {
                retry_after_s: Some(retry_after_s),
                ..Status::new(Code::ResourceExhausted, m)
            },
        }
    }
}

impl IntoResponse for Status {
    fn into_response(self) -> Response {
        let mut headers = grpc_headers();
        headers.insert(GRPC_STATUS, HeaderValue::from(self.code as u16));
        headers.insert(GRPC_MESSAGE, percent_encode(&self.message));
        if let Some(s) = self.retry_after_s {
            let details = base64(&status_details(self.code, &self.message, s));
            headers.insert(
                GRPC_STATUS_DETAILS,
                HeaderValue::try_from(details).expect("base64 is a valid header value"),
            );
        }
        (headers, Body::empty()).into_response()
    }
}

/// A `google.rpc.Status` carrying one `google.rpc.RetryInfo` of `retry_after_s`.
fn status_details(code: Code, message: &str, retry_after_s: u64) -> Vec<u8> {
    use prost::encoding::{WireType, bytes, encode_key, encode_varint, int32, int64, string};
    let mut duration = Vec::new();
    int64::encode(
        1,
        &(i64::try_from(retry_after_s).unwrap_or(i64::MAX)),
        &mut duration,
    );
    let mut retry_info = Vec::new();
    encode_key(1, WireType::LengthDelimited, &mut retry_info);
    encode_varint(duration.len() as u64, &mut retry_info);
    retry_info.extend_from_slice(&duration);
    let mut any = Vec::new();
    string::encode(
        1,
        &"type.googleapis.com/google.rpc.RetryInfo".to_owned(),
        &mut any,
    );
    bytes::encode(2, &retry_info, &mut any);
    let mut status = Vec::new();
    int32::encode(1, &(code as i32), &mut status);
    string::encode(2, &message.to_owned(), &mut status);
    bytes::encode(3, &any, &mut status);
    status
}

/// Standard base64 with padding, as `-bin` metadata is sent.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The headers every gRPC answer starts with.
fn grpc_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    h.insert(
        GRPC_ACCEPT_ENCODING,
        HeaderValue::from_static(ACCEPT_ENCODING),
    );
    h
}

/// Turns away what is not a gRPC call (HTTP 415, as gRPC asks) and, when a token is set,
/// calls without it.
async fn preflight(State(s): State<GrpcState>, req: Request, next: Next) -> Response {
    if !is_grpc(req.headers()) {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "this port takes OTLP over gRPC: content-type application/grpc\n",
        )
            .into_response();
    }
    if let Some(token) = &s.token
        && !bearer(req.headers()).is_some_and(|p| same(p.as_bytes(), token.as_bytes()))
    {
        return Status::new(
            Code::Unauthenticated,
            "this server needs the token: authorization: Bearer <token> \
             (OTEL_EXPORTER_OTLP_HEADERS=\"Authorization=Bearer <token>\")",
        )
        .into_response();
    }
    next.run(req).await
}

/// Whether the content type is gRPC with protobuf: `application/grpc` or
/// `application/grpc+proto`, parameters allowed (`application/grpc-web` is another
/// protocol, `+json` another codec).
fn is_grpc(h: &HeaderMap) -> bool {
    let Some(v) = h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let media = v.split(';').next().unwrap_or_default().trim();
    media.eq_ignore_ascii_case("application/grpc")
        || media.eq_ignore_ascii_case("application/grpc+proto")
}

/// The token an `authorization: Bearer <token>` header presents.
fn bearer(h: &HeaderMap) -> Option<&str> {
    let v = h.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

use crate::http::same;

/// Every other path, the trace service's included.
async fn unimplemented(req: Request) -> Status {
    Status::new(
        Code::Unimplemented,
        format!(
            "{} is not served here; this server takes OTLP metrics and logs only",
            req.uri().path()
        ),
    )
}

/// One `Export` call: the message to the sink, then an empty `Export*ServiceResponse`.
async fn export(s: GrpcState, signal: Signal, req: Request) -> Response {
    match receive(&s, signal, req).await {
        Ok(()) => {
            let body = Unary {
                // The empty response message is 0 bytes: an uncompressed prefix of length 0.
                message: Some(Bytes::from_static(&[0; PREFIX_LEN])),
                trailers: Some(HeaderMap::from_iter([(
                    GRPC_STATUS,
                    HeaderValue::from(Code::Ok as u16),
                )])),
            };
            (grpc_headers(), Body::new(body)).into_response()
        }
        Err(status) => status.into_response(),
    }
}

async fn receive(s: &GrpcState, signal: Signal, req: Request) -> Result<(), Status> {
    let gzip = match req.headers().get(GRPC_ENCODING).map(HeaderValue::to_str) {
        None => false,
        Some(Ok("identity")) => false,
        Some(Ok("gzip")) => true,
        Some(other) => {
            let name = other.unwrap_or("(not text)");
            return Err(Status::new(
                Code::Unimplemented,
                format!(
                    "grpc-encoding {name} is not supported; this server accepts \
                     {ACCEPT_ENCODING} (or identity)"
                ),
            ));
        }
    };
    let (compressed, message) = read_message(req.into_body()).await?;
    let message = match (compressed, gzip) {
        (false, _) => message,
        (true, true) => gunzip(&message)?,
        (true, false) => {
            return Err(Status::new(
                Code::Internal,
                "the message is flagged compressed but the call has no grpc-encoding",
            ));
        }
    };
    (s.sink)(signal, message).await.map_err(Status::from)
}

/// Reads the one length-prefixed message of a unary call: its compressed flag and bytes.
/// Nothing past the declared length is kept, and a declared length over the limit is
/// refused before the message is read.
async fn read_message(mut body: Body) -> Result<(bool, Vec<u8>), Status> {
    let mut buf: Vec<u8> = Vec::new();
    // The prefix and message length, once the prefix is in.
    let mut total: Option<usize> = None;
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame
            .map_err(|e| Status::new(Code::Cancelled, format!("reading the request body: {e}")))?;
        // Request trailers carry nothing this server uses.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buf.extend_from_slice(&data);
        if total.is_none() && buf.len() >= PREFIX_LEN {
            let flag = buf[0];
            if flag > 1 {
                return Err(Status::new(
                    Code::Internal,
                    format!("the message prefix has compressed flag {flag}; it must be 0 or 1"),
                ));
            }
            let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
            if len > MESSAGE_LIMIT {
                return Err(Status::new(
                    Code::ResourceExhausted,
                    format!(
                        "the message is {len} bytes; this server takes at most {MESSAGE_LIMIT}"
                    ),
                ));
            }
            total = Some(PREFIX_LEN + len);
        }
        if total.is_some_and(|t| buf.len() > t) {
            return Err(Status::new(
                Code::Internal,
                "the request body holds more than one message; Export is a unary call",
            ));
        }
    }
    match total {
        None if buf.is_empty() => Err(Status::new(
            Code::Internal,
            "the request body holds no message",
        )),
        None => Err(Status::new(
            Code::Internal,
            format!(
                "the request body ends inside the message prefix ({} of {PREFIX_LEN} bytes)",
                buf.len()
            ),
        )),
        Some(t) if buf.len() < t => Err(Status::new(
            Code::Internal,
            format!(
                "the request body ends inside the message ({} of {} bytes)",
                buf.len() - PREFIX_LEN,
                t - PREFIX_LEN
            ),
        )),
        Some(_) => {
            let compressed = buf[0] == 1;
            buf.drain(..PREFIX_LEN);
            Ok((compressed, buf))
        }
    }
}

/// Inflates a gzip message, stopping one byte past the limit so a bomb costs no more.
fn gunzip(compressed: &[u8]) -> Result<Vec<u8>, Status> {
    redline_engine::otlp::gunzip(compressed).map_err(|e| match e {
        DecodeError::TooLarge => Status::new(
            Code::ResourceExhausted,
            format!("the message inflates past {MESSAGE_LIMIT} bytes, the most this server takes"),
        ),
        DecodeError::Invalid(why) => Status::new(Code::Internal, why),
    })
}

/// `grpc-message` is percent-encoded: visible ASCII but `%` stays, every other byte of
/// the UTF-8 becomes `%XX`.
fn percent_encode(message: &str) -> HeaderValue {
    let mut out = String::with_capacity(message.len());
    for &b in message.as_bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    HeaderValue::try_from(out).expect("visible ASCII is a valid header value")
}

/// A unary response body: the message, then the trailers that carry `grpc-status`.
struct Unary {
    message: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl HttpBody for Unary {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if let Some(m) = this.message.take() {
            return Poll::Ready(Some(Ok(Frame::data(m))));
        }
        Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.message.is_none() && self.trailers.is_none()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::net::SocketAddr;
    use std::sync::Mutex;

    use flate2::Compression;
    use flate2::write::GzEncoder;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::metrics::v1::{
        Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
    };
    use prost::Message as _;
    use tokio::sync::oneshot;
    use tokio::task::JoinHandle;

    use super::*;

    type Received = Arc<Mutex<Vec<(Signal, Vec<u8>)>>>;

    /// A sink that keeps what it is given and answers `answer()`.
    fn recording(answer: fn() -> Result<(), Refusal>) -> (Sink, Received) {
        let received = Received::default();
        let r = received.clone();
        let sink: Sink = Arc::new(move |signal, bytes| {
            r.lock().unwrap().push((signal, bytes));
            Box::pin(async move { answer() })
        });
        (sink, received)
    }

    struct Server {
        addr: SocketAddr,
        stop: oneshot::Sender<()>,
        task: JoinHandle<io::Result<()>>,
    }

    async fn start(sink: Sink, token: Option<&str>) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let app = router(sink, token.map(Arc::from));
        let task = tokio::spawn(serve(listener, app, async {
            let _ = stopped.await;
        }));
        Server { addr, stop, task }
    }

    impl Server {
        async fn stop(self) {
            self.stop.send(()).unwrap();
            let done = tokio::time::timeout(std::time::Duration::from_secs(5), self.task);
            done.await.expect("serve stops").unwrap().unwrap();
        }

        /// One unary call on its own HTTP/2 connection (prior knowledge, as grpc-js speaks
        /// to an `http://` endpoint). The body is sent in `chunks`; `end` closes the stream.
        async fn call_chunks(
            &self,
            path: &str,
            headers: &[(&str, &str)],
            chunks: Vec<Vec<u8>>,
            end: bool,
        ) -> Reply {
            let addr = self.addr;
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let (client, connection) = h2::client::handshake(tcp).await.unwrap();
            tokio::spawn(connection);
            let mut client = client.ready().await.unwrap();
            let mut req = http::Request::post(format!("http://{addr}{path}"))
                .header("te", "trailers")
                .body(())
                .unwrap();
            for (k, v) in headers {
                req.headers_mut().insert(
                    http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    http::HeaderValue::from_str(v).unwrap(),
                );
            }
            let (response, mut send) = client.send_request(req, false).unwrap();
            let n = chunks.len();
            for (i, chunk) in chunks.into_iter().enumerate() {
                let last = end && i + 1 == n;
                send.send_data(Bytes::from(chunk), last).unwrap();
            }
            if n == 0 && end {
                send.send_data(Bytes::new(), true).unwrap();
            }
            let (parts, mut body) = response.await.unwrap().into_parts();
            let mut data = Vec::new();
            while let Some(chunk) = body.data().await {
                let chunk = chunk.unwrap();
                body.flow_control().release_capacity(chunk.len()).unwrap();
                data.extend_from_slice(&chunk);
            }
            let trailers = body.trailers().await.unwrap();
            drop(send);
            Reply {
                status: parts.status,
                headers: parts.headers,
                body: data,
                trailers,
            }
        }

        /// One unary call with `body` in one piece.
        async fn call(&self, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
            self.call_chunks(path, headers, vec![body], true).await
        }
    }

    const GRPC: (&str, &str) = ("content-type", "application/grpc");

    /// What came back over HTTP/2.
    #[derive(Debug)]
    struct Reply {
        status: http::StatusCode,
        headers: http::HeaderMap,
        body: Vec<u8>,
        trailers: Option<http::HeaderMap>,
    }

    impl Reply {
        /// `grpc-status`, from the trailers or, trailers-only, the headers.
        fn grpc_status(&self) -> Option<u16> {
            let h = self.trailers.as_ref().unwrap_or(&self.headers);
            h.get("grpc-status")?.to_str().ok()?.parse().ok()
        }

        fn grpc_message(&self) -> &str {
            let h = self.trailers.as_ref().unwrap_or(&self.headers);
            h.get("grpc-message").map_or("", |v| v.to_str().unwrap())
        }

        /// A trailers-only gRPC answer with this status.
        fn assert_failed(&self, code: Code) {
            assert_eq!(self.status, http::StatusCode::OK, "{self:?}");
            assert_eq!(self.headers["content-type"], "application/grpc");
            assert_eq!(self.grpc_status(), Some(code as u16), "{self:?}");
            assert!(self.body.is_empty() && self.trailers.is_none(), "{self:?}");
        }

        /// A successful unary answer: the empty response message, then status 0.
        fn assert_ok(&self) {
            assert_eq!(self.status, http::StatusCode::OK, "{self:?}");
            assert_eq!(self.headers["content-type"], "application/grpc");
            assert!(self.headers.get("grpc-status").is_none(), "{self:?}");
            assert_eq!(self.body, [0, 0, 0, 0, 0]);
            assert_eq!(self.grpc_status(), Some(0), "{self:?}");
        }
    }

    /// A length-prefixed message.
    fn framed(compressed: bool, message: &[u8]) -> Vec<u8> {
        let mut out = vec![u8::from(compressed)];
        out.extend_from_slice(&(message.len() as u32).to_be_bytes());
        out.extend_from_slice(message);
        out
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn metrics_request() -> Vec<u8> {
        let attr = |k: &str, v: &str| KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(v.into())),
            }),
            ..Default::default()
        };
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![Metric {
                        name: "claude_code.token.usage".into(),
                        unit: "tokens".into(),
                        data: Some(metric::Data::Sum(Sum {
                            data_points: vec![NumberDataPoint {
                                attributes: vec![
                                    attr("type", "input"),
                                    attr("model", "claude-opus-4"),
                                ],
                                time_unix_nano: 1_760_000_000_000_000_000,
                                value: Some(number_data_point::Value::AsDouble(1234.0)),
                                ..Default::default()
                            }],
                            aggregation_temporality: 1,
                            is_monotonic: true,
                        })),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec()
    }

    fn logs_request() -> Vec<u8> {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord {
                        time_unix_nano: 1_760_000_000_000_000_000,
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(
                                "claude_code.api_request".into(),
                            )),
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec()
    }

    #[tokio::test]
    async fn metrics_and_logs_reach_the_sink_byte_for_byte() {
        let (sink, received) = recording(|| Ok(()));
        let server = start(sink, None).await;
        let metrics = metrics_request();
        let logs = logs_request();
        assert!(!metrics.is_empty() && !logs.is_empty());

        let r = server
            .call(METRICS_EXPORT, &[GRPC], framed(false, &metrics))
            .await;
        r.assert_ok();
        assert_eq!(r.headers["grpc-accept-encoding"], "gzip");
        let plus_proto = ("content-type", "application/grpc+proto");
        server
            .call(LOGS_EXPORT, &[plus_proto], framed(false, &logs))
            .await
            .assert_ok();

        let got = received.lock().unwrap().clone();
        assert_eq!(got, [(Signal::Metrics, metrics), (Signal::Logs, logs)]);
        server.stop().await;
    }

    #[tokio::test]
    async fn a_message_split_across_data_frames_is_joined() {
        let (sink, received) = recording(|| Ok(()));
        let server = start(sink, None).await;
        let metrics = metrics_request();
        let body = framed(false, &metrics);
        let chunks = vec![body[..3].to_vec(), body[3..9].to_vec(), body[9..].to_vec()];
        server
            .call_chunks(METRICS_EXPORT, &[GRPC], chunks, true)
            .await
            .assert_ok();
        assert_eq!(received.lock().unwrap()[0].1, metrics);
        server.stop().await;
    }

    #[tokio::test]
    async fn a_gzip_message_is_inflated() {
        let (sink, received) = recording(|| Ok(()));
        let server = start(sink, None).await;
        let metrics = metrics_request();
        let headers = [GRPC, ("grpc-encoding", "gzip")];
        let body = framed(true, &gzip(&metrics));
        server
            .call(METRICS_EXPORT, &headers, body)
            .await
            .assert_ok();
        // gzip announced but this message sent plain (the flag decides).
        let body = framed(false, &metrics);
        server
            .call(METRICS_EXPORT, &headers, body)
            .await
            .assert_ok();
        let got = received.lock().unwrap().clone();
        assert_eq!(
            got,
            [
                (Signal::Metrics, metrics.clone()),
                (Signal::Metrics, metrics)
            ]
        );
        server.stop().await;
    }

    #[tokio::test]
    async fn compression_this_server_cannot_inflate_is_unimplemented() {
        let (sink, received) = recording(|| Ok(()));
        let server = start(sink, None).await;
        let body = framed(true, b"\x01snappy bytes");
        let r = server
            .call(
                METRICS_EXPORT,
                &[GRPC, ("grpc-encoding", "snappy")],
                body.clone(),
            )
            .await;
        r.assert_failed(Code::Unimplemented);
        assert!(r.grpc_message().contains("snappy"), "{r:?}");
        assert!(r.grpc_message().contains("gzip"), "{r:?}");
        assert_eq!(r.headers["grpc-accept-encoding"], "gzip");

        // Flagged compressed with no encoding named.
        let r = server.call(METRICS_EXPORT, &[GRPC], body).await;
        r.assert_failed(Code::Internal);
        assert!(r.grpc_message().contains("grpc-encoding"), "{r:?}");

        // Not gzip at all.
        let body = framed(true, b"not gzip");
        let r = server
            .call(LOGS_EXPORT, &[GRPC, ("grpc-encoding", "gzip")], body)
            .await;
        r.assert_failed(Code::Internal);
        assert!(received.lock().unwrap().is_empty());
        server.stop().await;
    }

    #[tokio::test]
    async fn a_declared_length_over_the_limit_is_refused_before_the_body_is_read() {
        let (sink, received) = recording(|| Ok(()));
        let server = start(sink, None).await;
        let mut prefix = vec![0];
        prefix.extend_from_slice(&(MESSAGE_LIMIT as u32 + 1).to_be_bytes());
        // The stream stays open: the answer must not wait for a body it will not read.
        let chunks = vec![prefix, vec![7; 1000]];
        let r = server
            .call_chunks(METRICS_EXPORT, &[GRPC], chunks, false)
            .await;
        r.assert_failed(Code::ResourceExhausted);
        assert!(r.grpc_message().contains("1048576"), "{r:?}");

        let mut prefix = vec![0];
        prefix.extend_from_slice(&u32::MAX.to_be_bytes());
        let r = server
            .call_chunks(METRICS_EXPORT, &[GRPC], vec![prefix], false)
            .await;
        r.assert_failed(Code::ResourceExhausted);
        assert!(received.lock().unwrap().is_empty());
        server.stop().await;
    }

    #[tokio::test]
    async fn a_message_of_exactly_the_limit_is_taken() {
        let (sink, received) = recording(|| Ok(()));
        let server = start(sink, None).await;
        let message = vec![0x5a; MESSAGE_LIMIT];
        server
            .call(LOGS_EXPORT, &[GRPC], framed(false, &message))
            .await
            .assert_ok();
        assert_eq!(received.lock().unwrap()[0].1.len(), MESSAGE_LIMIT);
        server.stop().await;
    }

    #[tokio::test]
    async fn a_gzip_bomb_stops_at_the_limit() {
        let (sink, received) = recording(|| Ok(()));
        let server = start(sink, None).await;
        let headers = [GRPC, ("grpc-encoding", "gzip")];

        let exactly = gzip(&vec![0; MESSAGE_LIMIT]);
        server
            .call(METRICS_EXPORT, &headers, framed(true, &exactly))
            .await
            .assert_ok();
        assert_eq!(received.lock().unwrap()[0].1.len(), MESSAGE_LIMIT);

        let one_over = gzip(&vec![0; MESSAGE_LIMIT + 1]);
        let r = server
            .call(METRICS_EXPORT, &headers, framed(true, &one_over))
            .await;
        r.assert_failed(Code::ResourceExhausted);

        // 64 MiB of zeros in some 64 KiB on the wire.
        let mut e = GzEncoder::new(Vec::new(), Compression::best());
        let mib = vec![0; 1 << 20];
        for _ in 0..64 {
            e.write_all(&mib).unwrap();
        }
        let bomb = e.finish().unwrap();
        assert!(bomb.len() < MESSAGE_LIMIT / 8, "{}", bomb.len());
        let r = server
            .call(METRICS_EXPORT, &headers, framed(true, &bomb))
            .await;
        r.assert_failed(Code::ResourceExhausted);
        assert!(r.grpc_message().contains("inflates"), "{r:?}");
        assert_eq!(received.lock().unwrap().len(), 1);
        server.stop().await;
    }

    #[tokio::test]
    async fn broken_framing_is_internal_with_a_reason() {
        let (sink, received) = recording(|| Ok(()));
        let server = start(sink, None).await;
        let metrics = metrics_request();
        let cases: [(Vec<u8>, &str); 5] = [
            (Vec::new(), "no message"),
            (vec![0, 0, 0], "prefix (3 of 5 bytes)"),
            (framed(false, &metrics)[..20].to_vec(), "message (15 of"),
            (
                [framed(false, &metrics), framed(false, &metrics)].concat(),
                "more than one message",
            ),
            (
                [&[2u8][..], &framed(false, &metrics)[1..]].concat(),
                "compressed flag 2",
            ),
        ];
        for (body, reason) in cases {
            let r = server.call(METRICS_EXPORT, &[GRPC], body).await;
            r.assert_failed(Code::Internal);
            assert!(r.grpc_message().contains(reason), "{reason}: {r:?}");
        }
        assert!(received.lock().unwrap().is_empty());
        server.stop().await;
    }

    #[tokio::test]
    async fn what_is_not_grpc_is_415() {
        let (sink, received) = recording(|| Ok(()));
        let server = start(sink, None).await;
        let body = framed(false, &metrics_request());
        for ct in [
            "application/x-protobuf",
            "application/grpc-web",
            "application/grpc+json",
        ] {
            let r = server
                .call(METRICS_EXPORT, &[("content-type", ct)], body.clone())
                .await;
            assert_eq!(r.status, http::StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct}");
        }
        let r = server.call(METRICS_EXPORT, &[], body).await;
        assert_eq!(r.status, http::StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(received.lock().unwrap().is_empty());
        server.stop().await;
    }

    #[tokio::test]
    async fn other_methods_and_traces_are_unimplemented() {
        let (sink, received) = recording(|| Ok(()));
        let server = start(sink, None).await;
        let body = framed(false, &metrics_request());
        for path in [
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            "/opentelemetry.proto.collector.metrics.v1.MetricsService/Other",
            "/grpc.health.v1.Health/Check",
        ] {
            let r = server.call(path, &[GRPC], body.clone()).await;
            r.assert_failed(Code::Unimplemented);
            assert!(r.grpc_message().contains(path), "{r:?}");
        }
        assert!(received.lock().unwrap().is_empty());
        server.stop().await;
    }

    #[tokio::test]
    async fn a_token_is_required_when_set() {
        let (sink, received) = recording(|| Ok(()));
        let server = start(sink, Some("s3cret")).await;
        let body = framed(false, &metrics_request());
        let path = METRICS_EXPORT;
        let r = server.call(path, &[GRPC], body.clone()).await;
        r.assert_failed(Code::Unauthenticated);
        assert!(r.grpc_message().contains("Bearer"), "{r:?}");
        for wrong in ["Bearer s3cre", "Bearer s3cretx", "Basic s3cret", "s3cret"] {
            let r = server
                .call(path, &[GRPC, ("authorization", wrong)], body.clone())
                .await;
            r.assert_failed(Code::Unauthenticated);
        }
        // Unknown methods do not answer before the token either.
        let trace = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
        server
            .call(trace, &[GRPC], body.clone())
            .await
            .assert_failed(Code::Unauthenticated);
        assert!(received.lock().unwrap().is_empty());

        let auth = ("authorization", "Bearer s3cret");
        server.call(path, &[GRPC, auth], body).await.assert_ok();
        assert_eq!(received.lock().unwrap().len(), 1);
        server.stop().await;
    }

    #[tokio::test]
    async fn refusals_become_their_status_with_the_message_percent_encoded() {
        let (sink, _) = recording(|| Err(Refusal::Invalid("bad point: 100% ü".into())));
        let server = start(sink, None).await;
        let body = framed(false, &metrics_request());
        let r = server.call(METRICS_EXPORT, &[GRPC], body.clone()).await;
        r.assert_failed(Code::InvalidArgument);
        assert_eq!(r.grpc_message(), "bad point: 100%25 %C3%BC");
        server.stop().await;

        let (sink, _) = recording(|| Err(Refusal::Busy("full".into(), 1)));
        let server = start(sink, None).await;
        let r = server.call(METRICS_EXPORT, &[GRPC], body.clone()).await;
        server.stop().await;
        r.assert_failed(Code::ResourceExhausted);
        let details = r.headers["grpc-status-details-bin"].to_str().unwrap();
        let expected = base64(&status_details(Code::ResourceExhausted, "full", 1));
        assert_eq!(details, expected);
        assert!(
            String::from_utf8_lossy(&status_details(Code::ResourceExhausted, "full", 1))
                .contains("google.rpc.RetryInfo")
        );
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"M"), "TQ==");
        let (sink, _) = recording(|| Err(Refusal::Unavailable("busy".into())));
        let server = start(sink, None).await;
        let r = server.call(LOGS_EXPORT, &[GRPC], body).await;
        r.assert_failed(Code::Unavailable);
        assert_eq!(r.grpc_message(), "busy");
        server.stop().await;
    }
}
