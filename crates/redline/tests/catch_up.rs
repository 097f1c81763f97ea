//! Start-up serves first and catches up after: the first `/usage` holds the transcripts'
//! values and says `"final": false`; once the store is read back (OpenTelemetry received,
//! the history of transcripts deleted since) it says `"final": true`, and what arrived
//! meanwhile (an export, an appended line) counts once, after the store's records. The
//! file watches are set up alongside the start-up: what is written before they are in
//! place is found by listing again, and counts once too.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Daemon, Home, now_ns, otlp_metrics, response};
use serde_json::Value;

const OPUS: &str = "claude-opus-4-6";

fn serve(home: &Home, vars: &[(&str, &str)]) -> Daemon {
    Daemon::run_serving(
        home,
        &["serve", "--listen", "127.0.0.1:0", "--otlp-grpc", "off"],
        vars,
    )
}

/// An OTLP/JSON delta export of `output` Opus tokens from the laptop, stamped now.
fn export(output: u64) -> String {
    otlp_metrics(Some("laptop"), "k", OPUS, 1, now_ns(), output, 0.01).to_string()
}

fn post(d: &Daemon, body: &str) -> u16 {
    let r = d.post_bytes("/v1/metrics", "application/json", "", body.as_bytes());
    r.status
}

/// [`post`] from another thread, by address: the status it was answered with.
fn post_to(addr: &str, body: &str) -> u16 {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "POST /v1/metrics HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

fn status(d: &Daemon) -> Value {
    serde_json::from_str(&d.get("/api/status").body).unwrap()
}

fn block_tokens(u: &Value) -> u64 {
    u["fuel"]["block_tokens"].as_u64().unwrap_or(0)
}

/// The laptop's output today, from `/api/hosts`.
fn laptop_output(d: &Daemon) -> u64 {
    let v: Value = serde_json::from_str(&d.get("/api/hosts").body).unwrap();
    v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"] == "laptop")
        .map_or(0, |h| h["today"]["output"].as_u64().unwrap())
}

/// `/usage` once it says its values are final (failing after 10 s).
fn final_usage(d: &Daemon) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let u = d.usage();
        if u["final"] == true {
            return u;
        }
        assert!(Instant::now() < deadline, "never final: {u}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn values_are_not_final_until_the_store_is_read_back_and_then_count_everything_once() {
    let home = Home::new();
    // 100 input + 1,000 output, and 100 + 2,000 in a transcript that will be deleted.
    home.append("p/stay.jsonl", &response("a", 1_000));
    home.append("p/gone.jsonl", &response("b", 2_000));
    let first = serve(&home, &[("REDLINE_ROLLUP_EVERY", "1")]);
    let u = final_usage(&first);
    assert_eq!(block_tokens(&u), 3_200);
    assert_eq!(post(&first, &export(42)), 200);
    assert_eq!(block_tokens(&first.usage()), 3_242);
    // Both sessions' hours are in the store before it stops.
    first.until("the rollups written", |d| {
        let text =
            std::fs::read_to_string(home.dir.join("state/redline/store.jsonl")).unwrap_or_default();
        status(d)["store"]["rollups_pending"] == 0 && text.matches(r#""t":"r""#).count() >= 2
    });
    drop(first);
    std::fs::remove_file(home.projects().join("p/gone.jsonl")).unwrap();

    // The hub waits before it reads the store back: the values served meanwhile are the
    // transcripts' alone, and say so.
    let d = serve(&home, &[("REDLINE_CATCH_UP_WAIT_MS", "2000")]);
    let u = d.usage();
    assert_eq!(u["final"], false, "{u}");
    assert_eq!(block_tokens(&u), 1_100, "only the transcript on disk: {u}");
    let health: Value = serde_json::from_str(&d.get("/healthz").body).unwrap();
    assert_eq!(health["final"], false, "{health}");
    // Meanwhile an export arrives (answered once it is stored, after the catch-up) and a
    // line is appended.
    let addr = d.addr.clone();
    let body = export(8);
    let late = std::thread::spawn(move || post_to(&addr, &body));
    home.append("p/stay.jsonl", &response("c", 500));
    let u = final_usage(&d);
    // The store's records are in from the first final values on: the kept hour of the
    // deleted transcript (2,100) and the export (42); what came meanwhile may be too.
    let stored = 1_100 + 2_100 + 42;
    assert!(
        [stored, stored + 8, stored + 600, stored + 608].contains(&block_tokens(&u)),
        "{u}"
    );
    assert_eq!(late.join().unwrap(), 200);
    // And then everything, each once: the transcript on disk with its new line (1,700),
    // the kept hour (2,100), the export before (42) and the one during the catch-up (8).
    d.until("the appended line and the late export counted", |d| {
        block_tokens(&d.usage()) == 3_850
    });
    assert_eq!(laptop_output(&d), 50);
    let said = d.stderr.lock().unwrap().clone();
    assert_eq!(
        said.iter()
            .filter(|l| l.starts_with("redline: final values after "))
            .count(),
        1,
        "{said:?}"
    );
    let health: Value = serde_json::from_str(&d.get("/healthz").body).unwrap();
    assert_eq!(health["final"], true, "{health}");
    drop(d);

    // And the same after another restart: nothing was stored twice.
    let again = serve(&home, &[]);
    let u = final_usage(&again);
    assert_eq!(block_tokens(&u), 3_850, "{u}");
    assert_eq!(laptop_output(&again), 50);
}

#[test]
fn what_is_written_while_the_file_watches_are_set_up_counts_once() {
    let home = Home::new();
    home.append("p/old.jsonl", &response("a", 1_000));
    // The watches are taken in hand (on Linux, where the listing set them: elsewhere,
    // set) only after 1.5 s; the catch-up (and with it, elsewhere, the second listing)
    // waits 3 s.
    let d = serve(
        &home,
        &[
            ("REDLINE_WATCH_WAIT_MS", "1500"),
            ("REDLINE_CATCH_UP_WAIT_MS", "3000"),
        ],
    );
    let served = Instant::now();
    let u = d.usage();
    assert_eq!(u["final"], false, "{u}");
    assert_eq!(block_tokens(&u), 1_100, "{u}");
    assert_eq!(status(&d)["roots"][0]["state"], "Starting");
    // Before the watches are taken in hand: a line appended, a session in a new
    // directory. On Linux their notifications wait for the catch-up; elsewhere nothing
    // is watched yet, and only the second listing can find them.
    home.append("p/old.jsonl", &response("b", 2_000));
    home.append("q/s/new.jsonl", &response("c", 3_000));
    // Once the watches are in place (most likely) but before the second listing: both
    // announced and found again, and read once.
    std::thread::sleep(Duration::from_millis(2_300).saturating_sub(served.elapsed()));
    home.append("q/s/new.jsonl", &response("d", 4_000));
    let u = final_usage(&d);
    let before_watches = 1_100 + 2_100 + 3_100;
    if cfg!(target_os = "linux") {
        // Every notification that came before the catch-up is read before the values
        // are final.
        assert_eq!(block_tokens(&u), before_watches + 4_100, "{u}");
    } else {
        assert!(
            [before_watches, before_watches + 4_100].contains(&block_tokens(&u)),
            "{u}"
        );
    }
    assert_eq!(status(&d)["roots"][0]["state"], "Watching");
    d.until("the line written meanwhile counted", |d| {
        block_tokens(&d.usage()) == before_watches + 4_100
    });
    // And the new directory is watched like the rest.
    home.append("q/s/new.jsonl", &response("e", 5_000));
    d.until("a line written after the start counted", |d| {
        block_tokens(&d.usage()) == before_watches + 4_100 + 5_100
    });
    d.settle();
    assert_eq!(block_tokens(&d.usage()), before_watches + 4_100 + 5_100);
}
