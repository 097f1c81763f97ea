//! `redline calibrate` end to end: the real binary on generated corpora, a hand-made
//! history whose proposals are known, a running daemon fed statusLine readings, and the
//! real fixtures through `--check`.

mod common;

use redline_engine::calibrate::Calibration;

use std::time::{Duration, Instant};

use common::{Daemon, Home, shared_fixture};
use redline_engine::journal::Journal;
use redline_engine::store::{self, Limit, Record};
use serde_json::{Value, json};

/// `redline calibrate` with `args` in `home`; its standard output, which must be a
/// success.
fn calibrate(home: &Home, args: &[&str]) -> String {
    let out = home.redline().arg("calibrate").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "calibrate {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn calibrate_json(home: &Home, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&calibrate(home, &all)).unwrap()
}

fn config_file(home: &Home) -> std::path::PathBuf {
    home.dir.join("config/redline/config.toml")
}

fn backups(home: &Home) -> Vec<String> {
    let dir = home.dir.join("config/redline");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains(".redline-backup-"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A made-up history of `responses` responses (the demo corpus) in `home`.
fn demo(home: &Home, responses: usize) {
    redline_demo::generate(&home.claude(), 7, responses).unwrap();
}

fn at(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// 2026-11-02T00:00:00Z, a Monday of the hand-made history.
const DAY: i64 = 1_793_577_600_000;

/// A line of a session, as Claude Code writes it.
fn user_prompt(t: i64) -> String {
    json!({"type": "user", "isSidechain": false, "sessionId": "steady", "timestamp": at(t),
           "message": {"role": "user", "content": "go on"}})
    .to_string()
}

fn tool_result(t: i64) -> String {
    json!({"type": "user", "isSidechain": false, "sessionId": "steady", "timestamp": at(t),
           "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}]}})
    .to_string()
}

fn turn_end(t: i64) -> String {
    json!({"type": "system", "subtype": "turn_duration", "durationMs": 101_000, "isSidechain": false,
           "sessionId": "steady", "timestamp": at(t)})
    .to_string()
}

/// An answer of 1,000 tach tokens (100 in, 400 out of which 100 thinking, 500 written to
/// the cache) and 9,000 cache reads.
fn answer(id: &str, t: i64, tool: bool) -> String {
    let last = if tool {
        json!({"type": "tool_use", "id": "t", "name": "Bash", "input": {"command": "ls"}})
    } else {
        json!({"type": "text", "text": "done"})
    };
    json!({"type": "assistant", "isSidechain": false, "sessionId": "steady", "version": "2.1.39",
           "requestId": format!("req_{id}"), "timestamp": at(t),
           "message": {"id": format!("msg_{id}"), "model": "claude-sonnet-4-5", "type": "message",
                       "role": "assistant", "content": [last],
                       "usage": {"input_tokens": 100, "output_tokens": 400,
                                 "output_tokens_details": {"thinking_tokens": 100},
                                 "cache_creation_input_tokens": 500, "cache_read_input_tokens": 9_000}}})
    .to_string()
}

/// A steady user's day: a turn every ten minutes, in each a prompt and four answers
/// 30 s apart with three 25-second tool runs between them (the engine's own unit tests
/// hold the same history).
fn steady(home: &Home) {
    let mut text = String::new();
    for turn in 0..144 {
        let t = DAY + turn * 600_000;
        text += &(user_prompt(t) + "\n");
        for (i, s) in [10, 40, 70, 100].into_iter().enumerate() {
            let tool = i < 3;
            text += &(answer(&format!("{turn}-{i}"), t + s * 1000, tool) + "\n");
            if tool {
                text += &(tool_result(t + (s + 25) * 1000) + "\n");
            }
        }
        text += &(turn_end(t + 101_000) + "\n");
    }
    home.append("-home-me-steady/steady.jsonl", &text);
}

#[test]
fn the_json_numbers_follow_the_rules() {
    let home = Home::new();
    steady(&home);
    let text = calibrate(
        &home,
        &["--json", "--since", "20261102", "--until", "20261102"],
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    // One object per config key, in this order, then what was read.
    let keys = [
        "tach_redline",
        "block_budget",
        "tach_window",
        "stall_after",
        "cache_floor",
        "temp_zones",
        "history",
    ];
    assert_eq!(v.as_object().unwrap().len(), keys.len());
    let at: Vec<usize> = keys
        .iter()
        .map(|k| text.find(&format!("\n  \"{k}\": {{")).unwrap())
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
    // Gaps of 30 s inside turns: a window of 30 s (the P90, rounded up to 15 s, at
    // least 30).
    assert_eq!(v["tach_window"]["current"], 60);
    assert_eq!(v["tach_window"]["figures"]["gaps"], 3 * 144);
    assert_eq!(v["tach_window"]["figures"]["p90_s"], 30.0);
    assert_eq!(v["tach_window"]["proposed"], 30);
    // Over 30 s each answer reads 2,000 tokens/min: the P95, already dial-friendly.
    assert_eq!(v["tach_redline"]["figures"]["window_s"], 30);
    assert_eq!(v["tach_redline"]["figures"]["active_minutes"], 2 * 144);
    assert_eq!(v["tach_redline"]["figures"]["p95"], 2_000.0);
    assert_eq!(v["tach_redline"]["proposed"], 2_000);
    assert_eq!(
        v["tach_redline"]["figures"]["hot_per_active_hour_current"],
        0.0
    );
    // The model took 10 s over a prompt, 5 s over each tool result: the P99 (10 s) is
    // under the 30 s floor.
    assert_eq!(v["stall_after"]["figures"]["waits"], 4 * 144);
    assert_eq!(v["stall_after"]["figures"]["p99_s"], 10.0);
    assert_eq!(v["stall_after"]["proposed"], 30);
    // 9,000 of 9,600 prompt tokens read from the cache: 0.9375, down to 0.9.
    assert_eq!(v["cache_floor"]["figures"]["p10"], 0.9375);
    assert_eq!(v["cache_floor"]["proposed"], 0.9);
    // A quarter of the output thinking everywhere.
    assert_eq!(
        v["temp_zones"]["proposed"],
        json!({"temp_cool": 0.25, "temp_hot": 0.3})
    );
    assert_eq!(
        v["temp_zones"]["current"],
        json!({"temp_cool": 0.2, "temp_hot": 0.6})
    );
    // Blocks of the day: 30 turns of 40,000 tokens in each full one; `max` as the report
    // computes it, rounded up to three figures (already round).
    let b = &v["block_budget"];
    assert_eq!(b["current"], "max");
    assert_eq!(b["figures"]["max_block_tokens"], 1_200_000);
    assert_eq!(b["proposed"], 1_200_000);
    assert!(b["figures"]["measured_budget"].is_null());
    assert_eq!(v["history"]["responses"], 4 * 144);
    assert_eq!(v["history"]["since"], "2026-11-02");
    for key in Calibration::KEYS {
        assert!(
            v[key]["rule"].as_str().is_some_and(|r| r.len() > 40),
            "{key}"
        );
    }
}

/// `max_block_tokens` is `redline report blocks`' `max`: its largest completed block.
#[test]
fn max_block_tokens_is_the_reports_max() {
    let home = Home::new();
    demo(&home, 1_500);
    let v = calibrate_json(&home, &["--days", "3650"]);
    let out = home
        .redline()
        .args(["report", "blocks", "--json"])
        .output()
        .unwrap();
    let blocks: Value = serde_json::from_slice(&out.stdout).unwrap();
    let max = blocks["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["isGap"] == false && b["isActive"] == false)
        .map(|b| b["totalTokens"].as_u64().unwrap())
        .max()
        .unwrap();
    let f = &v["block_budget"]["figures"];
    assert_eq!(f["max_block_tokens"], max);
    assert_eq!(f["max"], max);
    // Rounded up to three significant figures.
    let p = v["block_budget"]["proposed"].as_u64().unwrap();
    assert!(
        p >= max && p - max < 10u64.pow(max.ilog10() - 2),
        "{p} from {max}"
    );
    // And the other rules, from their own figures.
    let step = |s: f64, lo: u64, hi: u64| (((s / 15.0).ceil() as u64) * 15).clamp(lo, hi);
    let w = &v["tach_window"];
    assert_eq!(
        w["proposed"],
        step(w["figures"]["p90_s"].as_f64().unwrap(), 30, 600)
    );
    let s = &v["stall_after"];
    assert_eq!(
        s["proposed"],
        step(s["figures"]["p99_s"].as_f64().unwrap(), 30, 3600)
    );
    let floor = v["cache_floor"]["proposed"].as_f64().unwrap();
    let p10 = v["cache_floor"]["figures"]["p10"].as_f64().unwrap();
    assert!(
        floor <= p10 && p10 - floor < 0.05 + 1e-9,
        "{floor} from {p10}"
    );
    assert_eq!(v["tach_redline"]["figures"]["window_s"], w["proposed"]);
}

#[test]
fn writing_twice_changes_nothing_the_second_time_and_keeps_comments() {
    let home = Home::new();
    demo(&home, 1_500);
    let file = config_file(&home);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let mine = "\
# my cluster, my rules
needles = [\"fuel\", \"tach\", \"temp\", \"cost\"]   # COST instead of BOOST
tach_redline = 20000  # the red zone

[zones]
# FUEL red from
plan_red = 0.8

[lamps]
active = 120   # seconds
";
    std::fs::write(&file, mine).unwrap();
    let out = calibrate(&home, &["--days", "3650", "--write"]);
    assert!(out.contains("wrote "), "{out}");
    let first = std::fs::read_to_string(&file).unwrap();
    for kept in [
        "# my cluster, my rules\n",
        "needles = [\"fuel\", \"tach\", \"temp\", \"cost\"]   # COST instead of BOOST\n",
        "# FUEL red from\nplan_red = 0.8\n",
        "[lamps]\nactive = 120   # seconds\n",
    ] {
        assert!(first.contains(kept), "{kept:?} lost:\n{first}");
    }
    assert!(first.contains("  # the red zone\n"), "{first}");
    assert!(
        !first.contains("2026"),
        "no timestamp inside the file:\n{first}"
    );
    // The proposals, read back as `serve` reads the file.
    let v = calibrate_json(&home, &["--days", "3650"]);
    let t: toml::Table = first.parse().unwrap();
    assert_eq!(
        t["tach_redline"].as_integer(),
        v["tach_redline"]["proposed"].as_i64()
    );
    assert_eq!(
        t["tach_window"].as_integer(),
        v["tach_window"]["proposed"].as_i64()
    );
    assert_eq!(
        t["block_budget"].as_integer(),
        v["block_budget"]["proposed"].as_i64()
    );
    assert_eq!(
        t["stall_after"].as_integer(),
        v["stall_after"]["proposed"].as_i64()
    );
    assert_eq!(
        t["zones"]["cache_floor"].as_float(),
        v["cache_floor"]["proposed"].as_f64()
    );
    assert_eq!(
        t["zones"]["temp_hot"].as_float(),
        v["temp_zones"]["proposed"]["temp_hot"].as_f64()
    );
    // Now in force: current is proposed.
    for key in [
        "tach_redline",
        "tach_window",
        "block_budget",
        "stall_after",
        "cache_floor",
    ] {
        assert_eq!(v[key]["current"], v[key]["proposed"], "{key}");
    }
    let saved = backups(&home);
    assert_eq!(saved.len(), 1, "{saved:?}");
    let backup = std::fs::read_to_string(file.with_file_name(&saved[0])).unwrap();
    assert_eq!(backup, mine);

    let out = calibrate(&home, &["--days", "3650", "--write"]);
    assert!(out.contains("nothing to change"), "{out}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), first);
    assert_eq!(backups(&home).len(), 1);
    // `serve` takes the file.
    let doctor = home.redline().arg("doctor").output().unwrap();
    assert!(
        doctor.status.success(),
        "{}",
        String::from_utf8_lossy(&doctor.stderr)
    );
}

#[test]
fn a_new_config_file_and_an_empty_history() {
    let home = Home::new();
    // Nothing to go by: no proposal, nothing written.
    let out = calibrate(&home, &["--write"]);
    assert!(out.contains("no proposal"), "{out}");
    assert!(out.contains("nothing to change"), "{out}");
    assert!(!config_file(&home).exists());
    let v = calibrate_json(&home, &[]);
    assert!(v["tach_redline"]["proposed"].is_null());
    assert!(v["tach_redline"]["note"].is_string());

    // With history and no file: the file is made, with the proposals only.
    steady(&home);
    let out = calibrate(&home, &["--since", "2026-11-02", "--write"]);
    assert!(out.contains("wrote "), "{out}");
    let text = std::fs::read_to_string(config_file(&home)).unwrap();
    assert!(
        text.contains("tach_window = 30\n") && text.contains("[zones]\n"),
        "{text}"
    );
    assert!(backups(&home).is_empty());
}

#[test]
fn the_table_fits_80_columns_and_the_plot_is_drawn() {
    let home = Home::new();
    demo(&home, 1_500);
    let svg = home.dir.join("plot.svg");
    let out = calibrate(&home, &["--days", "3650", "--plot", svg.to_str().unwrap()]);
    for line in out.lines() {
        // File names in the last lines may be longer than the terminal.
        if line.contains(home.dir.to_str().unwrap()) {
            continue;
        }
        assert!(line.chars().count() <= 80, "{line:?}");
    }
    for key in Calibration::KEYS {
        assert!(
            out.lines()
                .any(|l| l.starts_with(key) && l.contains(" -> ")),
            "{key}:\n{out}"
        );
    }
    assert!(out.contains("rule: the P95"), "{out}");
    let drawn = std::fs::read_to_string(&svg).unwrap();
    assert!(drawn.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(drawn.trim_end().ends_with("</svg>"));
    for title in [
        "tach_redline (tokens/min)",
        "block_budget (tokens)",
        "stall_after (s)",
    ] {
        assert!(drawn.contains(title), "{title}");
    }
    // Every key has its proposal marked.
    assert_eq!(drawn.matches("stroke=\"#c0392b\"").count(), 7);
    // One group per key, in order, each opening with its panel's frame (the page cuts
    // the plot by them).
    let mut at = 0;
    for key in Calibration::KEYS {
        let open = format!("<g data-key=\"{key}\">\n<rect ");
        at += drawn[at..].find(&open).unwrap_or_else(|| panic!("{key}"));
    }
}

/// Readings as the daemon keeps them, written into its store beside a demo history: each
/// completed block read at its end by a plan of `PLAN` tokens.
#[test]
fn readings_in_the_store_measure_the_plan() {
    const PLAN: f64 = 9_000_000.0;
    let home = Home::new();
    demo(&home, 1_500);
    let out = home
        .redline()
        .args(["report", "blocks", "--json"])
        .output()
        .unwrap();
    let blocks: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ms = |s: &Value| {
        s.as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_millisecond()
    };
    let mut records = Vec::new();
    for b in blocks["blocks"].as_array().unwrap() {
        if b["isGap"] == true || b["isActive"] == true {
            continue;
        }
        // Claude Code's percentages are whole numbers.
        let used = (b["totalTokens"].as_f64().unwrap() / PLAN * 100.0).round() / 100.0;
        records.push(Record::Limit(Limit {
            at_ms: ms(&b["actualEndTime"]),
            used: used.min(1.0),
            resets_at_s: ms(&b["endTime"]) / 1000,
            session: None,
        }));
    }
    let path = home.dir.join("state/redline").join(store::FILE);
    let (mut journal, _) = Journal::<Record>::open(&path, store::KIND).unwrap();
    journal.append(&records).unwrap();
    drop(journal);
    let v = calibrate_json(&home, &["--days", "3650"]);
    let f = &v["block_budget"]["figures"];
    assert_eq!(f["readings"], records.len());
    assert!(f["readings_used"].as_u64().unwrap() >= 10, "{f}");
    let measured = f["measured_budget"].as_f64().unwrap();
    assert!((measured / PLAN - 1.0).abs() < 0.05, "{measured}");
    let proposed = v["block_budget"]["proposed"].as_f64().unwrap();
    assert!((proposed / PLAN - 1.0).abs() < 0.05, "{proposed}");
}

/// The statusLine's readings posted to a running daemon, which keeps them in its store:
/// `calibrate` recovers the plan's size from them.
#[test]
fn a_plan_measured_from_readings_posted_to_a_running_daemon() {
    let home = Home::new();
    let file = "-home-me-app/live.jsonl";
    let now = jiff::Timestamp::now().as_millisecond();
    // 10 answers in the last hour, then 20 more as the daemon runs; each 100,000 tokens,
    // all four kinds (10,000 in, 2,000 out, 8,000 written, 80,000 read).
    let each = 100_000u64;
    let plan = 40.0 * each as f64;
    let line = |n: u32, t: i64| {
        json!({"type": "assistant", "isSidechain": false, "sessionId": "live", "version": "2.1.39",
               "requestId": format!("req_{n}"), "timestamp": at(t),
               "message": {"id": format!("msg_{n}"), "model": "claude-sonnet-4-5", "type": "message",
                           "role": "assistant", "content": [{"type": "text", "text": "ok"}],
                           "usage": {"input_tokens": 10_000, "output_tokens": 2_000,
                                     "cache_creation_input_tokens": 8_000,
                                     "cache_read_input_tokens": 80_000}}})
        .to_string()
            + "\n"
    };
    let first = now - 3_600_000;
    for n in 0..10 {
        home.append(file, &line(n, first + i64::from(n) * 300_000));
    }
    // Claude Code's window: from the first message's hour, five hours.
    let resets_at_s = (first - first.rem_euclid(3_600_000) + 5 * 3_600_000) / 1000;
    let daemon = Daemon::start(&home, &[]);
    let mut sent = 0;
    for n in 10..30u32 {
        home.append(file, &line(n, jiff::Timestamp::now().as_millisecond()));
        std::thread::sleep(Duration::from_millis(5));
        let used = ((u64::from(n) + 1) * each) as f64 / plan * 100.0;
        let body = json!({"session_id": "live", "model": {"id": "claude-sonnet-4-5"},
                          "rate_limits": {"five_hour": {"used_percentage": used.round(), "resets_at": resets_at_s},
                                          "seven_day": {"used_percentage": 3, "resets_at": resets_at_s + 86_400}}});
        let r = daemon.post("/statusline", &body.to_string());
        assert_eq!(r.status, 200, "{}", r.body);
        // Said again by another session: kept once.
        daemon.post("/statusline", &body.to_string());
        sent += 1;
    }
    daemon.until("the plan's figure", |d| {
        d.usage()["fuel"]["basis"] == "rate_limits"
    });
    drop(daemon);
    let kept = Journal::<Record>::read(
        &home.dir.join("state/redline").join(store::FILE),
        store::KIND,
    )
    .unwrap()
    .records
    .into_iter()
    .filter(|r| matches!(r, Record::Limit(_)))
    .count();
    assert_eq!(kept, sent);

    let v = calibrate_json(&home, &[]);
    let f = &v["block_budget"]["figures"];
    assert_eq!(f["readings"], sent);
    assert_eq!(f["readings_used"], sent);
    let measured = f["measured_budget"].as_f64().unwrap();
    assert!((measured / plan - 1.0).abs() < 0.05, "{measured} vs {plan}");
    let proposed = v["block_budget"]["proposed"].as_f64().unwrap();
    assert!((proposed / plan - 1.0).abs() < 0.05, "{proposed} vs {plan}");
    // The table says so.
    let out = calibrate(&home, &[]);
    assert!(out.contains("measuring: the plan holds"), "{out}");
}

/// `--check --days 3650` on the real transcripts: the fuel gauge at each block's end is
/// the report's block over the budget (the same rule), and HOT and WARN have a timeline.
#[test]
fn the_check_on_the_real_fixtures() {
    for name in ["claude-real", "claude-real2"] {
        let Some(dir) = shared_fixture(name) else {
            return;
        };
        let home = Home::new();
        let run = |args: &[&str]| {
            let started = Instant::now();
            let out = common::succeed(
                home.redline()
                    .env("CLAUDE_CONFIG_DIR", &dir)
                    .arg("calibrate")
                    .args(args),
            );
            eprintln!(
                "{name}: calibrate {args:?} in {:.2} s",
                started.elapsed().as_secs_f64()
            );
            String::from_utf8(out.stdout).unwrap()
        };
        let v: Value =
            serde_json::from_str(&run(&["--check", "--days", "3650", "--json"])).unwrap();
        let fuel = &v["check"]["fuel"];
        assert!(fuel["blocks"].as_u64().unwrap() > 0, "{name}: {fuel}");
        assert_eq!(fuel["largest_disagreement_pct"], 0.0, "{name}: {fuel}");
        assert_eq!(fuel["largest_token_difference"], 0, "{name}: {fuel}");
        assert_eq!(fuel["unread"], 0, "{name}: {fuel}");
        assert_eq!(
            fuel["budget"], v["block_budget"]["figures"]["max_block_tokens"],
            "{name}: max, as the report fixes it"
        );
        let hot = v["check"]["hot"].as_array().unwrap();
        assert!(!hot.is_empty(), "{name}: HOT never lit at 20,000");
        for e in hot {
            assert!(e["peak"].as_f64().unwrap() >= 20_000.0, "{name}: {e}");
        }
        assert!(!v["check"]["warn"].as_array().unwrap().is_empty(), "{name}");

        let table = run(&["--check", "--days", "3650"]);
        assert!(
            table.contains("largest disagreement 0.00 % (0 tokens)"),
            "{table}"
        );
        assert!(
            table.contains("  HOT (redline 20,000 tokens/min over 60 s): lit "),
            "{table}"
        );
        assert!(table.contains("  WARN (at 80 % of the window"), "{table}");
    }
}

/// `--days` counts back from today; a history older than that is said to be.
#[test]
fn days_out_of_reach_are_named() {
    let home = Home::new();
    steady(&home);
    let out = calibrate(&home, &["--days", "7"]);
    assert!(
        out.contains(
            "no responses in these days; the newest in the transcripts is from 2026-11-02"
        ),
        "{out}"
    );
    let e = home
        .redline()
        .args(["calibrate", "--since", "20261105", "--until", "20261101"])
        .output()
        .unwrap();
    assert!(!e.status.success());
    assert!(String::from_utf8_lossy(&e.stderr).contains("is after --until"));
}
