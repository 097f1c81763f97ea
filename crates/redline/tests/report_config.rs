//! Reports read the configuration as `serve` does (flag, `REDLINE_*` variable, config
//! file, default), and refuse what cannot be right before they scan: a time zone that does
//! not exist, a `--since` after `--until`; an unknown `--project` says why it found nothing.

mod common;

use std::process::{Command, Output};

use common::{Home, response};
use serde_json::{Value, json};

/// One response at `ts` (UTC), in project `proj`.
fn line_at(id: &str, ts: &str) -> String {
    json!({
        "type": "assistant", "isSidechain": false, "sessionId": "s", "version": "2.1.39",
        "requestId": format!("req_{id}"), "timestamp": ts,
        "message": {"id": format!("msg_{id}"), "model": "claude-sonnet-4-5", "type": "message",
            "role": "assistant", "content": [{"type": "text", "text": "ok"}],
            "usage": {"input_tokens": 100, "output_tokens": 50,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}
    })
    .to_string()
        + "\n"
}

/// `redline report ARGS` in `home`, with only `vars` beyond the home's own set.
fn report(home: &Home, args: &[&str], vars: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_redline"))
        .arg("report")
        .args(args)
        .env_clear()
        .env("HOME", &home.dir)
        .env("CLAUDE_CONFIG_DIR", home.claude())
        .env("XDG_CONFIG_HOME", home.dir.join("config"))
        .env("XDG_STATE_HOME", home.dir.join("state"))
        .env("TZ", "UTC")
        .envs(vars.iter().copied())
        .output()
        .unwrap()
}

fn config(home: &Home, text: &str) {
    let dir = home.dir.join("config").join("redline");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), text).unwrap();
}

fn days(out: &Output) -> Vec<String> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["daily"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["date"].as_str().unwrap().to_owned())
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// 20:00 UTC on 1 March is 05:00 on 2 March in Tokyo: the day a report puts it on is the
/// config file's time zone's, unless a variable or a flag says otherwise.
#[test]
fn the_config_files_time_zone_groups_the_days() {
    let h = Home::new();
    h.append("-p/a.jsonl", &line_at("a", "2026-03-01T20:00:00.000Z"));
    assert_eq!(days(&report(&h, &["daily", "--json"], &[])), ["2026-03-01"]);
    config(&h, "# mine\ntimezone = \"Asia/Tokyo\"\n");
    assert_eq!(days(&report(&h, &["daily", "--json"], &[])), ["2026-03-02"]);
    let by_var = report(&h, &["daily", "--json"], &[("REDLINE_TIMEZONE", "UTC")]);
    assert_eq!(days(&by_var), ["2026-03-01"]);
    let by_flag = report(
        &h,
        &["daily", "--json", "-z", "America/New_York"],
        &[("REDLINE_TIMEZONE", "Asia/Tokyo")],
    );
    assert_eq!(days(&by_flag), ["2026-03-01"]);
    // --config names another file.
    let other = h.dir.join("other.toml");
    std::fs::write(&other, "timezone = \"UTC\"\n").unwrap();
    let named = report(
        &h,
        &["daily", "--json", "--config", other.to_str().unwrap()],
        &[],
    );
    assert_eq!(days(&named), ["2026-03-01"]);
}

/// A zone that does not exist is refused at once, naming where it was set.
#[test]
fn an_unknown_time_zone_names_its_place() {
    let h = Home::new();
    h.append("-p/a.jsonl", &line_at("a", "2026-03-01T20:00:00.000Z"));
    let out = report(&h, &["daily", "--timezone", "Mars/Olympus"], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("--timezone: unknown time zone \"Mars/Olympus\""),
        "{err}"
    );
    let out = report(&h, &["daily"], &[("REDLINE_TIMEZONE", "Nowhere")]);
    assert!(
        stderr(&out).contains("REDLINE_TIMEZONE: unknown time zone"),
        "{}",
        stderr(&out)
    );
    config(&h, "cost_mode = \"auto\"\ntimezone = \"Europe/Atlantis\"\n");
    let out = report(&h, &["daily"], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("config.toml:2: timezone: unknown time zone"),
        "{err}"
    );
}

/// `--since` after `--until` is a contradiction, not an empty report.
#[test]
fn since_after_until_is_an_error() {
    let h = Home::new();
    h.append("-p/a.jsonl", &line_at("a", "2026-03-01T20:00:00.000Z"));
    let out = report(
        &h,
        &["daily", "--since", "20260305", "--until", "20260301"],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--since 2026-03-05 is after --until 2026-03-01"),
        "{}",
        stderr(&out)
    );
    let same_day = report(
        &h,
        &["daily", "--json", "-s", "20260301", "-u", "20260301"],
        &[],
    );
    assert_eq!(days(&same_day), ["2026-03-01"]);
}

/// An unknown project says which projects there are, the likeliest first.
#[test]
fn an_unknown_project_says_why_nothing_was_found() {
    let h = Home::new();
    h.append(
        "-home-you-webapp/a.jsonl",
        &line_at("a", "2026-03-01T20:00:00.000Z"),
    );
    h.append(
        "-home-you-tools/b.jsonl",
        &line_at("b", "2026-03-01T21:00:00.000Z"),
    );
    let out = report(&h, &["daily", "--project", "webapp"], &[]);
    let err = stderr(&out);
    assert!(
        err.contains("no project is named \"webapp\" (2 projects in the transcripts); did you mean -home-you-webapp"),
        "{err}"
    );
    let out = report(&h, &["daily", "--project=-home-you-tools", "--json"], &[]);
    assert_eq!(days(&out), ["2026-03-01"]);
    assert!(!stderr(&out).contains("no project"), "{}", stderr(&out));
}

/// A block budget set in the config file is the blocks report's token limit, as
/// `--token-limit` is; the daemon's default (`max`) is not.
#[test]
fn the_config_files_block_budget_is_the_blocks_limit() {
    let h = Home::new();
    // An active block with a burn rate: two responses ten minutes apart, the newer now.
    let before = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(10);
    let before = before.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    h.append("-p/a.jsonl", &line_at("a", &before));
    h.append("-p/a.jsonl", &response("b", 500));
    let status = |out: &Output| -> Value {
        assert!(out.status.success(), "{}", stderr(out));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["blocks"][0]["tokenLimitStatus"].clone()
    };
    assert_eq!(status(&report(&h, &["blocks", "--json"], &[])), Value::Null);
    config(&h, "block_budget = 1000\n");
    assert_eq!(
        status(&report(&h, &["blocks", "--json"], &[]))["limit"],
        1000
    );
    let flag = report(&h, &["blocks", "--json", "--token-limit", "2000"], &[]);
    assert_eq!(status(&flag)["limit"], 2000);
}

/// Lines beyond Claude Code's own format are counted and noted, in words that agree with
/// their number.
#[test]
fn the_note_on_other_formats_counts_in_words() {
    let h = Home::new();
    let spaced =
        |id: &str| line_at(id, "2026-03-01T20:00:00.000Z").replace("\"usage\":{", "\"usage\": {");
    assert!(spaced("a").contains("\"usage\": {"));
    h.append("-p/a.jsonl", &spaced("a"));
    let err = stderr(&report(&h, &["daily"], &[]));
    assert!(
        err.contains("note: 1 usage line is not in Claude Code's own format"),
        "{err}"
    );
    h.append("-p/a.jsonl", &spaced("b"));
    let err = stderr(&report(&h, &["daily"], &[]));
    assert!(
        err.contains("note: 2 usage lines are not in Claude Code's own format"),
        "{err}"
    );
}
