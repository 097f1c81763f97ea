//! `redline demo generate` end to end: it writes a corpus redline can report on, the same
//! bytes for the same seed, and it will not write into a directory that holds anything.
//! And `redline serve --demo` over many loops: COST stays within the demo's day, and each
//! loop is a session of its own with an id of Claude Code's shape.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use common::{Daemon, Home};
use serde_json::Value;

fn redline(args: &[&str], config_dir: Option<&Path>) -> Output {
    let mut cmd = common::redline();
    cmd.args(args);
    if let Some(dir) = config_dir {
        cmd.env("CLAUDE_CONFIG_DIR", dir);
    }
    cmd.output().expect("run redline")
}

/// `redline demo generate` into `dir`: 3000 responses, seed 3, and `extra` flags.
fn generate(dir: &Path, extra: &[&str]) -> Output {
    let dir = dir.to_str().expect("a UTF-8 temp path");
    let mut args = vec![
        "demo", "generate", "--out", dir, "-n", "3000", "--seed", "3",
    ];
    args.extend_from_slice(extra);
    redline(&args, None)
}

fn temp(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("redline-demo-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).expect("read file");
                out.push((p.strip_prefix(dir).expect("below dir").to_path_buf(), bytes));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn generate_then_report() {
    let dir = temp("a");
    let out = generate(&dir, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("responses") && said.contains("redline report daily"),
        "{said}"
    );
    assert!(dir.join("projects").is_dir());

    let report = redline(
        &["report", "daily", "--json", "--timezone", "UTC"],
        Some(&dir),
    );
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&report.stdout).expect("JSON");
    assert!(!v["daily"].as_array().expect("rows").is_empty());
    assert!(v["totals"]["outputTokens"].as_u64().expect("tokens") > 0);
    // The malformed lines the generator writes are reported by place, not fatal.
    let malformed: u64 = said
        .rsplit("malformed lines: ")
        .next()
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("the generator says how many malformed lines it wrote");
    assert!(malformed > 0, "{said}");
    let warnings = String::from_utf8_lossy(&report.stderr);
    assert!(
        warnings.contains(".jsonl:") && warnings.contains("malformed JSON"),
        "{warnings}"
    );

    // A directory that holds something is refused, unless --force.
    let again = generate(&dir, &[]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    let forced = generate(&dir, &["--force"]);
    assert!(forced.status.success());

    // The same seed and count give the same bytes; --comparable changes them.
    let twin = temp("b");
    let out = generate(&twin, &[]);
    assert!(out.status.success());
    assert_eq!(tree(&dir), tree(&twin));
    let other = temp("c");
    let out = generate(&other, &["--comparable"]);
    assert!(out.status.success());
    assert_ne!(tree(&dir), tree(&other));
    for d in [dir, twin, other] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// The demo's day (`replay::DAY_USD`): what COST approaches and never passes.
const DAY_USD: f64 = 24.0;

#[test]
fn the_demo_s_cost_stays_within_a_day_and_each_loop_is_its_own_session() {
    let home = Home::new();
    // A hundred times faster: a loop in 0.6 s.
    let d = Daemon::start(&home, &["--demo", "--demo-speed", "100"]);
    let loop_s = 0.6;
    let started = Instant::now();
    let cost = || d.usage()["cost"]["today_usd"].as_f64().unwrap();
    let at = |loops: f64| {
        let due = Duration::from_secs_f64(loops * loop_s);
        std::thread::sleep(due.saturating_sub(started.elapsed()));
        cost()
    };
    // The first loop spends half the day: COST moves within the first minute at speed 1.
    let first = at(1.2);
    assert!(first >= DAY_USD / 2.0 - 0.01, "${first} after a loop");
    let mid = at(4.0);
    let end = at(10.0);
    let loops = started.elapsed().as_secs_f64() / loop_s;
    // Ten loops come to less than the day, not ten times the first loop, and the later
    // loops add less than the first ones did.
    assert!(
        end <= DAY_USD + 0.001 && end > DAY_USD * 0.9,
        "${end} after {loops:.1} loops (${first} after the first)"
    );
    assert!(
        end - mid < mid - first && end - mid < first / 4.0,
        "${first}, ${mid}, ${end}: not levelling off"
    );
    // Each loop its own session, ids shaped as Claude Code's (version 4 UUIDs), distinct
    // in the eight digits the stats page shows.
    let stats: Value = serde_json::from_str(&d.get("/api/stats/sessions?limit=100").body).unwrap();
    let ids: Vec<&str> = stats["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["session"].as_str().unwrap())
        .collect();
    assert!(ids.len() >= 8, "{ids:?}");
    let heads: BTreeSet<&str> = ids.iter().map(|id| &id[..8]).collect();
    assert_eq!(heads.len(), ids.len(), "{ids:?}");
    for id in &ids {
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
        assert!(
            id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()),
            "{id}"
        );
        assert_eq!(&id[14..15], "4", "{id}");
        assert!(!id.starts_with("00000000"), "{id}");
    }
}
