//! Malformed OpenTelemetry thrown at the engine's receiving half, in seeded random cases:
//! [`otlp::decode`] and [`otlp::gunzip`] refuse with a reason and never panic; a valid
//! export reads the same in protobuf and JSON; whatever decodes becomes only finite,
//! non-negative deltas ([`SeriesBook::records`]) that survive the journal, and finite
//! `/usage` figures in a [`Live`]; a randomly damaged [`Journal`] replays every line left
//! intact and goes on appending.
//!
//! No property-testing crate: a xorshift generator, seeded from `REDLINE_PROPS_SEED` (a
//! fixed default otherwise) and the property's name. A failing case panics with the seed,
//! its number and what it generated; `REDLINE_PROPS_SEED=<seed> REDLINE_PROPS_CASE=<n>`
//! runs that case alone. A counting allocator measures what decoding costs in memory, per
//! thread, so the tests may run side by side.

use std::fs;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Instant;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use redline_engine::hosts::SeriesBook;
use redline_engine::journal::Journal;
use redline_engine::live::{Live, Settings};
use redline_engine::otlp::{
    self, BODY_LIMIT, Batch, DecodeError, Encoding, Event, Measure, Origin, Point, Signal,
    Temporality, TokenKind,
};
use redline_engine::prices::{CostMode, PriceTable};
use redline_engine::store::{Record, Series, Usage as StoredUsage};
use redline_engine::usage::Usage;
use serde::{Deserialize, Serialize};
use serde_json::Value;

// ---------------------------------------------------------------------------------------
// The generator and the case runner.

#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

fn base_seed() -> u64 {
    std::env::var("REDLINE_PROPS_SEED")
        .ok()
        .and_then(|s| {
            let s = s.trim();
            match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).ok(),
                None => s.parse().ok(),
            }
        })
        .unwrap_or(0x07_1e_0d_ec_0d_e5)
}

fn only_case() -> Option<u64> {
    rng::seed_from_env("REDLINE_PROPS_CASE")
}

/// Runs `n` cases of a property. Each case gets its own generator (from the base seed, the
/// property's name and the case number) and a note to say what it generated; a panic is
/// caught and re-raised with the seed, the case and the note.
fn cases(name: &str, n: u64, mut case: impl FnMut(&mut Rng, &mut String)) {
    let base = base_seed();
    let salt = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let started = Instant::now();
    let which: Vec<u64> = match only_case() {
        Some(i) => vec![i],
        None => (0..n).collect(),
    };
    for i in which {
        let mut rng = Rng::new(base ^ salt ^ i.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        let mut note = String::new();
        if catch_unwind(AssertUnwindSafe(|| case(&mut rng, &mut note))).is_err() {
            panic!(
                "{name}: case {i} failed\n  input: {note}\n  rerun: REDLINE_PROPS_SEED={base:#x} \
                 REDLINE_PROPS_CASE={i} cargo test -p redline-engine --test otlp_props {name}"
            );
        }
    }
    eprintln!("{name}: {n} cases in {:.2?}", started.elapsed());
}

/// Bytes as a note shows them: the length and an escaped head.
fn show(b: &[u8]) -> String {
    let head = &b[..b.len().min(400)];
    let more = if b.len() > head.len() { "…" } else { "" };
    format!("{} bytes b\"{}{more}\"", b.len(), head.escape_ascii())
}

// ---------------------------------------------------------------------------------------
// Counting what a thread allocates.

#[allow(unsafe_code)]
mod meter {
    //! A global allocator that keeps, per thread, the bytes held and the most held since
    //! [`peak`] started measuring. Thread-local `Cell`s with const initializers need no
    //! allocation and no destructor, so the allocator never re-enters itself.
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    pub struct Meter;

    thread_local! {
        static HELD: Cell<usize> = const { Cell::new(0) };
        static PEAK: Cell<usize> = const { Cell::new(0) };
    }

    fn grew(n: usize) {
        let _ = HELD.try_with(|h| {
            let now = h.get().saturating_add(n);
            h.set(now);
            let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
        });
    }

    fn shrank(n: usize) {
        let _ = HELD.try_with(|h| h.set(h.get().saturating_sub(n)));
    }

    // SAFETY: every call goes straight to `System` with the caller's layout; the counters
    // only observe sizes.
    unsafe impl GlobalAlloc for Meter {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: the caller's contract is passed on unchanged.
            let p = unsafe { System.alloc(layout) };
            if !p.is_null() {
                grew(layout.size());
            }
            p
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: as above.
            let p = unsafe { System.alloc_zeroed(layout) };
            if !p.is_null() {
                grew(layout.size());
            }
            p
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: as above.
            unsafe { System.dealloc(ptr, layout) };
            shrank(layout.size());
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: as above.
            let p = unsafe { System.realloc(ptr, layout, new_size) };
            if !p.is_null() {
                shrank(layout.size());
                grew(new_size);
            }
            p
        }
    }

    /// Runs `f` and says the most this thread held beyond what it held before.
    pub fn peak<T>(f: impl FnOnce() -> T) -> (T, usize) {
        let base = HELD.with(Cell::get);
        PEAK.with(|p| p.set(base));
        let out = f();
        (out, PEAK.with(Cell::get).saturating_sub(base))
    }
}

#[global_allocator]
static METER: meter::Meter = meter::Meter;

const MIB: usize = 1024 * 1024;

// ---------------------------------------------------------------------------------------
// Realistic export requests, and wild ones.

/// 2025-11-23T12:13:20Z in nanoseconds: where generated times cluster.
const T0_NS: u64 = 1_763_900_000_000_000_000;
const T0_MS: i64 = 1_763_900_000_000;
const TOKEN_METRIC: &str = "claude_code.token.usage";
const COST_METRIC: &str = "claude_code.cost.usage";
const HOSTS: &[&str] = &[
    "desk",
    "laptop",
    "",
    "  ",
    "höst-ü",
    "build-agent-42.internal",
];
const SESSIONS: &[&str] = &["s1", "s2", "", "3f2a9c1e-5b7d-4e0a-9c3b-2d1f0e9a8b7c"];
const MODELS: &[&str] = &[
    "claude-sonnet-4-5",
    "claude-opus-4-6",
    "claude-haiku-4-5-20251001",
    "<synthetic>",
    "gpt-9",
    "",
];
const KINDS: &[&str] = &[
    "input",
    "output",
    "cacheRead",
    "cacheCreation",
    "cache_read",
    "cache_creation",
    "bogus",
];

/// How wild a generated request may be.
#[derive(Clone, Copy)]
struct Wild {
    /// Extreme numbers, times and temporalities.
    extreme: bool,
    /// NaN and infinities too (they do not survive OTLP/JSON, so not in round trips).
    nonfinite: bool,
}

const TAME: Wild = Wild {
    extreme: false,
    nonfinite: false,
};

fn sv(s: &str) -> any_value::Value {
    any_value::Value::StringValue(s.to_owned())
}

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn extreme_f64(rng: &mut Rng, w: Wild) -> f64 {
    let finite = [
        0.0,
        -0.0,
        -1.0,
        5e-324,
        1e-300,
        1.8e19,
        9.3e18,
        1e300,
        f64::MAX,
        -f64::MAX,
        f64::MIN_POSITIVE,
    ];
    if w.nonfinite && rng.one_in(3) {
        rng.pick(&[f64::NAN, f64::INFINITY, f64::NEG_INFINITY])
    } else {
        rng.pick(&finite)
    }
}

fn extreme_i64(rng: &mut Rng) -> i64 {
    rng.pick(&[
        i64::MIN,
        i64::MAX,
        -1,
        0,
        1,
        i64::MAX / 2,
        1 << 53,
        u32::MAX as i64,
    ])
}

fn time_ns(rng: &mut Rng, w: Wild) -> u64 {
    if w.extreme && rng.one_in(4) {
        rng.pick(&[0, 1, 999_999, u64::MAX, i64::MAX as u64, T0_NS])
    } else {
        T0_NS + rng.range(0, 6 * 3600) * 1_000_000_000 + rng.range(0, 999) * 1_000_000
    }
}

/// Any attribute value, nested a little.
fn any_value(rng: &mut Rng, w: Wild, depth: u32) -> any_value::Value {
    match rng.below(if depth > 2 { 5 } else { 8 }) {
        0 => sv(rng.pick(&["x", "", "vscode", "ünï\u{0}côdé", "1200"])),
        1 => any_value::Value::BoolValue(rng.one_in(2)),
        2 => any_value::Value::IntValue(if w.extreme {
            extreme_i64(rng)
        } else {
            rng.range(0, 1_000_000) as i64
        }),
        3 => any_value::Value::DoubleValue(if w.extreme {
            extreme_f64(rng, w)
        } else {
            rng.range(0, 10_000) as f64 / 100.0
        }),
        4 => any_value::Value::BytesValue(rng.bytes_below(6)),
        5 | 6 => any_value::Value::ArrayValue(ArrayValue {
            values: (0..rng.below(3))
                .map(|_| AnyValue {
                    value: Some(any_value(rng, w, depth + 1)),
                })
                .collect(),
        }),
        _ => any_value::Value::KvlistValue(KeyValueList {
            values: (0..rng.below(3))
                .map(|i| kv(&format!("k{i}"), any_value(rng, w, depth + 1)))
                .collect(),
        }),
    }
}

fn extra_attrs(rng: &mut Rng, w: Wild, out: &mut Vec<KeyValue>) {
    for _ in 0..rng.below(3) {
        let key = rng.pick(&["user.id", "terminal.type", "organization.id", "app.version"]);
        out.push(kv(key, any_value(rng, w, 0)));
    }
}

fn data_point(rng: &mut Rng, w: Wild, cost: bool) -> NumberDataPoint {
    let mut attributes = Vec::new();
    if !rng.one_in(10) {
        attributes.push(kv("session.id", sv(rng.pick(SESSIONS))));
    }
    if !cost || rng.one_in(10) {
        let kind = if w.extreme && rng.one_in(8) {
            any_value(rng, w, 0)
        } else {
            sv(rng.pick(KINDS))
        };
        attributes.push(kv("type", kind));
    }
    if !rng.one_in(10) {
        attributes.push(kv("model", sv(rng.pick(MODELS))));
    }
    if rng.one_in(8) {
        attributes.push(kv("host.name", sv(rng.pick(HOSTS))));
    }
    extra_attrs(rng, w, &mut attributes);
    let start = time_ns(rng, w);
    let time = if rng.one_in(6) {
        time_ns(rng, w)
    } else {
        start.saturating_add(rng.range(0, 600) * 1_000_000_000)
    };
    let value = match rng.below(12) {
        0 => None,
        _ if w.extreme && rng.one_in(3) => Some(if rng.one_in(2) {
            number_data_point::Value::AsInt(extreme_i64(rng))
        } else {
            number_data_point::Value::AsDouble(extreme_f64(rng, w))
        }),
        1..=6 if !cost => Some(number_data_point::Value::AsInt(rng.range(0, 200_000) as i64)),
        _ if cost => Some(number_data_point::Value::AsDouble(
            rng.range(0, 300_000) as f64 / 100_000.0,
        )),
        _ => Some(number_data_point::Value::AsDouble(
            rng.range(0, 200_000) as f64
        )),
    };
    NumberDataPoint {
        attributes,
        start_time_unix_nano: start,
        time_unix_nano: time,
        value,
        flags: if w.extreme { rng.next() as u32 } else { 0 },
        ..Default::default()
    }
}

fn a_metric(rng: &mut Rng, w: Wild) -> Metric {
    let name = match rng.below(10) {
        0..=4 => TOKEN_METRIC,
        5..=7 => COST_METRIC,
        8 => "claude_code.session.count",
        _ => rng.pick(&[
            "claude_code.lines_of_code.count",
            "",
            "claude_code.token.usage ",
        ]),
    };
    let cost = name == COST_METRIC;
    let points: Vec<NumberDataPoint> = (0..rng.range(0, 5))
        .map(|_| data_point(rng, w, cost))
        .collect();
    let temporality = if w.extreme && rng.one_in(5) {
        rng.pick(&[0, 3, -1, i32::MAX, i32::MIN])
    } else {
        rng.pick(&[1, 2])
    };
    let data = match rng.below(12) {
        0 => None,
        1 => Some(metric::Data::Gauge(Gauge {
            data_points: points,
        })),
        _ => Some(metric::Data::Sum(Sum {
            data_points: points,
            aggregation_temporality: temporality,
            is_monotonic: !rng.one_in(5),
        })),
    };
    Metric {
        name: name.to_owned(),
        unit: if cost { "USD" } else { "tokens" }.to_owned(),
        data,
        ..Default::default()
    }
}

fn resource(rng: &mut Rng, w: Wild) -> Option<Resource> {
    if rng.one_in(8) {
        return None;
    }
    let mut attributes = vec![kv("service.name", sv("claude-code"))];
    if !rng.one_in(5) {
        attributes.push(kv("host.name", sv(rng.pick(HOSTS))));
    }
    if rng.one_in(6) {
        attributes.push(kv("session.id", sv(rng.pick(SESSIONS))));
    }
    extra_attrs(rng, w, &mut attributes);
    Some(Resource {
        attributes,
        ..Default::default()
    })
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "com.anthropic.claude_code".into(),
        version: "2.1.39".into(),
        ..Default::default()
    })
}

fn metrics_request(rng: &mut Rng, w: Wild) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: (0..rng.range(0, 3))
            .map(|_| ResourceMetrics {
                resource: resource(rng, w),
                scope_metrics: (0..rng.range(0, 2))
                    .map(|_| ScopeMetrics {
                        scope: scope(),
                        metrics: (0..rng.range(0, 4)).map(|_| a_metric(rng, w)).collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
    }
}

/// A numeric log attribute: as Claude Code sends them (strings), or as numbers, or wild.
fn number_attr(rng: &mut Rng, w: Wild, realistic: u64) -> any_value::Value {
    if w.extreme && rng.one_in(3) {
        return match rng.below(3) {
            0 => sv(rng.pick(&[
                "1e400",
                "-1e400",
                "-5",
                "NaN",
                "inf",
                "-Infinity",
                "1e300",
                "18446744073709551616",
                "9223372036854775807",
                " 12 ",
                "0x10",
                "",
                "-0",
                "1e19",
                "4294967296",
            ])),
            1 => any_value::Value::IntValue(extreme_i64(rng)),
            _ => any_value::Value::DoubleValue(extreme_f64(rng, w)),
        };
    }
    match rng.below(3) {
        0 => sv(&realistic.to_string()),
        1 => any_value::Value::IntValue(realistic as i64),
        _ => any_value::Value::DoubleValue(realistic as f64),
    }
}

fn log_record(rng: &mut Rng, w: Wild) -> LogRecord {
    let name = rng.pick(&[
        "api_request",
        "api_request",
        "api_error",
        "user_prompt",
        "tool_result",
        "",
    ]);
    let name = if rng.one_in(2) {
        format!("claude_code.{name}")
    } else {
        name.to_owned()
    };
    let mut rec = LogRecord::default();
    let mut a = Vec::new();
    match rng.below(4) {
        0 => rec.event_name = name,
        1 => a.push(kv("event.name", sv(&name))),
        2 => {
            rec.body = Some(AnyValue {
                value: Some(sv(&name)),
            })
        }
        _ => {
            a.push(kv("event.name", sv(&name)));
            rec.body = Some(AnyValue {
                value: Some(any_value(rng, w, 0)),
            });
        }
    }
    if !rng.one_in(8) {
        a.push(kv("session.id", sv(rng.pick(SESSIONS))));
    }
    if !rng.one_in(8) {
        a.push(kv("model", sv(rng.pick(MODELS))));
    }
    if rng.one_in(2) {
        let at = if w.extreme && rng.one_in(3) {
            rng.pick(&[
                "garbage",
                "",
                "9999-12-31T23:59:59.999Z",
                "-009999-01-01T00:00:00Z",
                "2025-13-45T99:99:99Z",
                "1970-01-01T00:00:00Z",
                "2025-11-23T12:00:00.5+14:00",
            ])
            .to_string()
        } else {
            let ms = T0_MS + rng.range(0, 6 * 3_600_000) as i64;
            jiff::Timestamp::from_millisecond(ms)
                .unwrap()
                .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string()
        };
        a.push(kv("event.timestamp", sv(&at)));
    }
    for key in [
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_creation_tokens",
    ] {
        if !rng.one_in(6) {
            let n = rng.range(0, 50_000);
            a.push(kv(key, number_attr(rng, w, n)));
        }
    }
    if !rng.one_in(6) {
        let usd = if w.extreme && rng.one_in(3) {
            number_attr(rng, w, 0)
        } else {
            sv(&format!("{:.6}", rng.range(0, 300_000) as f64 / 100_000.0))
        };
        a.push(kv("cost_usd", usd));
    }
    if rng.one_in(2) {
        let ms = rng.range(0, 60_000);
        a.push(kv("duration_ms", number_attr(rng, w, ms)));
    }
    if rng.one_in(2) {
        a.push(kv("request_id", sv(&format!("req_{}", rng.next() % 1000))));
    }
    if rng.one_in(3) {
        let code = rng.pick(&[429, 500, 529, 200]);
        a.push(kv("status_code", number_attr(rng, w, code)));
        a.push(kv(
            "error",
            sv(rng.pick(&["overloaded", "", "rate_limit_error"])),
        ));
    }
    extra_attrs(rng, w, &mut a);
    rec.attributes = a;
    rec.time_unix_nano = if rng.one_in(5) { 0 } else { time_ns(rng, w) };
    rec.observed_time_unix_nano = time_ns(rng, w);
    if rng.one_in(4) {
        rec.trace_id = rng.bytes(16);
        rec.span_id = rng.bytes(8);
    }
    rec
}

fn logs_request(rng: &mut Rng, w: Wild) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: (0..rng.range(0, 3))
            .map(|_| ResourceLogs {
                resource: resource(rng, w),
                scope_logs: (0..rng.range(0, 2))
                    .map(|_| ScopeLogs {
                        scope: scope(),
                        log_records: (0..rng.range(0, 4)).map(|_| log_record(rng, w)).collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
    }
}

/// One export body in both encodings, with what it is.
struct Body {
    signal: Signal,
    protobuf: Vec<u8>,
    json: Vec<u8>,
}

fn a_body(rng: &mut Rng, w: Wild) -> Body {
    if rng.one_in(2) {
        let req = metrics_request(rng, w);
        Body {
            signal: Signal::Metrics,
            protobuf: req.encode_to_vec(),
            json: serde_json::to_vec(&req).unwrap(),
        }
    } else {
        let req = logs_request(rng, w);
        Body {
            signal: Signal::Logs,
            protobuf: req.encode_to_vec(),
            json: serde_json::to_vec(&req).unwrap(),
        }
    }
}

fn wild(rng: &mut Rng) -> Wild {
    Wild {
        extreme: !rng.one_in(3),
        nonfinite: rng.one_in(2),
    }
}

// ---------------------------------------------------------------------------------------
// Mutations.

fn varint(mut n: u64, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A byte-level mutation of `body` (`other` is a second body to splice from); says which.
fn mutate_bytes(rng: &mut Rng, body: &mut Vec<u8>, other: &[u8]) -> String {
    let len = body.len();
    let at = rng.below(len + 1);
    match rng.below(11) {
        0 if len > 0 => {
            let i = rng.below(len);
            let bit = rng.below(8);
            body[i] ^= 1 << bit;
            format!("flip bit {bit} of byte {i}")
        }
        1 if len > 0 => {
            let i = rng.below(len);
            body[i] = rng.next() as u8;
            format!("set byte {i}")
        }
        2 => {
            let n = rng.range(1, 8) as usize;
            let bytes = rng.bytes(n);
            body.splice(at..at, bytes);
            format!("insert {n} bytes at {at}")
        }
        3 if len > 0 => {
            let n = rng.range(1, 16) as usize;
            let end = (at + n).min(len);
            body.drain(at.min(len)..end);
            format!("delete {at}..{end}")
        }
        4 => {
            body.truncate(at);
            format!("truncate at {at}")
        }
        5 => {
            let from = rng.below(other.len() + 1);
            body.truncate(at);
            body.extend_from_slice(&other[from..]);
            format!("splice at {at} with the other body from {from}")
        }
        6 if len > 0 => {
            let a = rng.below(len);
            let b = (a + rng.range(1, 64) as usize).min(len);
            let chunk = body[a..b].to_vec();
            let to = rng.below(len + 1);
            body.splice(to..to, chunk);
            format!("copy {a}..{b} to {to}")
        }
        7 => {
            // A length-delimited field that declares far more than there is.
            let field = rng.range(1, 15);
            let declared = rng.pick(&[
                u64::MAX,
                1 << 63,
                1 << 32,
                u64::from(u32::MAX),
                1 << 31,
                BODY_LIMIT as u64,
                len as u64 + 1,
            ]);
            let mut v = vec![((field << 3) | 2) as u8];
            varint(declared, &mut v);
            body.splice(at..at, v);
            format!("insert field {field} declaring {declared} bytes at {at}")
        }
        8 => {
            // A varint that never ends (11 continuation bytes).
            body.splice(at..at, [0x0a].into_iter().chain([0xff; 11]));
            format!("insert an overlong varint at {at}")
        }
        9 if len > 0 => {
            let fill = rng.pick(&[0x00, 0xff, 0x7f, 0x80]);
            let end = (at + 8).min(len);
            body[at.min(len)..end].fill(fill);
            format!("fill {at}..{end} with {fill:#x}")
        }
        10 => {
            // Protobuf merges repeated messages: the body twice is a valid body twice over.
            let copy = body.clone();
            body.extend_from_slice(&copy);
            "repeat the whole body".to_owned()
        }
        _ => {
            body.clear();
            "empty".to_owned()
        }
    }
}

/// Literals that OTLP/JSON bodies should not contain where numbers or objects go.
const WEIRD_JSON: &[&str] = &[
    "NaN",
    "Infinity",
    "-Infinity",
    "\"NaN\"",
    "\"Infinity\"",
    "\"-Infinity\"",
    "1e400",
    "-1e400",
    "\"1e400\"",
    "1e-400",
    "-1",
    "\"-1\"",
    "-0",
    "-9223372036854775808",
    "\"-9223372036854775808\"",
    "-9223372036854775809",
    "9223372036854775808",
    "18446744073709551615",
    "\"18446744073709551615\"",
    "18446744073709551616",
    "\"18446744073709551616\"",
    "1.5",
    "\"1.5\"",
    "0.1e1",
    "1E2",
    "null",
    "true",
    "[]",
    "{}",
    "\"\"",
    "\"\\ud800\"",
    "\"\\u0000\"",
    "\"abc\"",
    "{\"stringValue\":1}",
    "{\"intValue\":\"x\"}",
    "{\"intValue\":1.5}",
    "{\"doubleValue\":\"NaN\"}",
    "{\"doubleValue\":\"1e400\"}",
    "{\"bytesValue\":\"!!!\"}",
    "{\"arrayValue\":{\"values\":[{\"kvlistValue\":{\"values\":[{\"key\":\"k\"}]}}]}}",
    "{\"stringValue\":\"a\",\"intValue\":\"1\"}",
    "[[[[[[[[]]]]]]]]",
];

/// The `k`th node of `v` in document order.
fn nth_node<'a>(v: &'a mut Value, k: &mut usize) -> Option<&'a mut Value> {
    if *k == 0 {
        return Some(v);
    }
    *k -= 1;
    match v {
        Value::Array(items) => items.iter_mut().find_map(|x| nth_node(x, k)),
        Value::Object(map) => map.values_mut().find_map(|x| nth_node(x, k)),
        _ => None,
    }
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(map) => map.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// A structural mutation of a JSON body: one value swapped for a weird literal, an object
/// losing a key, or a number turned into a string and back. `None` when the body is not
/// JSON (an earlier mutation broke it).
fn mutate_json(rng: &mut Rng, body: &[u8]) -> Option<(Vec<u8>, String)> {
    const HOLE: &str = "\u{1}HOLE\u{1}";
    let mut v: Value = serde_json::from_slice(body).ok()?;
    let n = count_nodes(&v);
    let mut k = rng.below(n);
    let at = k;
    let node = nth_node(&mut v, &mut k)?;
    let (literal, what) = match rng.below(4) {
        0 => {
            // A number as a string, a numeric string as a number.
            let swapped = match &*node {
                Value::Number(x) => Some(format!("\"{x}\"")),
                Value::String(s) if !s.is_empty() && s.parse::<f64>().is_ok() => Some(s.clone()),
                _ => None,
            };
            match swapped {
                Some(l) => (l, "swap number and string"),
                None => (rng.pick(WEIRD_JSON).to_string(), "weird literal"),
            }
        }
        1 if node.is_object() => {
            let map = node.as_object_mut()?;
            let keys: Vec<String> = map.keys().cloned().collect();
            if !keys.is_empty() {
                let key = &keys[rng.below(keys.len())];
                map.remove(key);
            }
            let text = serde_json::to_vec(&v).ok()?;
            return Some((text, format!("remove a key of node {at}")));
        }
        _ => (rng.pick(WEIRD_JSON).to_string(), "weird literal"),
    };
    *node = Value::String(HOLE.to_owned());
    let text = serde_json::to_string(&v).ok()?;
    let hole = serde_json::to_string(HOLE).ok()?;
    let out = text.replacen(&hole, &literal, 1).into_bytes();
    Some((out, format!("{what} {literal} at node {at}")))
}

// ---------------------------------------------------------------------------------------
// What must hold of anything that decodes.

fn prices() -> PriceTable {
    static PRICES: OnceLock<PriceTable> = OnceLock::new();
    PRICES.get_or_init(PriceTable::bundled).clone()
}

/// The records a batch makes are finite, non-negative and survive the journal's JSON.
fn check_records(records: &[Record]) {
    for r in records {
        match r {
            Record::Usage(u) => {
                assert!(
                    u.cost_usd.is_finite() && u.cost_usd >= 0.0,
                    "a usage record with cost {}: {u:?}",
                    u.cost_usd
                );
            }
            Record::Series(s) => {
                assert!(
                    s.value.is_finite() && s.value >= 0.0,
                    "a series position with value {}: {s:?}",
                    s.value
                );
            }
            Record::Rollup(_) | Record::Limit(_) => {}
        }
        let line = serde_json::to_string(r).expect("a record serializes");
        let back: Record = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the stored line {line} does not replay: {e}"));
        assert!(
            replays_as(&back, r),
            "the stored line {line} replays as {back:?}"
        );
    }
}

/// Equal, to the bit (see `a_cumulative_cost_position_replays_exactly`).
fn replays_as(back: &Record, r: &Record) -> bool {
    let near = |a: f64, b: f64| a == b;
    match (back, r) {
        (Record::Usage(a), Record::Usage(b)) => {
            near(a.cost_usd, b.cost_usd)
                && StoredUsage {
                    cost_usd: b.cost_usd,
                    ..a.clone()
                } == *b
        }
        (Record::Series(a), Record::Series(b)) => {
            near(a.value, b.value)
                && Series {
                    value: b.value,
                    ..*a
                } == *b
        }
        _ => back == r,
    }
}

fn check_usage(u: &Usage, at: i64) {
    let unit = |x: Option<f64>| x.is_none_or(|x| x.is_finite() && (0.0..=1.0).contains(&x));
    let gauge = |x: Option<f32>| x.is_none_or(|x| x.is_finite() && (0.0..=1.0).contains(&x));
    let money = |x: f64| x.is_finite() && x >= 0.0;
    let ctx = format!("at {at}: {u:?}");
    assert!(
        u.tach.tokens_per_min.is_finite() && u.tach.tokens_per_min >= 0.0,
        "tach {ctx}"
    );
    assert!(unit(u.fuel.remaining), "fuel {ctx}");
    assert!(money(u.cost.today_usd), "cost today {ctx}");
    assert!(
        u.cost.block_usd.is_none_or(money),
        "cost of the block {ctx}"
    );
    assert!(u.gauges.0.iter().all(|(_, g)| gauge(*g)), "gauges {ctx}");
    assert!(
        unit(u.thinking_ratio) && unit(u.cache_hit_rate) && unit(u.window_5h_pct),
        "ratios {ctx}"
    );
    serde_json::to_string(u).expect("/usage serializes");
}

/// Feeds a batch into a fresh live state the way the hub does (records stored, then
/// applied; events), `times` times at successive instants, reading `/usage` after each.
fn check_batch(batch: &Batch, received_ms: i64, times: usize) {
    let mut live = Live::new(prices(), CostMode::Auto);
    let settings = Settings::default();
    for n in 0..times {
        let received = received_ms + n as i64 * 45_000;
        let records = live.otlp_records(batch, received);
        check_records(&records);
        for r in &records {
            live.apply_record(r);
        }
        live.otlp_events(&batch.events, received);
        check_usage(&live.usage(received, &settings), received);
    }
    let last = received_ms + times as i64 * 45_000;
    for later in [0, 30_000, 5 * 3_600_000, 3 * 86_400_000] {
        check_usage(&live.usage(last + later, &settings), last + later);
    }
    for day in live.hosts_today(last, &settings.tz, "here") {
        assert!(
            day.cost_usd.is_finite() && day.cost_usd >= 0.0,
            "hosts today: {day:?}"
        );
    }
    for (model, c) in live.counters() {
        assert!(
            c.cost_usd.is_finite() && c.cost_usd >= 0.0,
            "counter {model}: {c:?}"
        );
    }
}

/// Decodes `body` as every signal and encoding (a mislabelled body must be refused just
/// as calmly) and checks what decodes.
fn decode_every_way(body: &[u8], note: &mut String) {
    for signal in [Signal::Metrics, Signal::Logs] {
        for encoding in [Encoding::Protobuf, Encoding::Json] {
            match otlp::decode(signal, encoding, body) {
                Ok(batch) => {
                    if signal == Signal::Metrics {
                        assert!(batch.events.is_empty());
                    } else {
                        assert!(batch.points.is_empty());
                    }
                    for p in &batch.points {
                        assert!(p.value.is_finite() && p.value >= 0.0, "{p:?}");
                    }
                    note.push_str(&format!(" [{signal:?}/{encoding:?} decoded]"));
                    check_batch(&batch, T0_MS, 2);
                }
                Err(DecodeError::TooLarge) => assert!(body.len() > BODY_LIMIT),
                Err(DecodeError::Invalid(why)) => assert!(!why.is_empty()),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Decoding.

#[test]
fn valid_exports_read_the_same_in_protobuf_and_json() {
    cases(
        "valid_exports_read_the_same_in_protobuf_and_json",
        600,
        |rng, note| {
            let w = if rng.one_in(2) {
                TAME
            } else {
                Wild {
                    extreme: true,
                    nonfinite: false,
                }
            };
            let body = a_body(rng, w);
            *note = format!("{:?} json {}", body.signal, show(&body.json));
            let pb = otlp::decode(body.signal, Encoding::Protobuf, &body.protobuf)
                .unwrap_or_else(|e| panic!("a valid protobuf export is refused: {e}"));
            let js = otlp::decode(body.signal, Encoding::Json, &body.json)
                .unwrap_or_else(|e| panic!("a valid JSON export is refused: {e}"));
            assert_eq!(pb, js, "protobuf and JSON read differently");
            check_batch(&pb, T0_MS, 3);
        },
    );
}

#[test]
fn mutated_bodies_are_refused_or_read_never_panic() {
    cases(
        "mutated_bodies_are_refused_or_read_never_panic",
        2000,
        |rng, note| {
            let w = wild(rng);
            let body = a_body(rng, w);
            let other = a_body(rng, w);
            let json = rng.one_in(2);
            let (mut bytes, other) = if json {
                (body.json, other.json)
            } else {
                (body.protobuf, other.protobuf)
            };
            *note = format!(
                "{:?} {}:",
                body.signal,
                if json { "json" } else { "protobuf" }
            );
            for _ in 0..rng.range(1, 4) {
                let what = if json && rng.one_in(2) {
                    match mutate_json(rng, &bytes) {
                        Some((b, what)) => {
                            bytes = b;
                            what
                        }
                        None => mutate_bytes(rng, &mut bytes, &other),
                    }
                } else {
                    mutate_bytes(rng, &mut bytes, &other)
                };
                note.push_str(&format!(" {what};"));
            }
            note.push_str(&format!(" body {}", show(&bytes)));
            decode_every_way(&bytes, note);
        },
    );
}

#[test]
fn json_with_wrong_types_and_extreme_numbers_is_refused_or_read() {
    cases(
        "json_with_wrong_types_and_extreme_numbers_is_refused_or_read",
        1000,
        |rng, note| {
            let w = wild(rng);
            let body = a_body(rng, w);
            let mut bytes = body.json;
            *note = format!("{:?}:", body.signal);
            for _ in 0..rng.range(1, 3) {
                if let Some((b, what)) = mutate_json(rng, &bytes) {
                    bytes = b;
                    note.push_str(&format!(" {what};"));
                }
            }
            note.push_str(&format!(" body {}", show(&bytes)));
            decode_every_way(&bytes, note);
        },
    );
}

#[test]
fn every_prefix_and_every_bit_flip_of_small_bodies() {
    cases(
        "every_prefix_and_every_bit_flip_of_small_bodies",
        4,
        |rng, note| {
            // Small but complete: one token point and one api_request.
            let mut body = a_body(rng, TAME);
            while body.protobuf.len() < 60 || body.protobuf.len() > 500 {
                body = a_body(rng, TAME);
            }
            *note = format!("{:?} {}", body.signal, show(&body.protobuf));
            for bytes in [&body.protobuf, &body.json] {
                for cut in 0..bytes.len() {
                    let prefix = &bytes[..cut];
                    for encoding in [Encoding::Protobuf, Encoding::Json] {
                        if let Ok(b) = otlp::decode(body.signal, encoding, prefix) {
                            check_records(&SeriesBook::default().records(&b.points, T0_MS));
                        }
                    }
                }
            }
            let mut flipped = body.protobuf.clone();
            for i in 0..flipped.len() {
                for bit in 0..8 {
                    flipped[i] ^= 1 << bit;
                    if let Ok(b) = otlp::decode(body.signal, Encoding::Protobuf, &flipped) {
                        check_records(&SeriesBook::default().records(&b.points, T0_MS));
                    }
                    flipped[i] ^= 1 << bit;
                }
            }
        },
    );
}

#[test]
fn random_bytes_and_empty_bodies() {
    for signal in [Signal::Metrics, Signal::Logs] {
        // An empty protobuf message is a valid, empty export; empty JSON is not JSON.
        assert_eq!(
            otlp::decode(signal, Encoding::Protobuf, b""),
            Ok(Batch::default())
        );
        assert!(matches!(
            otlp::decode(signal, Encoding::Json, b""),
            Err(DecodeError::Invalid(_))
        ));
        assert_eq!(
            otlp::decode(signal, Encoding::Json, b"{}"),
            Ok(Batch::default())
        );
        let over = vec![b' '; BODY_LIMIT + 1];
        for encoding in [Encoding::Protobuf, Encoding::Json] {
            assert_eq!(
                otlp::decode(signal, encoding, &over),
                Err(DecodeError::TooLarge)
            );
        }
    }
    cases("random_bytes_and_empty_bodies", 1500, |rng, note| {
        let n = rng.pick(&[0, 1, 2, 3, 8, 64, 512, 4096]);
        let mut bytes = rng.bytes_below(n + 1);
        if rng.one_in(3) && !bytes.is_empty() {
            // Start like an OTLP message: field 1, length-delimited.
            bytes[0] = 0x0a;
        }
        *note = show(&bytes);
        decode_every_way(&bytes, note);
    });
}

/// The nesting of `AnyValue { array_value: ArrayValue { values: [ … ] } }`, `levels` deep
/// around a string, as protobuf bytes, built outside-in so 100 000 levels take linear
/// time.
fn nested_any_value(levels: usize) -> Vec<u8> {
    let varint_len = |n: usize| {
        let mut v = Vec::new();
        varint(n as u64, &mut v);
        v.len()
    };
    let innermost = [0x0a, 0x01, b'x'];
    // sizes[i]: the AnyValue i levels out from the string; arrays[i]: its ArrayValue.
    let mut sizes = vec![innermost.len()];
    let mut arrays = vec![0];
    for i in 1..=levels {
        let array = 1 + varint_len(sizes[i - 1]) + sizes[i - 1];
        arrays.push(array);
        sizes.push(1 + varint_len(array) + array);
    }
    let mut out = Vec::with_capacity(sizes[levels]);
    for i in (1..=levels).rev() {
        out.push(0x2a); // AnyValue.array_value
        varint(arrays[i] as u64, &mut out);
        out.push(0x0a); // ArrayValue.values
        varint(sizes[i - 1] as u64, &mut out);
    }
    out.extend_from_slice(&innermost);
    out
}

fn field(tag: u8, inner: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    varint(inner.len() as u64, &mut out);
    out.extend_from_slice(inner);
    out
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    // A token point beside the deep resource attribute, so the attribute is hashed into
    // the point's series when the body decodes.
    let point = ScopeMetrics {
        metrics: vec![Metric {
            name: TOKEN_METRIC.into(),
            data: Some(metric::Data::Sum(Sum {
                data_points: vec![NumberDataPoint {
                    attributes: vec![kv("type", sv("input"))],
                    time_unix_nano: T0_NS,
                    value: Some(number_data_point::Value::AsInt(5)),
                    ..Default::default()
                }],
                aggregation_temporality: 1,
                is_monotonic: true,
            })),
            ..Default::default()
        }],
        ..Default::default()
    }
    .encode_to_vec();
    for levels in [1, 10, 40, 47, 48, 60, 99, 100, 1_000, 100_000] {
        let deep = nested_any_value(levels);
        let key_value = [field(0x0a, b"deep"), field(0x12, &deep)].concat();
        let resource = field(0x0a, &key_value);
        let rm = [field(0x0a, &resource), field(0x12, &point)].concat();
        let body = field(0x0a, &rm);
        for signal in [Signal::Metrics, Signal::Logs] {
            match otlp::decode(signal, Encoding::Protobuf, &body) {
                Ok(b) => check_batch(&b, T0_MS, 1),
                Err(e) => assert!(
                    levels > 40 || signal == Signal::Logs,
                    "{levels} levels refused: {e}"
                ),
            }
        }
    }
    // JSON: nested arrays of nothing, and nested AnyValues where an attribute goes.
    let brackets = "[".repeat(100_000);
    for text in [
        brackets.clone(),
        format!("{brackets}{}", "]".repeat(100_000)),
        format!("{{\"resourceMetrics\":{brackets}"),
        format!("{{\"resourceLogs\":{brackets}"),
        "{\"a\":".repeat(100_000),
    ] {
        for signal in [Signal::Metrics, Signal::Logs] {
            assert!(matches!(
                otlp::decode(signal, Encoding::Json, text.as_bytes()),
                Err(DecodeError::Invalid(_))
            ));
        }
    }
    for levels in [1, 10, 30, 40, 41, 50, 1_000, 30_000] {
        let open = "{\"arrayValue\":{\"values\":[".repeat(levels);
        let close = "]}}".repeat(levels);
        let text = format!(
            "{{\"resourceMetrics\":[{{\"resource\":{{\"attributes\":[{{\"key\":\"deep\",\
             \"value\":{open}{{\"stringValue\":\"x\"}}{close}}}]}},\"scopeMetrics\":[{{\"metrics\":[\
             {{\"name\":\"{TOKEN_METRIC}\",\"sum\":{{\"aggregationTemporality\":1,\"dataPoints\":[\
             {{\"attributes\":[{{\"key\":\"type\",\"value\":{{\"stringValue\":\"input\"}}}}],\
             \"timeUnixNano\":\"{T0_NS}\",\"asInt\":\"5\"}}]}}}}]}}]}}]}}"
        );
        match otlp::decode(Signal::Metrics, Encoding::Json, text.as_bytes()) {
            Ok(b) => {
                assert_eq!(b.points.len(), 1, "{levels} levels");
                check_batch(&b, T0_MS, 1);
            }
            Err(e) => assert!(levels > 30, "{levels} levels refused: {e}"),
        }
    }
}

#[test]
fn decoding_a_full_body_costs_bounded_memory() {
    // The cheapest things a 1 MiB body can hold many of: empty data points (2 bytes
    // each) and the smallest token point redline counts, in protobuf and JSON.
    let empty_point = [0x0a, 0x00];
    let token_point = NumberDataPoint {
        attributes: vec![kv("type", sv("input"))],
        value: Some(number_data_point::Value::AsInt(1)),
        ..Default::default()
    }
    .encode_to_vec();
    let mut report = Vec::new();
    for (what, point) in [
        ("empty points", empty_point.to_vec()),
        ("token points", field(0x0a, &token_point)),
    ] {
        let wrap = |n: usize| {
            let sum = point.repeat(n);
            let metric = [field(0x0a, TOKEN_METRIC.as_bytes()), field(0x3a, &sum)].concat();
            let sm = field(0x12, &metric);
            field(0x0a, &field(0x12, &sm))
        };
        let n = (BODY_LIMIT - 64) / point.len();
        let body = wrap(n);
        assert!(body.len() <= BODY_LIMIT, "{what}: {}", body.len());
        let (batch, peak) =
            meter::peak(|| otlp::decode(Signal::Metrics, Encoding::Protobuf, &body));
        let batch = batch.unwrap();
        let (records, peak_records) =
            meter::peak(|| SeriesBook::default().records(&batch.points, T0_MS));
        report.push(format!(
            "protobuf {what}: {n} in {} bytes, {} points; decode peak {:.1} MiB, records peak \
             {:.1} MiB",
            body.len(),
            batch.points.len(),
            peak as f64 / MIB as f64,
            peak_records as f64 / MIB as f64
        ));
        assert!(records.len() <= 1);
        assert!(peak < 128 * MIB, "{}", report.join("\n"));
    }
    let json_point = "{},";
    let n = (BODY_LIMIT - 200) / json_point.len();
    let body = format!(
        "{{\"resourceMetrics\":[{{\"scopeMetrics\":[{{\"metrics\":[{{\"name\":\"{TOKEN_METRIC}\",\
         \"sum\":{{\"dataPoints\":[{}{{}}]}}}}]}}]}}]}}",
        json_point.repeat(n)
    );
    let (batch, peak) =
        meter::peak(|| otlp::decode(Signal::Metrics, Encoding::Json, body.as_bytes()));
    batch.unwrap();
    report.push(format!(
        "json empty points: {n} in {} bytes; decode peak {:.1} MiB",
        body.len(),
        peak as f64 / MIB as f64
    ));
    assert!(peak < 128 * MIB, "{}", report.join("\n"));
    eprintln!("{}", report.join("\n"));
}

// ---------------------------------------------------------------------------------------
// Gzip.

fn gzip(data: &[u8], level: u32) -> Vec<u8> {
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

/// Compressible random data: runs over a small alphabet.
fn some_data(rng: &mut Rng, max: usize) -> Vec<u8> {
    let n = rng.below(max + 1);
    let size = rng.range(1, 20) as usize;
    let alphabet = rng.bytes(size);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let b = rng.pick(&alphabet);
        let run = rng.range(1, 30) as usize;
        out.extend(std::iter::repeat_n(b, run.min(n - out.len())));
    }
    out
}

#[test]
fn gzip_round_trips_and_refuses_damage() {
    cases("gzip_round_trips_and_refuses_damage", 250, |rng, note| {
        let members: Vec<Vec<u8>> = (0..rng.range(1, 3))
            .map(|_| some_data(rng, 12_000))
            .collect();
        let whole: Vec<u8> = members.concat();
        let mut z: Vec<u8> = members
            .iter()
            .flat_map(|m| gzip(m, rng.range(0, 9) as u32))
            .collect();
        *note = format!(
            "{} members, {} bytes inflated, {}",
            members.len(),
            whole.len(),
            show(&z)
        );
        assert_eq!(otlp::gunzip(&z).as_deref(), Ok(&whole[..]));
        // Damaged: whatever inflates is the data or a prefix of it, never something else.
        let what = mutate_bytes(rng, &mut z, &[]);
        note.push_str(&format!("; then {what}"));
        match otlp::gunzip(&z) {
            Ok(out) => assert!(
                whole.starts_with(&out) || what.starts_with("repeat"),
                "inflated {} bytes that are not the data",
                out.len()
            ),
            Err(DecodeError::Invalid(why)) => assert!(why.contains("gzip"), "{why}"),
            Err(DecodeError::TooLarge) => panic!("a small stream is too large"),
        }
    });
    cases("gzip_of_random_bytes", 800, |rng, note| {
        let mut bytes = rng.bytes_below(3000);
        if rng.one_in(2) && bytes.len() >= 4 {
            // A gzip header with any flags, then garbage.
            bytes[..3].copy_from_slice(&[0x1f, 0x8b, 0x08]);
        }
        *note = show(&bytes);
        let (_, peak) = meter::peak(|| {
            if let Ok(out) = otlp::gunzip(&bytes) {
                decode_every_way(&out, &mut String::new());
            }
        });
        assert!(peak < 8 * MIB, "{peak} bytes held");
    });
}

#[test]
fn gzip_every_prefix_of_a_small_stream() {
    let mut rng = Rng::new(base_seed());
    let data = some_data(&mut rng, 400);
    let two = [gzip(&data, 6), gzip(b"second", 1)].concat();
    for cut in 0..two.len() {
        match otlp::gunzip(&two[..cut]) {
            Ok(out) => {
                let whole = [&data[..], b"second"].concat();
                assert!(whole.starts_with(&out), "cut at {cut}");
            }
            Err(e) => assert!(matches!(e, DecodeError::Invalid(_)), "cut at {cut}: {e}"),
        }
    }
}

#[test]
fn gzip_bombs_stop_at_the_limit_without_large_allocations() {
    let exact = gzip(&vec![0; BODY_LIMIT], 1);
    let (out, peak) = meter::peak(|| otlp::gunzip(&exact));
    assert_eq!(out.map(|o| o.len()), Ok(BODY_LIMIT));
    assert!(
        peak < 3 * MIB,
        "inflating exactly the limit held {peak} bytes"
    );

    let one_over = gzip(&vec![0; BODY_LIMIT + 1], 1);
    assert_eq!(otlp::gunzip(&one_over), Err(DecodeError::TooLarge));

    let started = Instant::now();
    let bomb = gzip(&vec![0; 16 * MIB], 1);
    let mut report = format!(
        "16 MiB of zeros is {} bytes gzipped ({:.2?})",
        bomb.len(),
        started.elapsed()
    );
    let (out, peak) = meter::peak(|| otlp::gunzip(&bomb));
    assert_eq!(out, Err(DecodeError::TooLarge), "{report}");
    assert!(peak < 3 * MIB, "{report}: held {peak} bytes");

    // Many members, each small, adding up to a gigabyte: the limit counts them together.
    let member = gzip(&vec![0; MIB], 9);
    let many = member.repeat(1024);
    let started = Instant::now();
    let (out, peak) = meter::peak(|| otlp::gunzip(&many));
    report.push_str(&format!(
        "; 1024 members of 1 MiB in {} bytes refused in {:.2?}, held {:.1} MiB",
        many.len(),
        started.elapsed(),
        peak as f64 / MIB as f64
    ));
    assert_eq!(out, Err(DecodeError::TooLarge), "{report}");
    assert!(peak < 3 * MIB, "{report}");
    // Stops at the limit rather than inflating the gigabyte.
    assert!(started.elapsed().as_secs() < 5, "{report}");
    eprintln!("{report}");
}

// ---------------------------------------------------------------------------------------
// The series book and the live state, fed points and events directly.

fn a_point(rng: &mut Rng, series: &[u64]) -> Point {
    let measure = match rng.below(5) {
        0 => Measure::Cost,
        1 => Measure::Tokens(TokenKind::Input),
        2 => Measure::Tokens(TokenKind::Output),
        3 => Measure::Tokens(TokenKind::CacheCreation),
        _ => Measure::Tokens(TokenKind::CacheRead),
    };
    // Whatever `decode` lets through: finite and not negative, however large.
    let value = match rng.below(6) {
        0 => rng.pick(&[0.0, 5e-324, 1e-9, 0.5, 1.8e19, 1e300, f64::MAX, 9.007e15]),
        1 => rng.next() as f64,
        _ => rng.range(0, 100_000) as f64,
    };
    let w = Wild {
        extreme: true,
        nonfinite: false,
    };
    let start = if rng.one_in(3) {
        T0_NS
    } else {
        time_ns(rng, w)
    };
    Point {
        origin: Origin {
            host: rng.pick(HOSTS).to_string(),
            session: rng.one_in(4).then(|| rng.pick(SESSIONS).to_string()),
        },
        model: (!rng.one_in(5)).then(|| rng.pick(MODELS).to_string()),
        measure,
        temporality: if rng.one_in(2) {
            Temporality::Delta
        } else {
            Temporality::Cumulative
        },
        series: rng.pick(series),
        start_ns: start,
        time_ns: time_ns(rng, w),
        value,
    }
}

fn an_event(rng: &mut Rng) -> Event {
    let origin = Origin {
        host: rng.pick(HOSTS).to_string(),
        session: rng.one_in(3).then(|| rng.pick(SESSIONS).to_string()),
    };
    // What `decode` can make: nanoseconds to milliseconds, or a parsed timestamp.
    let ts_ms = match rng.below(4) {
        0 => rng.pick(&[
            0,
            i64::try_from(u64::MAX / 1_000_000).unwrap(),
            -377_705_116_800_000,
            253_402_300_799_999,
        ]),
        _ => T0_MS + rng.range(0, 6 * 3_600_000) as i64,
    };
    if rng.one_in(4) {
        return Event::ApiError {
            origin,
            ts_ms,
            error: Some("overloaded".into()),
            status_code: Some(529),
        };
    }
    // `decode` caps each count at u32::MAX, as the ledger does.
    let mut tokens = [0u64; 4];
    for t in &mut tokens {
        *t = match rng.below(6) {
            0 => rng.pick(&[u64::from(u32::MAX), u64::from(u32::MAX) - 1, 1 << 31]),
            _ => rng.range(0, 50_000),
        };
    }
    Event::ApiRequest {
        origin,
        ts_ms,
        model: Some(rng.pick(MODELS).to_string()),
        tokens: redline_core::TokenCounts::new(tokens[0], tokens[1], tokens[2], tokens[3]),
        cost_usd: rng.pick(&[0.0, 0.01, 1e300, f64::MAX]),
        duration_ms: Some(rng.next()),
        request_id: None,
    }
}

#[test]
fn series_book_makes_finite_non_negative_deltas() {
    cases(
        "series_book_makes_finite_non_negative_deltas",
        1500,
        |rng, note| {
            let series: Vec<u64> = (0..rng.range(1, 4)).map(|_| rng.next()).collect();
            let mut book = SeriesBook::default();
            for batch in 0..rng.range(1, 4) {
                let points: Vec<Point> = (0..rng.range(0, 8))
                    .map(|_| a_point(rng, &series))
                    .collect();
                note.push_str(&format!("batch {batch}: {points:?}; "));
                let records = book.records(&points, T0_MS);
                check_records(&records);
                for r in &records {
                    if let Record::Series(s) = r {
                        book.apply(s);
                    }
                }
            }
        },
    );
}

#[test]
fn a_monotone_cumulative_series_adds_up_to_its_last_value() {
    cases(
        "a_monotone_cumulative_series_adds_up_to_its_last_value",
        500,
        |rng, note| {
            let mut book = SeriesBook::default();
            let (mut value, mut time, mut total) = (0u64, T0_NS, 0u64);
            let mut sent = Vec::new();
            for _ in 0..rng.range(1, 6) {
                let mut points = Vec::new();
                for _ in 0..rng.range(1, 4) {
                    value += rng.range(0, 5_000);
                    time += rng.range(1, 3) * 1_000_000_000;
                    points.push(Point {
                        origin: Origin {
                            host: "desk".into(),
                            session: Some("s1".into()),
                        },
                        model: Some(MODELS[0].into()),
                        measure: Measure::Tokens(TokenKind::Output),
                        temporality: Temporality::Cumulative,
                        series: 7,
                        start_ns: T0_NS - 1,
                        time_ns: time,
                        value: value as f64,
                    });
                }
                // A retry of the batch adds nothing.
                let repeat = rng.one_in(3);
                sent.push((
                    points
                        .iter()
                        .map(|p| (p.time_ns, p.value))
                        .collect::<Vec<_>>(),
                    repeat,
                ));
                for _ in 0..=usize::from(repeat) {
                    for r in book.records(&points, T0_MS) {
                        match r {
                            Record::Usage(u) => total += u.tokens[1],
                            Record::Series(s) => book.apply(&s),
                            Record::Rollup(_) | Record::Limit(_) => {}
                        }
                    }
                }
            }
            *note = format!("{sent:?}");
            // Points no newer than the last are retries: what counts is the newest value.
            assert_eq!(total, value, "counted {total}, the counter reads {value}");
        },
    );
}

/// Once a panic (an overflow adding token counts in `TokenCounts::tach`): an
/// `api_request` whose counts read as u64::MAX (`"1e300"` saturates) beside any other
/// count. Counts are capped at u32::MAX, as the ledger caps them.
#[test]
fn an_api_request_with_absurd_token_counts_is_capped() {
    let attr =
        |k: &str, v: &str| format!("{{\"key\":\"{k}\",\"value\":{{\"stringValue\":\"{v}\"}}}}");
    let body = format!(
        "{{\"resourceLogs\":[{{\"scopeLogs\":[{{\"logRecords\":[{{\"timeUnixNano\":\"{T0_NS}\",\
         \"attributes\":[{},{},{},{}]}}]}}]}}]}}",
        attr("event.name", "api_request"),
        attr("input_tokens", "1e300"),
        attr("output_tokens", "18446744073709551615"),
        attr("cache_creation_tokens", "1"),
    );
    let batch = otlp::decode(Signal::Logs, Encoding::Json, body.as_bytes()).unwrap();
    match &batch.events[..] {
        [Event::ApiRequest { tokens, .. }] => {
            assert_eq!(
                *tokens,
                redline_core::TokenCounts::new(u32::MAX.into(), u32::MAX.into(), 1, 0)
            );
        }
        other => panic!("{other:?}"),
    }
    check_batch(&batch, T0_MS, 3);
}

/// Once a panic (an overflow adding token counts in `Live::apply_usage`): token points
/// that add up past u64::MAX at one instant. Such values are passed over now, and usage
/// records cap each count at u32::MAX besides.
#[test]
fn token_points_past_u64_max_are_capped() {
    let point = |kind: &str, value: &str| {
        format!(
            "{{\"attributes\":[{{\"key\":\"type\",\"value\":{{\"stringValue\":\"{kind}\"}}}}],\
             \"timeUnixNano\":\"{T0_NS}\",{value}}}"
        )
    };
    let body = format!(
        "{{\"resourceMetrics\":[{{\"scopeMetrics\":[{{\"metrics\":[{{\"name\":\"{TOKEN_METRIC}\",\
         \"sum\":{{\"aggregationTemporality\":1,\"dataPoints\":[{},{},{}]}}}}]}}]}}]}}",
        point("input", "\"asDouble\":1e300"),
        point("input", "\"asInt\":\"9223372036854775807\""),
        point("output", "\"asInt\":\"1\""),
    );
    let batch = otlp::decode(Signal::Metrics, Encoding::Json, body.as_bytes()).unwrap();
    let records = SeriesBook::default().records(&batch.points, T0_MS);
    match &records[..] {
        // Both input points are past otlp::MAX_VALUE: passed over, not added.
        [Record::Usage(u)] => assert_eq!(u.tokens, [0, 1, 0, 0]),
        other => panic!("{other:?}"),
    }
    check_batch(&batch, T0_MS, 3);
}

/// A cost point as a cumulative sender sends it, `value` dollars at `at_s` seconds.
fn cost_point(value: f64, at_s: u64, temporality: Temporality) -> Point {
    Point {
        origin: Origin {
            host: "desk".into(),
            session: Some("s1".into()),
        },
        model: Some(MODELS[0].into()),
        measure: Measure::Cost,
        temporality,
        series: 42,
        start_ns: T0_NS,
        time_ns: T0_NS + at_s * 1_000_000_000,
        value,
    }
}

fn cost_of(records: &[Record]) -> f64 {
    records
        .iter()
        .map(|r| match r {
            Record::Usage(u) => u.cost_usd,
            _ => 0.0,
        })
        .sum()
}

/// Two cost points whose dollars would add past `f64::MAX` (each one finite) must not
/// merge into a usage record of infinite cost, which the journal would store as
/// `"usd":null` and could not replay, and which would make `/usage`'s `cost.today_usd`
/// infinite (`null` on the wire): `decode` passes such points over, and `records` bounds
/// what it is given directly. The body below is one valid OTLP/JSON export.
#[test]
fn cost_deltas_that_add_past_f64_max_stay_finite() {
    let point = format!(
        "{{\"attributes\":[{{\"key\":\"model\",\"value\":{{\"stringValue\":\"{}\"}}}}],\
         \"timeUnixNano\":\"{T0_NS}\",\"asDouble\":1.7976931348623157e308}}",
        MODELS[0]
    );
    let body = format!(
        "{{\"resourceMetrics\":[{{\"scopeMetrics\":[{{\"metrics\":[{{\"name\":\"{COST_METRIC}\",\
         \"sum\":{{\"aggregationTemporality\":1,\"dataPoints\":[{point},{point}]}}}}]}}]}}]}}"
    );
    let batch = otlp::decode(Signal::Metrics, Encoding::Json, body.as_bytes()).unwrap();
    assert_eq!(
        batch.points.len(),
        0,
        "values past otlp::MAX_VALUE are damage"
    );
    let huge = [
        cost_point(f64::MAX, 1, Temporality::Delta),
        cost_point(f64::MAX, 1, Temporality::Delta),
    ];
    let records = SeriesBook::default().records(&huge, T0_MS);
    check_records(&records);
    assert!(cost_of(&records).is_finite());
}

/// serde_json without its `float_roundtrip` feature reads about one float in ten back
/// one unit in the last place off, half of them higher. A cumulative series' position
/// stored as 1.1507000000000003 would come back from the journal as 1.1507000000000005;
/// after a daemon restart the sender's next, unchanged, total would be below it and taken
/// for a counter reset, so the whole $1.15 would count again.
#[test]
fn a_cumulative_cost_position_replays_exactly() {
    let total = 1.1507000000000003;
    let book = SeriesBook::default();
    let first = book.records(&[cost_point(total, 1, Temporality::Cumulative)], T0_MS);
    assert_eq!(cost_of(&first), total);
    // Stored, then replayed by a restarted daemon.
    let mut restarted = SeriesBook::default();
    let mut replayed = Vec::new();
    for r in &first {
        let line = serde_json::to_string(r).unwrap();
        if let Record::Series(s) = serde_json::from_str(&line).unwrap() {
            replayed.push(format!("{line} replays as {}", s.value));
            restarted.apply(&s);
        }
    }
    let next = restarted.records(&[cost_point(total, 61, Temporality::Cumulative)], T0_MS);
    assert_eq!(
        cost_of(&next),
        0.0,
        "an unchanged total counted again: {replayed:?}"
    );
}

#[test]
fn live_state_stays_finite_whatever_the_points_and_events() {
    cases(
        "live_state_stays_finite_whatever_the_points_and_events",
        400,
        |rng, note| {
            let series: Vec<u64> = (0..rng.range(1, 4)).map(|_| rng.next()).collect();
            let batch = Batch {
                points: (0..rng.range(0, 6))
                    .map(|_| a_point(rng, &series))
                    .collect(),
                events: (0..rng.range(0, 4)).map(|_| an_event(rng)).collect(),
                code: Vec::new(),
            };
            *note = format!("{batch:?}");
            check_batch(&batch, T0_MS + rng.range(0, 6 * 3_600_000) as i64, 3);
        },
    );
}

// ---------------------------------------------------------------------------------------
// The journal.

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Rec {
    n: u32,
    s: String,
}

struct Scratch(PathBuf);

impl Scratch {
    fn new(case: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("redline-otlp-props-{}-{case}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        Scratch(dir)
    }
    fn path(&self) -> PathBuf {
        self.0.join("state").join("otel.journal")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Complete lines (without their newline) and whether a partial one follows.
fn lines(bytes: &[u8]) -> (Vec<&[u8]>, bool) {
    let mut out: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    let partial = out.pop().is_some_and(|last| !last.is_empty());
    (out, partial)
}

/// A line as written, but for the case of the checksum's hex digits (which a reader
/// accepts either way).
fn normal(line: &[u8]) -> Vec<u8> {
    let mut l = line.to_vec();
    let n = l.len().min(8);
    l[..n].make_ascii_lowercase();
    l
}

fn corrupt(rng: &mut Rng, bytes: &mut Vec<u8>) -> String {
    let len = bytes.len();
    let at = rng.below(len + 1);
    match rng.below(8) {
        0 if len > 0 => {
            let i = rng.below(len);
            let x = rng.range(1, 255) as u8;
            bytes[i] ^= x;
            format!("xor byte {i} with {x:#x}")
        }
        1 => {
            bytes.truncate(at);
            format!("truncate at {at}")
        }
        2 => {
            bytes.insert(at, b'\n');
            format!("newline at {at}")
        }
        3 | 4 => {
            let (ls, _) = lines(bytes);
            if ls.is_empty() {
                return "nothing".into();
            }
            let i = rng.below(ls.len());
            let line = [ls[i], b"\n"].concat();
            let start: usize = ls[..i].iter().map(|l| l.len() + 1).sum();
            if rng.one_in(2) {
                bytes.splice(start..start, line);
                format!("duplicate line {}", i + 1)
            } else {
                bytes.drain(start..start + line.len());
                format!("delete line {}", i + 1)
            }
        }
        5 => {
            let n = rng.range(1, 40) as usize;
            let end = (at + n).min(len);
            bytes[at.min(len)..end].fill(0);
            format!("zero {at}..{end}")
        }
        6 => {
            let junk = rng.bytes_below(30);
            let n = junk.len();
            bytes.splice(at..at, junk);
            format!("insert {n} random bytes at {at}")
        }
        _ => {
            let line = b"0badc0de {\"n\":1,\"s\":\"forged\"}\n";
            bytes.splice(at..at, line.iter().copied());
            format!("insert a line with a wrong checksum at {at}")
        }
    }
}

#[test]
fn a_damaged_journal_replays_every_intact_line() {
    cases(
        "a_damaged_journal_replays_every_intact_line",
        120,
        |rng, note| {
            let scratch = Scratch::new(&format!("journal-{}", rng.next()));
            let path = scratch.path();
            let (mut journal, replay) = Journal::<Rec>::open(&path, "otel").unwrap();
            assert!(replay.records.is_empty() && replay.problems.is_empty());
            let mut written = Vec::new();
            for _ in 0..rng.range(1, 4) {
                let batch: Vec<Rec> = (0..rng.range(1, 8))
                    .map(|_| {
                        let n = written.len() as u32;
                        let s = rng.pick(&["", "plain", "two\nlines", "ünïcödé ✓", "\"quoted\"\t"]);
                        written.push(Rec {
                            n,
                            s: s.to_string(),
                        });
                        written[n as usize].clone()
                    })
                    .collect();
                journal.append(&batch).unwrap();
            }
            drop(journal);
            let original = fs::read(&path).unwrap();
            let (orig_lines, _) = lines(&original);
            let header = orig_lines[0].to_vec();
            let by_line: Vec<(Vec<u8>, Rec)> = orig_lines[1..]
                .iter()
                .zip(&written)
                .map(|(l, r)| (normal(l), r.clone()))
                .collect();
            let mut bytes = original.clone();
            for _ in 0..rng.range(1, 5) {
                let what = corrupt(rng, &mut bytes);
                note.push_str(&format!("{what}; "));
            }
            fs::write(&path, &bytes).unwrap();
            note.push_str(&show(&bytes));

            // What a reader must find: every complete line after an intact header that is,
            // byte for byte, a line that was written.
            let (now_lines, partial) = lines(&bytes);
            let header_intact = now_lines.first().is_some_and(|l| *l == header);
            let intact: Vec<Rec> = now_lines
                .iter()
                .skip(1)
                .filter_map(|l| {
                    let l = normal(l);
                    by_line
                        .iter()
                        .find(|(w, _)| *w == l)
                        .map(|(_, r)| r.clone())
                })
                .collect();
            let damaged = now_lines.len().saturating_sub(1) - intact.len() + usize::from(partial);

            let read = Journal::<Rec>::read(&path, "otel");
            match &read {
                Ok(replay) if now_lines.is_empty() => {
                    // No complete header: a write of the header cut short, read as empty.
                    assert!(replay.records.is_empty(), "{replay:?}");
                }
                Ok(replay) => {
                    assert_eq!(replay.records, intact, "problems: {:?}", replay.problems);
                    if header_intact {
                        assert_eq!(replay.problems.len(), damaged, "{:?}", replay.problems);
                    }
                }
                Err(e) => {
                    assert!(!header_intact, "an intact header is refused: {e}");
                    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
                }
            }
            for p in read.as_ref().map(|r| &r.problems[..]).unwrap_or(&[]) {
                assert!(p.starts_with(&format!("{}:", path.display())), "{p}");
            }

            // Opening goes on from there: the same records, then appends that read back.
            match Journal::<Rec>::open(&path, "otel") {
                Ok((mut journal, replay)) => {
                    let before = read.expect("open succeeds where read fails").records;
                    assert_eq!(replay.records, before);
                    let more = [
                        Rec {
                            n: 1000,
                            s: "after".into(),
                        },
                        Rec {
                            n: 1001,
                            s: "more\n".into(),
                        },
                    ];
                    journal.append(&more).unwrap();
                    if rng.one_in(3) {
                        // Compaction keeps what it is given and appends follow it.
                        let keep: Vec<Rec> = before.iter().chain(&more).cloned().collect();
                        journal.rewrite(&keep).unwrap();
                        journal.append(&more[..1]).unwrap();
                        drop(journal);
                        let after = Journal::<Rec>::read(&path, "otel").unwrap();
                        assert!(after.problems.is_empty(), "{:?}", after.problems);
                        assert_eq!(after.records, [&keep[..], &more[..1]].concat());
                    } else {
                        drop(journal);
                        let after = Journal::<Rec>::read(&path, "otel").unwrap();
                        assert_eq!(after.records, [&before[..], &more[..]].concat());
                        // The damaged complete lines moved to the side file, nothing of them
                        // left in the store; a torn tail was cut, a torn header written again.
                        // (The problems name each line, then one says where they went.)
                        let at = format!("{}:", path.display());
                        let lines = replay
                            .problems
                            .iter()
                            .filter(|p| {
                                p.strip_prefix(&at)
                                    .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
                            })
                            .count();
                        let moved = if now_lines.is_empty() {
                            0
                        } else {
                            lines - usize::from(partial)
                        };
                        assert!(after.problems.is_empty(), "{:?}", after.problems);
                        let kept = redline_engine::journal::damage(&path)
                            .unwrap()
                            .map_or(0, |d| d.records as usize);
                        assert_eq!(kept, moved, "{:?}", replay.problems);
                    }
                }
                Err(e) => {
                    assert!(read.is_err(), "read found a journal that open refuses: {e}");
                    assert_eq!(
                        fs::read(&path).unwrap(),
                        bytes,
                        "a refused file was changed"
                    );
                }
            }
        },
    );
}
