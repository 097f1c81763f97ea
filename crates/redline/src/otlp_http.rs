//! OpenTelemetry in: `POST /v1/metrics` and `/v1/logs` on the daemon's own address (OTLP
//! over HTTP, protobuf or JSON, gzip or not), and the sink the gRPC receiver
//! ([`crate::grpc`]) hands its messages to. Both decode with [`redline_engine::otlp`] and
//! give the batch to the hub, which answers once the export is stored: a 200 (or gRPC OK)
//! means a restart, even after `kill -9`, finds the data, and any other answer means
//! nothing of the export was counted or kept, now or later, so the exporter's retry
//! counts it once. Exports waiting for the hub are bounded ([`crate::exports::ExportQueue`]):
//! past the bound one is turned away at once (429 with `Retry-After`, gRPC
//! RESOURCE_EXHAUSTED with a retry delay) rather than held in memory.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use redline_engine::otlp::{self, Batch, DecodeError, Encoding, Event, Point, Signal};
use tokio::sync::oneshot;

use crate::exports::{Claim, EXPORTS, Export, Permit};
use crate::grpc::{Refusal, Sink};
use crate::http::{AppState, BODY_LIMIT};
use crate::hub::Input;

/// How long an export waits for the hub to take it. Shorter than an exporter's own
/// timeout (10 s by default, `OTEL_EXPORTER_OTLP_TIMEOUT`), so the exporter hears the 503
/// and sends again, rather than giving up on an export the hub then counts.
const STORE_TIMEOUT: Duration = Duration::from_secs(5);
/// What a turned-away exporter is told to wait, in seconds (`Retry-After`).
const RETRY_AFTER_S: u64 = 1;

/// `POST /v1/metrics`.
pub async fn metrics(State(s): State<AppState>, req: Request) -> Response {
    export(&s.inputs, Signal::Metrics, req).await
}

/// `POST /v1/logs`.
pub async fn logs(State(s): State<AppState>, req: Request) -> Response {
    export(&s.inputs, Signal::Logs, req).await
}

async fn export(inputs: &mpsc::Sender<Input>, signal: Signal, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let headers = &parts.headers;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(encoding) = Encoding::from_content_type(content_type) else {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Type {content_type:?} is not OTLP: send application/x-protobuf or application/json\n"
            ),
        )
            .into_response();
    };
    let gzipped = match headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("identity") => false,
        Some("gzip" | "x-gzip") => true,
        Some(other) => {
            return (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Content-Encoding {other} is not accepted; send gzip or none\n"),
            )
                .into_response();
        }
    };
    // A place in the queue before the body is read: a flood is turned away without
    // holding its bodies. A body's size is its declared length, else the most it may
    // inflate to; the decoded export's weight replaces that once known.
    let estimate = match declared_length(headers) {
        Some(n) if !gzipped => n.min(BODY_LIMIT),
        _ => BODY_LIMIT,
    };
    let Some(mut permit) = EXPORTS.admit(estimate) else {
        // Read and let go (a chunk at a time), so the exporter hears the answer rather
        // than a reset of a connection whose body was left unread.
        drain(Body::new(body)).await;
        return queue_full(encoding);
    };
    let batch = {
        let Ok(body) = axum::body::to_bytes(Body::new(body), BODY_LIMIT).await else {
            return status(
                StatusCode::PAYLOAD_TOO_LARGE,
                encoding,
                8,
                &format!("request bodies are limited to {BODY_LIMIT} bytes"),
            );
        };
        let inflated;
        let body = if gzipped {
            match otlp::gunzip(&body) {
                Ok(b) => {
                    inflated = b;
                    &inflated[..]
                }
                Err(e) => return refuse(encoding, &e),
            }
        } else {
            &body[..]
        };
        match otlp::decode(signal, encoding, body) {
            Ok(b) => b,
            Err(e) => return refuse(encoding, &e),
        }
        // The body is let go here: what waits for the hub is the decoded export.
    };
    permit.weigh(weight(&batch));
    match deliver(inputs, batch, permit).await {
        Ok(()) => (
            [(header::CONTENT_TYPE, encoding.content_type())],
            otlp::response(signal, encoding),
        )
            .into_response(),
        Err(why) => {
            let mut r = status(StatusCode::SERVICE_UNAVAILABLE, encoding, 14, &why);
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_S));
            r
        }
    }
}

/// Reads a body to its end (or past the body limit) without keeping it.
async fn drain(mut body: Body) {
    use axum::body::HttpBody;
    let mut read = 0;
    while let Some(Ok(frame)) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
        read += frame.data_ref().map_or(0, |d| d.len());
        if read > BODY_LIMIT {
            return;
        }
    }
}

fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Why an export is turned away when the queue is full.
fn full_message() -> String {
    let (bytes, exports) = EXPORTS.held();
    format!(
        "too many exports waiting ({exports}, {} KiB): nothing of this one was kept; send it again in {RETRY_AFTER_S} s",
        bytes / 1024
    )
}

/// 429 with `Retry-After`: OTLP/HTTP's answer for a receiver that cannot keep up; the
/// exporter retries after the wait.
fn queue_full(encoding: Encoding) -> Response {
    let mut r = status(StatusCode::TOO_MANY_REQUESTS, encoding, 8, &full_message());
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_S));
    r
}

/// About the memory a decoded export holds.
fn weight(batch: &Batch) -> usize {
    let origin =
        |host: &str, session: Option<&String>| host.len() + session.map_or(0, String::len) + 32;
    let points: usize = batch
        .points
        .iter()
        .map(|p| {
            std::mem::size_of::<Point>()
                + origin(&p.origin.host, p.origin.session.as_ref())
                + p.model.as_ref().map_or(0, |m| m.len() + 16)
        })
        .sum();
    let events: usize = batch
        .events
        .iter()
        .map(|e| {
            std::mem::size_of::<Event>()
                + match e {
                    Event::ApiRequest {
                        origin: o,
                        model,
                        request_id,
                        ..
                    } => {
                        origin(&o.host, o.session.as_ref())
                            + model.as_ref().map_or(0, |m| m.len() + 16)
                            + request_id.as_ref().map_or(0, |m| m.len() + 16)
                    }
                    Event::ApiError { origin: o, .. } => origin(&o.host, o.session.as_ref()) + 64,
                }
        })
        .sum();
    let code = batch.code.len() * std::mem::size_of::<otlp::CodePoint>();
    std::mem::size_of::<Batch>() + points + events + code
}

/// Gives a batch to the hub and waits until it is stored. An `Err` means nothing of it
/// was, nor ever will be: when the hub has not taken the export within
/// [`STORE_TIMEOUT`] (or the caller stops waiting, as a client that hangs up does), the
/// export is abandoned and the hub drops it unread; once the hub took it, its verdict is
/// awaited, however long.
pub async fn deliver(
    inputs: &mpsc::Sender<Input>,
    batch: Batch,
    permit: Permit,
) -> Result<(), String> {
    deliver_within(inputs, batch, permit, STORE_TIMEOUT).await
}

async fn deliver_within(
    inputs: &mpsc::Sender<Input>,
    batch: Batch,
    permit: Permit,
    wait: Duration,
) -> Result<(), String> {
    let shutting_down =
        || "the daemon is shutting down; nothing of this export was kept".to_owned();
    let (tx, mut rx) = oneshot::channel();
    let claim = Claim::default();
    let export = Export {
        batch,
        claim: claim.clone(),
        permit,
        reply: tx,
    };
    if inputs.send(Input::Otlp(export)).is_err() {
        return Err(shutting_down());
    }
    let _abandon_if_dropped = AbandonOnDrop(claim.clone());
    match tokio::time::timeout(wait, &mut rx).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(shutting_down()),
        Err(_) if claim.abandon() => Err(format!(
            "the daemon was busy for {} s: nothing of this export was kept; send it again",
            wait.as_secs()
        )),
        // Taken just now: the store is being written, and its verdict is the answer.
        Err(_) => rx.await.unwrap_or_else(|_| Err(shutting_down())),
    }
}

/// Abandons an export whose receiver stops waiting before the hub takes it.
struct AbandonOnDrop(Claim);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        self.0.abandon();
    }
}

/// The gRPC receiver's sink: the same queue, decoding and delivery, for protobuf
/// messages.
pub fn grpc_sink(inputs: mpsc::Sender<Input>) -> Sink {
    Arc::new(move |signal, message| {
        let inputs = inputs.clone();
        Box::pin(async move {
            let Some(mut permit) = EXPORTS.admit(message.len()) else {
                return Err(Refusal::Busy(full_message(), RETRY_AFTER_S));
            };
            let batch = otlp::decode(signal, Encoding::Protobuf, &message)
                .map_err(|e| Refusal::Invalid(e.to_string()))?;
            drop(message);
            permit.weigh(weight(&batch));
            deliver(&inputs, batch, permit)
                .await
                .map_err(Refusal::Unavailable)
        })
    })
}

fn refuse(encoding: Encoding, e: &DecodeError) -> Response {
    match e {
        DecodeError::TooLarge => status(StatusCode::PAYLOAD_TOO_LARGE, encoding, 8, &e.to_string()),
        DecodeError::Invalid(why) => status(StatusCode::BAD_REQUEST, encoding, 3, why),
    }
}

/// An error as OTLP/HTTP answers one: a `google.rpc.Status` in the request's encoding.
fn status(code: StatusCode, encoding: Encoding, grpc_code: i32, message: &str) -> Response {
    let body = match encoding {
        Encoding::Json => serde_json::json!({"code": grpc_code, "message": message})
            .to_string()
            .into_bytes(),
        Encoding::Protobuf => {
            let mut buf = Vec::new();
            prost::encoding::int32::encode(1, &grpc_code, &mut buf);
            prost::encoding::string::encode(2, &message.to_owned(), &mut buf);
            buf
        }
    };
    (
        code,
        [(header::CONTENT_TYPE, encoding.content_type())],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exports::ExportQueue;

    fn queue(bytes: usize, len: usize) -> &'static ExportQueue {
        Box::leak(Box::new(ExportQueue::new(bytes, len)))
    }

    #[test]
    fn the_queue_turns_away_what_does_not_fit_and_frees_on_drop() {
        let q = queue(100, 2);
        // One export is always let in, whatever its size.
        let big = q.admit(1000).unwrap();
        assert!(q.admit(1).is_none());
        drop(big);
        let mut a = q.admit(60).unwrap();
        assert!(q.admit(50).is_none(), "bytes");
        a.weigh(10);
        let b = q.admit(50).unwrap();
        assert!(q.admit(1).is_none(), "count");
        assert_eq!(q.held(), (60, 2));
        drop((a, b));
        assert_eq!(q.held(), (0, 0));
    }

    #[tokio::test]
    async fn an_export_answered_late_is_never_applied() {
        let q = queue(1000, 4);
        let (inputs, hub) = mpsc::channel();
        // The hub is busy: nobody takes the export within the wait.
        let r = deliver_within(
            &inputs,
            Batch::default(),
            q.admit(10).unwrap(),
            Duration::from_millis(50),
        )
        .await;
        assert!(r.unwrap_err().contains("busy"));
        // When the hub gets to it, it is abandoned: the hub must not apply it.
        let Ok(Input::Otlp(export)) = hub.try_recv() else {
            panic!("no export queued")
        };
        assert!(!export.claim.take());
        drop(export);
        assert_eq!(q.held(), (0, 0));

        // Taken in time: the hub's verdict is the answer, even past the wait.
        let (inputs, hub) = mpsc::channel();
        let taker = std::thread::spawn(move || {
            let Ok(Input::Otlp(export)) = hub.recv() else {
                panic!("no export")
            };
            assert!(export.claim.take());
            std::thread::sleep(Duration::from_millis(100));
            let _ = export.reply.send(Err("cannot write the store".into()));
        });
        let r = deliver_within(
            &inputs,
            Batch::default(),
            q.admit(10).unwrap(),
            Duration::from_millis(20),
        )
        .await;
        assert_eq!(r, Err("cannot write the store".into()));
        taker.join().unwrap();

        // A receiver that stops waiting (the client hung up) abandons it too.
        let (inputs, hub) = mpsc::channel();
        let waiting = deliver_within(
            &inputs,
            Batch::default(),
            q.admit(10).unwrap(),
            Duration::from_secs(60),
        );
        let _ = tokio::time::timeout(Duration::from_millis(20), waiting).await;
        let Ok(Input::Otlp(export)) = hub.try_recv() else {
            panic!("no export queued")
        };
        assert!(!export.claim.take());
    }
}
