//! `redline stats git` end to end: a repository made here with the `git` program, commits
//! at known author times, transcripts whose `cwd` is that repository, and the exact
//! commits and per-commit figures in `--json`; a session whose directory is gone is
//! skipped with a note. Without git the tests say why and pass, except under `CI=true`.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Daemon, Home};
use serde_json::{Value, json};

/// 2026-03-05T10:00:00Z, in seconds.
const T0: i64 = 1_772_704_800;
const MIN: i64 = 60;

/// Whether git can be run; without it a test is skipped, unless on CI.
fn have_git() -> bool {
    let ok = Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "git is needed for tests/git.rs on CI"
        );
        eprintln!("skipped: no `git` on the PATH");
    }
    ok
}

/// `git` in `dir`, with nothing of the user's configuration.
fn git(home: &Home, dir: &Path, args: &[&str], at: Option<i64>) -> String {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home.dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args);
    if let Some(t) = at {
        let date = format!("@{t} +0000");
        cmd.env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A repository in `home`, configured as the user's own.
fn repo(home: &Home, name: &str) -> std::path::PathBuf {
    let dir = home.dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    git(home, &dir, &["init", "-q"], None);
    git(
        home,
        &dir,
        &["config", "user.email", "dev@example.com"],
        None,
    );
    git(home, &dir, &["config", "user.name", "Dev"], None);
    dir
}

/// Writes `lines` lines to `file` in the repository and commits them at `at` (seconds);
/// returns the hash. `author` overrides the author.
fn commit(
    home: &Home,
    dir: &Path,
    file: &str,
    lines: &str,
    at: i64,
    author: Option<&str>,
) -> String {
    std::fs::write(dir.join(file), lines).unwrap();
    git(home, dir, &["add", file], None);
    let mut args = vec!["commit", "-q", "-m", "secret subject"];
    let who;
    if let Some(a) = author {
        who = format!("--author={a}");
        args.push(&who);
    }
    git(home, dir, &args, Some(at));
    git(home, dir, &["rev-parse", "HEAD"], None)
}

/// An assistant line of `session` in `cwd` at `at` (milliseconds), with its usage.
fn response(session: &str, cwd: &Path, id: &str, at_ms: i64, input: u64, output: u64) -> String {
    let ts = jiff::Timestamp::from_millisecond(at_ms)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    json!({
        "parentUuid": null, "isSidechain": false, "userType": "external",
        "cwd": cwd, "sessionId": session, "version": "2.1.39", "gitBranch": "main",
        "type": "assistant", "requestId": format!("req_{id}"), "timestamp": ts,
        "message": {"id": format!("msg_{id}"), "model": "claude-sonnet-4-5", "type": "message",
            "role": "assistant", "content": [{"type": "text", "text": "ok"}],
            "usage": {"input_tokens": input, "output_tokens": output,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}
    })
    .to_string()
        + "\n"
}

/// Sonnet 4.5: $3 per million input tokens, $15 per million output.
fn cost(input: u64, output: u64) -> f64 {
    (input as f64 * 3.0 + output as f64 * 15.0) / 1e6
}

fn stats_git(home: &Home, extra: &[&str]) -> Value {
    let out = home
        .redline()
        .args(["stats", "git", "--json"])
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn close(v: &Value, want: f64) {
    let got = v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
    assert!((got - want).abs() < 1e-6, "{got} != {want}");
}

#[test]
fn commits_in_a_sessions_repository_get_its_spend_since_the_commit_before() {
    if !have_git() {
        return;
    }
    let home = Home::new();
    let app = repo(&home, "work/app");
    // Before the session's span widened by 15 minutes: not the session's.
    let early = commit(&home, &app, "a.txt", "1\n", T0 - 20 * MIN, None);
    // Ten minutes in: after the responses at 0 and 5.
    let c1 = commit(
        &home,
        &app,
        "a.txt",
        "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n",
        T0 + 10 * MIN,
        None,
    );
    // Someone else's commit in the span: never counted.
    commit(
        &home,
        &app,
        "b.txt",
        "x\n",
        T0 + 20 * MIN,
        Some("Other <other@example.com>"),
    );
    // Within the slack after the last response (30 + 15): the responses at 12 and 30.
    let c2 = commit(
        &home,
        &app,
        "a.txt",
        "1\n2\nthree\n4\n5\n6\n7\n8\n9\n10\n11\n12\n",
        T0 + 44 * MIN,
        None,
    );
    // Past the slack.
    let late = commit(&home, &app, "a.txt", "1\n", T0 + 46 * MIN, None);

    let s = "11111111-2222-3333-4444-555555555555";
    let ms = |m: i64| (T0 + m * MIN) * 1000;
    let mut lines = String::new();
    for (id, at, input, output) in [
        ("a", 0, 1000, 100),
        ("b", 5, 2000, 200),
        ("c", 12, 4000, 400),
        ("d", 30, 8000, 800),
    ] {
        lines += &response(s, &app, id, ms(at), input, output);
    }
    home.append(&format!("-work-app/{s}.jsonl"), &lines);
    // A session whose directory has gone since.
    let gone = home.dir.join("work/gone");
    home.append(
        "-work-gone/gone.jsonl",
        &response("gone", &gone, "g", ms(3), 10, 10),
    );

    let doc = stats_git(&home, &[]);
    let commits = doc["commits"].as_array().unwrap();
    let hashes: Vec<&str> = commits
        .iter()
        .map(|c| c["hash"].as_str().unwrap())
        .collect();
    assert_eq!(hashes, [&c1[..12], &c2[..12]], "{doc:#}");
    assert_ne!(early, late);

    let first = &commits[0];
    assert_eq!(first["time"], "2026-03-05T10:10:00Z");
    assert_eq!(first["date"], "2026-03-05");
    assert_eq!(first["project"], "-work-app");
    assert_eq!(first["session"], s);
    assert_eq!(first["branch"], "main");
    assert_eq!(
        (
            first["lines_added"].as_u64(),
            first["lines_removed"].as_u64()
        ),
        (Some(10), Some(0))
    );
    assert_eq!(first["files"], 1);
    assert_eq!(first["responses"], 2);
    assert_eq!(first["tokens"], 3300);
    close(&first["cost_usd"], cost(3000, 300));
    close(&first["tokens_per_line"], 330.0);
    close(&first["cost_per_line"], cost(3000, 300) / 10.0);

    let second = &commits[1];
    assert_eq!(
        (
            second["lines_added"].as_u64(),
            second["lines_removed"].as_u64()
        ),
        (Some(2), Some(1))
    );
    assert_eq!(second["responses"], 2);
    assert_eq!(second["tokens"], 13_200);
    close(&second["cost_usd"], cost(12_000, 1200));
    close(&second["tokens_per_line"], 4400.0);

    let t = &doc["totals"];
    assert_eq!(t["sessions"], 1);
    assert_eq!(t["commits"], 2);
    assert_eq!(
        (t["lines_added"].as_u64(), t["lines_removed"].as_u64()),
        (Some(12), Some(1))
    );
    assert_eq!(t["tokens"], 16_500);
    close(&t["cost_usd"], cost(15_000, 1500));
    close(&t["tokens_per_commit"], 8250.0);
    close(&t["cost_per_commit"], cost(15_000, 1500) / 2.0);
    // Ratios of tokens to two places.
    close(&t["tokens_per_line"], 1269.23);
    assert_eq!(doc["by_project"][0]["project"], "-work-app");
    assert_eq!(doc["by_project"][0]["commits"], 2);
    assert_eq!(doc["by_day"][0]["date"], "2026-03-05");
    assert_eq!(doc["slack_minutes"], 15);
    assert_eq!(
        doc["skipped"],
        json!([{"cwd": gone.display().to_string(), "sessions": 1,
                "reason": "no such directory (moved or deleted)"}])
    );
    // Counts only: no subject, no author.
    let text = doc.to_string();
    assert!(
        !text.contains("secret subject") && !text.contains("example.com"),
        "{text}"
    );

    // A wider slack takes the late commit in (and the early one, 20 minutes before).
    let wide = stats_git(&home, &["--slack", "20"]);
    assert_eq!(wide["commits"].as_array().unwrap().len(), 4, "{wide:#}");

    // The tables say the same, within 80 columns.
    let out = home.redline().args(["stats", "git"]).output().unwrap();
    let tables = String::from_utf8(out.stdout).unwrap();
    assert!(
        tables.contains(&c1[..8]) && tables.contains("By project"),
        "{tables}"
    );
    assert!(
        tables.contains("no such directory (moved or deleted)"),
        "{tables}"
    );
    for line in tables
        .lines()
        .filter(|l| l.starts_with(['│', '┌', '├', '└', '╞']))
    {
        assert!(line.chars().count() <= 80, "{line}");
    }
}

#[test]
fn a_directory_outside_any_repository_is_skipped_with_a_note() {
    if !have_git() {
        return;
    }
    let home = Home::new();
    let plain = home.dir.join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    home.append(
        "-plain/p.jsonl",
        &response("p", &plain, "p", T0 * 1000, 10, 10),
    );
    let out = home
        .redline()
        .args(["stats", "git", "--json"])
        .env("GIT_CEILING_DIRECTORIES", &home.dir)
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["skipped"][0]["reason"], "not in a git repository",
        "{doc:#}"
    );
    assert_eq!(doc["totals"]["sessions"], 0);
}

#[test]
fn the_daemon_counts_commits_made_while_a_session_runs() {
    if !have_git() {
        return;
    }
    let home = Home::new();
    let app = repo(&home, "work/app");
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let s = "live-session";
    home.append(
        &format!("-work-app/{s}.jsonl"),
        &response(s, &app, "l1", now_ms, 100, 10),
    );
    let d = Daemon::run(
        &home,
        &["serve", "--listen", "127.0.0.1:0", "--otlp-grpc", "off"],
        &[("REDLINE_GIT_EVERY", "1")],
    );
    let series = "redline_git_commits_total{project=\"-work-app\"}";
    // Authored after the daemon started (it counts from its start).
    let at = jiff::Timestamp::now().as_second() + 1;
    commit(&home, &app, "a.txt", "1\n2\n", at, None);
    d.until("the commit is counted", |d| d.metric(series) == 1.0);
    // Counted once, however often the repository is read.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(d.metric(series), 1.0);
    let api = d.get("/api/git?days=1");
    assert_eq!(api.status, 200);
    let doc: Value = serde_json::from_str(&api.body).unwrap();
    assert_eq!(doc["totals"]["commits"], 1, "{doc:#}");
    assert_eq!(doc["otel"]["commits"], 0);

    // Claude Code's own counts, beside.
    let export = r#"{"resourceMetrics":[{"resource":{"attributes":[]},"scopeMetrics":[{"metrics":[
        {"name":"claude_code.commit.count","sum":{"aggregationTemporality":1,"dataPoints":[{"asInt":"2"}]}},
        {"name":"claude_code.lines_of_code.count","sum":{"aggregationTemporality":1,"dataPoints":[
          {"asInt":"30","attributes":[{"key":"type","value":{"stringValue":"added"}}]},
          {"asInt":"4","attributes":[{"key":"type","value":{"stringValue":"removed"}}]}]}}]}]}]}"#;
    assert_eq!(d.post("/v1/metrics", export).status, 200);
    assert_eq!(d.metric("claude_code_commit_count_total"), 2.0);
    assert_eq!(
        d.metric("claude_code_lines_of_code_count_total{type=\"added\"}"),
        30.0
    );
    let doc: Value = serde_json::from_str(&d.get("/api/git?days=1").body).unwrap();
    assert_eq!(
        (&doc["otel"]["commits"], &doc["otel"]["lines_removed"]),
        (&json!(2), &json!(4))
    );
}
