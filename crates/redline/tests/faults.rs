//! The daemon under faults (issue 17): a FIFO named `*.jsonl`, a project directory that
//! cannot be read, idle and trickling connections, a descriptor limit.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Daemon, Home, response};

/// Makes a FIFO.
fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

/// `GET path`, timed.
fn timed_get(d: &Daemon, path: &str) -> (u16, Duration) {
    let started = Instant::now();
    let r = d.get(path);
    (r.status, started.elapsed())
}

#[test]
fn a_fifo_named_jsonl_never_blocks_the_daemon() {
    let home = Home::new();
    home.append("-p/s.jsonl", &response("a", 10));
    let d = Daemon::start(&home, &[]);
    d.until("the first response", |d| {
        d.usage()["sources"]["jsonl"]["last_event_at"].is_string()
    });
    // A FIFO and a link to one appear while serving: each is announced, and neither may
    // be opened (an open would wait for a writer that never comes).
    mkfifo(&home.file("-p/pipe.jsonl"));
    mkfifo(&home.dir.join("elsewhere"));
    std::os::unix::fs::symlink(home.dir.join("elsewhere"), home.file("-q/link.jsonl")).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let before = d.output_tokens();
    home.append("-p/s.jsonl", &response("b", 7));
    d.until("the line after the FIFO", |d| {
        d.output_tokens() == before + 7.0
    });
    let (status, took) = timed_get(&d, "/usage");
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(1), "/usage took {took:?}");
    let usage = d.usage();
    assert!(
        usage["sources"]["jsonl"]["error"].is_null(),
        "a FIFO is not a failing source: {usage}"
    );
    d.until("the warning", |d| {
        d.stderr
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("pipe.jsonl: not a regular file"))
    });
}

/// Makes `dir` (with a transcript in it) unreadable to the daemon: `chmod 000`, or for
/// root (whom permissions do not stop) a chain of directories below it too deep to name
/// (`ENAMETOOLONG`), built through symbolic links. Returns the directory that cannot be
/// read.
fn make_unreadable(dir: &Path, scratch: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("hidden.jsonl"), response("hidden", 1000)).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read_dir(dir).is_err() {
        return dir.to_path_buf();
    }
    // Root reads it anyway.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::remove_file(dir.join("hidden.jsonl")).unwrap();
    let name = "d".repeat(200);
    let mut hop = dir.to_path_buf();
    for i in 0..24 {
        std::fs::create_dir(hop.join(&name)).unwrap();
        let link = scratch.join(format!("hop{i}"));
        std::os::unix::fs::symlink(hop.join(&name), &link).unwrap();
        hop = link;
    }
    std::fs::write(hop.join("deep.jsonl"), response("hidden", 1000)).unwrap();
    let mut first = dir.to_path_buf();
    while first.as_os_str().len() < 4096 {
        first = first.join(&name);
    }
    first
}

/// Puts permissions back so that the home can be removed.
fn restore(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
}

#[test]
fn an_unreadable_project_directory_hides_no_other() {
    let home = Home::new();
    for (i, p) in ["-a", "-c", "-d"].iter().enumerate() {
        home.append(&format!("{p}/s{i}.jsonl"), &response(&format!("r{i}"), 10));
    }
    let scratch = home.dir.join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    let bad = make_unreadable(&home.projects().join("-b"), &scratch);
    // Named by its path (the home directory may be written `~`).
    let shown = bad.strip_prefix(&home.dir).unwrap().display().to_string();

    // The daemon reads the rest, names the directory, and lights STALL.
    let d = Daemon::start(&home, &[]);
    let usage = d.usage();
    assert_eq!(d.output_tokens(), 0.0, "counters start at zero");
    assert_eq!(usage["window_5h_tokens"], 330, "{usage}");
    let error = usage["sources"]["jsonl"]["error"].as_str().unwrap_or("");
    assert!(error.contains(&format!("{shown}: ")), "{usage}");
    assert_eq!(usage["stall"], true, "{usage}");
    assert!(
        d.stderr
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("warning: ") && l.contains(&format!("{shown}: "))),
        "{:?}",
        d.stderr.lock().unwrap()
    );
    drop(d);

    // So does a report, and it succeeds.
    let out = Command::new(env!("CARGO_BIN_EXE_redline"))
        .args(["report", "daily", "--json", "--transcripts-only"])
        .env_clear()
        .env("HOME", &home.dir)
        .env("XDG_CONFIG_HOME", home.dir.join("config"))
        .env("XDG_STATE_HOME", home.dir.join("state"))
        .env("CLAUDE_CONFIG_DIR", home.claude())
        .env("REDLINE_TIMEZONE", "UTC")
        .output()
        .unwrap();
    restore(&home.projects().join("-b"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("{shown}: ")), "{stderr}");
    let stdout: String = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect();
    assert!(stdout.contains("\"outputTokens\":30"), "{stdout}");
}

/// The daemon with its file limit set to `files` (soft and hard), so that it cannot
/// raise it.
#[allow(unsafe_code)]
fn daemon_with_file_limit(home: &Home, files: u64) -> Daemon {
    use std::os::unix::process::CommandExt;
    let mut cmd = home.redline();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--otlp-grpc", "off"]);
    let limit = libc::rlimit {
        rlim_cur: files as libc::rlim_t,
        rlim_max: files as libc::rlim_t,
    };
    // SAFETY: setrlimit is async-signal-safe and only reads `limit`.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Daemon::spawn(cmd)
}

#[test]
fn idle_connections_keep_out_neither_usage_nor_a_new_line() {
    let home = Home::new();
    home.append("-p/s.jsonl", &response("a", 10));
    // Fewer descriptors than idle connections: 600 connections, 200 descriptors.
    let d = daemon_with_file_limit(&home, 200);
    d.until("the first response", |d| {
        d.usage()["window_5h_tokens"] == 110
    });
    let addr: std::net::SocketAddr = d.addr.parse().unwrap();
    let mut idle = Vec::new();
    for _ in 0..600 {
        // A daemon that stops accepting leaves connects hanging in a full backlog.
        match TcpStream::connect_timeout(&addr, Duration::from_secs(3)) {
            Ok(s) => idle.push(s),
            Err(e) => panic!("connect: {e}"),
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    // A line written while the descriptors are taken.
    home.append("-p/s.jsonl", &response("b", 7));
    let (status, took) = timed_get(&d, "/usage");
    assert_eq!(status, 200);
    assert!(took < Duration::from_secs(3), "/usage took {took:?}");
    // The line is read without another write to its file.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let u = d.usage();
        if u["window_5h_tokens"] == 217 {
            break;
        }
        assert!(Instant::now() < deadline, "the new line was not read: {u}");
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(idle);
}

#[test]
fn the_connection_cap_closes_the_oldest_idle_connection_first() {
    let home = Home::new();
    home.append("-p/s.jsonl", &response("a", 10));
    let d = Daemon::start(&home, &[]);
    let mut idle: Vec<TcpStream> = (0..600)
        .map(|_| TcpStream::connect(&d.addr).unwrap())
        .collect();
    for _ in 0..3 {
        let (status, took) = timed_get(&d, "/usage");
        assert_eq!(status, 200);
        assert!(took < Duration::from_secs(1), "/usage took {took:?}");
    }
    // The first ones connected were closed to make room, well before the header timeout.
    assert!(
        closed_within(&mut idle[0], Duration::from_secs(2)).is_some(),
        "the oldest idle connection is still open"
    );
    assert!(
        closed_within(&mut idle[599], Duration::from_secs(1)).is_none(),
        "the newest idle connection was closed"
    );
}

/// Reads until the peer closes; the time that took.
fn closed_within(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 256];
    while started.elapsed() < limit {
        match s.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(started.elapsed()),
        }
    }
    None
}

#[test]
fn slow_and_silent_connections_are_closed_after_the_header_timeout() {
    let home = Home::new();
    let d = Daemon::start(&home, &[]);
    // One says nothing; one trickles its headers, a byte every half second.
    let mut silent = TcpStream::connect(&d.addr).unwrap();
    let mut slow = TcpStream::connect(&d.addr).unwrap();
    let mut writer = slow.try_clone().unwrap();
    std::thread::spawn(move || {
        let head = b"GET /usage HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        for b in head {
            if writer.write_all(&[*b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    });
    // An `/events` reader is never cut off: its response is in progress.
    let mut events = TcpStream::connect(&d.addr).unwrap();
    events
        .write_all(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let took = closed_within(&mut silent, Duration::from_secs(12)).expect("silent stays open");
    assert!(
        took > Duration::from_secs(3) && took < Duration::from_secs(8),
        "{took:?}"
    );
    let took = closed_within(&mut slow, Duration::from_secs(4)).expect("trickler stays open");
    assert!(took < Duration::from_secs(4), "{took:?}");
    assert_eq!(
        closed_within(&mut events, Duration::from_secs(2)),
        None,
        "/events was closed"
    );
    // A kept-alive connection idle between requests is closed the same way.
    let mut kept = TcpStream::connect(&d.addr).unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let took =
        closed_within(&mut kept, Duration::from_secs(12)).expect("idle keep-alive stays open");
    assert!(
        took > Duration::from_secs(3) && took < Duration::from_secs(8),
        "{took:?}"
    );
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

/// A line longer than the 64 MiB bound, appended live, is passed over and counted apart
/// (`redline_long_lines_total`), the memory it took is given back, and the line after it
/// counts as usual.
#[test]
fn a_live_line_longer_than_the_bound_is_passed_over_and_its_memory_given_back() {
    let home = Home::new();
    std::fs::create_dir_all(home.projects()).unwrap();
    let d = Daemon::start(&home, &[]);
    // The tokens metrics count from the daemon's start: the lines come after it.
    home.append("-p/s.jsonl", &response("a", 10));
    d.until("the first response", |d| d.output_tokens() == 10.0);
    let before = rss_kib(d.child.id());
    let mut long = String::with_capacity(70 << 20);
    long.push_str("{\"type\":\"user\",\"pad\":\"");
    long.push_str(&"x".repeat(66 << 20));
    long.push_str("\"}\n");
    home.append("-p/s.jsonl", &long);
    drop(long);
    home.append("-p/s.jsonl", &response("b", 20));
    d.until("the response after the long line", |d| {
        d.output_tokens() == 30.0
    });
    assert_eq!(d.metric("redline_long_lines_total"), 1.0);
    assert_eq!(d.metric("redline_parse_errors_total"), 0.0);
    let said = d.stderr.lock().unwrap().join("\n");
    assert!(
        said.contains("s.jsonl:2: line longer than 64 MiB, skipped"),
        "{said}"
    );
    // The buffer grown for the line (at most 64 MiB) is given back once it is passed.
    let after = rss_kib(d.child.id());
    assert!(
        after < before + 24 * 1024,
        "RSS {before} KiB before the long line, {after} KiB after"
    );
}
