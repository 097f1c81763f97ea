//! The five values, gauges and lamps of the live state, pinned in virtual time: each test
//! writes transcript lines with chosen timestamps into a [`Live`] and reads `/usage` at
//! chosen moments. No clock is read anywhere, so every rule is checked at its edges.

use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;
use redline_core::LampState::{Blink, Off, On};
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
}

fn r(at: &str, id: &str, tokens: [u64; 4]) -> R {
    R {
        ms: t(at),
        id: id.into(),
        model: "claude-sonnet-4-5",
        tokens,
        sidechain: false,
        extra: Vec::new(),
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
                "content": [{"type": "text", "text": "ok"}],
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
    for key in [
        "version",
        "generated_at",
        "sources",
        "tach",
        "fuel",
        "cost",
        "context",
        "model",
        "gauges",
        "lamps",
    ] {
        assert!(v.get(key).is_some(), "{key} missing: {v}");
    }
    assert_eq!(v["generated_at"], "2026-11-23T12:00:00Z");
    assert_eq!(v["tach"]["tokens_per_min"], 0.0);
    assert!(
        v["fuel"]["remaining"].is_null(),
        "no completed block, no budget: {v}"
    );
    assert!(v["fuel"]["budget_tokens"].is_null());
    assert!(v["fuel"]["block_start"].is_null());
    assert!(v["context"]["used_tokens"].is_null());
    assert!(v["model"]["id"].is_null() && v["model"]["family"].is_null());
    assert!(v["gauges"]["fuel"].is_null() && v["gauges"]["temp"].is_null());
    assert_eq!(v["gauges"]["tach"], 0.0);
    assert_eq!(
        v["lamps"],
        json!({"model":"off","redline":"off","fuel":"off","hot":"off","check":"off"})
    );
    let gauge = serde_json::to_string(&u.gauge_report()).unwrap();
    assert!(gauge.len() < 256, "{} bytes: {gauge}", gauge.len());
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
    assert_eq!(u.tach.tokens_per_min, 19_999.0);
    assert_eq!(u.lamps.redline, Off);
    s.respond(r("2026-11-23T11:59:40Z", "b", [1, 0, 0, 0]));
    let u = s.at("2026-11-23T12:00:00Z");
    assert_eq!((u.tach.tokens_per_min, u.lamps.redline), (20_000.0, On));
    assert!((u.gauges.tach.unwrap() - 0.8).abs() < 1e-6);
    s.respond(r("2026-11-23T11:59:50Z", "c", [5_001, 0, 0, 0]));
    let u = s.at("2026-11-23T12:00:00Z");
    assert_eq!((u.lamps.redline, u.gauges.tach), (Blink, Some(1.0)));
    // The oldest response leaves the 60 s window at 12:00:30.
    let u = s.at("2026-11-23T12:00:30.001Z");
    assert_eq!(u.tach.tokens_per_min, 5_002.0);
    assert_eq!(u.lamps.redline, Off);
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
fn fuel_low_and_critical_against_the_largest_completed_block() {
    let mut s = Scenario::new();
    with_history(&mut s);
    let u = s.at("2026-11-23T12:00:00Z");
    assert_eq!(u.fuel.budget_tokens, Some(1_000_000));
    assert_eq!(
        (u.fuel.remaining, u.gauges.fuel),
        (Some(1.0), Some(1.0)),
        "no open block: full"
    );
    assert!(u.fuel.block_start.is_none());
    s.respond(r("2026-11-23T10:20:00Z", "n1", [800_000, 0, 0, 49_000]));
    let u = s.at("2026-11-23T12:00:00Z");
    assert_eq!(u.fuel.block_start.as_deref(), Some("2026-11-23T10:00:00Z"));
    assert_eq!(u.fuel.block_end.as_deref(), Some("2026-11-23T15:00:00Z"));
    assert_eq!(u.fuel.block_tokens, Some(849_000));
    assert_eq!((u.fuel.remaining, u.lamps.fuel), (Some(0.151), Off));
    s.respond(r("2026-11-23T10:30:00Z", "n2", [1_000, 0, 0, 0]));
    let u = s.at("2026-11-23T12:00:00Z");
    assert_eq!((u.fuel.remaining, u.lamps.fuel), (Some(0.15), On));
    s.respond(r("2026-11-23T11:00:00Z", "n3", [100_000, 0, 0, 0]));
    let u = s.at("2026-11-23T12:00:00Z");
    assert_eq!((u.fuel.remaining, u.lamps.fuel), (Some(0.05), Blink));
    assert!(u.fuel.projected_tokens.unwrap() > 950_000);
    // Past the budget the needle rests on E, never below.
    s.respond(r("2026-11-23T11:30:00Z", "n4", [500_000, 0, 0, 0]));
    let u = s.at("2026-11-23T12:00:00Z");
    assert_eq!((u.fuel.remaining, u.gauges.fuel), (Some(0.0), Some(0.0)));
    // A fixed budget replaces `max`.
    s.settings.budget = Budget::Tokens(10_000_000);
    let u = s.at("2026-11-23T12:00:00Z");
    assert_eq!(u.fuel.budget_tokens, Some(10_000_000));
    assert_eq!(u.lamps.fuel, Off);
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
fn usage_limit_blinks_fuel_and_api_errors_light_check_for_five_minutes() {
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
    assert_eq!(u.lamps.fuel, Blink);
    assert_eq!(
        u.fuel.limit_reset_at.as_deref(),
        Some("2026-11-23T15:00:00Z")
    );
    assert_eq!(u.lamps.check, On);
    // The error does not move MODEL or TEMP.
    assert_eq!(u.model.family, Some("sonnet"));
    assert_eq!(s.at("2026-11-23T12:04:59Z").lamps.check, On);
    assert_eq!(s.at("2026-11-23T12:05:01Z").lamps.check, Off);
    assert_eq!(
        s.at("2026-11-23T12:05:01Z").lamps.fuel,
        Blink,
        "still this block"
    );
    // The next block starts clean.
    s.respond(r("2026-11-23T15:30:00Z", "b", [1_000, 0, 0, 0]));
    assert_eq!(s.at("2026-11-23T15:31:00Z").lamps.fuel, Off);
}

#[test]
fn a_failing_source_lights_check_and_says_why() {
    let mut s = Scenario::new();
    s.live.set_health(SourceHealth {
        error: Some("cannot watch /x: permission denied".into()),
    });
    let u = s.at("2026-11-23T12:00:00Z");
    assert_eq!(u.lamps.check, On);
    assert!(!u.sources.jsonl.ok);
    assert_eq!(
        u.sources.jsonl.error.as_deref(),
        Some("cannot watch /x: permission denied")
    );
    s.live.set_health(SourceHealth::default());
    assert_eq!(s.at("2026-11-23T12:00:00Z").lamps.check, Off);
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
    s.settings.cost_full_scale_usd = 0.9;
    assert_eq!(s.at("2026-11-24T05:02:00Z").gauges.cost, Some(0.5));
}

#[test]
fn temp_and_model_follow_the_main_chain_only() {
    let mut s = Scenario::new();
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
        (u.model.family, u.model.id.as_deref()),
        (Some("opus"), Some("claude-opus-4-6"))
    );
    assert_eq!(u.lamps.model, On);
    assert_eq!(u.context.used_tokens, Some(160_100));
    assert_eq!(u.context.window_tokens, Some(200_000));
    assert_eq!(u.context.session_id.as_deref(), Some("session-a"));
    assert_eq!(u.lamps.hot, On, "80.05 % of 200k");
    // The subagent's tokens still count on the tach (input, output, cache writes).
    assert_eq!(u.tach.tokens_per_min, 20_110.0 + 50_010.0);
    s.respond(r("2026-11-23T12:01:00Z", "m2", [100, 10, 0, 190_000]).model("claude-sonnet-4-5"));
    let u = s.at("2026-11-23T12:01:00Z");
    assert_eq!((u.lamps.model, u.lamps.hot), (Off, Blink));
}

#[test]
fn a_session_past_200k_has_the_1m_window() {
    let mut s = Scenario::new();
    s.respond(r("2026-11-23T12:00:00Z", "big", [10, 10, 0, 250_000]));
    s.respond(r("2026-11-23T12:01:00Z", "after", [10, 10, 0, 150_000]));
    let u = s.at("2026-11-23T12:02:00Z");
    assert_eq!(
        (u.context.used_tokens, u.context.window_tokens),
        (Some(150_010), Some(1_000_000))
    );
    assert_eq!(u.lamps.hot, Off);
    // Another session keeps the default window.
    s.write_to(
        "p/session-b.jsonl",
        &r("2026-11-23T12:03:00Z", "b", [10, 10, 0, 100_000]).line(),
    );
    let u = s.at("2026-11-23T12:03:00Z");
    assert_eq!(u.context.window_tokens, Some(200_000));
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
    )));
    let u = s.at("2026-11-23T12:00:00Z");
    assert_eq!(
        (u.fuel.remaining, u.fuel.basis),
        (Some(0.12), Some("rate_limits"))
    );
    assert_eq!(u.lamps.fuel, On);
    assert_eq!(u.fuel.weekly_used, Some(0.4));
    assert_eq!(
        u.fuel.weekly_reset_at.as_deref(),
        Some("2026-11-28T00:00:00Z")
    );
    // The estimate's block figures stay alongside.
    assert_eq!(u.fuel.block_tokens, Some(100_000));
    // A lower figure for the same window (another session, behind) does not lower use.
    s.live.apply_status(&status(&format!(
        r#"{{"rate_limits":{{"five_hour":{{"used_percentage":30,"resets_at":{reset}}}}}}}"#
    )));
    assert_eq!(s.at("2026-11-23T12:00:01Z").fuel.remaining, Some(0.12));
    // After the reset the estimate is back.
    let u = s.at("2026-11-23T14:00:00Z");
    assert_eq!(
        (u.fuel.remaining, u.fuel.basis),
        (Some(0.9), Some("estimate"))
    );
    // A new window replaces the old.
    let next = t("2026-11-23T19:00:00Z") / 1000;
    s.live.apply_status(&status(&format!(
        r#"{{"rate_limits":{{"five_hour":{{"used_percentage":3,"resets_at":{next}}}}}}}"#
    )));
    assert_eq!(s.at("2026-11-23T14:00:01Z").fuel.remaining, Some(0.97));
}

#[test]
fn the_status_line_sets_the_context_window() {
    let mut s = Scenario::new();
    s.respond(r("2026-11-23T12:00:00Z", "a", [10, 10, 0, 150_000]));
    assert_eq!(s.at("2026-11-23T12:00:01Z").lamps.hot, Off);
    s.live.apply_status(&status(
        r#"{"session_id":"session-a","context_window":{"context_window_size":155000}}"#,
    ));
    let u = s.at("2026-11-23T12:00:01Z");
    assert_eq!(u.context.window_tokens, Some(155_000));
    assert_eq!(u.lamps.hot, Blink, "150,010 of 155,000");
    // Another session's window changes nothing here.
    s.live.apply_status(&status(
        r#"{"session_id":"other","context_window":{"context_window_size":1000000}}"#,
    ));
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
    assert!(
        u.context.used_tokens.is_none()
            && u.gauges.temp.is_none()
            && u.context.session_id.is_none()
    );
    assert_eq!(u.model.family, Some("sonnet"), "MODEL keeps the last model");
    s.respond(r("2026-11-23T12:20:00Z", "c", [10, 10, 0, 1_000]));
    assert_eq!(
        s.at("2026-11-23T12:20:01Z").context.used_tokens,
        Some(1_010)
    );

    // StopFailure on a rate limit blinks FUEL for the block.
    assert_eq!(s.at("2026-11-23T12:20:01Z").lamps.fuel, Off);
    s.live.apply_hook(
        &hook(r#"{"session_id":"session-a","hook_event_name":"StopFailure","error":"rate_limit"}"#),
        t("2026-11-23T12:21:00Z"),
    );
    assert_eq!(s.at("2026-11-23T12:21:01Z").lamps.fuel, Blink);
    assert_eq!(s.at("2026-11-23T17:21:01Z").lamps.fuel, Off);
    // Other failures do not.
    s.live.apply_hook(
        &hook(
            r#"{"session_id":"session-a","hook_event_name":"StopFailure","error":"server_error"}"#,
        ),
        t("2026-11-23T18:00:00Z"),
    );
    assert_eq!(s.at("2026-11-23T18:00:01Z").lamps.fuel, Off);
}
