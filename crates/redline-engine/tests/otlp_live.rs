//! OpenTelemetry in the live state, in virtual time: export bodies shaped like Claude
//! Code's go through the decoder, the series book and the store records into a [`Live`],
//! and `/usage` and the per-host figures are read at chosen moments.

use std::path::Path;

use redline_core::LampState::{Blink, Off};
use redline_core::TokenCounts;
use redline_engine::live::{Live, Settings};
use redline_engine::otlp::{Encoding, Signal, decode};
use redline_engine::prices::{CostMode, PriceTable};
use redline_engine::store::Record;
use serde_json::{Value, json};

const ROOT: &str = "/virtual/projects";
const MODEL: &str = "claude-sonnet-4-5";

fn t(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

fn ns(at: &str) -> String {
    (i128::from(t(at)) * 1_000_000).to_string()
}

fn kv(k: &str, v: &str) -> Value {
    json!({"key": k, "value": {"stringValue": v}})
}

/// A `claude_code.token.usage` + `claude_code.cost.usage` export from `host` for
/// `session`: `tokens` = input, output, cacheRead, cacheCreation; temporality 1 = delta,
/// 2 = cumulative.
fn metrics(
    host: Option<&str>,
    session: &str,
    temporality: u8,
    start: &str,
    at: &str,
    tokens: [u64; 4],
    usd: f64,
) -> Vec<u8> {
    let point = |kind: &str, n: u64| {
        json!({"attributes": [kv("session.id", session), kv("type", kind), kv("model", MODEL),
                              kv("user.id", "u1"), kv("terminal.type", "vscode")],
               "startTimeUnixNano": ns(start), "timeUnixNano": ns(at), "asInt": n.to_string()})
    };
    let mut resource = vec![kv("service.name", "claude-code")];
    if let Some(h) = host {
        resource.push(kv("host.name", h));
    }
    json!({"resourceMetrics": [{"resource": {"attributes": resource}, "scopeMetrics": [{
    "scope": {"name": "com.anthropic.claude_code", "version": "2.1.39"},
    "metrics": [
        {"name": "claude_code.token.usage", "unit": "tokens", "sum": {
            "aggregationTemporality": temporality, "isMonotonic": true,
            "dataPoints": [point("input", tokens[0]), point("output", tokens[1]),
                           point("cacheRead", tokens[2]), point("cacheCreation", tokens[3])]}},
        {"name": "claude_code.cost.usage", "unit": "USD", "sum": {
            "aggregationTemporality": temporality, "isMonotonic": true,
            "dataPoints": [{"attributes": [kv("session.id", session), kv("model", MODEL)],
                "startTimeUnixNano": ns(start), "timeUnixNano": ns(at), "asDouble": usd}]}}
    ]}]}]})
    .to_string()
    .into_bytes()
}

fn log(host: &str, session: &str, at: &str, name: &str, attrs: &[(&str, &str)]) -> Vec<u8> {
    let mut a = vec![
        kv("event.name", name),
        kv("session.id", session),
        kv("event.timestamp", at),
    ];
    a.extend(attrs.iter().map(|(k, v)| kv(k, v)));
    json!({"resourceLogs": [{"resource": {"attributes": [kv("host.name", host)]},
        "scopeLogs": [{"logRecords": [{"timeUnixNano": ns(at),
            "body": {"stringValue": format!("claude_code.{name}")}, "attributes": a}]}]}]})
    .to_string()
    .into_bytes()
}

struct Daemon {
    live: Live,
    settings: Settings,
    /// Every record "stored", as the store would replay them.
    stored: Vec<Record>,
}

impl Daemon {
    fn new() -> Daemon {
        Daemon {
            live: Live::new(PriceTable::bundled(), CostMode::Auto),
            settings: Settings::default(),
            stored: Vec::new(),
        }
    }
    fn post_metrics(&mut self, body: &[u8], received: &str) {
        let batch = decode(Signal::Metrics, Encoding::Json, body).unwrap();
        let records = self.live.otlp_records(&batch, t(received));
        for r in &records {
            self.live.apply_record(r);
        }
        self.stored.extend(records);
    }
    fn post_logs(&mut self, body: &[u8], received: &str) {
        let batch = decode(Signal::Logs, Encoding::Json, body).unwrap();
        self.live.otlp_events(&batch.events, t(received));
    }
    fn transcript(&mut self, session: &str, at: &str, id: &str, tokens: [u64; 4]) {
        let root = Path::new(ROOT);
        let f = self
            .live
            .file_id(root, &root.join(format!("p/{session}.jsonl")))
            .unwrap();
        let line = json!({"type": "assistant", "sessionId": session, "timestamp": at,
            "requestId": format!("req_{id}"),
            "message": {"id": format!("msg_{id}"), "model": MODEL, "usage": {
                "input_tokens": tokens[0], "output_tokens": tokens[1],
                "cache_creation_input_tokens": tokens[2], "cache_read_input_tokens": tokens[3]}}});
        self.live.ingest(f, 1, line.to_string().as_bytes()).unwrap();
    }
    fn restarted(&self) -> Daemon {
        let mut d = Daemon::new();
        for r in &self.stored {
            d.live.apply_record(r);
        }
        d.stored = self.stored.clone();
        d
    }
}

#[test]
fn deltas_from_two_hosts_add_up_and_each_host_has_its_day() {
    let mut d = Daemon::new();
    let s = "2026-11-23T10:00:00Z";
    d.post_metrics(
        &metrics(
            Some("desk"),
            "a",
            1,
            s,
            "2026-11-23T10:00:05Z",
            [100, 50, 1000, 10],
            0.5,
        ),
        "2026-11-23T10:00:06Z",
    );
    d.post_metrics(
        &metrics(
            Some("desk"),
            "a",
            1,
            "2026-11-23T10:00:05Z",
            "2026-11-23T10:00:10Z",
            [1, 2, 3, 4],
            0.25,
        ),
        "2026-11-23T10:00:11Z",
    );
    d.post_metrics(
        &metrics(
            Some("laptop"),
            "b",
            1,
            s,
            "2026-11-23T10:00:07Z",
            [10, 20, 0, 0],
            1.0,
        ),
        "2026-11-23T10:00:08Z",
    );
    d.post_metrics(
        &metrics(None, "c", 1, s, "2026-11-23T10:00:07Z", [5, 5, 0, 0], 0.125),
        "2026-11-23T10:00:08Z",
    );
    let u = d.live.usage(t("2026-11-23T10:00:30Z"), &d.settings);
    assert_eq!(u.cost.today_usd, 1.875, "0.5 + 0.25 + 1 + 0.125");
    // A block counts every kind of token, cache reads too, as ccusage does.
    let all = (100 + 50 + 1000 + 10) + (1 + 2 + 3 + 4) + 30 + 10;
    assert_eq!(u.fuel.block_tokens, Some(all));
    assert_eq!(u.sources.otlp.ok, Some(true));
    assert_eq!(
        u.sources.otlp.last_event_at.as_deref(),
        Some("2026-11-23T10:00:10Z")
    );
    // No api_request events: the tach reads the counters' deltas.
    assert!(u.tach.tokens_per_min > 0.0);

    let hosts = d
        .live
        .hosts_today(t("2026-11-23T10:00:30Z"), &d.settings.tz, "here");
    let names: Vec<&str> = hosts.iter().map(|h| h.host.as_str()).collect();
    assert_eq!(
        names,
        ["desk", "laptop", "unknown"],
        "no transcripts: no local row"
    );
    assert_eq!(hosts[0].tokens, TokenCounts::new(101, 52, 14, 1003));
    assert_eq!(hosts[0].last_seen_ms, Some(t("2026-11-23T10:00:11Z")));
    let sum: f64 = hosts.iter().map(|h| h.cost_usd).sum();
    assert!((sum - 1.875).abs() < 1e-9);
    // Tomorrow, today is empty but the hosts are still known.
    let later = d
        .live
        .hosts_today(t("2026-11-24T10:00:00Z"), &d.settings.tz, "here");
    assert_eq!(later.len(), 3);
    assert!(later.iter().all(|h| h.tokens.total() == 0));

    // A restart replays the stored records into the same figures.
    let mut again = d.restarted();
    let v = again.live.usage(t("2026-11-23T10:00:30Z"), &again.settings);
    assert_eq!(
        (v.cost.today_usd, v.fuel.block_tokens),
        (u.cost.today_usd, u.fuel.block_tokens)
    );
    assert_eq!(
        again
            .live
            .hosts_today(t("2026-11-23T10:00:30Z"), &again.settings.tz, "here"),
        hosts
    );
}

#[test]
fn cumulative_counters_count_differences_across_a_sender_restart_and_a_daemon_restart() {
    let mut d = Daemon::new();
    let s1 = "2026-11-23T10:00:00Z";
    d.post_metrics(
        &metrics(
            Some("desk"),
            "a",
            2,
            s1,
            "2026-11-23T10:01:00Z",
            [100, 10, 0, 0],
            1.0,
        ),
        "2026-11-23T10:01:00Z",
    );
    d.post_metrics(
        &metrics(
            Some("desk"),
            "a",
            2,
            s1,
            "2026-11-23T10:02:00Z",
            [150, 20, 0, 0],
            1.5,
        ),
        "2026-11-23T10:02:00Z",
    );
    // The same export again (a retry) adds nothing.
    d.post_metrics(
        &metrics(
            Some("desk"),
            "a",
            2,
            s1,
            "2026-11-23T10:02:00Z",
            [150, 20, 0, 0],
            1.5,
        ),
        "2026-11-23T10:02:01Z",
    );
    let now = t("2026-11-23T10:03:00Z");
    assert_eq!(d.live.usage(now, &d.settings).fuel.block_tokens, Some(170));
    // The daemon restarts: the series' position comes back from the store.
    let mut d = d.restarted();
    d.post_metrics(
        &metrics(
            Some("desk"),
            "a",
            2,
            s1,
            "2026-11-23T10:04:00Z",
            [160, 20, 0, 0],
            1.6,
        ),
        "2026-11-23T10:04:00Z",
    );
    assert_eq!(
        d.live
            .usage(t("2026-11-23T10:05:00Z"), &d.settings)
            .fuel
            .block_tokens,
        Some(180)
    );
    // Claude Code restarts: a new start time, the counter begins again at 7, not -153.
    let s2 = "2026-11-23T10:06:00Z";
    d.post_metrics(
        &metrics(
            Some("desk"),
            "a",
            2,
            s2,
            "2026-11-23T10:07:00Z",
            [7, 0, 0, 0],
            0.1,
        ),
        "2026-11-23T10:07:00Z",
    );
    let u = d.live.usage(t("2026-11-23T10:08:00Z"), &d.settings);
    assert_eq!(u.fuel.block_tokens, Some(187));
    assert_eq!(u.cost.today_usd, 1.7);
}

#[test]
fn a_session_with_transcripts_is_counted_from_them_only_whichever_came_first() {
    let mut d = Daemon::new();
    d.transcript("local", "2026-11-23T10:00:01Z", "1", [100, 10, 0, 0]);
    // Its counters arrive too: ignored.
    d.post_metrics(
        &metrics(
            Some("desk"),
            "local",
            1,
            "2026-11-23T10:00:00Z",
            "2026-11-23T10:00:05Z",
            [100, 10, 0, 0],
            9.0,
        ),
        "2026-11-23T10:00:06Z",
    );
    // A remote session's counters count.
    d.post_metrics(
        &metrics(
            Some("laptop"),
            "remote",
            1,
            "2026-11-23T10:00:00Z",
            "2026-11-23T10:00:05Z",
            [5, 5, 0, 0],
            0.5,
        ),
        "2026-11-23T10:00:06Z",
    );
    // Counters first, transcript after: the transcript takes over.
    d.post_metrics(
        &metrics(
            Some("desk"),
            "late",
            1,
            "2026-11-23T10:00:00Z",
            "2026-11-23T10:00:08Z",
            [40, 4, 0, 0],
            3.0,
        ),
        "2026-11-23T10:00:09Z",
    );
    let now = t("2026-11-23T10:00:30Z");
    assert_eq!(
        d.live.usage(now, &d.settings).fuel.block_tokens,
        Some(110 + 10 + 44)
    );
    d.transcript("late", "2026-11-23T10:00:07Z", "2", [40, 4, 0, 0]);
    let u = d.live.usage(now, &d.settings);
    assert_eq!(
        u.fuel.block_tokens,
        Some(110 + 10 + 44),
        "late counted once"
    );
    let hosts = d.live.hosts_today(now, &d.settings.tz, "desk");
    let desk = hosts.iter().find(|h| h.host == "desk").unwrap();
    assert_eq!(desk.tokens.total(), 154, "this machine's transcripts");
    let laptop = hosts.iter().find(|h| h.host == "laptop").unwrap();
    assert_eq!((laptop.tokens.total(), laptop.cost_usd), (10, 0.5));
    let sum: f64 = hosts.iter().map(|h| h.cost_usd).sum();
    assert!(
        (sum - u.cost.today_usd).abs() < 0.006,
        "{sum} vs {}",
        u.cost.today_usd
    );
}

#[test]
fn api_request_events_drive_the_tach_and_api_errors_light_check() {
    let mut d = Daemon::new();
    let req = |at: &str, out: &str| {
        log(
            "laptop",
            "r",
            at,
            "api_request",
            &[
                ("model", "claude-opus-4-6"),
                ("input_tokens", "1000"),
                ("output_tokens", out),
                ("cache_read_tokens", "50000"),
                ("cache_creation_tokens", "0"),
                ("cost_usd", "0.1"),
                ("duration_ms", "4000"),
                ("request_id", "req_x"),
            ],
        )
    };
    d.post_logs(&req("2026-11-23T10:00:10Z", "4000"), "2026-11-23T10:00:11Z");
    d.post_logs(&req("2026-11-23T10:00:40Z", "2000"), "2026-11-23T10:00:41Z");
    // The counters of the same requests, a minute later: totals, not the tach.
    d.post_metrics(
        &metrics(
            Some("laptop"),
            "r",
            1,
            "2026-11-23T10:00:00Z",
            "2026-11-23T10:00:59Z",
            [2000, 6000, 100000, 0],
            0.2,
        ),
        "2026-11-23T10:01:00Z",
    );
    let u = d.live.usage(t("2026-11-23T10:00:50Z"), &d.settings);
    assert_eq!(
        u.tach.tokens_per_min, 8000.0,
        "1000+4000 and 1000+2000; cache reads do not count"
    );
    assert_eq!(u.model.id.as_deref(), Some("claude-opus-4-6"));
    assert_eq!(u.lamps.stall, Off);
    let u = d.live.usage(t("2026-11-23T10:01:20Z"), &d.settings);
    assert_eq!(u.tach.tokens_per_min, 3000.0);
    assert_eq!(u.fuel.block_tokens, Some(108_000));
    d.post_logs(
        &log(
            "laptop",
            "r",
            "2026-11-23T10:02:00Z",
            "api_error",
            &[("error", "overloaded"), ("status_code", "529")],
        ),
        "2026-11-23T10:02:01Z",
    );
    assert_eq!(
        d.live
            .usage(t("2026-11-23T10:02:05Z"), &d.settings)
            .lamps
            .stall,
        Blink
    );
    assert_eq!(
        d.live
            .usage(t("2026-11-23T10:07:01Z"), &d.settings)
            .lamps
            .stall,
        Off
    );
}
