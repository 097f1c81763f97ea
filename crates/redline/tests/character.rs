//! `redline stats character` on the real transcripts of the shared fixtures: its em-dash
//! and watch-list counts equal a count this test makes its own way (a plain serde_json
//! walk over every line, each response's text blocks kept once by `message.id` +
//! `requestId` as REFERENCE.md describes), and the top phrases are listed.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const WATCH: [&str; 4] = [
    "You're absolutely right",
    "Let me check",
    "Perfect!",
    "Now I",
];

fn stats(claude: &Path, home: &Path, extra: &[&str]) -> (Value, String) {
    let config = home.join("config.toml");
    let list: Vec<String> = WATCH.iter().map(|w| format!("{w:?}")).collect();
    std::fs::write(&config, format!("[text]\nwatch = [{}]\n", list.join(", "))).unwrap();
    let out = common::succeed(
        Command::new(env!("CARGO_BIN_EXE_redline"))
            .args(["stats", "character"])
            .args(extra)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join("xdg"))
            .env("REDLINE_CONFIG", &config)
            .env("CLAUDE_CONFIG_DIR", claude)
            .env("REDLINE_TIMEZONE", "UTC"),
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let json = if extra.contains(&"--json") {
        serde_json::from_str(&text).unwrap()
    } else {
        Value::Null
    };
    (json, text)
}

fn jsonl_below(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            jsonl_below(&p, out);
        } else if p.extension().is_some_and(|x| x == "jsonl") {
            out.push(p);
        }
    }
}

fn fold(s: &str) -> String {
    let s: String = s
        .to_lowercase()
        .replace(['\u{2019}', '\u{2018}'], "'")
        .chars()
        .filter(|c| !matches!(c, '*' | '_' | '#' | '`'))
        .collect();
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The test's own count: (em-dashes of the assistant's text, each watched phrase).
fn own_count(claude: &Path) -> (u64, Vec<u64>) {
    let mut files = Vec::new();
    jsonl_below(&claude.join("projects"), &mut files);
    files.sort();
    let mut seen: HashSet<(String, String, String)> = HashSet::new();
    let (mut em, mut watch) = (0u64, vec![0u64; WATCH.len()]);
    let needles: Vec<String> = WATCH.iter().map(|w| fold(w)).collect();
    for f in files {
        for line in std::fs::read_to_string(&f).unwrap().lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if v["type"] != "assistant" || v["message"]["model"] == "<synthetic>" {
                continue;
            }
            let Some(blocks) = v["message"]["content"].as_array() else {
                continue;
            };
            let id = v["message"]["id"].as_str().unwrap_or("").to_owned();
            let request = v["requestId"].as_str().unwrap_or("").to_owned();
            for b in blocks {
                let (Some("text"), Some(text)) = (b["type"].as_str(), b["text"].as_str()) else {
                    continue;
                };
                if text.trim().is_empty()
                    || !seen.insert((id.clone(), request.clone(), text.to_owned()))
                {
                    continue;
                }
                em += text.matches('\u{2014}').count() as u64;
                let folded = fold(text);
                for (n, needle) in watch.iter_mut().zip(&needles) {
                    *n += folded.matches(needle.as_str()).count() as u64;
                }
            }
        }
    }
    (em, watch)
}

fn check(fixture: &str) {
    let Some(claude) = common::shared_fixture(fixture) else {
        return;
    };
    let home = common::Home::new();
    let (json, _) = stats(&claude, &home.dir, &["--json", "--top", "10"]);
    let (em, watch) = own_count(&claude);
    assert_eq!(json["totals"]["em_dashes"], em, "{fixture}: em-dashes");
    assert_eq!(
        json["totals"]["em_dashes"].as_u64().unwrap(),
        json["main"]["em_dashes"].as_u64().unwrap()
            + json["subagent"]["em_dashes"].as_u64().unwrap(),
        "{fixture}: main chain and subagents add up"
    );
    let got: Vec<u64> = json["watch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["count"].as_u64().unwrap())
        .collect();
    assert_eq!(got, watch, "{fixture}: watch list {WATCH:?}");
    let phrases = json["phrases"].as_array().unwrap();
    assert!(!phrases.is_empty(), "{fixture}: no phrases");
    eprintln!("{fixture}: {em} em-dashes; watch {watch:?}; top phrases:");
    for p in phrases {
        eprintln!("  {:>5}  {}", p["count"], p["phrase"].as_str().unwrap());
    }
    // The table lists them too, within 80 columns.
    let (_, table) = stats(&claude, &home.dir, &[]);
    let first = phrases[0]["phrase"].as_str().unwrap();
    assert!(table.contains(first), "{table}");
    for line in table.lines() {
        assert!(line.chars().count() <= 80, "{line}");
    }
}

#[test]
fn character_counts_match_an_independent_count_on_claude_real() {
    check("claude-real");
}

#[test]
fn character_counts_match_an_independent_count_on_claude_real2() {
    check("claude-real2");
}

#[test]
fn no_text_reads_nothing() {
    let Some(claude) = common::shared_fixture("claude-real2") else {
        return;
    };
    let home = common::Home::new();
    let (json, _) = stats(&claude, &home.dir, &["--json", "--no-text"]);
    assert_eq!(json["enabled"], false);
    std::fs::write(home.dir.join("off.toml"), "[text]\nenabled = false\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_redline"))
        .args(["stats", "character", "--config"])
        .arg(home.dir.join("off.toml"))
        .env("CLAUDE_CONFIG_DIR", &claude)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("[text] enabled = false"));
}

/// A response line whose text block is `text`.
fn said(id: &str, text: &str) -> String {
    let line = common::response(id, 10);
    let mut v: Value = serde_json::from_str(&line).unwrap();
    v["message"]["content"][0]["text"] = Value::from(text);
    v.to_string() + "\n"
}

fn metric(body: &str, series: &str) -> Option<u64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[test]
fn the_daemon_counts_em_dashes_and_watched_phrases_as_lines_arrive() {
    let home = common::Home::new();
    home.append("p/s.jsonl", &said("old", "History \u{2014} read at start."));
    let d = common::Daemon::start(&home, &[]);
    let emdash = "redline_emdash_total{model=\"claude-sonnet-4-5\"}";
    let right = "redline_phrase_total{phrase=\"You're absolutely right\"}";
    let body = d.get("/metrics").body;
    assert!(
        body.contains("# TYPE redline_emdash_total counter"),
        "{body}"
    );
    // Counters from the daemon's start: the history read at start-up is not in them.
    assert_eq!(metric(&body, emdash), None, "{body}");
    assert_eq!(metric(&body, right), Some(0), "{body}");
    let line = said(
        "new",
        "You\u{2019}re absolutely right \u{2014} and \u{2014} again.",
    );
    // A streamed copy of the same block is counted once.
    home.append("p/s.jsonl", &line);
    home.append("p/s.jsonl", &line);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let body = d.get("/metrics").body;
        if metric(&body, emdash) == Some(2) && metric(&body, right) == Some(1) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{body}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn serve_no_text_counts_no_text() {
    let home = common::Home::new();
    home.append("p/s.jsonl", &said("old", "History."));
    let d = common::Daemon::start(&home, &["--no-text"]);
    let before = d.output_tokens();
    home.append("p/s.jsonl", &said("new", "Perfect! \u{2014} a dash."));
    // The line is read (its tokens arrive), but no text is counted.
    d.until("the new line's tokens", |d| d.output_tokens() > before);
    let body = d.get("/metrics").body;
    assert!(!body.contains("redline_emdash_total"), "{body}");
    assert!(!body.contains("redline_phrase_total"), "{body}");
}

/// A response of `model` on the UTC day `days_back` days before today saying `text`
/// (at half the time of day it is now, so never in the future).
fn said_at(id: &str, model: &str, days_back: i64, text: &str) -> String {
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let into_day = now_ms.rem_euclid(86_400_000);
    let ms = now_ms - into_day - 86_400_000 * days_back + into_day / 2;
    let ts = jiff::Timestamp::from_millisecond(ms)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let mut v: Value = serde_json::from_str(&said(id, text)).unwrap();
    v["timestamp"] = Value::from(ts);
    v["message"]["model"] = Value::from(model);
    v.to_string() + "\n"
}

#[test]
fn the_page_reads_what_stats_character_prints() {
    let home = common::Home::new();
    // Three days of text in two models; the oldest line is outside a two-day range.
    home.append(
        "p/a.jsonl",
        &said_at("a", "claude-opus-4-5", 0, "Perfect! Done \u{2014} see."),
    );
    home.append(
        "p/a.jsonl",
        &said_at(
            "b",
            "claude-opus-4-5",
            1,
            "Perfect! Again \u{2014} and \u{2014} more.",
        ),
    );
    home.append(
        "p/b.jsonl",
        &said_at("c", "claude-haiku-4-5", 1, "Let me check. Perfect!"),
    );
    home.append(
        "p/b.jsonl",
        &said_at("d", "claude-haiku-4-5", 2, "Old \u{2014} news."),
    );
    let d = common::Daemon::start(&home, &[]);
    let page: Value = serde_json::from_str(&d.get("/api/character?days=2&top=5").body).unwrap();
    assert_eq!(page["enabled"], true, "{page}");
    let out = common::succeed(home.redline().args([
        "stats",
        "character",
        "--json",
        "--days",
        "2",
        "--top",
        "5",
    ]));
    let mut cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    cli["enabled"] = Value::Bool(true);
    assert_eq!(page, cli);
    // The two days' em-dashes, by day and model, and the sparkline of "perfect!".
    assert_eq!(page["totals"]["em_dashes"], 3, "{page}");
    let rows: Vec<(&str, u64)> = page["by_day_model"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["model"].as_str().unwrap(),
                r["em_dashes"].as_u64().unwrap(),
            )
        })
        .collect();
    // Days in order, models in order within a day.
    assert_eq!(
        rows,
        [
            ("claude-haiku-4-5", 0),
            ("claude-opus-4-5", 2),
            ("claude-opus-4-5", 1)
        ],
        "{page}"
    );
    assert_eq!(page["spark"]["bars"], 2);
    let perfect = page["phrases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["phrase"] == "perfect!")
        .unwrap();
    assert_eq!(perfect["count"], 3);
    assert_eq!(perfect["bars"], serde_json::json!([2, 1]));
    // "Perfect!" is the default watch list's second phrase.
    let perfect_by_day: Vec<u64> = page["watch_by_day"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["counts"][1].as_u64().unwrap())
        .collect();
    assert_eq!(perfect_by_day, vec![2, 1], "{page}");
    // All history: no sparkline range.
    let all: Value = serde_json::from_str(&d.get("/api/character?days=all").body).unwrap();
    assert_eq!(all["totals"]["em_dashes"], 4);
    assert_eq!(all["spark"], Value::Null);
    assert_eq!(d.get("/api/character?days=0").status, 400);
    drop(d);
    let off = common::Daemon::start(&home, &["--no-text"]);
    let v: Value = serde_json::from_str(&off.get("/api/character").body).unwrap();
    assert_eq!(v["enabled"], false, "{v}");
}
