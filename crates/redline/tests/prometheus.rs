//! Prometheus both ways, with a real Prometheus: it scrapes one daemon's `/metrics`
//! (transcript lines and OpenTelemetry from two hosts), and a second daemon started with
//! `--source prometheus=URL` reads the same tokens and dollars back from it; STALL blinks
//! while that Prometheus is down and goes out once it answers again. The hybrid case: that
//! second daemon also reads a transcript of its own, fuel, cost and model come from
//! Prometheus and the tach, cache and context from the transcript, each value falling back
//! to the transcripts through a Prometheus outage and returning after it. And every query
//! of the Grafana dashboard in `contrib/grafana/` runs on that Prometheus and names only
//! series redline exports.
//!
//! Needs Prometheus (`REDLINE_PROMETHEUS`, default `/usr/bin/prometheus`: Debian's 2.42,
//! which `.ci/run` installs). Without it the tests skip with the reason; under `CI=true`
//! they fail instead.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::{Daemon, Home, Reply, gzip, now_ns, otlp_metrics, otlp_protobuf, response};
use redline_engine::otlp::Signal;
use serde_json::Value;

const OPUS: &str = "claude-opus-4-6";
const HAIKU: &str = "claude-haiku-4-5";

/// The Prometheus binary, or `None` (with the reason printed) when there is none.
fn prometheus_bin() -> Option<PathBuf> {
    let bin = std::env::var_os("REDLINE_PROMETHEUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/prometheus"));
    if bin.is_file() {
        return Some(bin);
    }
    let why = format!(
        "no Prometheus at {} (apt-get install prometheus, or set REDLINE_PROMETHEUS)",
        bin.display()
    );
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but {why}"
    );
    eprintln!("skipped: {why}");
    None
}

/// A port nobody listens on right now (Prometheus cannot be told to bind port 0).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Prometheus of the test's own: its configuration and data in a temporary directory,
/// scraping one target every second; killed (and the directory removed) when dropped.
struct Prometheus {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Prometheus {
    fn start(bin: PathBuf, target: &str) -> Prometheus {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "redline-prometheus-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).unwrap();
        std::fs::write(
            dir.join("prometheus.yml"),
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: redline\n    metrics_path: /metrics\n    \
                 static_configs:\n      - targets: [\"{target}\"]\n"
            ),
        )
        .unwrap();
        let mut p = Prometheus {
            bin,
            dir,
            port: free_port(),
            child: None,
        };
        p.spawn();
        p
    }

    /// Starts the binary on this port and data directory and waits until it is ready.
    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("prometheus.log"))
            .unwrap();
        let child = Command::new(&self.bin)
            .arg(format!(
                "--config.file={}",
                self.dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                self.dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.get("/-/ready").is_some_and(|r| r.status == 200) {
                return;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!("prometheus exited with {status}:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "prometheus not ready:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// An HTTP/1.0 GET (so the answer is neither chunked nor kept alive).
    fn get(&self, path_and_query: &str) -> Option<Reply> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(
            s,
            "GET {path_and_query} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
        )
        .ok()?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).ok()?;
        Some(Reply::parse(&buf))
    }

    /// The value of a query that gives one sample, `None` while it gives none.
    fn scalar(&self, query: &str) -> Option<f64> {
        let r = self.get(&format!("/api/v1/query?query={}", encode(query)))?;
        let v: Value = serde_json::from_str(&r.body).ok()?;
        v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Percent-encoding for a query string value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Waits up to `secs` for `f` to give `Some`, failing with `what` and `context()`.
fn wait_for<T>(
    what: &str,
    secs: u64,
    mut f: impl FnMut() -> Option<T>,
    context: impl Fn() -> String,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A delta metrics export of one session of one host (see [`otlp_metrics`]).
fn metrics(host: &str, session: &str, model: &str, output: u64, usd: f64) -> Value {
    let start = now_ns() - 1_000_000_000;
    otlp_metrics(Some(host), session, model, 1, start, output, usd)
}

/// One host exports JSON, the other gzip protobuf, as Claude Code's exporters may.
fn export(d: &Daemon, host: &str, session: &str, model: &str, output: u64, usd: f64) {
    let body = metrics(host, session, model, output, usd);
    let r = if host == "laptop" {
        d.post_bytes(
            "/v1/metrics",
            "application/json",
            "",
            body.to_string().as_bytes(),
        )
    } else {
        d.post_bytes(
            "/v1/metrics",
            "application/x-protobuf",
            "Content-Encoding: gzip\r\n",
            &gzip(&otlp_protobuf(Signal::Metrics, &body)),
        )
    };
    assert_eq!(r.status, 200, "{} {}", r.head, r.body);
}

/// Writes a generated corpus (200 responses, malformed lines and duplicates included)
/// into `home`'s Claude directory and returns its tokens, as `redline report` counts them
/// on a copy of the same corpus.
fn generated_corpus(home: &Home) -> f64 {
    let redline = |args: &[&str], claude: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_redline"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home.dir)
            .env("CLAUDE_CONFIG_DIR", claude)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let copy = home.dir.join("corpus-copy");
    let generate = |dir: &Path| {
        let dir = dir.to_str().unwrap();
        let args = [
            "demo",
            "generate",
            "--out",
            dir,
            "--responses",
            "200",
            "--seed",
            "9",
            "--force",
        ];
        redline(&args, Path::new(dir));
    };
    generate(&copy);
    let report: Value = serde_json::from_slice(&redline(
        &["report", "daily", "--json", "--transcripts-only"],
        &copy,
    ))
    .unwrap();
    generate(&home.claude());
    report["totals"]["totalTokens"].as_f64().unwrap()
}

/// The sum of every sample of one metric in a daemon's `/metrics`.
fn total(d: &Daemon, name: &str) -> f64 {
    d.get("/metrics")
        .body
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

const TOKENS: &str = "claude_code_token_usage_tokens_total";
const COST: &str = "claude_code_cost_usage_USD_total";

/// What daemon B shows, for failure messages.
fn show(b: &Daemon, p: &Prometheus) -> String {
    format!(
        "B /usage: {}\nB stderr: {:?}\nprometheus log:\n{}",
        b.get("/usage").body,
        b.stderr.lock().unwrap(),
        p.log()
    )
}

#[test]
fn prometheus_scrapes_redline_and_a_second_daemon_reads_it_back() {
    let Some(bin) = prometheus_bin() else { return };
    let t0 = Instant::now();
    let home_a = Home::new();
    let a = Daemon::start(&home_a, &[]);
    // Before the first scrape: the series Prometheus first sees already hold tokens (the
    // sample `increase()` would lose).
    home_a.append("proj/s.jsonl", &response("a1", 4000));
    export(&a, "laptop", "r1", OPUS, 20_000, 1.25);
    a.until("the first figures", |a| total(a, TOKENS) == 24_100.0);
    let p = Prometheus::start(bin, &a.addr);
    wait_for(
        "the first scrape",
        15,
        || p.scalar(&format!("sum({TOKENS})")).filter(|&v| v > 0.0),
        || p.log(),
    );
    // After it: more on the same series, and a new one (a second host, another model).
    home_a.append("proj/s.jsonl", &response("a2", 6000));
    export(&a, "laptop", "r1", OPUS, 30_000, 2.5);
    export(&a, "buildbox", "b1", HAIKU, 8_000, 0.04);
    // And a generated corpus written into A's Claude directory while it runs.
    let corpus = generated_corpus(&home_a);
    let tokens = 24_100.0 + 6_100.0 + 30_000.0 + 8_000.0 + corpus;
    a.until("A's counters", |a| total(a, TOKENS) == tokens);
    let cost = total(&a, COST);
    assert!(cost > 3.79, "A's dollars: {cost}");
    let scraped = wait_for(
        "Prometheus to hold A's totals",
        15,
        || {
            let v = p.scalar(&format!("sum({TOKENS})"))?;
            (v == tokens).then_some(v)
        },
        || format!("A /metrics:\n{}\n{}", a.get("/metrics").body, p.log()),
    );
    let scraped_cost = p.scalar(&format!("sum({COST})")).unwrap();
    assert!(
        (scraped_cost - cost).abs() < 1e-9,
        "{scraped_cost} vs {cost}"
    );
    let scraped_at = t0.elapsed();

    // B reads Prometheus only: its own home has no transcripts.
    let home_b = Home::new();
    let source = format!("prometheus={}", p.url());
    let b = Daemon::start(&home_b, &["--source", &source]);
    let u = wait_for(
        "B to read A's figures from Prometheus",
        15,
        || {
            let u = b.usage();
            (u["sources"]["prometheus"]["ok"] == true
                && u["fuel"]["block_tokens"].as_f64() == Some(scraped))
            .then_some(u)
        },
        || show(&b, &p),
    );
    let today = u["cost"]["today_usd"].as_f64().unwrap();
    assert!((today - cost).abs() < 0.01, "B {today} vs A {cost}: {u}");
    assert!(u["tach"]["tokens_per_min"].as_f64().unwrap() > 0.0, "{u}");
    assert!(u["gauges"]["tach"].as_f64().unwrap() > 0.0, "{u}");
    assert!(u["model"]["id"].is_string(), "{u}");
    assert_eq!(u["lamps"]["stall"], "off", "{u}");
    assert_eq!(u["sources"]["prometheus"]["error"], Value::Null, "{u}");
    eprintln!(
        "scraped after {:.1} s, read back after {:.1} s",
        scraped_at.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
}

#[test]
fn stall_blinks_while_prometheus_is_down_and_recovers() {
    let Some(bin) = prometheus_bin() else { return };
    let t0 = Instant::now();
    let home_a = Home::new();
    let a = Daemon::start(&home_a, &[]);
    home_a.append("proj/s.jsonl", &response("c1", 3000));
    a.until("A's counters", |a| total(a, TOKENS) == 3_100.0);
    let mut p = Prometheus::start(bin, &a.addr);
    wait_for(
        "the first scrape",
        15,
        || p.scalar(&format!("sum({TOKENS})")).filter(|&v| v > 0.0),
        || p.log(),
    );
    let home_b = Home::new();
    let source = format!("prometheus={}", p.url());
    let b = Daemon::start(&home_b, &["--source", &source]);
    let healthy =
        |u: &Value| u["sources"]["prometheus"]["ok"] == true && u["lamps"]["stall"] == "off";
    wait_for(
        "B to read Prometheus",
        15,
        || healthy(&b.usage()).then_some(()),
        || show(&b, &p),
    );

    p.kill();
    let down = Instant::now();
    let u = wait_for(
        "STALL blinking while Prometheus is down",
        15,
        || {
            let u = b.usage();
            (u["lamps"]["stall"] == "blink" && u["sources"]["prometheus"]["ok"] == false)
                .then_some(u)
        },
        || show(&b, &p),
    );
    let error = u["sources"]["prometheus"]["error"].as_str().unwrap_or("");
    assert!(!error.is_empty(), "{u}");
    assert_eq!(b.metric(r#"redline_source_up{source="prometheus"}"#), 0.0);
    let noticed = down.elapsed();

    // Some failed polls later, the same Prometheus (port and data) comes back.
    std::thread::sleep(Duration::from_secs(3));
    p.spawn();
    let up = Instant::now();
    wait_for(
        "STALL to go out again",
        20,
        || healthy(&b.usage()).then_some(()),
        || show(&b, &p),
    );
    eprintln!(
        "STALL blinking {:.1} s after the kill ({error}); off {:.1} s after the restart; {:.1} s in all",
        noticed.as_secs_f64(),
        up.elapsed().as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
}

/// `/api/status`'s choice for one value.
/// The number a source offers for a value in one `/api/status` choice.
fn candidate(choice: &Value, source: &str) -> f64 {
    choice["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["source"] == source)
        .and_then(|x| x["number"].as_f64())
        .unwrap()
}

fn choice(d: &Daemon, value: &str) -> Value {
    let s: Value = serde_json::from_str(&d.get("/api/status").body).unwrap();
    s["values"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v["value"] == value).cloned())
        .unwrap_or(Value::Null)
}

#[test]
fn hybrid_fuel_and_cost_from_prometheus_tach_from_transcripts_through_an_outage() {
    let Some(bin) = prometheus_bin() else { return };
    // A: what Prometheus holds (a transcript and one OpenTelemetry export of dollars).
    let home_a = Home::new();
    let a = Daemon::start(&home_a, &[]);
    home_a.append("proj/s.jsonl", &response("h1", 5000));
    export(&a, "laptop", "r1", OPUS, 20_000, 1.25);
    a.until("A's counters", |a| total(a, TOKENS) == 25_100.0);
    let a_cost = total(&a, COST);
    let mut p = Prometheus::start(bin, &a.addr);
    let scraped = wait_for(
        "Prometheus to hold A's totals",
        15,
        || {
            p.scalar(&format!("sum({TOKENS})"))
                .filter(|&v| v == 25_100.0)
        },
        || p.log(),
    );

    // B: Prometheus configured, and a transcript of its own being written.
    let home_b = Home::new();
    home_b.append("proj/s.jsonl", &response("b1", 2000));
    let source = format!("prometheus={}", p.url());
    let b = Daemon::start(&home_b, &["--source", &source, "--block-budget", "1000000"]);
    let n = AtomicU32::new(2);
    let write = || {
        let i = n.fetch_add(1, Ordering::Relaxed);
        home_b.append("proj/s.jsonl", &response(&format!("b{i}"), 2000));
    };
    let src = |u: &Value, k: &str| u[k]["source"].as_str().unwrap_or("").to_owned();
    let before = wait_for(
        "B: fuel, cost and model from Prometheus, the tach from its transcript",
        20,
        || {
            write();
            let u = b.usage();
            (u["sources"]["prometheus"]["ok"] == true
                && src(&u, "fuel") == "prometheus"
                && src(&u, "cost") == "prometheus"
                && u["fuel"]["block_tokens"].as_f64() == Some(scraped))
            .then_some(u)
        },
        || show(&b, &p),
    );
    let u = &before;
    assert_eq!(u["fuel"]["basis"], "estimate", "{u}");
    assert_eq!(u["fuel"]["remaining"], 1.0 - 0.0251, "{u}");
    assert_eq!(src(u, "model"), "prometheus", "{u}");
    assert_eq!(u["model"]["family"], "opus", "{u}");
    assert_eq!(src(u, "tach"), "jsonl", "{u}");
    assert!(u["tach"]["tokens_per_min"].as_f64().unwrap() > 0.0, "{u}");
    assert_eq!(src(u, "context"), "jsonl", "{u}");
    assert_eq!(u["context"]["used_tokens"], 100, "{u}");
    assert_eq!(src(u, "cache"), "jsonl", "{u}");
    assert_eq!(u["cache"]["hit_rate"], 0.0, "{u}");
    assert_eq!(u["lamps"]["stall"], "off", "{u}");
    let prom_cost = u["cost"]["today_usd"].as_f64().unwrap();
    assert!(
        (prom_cost - a_cost).abs() < 0.01,
        "B {prom_cost} vs A {a_cost}: {u}"
    );
    let c = choice(&b, "cost");
    assert_eq!(c["source"], "prometheus", "{c}");
    assert_eq!(c["fallback"], false, "{c}");
    let local_cost = candidate(&c, "jsonl");
    assert!(local_cost > 0.0 && local_cost < prom_cost, "{c}");
    assert!(c["disagreement"].as_f64().unwrap() > 0.0, "{c}");

    // Prometheus down: each value falls back to the transcripts, STALL blinks.
    p.kill();
    let during = wait_for(
        "B to fall back to its transcripts with STALL blinking",
        20,
        || {
            write();
            let u = b.usage();
            (u["lamps"]["stall"] == "blink"
                && u["sources"]["prometheus"]["ok"] == false
                && src(&u, "fuel") == "jsonl"
                && src(&u, "cost") == "jsonl")
                .then_some(u)
        },
        || show(&b, &p),
    );
    let u = &during;
    assert_eq!(u["fuel"]["basis"], "estimate", "{u}");
    // B's own block: its lines of 2,100 tokens each.
    let block = u["fuel"]["block_tokens"].as_u64().unwrap();
    assert!(block >= 2100 && block % 2100 == 0, "{u}");
    let remaining = u["fuel"]["remaining"].as_f64().unwrap();
    assert!((remaining - (1.0 - block as f64 / 1e6)).abs() < 1e-3, "{u}");
    assert_eq!(src(u, "model"), "jsonl", "{u}");
    assert_eq!(u["model"]["family"], "sonnet", "{u}");
    assert_eq!(src(u, "tach"), "jsonl", "{u}");
    assert!(u["tach"]["tokens_per_min"].as_f64().unwrap() > 0.0, "{u}");
    assert_eq!(src(u, "context"), "jsonl", "{u}");
    let fallback_cost = u["cost"]["today_usd"].as_f64().unwrap();
    assert!(fallback_cost > 0.0 && fallback_cost < prom_cost, "{u}");
    let c = choice(&b, "cost");
    assert_eq!(c["fallback"], true, "{c}");
    assert!(
        c["why"].as_str().unwrap().contains("prometheus failing"),
        "{c}"
    );
    let disagreement = c["disagreement"].as_f64().unwrap();
    let local_during = candidate(&c, "jsonl");
    assert_eq!(choice(&b, "fuel")["fallback"], true);

    // Back: the values return to Prometheus, the cost by no more than the disagreement.
    p.spawn();
    let after = wait_for(
        "B back on Prometheus, STALL out",
        30,
        || {
            write();
            let u = b.usage();
            (u["sources"]["prometheus"]["ok"] == true
                && u["lamps"]["stall"] == "off"
                && src(&u, "fuel") == "prometheus"
                && src(&u, "cost") == "prometheus")
                .then_some(u)
        },
        || show(&b, &p),
    );
    let u = &after;
    assert_eq!(u["fuel"]["block_tokens"].as_f64(), Some(scraped), "{u}");
    assert_eq!(src(u, "model"), "prometheus", "{u}");
    assert_eq!(src(u, "tach"), "jsonl", "{u}");
    assert!(u["tach"]["tokens_per_min"].as_f64().unwrap() > 0.0, "{u}");
    let back = u["cost"]["today_usd"].as_f64().unwrap();
    assert!((back - a_cost).abs() < 0.01, "{u}");
    // The step back is the disagreement `/api/status` shows, both sides read from one
    // snapshot: Prometheus's answer moves a little between evaluations, so a
    // disagreement read during the outage (of the reading held then) is not the one the
    // return crosses.
    let c = choice(&b, "cost");
    let (prom_now, local_now) = (candidate(&c, "prometheus"), candidate(&c, "jsonl"));
    assert_eq!(c["source"], "prometheus", "{c}");
    let shown = c["disagreement"].as_f64().unwrap();
    assert!((shown - (prom_now - local_now).abs()).abs() < 1e-9, "{c}");
    // It is the outage's disagreement, moved at most by what the transcript grew since
    // (a line is written on every poll, a loaded machine polls longer, and Prometheus
    // scrapes that growth a scrape later) and Prometheus's own movement: never a jump of
    // another size.
    let grown = local_now - local_during;
    assert!(grown >= 0.0, "{c}");
    assert!(
        (shown - disagreement).abs() < grown + 0.05,
        "disagreement {shown} after, {disagreement} during, transcripts {grown} more"
    );
    assert_eq!(choice(&b, "cost")["fallback"], false);
}

/// Every PromQL expression of the Grafana dashboard in `contrib/grafana/`, its template
/// variables and Grafana's interval macros filled in as Grafana would.
fn dashboard_queries() -> Vec<String> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contrib/grafana/dashboards/redline.json");
    let d: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut out = Vec::new();
    for p in d["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().into_iter().flatten() {
            out.push(t["expr"].as_str().unwrap().to_owned());
        }
    }
    for v in d["templating"]["list"].as_array().unwrap() {
        // label_values(metric, label): the metric must be there.
        let q = v["definition"].as_str().unwrap();
        let metric = q
            .trim_start_matches("label_values(")
            .split(',')
            .next()
            .unwrap();
        out.push(metric.to_owned());
    }
    out.iter()
        .map(|e| {
            e.replace("$instance", ".*")
                .replace("$__rate_interval", "1m")
                .replace("$__range", "1h")
        })
        .collect()
}

/// The metric names a query mentions: words starting `redline_` or `claude_code_`.
fn names_in(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let word_start = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        let rest = &expr[i..];
        if word_start && (rest.starts_with("redline_") || rest.starts_with("claude_code_")) {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            out.push(rest[..end].to_owned());
            i += end;
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn every_grafana_query_runs_on_prometheus_and_names_a_series_redline_exports() {
    let Some(bin) = prometheus_bin() else { return };
    let home = Home::new();
    let a = Daemon::start(&home, &[]);
    // A response whose text has an em-dash and a watched phrase, so the character
    // counters have samples too.
    let mut line: Value = serde_json::from_str(&response("g1", 500)).unwrap();
    line["message"]["content"][0]["text"] = Value::from("Perfect! It works \u{2014} ship it.");
    home.append("proj/s.jsonl", &(line.to_string() + "\n"));
    a.until("the em-dash counted", |a| {
        a.metric("redline_emdash_total{model=\"claude-sonnet-4-5\"}") == 1.0
    });
    let p = Prometheus::start(bin, &a.addr);
    wait_for(
        "the first scrape with the em-dash",
        15,
        || p.scalar("sum(redline_emdash_total)").filter(|&v| v > 0.0),
        || p.log(),
    );
    let exposed = a.get("/metrics").body;
    let queries = dashboard_queries();
    assert!(queries.len() > 30, "{} queries", queries.len());
    for q in &queries {
        let r = p
            .get(&format!("/api/v1/query?query={}", encode(q)))
            .unwrap();
        let v: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["status"], "success", "{q}: {}", r.body);
        for name in names_in(q) {
            assert!(
                exposed.contains(&format!("# TYPE {name} ")),
                "the dashboard queries {name}, which redline does not export:\n{exposed}"
            );
        }
    }
}
