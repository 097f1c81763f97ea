//! `redline watch --once` and `redline doctor` on a temporary Claude directory.

use std::path::PathBuf;
use std::process::Command;

use serde_json::json;

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
    let (ok, out, err) = redline(&h, &["watch", "--once"]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    let line = out.trim_end();
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
    let (_, out, _) = redline(&h, &["watch", "--once", "--tach-redline", "100000"]);
    assert!(out.contains(" HOT=off "), "{out}");
    let (_, out, _) = redline(&h, &["watch", "--once", "--tach-redline", "19000"]);
    assert!(out.contains(" HOT=blink "), "{out}");
    let (_, out, _) = redline(&h, &["watch", "--once", "--block-budget", "390000"]);
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
