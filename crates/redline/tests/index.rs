//! The scan index end to end: reports and `/usage` are the same with it and without it
//! (`--no-index`, `REDLINE_NO_INDEX`), an unchanged transcript is not read again, a
//! damaged index is ignored with one warning and written anew, reports running while
//! others write the index never see half of one, and `redline doctor` shows its size
//! and hit rate.

mod common;

use std::process::Output;

use common::{Daemon, Home, response};
use serde_json::Value;

fn report(home: &Home, args: &[&str], vars: &[(&str, &str)]) -> Output {
    common::succeed(
        home.redline()
            .arg("report")
            .args(args)
            .envs(vars.iter().copied()),
    )
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A home with three sessions (one a subagent's), written an hour ago, one ending in
/// half a line.
fn home() -> Home {
    let h = Home::new();
    h.append("-p/a.jsonl", &(response("a1", 10) + &response("a2", 20)));
    h.append("-p/a/subagents/agent-1.jsonl", &response("a2", 25));
    h.append("-q/b.jsonl", &(response("b1", 7) + "{\"type\":\"assist"));
    for f in ["-p/a.jsonl", "-p/a/subagents/agent-1.jsonl", "-q/b.jsonl"] {
        h.age(f, 3600);
    }
    h
}

const KINDS: [&str; 3] = ["daily", "session", "blocks"];

#[test]
fn reports_are_the_same_with_and_without_the_index_and_unchanged_files_are_not_read() {
    let h = home();
    let plain: Vec<String> = KINDS
        .iter()
        .map(|k| stdout(&report(&h, &[k, "--json", "--no-index"], &[])))
        .collect();
    assert!(!h.cache().exists(), "--no-index writes no index");
    for round in 0..2 {
        for (k, want) in KINDS.iter().zip(&plain) {
            let o = report(&h, &[k, "--json"], &[("REDLINE_TIMINGS", "1")]);
            assert_eq!(&stdout(&o), want, "{k}, round {round}");
            let t = stderr(&o);
            if round == 1 {
                // Two whole files known; the one ending in half a line is read on.
                assert!(
                    t.contains("2 unchanged, 1 grown, 0 read again, 0 new"),
                    "{t}"
                );
            }
        }
    }
    assert!(
        h.cache().read_dir().unwrap().count() == 1,
        "one index for one root"
    );
    // The variable turns it off as the flag does.
    let o = report(
        &h,
        &["daily", "--json"],
        &[("REDLINE_NO_INDEX", "1"), ("REDLINE_TIMINGS", "1")],
    );
    assert_eq!(stdout(&o), plain[0]);
    assert!(stderr(&o).contains("index off"), "{}", stderr(&o));

    // Appends, a finished line, a file rewritten to the same length, a new file, a file
    // gone: the same as a fresh read, every time.
    h.append("-p/a.jsonl", &response("a3", 30));
    h.append("-q/b.jsonl", "ant\"}\n");
    let a = h.file("-p/a/subagents/agent-1.jsonl");
    let text = std::fs::read_to_string(&a).unwrap().replace("25", "26");
    std::fs::write(&a, text).unwrap();
    h.append("-r/c.jsonl", &response("c1", 5));
    for (k, _) in KINDS.iter().zip(&plain) {
        let want = stdout(&report(&h, &[k, "--json", "--no-index"], &[]));
        assert_eq!(stdout(&report(&h, &[k, "--json"], &[])), want, "{k}");
    }
    std::fs::remove_file(h.file("-q/b.jsonl")).unwrap();
    let want = stdout(&report(&h, &["session", "--json", "--no-index"], &[]));
    assert_eq!(stdout(&report(&h, &["session", "--json"], &[])), want);
    // A report of one project keeps the others' facts.
    let one = report(&h, &["daily", "--json", "--project=-p"], &[]);
    let want = stdout(&report(
        &h,
        &["daily", "--json", "--project=-p", "--no-index"],
        &[],
    ));
    assert_eq!(stdout(&one), want);
}

#[test]
fn a_damaged_index_is_ignored_with_one_warning_and_written_anew() {
    let h = home();
    let want = stdout(&report(&h, &["daily", "--json", "--no-index"], &[]));
    report(&h, &["daily", "--json"], &[]);
    let index = h
        .cache()
        .read_dir()
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let good = std::fs::read(&index).unwrap();
    for damage in [
        good[..good.len() / 2].to_vec(),
        b"not an index at all".to_vec(),
        {
            let mut b = good.clone();
            b[good.len() / 3] ^= 0x40;
            b
        },
    ] {
        std::fs::write(&index, &damage).unwrap();
        let o = report(&h, &["daily", "--json"], &[]);
        assert_eq!(stdout(&o), want);
        let err = stderr(&o);
        let warnings: Vec<&str> = err.lines().filter(|l| l.contains("scan index")).collect();
        assert_eq!(warnings.len(), 1, "{}", stderr(&o));
        assert!(
            warnings[0].contains(&index.display().to_string()),
            "names the file: {}",
            warnings[0]
        );
        // Written anew: the next report says nothing.
        let o = report(&h, &["daily", "--json"], &[]);
        assert!(!stderr(&o).contains("scan index"), "{}", stderr(&o));
        assert_eq!(stdout(&o), want);
    }
    // Deleting it loses nothing.
    std::fs::remove_file(&index).unwrap();
    assert_eq!(stdout(&report(&h, &["daily", "--json"], &[])), want);
}

#[test]
fn reports_racing_each_other_never_see_half_an_index() {
    let h = home();
    for i in 0..40 {
        h.append(&format!("-p/s{i}.jsonl"), &response(&format!("s{i}"), 3));
    }
    let want = stdout(&report(&h, &["session", "--json", "--no-index"], &[]));
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..5 {
                    let o = report(&h, &["session", "--json"], &[]);
                    assert_eq!(stdout(&o), want);
                    assert!(!stderr(&o).contains("scan index"), "{}", stderr(&o));
                }
            });
        }
    });
    // No temporary file is left behind.
    let names: Vec<String> = h
        .cache()
        .read_dir()
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn doctor_shows_the_index_size_and_hit_rate() {
    let h = home();
    report(&h, &["daily"], &[]);
    let o = h.redline().arg("doctor").output().unwrap();
    let text = stdout(&o);
    assert!(text.contains("scan index ("), "{text}");
    assert!(text.contains("bytes a response"), "{text}");
    assert!(
        text.contains("this scan: 2 files unchanged (not opened), 1 grown"),
        "{text}"
    );
    assert!(text.contains("hit rate 100.0 %"), "{text}");
    let o = h.redline().args(["doctor", "--no-index"]).output().unwrap();
    assert!(
        stdout(&o).contains("off (--no-index or REDLINE_NO_INDEX)"),
        "{}",
        stdout(&o)
    );
}

/// `/usage` without the moment it was computed.
fn usage(d: &Daemon) -> Value {
    let mut u = d.usage();
    u["updated_at"] = Value::Null;
    u
}

#[test]
fn the_daemon_serves_the_same_usage_from_the_index_as_from_a_full_read() {
    let h = home();
    // The first start writes the index; the second uses it; a third reads everything.
    let first = Daemon::start(&h, &[]);
    first.settle();
    let cold = usage(&first);
    drop(first);
    assert!(h.cache().exists(), "serve writes the index");
    h.append("-p/a.jsonl", &response("a9", 90));
    let warm = Daemon::start(&h, &[]);
    warm.settle();
    let warm_usage = usage(&warm);
    drop(warm);
    let plain = Daemon::start(&h, &["--no-index"]);
    plain.settle();
    assert_eq!(warm_usage, usage(&plain));
    assert_ne!(
        cold["cost"], warm_usage["cost"],
        "the appended response counts"
    );
}
