//! The real `redline serve` on a temporary Claude directory: files written the ways Claude
//! Code (and users) write them, read back through the HTTP endpoints. Each test starts its
//! own daemon on a free loopback port.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{Daemon, Home, response, serve_fails};
use serde_json::Value;

#[test]
fn appends_half_lines_garbage_and_duplicates() {
    let home = Home::new();
    home.append("p/s.jsonl", &response("old", 5));
    let d = Daemon::start(&home, &[]);
    // History counts in /usage, not in the since-start counters.
    assert_eq!(d.output_tokens(), 0.0);
    assert!(d.usage()["tach"]["tokens_per_min"].as_f64().unwrap() >= 105.0);

    home.append("p/s.jsonl", &response("a", 10));
    d.until("an appended response", |d| d.output_tokens() == 10.0);

    // A line written in two halves counts once it is whole, and is no error.
    let line = response("b", 20);
    let (first, second) = line.split_at(line.len() / 2);
    home.append("p/s.jsonl", first);
    d.settle();
    assert_eq!(d.output_tokens(), 10.0);
    home.append("p/s.jsonl", second);
    d.until("the second half", |d| d.output_tokens() == 30.0);
    assert_eq!(d.metric("redline_parse_errors_total"), 0.0);

    // A garbage line is reported with its place and the next good line still counts.
    home.append(
        "p/s.jsonl",
        "{\"type\":\"assistant\",\"message\":{\"usage\":\n",
    );
    home.append("p/s.jsonl", &response("c", 40));
    d.until("the line after the garbage", |d| d.output_tokens() == 70.0);
    assert_eq!(d.metric("redline_parse_errors_total"), 1.0);
    let logged = d.stderr.lock().unwrap().join("\n");
    assert!(logged.contains("s.jsonl:4: malformed JSON"), "{logged}");

    // A streamed copy of the same response with more output replaces it; one with less
    // is a duplicate and changes nothing.
    home.append("p/s.jsonl", &response("c", 100));
    d.until("the larger copy", |d| d.output_tokens() == 130.0);
    home.append("p/s.jsonl", &response("c", 1));
    d.until("the smaller copy to be read", |d| {
        d.metric("redline_duplicate_copies_total") == 2.0
    });
    assert_eq!(d.output_tokens(), 130.0);
}

#[test]
fn new_directories_truncation_and_replacement() {
    let home = Home::new();
    home.append("p/s.jsonl", &response("a", 10));
    let d = Daemon::start(&home, &[]);

    // A new project directory with a session and a subagent file in it.
    home.append("newproject/s2.jsonl", &response("n", 7));
    home.append("newproject/s2/subagents/agent-1.jsonl", &response("m", 3));
    d.until("files in a new directory", |d| d.output_tokens() == 10.0);

    // Truncated and rewritten: what was counted stays, the new line adds.
    std::fs::write(home.file("p/s.jsonl"), response("t", 50)).unwrap();
    d.until("the rewritten file", |d| d.output_tokens() == 60.0);
    // Everything was written within the tach's minute: a, n, m and t (input + output).
    assert_eq!(
        d.usage()["tach"]["tokens_per_min"],
        110.0 + 107.0 + 103.0 + 150.0
    );

    // Replaced by a file holding the old lines and one more: only the new one adds.
    let tmp = home.dir.join("replacement.tmp");
    std::fs::write(&tmp, response("t", 50) + &response("r", 5)).unwrap();
    std::fs::rename(&tmp, home.file("p/s.jsonl")).unwrap();
    d.until("the replaced file", |d| d.output_tokens() == 65.0);
    d.settle();
    assert_eq!(d.output_tokens(), 65.0);

    // Deleted: nothing counted is lost.
    std::fs::remove_file(home.file("p/s.jsonl")).unwrap();
    d.settle();
    assert_eq!(d.output_tokens(), 65.0);
    assert_eq!(d.usage()["sources"]["jsonl"]["ok"], true);
}

#[test]
fn a_root_created_after_start_is_picked_up_and_nothing_fails_meanwhile() {
    let home = Home::new();
    let d = Daemon::start(&home, &[]);
    let u = d.usage();
    assert_eq!(u["sources"]["jsonl"]["ok"], true, "{u}");
    assert_eq!(u["lamps"]["stall"], "off");
    assert!(u["model"]["family"].is_null());
    // The whole directory chain appears, the file with it.
    home.append("p/s.jsonl", &response("a", 10));
    d.until("the new root", |d| d.usage()["model"]["family"] == "sonnet");
    home.append("p/s.jsonl", &response("b", 4));
    d.until("a line appended in the new root", |d| {
        d.output_tokens() == 14.0
    });
}

#[test]
fn every_endpoint_and_bad_requests() {
    let home = Home::new();
    home.append("p/s.jsonl", &response("a", 10));
    let d = Daemon::start(&home, &[]);

    let r = d.get("/usage");
    assert_eq!(r.status, 200);
    assert!(
        r.head.contains("content-type: application/json"),
        "{}",
        r.head
    );
    assert!(r.head.contains("cache-control: no-store"));
    let u: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(u["version"], 2);
    // SPEC's shape: the origin's flat fields first, in order, then the objects (read off
    // the text: a parsed object forgets its order).
    let at = |k: &str| r.body.find(&format!("\"{k}\":")).unwrap_or(usize::MAX);
    let flat: Vec<&str> = common::FLAT_FIELDS.into_iter().chain(["sources"]).collect();
    for pair in flat.windows(2) {
        assert!(
            at(pair[0]) < at(pair[1]),
            "{} before {}: {}",
            pair[0],
            pair[1],
            r.body
        );
    }
    for (key, fields) in [
        (
            "sources",
            &["jsonl", "otlp", "prometheus", "statusline", "hooks"][..],
        ),
        ("tach", &["tokens_per_min", "redline", "window_s"][..]),
        (
            "fuel",
            &[
                "remaining",
                "basis",
                "source",
                "block_tokens",
                "budget_tokens",
                "block_start",
                "block_end",
                "projected_tokens",
                "limit_reset_at",
                "weekly_used",
                "weekly_reset_at",
            ][..],
        ),
        (
            "thinking",
            &[
                "ratio",
                "thinking_tokens",
                "output_tokens",
                "basis",
                "source",
                "window_s",
            ][..],
        ),
        ("cache", &["hit_rate", "read_tokens", "prompt_tokens"][..]),
        ("cost", &["today_usd", "block_usd", "full_scale_usd"][..]),
        (
            "context",
            &["used_tokens", "window_tokens", "session_id"][..],
        ),
        ("model", &["id", "family", "color"][..]),
        ("turn", &["in_progress", "since", "basis"][..]),
        ("gauges", &["fuel", "tach", "temp", "boost"][..]),
        ("lamps", &["model", "hot", "warn", "stall", "idle"][..]),
    ] {
        for f in fields {
            assert!(u[key].get(f).is_some(), "{key}.{f} missing: {u}");
        }
    }
    for source in ["jsonl", "otlp", "prometheus", "statusline", "hooks"] {
        for f in ["configured", "ok", "last_event_at", "error"] {
            assert!(
                u["sources"][source].get(f).is_some(),
                "sources.{source}.{f}: {u}"
            );
        }
    }
    assert_eq!(
        u["needles"],
        serde_json::json!(["fuel", "tach", "temp", "boost"])
    );

    let r = d.get("/usage/gauge");
    assert_eq!(r.status, 200);
    assert!(r.body.len() < 256, "{} bytes", r.body.len());
    assert!(
        r.body.starts_with(r#"{"version":2,"needles":["#),
        "{}",
        r.body
    );
    let g: Value = serde_json::from_str(&r.body).unwrap();
    let keys: Vec<&str> = g.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["color", "lamps", "needles", "version"], "{g}");
    let positions: Vec<&Value> = ["fuel", "tach", "temp", "boost"]
        .iter()
        .map(|n| &u["gauges"][n])
        .collect();
    assert_eq!(
        g["needles"].as_array().unwrap().iter().collect::<Vec<_>>(),
        positions
    );
    let lamps: Vec<&Value> = ["model", "hot", "warn", "stall", "idle"]
        .iter()
        .map(|n| &u["lamps"][n])
        .collect();
    assert_eq!(
        g["lamps"].as_array().unwrap().iter().collect::<Vec<_>>(),
        lamps
    );
    assert_eq!(g["color"], u["model"]["color"]);

    let r = d.get("/metrics");
    assert_eq!(r.status, 200);
    assert!(r.head.contains("content-type: text/plain; version=0.0.4"));
    for name in [
        "redline_tach_tokens_per_minute",
        "redline_lines_read_total",
        "redline_files_watched 1",
        "redline_lamp_state{lamp=\"stall\"} 0",
        "redline_thinking_ratio",
        "redline_cache_hit_ratio",
        "redline_gauge_position{gauge=\"tach\",needle=\"2\"}",
    ] {
        assert!(r.body.contains(name), "{name} missing");
    }

    let r = d.get("/healthz");
    assert_eq!((r.status, r.body.contains("\"ok\"")), (200, true));
    let health: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(health["final"], true, "{}", r.body);

    // /events: the values at once, then again when they change.
    let mut s = TcpStream::connect(&d.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut events = BufReader::new(s);
    let next_event = |r: &mut BufReader<TcpStream>| -> Value {
        let mut line = String::new();
        loop {
            line.clear();
            assert!(r.read_line(&mut line).unwrap() > 0, "stream ended");
            if let Some(data) = line.trim_end().strip_prefix("data: ") {
                return serde_json::from_str(data).unwrap();
            }
        }
    };
    let first = next_event(&mut events);
    assert_eq!(first["version"], 2);
    home.append("p/s.jsonl", &response("b", 5_000));
    let second = next_event(&mut events);
    assert_ne!(second["tach"], first["tach"]);

    // Bad requests.
    assert_eq!(d.get("/nope").status, 404);
    assert_eq!(
        d.request(
            "POST /usage HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .status,
        405
    );
    assert_eq!(d.request("BLAH\r\n\r\n").status, 400);
    // No body over 1 MiB is read.
    let r = d.request(&format!(
        "POST /usage HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        2 * 1024 * 1024
    ));
    assert_eq!(r.status, 413);
    // On loopback the status page needs no token.
    assert_eq!(d.get("/api/status").status, 200);
}

#[test]
fn beyond_loopback_only_the_gauge_endpoints_answer_without_the_token() {
    let home = Home::new();
    let d = Daemon::start(&home, &["--listen", "0.0.0.0:0", "--token", "s3cret-token"]);
    for open in ["/usage", "/usage/gauge", "/healthz", "/metrics"] {
        assert_eq!(d.get(open).status, 200, "{open}");
    }
    let r = d.get("/api/status");
    assert_eq!(r.status, 401);
    assert!(r.head.contains("www-authenticate: bearer"));
    // What the transcripts say beyond the gauges (text, commits, other systems) too.
    for closed in [
        "/api/character",
        "/api/git",
        "/api/correlate",
        "/api/stats/daily.csv",
    ] {
        assert_eq!(d.get(closed).status, 401, "{closed}");
    }
    let with = |h: &str| {
        d.request(&format!(
            "GET /api/status HTTP/1.1\r\nHost: localhost\r\n{h}\r\nConnection: close\r\n\r\n"
        ))
        .status
    };
    assert_eq!(with("Authorization: Bearer wrong-token!"), 401);
    assert_eq!(with("Authorization: Bearer s3cret-token"), 200);
    assert_eq!(with("Cookie: a=b; redline_token=s3cret-token"), 200);
    // The token never shows in the status page.
    let status = d.request("GET /api/status HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer s3cret-token\r\nConnection: close\r\n\r\n");
    assert!(!status.body.contains("s3cret-token"), "{}", status.body);
}

#[test]
fn a_token_is_generated_and_kept_when_none_is_configured() {
    let home = Home::new();
    let d = Daemon::start(&home, &["--listen", "0.0.0.0:0"]);
    let path: PathBuf = home.dir.join("state/redline/token");
    let token = std::fs::read_to_string(&path).unwrap();
    assert_eq!(token.len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let status = |t: &str| {
        d.request(&format!("GET /api/status HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {t}\r\nConnection: close\r\n\r\n"))
            .status
    };
    assert_eq!(status(&token), 200);
    drop(d);
    // A restart keeps the same token.
    let d = Daemon::start(&home, &["--listen", "0.0.0.0:0"]);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), token);
    drop(d);
    assert!(Path::new(&path).exists());
}

#[test]
fn redline_alone_is_serve_and_reads_its_variables() {
    let home = Home::new();
    home.append("p/s.jsonl", &response("a", 10));
    let d = Daemon::run(
        &home,
        &[],
        &[
            ("REDLINE_LISTEN", "127.0.0.1:0"),
            ("REDLINE_TACH_REDLINE", "12345"),
        ],
    );
    assert_eq!(d.usage()["tach"]["redline"], 12345);
}

#[test]
fn a_bad_config_file_stops_the_daemon_with_its_place() {
    let home = Home::new();
    let dir = home.dir.join("config/redline");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        "tach_redline = 30000\ncost_full_scale = -5\n",
    )
    .unwrap();
    let err = serve_fails(&home, &[], &[]);
    assert!(
        err.contains("config.toml:2: cost_full_scale: must be a positive number"),
        "{err}"
    );
}

/// `redline cluster` for a while against `url`: the last frame, as plain text.
fn cluster(url: &str, seconds: &str) -> String {
    let out = common::succeed(Command::new(env!("CARGO_BIN_EXE_redline")).args([
        "cluster",
        "--url",
        url,
        "--for",
        seconds,
        "--poll-ms",
        "250",
    ]));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_terminal_cluster_moves_its_needles_as_the_motors_would() {
    let home = Home::new();
    // 10,000 tach tokens this minute: 40 % of TACH's full scale (1.25 x 20,000).
    home.append("p/s.jsonl", &response("a", 9_900));
    // Needles in another order, and TEMP's bands moved: the faces must follow.
    let config = home.dir.join("config/redline/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "[zones]\ntemp_cool = 0.3\ntemp_hot = 0.7\n").unwrap();
    let d = Daemon::start(&home, &["--needles", "context,tach,cost,temp"]);
    let frame = cluster(&format!("http://{}", d.addr), "2");
    let lines: Vec<&str> = frame.lines().collect();
    // Each track is labelled with the dial the daemon has on that needle, left to right.
    let titles: Vec<&str> = lines[..4]
        .iter()
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    assert_eq!(titles, ["CONTEXT", "TACH", "COST", "TEMP"], "{frame}");
    let tach = lines[1];
    assert!(
        tach.contains("TOKENS/MIN") && tach.contains("] 25k"),
        "{frame}"
    );
    assert!(tach.ends_with(" 40%"), "{frame}");
    // 40 % of the 313 degrees between the margins off each stop.
    assert!(tach.contains("125.2°"), "{frame}");
    assert!(lines[2].contains("] $50 "), "COST's full scale: {frame}");
    // TEMP's zones as configured (blue to 0.3, white to 0.7, red above), from
    // /api/config: of its 50 cells, 15 blue (one under the needle, at zero), 20 white,
    // 15 red.
    let temp = lines[3];
    let track = &temp[temp.find('[').unwrap() + 1..temp.find(']').unwrap()];
    assert!(track.starts_with("|:::"), "{frame}");
    let count = |c: char| track.chars().filter(|&x| x == c).count();
    assert_eq!(
        (count(':'), count('~'), count('=')),
        (14, 20, 15),
        "{frame}"
    );
    // The lamps in panel order, each labelled; MODEL lit in the colour of the gauge
    // body (Sonnet's amber).
    let lamps = lines[4];
    let order: Vec<usize> = ["[MODEL #ff9f1c]", " hot ", " warn ", " stall ", " idle "]
        .iter()
        .map(|l| lamps.find(l).unwrap_or_else(|| panic!("{l}: {frame}")))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{frame}");
    assert!(
        lines[5].contains("needles from /usage") && lines[5].contains("zones from /api/config"),
        "{frame}"
    );
}

#[test]
fn the_terminal_cluster_blinks_stall_when_no_daemon_answers() {
    let frame = cluster("http://127.0.0.1:1", "5.5");
    // The firmware's failure rule: after 5 s without an answer STALL blinks by itself,
    // the other lamps go dark, the needles ease to zero.
    let lamps = frame.lines().nth(4).unwrap_or_default();
    assert_eq!(
        lamps.split_whitespace().collect::<Vec<_>>(),
        ["model", "hot", "warn", "[STALL*]", "idle"],
        "{frame}"
    );
    assert!(frame.contains("failure rule"), "{frame}");
    assert_eq!(frame.matches("   0.0°").count(), 4, "{frame}");
    // Nothing said otherwise: the dials as designed, on their default faces.
    let titles: Vec<&str> = frame
        .lines()
        .take(4)
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    assert_eq!(titles, ["FUEL", "TACH", "TEMP", "BOOST"], "{frame}");
    assert!(frame.contains("needles as designed"), "{frame}");
}

#[test]
fn an_exposed_daemon_is_found_by_mdns() {
    let home = Home::new();
    let d = Daemon::start(&home, &["--listen", "0.0.0.0:0", "--token", "s3cret-token"]);
    let port: u16 = d.addr.rsplit(':').next().unwrap().parse().unwrap();
    let browser = mdns_sd::ServiceDaemon::new().unwrap();
    let events = browser.browse("_redline._tcp.local.").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut found = None;
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match events.recv_timeout(left) {
            Ok(mdns_sd::ServiceEvent::ServiceResolved(info)) if info.get_port() == port => {
                found = Some(info);
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let _ = browser.shutdown();
    let info = found.expect("the daemon's _redline._tcp service within 10 s");
    assert!(
        info.get_fullname().starts_with("redline on "),
        "{}",
        info.get_fullname()
    );
    assert_eq!(info.get_property_val_str("path"), Some("/usage/gauge"));
    assert!(!info.get_addresses().is_empty());
}

/// A second daemon on a taken address stops at once (before it scans or opens the
/// store), says another redline serves there and how to pick another address; a host
/// name such as `localhost` is an address like any other.
#[test]
fn a_taken_address_names_the_redline_there_and_host_names_are_addresses() {
    let home = Home::new();
    let first = Daemon::start(&home, &["--listen", "localhost:0"]);
    assert!(first.addr.starts_with("127.0.0.1:"), "{}", first.addr);
    let err = serve_fails(&home, &["--listen", &first.addr], &[]);
    assert!(
        err.contains("the address is in use: another redline is already serving there"),
        "{err}"
    );
    assert!(err.contains("--listen 127.0.0.1:"), "{err}");
    assert!(!err.contains("serving http://"), "{err}");
}

/// A session last active days ago drives nothing at start: no context, no model, MODEL
/// off, no thinking ratio or cache rate (SPEC: older than REDLINE_STALE_AFTER).
#[test]
fn a_session_days_old_drives_no_value_at_start() {
    let home = Home::new();
    let old = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(50);
    let line = response("old", 300).replace(
        &jiff::Timestamp::now().strftime("%Y-%m-%dT%H").to_string(),
        &old.strftime("%Y-%m-%dT%H").to_string(),
    );
    assert!(line.contains(&old.strftime("%Y-%m-%dT%H").to_string()));
    home.append("-p/s.jsonl", &line);
    let d = Daemon::start(&home, &[]);
    let u = d.usage();
    assert_eq!(u["context"]["used_tokens"], Value::Null, "{u}");
    assert_eq!(u["model"]["family"], Value::Null, "{u}");
    assert_eq!(u["last_model"], Value::Null, "{u}");
    assert_eq!(u["lamps"]["model"], "off", "{u}");
    assert_eq!(u["thinking_ratio"], Value::Null, "{u}");
    assert_eq!(u["cache_hit_rate"], Value::Null, "{u}");
    // The same line stamped now lights MODEL: the test can tell the two apart.
    home.append("-p/s.jsonl", &response("new", 300));
    d.until("MODEL lit by a fresh response", |d| {
        d.usage()["lamps"]["model"] != "off"
    });
}
