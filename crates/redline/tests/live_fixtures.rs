//! The daemon on real Claude Code transcripts (`../shared/fixtures/claude-real2`) whose
//! timestamps are moved so that the newest line was written a minute ago: `/usage` shows
//! every one of the origin's flat fields (SPEC.md, "GET /usage") known, not `null`, with
//! the detail agreeing with them, and `/usage/gauge` the same cluster.
//!
//! Skips with a reason when `../shared` is absent, unless `CI=true`.

mod common;

use std::path::{Path, PathBuf};

use common::{Daemon, Home};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

const KEY: &str = "\"timestamp\":\"";

/// Every `"timestamp":"..."` of `text` moved by `by`, written back as Claude Code writes
/// them (milliseconds, `Z`).
fn moved(text: &str, by: SignedDuration) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(KEY) {
        let (head, tail) = rest.split_at(at + KEY.len());
        out.push_str(head);
        let end = tail.find('"').unwrap_or(0);
        match tail[..end].parse::<Timestamp>() {
            Ok(t) => out.push_str(&(t + by).strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
            Err(_) => out.push_str(&tail[..end]),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// The newest timestamp in the files below `dir`.
fn newest(dir: &Path, files: &mut Vec<PathBuf>) -> Option<Timestamp> {
    let mut best: Option<Timestamp> = None;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let t = if p.is_dir() {
            newest(&p, files)
        } else {
            files.push(p.clone());
            let text = std::fs::read_to_string(&p).unwrap();
            text.match_indices(KEY)
                .filter_map(|(at, _)| {
                    let s = &text[at + KEY.len()..];
                    s[..s.find('"')?].parse::<Timestamp>().ok()
                })
                .max()
        };
        best = best.max(t);
    }
    best
}

#[test]
fn real_transcripts_written_a_minute_ago_fill_every_origin_field() {
    let Some(src) = common::shared_fixture("claude-real2") else {
        return;
    };
    let mut files = Vec::new();
    let last = newest(&src.join("projects"), &mut files).unwrap();
    let by = Timestamp::now().duration_since(last) - SignedDuration::from_secs(60);
    let home = Home::new();
    for f in &files {
        let rel = f.strip_prefix(src.join("projects")).unwrap();
        let dest = home.projects().join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::write(dest, moved(&std::fs::read_to_string(f).unwrap(), by)).unwrap();
    }
    let d = Daemon::start(&home, &[]);
    let u = d.usage();
    for key in common::FLAT_FIELDS {
        assert!(!u[key].is_null(), "{key} is null: {u}");
    }
    // The flat fields are the objects' figures.
    assert_eq!(u["rate_1m"], u["tach"]["tokens_per_min"]);
    assert_eq!(u["thinking_ratio"], u["thinking"]["ratio"]);
    assert_eq!(u["cache_hit_rate"], u["cache"]["hit_rate"]);
    assert_eq!(u["last_model"], u["model"]["family"]);
    assert_eq!(
        u["thinking"]["basis"], "estimate",
        "the fixtures' thinking has text"
    );
    assert_eq!(u["hot"], u["lamps"]["hot"] != "off");
    assert_eq!(u["idle"], u["lamps"]["idle"] == "pulse");
    let remaining = u["fuel"]["remaining"].as_f64().unwrap();
    let used = u["window_5h_pct"].as_f64().unwrap();
    assert!((remaining + used - 1.0).abs() < 1e-9, "{u}");
    assert_eq!(u["lamps"]["model"], "on");
    assert!(u["model"]["color"].as_str().unwrap().starts_with('#'));
    // The chip reads the same cluster.
    let g: Value = serde_json::from_str(&d.get("/usage/gauge").body).unwrap();
    for (i, dial) in ["fuel", "tach", "temp", "boost"].iter().enumerate() {
        assert_eq!(g["needles"][i], u["gauges"][dial], "{dial}");
        assert!(!g["needles"][i].is_null(), "{dial}");
    }
    assert_eq!(g["color"], u["model"]["color"]);
}
