//! Malformed OpenTelemetry thrown at the real daemon's `POST /v1/metrics` and `/v1/logs`:
//! seeded random damage to exports shaped like Claude Code's, in protobuf and JSON, gzip
//! or not, with a length or chunked. Each answer is what the engine's decoder says of the
//! body (400 with a reason, 413, 415, or 200 for damage that still decodes), never a 5xx
//! and never a dropped connection; afterwards a valid export still counts, `/usage`
//! answers with finite numbers and the daemon logged no panic.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Daemon, Home, Reply, gzip, otlp_protobuf};
use redline_engine::otlp::{self, BODY_LIMIT, DecodeError, Encoding, Signal};
use serde_json::{Value, json};

#[path = "../../redline-engine/tests/support/rng.rs"]
mod rng;
use rng::Rng;

const SEED: u64 = 0x0d15_ea5e_0717;

fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn kv(k: &str, v: Value) -> Value {
    json!({"key": k, "value": v})
}

fn s(v: &str) -> Value {
    json!({"stringValue": v})
}

/// A metrics export as Claude Code sends it, with a few extreme values when `wild`.
fn metrics(rng: &mut Rng, wild: bool) -> Value {
    let at = now_ns().to_string();
    let token = |rng: &mut Rng, kind: &str| {
        let value = match rng.below(if wild { 9 } else { 1 }) {
            1 => json!({"asDouble": 1e300}),
            2 => json!({"asInt": "9223372036854775807"}),
            3 => json!({"asInt": "-9223372036854775808"}),
            4 => json!({"asDouble": -1.0}),
            5 => json!({"asDouble": "NaN"}),
            6 => json!({"asDouble": "Infinity"}),
            _ => json!({"asInt": (rng.next() % 5000).to_string()}),
        };
        let mut p = json!({"attributes": [kv("session.id", s("m1")), kv("type", s(kind)),
                kv("model", s("claude-sonnet-4-5"))],
            "startTimeUnixNano": at, "timeUnixNano": at});
        p.as_object_mut()
            .unwrap()
            .extend(value.as_object().unwrap().clone());
        p
    };
    let points: Vec<Value> = ["input", "output", "cacheRead", "cacheCreation"]
        .iter()
        .map(|k| token(rng, k))
        .collect();
    json!({"resourceMetrics": [{"resource": {"attributes": [kv("service.name", s("claude-code")),
            kv("host.name", s("fuzz-host"))]},
        "scopeMetrics": [{"scope": {"name": "com.anthropic.claude_code"}, "metrics": [
            {"name": "claude_code.token.usage", "unit": "tokens", "sum": {
                "aggregationTemporality": rng.pick(&[1, 2]), "isMonotonic": true,
                "dataPoints": points}},
            {"name": "claude_code.cost.usage", "unit": "USD", "sum": {
                "aggregationTemporality": 1, "isMonotonic": true,
                "dataPoints": [{"attributes": [kv("session.id", s("m1")),
                        kv("model", s("claude-sonnet-4-5"))],
                    "startTimeUnixNano": at, "timeUnixNano": at,
                    "asDouble": (rng.next() % 1000) as f64 / 1000.0}]}}]}]}]})
}

/// An `api_request` event, with absurd counts when `wild`.
fn logs(rng: &mut Rng, wild: bool) -> Value {
    let n = |rng: &mut Rng| {
        if wild && rng.one_in(3) {
            rng.pick(&["1e300", "-5", "NaN", "18446744073709551616", "", "0x10"])
                .to_owned()
        } else {
            (rng.next() % 5000).to_string()
        }
    };
    let attrs = vec![
        kv("event.name", s("api_request")),
        kv("session.id", s("m1")),
        kv("model", s("claude-opus-4-6")),
        kv("input_tokens", s(&n(rng))),
        kv("output_tokens", s(&n(rng))),
        kv("cache_read_tokens", s(&n(rng))),
        kv("cache_creation_tokens", s(&n(rng))),
        kv("cost_usd", s("0.01")),
        kv("duration_ms", json!({"intValue": "1200"})),
    ];
    json!({"resourceLogs": [{"resource": {"attributes": [kv("host.name", s("fuzz-host"))]},
        "scopeLogs": [{"logRecords": [{"timeUnixNano": now_ns().to_string(),
            "body": s("claude_code.api_request"), "attributes": attrs}]}]}]})
}

fn encode(signal: Signal, encoding: Encoding, v: &Value) -> Vec<u8> {
    match encoding {
        Encoding::Json => v.to_string().into_bytes(),
        Encoding::Protobuf => otlp_protobuf(signal, v),
    }
}

fn varint(mut n: u64, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// One random damage to `body`; says which.
fn mutate(rng: &mut Rng, body: &mut Vec<u8>, other: &[u8]) -> String {
    let len = body.len();
    let at = rng.below(len + 1);
    match rng.below(10) {
        0 | 1 if len > 0 => {
            let i = rng.below(len);
            body[i] ^= 1 << rng.below(8);
            format!("flip a bit of byte {i}")
        }
        2 => {
            let n = 1 + rng.below(8);
            let junk = rng.bytes(n);
            body.splice(at..at, junk);
            format!("insert {n} bytes at {at}")
        }
        3 if len > 0 => {
            let end = (at + 1 + rng.below(16)).min(len);
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
            format!("splice at {at} with another body from {from}")
        }
        6 => {
            let mut v = vec![0x0a];
            let declared = rng.pick(&[u64::MAX, 1 << 63, u64::from(u32::MAX), BODY_LIMIT as u64]);
            varint(declared, &mut v);
            body.splice(at..at, v);
            format!("insert a field declaring {declared} bytes at {at}")
        }
        7 => {
            let literal = rng.pick(&[
                "NaN",
                "1e400",
                "-9223372036854775808",
                "18446744073709551616",
                "\"x\"",
                "null",
                "[]",
                "{}",
                "\"\\ud800\"",
            ]);
            // A JSON value swapped for a weird one (meaningless in protobuf, which is fine).
            let text = String::from_utf8_lossy(body).into_owned();
            let swapped = text.match_indices(':').nth(rng.below(64)).map(|(i, _)| {
                let end = text[i + 1..]
                    .find([',', '}', ']'])
                    .map_or(text.len(), |j| i + 1 + j);
                format!("{}{literal}{}", &text[..=i], &text[end..])
            });
            match swapped {
                Some(t) => {
                    *body = t.into_bytes();
                    format!("a value swapped for {literal}")
                }
                None => "nothing".into(),
            }
        }
        8 => {
            *body = "[".repeat(rng.pick(&[129, 10_000, 100_000])).into_bytes();
            format!("{} nested arrays", body.len())
        }
        _ => {
            let n = rng.below(2048);
            *body = rng.bytes(n);
            format!("{} random bytes", body.len())
        }
    }
}

/// Writes one raw request and reads the answer; status 0 if the connection was dropped
/// without one.
fn exchange(d: &Daemon, head: &str, body_parts: &[&[u8]]) -> Reply {
    let mut s = TcpStream::connect(&d.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    // A server may answer before it has read everything; the answer is what counts.
    let _ = s.write_all(head.as_bytes());
    for part in body_parts {
        let _ = s.write_all(part);
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    Reply::parse(&buf)
}

fn post(d: &Daemon, path: &str, headers: &str, body: &[u8], chunks: Option<&[usize]>) -> Reply {
    match chunks {
        None => exchange(
            d,
            &format!(
                "POST {path} HTTP/1.1\r\nHost: localhost\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            ),
            &[body],
        ),
        Some(cuts) => {
            let mut framed = Vec::new();
            let mut from = 0;
            for &cut in cuts.iter().chain([&body.len()]) {
                let cut = cut.clamp(from, body.len());
                if cut > from {
                    framed.extend_from_slice(format!("{:x}\r\n", cut - from).as_bytes());
                    framed.extend_from_slice(&body[from..cut]);
                    framed.extend_from_slice(b"\r\n");
                }
                from = cut;
            }
            framed.extend_from_slice(b"0\r\n\r\n");
            exchange(
                d,
                &format!(
                    "POST {path} HTTP/1.1\r\nHost: localhost\r\n{headers}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                ),
                &[&framed],
            )
        }
    }
}

/// What the daemon must answer: what the engine's decoder says of the body.
fn expected(signal: Signal, content_type: &str, gzipped: bool, body: &[u8]) -> u16 {
    let Some(encoding) = Encoding::from_content_type(content_type) else {
        return 415;
    };
    let inflated;
    let body = if gzipped {
        match otlp::gunzip(body) {
            Ok(b) => {
                inflated = b;
                &inflated[..]
            }
            Err(DecodeError::TooLarge) => return 413,
            Err(DecodeError::Invalid(_)) => return 400,
        }
    } else {
        body
    };
    match otlp::decode(signal, encoding, body) {
        Ok(_) => 200,
        Err(DecodeError::TooLarge) => 413,
        Err(DecodeError::Invalid(_)) => 400,
    }
}

/// A refusal carries a reason: a `google.rpc.Status` with a message, in JSON or protobuf.
fn assert_reason(r: &Reply, content_type: &str, what: &str) {
    if Encoding::from_content_type(content_type) == Some(Encoding::Json) {
        let v: Value = serde_json::from_str(&r.body)
            .unwrap_or_else(|e| panic!("{what}: the refusal is not JSON ({e}): {}", r.body));
        assert!(
            v["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: no message in {v}"
        );
    } else {
        assert!(
            !r.body.trim().is_empty(),
            "{what}: a refusal without a reason"
        );
    }
}

fn assert_alive(d: &mut Daemon) {
    assert!(
        d.child.try_wait().unwrap().is_none(),
        "the daemon exited: {:?}",
        d.stderr.lock().unwrap()
    );
    let logged = d.stderr.lock().unwrap().join("\n");
    assert!(
        !logged.contains("panicked"),
        "the daemon panicked:\n{logged}"
    );
}

/// `/usage` answers, its numbers are numbers (a non-finite one would be `null`) and its
/// gauges are in 0..1 or null.
fn assert_usage(d: &Daemon) -> Value {
    let r = d.get("/usage");
    assert_eq!(r.status, 200, "{}", r.body);
    let u: Value = serde_json::from_str(&r.body).unwrap();
    for path in ["/tach/tokens_per_min", "/cost/today_usd"] {
        let x = u.pointer(path).and_then(Value::as_f64);
        assert!(x.is_some_and(|x| x.is_finite() && x >= 0.0), "{path}: {u}");
    }
    for g in ["tach", "fuel", "cost", "temp"] {
        let v = &u["gauges"][g];
        assert!(
            v.is_null() || v.as_f64().is_some_and(|x| (0.0..=1.0).contains(&x)),
            "gauge {g}: {u}"
        );
    }
    u
}

const CONTENT_TYPES: &[&str] = &[
    "application/x-protobuf",
    "application/protobuf",
    "application/json",
    "application/json; charset=utf-8",
];

#[test]
fn malformed_exports_get_4xx_with_a_reason_and_the_daemon_goes_on() {
    let home = Home::new();
    std::fs::create_dir_all(home.projects()).unwrap();
    let mut d = Daemon::start(&home, &[]);
    let mut rng = Rng(SEED);
    let started = Instant::now();
    let mut tally = std::collections::BTreeMap::<u16, usize>::new();
    for case in 0..240 {
        let signal = if rng.one_in(2) {
            Signal::Metrics
        } else {
            Signal::Logs
        };
        let path = match signal {
            Signal::Metrics => "/v1/metrics",
            Signal::Logs => "/v1/logs",
        };
        // Now and then a content type that is not OTLP's, over a JSON body.
        let content_type = if rng.one_in(12) {
            rng.pick(&["text/plain", "application/octet-stream", "json"])
        } else {
            rng.pick(CONTENT_TYPES)
        };
        let encoding = Encoding::from_content_type(content_type).unwrap_or(Encoding::Json);
        let wild = rng.one_in(2);
        let make = |rng: &mut Rng| match signal {
            Signal::Metrics => encode(signal, encoding, &metrics(rng, wild)),
            Signal::Logs => encode(signal, encoding, &logs(rng, wild)),
        };
        let mut body = make(&mut rng);
        let other = make(&mut rng);
        let gzipped = rng.one_in(3);
        let mut what = Vec::new();
        // Damage before gzip (a valid stream of a bad body) or after (a bad stream).
        let damage_after = gzipped && rng.one_in(2);
        if !damage_after {
            for _ in 0..1 + rng.below(3) {
                what.push(mutate(&mut rng, &mut body, &other));
            }
        }
        if gzipped {
            body = gzip(&body);
            if damage_after {
                what.push(format!("gzip, then {}", mutate(&mut rng, &mut body, &[])));
            } else {
                what.push("gzip".into());
            }
        }
        let chunks: Option<Vec<usize>> = rng.one_in(3).then(|| {
            let mut cuts: Vec<usize> = (0..rng.below(5))
                .map(|_| rng.below(body.len() + 1))
                .collect();
            cuts.sort_unstable();
            cuts
        });
        let headers = format!(
            "Content-Type: {content_type}\r\n{}",
            if gzipped {
                "Content-Encoding: gzip\r\n"
            } else {
                ""
            }
        );
        let want = expected(signal, content_type, gzipped, &body);
        let r = post(&d, path, &headers, &body, chunks.as_deref());
        let about = format!(
            "case {case} (seed {SEED:#x}): {path} {content_type}{} {}: {}; body {} bytes {:?}…",
            if gzipped { " gzip" } else { "" },
            if chunks.is_some() {
                "chunked"
            } else {
                "with a length"
            },
            what.join(", "),
            body.len(),
            String::from_utf8_lossy(&body[..body.len().min(120)]),
        );
        assert_ne!(r.status, 0, "{about}: the connection was dropped");
        assert!(r.status < 500, "{about}: {} {}", r.status, r.body);
        assert_eq!(r.status, want, "{about}: {}", r.body);
        if r.status != 200 {
            assert_reason(&r, content_type, &about);
        }
        *tally.entry(r.status).or_default() += 1;
    }
    eprintln!(
        "240 malformed exports in {:.2?}: {tally:?}",
        started.elapsed()
    );
    assert!(tally.get(&400).copied().unwrap_or(0) > 100, "{tally:?}");
    assert_alive(&mut d);

    // A valid export still counts.
    let mut rng = Rng(SEED ^ 1);
    let body = encode(Signal::Metrics, Encoding::Json, &metrics(&mut rng, false));
    let r = d.post_bytes("/v1/metrics", "application/json", "", &body);
    assert_eq!((r.status, r.body.as_str()), (200, "{}"), "{}", r.head);
    let body = encode(Signal::Logs, Encoding::Protobuf, &logs(&mut rng, false));
    let r = d.post_bytes("/v1/logs", "application/x-protobuf", "", &body);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_usage(&d);
    assert_alive(&mut d);
}

#[test]
fn limits_and_refused_encodings() {
    let home = Home::new();
    std::fs::create_dir_all(home.projects()).unwrap();
    let mut d = Daemon::start(&home, &[]);
    let mut rng = Rng(SEED ^ 2);
    let valid = encode(Signal::Metrics, Encoding::Json, &metrics(&mut rng, false));

    // A body declared over the limit is refused before it is read.
    let r = exchange(
        &d,
        &format!(
            "POST /v1/metrics HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            BODY_LIMIT + 1
        ),
        &[],
    );
    assert_eq!(r.status, 413, "{}", r.body);
    // A body at the limit that is not OTLP is read and refused as such.
    let r = d.post_bytes("/v1/logs", "application/json", "", &vec![b' '; BODY_LIMIT]);
    assert_eq!(r.status, 400, "{}", r.body);
    // Chunked, without a length, past the limit.
    let big = vec![b' '; BODY_LIMIT + 4096];
    let r = post(
        &d,
        "/v1/metrics",
        "Content-Type: application/json\r\n",
        &big,
        Some(&[65_536, 524_288]),
    );
    assert_eq!(r.status, 413, "{}", r.body);

    // gzip that inflates past the limit, whether one member or many.
    let bomb = gzip(&vec![b' '; 8 * BODY_LIMIT]);
    let many = gzip(&vec![b' '; BODY_LIMIT / 2]).repeat(3);
    for (what, body) in [("one member", &bomb), ("three members", &many)] {
        for ct in ["application/json", "application/x-protobuf"] {
            let r = d.post_bytes("/v1/logs", ct, "Content-Encoding: gzip\r\n", body);
            assert_eq!(r.status, 413, "{what} {ct}: {}", r.body);
            assert_reason(&r, ct, what);
        }
    }
    // gzip that is not gzip.
    let r = d.post_bytes(
        "/v1/metrics",
        "application/json",
        "Content-Encoding: gzip\r\n",
        &valid,
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_reason(&r, "application/json", "not gzip");

    // Encodings and content types that are not OTLP's.
    for (headers, ct) in [
        ("Content-Encoding: br\r\n", "application/json"),
        ("Content-Encoding: deflate\r\n", "application/x-protobuf"),
        ("Content-Encoding: gzip, gzip\r\n", "application/json"),
        ("", "text/plain"),
        ("", "application/x-www-form-urlencoded"),
        ("", "application/jsonx"),
    ] {
        let r = d.post_bytes("/v1/metrics", ct, headers, &valid);
        assert_eq!(r.status, 415, "{headers}{ct}: {}", r.body);
        assert!(!r.body.trim().is_empty(), "{headers}{ct}: no reason");
    }
    let r = exchange(
        &d,
        &format!(
            "POST /v1/logs HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            valid.len()
        ),
        &[&valid],
    );
    assert_eq!(r.status, 415, "no Content-Type: {}", r.body);

    // Chunk framing that is not chunked encoding.
    for framed in [
        &b"zz\r\n{}\r\n0\r\n\r\n"[..],
        b"2\r\n{}XX\r\n0\r\n\r\n",
        b"ffffffffffffffffff\r\n{}\r\n0\r\n\r\n",
    ] {
        let r = exchange(
            &d,
            "POST /v1/metrics HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            &[framed],
        );
        assert!(
            (400..500).contains(&r.status),
            "{:?}: {} {}",
            String::from_utf8_lossy(framed),
            r.status,
            r.body
        );
    }

    // And the daemon goes on.
    let r = d.post_bytes(
        "/v1/metrics",
        "application/json",
        "Content-Encoding: gzip\r\n",
        &gzip(&valid),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let u = assert_usage(&d);
    assert!(u["fuel"]["block_tokens"].as_u64().unwrap_or(0) > 0, "{u}");
    assert_alive(&mut d);
}
