//! OpenTelemetry in: `POST /v1/metrics` and `/v1/logs` on the daemon's own address (OTLP
//! over HTTP, protobuf or JSON, gzip or not), and the sink the gRPC receiver
//! ([`crate::grpc`]) hands its messages to. Both decode with [`redline_engine::otlp`] and
//! give the batch to the hub, which answers once the export is stored: a 200 (or gRPC OK)
//! means a restart, even after `kill -9`, finds the data.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use redline_engine::otlp::{self, Batch, DecodeError, Encoding, Signal};

use crate::grpc::{Refusal, Sink};
use crate::http::AppState;
use crate::hub::{self, Input, Unanswered};

/// How long an export waits for the hub to store it.
const STORE_TIMEOUT: Duration = Duration::from_secs(10);

/// `POST /v1/metrics`.
pub async fn metrics(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    export(&s.inputs, Signal::Metrics, &headers, &body).await
}

/// `POST /v1/logs`.
pub async fn logs(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    export(&s.inputs, Signal::Logs, &headers, &body).await
}

async fn export(
    inputs: &mpsc::Sender<Input>,
    signal: Signal,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
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
    let inflated;
    let body = match headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("identity") => body,
        Some("gzip" | "x-gzip") => match otlp::gunzip(body) {
            Ok(b) => {
                inflated = b;
                &inflated[..]
            }
            Err(e) => return refuse(encoding, &e),
        },
        Some(other) => {
            return (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Content-Encoding {other} is not accepted; send gzip or none\n"),
            )
                .into_response();
        }
    };
    let batch = match otlp::decode(signal, encoding, body) {
        Ok(b) => b,
        Err(e) => return refuse(encoding, &e),
    };
    match deliver(inputs, batch).await {
        Ok(()) => (
            [(header::CONTENT_TYPE, encoding.content_type())],
            otlp::response(signal, encoding),
        )
            .into_response(),
        Err(why) => status(StatusCode::SERVICE_UNAVAILABLE, encoding, 14, &why),
    }
}

/// Gives a batch to the hub and waits until it is stored.
pub async fn deliver(inputs: &mpsc::Sender<Input>, batch: Batch) -> Result<(), String> {
    match hub::ask(inputs, STORE_TIMEOUT, |tx| Input::Otlp(batch, tx)).await {
        Ok(result) => result,
        Err(Unanswered::Closed | Unanswered::Dropped) => Err("the daemon is shutting down".into()),
        Err(Unanswered::Late) => Err("the store did not answer in time".into()),
    }
}

/// The gRPC receiver's sink: the same decoding and delivery, for protobuf messages.
pub fn grpc_sink(inputs: mpsc::Sender<Input>) -> Sink {
    Arc::new(move |signal, message| {
        let inputs = inputs.clone();
        Box::pin(async move {
            let batch = otlp::decode(signal, Encoding::Protobuf, &message)
                .map_err(|e| Refusal::Invalid(e.to_string()))?;
            deliver(&inputs, batch).await.map_err(Refusal::Unavailable)
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
