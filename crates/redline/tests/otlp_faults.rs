//! OpenTelemetry under faults (issue 17, items 3 and 6): an export answered with anything
//! but 2xx is never counted (a flood past the queue's bound is turned away at once, a
//! busy hub does not apply what it answered 503), and a damaged store record is moved to
//! a side file, lights STALL until `redline doctor --ack`, and is not lost.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{Daemon, Home, now_ns, otlp_kv, otlp_metrics, otlp_protobuf, response};
use redline_engine::otlp::Signal;
use serde_json::json;

const MODEL: &str = "claude-sonnet-4-5";

/// A protobuf metrics export of `points` delta points of one output token each.
fn many_points(session: &str, points: usize) -> Vec<u8> {
    let at = now_ns().to_string();
    let point = json!({"attributes": [otlp_kv("session.id", session), otlp_kv("model", MODEL),
                                      otlp_kv("type", "output")],
                       "startTimeUnixNano": at, "timeUnixNano": at, "asInt": "1"});
    let v = json!({"resourceMetrics": [{"resource": {"attributes": [otlp_kv("host.name", "flood")]},
        "scopeMetrics": [{"metrics": [{"name": "claude_code.token.usage", "unit": "tokens",
            "sum": {"aggregationTemporality": 1, "isMonotonic": true,
                    "dataPoints": vec![point; points]}}]}]}]});
    otlp_protobuf(Signal::Metrics, &v)
}

/// One export with `output` tokens of its own session.
fn export(session: &str, output: u64) -> Vec<u8> {
    otlp_protobuf(
        Signal::Metrics,
        &otlp_metrics(Some("h"), session, MODEL, 1, now_ns(), output, 0.0),
    )
}

/// A POST that survives the server answering before it read the body: (status, head).
fn post_raw(addr: &str, body: &[u8]) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return (0, String::new());
    };
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let head = format!(
        "POST /v1/metrics HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = s
        .write_all(head.as_bytes())
        .and_then(|()| s.write_all(body));
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let r = common::Reply::parse(&buf);
    (r.status, r.head)
}

fn status_line(pid: u32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| {
            l.strip_prefix(key)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

#[test]
fn a_flood_past_the_queue_is_turned_away_at_once_and_only_2xx_counts() {
    let home = Home::new();
    std::fs::create_dir_all(home.projects()).unwrap();
    let d = Daemon::start(&home, &[]);
    let pid = d.child.id();
    let before = status_line(pid, "VmRSS:");
    // 100 exports of about 0.7 MB each at once: far past the queue's 16 MiB.
    const POINTS: usize = 6000;
    let body = Arc::new(many_points("flood", POINTS));
    assert!(body.len() > 500_000, "{}", body.len());
    let go = Arc::new(Barrier::new(100));
    let senders: Vec<_> = (0..100)
        .map(|_| {
            let (addr, body, go) = (d.addr.clone(), body.clone(), go.clone());
            std::thread::spawn(move || {
                go.wait();
                let sent = Instant::now();
                let (status, head) = post_raw(&addr, &body);
                (status, head, sent.elapsed())
            })
        })
        .collect();
    let answers: Vec<(u16, String, Duration)> =
        senders.into_iter().map(|t| t.join().unwrap()).collect();
    let peak = status_line(pid, "VmHWM:");
    let ok = answers.iter().filter(|a| a.0 == 200).count();
    let turned_away: Vec<_> = answers.iter().filter(|a| a.0 == 429).collect();
    assert!(
        ok > 0,
        "{:?}",
        answers.iter().map(|a| a.0).collect::<Vec<_>>()
    );
    assert!(
        !turned_away.is_empty(),
        "a flood past the bound is turned away: {:?}",
        answers.iter().map(|a| a.0).collect::<Vec<_>>()
    );
    for (_, head, took) in &turned_away {
        assert!(head.contains("retry-after: 1"), "{head}");
        assert!(
            *took < Duration::from_secs(4),
            "429 at once, not after {took:?}"
        );
    }
    // Every answer is 200 or a refusal the exporter retries; only the 200s count.
    assert!(answers.iter().all(|a| [200, 429, 503].contains(&a.0)));
    let counted = (ok * POINTS) as f64;
    d.until("the 200s counted", |d| d.output_tokens() == counted);
    d.settle();
    assert_eq!(d.output_tokens(), counted);
    // The queue's bound holds the memory: 100 exports held would take hundreds of MB.
    assert!(
        peak < before + 160_000,
        "peak RSS {peak} kB from {before} kB at the start"
    );
}

#[test]
fn a_busy_hub_does_not_apply_an_export_it_answered_503() {
    // A history for heavy stats: the hub answers them one after another, so a heap of
    // them keeps it busy past the export's wait.
    let home = Home::new();
    let batch = |from: usize| {
        let mut text = String::new();
        for i in from..from + 30_000 {
            text.push_str(&response(&format!("r{i}"), 10));
        }
        text
    };
    let stat = "GET /api/stats/sessions?days=all&limit=1000 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    // Enough to keep it busy far longer than the export's 5 s wait (the first answers
    // are the slow ones; the rest of a heap goes faster), but fewer than the daemon's
    // 512 connections (serving.rs): when every one of those has a request in progress a
    // newcomer is closed at once, and the export would find no connection, not a busy hub.
    const HELD_AT_MOST: usize = 480;
    // Each stat must then take long enough: on a fast machine the history grows (a stat's
    // work grows with it, and the daemon starts again on it) until one does.
    let mut responses = 0;
    let (d, each) = loop {
        home.append(&format!("p/s{responses}.jsonl"), &batch(responses));
        responses += 30_000;
        let d = Daemon::start(&home, &[]);
        let mut each = Duration::MAX;
        for _ in 0..3 {
            let one = Instant::now();
            assert_eq!(d.request(stat).status, 200);
            each = each.min(one.elapsed()).max(Duration::from_millis(2));
        }
        if each * HELD_AT_MOST as u32 >= Duration::from_secs(12) || responses >= 480_000 {
            break (d, each);
        }
    };
    let heap = (40.0 / each.as_secs_f64()).ceil() as usize;
    eprintln!("each stat {each:?}: {heap} of them");
    let heap = heap.clamp(10, HELD_AT_MOST);
    let mut held = Vec::new();
    for _ in 0..heap {
        let mut s = TcpStream::connect(&d.addr).unwrap();
        s.write_all(stat.as_bytes()).unwrap();
        held.push(s);
    }
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    let r = d.post_bytes(
        "/v1/metrics",
        "application/x-protobuf",
        "",
        &export("busy", 777),
    );
    let waited = sent.elapsed();
    assert_eq!(r.status, 503, "{waited:?} {}", r.body);
    assert!(r.head.contains("retry-after"), "{}", r.head);
    // Once the hub is through the heap, an export counts, and the refused one never does.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = d.post_bytes(
            "/v1/metrics",
            "application/x-protobuf",
            "",
            &export("after", 1),
        );
        if r.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the hub stayed busy: {}",
            r.status
        );
    }
    // `/metrics` counts from the daemon's start: the transcripts' history is not in it.
    d.until("the later export", |d| d.output_tokens() >= 1.0);
    d.settle();
    assert_eq!(d.output_tokens(), 1.0, "the 503'd 777 are not counted");
}

fn redline(home: &Home, args: &[&str]) -> String {
    let out = home
        .redline()
        .args(args)
        .env("REDLINE_LISTEN", "127.0.0.1:9")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_flipped_byte_in_the_store_is_set_aside_and_blinks_stall_until_acknowledged() {
    let home = Home::new();
    std::fs::create_dir_all(home.projects()).unwrap();
    let store = home.dir.join("state/redline/store.jsonl");
    let d = Daemon::start(&home, &[]);
    for (session, output) in [("a", 5), ("b", 7)] {
        let r = d.post_bytes(
            "/v1/metrics",
            "application/x-protobuf",
            "",
            &export(session, output),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    drop(d);
    // One flipped bit in the record of the 5 tokens.
    let mut bytes = std::fs::read(&store).unwrap();
    let at = bytes
        .windows(13)
        .position(|w| w == b"\"k\":[0,5,0,0]")
        .unwrap();
    bytes[at + 7] ^= 0x01;
    std::fs::write(&store, &bytes).unwrap();

    let d = Daemon::start(&home, &[]);
    assert_eq!(d.output_tokens(), 7.0);
    let side = home.dir.join("state/redline/store.damaged.jsonl");
    let kept = std::fs::read_to_string(&side).unwrap();
    assert_eq!(kept.lines().count(), 1, "{kept}");
    assert!(kept.contains("checksum mismatch"), "{kept}");
    let u = d.usage();
    assert_eq!(u["lamps"]["stall"], "blink", "{u}");
    let why = u["sources"]["otlp"]["error"].as_str().unwrap();
    assert!(
        why.contains("1 record moved to") && why.contains("doctor"),
        "{why}"
    );
    // The store no longer holds it; a restart neither loses nor re-reports more.
    assert!(
        !std::fs::read_to_string(&store)
            .unwrap()
            .contains("checksum")
    );

    let doctor = redline(&home, &["doctor"]);
    assert!(doctor.contains("1 damaged record"), "{doctor}");
    assert!(doctor.contains(&side.display().to_string()), "{doctor}");
    assert!(doctor.contains("not acknowledged"), "{doctor}");
    let ack = redline(&home, &["doctor", "--ack"]);
    assert!(ack.contains("acknowledged 1 damaged record"), "{ack}");
    d.until("STALL off after the acknowledgement", |d| {
        d.usage()["lamps"]["stall"] == "off"
    });
    assert_eq!(
        d.usage()["sources"]["otlp"]["error"],
        serde_json::Value::Null
    );
    let doctor = redline(&home, &["doctor"]);
    assert!(
        doctor.contains("acknowledged: STALL does not blink"),
        "{doctor}"
    );
}

#[test]
fn a_store_that_cannot_be_opened_is_tried_again() {
    let home = Home::new();
    std::fs::create_dir_all(home.projects()).unwrap();
    // The state directory's place is taken by a file: the store cannot be made.
    let state = home.dir.join("state/redline");
    std::fs::create_dir_all(state.parent().unwrap()).unwrap();
    std::fs::write(&state, "not a directory").unwrap();
    let d = Daemon::start(&home, &[]);
    let r = d.post_bytes("/v1/metrics", "application/x-protobuf", "", &export("a", 5));
    assert_eq!(r.status, 503, "{}", r.body);
    let u = d.usage();
    assert_eq!(u["lamps"]["stall"], "blink", "{u}");
    std::fs::remove_file(&state).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while d.usage()["sources"]["otlp"]["error"] != serde_json::Value::Null {
        assert!(Instant::now() < deadline, "the store was not opened again");
        std::thread::sleep(Duration::from_millis(100));
    }
    let r = d.post_bytes("/v1/metrics", "application/x-protobuf", "", &export("b", 7));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(d.output_tokens(), 7.0);
    assert!(state.join("store.jsonl").is_file());
}
