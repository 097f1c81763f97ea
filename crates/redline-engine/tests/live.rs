//! The values, gauges and lamps of the live state, pinned in virtual time: each test
//! writes transcript lines with chosen timestamps into a [`Live`] and reads `/usage` at
//! chosen moments. No clock is read anywhere, so every rule is checked at its edges.

use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;
use redline_core::Dial;
use redline_core::LampState::{Blink, Off, On, Pulse};
use redline_engine::ledger::FileId;
use redline_engine::live::{Budget, Live, Settings, SourceHealth};
use redline_engine::prices::{CostMode, PriceTable};
use redline_engine::roots::{Root, list_transcripts};
use redline_engine::scan::scan;
use redline_engine::usage::Usage;
use serde_json::{Value, json};

const ROOT: &str = "/virtual/projects";

/// Milliseconds of an RFC 3339 time.
fn t(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

fn iso(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// One response line.
#[derive(Clone)]
struct R {
    ms: i64,
    id: String,
    model: &'static str,
    /// input, output, cache writes, cache reads.
    tokens: [u64; 4],
    sidechain: bool,
    extra: Vec<(&'static str, Value)>,
    content: Value,
}

fn r(at: &str, id: &str, tokens: [u64; 4]) -> R {
    R {
        ms: t(at),
        id: id.into(),
        model: "claude-sonnet-4-5",
        tokens,
        sidechain: false,
        extra: Vec::new(),
        content: json!([{"type": "text", "text": "ok"}]),
    }
}

impl R {
    fn model(mut self, m: &'static str) -> R {
        self.model = m;
        self
    }
    fn sidechain(mut self) -> R {
        self.sidechain = true;
        self
    }
    /// The line's content blocks (Claude Code writes one block a line).
    fn content(mut self, blocks: Value) -> R {
        self.content = blocks;
        self
    }
    fn line(&self) -> String {
        let [input, output, cw, cr] = self.tokens;
        let mut v = json!({
            "type": "assistant",
            "isSidechain": self.sidechain,
            "sessionId": "s",
            "version": "2.1.39",
            "requestId": format!("req_{}", self.id),
            "timestamp": iso(self.ms),
            "message": {
                "id": format!("msg_{}", self.id),
                "model": self.model,
                "type": "message",
                "role": "assistant",
                "content": self.content,
                "usage": {"input_tokens": input, "output_tokens": output,
                          "cache_creation_input_tokens": cw, "cache_read_input_tokens": cr}
            }
        });
        for (k, val) in &self.extra {
            v[*k] = val.clone();
        }
        v.to_string()
    }
}

/// An API-error line as Claude Code writes it: synthetic model, zero usage.
fn api_error(at: &str, id: &str, text: &str) -> String {
    json!({
        "type": "assistant", "isSidechain": false, "sessionId": "s", "version": "2.1.39",
        "timestamp": iso(t(at)), "isApiErrorMessage": true,
        "message": {"id": format!("msg_{id}"), "model": "<synthetic>", "type": "message",
            "role": "assistant", "content": [{"type": "text", "text": text}],
            "usage": {"input_tokens": 0, "output_tokens": 0,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}
    })
    .to_string()
}

struct Scenario {
    live: Live,
    settings: Settings,
    lines: u64,
}

impl Scenario {
    fn new() -> Scenario {
        Scenario {
            live: Live::new(PriceTable::bundled(), CostMode::Auto),
            settings: Settings::default(),
            lines: 0,
        }
    }
    fn file(&mut self, rel: &str) -> FileId {
        let root = Path::new(ROOT);
        self.live.file_id(root, &root.join(rel)).unwrap()
    }
    fn write_to(&mut self, rel: &str, line: &str) {
        let f = self.file(rel);
        self.lines += 1;
        self.live.ingest(f, self.lines, line.as_bytes()).unwrap();
    }
    fn write(&mut self, line: &str) {
        self.write_to("p/session-a.jsonl", line);
    }
    fn respond(&mut self, resp: R) {
        self.write(&resp.line());
    }
    fn at(&mut self, when: &str) -> Usage {
        self.live.usage(t(when), &self.settings)
    }
}

#[test]
fn nothing_read_yet_every_key_is_there_and_unknowns_are_null() {
    let mut s = Scenario::new();
    let u = s.at("2026-11-23T12:00:00Z");
    let v = serde_json::to_value(&u).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    for key in [
        "version",
        "rate_1m",
        "window_5h_tokens",
        "window_5h_pct",
        "thinking_ratio",
        "cache_hit_rate",
        "last_model",
        "hot",
        "warn",
        "stall",
        "idle",
        "updated_at",
        "final",
        "sources",
        "tach",
        "fuel",
        "thinking",
        "cache",
        "cost",
        "context",
        "model",
        "turn",
        "needles",
        "gauges",
        "lamps",
    ] {
        assert!(keys.contains(&key), "{key} missing: {v}");
    }
    assert_eq!(v["version"], 2);
    assert_eq!(v["updated_at"], "2026-11-23T12:00:00Z");
    assert_eq!(v["final"], true, "nothing to catch up with: final");
    assert_eq!(v["rate_1m"], 0.0);
    assert!(
        v["window_5h_pct"].is_null(),
        "no completed block, no budget: {v}"
    );
    assert!(v["thinking_ratio"].is_null() && v["cache_hit_rate"].is_null());
    assert!(v["last_model"].is_null());
    assert!(v["fuel"]["budget_tokens"].is_null());
    assert!(v["fuel"]["block_start"].is_null());
    assert!(v["context"]["used_tokens"].is_null());
    assert!(v["model"]["id"].is_null() && v["model"]["color"].is_null());
    assert!(v["thinking"]["basis"].is_null());
    assert_eq!(v["needles"], json!(["fuel", "tach", "temp", "boost"]));
    assert_eq!(
        v["gauges"],
        json!({"fuel": null, "tach": 0.0, "temp": null, "boost": null})
    );
    // Nothing ever heard: IDLE breathes, nothing else is lit.
    assert_eq!(
        v["lamps"],
        json!({"model":"off","hot":"off","warn":"off","stall":"off","idle":"pulse"})
    );
    let flags = [&v["hot"], &v["warn"], &v["stall"], &v["idle"]];
    assert_eq!(
        flags,
        [&json!(false), &json!(false), &json!(false), &json!(true)]
    );
    for source in ["jsonl", "otlp", "prometheus", "statusline", "hooks"] {
        assert!(v["sources"][source].get("configured").is_some(), "{source}");
    }
    assert_eq!(v["sources"]["jsonl"]["ok"], true);
    assert!(
        v["sources"]["prometheus"]["ok"].is_null(),
        "not configured: ok is null"
    );
    assert!(v["sources"]["hooks"]["ok"].is_null());
    let gauge = serde_json::to_string(&u.gauge_report()).unwrap();
    assert!(gauge.len() < 256, "{} bytes: {gauge}", gauge.len());
    assert_eq!(
        gauge,
        r#"{"version":2,"needles":[null,0.0,null,null],"lamps":["off","off","off","off","pulse"],"color":null}"#
    );
}

#[test]
fn tach_crosses_the_redline_then_full_scale_then_decays() {
    let mut s = Scenario::new();
    // 19,999 tach tokens (cache reads do not count) in the minute before noon.
    s.respond(r(
        "2026-11-23T11:59:30Z",
        "a",
        [9_999, 5_000, 5_000, 900_000],
    ));
    let u = s.at("2026-11-23T12:00:00Z");
    assert_eq!(
        (u.tach.tokens_per_min, u.rate_1m),
        (19_999.0, Some(19_999.0))
    );
    assert_eq!(u.lamps.hot, Off);
    s.respond(r("2026-11-23T11:59:40Z", "b", [1, 0, 0, 0]));
    let u = s.at("2026-11-23T12:00:00Z");
    assert_eq!(
        (u.tach.tokens_per_min, u.lamps.hot, u.hot),
        (20_000.0, On, true)
    );
    assert!((u.gauges.get(Dial::Tach).unwrap() - 0.8).abs() < 1e-6);
    s.respond(r("2026-11-23T11:59:50Z", "c", [5_001, 0, 0, 0]));
    let u = s.at("2026-11-23T12:00:00Z");
    assert_eq!((u.lamps.hot, u.gauges.get(Dial::Tach)), (Blink, Some(1.0)));
    // The oldest response leaves the 60 s window at 12:00:30.
    let u = s.at("2026-11-23T12:00:30.001Z");
    assert_eq!(u.tach.tokens_per_min, 5_002.0);
    assert_eq!(u.lamps.hot, Off);
    assert_eq!(s.at("2026-11-23T12:01:00Z").tach.tokens_per_min, 0.0);
    // A wider window averages over more time.
    s.settings.tach_window_s = 120;
    assert_eq!(
        s.at("2026-11-23T12:00:00Z").tach.tokens_per_min,
        25_001.0 / 2.0
    );
}

#[test]
fn streamed_copies_count_once_with_the_final_output() {
    let mut s = Scenario::new();
    for out in [1, 1, 734] {
        s.respond(r("2026-11-23T11:59:59Z", "x", [10, out, 0, 0]));
    }
    let u = s.at("2026-11-23T12:00:00Z");
    assert_eq!(u.tach.tokens_per_min, 744.0);
    let c = &s.live.counters()["claude-sonnet-4-5"];
    assert_eq!((c.tokens.input, c.tokens.output), (10, 734));
    assert_eq!(s.live.stats().responses, 1);
    assert_eq!(s.live.stats().duplicates, 2);
}

/// History: a completed 1M-token block two days before (behind the horizon), and today's
/// block opened at 10:xx.
fn with_history(s: &mut Scenario) {
    s.respond(r("2026-11-21T09:10:00Z", "old1", [400_000, 100_000, 0, 0]));
    s.respond(r("2026-11-21T11:00:00Z", "old2", [500_000, 0, 0, 0]));
}

#[test]
fn fuel_and_warn_against_the_largest_completed_block() {
    let mut s = Scenario::new();
    with_history(&mut s);
    let u = s.at("2026-11-23T12:00:00Z");
    assert_eq!(u.fuel.budget_tokens, Some(1_000_000));
    assert_eq!(
        (u.fuel.remaining, u.window_5h_pct, u.gauges.get(Dial::Fuel)),
        (Some(1.0), Some(0.0), Some(1.0)),
        "no open block: full"
    );
    assert_eq!(u.window_5h_tokens, Some(0));
    assert!(u.fuel.block_start.is_none());
    s.respond(r("2026-11-23T10:20:00Z", "n1", [790_000, 0, 0, 0]));
    let u = s.at("2026-11-23T12:00:00Z");
    assert_eq!(u.fuel.block_start.as_deref(), Some("2026-11-23T10:00:00Z"));
    assert_eq!(u.fuel.block_end.as_deref(), Some("2026-11-23T15:00:00Z"));
    assert_eq!(
        (u.fuel.block_tokens, u.window_5h_tokens),
        (Some(790_000), Some(790_000))
    );
    assert_eq!((u.window_5h_pct, u.lamps.warn), (Some(0.79), Off));
    assert_eq!(
        (u.fuel.basis, u.fuel.source),
        (Some("estimate"), Some("jsonl"))
    );
    s.respond(r("2026-11-23T10:30:00Z", "n2", [10_000, 0, 0, 0]));
    let u = s.at("2026-11-23T12:00:00Z");
    assert_eq!(
        (u.window_5h_pct, u.fuel.remaining, u.lamps.warn),
        (Some(0.8), Some(0.2), On)
    );
    assert!(u.warn);
    s.respond(r("2026-11-23T11:00:00Z", "n3", [150_000, 0, 0, 0]));
    let u = s.at("2026-11-23T12:00:00Z");
    assert_eq!((u.window_5h_pct, u.lamps.warn), (Some(0.95), Blink));
    assert!(u.fuel.projected_tokens.unwrap() > 950_000);
    // Past the budget the needle rests on E, never below.
    s.respond(r("2026-11-23T11:30:00Z", "n4", [500_000, 0, 0, 0]));
    let u = s.at("2026-11-23T12:00:00Z");
    assert_eq!(
        (u.fuel.remaining, u.gauges.get(Dial::Fuel)),
        (Some(0.0), Some(0.0))
    );
    // A fixed budget replaces `max`.
    s.settings.budget = Budget::Tokens(10_000_000);
    let u = s.at("2026-11-23T12:00:00Z");
    assert_eq!(u.fuel.budget_tokens, Some(10_000_000));
    assert_eq!(u.lamps.warn, Off);
}

#[test]
fn the_largest_block_is_the_same_whether_it_lies_behind_the_horizon_or_not() {
    // The same two blocks, read at two moments: once the old block is two days back (walked
    // before the horizon), once only hours back (walked with the recent responses).
    let mut s = Scenario::new();
    s.respond(r("2026-11-23T01:10:00Z", "a", [700_000, 0, 0, 0]));
    s.respond(r("2026-11-23T07:00:00Z", "b", [300_000, 0, 0, 0]));
    assert_eq!(
        s.at("2026-11-23T08:00:00Z").fuel.budget_tokens,
        Some(700_000)
    );
    assert_eq!(
        s.at("2026-11-26T08:00:00Z").fuel.budget_tokens,
        Some(700_000)
    );
    // A block that closes while we watch joins the history.
    assert_eq!(
        s.at("2026-11-23T12:00:01Z").fuel.budget_tokens,
        Some(700_000)
    );
    s.respond(r("2026-11-23T08:00:00Z", "c", [600_000, 0, 0, 0]));
    assert_eq!(
        s.at("2026-11-23T13:00:00Z").fuel.budget_tokens,
        Some(900_000)
    );
    // A response from long ago arriving late (a copied-in transcript) redoes the past.
    s.respond(r("2026-10-01T12:00:00Z", "late", [5_000_000, 0, 0, 0]));
    assert_eq!(
        s.at("2026-11-23T13:00:00Z").fuel.budget_tokens,
        Some(5_000_000)
    );
}

#[test]
fn block_rollover_after_five_hours_and_after_a_gap() {
    let mut s = Scenario::new();
    with_history(&mut s);
    s.respond(r("2026-11-23T10:10:00Z", "a", [1_000, 0, 0, 0]));
    s.respond(r("2026-11-23T14:59:00Z", "b", [2_000, 0, 0, 0]));
    let u = s.at("2026-11-23T14:59:59Z");
    assert_eq!(u.fuel.block_start.as_deref(), Some("2026-11-23T10:00:00Z"));
    assert_eq!(u.fuel.block_tokens, Some(3_000));
    // At the block's end nothing is open: full tank.
    let u = s.at("2026-11-23T15:00:00Z");
    assert_eq!((u.fuel.block_tokens, u.fuel.remaining), (None, Some(1.0)));
    // Activity after the end opens the next block at its own hour.
    s.respond(r("2026-11-23T15:05:00Z", "c", [4_000, 0, 0, 0]));
    let u = s.at("2026-11-23T15:10:00Z");
    assert_eq!(u.fuel.block_start.as_deref(), Some("2026-11-23T15:00:00Z"));
    assert_eq!(u.fuel.block_tokens, Some(4_000));
    assert_eq!(u.cost.block_usd, Some(0.012));
    // More than five hours of quiet: the block is no longer active.
    let u = s.at("2026-11-23T20:05:01Z");
    assert!(u.fuel.block_start.is_none());
}

#[test]
fn usage_limit_blinks_warn_until_its_reset_and_api_errors_blink_stall_for_five_minutes() {
    let mut s = Scenario::new();
    with_history(&mut s);
    s.respond(r("2026-11-23T10:10:00Z", "a", [1_000, 0, 0, 0]));
    let reset = t("2026-11-23T15:00:00Z") / 1000;
    s.write(&api_error(
        "2026-11-23T12:00:00Z",
        "err",
        &format!("Claude AI usage limit reached|{reset}"),
    ));
    let u = s.at("2026-11-23T12:00:10Z");
    assert_eq!(u.lamps.warn, Blink);
    assert_eq!(
        u.fuel.limit_reset_at.as_deref(),
        Some("2026-11-23T15:00:00Z")
    );
    assert_eq!(u.lamps.stall, Blink);
    // The error does not move MODEL.
    assert_eq!(u.model.family, Some("sonnet"));
    assert_eq!(s.at("2026-11-23T12:04:59Z").lamps.stall, Blink);
    assert_eq!(s.at("2026-11-23T12:05:01Z").lamps.stall, Off);
    assert_eq!(
        s.at("2026-11-23T14:59:59Z").lamps.warn,
        Blink,
        "the reset is still ahead"
    );
    let u = s.at("2026-11-23T15:00:01Z");
    assert_eq!((u.lamps.warn, u.fuel.limit_reset_at), (Off, None));
}

#[test]
fn a_failing_source_blinks_stall_and_says_why() {
    let mut s = Scenario::new();
    s.live.set_health(SourceHealth {
        error: Some("cannot watch /x: permission denied".into()),
    });
    let u = s.at("2026-11-23T12:00:00Z");
    assert_eq!((u.lamps.stall, u.stall), (Blink, true));
    assert_eq!(u.sources.jsonl.ok, Some(false));
    assert_eq!(
        u.sources.jsonl.error.as_deref(),
        Some("cannot watch /x: permission denied")
    );
    s.live.set_health(SourceHealth::default());
    assert_eq!(s.at("2026-11-23T12:00:00Z").lamps.stall, Off);
}

#[test]
fn cost_today_turns_over_at_local_midnight() {
    let mut s = Scenario::new();
    s.settings.tz = TimeZone::get("America/New_York").unwrap();
    // 23:59 and 00:01 in New York (UTC-5 in November).
    s.respond(r("2026-11-24T04:59:00Z", "late", [100_000, 0, 0, 0]));
    s.respond(r("2026-11-24T05:01:00Z", "early", [0, 10_000, 0, 0]));
    assert_eq!(s.at("2026-11-24T04:59:30Z").cost.today_usd, 0.3);
    assert_eq!(s.at("2026-11-24T05:02:00Z").cost.today_usd, 0.15);
    // In UTC both fall on the 24th.
    s.settings.tz = TimeZone::UTC;
    assert_eq!(s.at("2026-11-24T05:02:00Z").cost.today_usd, 0.45);
    s.settings.scales.cost_full_scale_usd = 0.9;
    s.settings.needles = [Dial::Cost, Dial::Tach, Dial::Context, Dial::Weekly];
    let u = s.at("2026-11-24T05:02:00Z");
    assert_eq!(u.gauges.get(Dial::Cost), Some(0.5));
    assert_eq!(u.needles, ["cost", "tach", "context", "weekly"]);
    assert_eq!(
        u.gauge_report().needles[0],
        Some(0.5),
        "the first needle shows COST"
    );
}

#[test]
fn context_and_model_follow_the_main_chain_only() {
    let mut s = Scenario::new();
    s.settings.needles = [Dial::Fuel, Dial::Tach, Dial::Context, Dial::Boost];
    s.respond(r("2026-11-23T12:00:00Z", "m", [100, 10, 20_000, 140_000]).model("claude-opus-4-6"));
    s.write_to(
        "p/session-a/subagents/agent-1.jsonl",
        &r("2026-11-23T12:00:05Z", "sub", [50_000, 10, 0, 150_000])
            .model("claude-haiku-4-5")
            .sidechain()
            .line(),
    );
    let u = s.at("2026-11-23T12:00:10Z");
    assert_eq!(
        (u.model.family, u.model.id.as_deref(), u.last_model),
        (Some("opus"), Some("claude-opus-4-6"), Some("opus"))
    );
    assert_eq!(u.lamps.model, On);
    assert_eq!(
        u.model.color.map(|c| c.to_string()).as_deref(),
        Some("#e0301e")
    );
    assert_eq!(u.gauge_report().color, u.model.color);
    assert_eq!(u.context.used_tokens, Some(160_100));
    assert_eq!(u.context.window_tokens, Some(200_000));
    assert_eq!(u.context.session_id.as_deref(), Some("session-a"));
    assert_eq!(u.gauges.get(Dial::Context), Some(0.8005));
    // The subagent's tokens still count on the tach (input, output, cache writes).
    assert_eq!(u.tach.tokens_per_min, 20_110.0 + 50_010.0);
    s.respond(r("2026-11-23T12:01:00Z", "m2", [100, 10, 0, 190_000]).model("claude-sonnet-4-5"));
    let u = s.at("2026-11-23T12:01:00Z");
    assert_eq!((u.lamps.model, u.last_model), (On, Some("sonnet")));
    assert_eq!(
        u.model.color.map(|c| c.to_string()).as_deref(),
        Some("#ff9f1c")
    );
    // A `<synthetic>` line is not the main chain's model.
    s.respond(r("2026-11-23T12:02:00Z", "syn", [0, 0, 0, 0]).model("<synthetic>"));
    assert_eq!(s.at("2026-11-23T12:02:00Z").last_model, Some("sonnet"));
}

#[test]
fn after_the_stale_limit_model_context_thinking_and_cache_are_unknown() {
    let mut s = Scenario::new();
    s.respond(r("2026-11-23T12:00:00Z", "m", [100, 10, 20_000, 140_000]).model("claude-opus-4-6"));
    let fresh = s.at("2026-11-23T16:59:59Z");
    assert_eq!(fresh.lamps.model, On);
    assert!(fresh.context.used_tokens.is_some() && fresh.cache_hit_rate.is_some());
    assert!(fresh.thinking_ratio.is_some());
    let stale = s.at("2026-11-23T17:00:00Z");
    assert_eq!(
        (stale.lamps.model, stale.last_model, stale.model.color),
        (Off, None, None)
    );
    assert_eq!(stale.model.id, None);
    assert!(stale.context.used_tokens.is_none() && stale.context.session_id.is_none());
    assert!(stale.cache_hit_rate.is_none() && stale.thinking_ratio.is_none());
    assert!(stale.gauges.get(Dial::Boost).is_none() && stale.gauges.get(Dial::Temp).is_none());
    // REDLINE_STALE_AFTER moves the limit.
    s.settings.thresholds.stale_after_ms = 60_000;
    assert_eq!(s.at("2026-11-23T12:01:00Z").lamps.model, Off);
}

#[test]
fn a_file_read_again_from_its_start_counts_nothing_twice() {
    let mut s = Scenario::new();
    let f = s.file("p/session-a.jsonl");
    let keyed = r("2026-11-23T12:00:00Z", "k", [1_000, 0, 0, 0]).line();
    // A line without message.id is never deduplicated, unless it is the same line of the
    // same file read again.
    let unkeyed = keyed.replace("\"id\":\"msg_k\",", "").replace("1000", "7");
    assert!(!unkeyed.contains("msg_k"));
    for (n, l) in [&keyed, &unkeyed, &unkeyed].iter().enumerate() {
        s.live.ingest(f, n as u64 + 1, l.as_bytes()).unwrap();
    }
    let before = s.at("2026-11-23T12:00:30Z").tach.tokens_per_min;
    assert_eq!(before, 1_014.0);
    s.live.restart_file(f);
    for (n, l) in [&keyed, &unkeyed, &unkeyed].iter().enumerate() {
        s.live.ingest(f, n as u64 + 1, l.as_bytes()).unwrap();
    }
    assert_eq!(s.at("2026-11-23T12:00:30Z").tach.tokens_per_min, before);
    // New content after the restart still counts.
    s.live.ingest(f, 4, unkeyed.as_bytes()).unwrap();
    assert_eq!(
        s.at("2026-11-23T12:00:30Z").tach.tokens_per_min,
        before + 7.0
    );
}

#[test]
fn a_file_deleted_and_written_anew_counts_its_unkeyed_lines_once() {
    // Its reader forgets a file that is gone and meets the new one as a new file: no
    // restart is said, the line numbers start over.
    let mut s = Scenario::new();
    let f = s.file("p/session-a.jsonl");
    let keyed = r("2026-11-23T12:00:00Z", "k", [1_000, 0, 0, 0]).line();
    let unkeyed = keyed.replace("\"id\":\"msg_k\",", "").replace("1000", "7");
    let lines = [&keyed, &unkeyed, &unkeyed];
    for (n, l) in lines.iter().enumerate() {
        s.live.ingest(f, n as u64 + 1, l.as_bytes()).unwrap();
    }
    let before = s.at("2026-11-23T12:00:30Z").tach.tokens_per_min;
    assert_eq!(before, 1_014.0);
    for _ in 0..5 {
        for (n, l) in lines.iter().enumerate() {
            s.live.ingest(f, n as u64 + 1, l.as_bytes()).unwrap();
        }
    }
    assert_eq!(s.at("2026-11-23T12:00:30Z").tach.tokens_per_min, before);
    assert_eq!(s.live.stats().responses, 3);
    // A line the new file adds still counts.
    s.live.ingest(f, 4, unkeyed.as_bytes()).unwrap();
    assert_eq!(
        s.at("2026-11-23T12:00:30Z").tach.tokens_per_min,
        before + 7.0
    );
}

#[test]
fn a_kept_hour_whose_transcript_comes_back_counts_once() {
    // The daemon kept an hour of session-a, then the transcript was deleted: at start it
    // restores the hour from the store. Then the transcript comes back (a restore from a
    // backup): its responses are the kept ones, not more.
    let mut s = Scenario::new();
    let keyed = r("2026-11-23T12:00:00Z", "k", [1_000, 0, 0, 0]).line();
    let unkeyed = keyed.replace("\"id\":\"msg_k\",", "").replace("1000", "7");
    let kept = redline_engine::store::Rollup {
        hour_ms: t("2026-11-23T12:00:00Z"),
        project: "p".into(),
        session: "session-a".into(),
        model: Some("claude-sonnet-4-5".into()),
        responses: 2,
        first_ms: t("2026-11-23T12:00:00Z"),
        tokens: [1_007, 0, 0, 0],
        cache_write_1h: 0,
        cost_usd: 0.003021,
        root: None,
        host: None,
    };
    let done = s.live.restore_rollups(&[kept]);
    assert_eq!((done.entries, done.sessions_gone), (1, 1));
    let at = "2026-11-23T12:00:30Z";
    assert_eq!(s.at(at).window_5h_tokens, Some(1_007));
    let cost = s.at(at).cost.today_usd;
    let f = s.file("p/session-a.jsonl");
    for (n, l) in [&keyed, &unkeyed].iter().enumerate() {
        s.live.ingest(f, n as u64 + 1, l.as_bytes()).unwrap();
    }
    assert_eq!(s.at(at).window_5h_tokens, Some(1_007));
    assert!((s.at(at).cost.today_usd - cost).abs() < 1e-9);
    // What the transcript holds beyond the kept hour counts.
    s.live.ingest(f, 3, unkeyed.as_bytes()).unwrap();
    assert_eq!(s.at(at).window_5h_tokens, Some(1_014));
}

#[test]
fn a_broken_line_is_an_error_and_loses_nothing() {
    let mut s = Scenario::new();
    s.respond(r("2026-11-23T12:00:00Z", "a", [1_000, 0, 0, 0]));
    let f = s.file("p/session-a.jsonl");
    let err = s
        .live
        .ingest(f, 2, b"{\"type\":\"assistant\",\"message\":{\"usage\":")
        .unwrap_err();
    assert!(err.to_string().contains("cut off"), "{err}");
    s.respond(r("2026-11-23T12:00:01Z", "b", [1_000, 0, 0, 0]));
    assert_eq!(s.at("2026-11-23T12:00:30Z").tach.tokens_per_min, 2_000.0);
    assert_eq!(s.live.stats().bad_lines, 1);
}

/// A directory of transcripts on disk, removed when dropped.
struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn reading_line_by_line_gives_the_values_of_a_cold_scan() {
    // The same lines, once scanned cold and once fed one by one in another file order:
    // every value agrees.
    let dir = Dir(std::env::temp_dir().join(format!("redline-live-{}", std::process::id())));
    let projects = dir.0.join("projects");
    let mut files: Vec<(String, Vec<String>)> = Vec::new();
    let start = t("2026-11-22T20:00:00Z");
    for f in 0..4 {
        let mut lines = Vec::new();
        for i in 0..60 {
            let ms = start + (i * 37 + f * 11) * 60_000;
            let id = format!("{}", i % 45);
            let mut resp = r(
                "2026-11-22T20:00:00Z",
                &id,
                [100 + i as u64, i as u64 * 3, 50, 1_000],
            );
            resp.ms = ms;
            if f == 3 {
                resp = resp.sidechain();
            }
            lines.push(resp.line());
        }
        lines.push("not json".into());
        files.push((format!("p/s{f}.jsonl"), lines));
    }
    for (rel, lines) in &files {
        let p = projects.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    }
    let roots = [Root {
        projects: projects.clone(),
        explicit: true,
    }];
    let cold = scan(list_transcripts(&roots).unwrap(), Some(2));
    let mut a = Live::from_scan(cold, PriceTable::bundled(), CostMode::Auto);
    let mut b = Live::new(PriceTable::bundled(), CostMode::Auto);
    for (rel, lines) in files.iter().rev() {
        let id = b.file_id(&projects, &projects.join(rel)).unwrap();
        for (n, l) in lines.iter().enumerate() {
            let _ = b.ingest(id, n as u64 + 1, l.as_bytes());
        }
    }
    let settings = Settings::default();
    for now in [
        "2026-11-23T06:00:00Z",
        "2026-11-23T12:00:00Z",
        "2026-11-24T12:00:00Z",
    ] {
        let (ua, ub) = (a.usage(t(now), &settings), b.usage(t(now), &settings));
        assert_eq!(ua, ub, "at {now}");
    }
    assert!(
        a.usage(t("2026-11-23T12:00:00Z"), &settings)
            .fuel
            .budget_tokens
            .is_some()
    );
}

fn status(json: &str) -> redline_engine::feed::StatusFeed {
    redline_engine::feed::StatusFeed::parse(json.as_bytes()).unwrap()
}

fn hook(json: &str) -> redline_engine::feed::HookEvent {
    redline_engine::feed::HookEvent::parse(json.as_bytes()).unwrap()
}

#[test]
fn the_plans_own_limits_drive_fuel_until_they_reset() {
    let mut s = Scenario::new();
    with_history(&mut s);
    s.respond(r("2026-11-23T10:20:00Z", "a", [100_000, 0, 0, 0]));
    let reset = t("2026-11-23T14:00:00Z") / 1000;
    let week = t("2026-11-28T00:00:00Z") / 1000;
    s.live.apply_status(&status(&format!(
        r#"{{"session_id":"session-a","rate_limits":{{"five_hour":{{"used_percentage":88,"resets_at":{reset}}},
            "seven_day":{{"used_percentage":40,"resets_at":{week}}}}}}}"#
    )), t("2026-11-23T12:00:00Z"));
    let u = s.at("2026-11-23T12:00:00Z");
    assert_eq!(
        (u.fuel.remaining, u.fuel.basis),
        (Some(0.12), Some("rate_limits"))
    );
    assert_eq!(u.lamps.warn, On, "88 % of the window used");
    assert_eq!(
        (u.window_5h_pct, u.fuel.source),
        (Some(0.88), Some("statusline"))
    );
    assert_eq!(u.fuel.weekly_used, Some(0.4));
    assert_eq!(
        u.fuel.weekly_reset_at.as_deref(),
        Some("2026-11-28T00:00:00Z")
    );
    // The estimate's block figures stay alongside.
    assert_eq!(u.fuel.block_tokens, Some(100_000));
    // A lower figure for the same window (another session, behind) does not lower use.
    s.live.apply_status(
        &status(&format!(
            r#"{{"rate_limits":{{"five_hour":{{"used_percentage":30,"resets_at":{reset}}}}}}}"#
        )),
        t("2026-11-23T12:00:00Z"),
    );
    assert_eq!(s.at("2026-11-23T12:00:01Z").fuel.remaining, Some(0.12));
    // After the reset the estimate is back.
    let u = s.at("2026-11-23T14:00:00Z");
    assert_eq!(
        (u.fuel.remaining, u.fuel.basis),
        (Some(0.9), Some("estimate"))
    );
    // A new window replaces the old.
    let next = t("2026-11-23T19:00:00Z") / 1000;
    s.live.apply_status(
        &status(&format!(
            r#"{{"rate_limits":{{"five_hour":{{"used_percentage":3,"resets_at":{next}}}}}}}"#
        )),
        t("2026-11-23T12:00:00Z"),
    );
    assert_eq!(s.at("2026-11-23T14:00:01Z").fuel.remaining, Some(0.97));
}

#[test]
fn the_status_line_sets_the_context_window() {
    let mut s = Scenario::new();
    s.respond(r("2026-11-23T12:00:00Z", "a", [10, 10, 0, 150_000]));
    assert!(!s.at("2026-11-23T12:00:01Z").sources.statusline.configured);
    s.live.apply_status(
        &status(r#"{"session_id":"session-a","context_window":{"context_window_size":155000}}"#),
        t("2026-11-23T12:00:00Z"),
    );
    let u = s.at("2026-11-23T12:00:01Z");
    assert_eq!(u.context.window_tokens, Some(155_000));
    assert_eq!(
        (u.sources.statusline.configured, u.sources.statusline.ok),
        (true, Some(true))
    );
    // Another session's window changes nothing here.
    s.live.apply_status(
        &status(r#"{"session_id":"other","context_window":{"context_window_size":1000000}}"#),
        t("2026-11-23T12:00:00Z"),
    );
    assert_eq!(
        s.at("2026-11-23T12:00:01Z").context.window_tokens,
        Some(155_000)
    );
}

#[test]
fn hooks_hold_the_tach_during_a_turn_end_sessions_and_report_rate_limits() {
    let mut s = Scenario::new();
    with_history(&mut s);
    s.live.apply_hook(
        &hook(r#"{"session_id":"session-a","hook_event_name":"UserPromptSubmit"}"#),
        t("2026-11-23T12:00:00Z"),
    );
    s.respond(r("2026-11-23T12:00:05Z", "a", [6_000, 0, 0, 0]));
    assert_eq!(s.at("2026-11-23T12:00:06Z").tach.tokens_per_min, 6_000.0);
    // Two minutes of thinking without a write: the tach holds.
    assert_eq!(s.at("2026-11-23T12:02:06Z").tach.tokens_per_min, 6_000.0);
    s.live.apply_hook(
        &hook(r#"{"session_id":"session-a","hook_event_name":"PostToolUse"}"#),
        t("2026-11-23T12:02:10Z"),
    );
    assert_eq!(s.at("2026-11-23T12:02:11Z").tach.tokens_per_min, 6_000.0);
    // The turn ends: the tach falls to what the window holds.
    s.live.apply_hook(
        &hook(r#"{"session_id":"session-a","hook_event_name":"Stop"}"#),
        t("2026-11-23T12:02:20Z"),
    );
    assert_eq!(s.at("2026-11-23T12:02:21Z").tach.tokens_per_min, 0.0);
    // A turn whose Stop never comes lets go after ten minutes.
    s.live.apply_hook(
        &hook(r#"{"session_id":"session-a","hook_event_name":"UserPromptSubmit"}"#),
        t("2026-11-23T12:03:00Z"),
    );
    s.respond(r("2026-11-23T12:03:01Z", "b", [3_000, 0, 0, 0]));
    assert_eq!(s.at("2026-11-23T12:03:02Z").tach.tokens_per_min, 3_000.0);
    assert_eq!(s.at("2026-11-23T12:12:59Z").tach.tokens_per_min, 3_000.0);
    assert_eq!(s.at("2026-11-23T12:13:01Z").tach.tokens_per_min, 0.0);

    // SessionEnd empties TEMP until the session answers again.
    assert!(s.at("2026-11-23T12:14:00Z").context.used_tokens.is_some());
    s.live.apply_hook(
        &hook(r#"{"session_id":"session-a","hook_event_name":"SessionEnd","reason":"exit"}"#),
        t("2026-11-23T12:14:00Z"),
    );
    let u = s.at("2026-11-23T12:14:01Z");
    assert!(u.context.used_tokens.is_none() && u.context.session_id.is_none());
    assert_eq!(u.model.family, Some("sonnet"), "MODEL keeps the last model");
    s.respond(r("2026-11-23T12:20:00Z", "c", [10, 10, 0, 1_000]));
    assert_eq!(
        s.at("2026-11-23T12:20:01Z").context.used_tokens,
        Some(1_010)
    );

    // StopFailure on a rate limit blinks WARN until the block ends (no plan figure).
    assert_eq!(s.at("2026-11-23T12:20:01Z").lamps.warn, Off);
    s.live.apply_hook(
        &hook(r#"{"session_id":"session-a","hook_event_name":"StopFailure","error":"rate_limit"}"#),
        t("2026-11-23T12:21:00Z"),
    );
    assert_eq!(s.at("2026-11-23T12:21:01Z").lamps.warn, Blink);
    assert_eq!(s.at("2026-11-23T16:59:59Z").lamps.warn, Blink);
    assert_eq!(s.at("2026-11-23T17:00:01Z").lamps.warn, Off);
    // Other failures do not.
    s.live.apply_hook(
        &hook(
            r#"{"session_id":"session-a","hook_event_name":"StopFailure","error":"server_error"}"#,
        ),
        t("2026-11-23T18:00:00Z"),
    );
    assert_eq!(s.at("2026-11-23T18:00:01Z").lamps.warn, Off);
}

/// A user line of the main chain: a prompt, or a tool's result.
fn user(at: &str, content: Value) -> String {
    json!({"type": "user", "isSidechain": false, "sessionId": "s", "version": "2.1.39",
           "timestamp": iso(t(at)), "message": {"role": "user", "content": content}})
    .to_string()
}

fn thinking_block(text: &str, signature: &str) -> Value {
    json!([{"type": "thinking", "thinking": text, "signature": signature}])
}

#[test]
fn thinking_is_split_by_characters_and_counted_once_per_response() {
    let mut s = Scenario::new();
    // One response in three lines, as Claude Code streams it: 300 characters of
    // thinking, 100 of text; the last copy carries the final output.
    let think = "t".repeat(300);
    s.respond(r("2026-11-23T12:00:00Z", "x", [10, 1, 0, 0]).content(thinking_block(&think, "sig")));
    s.respond(
        r("2026-11-23T12:00:00Z", "x", [10, 1, 0, 0])
            .content(json!([{"type": "text", "text": "v".repeat(100)}])),
    );
    s.respond(
        r("2026-11-23T12:00:01Z", "x", [10, 400, 0, 0]).content(json!([
            {"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}
        ])),
    );
    let u = s.at("2026-11-23T12:00:05Z");
    // 300 / (300 + 100 + 2) of 400 output tokens.
    let want: f64 = 400.0 * 300.0 / 402.0;
    assert_eq!(u.thinking.output_tokens, Some(400));
    assert_eq!(u.thinking.thinking_tokens, Some(want.round() as u64));
    assert_eq!(
        u.thinking_ratio,
        Some(((want / 400.0) * 10_000.0).round() / 10_000.0)
    );
    assert_eq!(
        (u.thinking.basis, u.thinking.source),
        (Some("estimate"), Some("jsonl"))
    );
    assert_eq!(
        u.gauges
            .get(Dial::Temp)
            .map(f64::from)
            .map(|g| (g * 1e4).round()),
        Some(7463.0)
    );
    // A resumed session writes the same lines again in the same file: nothing changes.
    s.respond(r("2026-11-23T12:00:00Z", "x", [10, 1, 0, 0]).content(thinking_block(&think, "sig")));
    s.respond(
        r("2026-11-23T12:00:00Z", "x", [10, 1, 0, 0])
            .content(json!([{"type": "text", "text": "v".repeat(100)}])),
    );
    assert_eq!(s.at("2026-11-23T12:00:05Z").thinking, u.thinking);
    // So does a copy in another session's file.
    s.write_to(
        "p/session-b.jsonl",
        &r("2026-11-23T12:00:00Z", "x", [10, 400, 0, 0])
            .content(thinking_block(&think, "sig"))
            .line(),
    );
    assert_eq!(s.at("2026-11-23T12:00:05Z").thinking, u.thinking);
    // A response without thinking adds output, no thinking.
    s.respond(r("2026-11-23T12:00:10Z", "plain", [10, 600, 0, 0]));
    let u = s.at("2026-11-23T12:00:15Z");
    assert_eq!(u.thinking.output_tokens, Some(1_000));
    assert_eq!(u.thinking.thinking_tokens, Some(want.round() as u64));
}

#[test]
fn thinking_from_signatures_exact_figures_and_redacted_blocks() {
    let mut s = Scenario::new();
    // A signature of 500 characters stands for (500 - 242.5) / 1.2864 = 200 characters.
    let sig = "A".repeat(500);
    s.respond(r("2026-11-23T12:00:00Z", "sig", [10, 1, 0, 0]).content(thinking_block("", &sig)));
    s.respond(
        r("2026-11-23T12:00:00Z", "sig", [10, 300, 0, 0])
            .content(json!([{"type": "text", "text": "v".repeat(100)}])),
    );
    let u = s.at("2026-11-23T12:00:01Z");
    assert_eq!(u.thinking.thinking_tokens, Some(200));
    assert_eq!(u.thinking.basis, Some("estimate"));
    // A redacted signature without text says nothing: the response is left out.
    s.respond(
        r("2026-11-23T12:00:02Z", "red", [10, 5_000, 0, 0])
            .content(thinking_block("", "[REDACTED_SIGNATURE]")),
    );
    let u = s.at("2026-11-23T12:00:03Z");
    assert_eq!(
        (u.thinking.thinking_tokens, u.thinking.output_tokens),
        (Some(200), Some(300))
    );
    // The usage line's own figure is exact, and outranks the blocks.
    let mut exact =
        r("2026-11-23T12:00:04Z", "ex", [10, 700, 0, 0]).content(thinking_block("x", "s"));
    exact.extra.push(("__", Value::Null));
    let line = exact.line().replace(
        r#""output_tokens":700"#,
        r#""output_tokens":700,"output_tokens_details":{"thinking_tokens":350}"#,
    );
    s.write(&line);
    let u = s.at("2026-11-23T12:00:05Z");
    assert_eq!(
        (u.thinking.thinking_tokens, u.thinking.output_tokens),
        (Some(550), Some(1_000))
    );
    assert_eq!(
        u.thinking.basis,
        Some("estimate"),
        "the least certain basis counted"
    );
    // Only redacted responses in the window: unknown, never a made-up zero.
    let mut only = Scenario::new();
    only.respond(
        r("2026-11-23T12:00:02Z", "red", [10, 5_000, 0, 0])
            .content(thinking_block("", "[REDACTED_SIGNATURE]")),
    );
    let u = only.at("2026-11-23T12:00:03Z");
    assert_eq!(
        (u.thinking_ratio, u.thinking.basis),
        (None, Some("unknown"))
    );
    assert_eq!(u.gauges.get(Dial::Temp), None);
}

#[test]
fn the_ratio_window_holds_while_idle_and_boost_is_the_cache_hit_rate() {
    let mut s = Scenario::new();
    // Cache reads 90k of a 100k prompt.
    s.respond(r("2026-11-23T12:00:00Z", "a", [1_000, 10, 9_000, 90_000]));
    let u = s.at("2026-11-23T12:00:01Z");
    assert_eq!(u.cache_hit_rate, Some(0.9));
    assert_eq!(
        (u.cache.read_tokens, u.cache.prompt_tokens),
        (Some(90_000), Some(100_000))
    );
    assert_eq!(u.gauges.get(Dial::Boost), Some(0.9));
    // Five minutes later a cold response: the window (the five minutes up to the newest
    // response) holds only it.
    s.respond(r("2026-11-23T12:06:00Z", "b", [40_000, 10, 0, 10_000]));
    assert_eq!(s.at("2026-11-23T12:06:01Z").cache_hit_rate, Some(0.2));
    // An hour of quiet: the value holds, as the needle should.
    assert_eq!(s.at("2026-11-23T13:06:01Z").cache_hit_rate, Some(0.2));
    // Both in the window.
    s.settings.ratio_window_s = 600;
    assert_eq!(s.at("2026-11-23T12:06:01Z").cache_hit_rate, Some(0.6667));
}

#[test]
fn warn_lights_for_a_cold_cache_only_while_active_and_over_enough_prompt() {
    let mut s = Scenario::new();
    s.respond(r("2026-11-23T12:00:00Z", "a", [9_000, 10, 0, 900]));
    let u = s.at("2026-11-23T12:00:30Z");
    assert_eq!(
        (u.cache_hit_rate, u.lamps.warn),
        (Some(0.0909), Off),
        "under 10,000 prompt tokens"
    );
    s.respond(r("2026-11-23T12:00:40Z", "b", [1_000, 10, 0, 0]));
    let u = s.at("2026-11-23T12:01:00Z");
    assert_eq!(u.lamps.warn, On, "10,900 prompt tokens, 8 % from the cache");
    // Not active any more (no telemetry for 120 s): the floor no longer matters.
    assert_eq!(s.at("2026-11-23T12:02:40Z").lamps.warn, Off);
    // A warm cache keeps it dark.
    s.respond(r("2026-11-23T12:03:00Z", "c", [100, 10, 0, 200_000]));
    assert_eq!(s.at("2026-11-23T12:03:10Z").lamps.warn, Off);
    // The floor is configuration.
    s.settings.thresholds.cache_floor = 0.99;
    assert_eq!(s.at("2026-11-23T12:03:10Z").lamps.warn, On);
}

#[test]
fn stall_lights_when_a_prompt_waits_too_long_but_not_while_a_tool_runs() {
    let mut s = Scenario::new();
    s.respond(r("2026-11-23T12:00:00Z", "a", [10, 10, 0, 0]));
    s.write(&user("2026-11-23T12:01:00Z", json!("please fix the build")));
    let u = s.at("2026-11-23T12:03:59Z");
    assert_eq!((u.lamps.stall, u.turn.in_progress), (Off, true));
    assert_eq!(
        (u.turn.basis, u.turn.since.as_deref()),
        (Some("transcript"), Some("2026-11-23T12:01:00Z"))
    );
    assert_eq!(u.lamps.idle, Off, "a turn is open");
    let u = s.at("2026-11-23T12:04:00Z");
    assert_eq!(
        (u.lamps.stall, u.stall),
        (On, true),
        "180 s without telemetry, waiting"
    );
    // The model answers with a tool call: a tool runs, however long.
    s.respond(
        r("2026-11-23T12:04:10Z", "b", [10, 10, 0, 0]).content(json!([
            {"type": "tool_use", "id": "t", "name": "Bash", "input": {"command": "make"}}
        ])),
    );
    assert_eq!(s.at("2026-11-23T12:20:00Z").lamps.stall, Off);
    assert!(s.at("2026-11-23T12:20:00Z").turn.in_progress);
    // Its result goes back: the model's move again.
    s.write(&user(
        "2026-11-23T12:21:00Z",
        json!([{"type": "tool_result", "tool_use_id": "t", "content": "ok"}]),
    ));
    assert_eq!(s.at("2026-11-23T12:23:59Z").lamps.stall, Off);
    assert_eq!(s.at("2026-11-23T12:24:00Z").lamps.stall, On);
    // REDLINE_STALL_AFTER moves the limit.
    s.settings.thresholds.stall_after_ms = 30_000;
    assert_eq!(s.at("2026-11-23T12:21:30Z").lamps.stall, On);
    // The answer ends the wait; a failing source outranks it (blink).
    s.respond(r("2026-11-23T12:25:00Z", "c", [10, 10, 0, 0]));
    let u = s.at("2026-11-23T12:25:01Z");
    assert_eq!((u.lamps.stall, u.turn.in_progress), (Off, false));
    // A waiting session older than the stale limit is over.
    s.write(&user("2026-11-23T12:30:00Z", json!("and the tests")));
    assert_eq!(s.at("2026-11-23T17:29:59Z").lamps.stall, On);
    assert_eq!(s.at("2026-11-23T17:30:00Z").lamps.stall, Off);
}

#[test]
fn hooks_decide_the_turn_once_a_session_sends_them() {
    let mut s = Scenario::new();
    let h = |s: &mut Scenario, name: &str, at: &str| {
        s.live.apply_hook(
            &hook(&format!(
                r#"{{"session_id":"session-a","hook_event_name":"{name}"}}"#
            )),
            t(at),
        );
    };
    assert!(!s.at("2026-11-23T12:00:00Z").sources.hooks.configured);
    h(&mut s, "UserPromptSubmit", "2026-11-23T12:00:00Z");
    let u = s.at("2026-11-23T12:00:01Z");
    assert_eq!((u.turn.in_progress, u.turn.basis), (true, Some("hooks")));
    assert_eq!(
        (u.sources.hooks.configured, u.sources.hooks.ok),
        (true, Some(true))
    );
    assert_eq!(s.at("2026-11-23T12:03:00Z").lamps.stall, On);
    h(&mut s, "PreToolUse", "2026-11-23T12:03:10Z");
    assert_eq!(
        s.at("2026-11-23T12:13:00Z").lamps.stall,
        Off,
        "a ten-minute build"
    );
    h(&mut s, "PostToolUse", "2026-11-23T12:13:10Z");
    assert_eq!(s.at("2026-11-23T12:16:09Z").lamps.stall, Off);
    assert_eq!(s.at("2026-11-23T12:16:10Z").lamps.stall, On);
    // Transcript lines of a hooked session are telemetry but do not decide its turn.
    s.write(&user("2026-11-23T12:16:20Z", json!("more")));
    assert_eq!(
        s.at("2026-11-23T12:16:21Z").lamps.stall,
        Off,
        "fresh telemetry"
    );
    h(&mut s, "Stop", "2026-11-23T12:17:00Z");
    let u = s.at("2026-11-23T12:25:00Z");
    assert_eq!((u.lamps.stall, u.turn.in_progress), (Off, false));
    assert_eq!(u.lamps.idle, Pulse);
}

#[test]
fn idle_pulses_after_two_quiet_minutes_without_a_turn() {
    let mut s = Scenario::new();
    s.respond(r("2026-11-23T12:00:00Z", "a", [10, 10, 0, 0]));
    assert_eq!(s.at("2026-11-23T12:01:59Z").lamps.idle, Off);
    let u = s.at("2026-11-23T12:02:00Z");
    assert_eq!((u.lamps.idle, u.idle), (Pulse, true));
    // Any telemetry wakes it: a statusLine object, a hook, an OpenTelemetry export.
    s.live
        .apply_status(&status(r#"{"session_id":"x"}"#), t("2026-11-23T12:05:00Z"));
    assert_eq!(s.at("2026-11-23T12:05:01Z").lamps.idle, Off);
    assert_eq!(s.at("2026-11-23T12:07:00Z").lamps.idle, Pulse);
    // A prompt waiting for the model keeps it dark, however quiet.
    s.write(&user("2026-11-23T12:10:00Z", json!("go")));
    assert_eq!(s.at("2026-11-23T12:30:00Z").lamps.idle, Off);
}

#[test]
fn a_rate_limited_turn_blinks_warn_until_its_own_window_resets() {
    let mut s = Scenario::new();
    s.respond(r("2026-11-23T12:00:00Z", "a", [10, 10, 0, 0]));
    let window = |s: &mut Scenario, used: u32, reset: &str, at: &str| {
        let reset = t(reset) / 1000;
        s.live.apply_status(
            &status(&format!(
                r#"{{"rate_limits":{{"five_hour":{{"used_percentage":{used},"resets_at":{reset}}}}}}}"#
            )),
            t(at),
        );
    };
    window(&mut s, 99, "2026-11-23T14:00:00Z", "2026-11-23T12:00:00Z");
    s.live.apply_hook(
        &hook(r#"{"session_id":"session-a","hook_event_name":"StopFailure","error":"rate_limit"}"#),
        t("2026-11-23T12:10:00Z"),
    );
    let u = s.at("2026-11-23T13:59:59Z");
    assert_eq!(
        (u.lamps.warn, u.fuel.limit_reset_at.as_deref()),
        (Blink, Some("2026-11-23T14:00:00Z"))
    );
    // The next window is another one: the failure does not carry over into it.
    window(&mut s, 5, "2026-11-23T19:00:00Z", "2026-11-23T14:00:01Z");
    let u = s.at("2026-11-23T14:00:02Z");
    assert_eq!((u.lamps.warn, u.fuel.limit_reset_at), (Off, None));
}
