//! What the daemon's end-to-end tests share: a temporary home with a Claude directory,
//! response lines stamped now, and the real binary started on a free port with a small
//! HTTP client. Each test binary uses part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A temporary home with a Claude directory, removed when dropped.
pub struct Home {
    pub dir: PathBuf,
}

impl Home {
    pub fn new() -> Home {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "redline-serve-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Home { dir }
    }
    pub fn claude(&self) -> PathBuf {
        self.dir.join("claude")
    }
    pub fn projects(&self) -> PathBuf {
        self.claude().join("projects")
    }
    pub fn file(&self, rel: &str) -> PathBuf {
        let p = self.projects().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        p
    }
    pub fn append(&self, rel: &str, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.file(rel))
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }
}

impl Home {
    /// The real binary in this home and nothing of the caller's environment but `PATH`:
    /// its config, state and Claude directory, days in UTC.
    pub fn redline(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_redline"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.dir)
            .env("XDG_CONFIG_HOME", self.dir.join("config"))
            .env("XDG_STATE_HOME", self.dir.join("state"))
            .env("XDG_CACHE_HOME", self.dir.join("cache"))
            .env("CLAUDE_CONFIG_DIR", self.claude())
            .env("REDLINE_TIMEZONE", "UTC");
        cmd
    }

    /// Where the scan index lives in this home.
    pub fn cache(&self) -> PathBuf {
        self.dir.join("cache").join("redline")
    }

    /// Sets a transcript's modification time `secs` seconds back, as if it had been
    /// written then (the scan index trusts only files that settled before it looked).
    pub fn age(&self, rel: &str, secs: u64) {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(self.file(rel))
            .unwrap();
        f.set_modified(std::time::SystemTime::now() - Duration::from_secs(secs))
            .unwrap();
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A response line stamped now.
pub fn response(id: &str, output: u64) -> String {
    let ts = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    json!({
        "type": "assistant", "isSidechain": false, "sessionId": "s", "version": "2.1.39",
        "requestId": format!("req_{id}"), "timestamp": ts,
        "message": {"id": format!("msg_{id}"), "model": "claude-sonnet-4-5", "type": "message",
            "role": "assistant", "content": [{"type": "text", "text": "ok"}],
            "usage": {"input_tokens": 100, "output_tokens": output,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}
    })
    .to_string()
        + "\n"
}

/// A running daemon; killed when dropped.
pub struct Daemon {
    pub child: Child,
    pub addr: String,
    pub stderr: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    pub fn start(home: &Home, args: &[&str]) -> Daemon {
        let mut full = vec!["serve"];
        full.extend_from_slice(args);
        full.extend(defaults(args));
        Daemon::run(home, &full, &[])
    }

    /// The binary with exactly these arguments and extra variables.
    pub fn run(home: &Home, args: &[&str], vars: &[(&str, &str)]) -> Daemon {
        let mut cmd = home.redline();
        cmd.args(args).envs(vars.iter().copied());
        Daemon::spawn(cmd)
    }

    /// The binary with exactly these arguments and extra variables, as soon as it serves:
    /// its values may not be final yet (see [`Daemon::spawn_serving`]).
    pub fn run_serving(home: &Home, args: &[&str], vars: &[(&str, &str)]) -> Daemon {
        let mut cmd = home.redline();
        cmd.args(args).envs(vars.iter().copied());
        Daemon::spawn_serving(cmd)
    }

    /// Starts `cmd` (a `serve`) and waits for its address on stderr, then for its values
    /// to be final (it serves before it has read its store back, and says when it has).
    pub fn spawn(cmd: Command) -> Daemon {
        Daemon::spawn_with(cmd, true)
    }

    /// Starts `cmd` (a `serve`) and waits for its address on stderr only: `/usage` may
    /// still say `"final": false`.
    pub fn spawn_serving(cmd: Command) -> Daemon {
        Daemon::spawn_with(cmd, false)
    }

    fn spawn_with(mut cmd: Command, wait_final: bool) -> Daemon {
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = BufReader::new(child.stderr.take().unwrap());
        let keep = stderr.clone();
        std::thread::spawn(move || {
            for line in lines.lines().map_while(Result::ok) {
                if let Some(rest) = line.split("serving http://").nth(1) {
                    let _ = tx.send(Some(rest.split('/').next().unwrap_or("").to_owned()));
                }
                if line.starts_with("redline: final values after ") {
                    let _ = tx.send(None);
                }
                keep.lock().unwrap().push(line);
            }
        });
        let started = |what: &str| -> Option<String> {
            rx.recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("daemon did not {what}: {:?}", stderr.lock().unwrap()))
        };
        // The final line may come first: the hub catches up while the server starts.
        let mut addr = None;
        let mut caught_up = false;
        while addr.is_none() || (wait_final && !caught_up) {
            match started(if addr.is_none() { "start" } else { "catch up" }) {
                Some(a) => addr = Some(a),
                None => caught_up = true,
            }
        }
        let addr = addr.unwrap_or_default();
        // A daemon bound to every address is reached through loopback.
        let addr = addr.replace("0.0.0.0", "127.0.0.1");
        Daemon {
            child,
            addr,
            stderr,
        }
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request(&format!(
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        ))
    }

    pub fn request(&self, raw: &str) -> Reply {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(raw.as_bytes()).unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        Reply::parse(&buf)
    }

    /// A POST of any bytes with the given content type and extra header lines.
    pub fn post_bytes(&self, path: &str, content_type: &str, headers: &str, body: &[u8]) -> Reply {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(body).unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        Reply::parse(&buf)
    }

    /// Where the daemon said its gRPC receiver listens.
    pub fn grpc_addr(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(a) = self
                .stderr
                .lock()
                .unwrap()
                .iter()
                .find_map(|l| l.split("OTLP over gRPC on ").nth(1).map(str::to_owned))
            {
                return a.trim().to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "no gRPC address: {:?}",
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn post(&self, path: &str, body: &str) -> Reply {
        self.request(&format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ))
    }

    pub fn usage(&self) -> Value {
        serde_json::from_str(&self.get("/usage").body).unwrap()
    }

    /// A metric's value, 0 when absent.
    pub fn metric(&self, series: &str) -> f64 {
        self.get("/metrics")
            .body
            .lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    }

    pub fn output_tokens(&self) -> f64 {
        self.metric(
            r#"claude_code_token_usage_tokens_total{type="output",model="claude-sonnet-4-5"}"#,
        )
    }

    /// Waits until `f` holds, failing with `what` after five seconds.
    pub fn until(&self, what: &str, f: impl Fn(&Daemon) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if f(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "timed out waiting for {what}; /metrics:\n{}\nstderr: {:?}",
            self.get("/metrics").body,
            self.stderr.lock().unwrap()
        );
    }

    /// Gives the daemon time to read something it should then ignore.
    pub fn settle(&self) {
        std::thread::sleep(Duration::from_millis(300));
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    pub fn parse(raw: &[u8]) -> Reply {
        let text = String::from_utf8_lossy(raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Reply {
            status,
            head: head.to_ascii_lowercase(),
            body: body.to_owned(),
        }
    }
}

/// An OTLP/JSON export (as `serde_json` builds it) in protobuf, the way an exporter sends
/// it with `http/protobuf` or gRPC.
pub fn otlp_protobuf(signal: redline_engine::otlp::Signal, v: &Value) -> Vec<u8> {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use prost::Message;
    match signal {
        redline_engine::otlp::Signal::Metrics => {
            serde_json::from_value::<ExportMetricsServiceRequest>(v.clone())
                .unwrap()
                .encode_to_vec()
        }
        redline_engine::otlp::Signal::Logs => {
            serde_json::from_value::<ExportLogsServiceRequest>(v.clone())
                .unwrap()
                .encode_to_vec()
        }
    }
}

/// gzip, as a sender with `Content-Encoding: gzip` sends.
pub fn gzip(b: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(b).unwrap();
    z.finish().unwrap()
}

/// Nanoseconds since the epoch, now: OTLP's time unit.
pub fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// An OTLP/JSON string attribute.
pub fn otlp_kv(k: &str, v: &str) -> Value {
    json!({"key": k, "value": {"stringValue": v}})
}

/// A metrics export as Claude Code sends it, stamped now: `output` tokens and `usd`
/// dollars of one session of `model`, from `host` (no `host.name` when `None`).
/// `temporality` 1 = delta, 2 = cumulative.
pub fn otlp_metrics(
    host: Option<&str>,
    session: &str,
    model: &str,
    temporality: u8,
    start_ns: u128,
    output: u64,
    usd: f64,
) -> Value {
    let at = now_ns().to_string();
    let start = start_ns.to_string();
    let mut resource = vec![otlp_kv("service.name", "claude-code")];
    if let Some(h) = host {
        resource.push(otlp_kv("host.name", h));
    }
    let attrs = |kind: Option<&str>| {
        let mut a = vec![
            otlp_kv("session.id", session),
            otlp_kv("model", model),
            otlp_kv("user.id", "u"),
        ];
        if let Some(k) = kind {
            a.push(otlp_kv("type", k));
        }
        a
    };
    json!({"resourceMetrics": [{"resource": {"attributes": resource}, "scopeMetrics": [{
        "scope": {"name": "com.anthropic.claude_code"},
        "metrics": [
            {"name": "claude_code.token.usage", "unit": "tokens", "sum": {
                "aggregationTemporality": temporality, "isMonotonic": true,
                "dataPoints": [{"attributes": attrs(Some("output")), "startTimeUnixNano": start,
                                "timeUnixNano": at, "asInt": output.to_string()}]}},
            {"name": "claude_code.cost.usage", "unit": "USD", "sum": {
                "aggregationTemporality": temporality, "isMonotonic": true,
                "dataPoints": [{"attributes": attrs(None), "startTimeUnixNano": start,
                                "timeUnixNano": at, "asDouble": usd}]}}]}]}]})
}

/// `../shared/fixtures/<name>` (or below `REDLINE_SHARED`), the real transcripts beside
/// the repository; `None` with a printed reason when it is absent, a failure under
/// `CI=true`.
pub fn shared_fixture(name: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("REDLINE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
        .join("fixtures")
        .join(name);
    if dir.join("projects").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but the shared fixtures are missing at {}",
        dir.display()
    );
    eprintln!("skipping: no shared fixtures at {}", dir.display());
    None
}

/// SPEC.md's flat fields of `/usage`, in their order on the wire (redline's `final` last,
/// after the origin's).
pub const FLAT_FIELDS: [&str; 13] = [
    "version",
    "rate_1m",
    "window_5h_tokens",
    "window_5h_pct",
    "thinking_ratio",
    "cache_hit_rate",
    "last_model",
    "hot",
    "warn",
    "stall",
    "idle",
    "updated_at",
    "final",
];

/// A free port and no gRPC receiver, unless `args` name them: tests run side by side.
fn defaults(args: &[&str]) -> Vec<&'static str> {
    let mut more = Vec::new();
    if !args.contains(&"--listen") {
        more.extend(["--listen", "127.0.0.1:0"]);
    }
    if !args.contains(&"--otlp-grpc") {
        more.extend(["--otlp-grpc", "off"]);
    }
    more
}

/// `redline serve` with `args` and `vars`, which must stop with an error within 10 s:
/// what it said.
pub fn serve_fails(home: &Home, args: &[&str], vars: &[(&str, &str)]) -> String {
    let mut child = home
        .redline()
        .arg("serve")
        .args(args)
        .args(defaults(args))
        .envs(vars.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "serve {args:?} {vars:?} did not stop: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "serve {args:?} {vars:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `cmd` to its end, failing with what it wrote to stderr unless it succeeded.
pub fn succeed(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The redline binary, its scan index kept in a scratch cache rather than the real
/// `~/.cache` (for commands run without a [`Home`]).
pub fn redline() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_redline"));
    cmd.env(
        "XDG_CACHE_HOME",
        std::env::temp_dir().join("redline-test-cache"),
    );
    cmd
}
