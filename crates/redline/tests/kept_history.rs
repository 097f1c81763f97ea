//! Kept history end to end, with the real binary: the rollups `redline serve` keeps in its
//! store belong to the root (and host) they were read from, a report adds back only those
//! of the roots it reads and says so on stderr when it does, `redline doctor` shows what
//! the store holds per root, and a transcript deleted and written anew while the daemon
//! runs is counted once, lines without `message.id` included.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Daemon, Home};
use redline_engine::journal::Journal;
use redline_engine::store::{self, Record};
use serde_json::{Value, json};

/// A response line at `ts`; without an id (neither `message.id` nor `requestId`) when
/// `id` is `None`.
fn line(ts: &str, id: Option<&str>, input: u64, output: u64) -> String {
    let mut v = json!({
        "type": "assistant", "isSidechain": false, "sessionId": "s", "version": "2.1.39",
        "timestamp": ts,
        "message": {"model": "claude-sonnet-4-5", "type": "message", "role": "assistant",
            "content": [{"type": "text", "text": "ok"}],
            "usage": {"input_tokens": input, "output_tokens": output,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}
    });
    if let Some(id) = id {
        v["requestId"] = json!(format!("req_{id}"));
        v["message"]["id"] = json!(format!("msg_{id}"));
    }
    v.to_string() + "\n"
}

/// Writes `text` as the transcript `rel` below the Claude directory `claude`.
fn write(claude: &Path, rel: &str, text: &str) -> PathBuf {
    let p = claude.join("projects").join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

/// `redline ARGS` with the Claude directory `claude` and the home's state, as it ended.
fn run(home: &Home, claude: &Path, args: &[&str]) -> std::process::Output {
    home.redline()
        .args(args)
        .env("CLAUDE_CONFIG_DIR", claude)
        .env("COLUMNS", "200")
        .output()
        .unwrap()
}

/// `redline ARGS` (see [`run`]), which must succeed: its stdout and stderr.
fn redline(home: &Home, claude: &Path, args: &[&str]) -> (String, String) {
    let out = run(home, claude, args);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "redline {args:?}: {stderr}");
    (stdout, stderr)
}

/// `report daily --json` (with `more` flags): its totals and stderr.
fn daily(home: &Home, claude: &Path, more: &[&str]) -> (Value, String) {
    let mut args = vec!["report", "daily", "--json"];
    args.extend_from_slice(more);
    let (out, err) = redline(home, claude, &args);
    let v: Value = serde_json::from_str(&out).unwrap();
    (v["totals"].clone(), err)
}

fn store_path(home: &Home) -> PathBuf {
    home.dir.join("state/redline/store.jsonl")
}

/// The store's text once it holds at least `n` rollups (failing after 20 s).
fn rollups_written(home: &Home, n: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(store_path(home)).unwrap_or_default();
        if text.matches(r#""t":"r""#).count() >= n {
            return text;
        }
        assert!(Instant::now() < deadline, "no rollups in the store: {text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}

fn serve(home: &Home, claude: &Path, vars: &[(&str, &str)]) -> Daemon {
    let claude = claude.to_str().unwrap();
    let mut all = vec![("CLAUDE_CONFIG_DIR", claude)];
    all.extend_from_slice(vars);
    Daemon::run(
        home,
        &["serve", "--listen", "127.0.0.1:0", "--otlp-grpc", "off"],
        &all,
    )
}

fn kept_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("kept history"))
        .collect()
}

#[test]
fn a_report_adds_only_the_kept_history_of_the_roots_it_reads() {
    let home = Home::new();
    let (a, b) = (home.dir.join("a"), home.dir.join("b"));
    let a_transcript = write(
        &a,
        "pa/sa.jsonl",
        &[
            line("2026-01-10T10:00:00Z", Some("1"), 1_000_000, 10_000),
            line("2026-01-11T10:00:00Z", Some("2"), 2_000_000, 20_000),
            line("2026-01-12T10:00:00Z", Some("3"), 3_000_000, 30_000),
        ]
        .concat(),
    );
    write(
        &b,
        "pb/sb.jsonl",
        &line("2026-01-11T12:00:00Z", Some("9"), 5_000, 500),
    );
    let (a_alone, _) = daily(&home, &a, &["--transcripts-only"]);
    let (b_alone, _) = daily(&home, &b, &["--transcripts-only"]);
    assert_eq!(a_alone["totalTokens"], 6_060_000);
    assert_eq!(b_alone["totalTokens"], 5_500);

    // The daemon on A keeps A's hours, each naming its root and this host.
    let daemon = serve(&home, &a, &[]);
    let text = rollups_written(&home, 3);
    drop(daemon);

    // B's report adds none of A's history, and says nothing of kept history.
    let (b_report, err) = daily(&home, &b, &[]);
    assert_eq!(b_report, b_alone, "{err}");
    assert_eq!(kept_lines(&err), Vec::<&str>::new());
    let root = std::fs::canonicalize(a.join("projects")).unwrap();
    let named = format!(r#""rt":"{}","hn":"{}""#, root.display(), host());
    assert_eq!(text.matches(&named).count(), 3, "{text}");
    // A's, while its transcripts are there, adds nothing either.
    let (a_report, err) = daily(&home, &a, &[]);
    assert_eq!(a_report, a_alone);
    assert_eq!(kept_lines(&err), Vec::<&str>::new());

    // Once Claude Code deleted A's transcript, A's report keeps its days and says so.
    std::fs::remove_file(&a_transcript).unwrap();
    let (a_report, err) = daily(&home, &a, &[]);
    assert_eq!(a_report["totalTokens"], a_alone["totalTokens"]);
    let cost = |v: &Value| v["totalCost"].as_f64().unwrap();
    assert!((cost(&a_report) - cost(&a_alone)).abs() < 1e-9);
    let said = format!(
        "redline: kept history: added 3 days of 1 session (1 no longer on disk) from {}; --transcripts-only leaves it out",
        store_path(&home).display()
    );
    assert_eq!(kept_lines(&err), [said.as_str()]);
    // A report of that project keeps them too; one of a project never kept, none.
    let (pa, err) = daily(&home, &a, &["--project", "pa"]);
    assert_eq!(pa["totalTokens"], a_alone["totalTokens"], "{err}");
    assert_eq!(kept_lines(&err), [said.as_str()]);
    write(
        &a,
        "pc/sc.jsonl",
        &line("2026-01-13T10:00:00Z", Some("7"), 40, 4),
    );
    let (pc, err) = daily(&home, &a, &["--project", "pc"]);
    assert_eq!(pc["totalTokens"], 44, "{err}");
    assert_eq!(kept_lines(&err), Vec::<&str>::new());
    std::fs::remove_dir_all(a.join("projects/pc")).unwrap();
    // The table says it too, once.
    let (_, err) = redline(&home, &a, &["report", "session"]);
    assert_eq!(kept_lines(&err).len(), 1, "{err}");
    // And B still gets nothing of it.
    let (b_report, err) = daily(&home, &b, &[]);
    assert_eq!(b_report, b_alone);
    assert_eq!(kept_lines(&err), Vec::<&str>::new());

    // doctor shows what the store holds per root, and which roots are read here.
    let a_line = format!(
        "  rollups of {} on {}{{}}: 3 rollups, 1 session, 3 days, 2026-01-10 to 2026-01-12",
        root.display(),
        host()
    );
    let (out, _) = redline(&home, &b, &["doctor", "--listen", "127.0.0.1:1"]);
    assert!(
        out.contains(&format!("\nstore {}\n", store_path(&home).display())),
        "{out}"
    );
    assert!(out.contains(&a_line.replace("{}", "")), "{out}");
    assert!(
        out.contains("  rollups of the roots read here: none yet\n"),
        "{out}"
    );
    let (out, _) = redline(&home, &a, &["doctor", "--listen", "127.0.0.1:1"]);
    assert!(out.contains(&a_line.replace("{}", " (read here)")), "{out}");
}

#[test]
fn rollups_from_before_roots_were_recorded_stay_out_of_other_roots() {
    // A store as an older redline wrote it: rollups that name no root.
    let home = Home::new();
    let b = home.dir.join("b");
    write(
        &b,
        "pb/sb.jsonl",
        &line("2026-01-11T12:00:00Z", Some("9"), 5_000, 500),
    );
    let old = r#"{"t":"r","hr":1768039200000,"p":"pa","s":"sa","m":"claude-sonnet-4-5","n":1,"f":1768039200000,"k":[1000000,10000,0,0],"h1":0,"usd":3.15}"#;
    let record: Record = serde_json::from_str(old).unwrap();
    let (mut journal, _) = Journal::<Record>::open(&store_path(&home), store::KIND).unwrap();
    journal.append(&[record]).unwrap();
    drop(journal);
    let (alone, _) = daily(&home, &b, &["--transcripts-only"]);
    let (report, err) = daily(&home, &b, &[]);
    assert_eq!(report, alone);
    assert_eq!(kept_lines(&err), Vec::<&str>::new());
    let (out, _) = redline(&home, &b, &["doctor", "--listen", "127.0.0.1:1"]);
    assert!(
        out.contains("  rollups without a root (written before rollups named one, sessions no newer rollup names): 1 rollup, 1 session, 1 day, 2026-01-10 to 2026-01-10; no report adds them\n"),
        "{out}"
    );
}

/// A transcript with lines that carry no id at all, stamped now.
fn transcript_now() -> String {
    let ts = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    [
        line(&ts, Some("k1"), 100_000, 2_000),
        line(&ts, None, 300_000, 4_000),
        line(&ts, None, 300_000, 4_000),
        line(&ts, Some("k2"), 100_000, 2_000),
        line(&ts, None, 50_000, 1_000),
    ]
    .concat()
}

fn status(d: &Daemon) -> Value {
    serde_json::from_str(&d.get("/api/status").body).unwrap()
}

#[test]
fn a_transcript_deleted_and_written_anew_counts_once() {
    let home = Home::new();
    let claude = home.claude();
    let text = transcript_now();
    let path = write(&claude, "p/s.jsonl", &text);
    let lines = text.lines().count() as u64;
    let daemon = serve(&home, &claude, &[("REDLINE_ROLLUP_EVERY", "1")]);
    daemon.until("the transcript read", |d| {
        status(d)["lines_read"].as_u64() == Some(lines)
    });
    rollups_written(&home, 1);
    // Deleted and written anew, again and again (Claude Code's clean-up, a restore from
    // a backup, a synced directory), and once the whole projects directory.
    for round in 1..=4u64 {
        if round == 4 {
            std::fs::remove_dir_all(claude.join("projects")).unwrap();
        } else {
            std::fs::remove_file(&path).unwrap();
        }
        daemon.settle();
        write(&claude, "p/s.jsonl", &text);
        daemon.until("the new transcript read", |d| {
            status(d)["lines_read"].as_u64() == Some(lines * (round + 1))
        });
    }
    let (alone, _) = daily(&home, &claude, &["--transcripts-only"]);
    let today = |v: &Value| v["totalCost"].as_f64().unwrap();
    let usage = daemon.usage();
    assert!(
        (usage["cost"]["today_usd"].as_f64().unwrap() - today(&alone)).abs() < 1e-3,
        "the daemon counts {} today, the transcripts hold {}",
        usage["cost"]["today_usd"],
        alone["totalCost"]
    );
    // Whatever the daemon wrote since (a rollup each second) holds no more than the
    // transcripts: the report adds nothing to them.
    daemon.until("the rollups written", |d| {
        status(d)["store"]["rollups_pending"] == 0
    });
    std::thread::sleep(Duration::from_millis(2_500));
    drop(daemon);
    let (report, err) = daily(&home, &claude, &[]);
    assert_eq!(report["totalTokens"], alone["totalTokens"], "{err}");
    assert!((today(&report) - today(&alone)).abs() < 1e-9);
    assert_eq!(kept_lines(&err), Vec::<&str>::new());
    // The same after a restart: the daemon restores nothing on top of the transcripts.
    let daemon = serve(&home, &claude, &[]);
    daemon.until("the transcript read", |d| {
        status(d)["lines_read"].as_u64() == Some(lines)
    });
    let usage = daemon.usage();
    assert!((usage["cost"]["today_usd"].as_f64().unwrap() - today(&alone)).abs() < 1e-3);
    assert!(
        !daemon
            .stderr
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("kept history")),
        "{:?}",
        daemon.stderr.lock().unwrap()
    );
}

/// A daemon stopped with SIGTERM writes the hours read since its last rollup before it
/// ends: a transcript deleted before the next start still counts in the reports.
#[test]
fn a_stopped_daemon_keeps_the_hours_read_since_its_last_rollup() {
    let home = Home::new();
    let claude = home.dir.join("c");
    let transcript = write(
        &claude,
        "p/s.jsonl",
        &line("2026-01-10T10:00:00Z", Some("early"), 1_000, 100),
    );
    // The start-up rollup, then rollups every five minutes (the default): none more is
    // due while the test runs.
    let mut d = serve(&home, &claude, &[]);
    rollups_written(&home, 1);
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&transcript)
        .unwrap();
    std::io::Write::write_all(&mut f, line(&now, Some("late"), 700, 70).as_bytes()).unwrap();
    drop(f);
    let deadline = Instant::now() + Duration::from_secs(10);
    while d.usage()["window_5h_tokens"] != 770 {
        assert!(Instant::now() < deadline, "the daemon never read the line");
        std::thread::sleep(Duration::from_millis(50));
    }
    // SIGTERM, as systemd and Ctrl-C stop it.
    #[allow(unsafe_code)]
    // SAFETY: kill(2) with a child's pid and a signal number has no memory effects here.
    unsafe {
        libc::kill(d.child.id() as libc::pid_t, libc::SIGTERM);
    }
    let status = d.child.wait().unwrap();
    assert!(
        status.success(),
        "{status:?}: {:?}",
        d.stderr.lock().unwrap()
    );
    std::fs::remove_file(&transcript).unwrap();
    let (totals, err) = daily(&home, &claude, &[]);
    assert_eq!(totals["inputTokens"], 1_700, "{err}");
    assert_eq!(totals["outputTokens"], 170, "{err}");
    assert_eq!(kept_lines(&err).len(), 1, "{err}");
}

/// The store is read beside the scan: a store that cannot be read still stops the report
/// with its path named (rather than a report that silently lacks history), and
/// `--transcripts-only` does not read it at all.
#[test]
fn a_store_that_cannot_be_read_stops_the_report_unless_transcripts_only() {
    let home = Home::new();
    let claude = home.dir.join("claude");
    write(
        &claude,
        "p/s.jsonl",
        &line("2026-01-10T10:00:00Z", Some("1"), 100, 10),
    );
    // A directory where the store's file should be: opened, but not readable as one.
    std::fs::create_dir_all(store_path(&home)).unwrap();
    let out = run(&home, &claude, &["report", "daily", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a report without its history: {stderr}"
    );
    assert!(
        stderr.contains("cannot read the kept history in")
            && stderr.contains(&store_path(&home).display().to_string()),
        "{stderr}"
    );
    let (totals, _) = daily(&home, &claude, &["--transcripts-only"]);
    assert_eq!(totals["inputTokens"], 100);
    assert_eq!(totals["outputTokens"], 10);
}
