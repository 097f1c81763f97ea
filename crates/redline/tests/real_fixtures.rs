//! `redline report` on five real Claude Code sessions (`../shared/fixtures/claude-real`),
//! against what ccusage 20.0.24 reported for the same directory: tokens equal, dollars
//! within a cent, and every other field the same.
//!
//! The fixtures live beside the repository, not in it; outside CI the test skips with a
//! reason when they are absent, under `CI=true` it fails.

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;

fn fixtures() -> Option<PathBuf> {
    common::shared_fixture("claude-real")
}

fn redline(dir: &Path, kind: &str, extra: &[&str]) -> Value {
    let out = common::redline()
        .args([
            "report",
            kind,
            "--json",
            "--offline",
            "--timezone",
            "UTC",
            "--transcripts-only",
        ])
        .args(extra)
        .env("CLAUDE_CONFIG_DIR", dir)
        .env_remove("REDLINE_PRICES")
        .env_remove("REDLINE_COST_MODE")
        .output()
        .expect("run redline");
    assert!(
        out.status.success(),
        "redline failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("redline prints JSON")
}

fn expected(dir: &Path, kind: &str) -> Value {
    let path = dir.join(format!("expected/ccusage-20.0.24-{kind}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("read expected")).expect("JSON")
}

/// Walks both documents: the same keys and the same values, except that numbers under a
/// cost key may differ by less than a cent and `modelsUsed` is compared as a set (its
/// order is first-seen, and ccusage's daily also sees subagent progress copies).
fn same(path: &str, want: &Value, got: &Value, diffs: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            let mut keys: Vec<&String> = w.keys().chain(g.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                match (w.get(k), g.get(k)) {
                    (Some(a), Some(b)) => same(&format!("{path}.{k}"), a, b, diffs),
                    // redline's own fields, beside ccusage's (checked in `own_fields`).
                    (None, Some(b)) if REDLINE_ONLY.contains(&k.as_str()) => {
                        own_field(&format!("{path}.{k}"), g, b, diffs)
                    }
                    (a, b) => diffs.push(format!("{path}.{k}: ccusage {a:?}, redline {b:?}")),
                }
            }
        }
        (Value::Array(w), Value::Array(g)) if path.ends_with("modelsUsed") => {
            let mut w = w.clone();
            let mut g = g.clone();
            w.sort_by_key(|v| v.to_string());
            g.sort_by_key(|v| v.to_string());
            if w != g {
                diffs.push(format!("{path}: ccusage {w:?}, redline {g:?}"));
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            if w.len() != g.len() {
                diffs.push(format!(
                    "{path}: {} rows in ccusage, {} in redline",
                    w.len(),
                    g.len()
                ));
            }
            for (i, (a, b)) in w.iter().zip(g).enumerate() {
                same(&format!("{path}[{i}]"), a, b, diffs);
            }
        }
        (Value::Number(a), Value::Number(b)) if is_cost(path) => {
            let (a, b) = (
                a.as_f64().unwrap_or(f64::NAN),
                b.as_f64().unwrap_or(f64::NAN),
            );
            if (a - b).abs() >= 0.01 {
                diffs.push(format!("{path}: ccusage ${a}, redline ${b}"));
            }
        }
        (a, b) => {
            if a != b {
                diffs.push(format!("{path}: ccusage {a}, redline {b}"));
            }
        }
    }
}

/// Fields redline adds to ccusage's rows and totals.
const REDLINE_ONLY: [&str; 2] = ["thinkingTokens", "cacheHitRate"];

/// One of redline's own fields: `cacheHitRate` is the row's cache reads over its prompt
/// (from the token fields ccusage agrees on), `thinkingTokens` a whole number no larger
/// than the output, or `null`.
fn own_field(path: &str, row: &serde_json::Map<String, Value>, v: &Value, diffs: &mut Vec<String>) {
    let n = |k: &str| row.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    let ok = if path.ends_with("cacheHitRate") {
        let prompt = n("inputTokens") + n("cacheCreationTokens") + n("cacheReadTokens");
        match v.as_f64() {
            Some(r) => prompt > 0.0 && (r - n("cacheReadTokens") / prompt).abs() < 1e-4,
            None => v.is_null() && prompt == 0.0,
        }
    } else {
        v.is_null() || v.as_u64().is_some_and(|t| t as f64 <= n("outputTokens"))
    };
    if !ok {
        diffs.push(format!("{path}: {v} does not fit the row"));
    }
}

fn is_cost(path: &str) -> bool {
    let key = path.rsplit('.').next().unwrap_or("");
    matches!(key, "cost" | "totalCost" | "costUSD")
}

fn check(kind: &str) {
    let Some(dir) = fixtures() else { return };
    let want = expected(&dir, kind);
    let got = redline(&dir, kind, &[]);
    let mut diffs = Vec::new();
    same(kind, &want, &got, &mut diffs);
    assert!(
        diffs.is_empty(),
        "{kind} differs from ccusage 20.0.24:\n{}",
        diffs.join("\n")
    );
}

#[test]
fn daily_equals_ccusage() {
    check("daily");
}

#[test]
fn session_equals_ccusage() {
    check("session");
}

#[test]
fn blocks_equal_ccusage() {
    check("blocks");
}

#[test]
fn totals_match_the_fixture_readme() {
    let Some(dir) = fixtures() else { return };
    let got = redline(&dir, "daily", &[]);
    let t = &got["totals"];
    // Input 7,508, output 193,983, cache write 2,008,302, cache read 76,801,503; $50.81.
    assert_eq!(t["inputTokens"], 7_508);
    assert_eq!(t["outputTokens"], 193_983);
    assert_eq!(t["cacheCreationTokens"], 2_008_302);
    assert_eq!(t["cacheReadTokens"], 76_801_503);
    assert!((t["totalCost"].as_f64().unwrap() - 50.81).abs() < 0.005);
}

#[test]
fn weekly_and_monthly_add_up_to_daily() {
    let Some(dir) = fixtures() else { return };
    let daily = redline(&dir, "daily", &[]);
    for kind in ["weekly", "monthly"] {
        let r = redline(&dir, kind, &[]);
        for k in [
            "inputTokens",
            "outputTokens",
            "cacheCreationTokens",
            "cacheReadTokens",
            "totalTokens",
        ] {
            assert_eq!(r["totals"][k], daily["totals"][k], "{kind} {k}");
        }
    }
}

#[test]
fn since_until_and_desc_order() {
    let Some(dir) = fixtures() else { return };
    let r = redline(
        &dir,
        "daily",
        &[
            "--since",
            "20260211",
            "--until",
            "2026-02-12",
            "--order",
            "desc",
        ],
    );
    let dates: Vec<&str> = r["daily"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["date"].as_str().unwrap())
        .collect();
    assert_eq!(dates, ["2026-02-12", "2026-02-11"]);
}

#[test]
fn the_table_is_readable() {
    let Some(dir) = fixtures() else { return };
    let out = common::redline()
        .args([
            "report",
            "daily",
            "--timezone",
            "UTC",
            "--breakdown",
            "--transcripts-only",
        ])
        .env("CLAUDE_CONFIG_DIR", &dir)
        // Piped, without COLUMNS: the full table, whatever the terminal running the tests.
        .env_remove("COLUMNS")
        .output()
        .expect("run redline");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("│ 2026-02-11 ") && l.contains("│ 2,776 │")),
        "{text}"
    );
    assert!(text.contains("└─ opus-4-6"), "{text}");
    assert!(
        text.contains("79,011,296") && text.contains("$50.81"),
        "{text}"
    );
}
