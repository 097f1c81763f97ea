//! OpenTelemetry end to end: the real daemon takes exports shaped like Claude Code's over
//! HTTP (protobuf, JSON, gzip) and gRPC, counts them per host beside the transcripts,
//! keeps them across a `kill -9`, and keeps the days of transcripts deleted since.

mod common;

use std::process::Command;

use common::{Daemon, Home, gzip, now_ns, otlp_kv as kv, otlp_metrics, otlp_protobuf, response};
use redline_engine::otlp::Signal;
use serde_json::{Value, json};

const OPUS: &str = "claude-opus-4-6";

/// A metrics export of Opus usage (see [`otlp_metrics`]).
fn metrics(
    host: Option<&str>,
    session: &str,
    temporality: u8,
    start_ns: u128,
    output: u64,
    usd: f64,
) -> Value {
    otlp_metrics(host, session, OPUS, temporality, start_ns, output, usd)
}

fn api_request(host: &str, session: &str, output: u64) -> Value {
    let at = now_ns().to_string();
    json!({"resourceLogs": [{"resource": {"attributes": [kv("host.name", host)]},
        "scopeLogs": [{"logRecords": [{"timeUnixNano": at,
            "body": {"stringValue": "claude_code.api_request"},
            "attributes": [kv("event.name", "api_request"), kv("session.id", session),
                kv("model", OPUS), kv("input_tokens", "10"),
                kv("output_tokens", &output.to_string()), kv("cache_read_tokens", "0"),
                kv("cache_creation_tokens", "0"), kv("cost_usd", "0.01"),
                kv("duration_ms", "1200")]}]}]}]})
}

fn protobuf_metrics(v: &Value) -> Vec<u8> {
    otlp_protobuf(Signal::Metrics, v)
}

fn protobuf_logs(v: &Value) -> Vec<u8> {
    otlp_protobuf(Signal::Logs, v)
}

fn post_json(d: &Daemon, path: &str, v: &Value) {
    let r = d.post_bytes(path, "application/json", "", v.to_string().as_bytes());
    assert_eq!((r.status, r.body.as_str()), (200, "{}"), "{}", r.head);
}

fn hosts(d: &Daemon) -> Vec<Value> {
    let r = d.get("/api/hosts");
    assert_eq!(r.status, 200, "{}", r.body);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    v["hosts"].as_array().unwrap().clone()
}

fn host<'a>(hosts: &'a [Value], name: &str) -> &'a Value {
    hosts
        .iter()
        .find(|h| h["host"] == name)
        .unwrap_or_else(|| panic!("no host {name} in {hosts:?}"))
}

#[test]
fn http_exports_in_every_encoding_count_per_host_beside_the_transcripts() {
    let home = Home::new();
    // A session this machine has a transcript of: 100 input + 500 output tokens.
    home.append("proj/local-session.jsonl", &response("t1", 500));
    let d = Daemon::start(&home, &[]);
    let t0 = now_ns();

    // The same session's counters: not counted again (the transcript is its record).
    post_json(
        &d,
        "/v1/metrics",
        &metrics(Some("desk"), "local-session", 1, t0, 500, 9.0),
    );
    // protobuf, delta.
    let r = d.post_bytes(
        "/v1/metrics",
        "application/x-protobuf",
        "",
        &protobuf_metrics(&metrics(Some("laptop"), "r1", 1, t0, 1000, 1.0)),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.head.contains("content-type: application/x-protobuf"),
        "{}",
        r.head
    );
    assert!(r.body.is_empty(), "an empty ExportMetricsServiceResponse");
    // gzip JSON, cumulative: 100, then 150 (+50), then the sender restarts at 30 (+30).
    for (start, output, usd) in [(t0, 100, 0.1), (t0, 150, 0.15), (t0 + 1, 30, 0.03)] {
        let body = gzip(
            metrics(Some("laptop"), "r2", 2, start, output, usd)
                .to_string()
                .as_bytes(),
        );
        let r = d.post_bytes(
            "/v1/metrics",
            "application/json",
            "Content-Encoding: gzip\r\n",
            &body,
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // A sender without host.name.
    post_json(&d, "/v1/metrics", &metrics(None, "u1", 1, t0, 7, 0.007));
    // Events: the tach reads them.
    let r = d.post_bytes(
        "/v1/logs",
        "application/x-protobuf",
        "",
        &protobuf_logs(&api_request("laptop", "r1", 2000)),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    let h = hosts(&d);
    let laptop = host(&h, "laptop");
    assert_eq!(laptop["today"]["output"], 1180, "{laptop}");
    assert_eq!(laptop["today"]["cost_usd"], 1.18);
    assert!(laptop["last_seen"].as_str().unwrap().ends_with('Z'));
    assert_eq!(host(&h, "unknown")["today"]["output"], 7);
    assert_eq!(
        host(&h, "desk")["today"]["output"],
        0,
        "its only session is a transcript's"
    );
    let local = h
        .iter()
        .find(|x| !["laptop", "unknown", "desk"].contains(&x["host"].as_str().unwrap()))
        .expect("this machine's row");
    assert_eq!(local["today"]["output"], 500);
    assert_eq!(local["today"]["input"], 100);

    let u = d.usage();
    assert_eq!(u["fuel"]["block_tokens"], 600 + 1180 + 7);
    let sum: f64 = h
        .iter()
        .map(|x| x["today"]["cost_usd"].as_f64().unwrap())
        .sum();
    let today = u["cost"]["today_usd"].as_f64().unwrap();
    assert!((sum - today).abs() < 0.001, "hosts {sum} vs /usage {today}");
    assert!(
        u["tach"]["tokens_per_min"].as_f64().unwrap() >= 2010.0,
        "{u}"
    );
    assert_eq!(u["sources"]["otlp"]["ok"], true);
    assert_eq!(d.metric(r#"redline_source_up{source="otlp"}"#), 1.0);
    assert_eq!(u["model"]["id"], OPUS, "the newest request is a sender's");
    // Counters from the daemon's start, in the collector's names.
    let out = d.metric(&format!(
        r#"claude_code_token_usage_tokens_total{{type="output",model="{OPUS}"}}"#
    ));
    assert_eq!(out, 1187.0);
    let cost = d.metric(&format!(
        r#"claude_code_cost_usage_USD_total{{model="{OPUS}"}}"#
    ));
    assert!((cost - 1.187).abs() < 1e-9, "{cost}");
}

#[test]
fn grpc_exports_metrics_and_logs() {
    let home = Home::new();
    let d = Daemon::start(&home, &["--otlp-grpc", "127.0.0.1:0"]);
    let addr = d.grpc_addr();
    let t0 = now_ns();
    let metrics_body = protobuf_metrics(&metrics(Some("laptop"), "g1", 1, t0, 42, 0.42));
    let logs_body = protobuf_logs(&api_request("laptop", "g1", 42));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let statuses = rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let (client, conn) = h2::client::handshake(tcp).await.unwrap();
        tokio::spawn(conn);
        let mut out = Vec::new();
        for (path, body) in [
            (
                "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
                metrics_body,
            ),
            (
                "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
                logs_body,
            ),
        ] {
            let mut client = client.clone().ready().await.unwrap();
            let req = http::Request::post(format!("http://{addr}{path}"))
                .header("content-type", "application/grpc")
                .header("te", "trailers")
                .body(())
                .unwrap();
            let (resp, mut send) = client.send_request(req, false).unwrap();
            let mut framed = vec![0u8];
            framed.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
            framed.extend_from_slice(&body);
            send.send_data(framed.into(), true).unwrap();
            let resp = resp.await.unwrap();
            assert_eq!(resp.status(), 200);
            let mut body = resp.into_body();
            let mut data = Vec::new();
            while let Some(chunk) = body.data().await {
                let chunk = chunk.unwrap();
                let _ = body.flow_control().release_capacity(chunk.len());
                data.extend_from_slice(&chunk);
            }
            let trailers = body.trailers().await.unwrap().unwrap_or_default();
            out.push((
                data,
                trailers
                    .get("grpc-status")
                    .map(|v| v.to_str().unwrap().to_owned()),
            ));
        }
        out
    });
    for (data, status) in statuses {
        assert_eq!(status.as_deref(), Some("0"));
        assert_eq!(data, [0, 0, 0, 0, 0], "one empty response message");
    }
    let h = hosts(&d);
    assert_eq!(host(&h, "laptop")["today"]["output"], 42);
    assert!(d.usage()["tach"]["tokens_per_min"].as_f64().unwrap() >= 52.0);
}

#[test]
fn an_acknowledged_export_survives_kill_9() {
    let home = Home::new();
    let t0 = now_ns();
    let mut d = Daemon::start(&home, &[]);
    for i in 0..20u64 {
        post_json(
            &d,
            "/v1/metrics",
            &metrics(Some("laptop"), "k", 1, t0, 10 + i, 0.01),
        );
    }
    // Cumulative too: the series' position must come back, or the next point double counts.
    post_json(
        &d,
        "/v1/metrics",
        &metrics(Some("laptop"), "c", 2, t0, 1000, 1.0),
    );
    // SIGKILL straight after the last 200.
    d.child.kill().unwrap();
    d.child.wait().unwrap();
    let d = Daemon::start(&home, &[]);
    let h = hosts(&d);
    let expected: u64 = (10..30).sum::<u64>() + 1000;
    assert_eq!(host(&h, "laptop")["today"]["output"], expected, "{h:?}");
    post_json(
        &d,
        "/v1/metrics",
        &metrics(Some("laptop"), "c", 2, t0, 1200, 1.2),
    );
    assert_eq!(
        host(&hosts(&d), "laptop")["today"]["output"],
        expected + 200
    );
    assert_eq!(d.usage()["fuel"]["block_tokens"], expected + 200);
}

/// A response line at a chosen time.
fn old_response(id: &str, at: jiff::Timestamp, output: u64) -> String {
    json!({
        "type": "assistant", "sessionId": "s", "version": "2.1.39",
        "requestId": format!("req_{id}"),
        "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "message": {"id": format!("msg_{id}"), "model": "claude-sonnet-4-5", "type": "message",
            "role": "assistant", "content": [],
            "usage": {"input_tokens": 1000, "output_tokens": output,
                      "cache_creation_input_tokens": 2000, "cache_read_input_tokens": 30000}}
    })
    .to_string()
        + "\n"
}

fn report(home: &Home, kind: &str, extra: &[&str]) -> Value {
    let out = common::succeed(
        Command::new(env!("CARGO_BIN_EXE_redline"))
            .args(["report", kind, "--json", "--timezone", "UTC"])
            .args(extra)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home.dir)
            .env("XDG_STATE_HOME", home.dir.join("state"))
            .env("CLAUDE_CONFIG_DIR", home.claude()),
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn days(v: &Value) -> Vec<(String, u64, f64)> {
    v["daily"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["date"].as_str().unwrap().to_owned(),
                d["totalTokens"].as_u64().unwrap(),
                d["totalCost"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn deleted_transcripts_keep_their_days_in_reports_stats_and_the_budget() {
    let home = Home::new();
    let now = jiff::Timestamp::now();
    let day = jiff::SignedDuration::from_hours(24);
    // Noon (UTC) 40 days ago: the old session's 90 minutes stay within one day whatever
    // the hour the test runs at.
    let forty = (now - day * 40).as_second();
    let old = jiff::Timestamp::from_second(forty - forty.rem_euclid(86_400) + 12 * 3600).unwrap();
    // Two old sessions (one with a subagent file) and a recent one.
    let mut a = String::new();
    for i in 0..30 {
        a += &old_response(
            &format!("a{i}"),
            old + jiff::SignedDuration::from_mins(i),
            400 + i as u64,
        );
    }
    home.append("proj/old-a.jsonl", &a);
    home.append(
        "proj/old-a/subagents/agent-1.jsonl",
        &old_response("sub", old + jiff::SignedDuration::from_mins(90), 77),
    );
    home.append(
        "other/old-b.jsonl",
        &old_response("b", now - day * 35, 1234),
    );
    home.append("proj/new.jsonl", &old_response("n", now - day, 10));

    let before = report(&home, "daily", &[]);
    assert_eq!(days(&before).len(), 3);
    let sessions_before = report(&home, "session", &[]);
    // The daemon rolls the transcripts up as it starts.
    let mut d = Daemon::start(&home, &[]);
    let budget = d.usage()["fuel"]["budget_tokens"].clone();
    assert!(budget.as_u64().unwrap() > 0, "a completed block: {budget}");
    d.until("the rollups to be stored", |d| {
        let s: Value = serde_json::from_str(&d.get("/api/status").body).unwrap();
        s["store"]["rollups_pending"] == 0 && s["store"]["path"].is_string()
    });
    d.child.kill().unwrap();
    d.child.wait().unwrap();

    // Claude Code cleans up: the old transcripts are gone.
    std::fs::remove_dir_all(home.projects().join("other")).unwrap();
    std::fs::remove_file(home.projects().join("proj/old-a.jsonl")).unwrap();
    std::fs::remove_dir_all(home.projects().join("proj/old-a")).unwrap();

    let only = report(&home, "daily", &["--transcripts-only"]);
    assert_eq!(days(&only).len(), 1, "on disk, one day is left");
    let after = report(&home, "daily", &[]);
    let (b, a) = (days(&before), days(&after));
    assert_eq!(b.len(), a.len(), "{a:?}");
    for (x, y) in b.iter().zip(&a) {
        assert_eq!((&x.0, x.1), (&y.0, y.1));
        assert!((x.2 - y.2).abs() < 1e-9, "{x:?} vs {y:?}");
    }
    let sessions = report(&home, "session", &[]);
    let ids = |v: &Value| -> Vec<String> {
        let mut s: Vec<String> = v["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| format!("{} {}", s["sessionId"], s["totalTokens"]))
            .collect();
        s.sort();
        s
    };
    assert_eq!(ids(&sessions), ids(&sessions_before));

    // The daemon keeps them too: the `max` budget and the deep stats.
    let d = Daemon::start(&home, &[]);
    assert_eq!(d.usage()["fuel"]["budget_tokens"], budget);
    let stats: Value = serde_json::from_str(&d.get("/api/stats/daily?days=60").body).unwrap();
    let text = stats.to_string();
    let old_date = old.strftime("%Y-%m-%d").to_string();
    assert!(text.contains(&old_date), "{old_date} missing from {text}");
    assert!(
        d.stderr
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("kept history")),
        "{:?}",
        d.stderr.lock().unwrap()
    );
}
