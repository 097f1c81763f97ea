//! OpenTelemetry from Claude Code, as it arrives: OTLP export requests decoded (protobuf
//! or JSON, with opentelemetry-proto's message types) and reduced to the few things redline
//! counts. Token and cost counters become [`Point`]s, `api_request` and `api_error` log
//! records become [`Event`]s. What the points add up to (delta or cumulative, per host, and
//! which session is counted from transcripts instead) is [`crate::hosts`]' business; this
//! module only reads. Nothing here panics on any input: a body that does not decode is a
//! [`DecodeError`] with a reason.

use std::io::Read;

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, NumberDataPoint, metric::Data, number_data_point,
};
use prost::Message;
use redline_core::TokenCounts;

/// The most a request body may hold once decompressed (SPEC.md, Exposure).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The largest value a point or event may carry: a quadrillion tokens, or dollars. Beyond
/// it a value is not usage but damage, and is passed over; below it, any number of them
/// adds up to a finite total.
pub const MAX_VALUE: f64 = 1e15;

/// Which export a body is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// `/v1/metrics`, `MetricsService/Export`.
    Metrics,
    /// `/v1/logs`, `LogsService/Export`.
    Logs,
}

/// How a body is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-protobuf` (and gRPC).
    Protobuf,
    /// `application/json`.
    Json,
}

impl Encoding {
    /// The encoding a `Content-Type` names, if it is one of OTLP's.
    pub fn from_content_type(ct: &str) -> Option<Encoding> {
        let essence = ct.split(';').next().unwrap_or("").trim();
        if essence.eq_ignore_ascii_case("application/x-protobuf")
            || essence.eq_ignore_ascii_case("application/protobuf")
        {
            Some(Encoding::Protobuf)
        } else if essence.eq_ignore_ascii_case("application/json") {
            Some(Encoding::Json)
        } else {
            None
        }
    }

    /// The `Content-Type` of an answer in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// Why a body was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Larger than [`BODY_LIMIT`] once decompressed (HTTP 413).
    TooLarge,
    /// Not what it says it is (HTTP 400), with the reason.
    Invalid(String),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::TooLarge => write!(f, "the body is over {BODY_LIMIT} bytes"),
            DecodeError::Invalid(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Inflates a gzip body, stopping at [`BODY_LIMIT`] (a small bomb never becomes a large
/// allocation).
pub fn gunzip(body: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(BODY_LIMIT));
    let limit = u64::try_from(BODY_LIMIT).unwrap_or(u64::MAX) + 1;
    flate2::read::MultiGzDecoder::new(body)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| DecodeError::Invalid(format!("the gzip body does not inflate: {e}")))?;
    if out.len() > BODY_LIMIT {
        return Err(DecodeError::TooLarge);
    }
    Ok(out)
}

/// What one export request held.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    /// Token and cost counter points.
    pub points: Vec<Point>,
    /// Request and error events.
    pub events: Vec<Event>,
    /// Commit and line counter points (shown beside the git correlation).
    pub code: Vec<CodePoint>,
}

/// Decodes an export request of `signal` and reduces it to a [`Batch`].
pub fn decode(signal: Signal, encoding: Encoding, body: &[u8]) -> Result<Batch, DecodeError> {
    if body.len() > BODY_LIMIT {
        return Err(DecodeError::TooLarge);
    }
    match signal {
        Signal::Metrics => {
            let req: ExportMetricsServiceRequest = match encoding {
                Encoding::Protobuf => Message::decode(body).map_err(|e| {
                    DecodeError::Invalid(format!("not an OTLP metrics export: {e}"))
                })?,
                Encoding::Json => serde_json::from_slice(body).map_err(|e| {
                    DecodeError::Invalid(format!("not an OTLP/JSON metrics export: {e}"))
                })?,
            };
            Ok(Batch {
                points: points(&req),
                events: Vec::new(),
                code: code_points(&req),
            })
        }
        Signal::Logs => {
            let req: ExportLogsServiceRequest = match encoding {
                Encoding::Protobuf => Message::decode(body)
                    .map_err(|e| DecodeError::Invalid(format!("not an OTLP logs export: {e}")))?,
                Encoding::Json => serde_json::from_slice(body).map_err(|e| {
                    DecodeError::Invalid(format!("not an OTLP/JSON logs export: {e}"))
                })?,
            };
            Ok(Batch {
                points: Vec::new(),
                events: events(&req),
                code: Vec::new(),
            })
        }
    }
}

/// The empty `Export*ServiceResponse` that acknowledges a request, in its encoding.
pub fn response(signal: Signal, encoding: Encoding) -> Vec<u8> {
    match (signal, encoding) {
        (Signal::Metrics, Encoding::Protobuf) => {
            ExportMetricsServiceResponse::default().encode_to_vec()
        }
        (Signal::Logs, Encoding::Protobuf) => ExportLogsServiceResponse::default().encode_to_vec(),
        (_, Encoding::Json) => b"{}".to_vec(),
    }
}

/// Who sent a point or event: the `host.name` resource attribute (`unknown` without one)
/// and Claude Code's `session.id`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    /// The sending machine.
    pub host: String,
    /// The Claude Code session, when the sender named it.
    pub session: Option<String>,
}

/// What a counter point measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// `claude_code.token.usage` of one type.
    Tokens(TokenKind),
    /// `claude_code.cost.usage`, US dollars.
    Cost,
}

/// The `type` attribute of `claude_code.token.usage`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
/// The discriminants are the kinds' places in [`crate::store::Counts`].
pub enum TokenKind {
    /// `input`.
    Input = 0,
    /// `output`.
    Output = 1,
    /// `cacheCreation`.
    CacheCreation = 2,
    /// `cacheRead`.
    CacheRead = 3,
}

impl TokenKind {
    fn parse(s: &str) -> Option<TokenKind> {
        match s {
            "input" => Some(TokenKind::Input),
            "output" => Some(TokenKind::Output),
            "cacheRead" | "cache_read" => Some(TokenKind::CacheRead),
            "cacheCreation" | "cache_creation" => Some(TokenKind::CacheCreation),
            _ => None,
        }
    }

    /// `n` tokens of this kind.
    pub fn counts(self, n: u64) -> TokenCounts {
        match self {
            TokenKind::Input => TokenCounts::new(n, 0, 0, 0),
            TokenKind::Output => TokenCounts::new(0, n, 0, 0),
            TokenKind::CacheCreation => TokenCounts::new(0, 0, n, 0),
            TokenKind::CacheRead => TokenCounts::new(0, 0, 0, n),
        }
    }
}

/// How a sum's points relate to each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Temporality {
    /// Each point is what happened since the previous one (Claude Code's default).
    Delta,
    /// Each point is the running total since `start_ns`.
    Cumulative,
}

/// One point of a token or cost counter.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// Who sent it.
    pub origin: Origin,
    /// The model attribute.
    pub model: Option<String>,
    /// What it counts.
    pub measure: Measure,
    /// Delta or cumulative.
    pub temporality: Temporality,
    /// The series: a hash of the metric, its resource and its point attributes, which
    /// cumulative points are told apart by.
    pub series: u64,
    /// When the series (cumulative) or this interval (delta) began, in nanoseconds.
    pub start_ns: u64,
    /// The point's time, in nanoseconds.
    pub time_ns: u64,
    /// The value (tokens, or dollars).
    pub value: f64,
}

/// An event (log record) redline reads.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// `api_request`: one response from the API.
    ApiRequest {
        /// Who sent it.
        origin: Origin,
        /// When, in milliseconds.
        ts_ms: i64,
        /// The model.
        model: Option<String>,
        /// Its tokens.
        tokens: TokenCounts,
        /// Its cost.
        cost_usd: f64,
        /// How long it took.
        duration_ms: Option<u64>,
        /// The API's request id (the transcript's `requestId`).
        request_id: Option<String>,
    },
    /// `api_error`: a failed request.
    ApiError {
        /// Who sent it.
        origin: Origin,
        /// When, in milliseconds.
        ts_ms: i64,
        /// The error text.
        error: Option<String>,
        /// The HTTP status, if any.
        status_code: Option<u16>,
    },
}

const TOKEN_METRIC: &str = "claude_code.token.usage";
const COST_METRIC: &str = "claude_code.cost.usage";

/// One number of a sum metric, as [`sum_points`] hands it over.
struct SumPoint<'a> {
    /// The metric's name.
    metric: &'a str,
    /// The resource's attributes.
    resource: &'a [KeyValue],
    /// The point itself (its attributes, times).
    dp: &'a NumberDataPoint,
    temporality: Temporality,
    /// Its value: a number from 0 to [`MAX_VALUE`].
    value: f64,
}

/// Every point of the sum metrics named `names` in a metrics export whose value is a
/// number from 0 to [`MAX_VALUE`]; other metrics, and points that are not sums of numbers,
/// are passed over.
fn sum_points<'a>(
    req: &'a ExportMetricsServiceRequest,
    names: &[&str],
    mut each: impl FnMut(SumPoint<'a>),
) {
    for rm in &req.resource_metrics {
        let resource = rm
            .resource
            .as_ref()
            .map_or(&[][..], |r| r.attributes.as_slice());
        for sm in &rm.scope_metrics {
            for metric in &sm.metrics {
                if !names.contains(&metric.name.as_str()) {
                    continue;
                }
                let Some(Data::Sum(sum)) = &metric.data else {
                    continue;
                };
                let temporality =
                    if sum.aggregation_temporality == AggregationTemporality::Cumulative as i32 {
                        Temporality::Cumulative
                    } else {
                        Temporality::Delta
                    };
                for dp in &sum.data_points {
                    let value = match dp.value {
                        Some(number_data_point::Value::AsInt(n)) => n as f64,
                        Some(number_data_point::Value::AsDouble(x)) => x,
                        None => continue,
                    };
                    if !(0.0..=MAX_VALUE).contains(&value) {
                        continue;
                    }
                    each(SumPoint {
                        metric: &metric.name,
                        resource,
                        dp,
                        temporality,
                        value,
                    });
                }
            }
        }
    }
}

/// The token and cost points of a metrics export. Other metrics, and points that are not
/// sums of numbers, are passed over.
pub fn points(req: &ExportMetricsServiceRequest) -> Vec<Point> {
    let mut out = Vec::new();
    sum_points(req, &[TOKEN_METRIC, COST_METRIC], |p| {
        let measure = if p.metric == COST_METRIC {
            Measure::Cost
        } else {
            match text_attr(&p.dp.attributes, "type").and_then(TokenKind::parse) {
                Some(k) => Measure::Tokens(k),
                None => return,
            }
        };
        out.push(Point {
            series: series_key(p.metric, p.resource, &p.dp.attributes),
            model: text_attr(&p.dp.attributes, "model").map(str::to_owned),
            origin: origin(p.resource, &p.dp.attributes),
            measure,
            temporality: p.temporality,
            start_ns: p.dp.start_time_unix_nano,
            time_ns: p.dp.time_unix_nano,
            value: p.value,
        });
    });
    out
}

/// What a code counter point counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeKind {
    /// `claude_code.commit.count`: commits Claude Code made.
    Commits,
    /// `claude_code.lines_of_code.count` of `type` `added`.
    LinesAdded,
    /// `claude_code.lines_of_code.count` of `type` `removed`.
    LinesRemoved,
}

/// One point of Claude Code's commit or lines-of-code counter.
#[derive(Clone, Debug, PartialEq)]
pub struct CodePoint {
    /// What it counts.
    pub kind: CodeKind,
    /// Delta or cumulative.
    pub temporality: Temporality,
    /// The series (as [`Point::series`]).
    pub series: u64,
    /// When the series (cumulative) or this interval (delta) began, in nanoseconds.
    pub start_ns: u64,
    /// The point's time, in nanoseconds.
    pub time_ns: u64,
    /// The count.
    pub value: f64,
}

/// The commit and lines-of-code points of a metrics export: sums of numbers only, each
/// at most [`MAX_VALUE`].
pub fn code_points(req: &ExportMetricsServiceRequest) -> Vec<CodePoint> {
    const COMMITS: &str = "claude_code.commit.count";
    const LINES: &str = "claude_code.lines_of_code.count";
    let mut out = Vec::new();
    sum_points(req, &[COMMITS, LINES], |p| {
        let kind = match (p.metric == COMMITS, text_attr(&p.dp.attributes, "type")) {
            (true, _) => CodeKind::Commits,
            (false, Some("added")) => CodeKind::LinesAdded,
            (false, Some("removed")) => CodeKind::LinesRemoved,
            _ => return,
        };
        out.push(CodePoint {
            kind,
            temporality: p.temporality,
            series: series_key(p.metric, p.resource, &p.dp.attributes),
            start_ns: p.dp.start_time_unix_nano,
            time_ns: p.dp.time_unix_nano,
            value: p.value,
        });
    });
    out
}

/// The `api_request` and `api_error` events of a logs export.
pub fn events(req: &ExportLogsServiceRequest) -> Vec<Event> {
    let mut out = Vec::new();
    for rl in &req.resource_logs {
        let resource = rl
            .resource
            .as_ref()
            .map_or(&[][..], |r| r.attributes.as_slice());
        for sl in &rl.scope_logs {
            for rec in &sl.log_records {
                let a = rec.attributes.as_slice();
                let name = if !rec.event_name.is_empty() {
                    Some(rec.event_name.as_str())
                } else {
                    text_attr(a, "event.name").or(match rec.body.as_ref() {
                        Some(AnyValue {
                            value: Some(any_value::Value::StringValue(s)),
                        }) => Some(s.as_str()),
                        _ => None,
                    })
                };
                let Some(name) = name else { continue };
                let name = name.strip_prefix("claude_code.").unwrap_or(name);
                let ns = if rec.time_unix_nano != 0 {
                    rec.time_unix_nano
                } else {
                    rec.observed_time_unix_nano
                };
                let ts_ms = text_attr(a, "event.timestamp")
                    .and_then(|t| crate::timestamp::parse(t).map(|p| p.ms))
                    .unwrap_or_else(|| ns_to_ms(ns));
                let origin = origin(resource, a);
                match name {
                    "api_request" => {
                        // Capped as the ledger caps counts: sums of u64::MAX overflow.
                        let n = |k: &str| {
                            num_attr(a, k).map_or(0, |x| x.clamp(0.0, f64::from(u32::MAX)) as u64)
                        };
                        out.push(Event::ApiRequest {
                            origin,
                            ts_ms,
                            model: text_attr(a, "model").map(str::to_owned),
                            tokens: TokenCounts::new(
                                n("input_tokens"),
                                n("output_tokens"),
                                n("cache_creation_tokens"),
                                n("cache_read_tokens"),
                            ),
                            cost_usd: num_attr(a, "cost_usd")
                                .filter(|c| (0.0..=MAX_VALUE).contains(c))
                                .unwrap_or(0.0),
                            duration_ms: num_attr(a, "duration_ms").map(|d| d.max(0.0) as u64),
                            request_id: text_attr(a, "request_id").map(str::to_owned),
                        });
                    }
                    "api_error" => out.push(Event::ApiError {
                        origin,
                        ts_ms,
                        error: text_attr(a, "error").map(str::to_owned),
                        status_code: num_attr(a, "status_code")
                            .and_then(|s| u16::try_from(s as i64).ok()),
                    }),
                    _ => {}
                }
            }
        }
    }
    out
}

/// Nanoseconds to milliseconds, saturating.
pub fn ns_to_ms(ns: u64) -> i64 {
    i64::try_from(ns / 1_000_000).unwrap_or(i64::MAX)
}

fn origin(resource: &[KeyValue], attrs: &[KeyValue]) -> Origin {
    let host = text_attr(resource, "host.name")
        .or_else(|| text_attr(attrs, "host.name"))
        .filter(|h| !h.trim().is_empty())
        .unwrap_or("unknown");
    let session = text_attr(attrs, "session.id")
        .or_else(|| text_attr(resource, "session.id"))
        .filter(|s| !s.is_empty());
    Origin {
        host: host.to_owned(),
        session: session.map(str::to_owned),
    }
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn text_attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match attr(attrs, key)? {
        any_value::Value::StringValue(s) => Some(s),
        _ => None,
    }
}

/// A numeric attribute, sent as a number or (as OTLP/JSON and Claude Code often do) a
/// string.
fn num_attr(attrs: &[KeyValue], key: &str) -> Option<f64> {
    let x = match attr(attrs, key)? {
        any_value::Value::IntValue(n) => *n as f64,
        any_value::Value::DoubleValue(x) => *x,
        any_value::Value::StringValue(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    x.is_finite().then_some(x)
}

/// A stable hash of a series: the metric's name and every resource and point attribute,
/// in key order.
fn series_key(metric: &str, resource: &[KeyValue], attrs: &[KeyValue]) -> u64 {
    let mut text = String::from(metric);
    for (tag, list) in [("r", resource), ("p", attrs)] {
        let mut kv: Vec<(&str, String)> = list
            .iter()
            .map(|kv| {
                let v = kv
                    .value
                    .as_ref()
                    .and_then(|v| v.value.as_ref())
                    .map(value_text)
                    .unwrap_or_default();
                (kv.key.as_str(), v)
            })
            .collect();
        kv.sort();
        for (k, v) in kv {
            text.push('\u{1f}');
            text.push_str(tag);
            text.push_str(k);
            text.push('=');
            text.push_str(&v);
        }
    }
    xxhash_rust::xxh3::xxh3_64(text.as_bytes())
}

fn value_text(v: &any_value::Value) -> String {
    match v {
        any_value::Value::StringValue(s) => s.clone(),
        any_value::Value::BoolValue(b) => b.to_string(),
        any_value::Value::IntValue(n) => n.to_string(),
        any_value::Value::DoubleValue(x) => x.to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const METRICS_JSON: &str = r#"{"resourceMetrics":[{"resource":{"attributes":[
        {"key":"service.name","value":{"stringValue":"claude-code"}},
        {"key":"host.name","value":{"stringValue":"desk"}}]},
      "scopeMetrics":[{"scope":{"name":"com.anthropic.claude_code"},"metrics":[
        {"name":"claude_code.token.usage","unit":"tokens","sum":{"aggregationTemporality":1,"isMonotonic":true,
          "dataPoints":[
            {"attributes":[{"key":"session.id","value":{"stringValue":"s1"}},{"key":"type","value":{"stringValue":"input"}},{"key":"model","value":{"stringValue":"claude-sonnet-4-5"}}],
             "startTimeUnixNano":"1763900000000000000","timeUnixNano":"1763900005000000000","asInt":"1200"},
            {"attributes":[{"key":"session.id","value":{"stringValue":"s1"}},{"key":"type","value":{"stringValue":"cacheRead"}},{"key":"model","value":{"stringValue":"claude-sonnet-4-5"}}],
             "startTimeUnixNano":1763900000000000000,"timeUnixNano":1763900005000000000,"asInt":30000}]}},
        {"name":"claude_code.cost.usage","unit":"USD","sum":{"aggregationTemporality":2,
          "dataPoints":[{"attributes":[{"key":"model","value":{"stringValue":"claude-sonnet-4-5"}}],
             "startTimeUnixNano":"1763900000000000000","timeUnixNano":"1763900005000000000","asDouble":0.25}]}},
        {"name":"claude_code.session.count","sum":{"dataPoints":[{"asInt":"1"}]}}]}]}]}"#;

    #[test]
    fn json_metrics_with_ints_as_strings_and_numbers() {
        let b = decode(Signal::Metrics, Encoding::Json, METRICS_JSON.as_bytes()).unwrap();
        assert_eq!(b.points.len(), 3, "{:?}", b.points);
        let p = &b.points[0];
        assert_eq!(p.origin.host, "desk");
        assert_eq!(p.origin.session.as_deref(), Some("s1"));
        assert_eq!(p.measure, Measure::Tokens(TokenKind::Input));
        assert_eq!(p.temporality, Temporality::Delta);
        assert_eq!(p.value, 1200.0);
        assert_eq!(p.time_ns, 1_763_900_005_000_000_000);
        assert_eq!(b.points[1].value, 30000.0);
        assert_eq!(b.points[1].measure, Measure::Tokens(TokenKind::CacheRead));
        assert_ne!(p.series, b.points[1].series);
        let c = &b.points[2];
        assert_eq!(
            (c.measure, c.temporality),
            (Measure::Cost, Temporality::Cumulative)
        );
        assert_eq!(c.origin.session, None);
    }

    #[test]
    fn protobuf_and_json_agree() {
        let req: ExportMetricsServiceRequest = serde_json::from_str(METRICS_JSON).unwrap();
        let pb = req.encode_to_vec();
        let a = decode(Signal::Metrics, Encoding::Protobuf, &pb).unwrap();
        let b = decode(Signal::Metrics, Encoding::Json, METRICS_JSON.as_bytes()).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn api_request_and_error_events() {
        let body = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"host.name","value":{"stringValue":"laptop"}}]},
          "scopeLogs":[{"logRecords":[
            {"timeUnixNano":"1763900001000000000","body":{"stringValue":"claude_code.api_request"},"attributes":[
              {"key":"event.name","value":{"stringValue":"api_request"}},
              {"key":"event.timestamp","value":{"stringValue":"2025-11-23T12:00:00.500Z"}},
              {"key":"session.id","value":{"stringValue":"s9"}},
              {"key":"model","value":{"stringValue":"claude-opus-4-6"}},
              {"key":"input_tokens","value":{"stringValue":"10"}},
              {"key":"output_tokens","value":{"intValue":"250"}},
              {"key":"cache_read_tokens","value":{"intValue":4000}},
              {"key":"cache_creation_tokens","value":{"stringValue":"0"}},
              {"key":"cost_usd","value":{"stringValue":"0.0123"}},
              {"key":"duration_ms","value":{"stringValue":"5400"}},
              {"key":"request_id","value":{"stringValue":"req_1"}}]},
            {"timeUnixNano":"1763900002000000000","attributes":[
              {"key":"event.name","value":{"stringValue":"api_error"}},
              {"key":"error","value":{"stringValue":"overloaded"}},
              {"key":"status_code","value":{"stringValue":"529"}}]},
            {"timeUnixNano":"1763900003000000000","attributes":[
              {"key":"event.name","value":{"stringValue":"user_prompt"}}]}]}]}]}"#;
        let b = decode(Signal::Logs, Encoding::Json, body.as_bytes()).unwrap();
        assert_eq!(b.events.len(), 2);
        match &b.events[0] {
            Event::ApiRequest {
                origin,
                ts_ms,
                tokens,
                cost_usd,
                duration_ms,
                request_id,
                model,
            } => {
                assert_eq!(origin.host, "laptop");
                assert_eq!(origin.session.as_deref(), Some("s9"));
                assert_eq!(*ts_ms, 1_763_899_200_500);
                assert_eq!(*tokens, TokenCounts::new(10, 250, 0, 4000));
                assert_eq!(*cost_usd, 0.0123);
                assert_eq!(*duration_ms, Some(5400));
                assert_eq!(request_id.as_deref(), Some("req_1"));
                assert_eq!(model.as_deref(), Some("claude-opus-4-6"));
            }
            other => panic!("{other:?}"),
        }
        match &b.events[1] {
            Event::ApiError {
                ts_ms, status_code, ..
            } => {
                assert_eq!(*ts_ms, 1_763_900_002_000);
                assert_eq!(*status_code, Some(529));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn commit_and_line_counters_are_read_beside() {
        let body = br#"{"resourceMetrics":[{"resource":{"attributes":[]},"scopeMetrics":[{"metrics":[
            {"name":"claude_code.commit.count","sum":{"aggregationTemporality":1,"dataPoints":[{"asInt":"2"}]}},
            {"name":"claude_code.lines_of_code.count","sum":{"aggregationTemporality":2,"dataPoints":[
              {"asInt":"30","attributes":[{"key":"type","value":{"stringValue":"added"}}]},
              {"asDouble":4,"attributes":[{"key":"type","value":{"stringValue":"removed"}}]},
              {"asInt":"9","attributes":[{"key":"type","value":{"stringValue":"other"}}]}]}}]}]}]}"#;
        let b = decode(Signal::Metrics, Encoding::Json, body).unwrap();
        let got: Vec<(CodeKind, Temporality, f64)> = b
            .code
            .iter()
            .map(|p| (p.kind, p.temporality, p.value))
            .collect();
        assert_eq!(
            got,
            [
                (CodeKind::Commits, Temporality::Delta, 2.0),
                (CodeKind::LinesAdded, Temporality::Cumulative, 30.0),
                (CodeKind::LinesRemoved, Temporality::Cumulative, 4.0),
            ]
        );
        assert!(b.points.is_empty());
    }

    #[test]
    fn bad_bodies_are_errors_with_reasons() {
        let e = decode(Signal::Metrics, Encoding::Json, b"{\"resourceMetrics\": 5}").unwrap_err();
        assert!(e.to_string().contains("OTLP/JSON metrics"), "{e}");
        let e = decode(Signal::Logs, Encoding::Protobuf, &[0xff, 0xff, 0xff]).unwrap_err();
        assert!(matches!(e, DecodeError::Invalid(_)), "{e}");
        assert!(matches!(gunzip(b"not gzip"), Err(DecodeError::Invalid(_))));
    }

    #[test]
    fn gzip_stops_at_the_limit() {
        use std::io::Write;
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&vec![0u8; BODY_LIMIT + 1]).unwrap();
        let bomb = z.finish().unwrap();
        assert_eq!(gunzip(&bomb), Err(DecodeError::TooLarge));
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(METRICS_JSON.as_bytes()).unwrap();
        assert_eq!(
            gunzip(&z.finish().unwrap()).unwrap(),
            METRICS_JSON.as_bytes()
        );
    }
}
