//! `redline watch` and `redline doctor` on a temporary Claude directory: `watch` with no
//! daemon (its own scan), with a daemon (its values, whatever the watch's own directory
//! holds), with the demo, and with a daemon that goes away and comes back.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Daemon, Home};
use serde_json::json;

/// An address nothing listens on (a port just freed).
fn dead_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

fn home(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("redline-watch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("claude/projects/p")).unwrap();
    d
}

fn redline(home: &PathBuf, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_redline"))
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("CLAUDE_CONFIG_DIR", home.join("claude"))
        .env("REDLINE_TIMEZONE", "UTC")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn opus_line_now() -> String {
    let ts = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    json!({
        "type": "assistant", "isSidechain": false, "sessionId": "s", "version": "2.1.39",
        "requestId": "req_1", "timestamp": ts,
        "message": {"id": "msg_1", "model": "claude-opus-4-6", "type": "message",
            "role": "assistant", "content": [
                {"type": "thinking", "thinking": "t".repeat(300), "signature": "[REDACTED_SIGNATURE]"},
                {"type": "text", "text": "v".repeat(700)}],
            "usage": {"input_tokens": 12000, "output_tokens": 13000,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 170000}}
    })
    .to_string()
        + "\n"
}

#[test]
fn watch_once_prints_the_designed_values_and_every_lamp_labelled() {
    let h = home("once");
    std::fs::write(h.join("claude/projects/p/s.jsonl"), opus_line_now()).unwrap();
    let nobody = dead_addr();
    let (ok, out, err) = redline(&h, &["watch", "--once", "--listen", &nobody]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 2, "{out}");
    // First which values these are: no daemon answers, so its own scan's.
    let (label, line) = out.trim_end().split_once('\n').unwrap();
    // (The Claude directory is under the home here: `~`.)
    assert_eq!(
        label,
        format!("own scan of ~/claude/projects: no daemon at {nobody} (nothing listens there)")
    );
    // No plan figure and no completed block yet: FUEL says what it has.
    assert!(
        line.contains("FUEL -- (195k in window, no budget yet)"),
        "{line}"
    );
    // 25,000 tokens this minute (input and output; cache reads are left out): past the
    // 20,000 redline, not past full scale (25,000).
    assert!(line.contains("TACH 25,000/min"), "{line}");
    // 300 thinking characters of 1,000: 30 % of the output, estimated from the text.
    assert!(line.contains("TEMP 30% (estimate)"), "{line}");
    // 170,000 cache reads of 182,000 prompt tokens.
    assert!(line.contains("BOOST 93%"), "{line}");
    assert!(line.contains("COST $0.47"), "{line}");
    assert!(line.contains("MODEL opus"), "{line}");
    // The five lamps, each named, in panel order.
    assert!(
        line.ends_with("│ MODEL=on HOT=on WARN=off STALL=off IDLE=off"),
        "{line}"
    );
    // The calibration variables reach it: a higher redline puts HOT out, a lower one past
    // full scale blinks it; a budget gives FUEL an estimate.
    let watch = |flag: &str, value: &str| {
        redline(&h, &["watch", "--once", "--listen", &nobody, flag, value]).1
    };
    let out = watch("--tach-redline", "100000");
    assert!(out.contains(" HOT=off "), "{out}");
    let out = watch("--tach-redline", "19000");
    assert!(out.contains(" HOT=blink "), "{out}");
    let out = watch("--block-budget", "390000");
    assert!(out.contains("FUEL 50% est."), "{out}");
    let _ = std::fs::remove_dir_all(&h);
}

#[test]
fn doctor_shows_where_each_value_came_from() {
    let h = home("doctor");
    std::fs::write(
        h.join("claude/projects/p/s.jsonl"),
        opus_line_now() + "garbage\n",
    )
    .unwrap();
    std::fs::create_dir_all(h.join("config/redline")).unwrap();
    std::fs::write(
        h.join("config/redline/config.toml"),
        "cost_full_scale = 20\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_redline"))
        .args(["doctor", "--tach-window", "30", "--listen", "127.0.0.1:1"])
        .env_clear()
        .env("HOME", &h)
        .env("XDG_CONFIG_HOME", h.join("config"))
        .env("CLAUDE_CONFIG_DIR", h.join("claude"))
        .env("REDLINE_TACH_REDLINE", "30000")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = |key: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(key))
            .unwrap_or("")
            .to_owned()
    };
    assert!(
        row("tach_redline").contains("30000") && row("tach_redline").ends_with("(variable)"),
        "{text}"
    );
    assert!(row("tach_window").ends_with("(flag)"), "{text}");
    assert!(
        row("cost_full_scale").contains("20") && row("cost_full_scale").ends_with("(file)"),
        "{text}"
    );
    assert!(row("block_budget").ends_with("(default)"), "{text}");
    assert!(
        text.contains("1 files") && text.contains("1 responses, 1 unreadable lines"),
        "{text}"
    );
    assert!(text.contains("s.jsonl:2: malformed JSON"), "{text}");
    assert!(text.contains("not answering"), "{text}");
    let _ = std::fs::remove_dir_all(&h);
}

/// `redline watch` with `args`, the watch's own Claude directory empty (so its own scan
/// would show nothing).
fn watch_empty(args: &[&str]) -> (bool, String, String) {
    let h = home("empty");
    let out = redline(&h, args);
    let _ = std::fs::remove_dir_all(&h);
    out
}

#[test]
fn watch_shows_the_running_daemon_s_values_and_says_so() {
    let daemon_home = Home::new();
    daemon_home.append("p/s.jsonl", &opus_line_now());
    let d = Daemon::start(&daemon_home, &[]);
    let (ok, out, err) = watch_empty(&["watch", "--once", "--listen", &d.addr]);
    assert!(ok, "{err}");
    let (label, line) = out.trim_end().split_once('\n').unwrap();
    assert_eq!(label, format!("from the daemon at {}", d.addr));
    // The daemon's figures (its directory holds the response; the watch's holds nothing).
    for value in [
        "TACH 25,000/min",
        "TEMP 30% (estimate)",
        "BOOST 93%",
        "COST $0.47",
        "MODEL opus",
    ] {
        assert!(line.contains(value), "{value}: {line}");
    }
    assert!(
        line.ends_with("│ MODEL=on HOT=on WARN=off STALL=off IDLE=off"),
        "{line}"
    );
    assert!(err.is_empty(), "{err}");
    // The watch's own settings are not the daemon's: it says so.
    let (_, out, err) = watch_empty(&[
        "watch",
        "--once",
        "--listen",
        &d.addr,
        "--tach-redline",
        "100000",
    ]);
    assert!(out.contains(" HOT=on "), "{out}");
    assert!(
        err.contains("not --tach-redline") && err.contains("--scan"),
        "{err}"
    );
    // --scan reads the watch's own directory even with the daemon up.
    let (ok, out, err) = watch_empty(&["watch", "--once", "--scan", "--listen", &d.addr]);
    assert!(ok, "{err}");
    assert!(
        out.starts_with("own scan of ") && out.contains(": --scan\n"),
        "{out}"
    );
    assert!(
        out.contains("COST $0.00") && out.contains("MODEL --"),
        "{out}"
    );
}

#[test]
fn watch_follows_the_demo_daemon() {
    let home = Home::new();
    let d = Daemon::start(&home, &["--demo", "--demo-speed", "10"]);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (ok, out, err) = watch_empty(&["watch", "--once", "--listen", &d.addr]);
        assert!(ok, "{err}");
        let (label, line) = out.trim_end().split_once('\n').unwrap();
        assert_eq!(label, format!("from the daemon at {}", d.addr));
        // The demo's first response gives the daemon a model and dollars; an own scan of
        // the watch's empty directory has neither.
        if !line.contains("MODEL --") && !line.contains("COST $0.00") {
            for name in ["MODEL=", "HOT=", "WARN=", "STALL=", "IDLE="] {
                assert!(line.contains(name), "{name}: {line}");
            }
            break;
        }
        assert!(Instant::now() < deadline, "no demo values: {line}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Lines a running `redline watch` prints, as they come.
fn lines_of(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let out = BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in out.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// The next line that `f` holds for, within `secs` seconds; what came before it too.
fn next_line(rx: &mpsc::Receiver<String>, secs: u64, f: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) if f(&line) => return line,
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    panic!("no such line in {secs} s; saw {seen:#?}");
}

#[test]
fn watch_says_when_the_daemon_goes_away_scans_for_itself_and_comes_back_to_it() {
    let daemon_home = Home::new();
    daemon_home.append("p/s.jsonl", &opus_line_now());
    let d = Daemon::start(&daemon_home, &[]);
    let addr = d.addr.clone();
    let h = home("away");
    let mut watch = Command::new(env!("CARGO_BIN_EXE_redline"))
        .args(["watch", "--listen", &addr])
        .env_clear()
        .env("HOME", &h)
        .env("XDG_CONFIG_HOME", h.join("config"))
        .env("XDG_STATE_HOME", h.join("state"))
        .env("CLAUDE_CONFIG_DIR", h.join("claude"))
        .env("REDLINE_TIMEZONE", "UTC")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = lines_of(&mut watch);
    let from_daemon = format!("from the daemon at {addr}");
    next_line(&rx, 5, |l| l == from_daemon);
    next_line(&rx, 5, |l| l.contains("COST $0.47"));
    drop(d);
    // Its last values, marked, for the grace...
    let label = next_line(&rx, 5, |l| {
        l.starts_with(&format!("{from_daemon}: no answer since "))
    });
    assert!(
        label.contains(" (nothing listens there); its last values until ")
            && label.ends_with(", then an own scan"),
        "{label}"
    );
    next_line(&rx, 3, |l| l.contains("COST $0.47"));
    // ...then its own scan (of an empty directory), still asking.
    let label = next_line(&rx, 10, |l| l.starts_with("own scan of "));
    assert!(
        label.contains(&format!(": no answer from the daemon at {addr} since "))
            && label.ends_with(" (nothing listens there); retrying each second"),
        "{label}"
    );
    next_line(&rx, 3, |l| {
        l.contains("COST $0.00") && l.contains("MODEL --")
    });
    // A daemon at the same address again: its values again.
    let again = Daemon::start(&daemon_home, &["--listen", &addr]);
    next_line(&rx, 10, |l| l == from_daemon);
    next_line(&rx, 3, |l| l.contains("COST $0.47"));
    drop(again);
    let _ = watch.kill();
    let _ = watch.wait();
    let _ = std::fs::remove_dir_all(&h);
}
