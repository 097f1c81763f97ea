//! Each accounting rule pinned by a small hand-written corpus, read end to end: files on
//! disk, the parallel scan, prices, and the reports ccusage users compare.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use jiff::tz::TimeZone;
use redline_core::TokenCounts;
use redline_engine::blocks;
use redline_engine::prices::{CostMode, PriceTable};
use redline_engine::report::{self, BlockFilter, ModelNames, Report, ReportOptions};
use redline_engine::roots::{Root, list_transcripts};
use redline_engine::scan::{Scan, scan};
use serde_json::{Value, json};

/// A corpus under the system temp dir, removed when dropped.
struct Corpus {
    dir: PathBuf,
}

impl Corpus {
    fn new(files: &[(&str, Vec<String>)]) -> Corpus {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "redline-accounting-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        for (rel, lines) in files {
            let path = dir.join("projects").join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, lines.join("\n") + "\n").unwrap();
        }
        Corpus { dir }
    }

    fn projects(&self) -> PathBuf {
        self.dir.join("projects")
    }

    fn scan(&self, threads: usize) -> Scan {
        let roots = [Root {
            projects: self.projects(),
            explicit: true,
        }];
        scan(list_transcripts(&roots).unwrap(), Some(threads))
    }
}

impl Drop for Corpus {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// One assistant line as Claude Code writes it (compact JSON, millisecond timestamp).
#[derive(Clone)]
struct Line {
    ts: &'static str,
    id: Option<&'static str>,
    req: Option<&'static str>,
    model: &'static str,
    input: u64,
    output: u64,
    cache_5m: u64,
    cache_1h: u64,
    cache_read: u64,
    sidechain: bool,
    extra: Vec<(&'static str, Value)>,
}

fn line(ts: &'static str, id: &'static str, output: u64) -> Line {
    Line {
        ts,
        id: Some(id),
        req: Some("req_1"),
        model: "claude-opus-4-6",
        input: 10,
        output,
        cache_5m: 0,
        cache_1h: 0,
        cache_read: 0,
        sidechain: false,
        extra: Vec::new(),
    }
}

impl Line {
    fn render(&self) -> String {
        let mut message = json!({
            "model": self.model,
            "type": "message",
            "role": "assistant",
            "content": [{"type": "text", "text": "ok"}],
            "usage": {
                "input_tokens": self.input,
                "cache_creation_input_tokens": self.cache_5m + self.cache_1h,
                "cache_read_input_tokens": self.cache_read,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": self.cache_5m,
                    "ephemeral_1h_input_tokens": self.cache_1h
                },
                "output_tokens": self.output,
                "service_tier": "standard"
            }
        });
        if let Some(id) = self.id {
            message["id"] = json!(id);
        }
        let mut v = json!({
            "parentUuid": null,
            "isSidechain": self.sidechain,
            "userType": "external",
            "sessionId": "s",
            "version": "2.1.39",
            "message": message,
            "type": "assistant",
            "timestamp": self.ts,
        });
        if let Some(r) = self.req {
            v["requestId"] = json!(r);
        }
        for (k, val) in &self.extra {
            v[*k] = val.clone();
        }
        v.to_string()
    }
    fn req(mut self, r: Option<&'static str>) -> Line {
        self.req = r;
        self
    }
    fn model(mut self, m: &'static str) -> Line {
        self.model = m;
        self
    }
    fn sidechain(mut self) -> Line {
        self.sidechain = true;
        self
    }
    fn tokens(mut self, input: u64, cache_5m: u64, cache_1h: u64, cache_read: u64) -> Line {
        (self.input, self.cache_5m, self.cache_1h, self.cache_read) =
            (input, cache_5m, cache_1h, cache_read);
        self
    }
    fn with(mut self, k: &'static str, v: Value) -> Line {
        self.extra.push((k, v));
        self
    }
}

fn lines(ls: &[Line]) -> Vec<String> {
    ls.iter().map(Line::render).collect()
}

fn utc() -> ReportOptions {
    ReportOptions::default()
}

fn run(
    s: &Scan,
    opts: &ReportOptions,
    f: fn(&report::Dataset<'_>, &ReportOptions) -> Report,
) -> Report {
    let names = ModelNames::new(&s.models);
    let data = report::prepare(s, &PriceTable::bundled(), opts, &names);
    f(&data, opts)
}

#[test]
fn streamed_copies_count_once_with_the_final_output() {
    let c = Corpus::new(&[(
        "-p/s1.jsonl",
        lines(&[
            line("2026-02-11T10:00:00.000Z", "msg_a", 1),
            line("2026-02-11T10:00:00.400Z", "msg_a", 1),
            line("2026-02-11T10:00:01.000Z", "msg_a", 420),
            line("2026-02-11T10:05:00.000Z", "msg_b", 7),
        ]),
    )]);
    for threads in [1, 2, 3] {
        let s = c.scan(threads);
        assert_eq!(s.ledger.len(), 2);
        assert_eq!(s.ledger.duplicates_dropped(), 2);
        let r = run(&s, &utc(), report::daily);
        assert_eq!(
            r.totals.tokens,
            TokenCounts::new(20, 427, 0, 0),
            "threads {threads}"
        );
    }
}

#[test]
fn a_resumed_session_replay_belongs_to_the_earlier_file() {
    // The same response, identical usage, in two sessions: sorted path order decides.
    let a = line("2026-02-11T10:00:00.000Z", "msg_a", 50);
    let c = Corpus::new(&[
        (
            "-p/bbbb.jsonl",
            lines(&[a.clone(), line("2026-02-11T11:00:00.000Z", "msg_b", 5)]),
        ),
        ("-p/aaaa.jsonl", lines(&[a])),
    ]);
    for threads in [1, 2] {
        let r = run(&c.scan(threads), &utc(), report::session);
        let by_session: Vec<(String, u64)> = r
            .rows
            .iter()
            .map(|r| (r.key.clone(), r.tokens.output))
            .collect();
        assert_eq!(by_session.len(), 2);
        assert!(by_session.contains(&("aaaa".into(), 50)), "{by_session:?}");
        assert!(by_session.contains(&("bbbb".into(), 5)), "{by_session:?}");
    }
}

#[test]
fn a_subagent_copy_folds_into_the_parent_session_and_loses_to_the_main_chain() {
    let c = Corpus::new(&[
        (
            "-p/s1.jsonl",
            lines(&[line("2026-02-11T10:00:00.000Z", "msg_a", 30)]),
        ),
        (
            "-p/s1/subagents/agent-x.jsonl",
            lines(&[
                // A bigger sidechain copy under another request id: still the same response.
                line("2026-02-11T10:00:00.000Z", "msg_a", 90)
                    .sidechain()
                    .req(Some("req_other")),
                line("2026-02-11T10:01:00.000Z", "msg_sub", 4)
                    .sidechain()
                    .model("claude-haiku-4-5-20251001"),
            ]),
        ),
    ]);
    let r = run(&c.scan(2), &utc(), report::session);
    assert_eq!(r.rows.len(), 1);
    assert_eq!(r.rows[0].key, "s1");
    assert_eq!(r.rows[0].tokens.output, 34);
}

#[test]
fn broken_lines_are_reported_by_place_and_the_rest_still_counts() {
    let good = line("2026-02-11T10:00:00.000Z", "msg_a", 5).render();
    let cut = &good[..good.len() / 2];
    let bad_field = good.replace("\"output_tokens\":5", "\"output_tokens\":\"five\"");
    let c = Corpus::new(&[(
        "-p/s1.jsonl",
        vec![
            good.clone(),
            cut.to_string(),
            "not json at all".into(),
            bad_field,
            line("2026-02-11T10:01:00.000Z", "msg_b", 6).render(),
        ],
    )]);
    let s = c.scan(2);
    assert_eq!(s.stats.bad_lines, 3);
    let places: Vec<String> = s
        .errors
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e.path.file_name().unwrap().to_string_lossy(),
                e.line
            )
        })
        .collect();
    assert_eq!(places, ["s1.jsonl:2", "s1.jsonl:3", "s1.jsonl:4"]);
    assert!(
        s.errors[0]
            .to_string()
            .contains("s1.jsonl:2: malformed JSON"),
        "{}",
        s.errors[0]
    );
    assert!(s.errors[2].to_string().contains("five"), "{}", s.errors[2]);
    assert_eq!(run(&s, &utc(), report::daily).totals.tokens.output, 11);
}

#[test]
fn missing_ids_dedup_on_the_id_or_not_at_all() {
    let c = Corpus::new(&[(
        "-p/s1.jsonl",
        lines(&[
            line("2026-02-11T10:00:00.000Z", "msg_a", 3).req(None),
            line("2026-02-11T10:00:01.000Z", "msg_a", 9).req(None),
            Line {
                id: None,
                ..line("2026-02-11T10:00:02.000Z", "x", 2)
            },
            Line {
                id: None,
                ..line("2026-02-11T10:00:02.000Z", "x", 2)
            },
        ]),
    )]);
    let r = run(&c.scan(1), &utc(), report::daily);
    assert_eq!(r.totals.tokens.output, 9 + 2 + 2);
}

#[test]
fn a_usage_limit_message_sets_the_blocks_reset_time_and_costs_nothing() {
    let limit = Line {
        model: "<synthetic>",
        input: 0,
        output: 0,
        ..line("2026-02-11T10:30:00.000Z", "msg_err", 0)
    }
    .with("isApiErrorMessage", json!(true));
    let text = limit.render().replace(
        "\"text\":\"ok\"",
        "\"text\":\"Claude AI usage limit reached|1770811200\"",
    );
    let c = Corpus::new(&[(
        "-p/s1.jsonl",
        vec![line("2026-02-11T10:00:00.000Z", "msg_a", 5).render(), text],
    )]);
    let s = c.scan(1);
    let names = ModelNames::new(&s.models);
    let data = report::prepare(&s, &PriceTable::bundled(), &utc(), &names);
    let shown = report::blocks(&data, &utc(), BlockFilter::default(), 0);
    assert_eq!(shown.len(), 1);
    assert_eq!(
        shown[0].entries, 2,
        "the error line is an entry of its block"
    );
    assert_eq!(
        shown[0].models,
        ["claude-opus-4-6"],
        "<synthetic> is never listed"
    );
    let j = blocks::blocks_json(&shown, 0, None);
    assert_eq!(
        j["blocks"][0]["usageLimitResetTime"],
        "2026-02-11T12:00:00.000Z"
    );
    let daily = report::daily(&data, &utc());
    assert_eq!(daily.rows[0].models_used, ["claude-opus-4-6"]);
}

#[test]
fn blocks_break_strictly_after_five_hours_and_leave_gaps() {
    let c = Corpus::new(&[(
        "-p/s1.jsonl",
        lines(&[
            line("2026-02-11T10:20:00.000Z", "a", 1),
            // Exactly 5 h after the block start (10:00): same block.
            line("2026-02-11T15:00:00.000Z", "b", 1),
            // One millisecond later: a new block, floored to 15:00.
            line("2026-02-11T15:00:00.001Z", "c", 1),
            // More than 5 h after the previous entry: a gap block first.
            line("2026-02-11T20:00:00.002Z", "d", 1),
        ]),
    )]);
    let s = c.scan(1);
    let names = ModelNames::new(&s.models);
    let data = report::prepare(&s, &PriceTable::bundled(), &utc(), &names);
    let shown = report::blocks(&data, &utc(), BlockFilter::default(), 0);
    let summary: Vec<(String, u64, bool)> = shown
        .iter()
        .map(|b| (b.id(), b.entries, b.is_gap))
        .collect();
    assert_eq!(
        summary,
        [
            ("2026-02-11T10:00:00.000Z".to_string(), 2, false),
            ("2026-02-11T15:00:00.000Z".to_string(), 1, false),
            // Blocks are listed by start time, as ccusage lists them: the new block's
            // floored start comes before the gap that ends at its first entry.
            ("2026-02-11T20:00:00.000Z".to_string(), 1, false),
            ("gap-2026-02-11T20:00:00.001Z".to_string(), 0, true),
        ]
    );
    let gap = &shown[3];
    assert_eq!(
        (gap.start_ms, gap.end_ms),
        (
            shown[1].actual_end_ms.unwrap() + blocks::BLOCK_MS,
            shown[2].start_ms + 2
        )
    );
}

#[test]
fn days_follow_the_time_zone() {
    let c = Corpus::new(&[(
        "-p/s1.jsonl",
        lines(&[
            line("2026-02-11T23:30:00.000Z", "a", 1),
            line("2026-02-12T00:30:00.000Z", "b", 2),
            line("2026-02-12T14:59:59.999Z", "c", 4),
            line("2026-02-12T15:00:00.000Z", "d", 8),
        ]),
    )]);
    let s = c.scan(2);
    let days = |tz: TimeZone| -> Vec<(String, u64)> {
        let opts = ReportOptions { tz, ..utc() };
        run(&s, &opts, report::daily)
            .rows
            .iter()
            .map(|r| (r.key.clone(), r.tokens.output))
            .collect()
    };
    let d = |k: &str, v: u64| (k.to_string(), v);
    assert_eq!(
        days(TimeZone::UTC),
        [d("2026-02-11", 1), d("2026-02-12", 14)]
    );
    // Tokyo is UTC+9: 15:00 UTC is already the next day.
    assert_eq!(
        days(TimeZone::get("Asia/Tokyo").unwrap()),
        [d("2026-02-12", 7), d("2026-02-13", 8)]
    );
    // Los Angeles is UTC-8: 00:30 UTC is still the day before.
    assert_eq!(
        days(TimeZone::get("America/Los_Angeles").unwrap()),
        [d("2026-02-11", 3), d("2026-02-12", 12)]
    );
    // --since/--until are local dates, inclusive.
    let opts = ReportOptions {
        tz: TimeZone::get("Asia/Tokyo").unwrap(),
        since: Some(jiff::civil::date(2026, 2, 13)),
        until: Some(jiff::civil::date(2026, 2, 13)),
        ..utc()
    };
    assert_eq!(run(&s, &opts, report::daily).totals.tokens.output, 8);
    assert_eq!(run(&s, &opts, report::session).totals.tokens.output, 8);
}

#[test]
fn long_context_prices_the_whole_request_at_the_premium() {
    let sonnet = "claude-sonnet-4-5-20250929";
    let c = Corpus::new(&[(
        "-p/s1.jsonl",
        lines(&[
            // 200,000 prompt tokens exactly: base rates.
            line("2026-02-11T10:00:00.000Z", "a", 1_000)
                .model(sonnet)
                .tokens(1_000, 0, 0, 199_000),
            // 250,000: every token at the premium, output included.
            line("2026-02-12T10:00:00.000Z", "b", 1_000)
                .model(sonnet)
                .tokens(50_000, 100_000, 0, 100_000),
        ]),
    )]);
    let r = run(&c.scan(1), &utc(), report::daily);
    let base = (1_000.0 * 3.0 + 1_000.0 * 15.0 + 199_000.0 * 0.3) / 1e6;
    let premium = (50_000.0 * 6.0 + 1_000.0 * 22.5 + 100_000.0 * 7.5 + 100_000.0 * 0.6) / 1e6;
    assert!((r.rows[0].cost - base).abs() < 1e-9, "{}", r.rows[0].cost);
    assert!(
        (r.rows[1].cost - premium).abs() < 1e-9,
        "{}",
        r.rows[1].cost
    );
}

#[test]
fn a_lines_own_cost_usd_follows_the_mode() {
    let c = Corpus::new(&[(
        "-p/s1.jsonl",
        lines(&[
            line("2026-02-11T10:00:00.000Z", "a", 0)
                .tokens(1_000_000, 0, 0, 0)
                .with("costUSD", json!(7.5)),
            line("2026-02-11T10:01:00.000Z", "b", 0).tokens(1_000_000, 0, 0, 0),
            line("2026-02-11T10:02:00.000Z", "c", 0)
                .model("house-model-1")
                .with("costUSD", json!(1.0)),
        ]),
    )]);
    let s = c.scan(1);
    let cost = |mode| {
        run(&s, &ReportOptions { mode, ..utc() }, report::daily)
            .totals
            .cost
    };
    assert!((cost(CostMode::Auto) - (7.5 + 5.0 + 1.0)).abs() < 1e-9);
    assert!((cost(CostMode::Calculate) - (5.0 + 5.0)).abs() < 1e-9);
    assert!((cost(CostMode::Display) - (7.5 + 1.0)).abs() < 1e-9);
    // Calculated, the unknown model is reported rather than silently free.
    let r = run(
        &s,
        &ReportOptions {
            mode: CostMode::Calculate,
            ..utc()
        },
        report::daily,
    );
    assert_eq!(r.totals.unpriced_models, ["house-model-1"]);
    let j = report::report_json(report::Kind::Daily, &r, None);
    assert_eq!(j["totals"]["unpricedModels"], json!(["house-model-1"]));
    let b = j["daily"][0]["modelBreakdowns"].as_array().unwrap();
    assert!(
        b.iter()
            .any(|b| b["modelName"] == "house-model-1" && b["missingPricing"] == true)
    );
}

#[test]
fn fast_mode_multiplies_and_is_listed_apart() {
    let c = Corpus::new(&[(
        "-p/s1.jsonl",
        vec![
            line("2026-02-11T10:00:00.000Z", "a", 0)
                .tokens(1_000_000, 0, 0, 0)
                .render()
                .replace("\"service_tier\"", "\"speed\":\"fast\",\"service_tier\""),
        ],
    )]);
    let r = run(&c.scan(1), &utc(), report::daily);
    assert_eq!(r.rows[0].models_used, ["claude-opus-4-6-fast"]);
    assert!((r.totals.cost - 30.0).abs() < 1e-9, "{}", r.totals.cost);
}

#[test]
fn weeks_and_months_fold_days() {
    let c = Corpus::new(&[(
        "-p/s1.jsonl",
        lines(&[
            line("2026-02-28T10:00:00.000Z", "a", 1), // Saturday
            line("2026-03-01T10:00:00.000Z", "b", 2), // Sunday
            line("2026-03-02T10:00:00.000Z", "c", 4), // Monday
        ]),
    )]);
    let s = c.scan(1);
    let keys = |r: Report| -> Vec<(String, u64)> {
        r.rows
            .iter()
            .map(|r| (r.key.clone(), r.tokens.output))
            .collect()
    };
    let d = |k: &str, v: u64| (k.to_string(), v);
    assert_eq!(
        keys(run(&s, &utc(), report::weekly)),
        [d("2026-02-22", 1), d("2026-03-01", 6)]
    );
    let monday = ReportOptions {
        start_of_week: jiff::civil::Weekday::Monday,
        ..utc()
    };
    assert_eq!(
        keys(run(&s, &monday, report::weekly)),
        [d("2026-02-23", 3), d("2026-03-02", 4)]
    );
    assert_eq!(
        keys(run(&s, &utc(), report::monthly)),
        [d("2026-02", 1), d("2026-03", 6)]
    );
}

#[test]
fn lines_beyond_claude_codes_format_count_apart() {
    let spaced = line("2026-02-11T10:00:00.000Z", "a", 3)
        .render()
        .replace("\"usage\":{", "\"usage\": {");
    let c = Corpus::new(&[(
        "-p/s1.jsonl",
        vec![spaced, line("2026-02-11T10:00:01.000Z", "b", 4).render()],
    )]);
    let s = c.scan(1);
    assert_eq!((s.stats.usage_lines, s.stats.lenient_lines), (2, 1));
    assert_eq!(run(&s, &utc(), report::daily).totals.tokens.output, 7);
}

#[test]
fn the_one_hour_cache_split_is_priced_at_its_own_rate() {
    let c = Corpus::new(&[(
        "-p/s1.jsonl",
        lines(&[line("2026-02-11T10:00:00.000Z", "a", 0).tokens(0, 1_000_000, 1_000_000, 0)]),
    )]);
    let r = run(&c.scan(1), &utc(), report::daily);
    assert_eq!(r.totals.tokens.cache_creation, 2_000_000);
    assert!(
        (r.totals.cost - (6.25 + 10.0)).abs() < 1e-9,
        "{}",
        r.totals.cost
    );
}

#[test]
fn an_empty_corpus_gives_empty_reports() {
    let c = Corpus::new(&[]);
    let missing = Path::new("/nonexistent/redline/projects");
    let roots = [Root {
        projects: missing.to_path_buf(),
        explicit: true,
    }];
    assert!(list_transcripts(&roots).unwrap().is_empty());
    let r = run(&c.scan(2), &utc(), report::daily);
    assert!(r.rows.is_empty());
    let j = report::report_json(report::Kind::Daily, &r, None);
    assert_eq!(j["daily"], json!([]));
    assert_eq!(j["totals"]["totalTokens"], 0);
}
