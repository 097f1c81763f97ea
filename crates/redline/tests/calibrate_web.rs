//! The page's calibration and sweep endpoints on a real daemon: `/api/calibrate` is
//! `redline calibrate --json` for the daemon's history with the plot, `POST
//! /api/calibrate/apply` writes one proposal into the config file and the running daemon
//! takes it up, `serve --demo` refuses to write, and `/api/sweep` starts and stops the
//! needle sweep.

mod common;

use redline_engine::calibrate::Calibration;

use std::time::{Duration, Instant};

use common::{Daemon, Home};
use serde_json::Value;

fn generate(home: &Home, responses: &str) {
    let o = home
        .redline()
        .args([
            "demo",
            "generate",
            "--no-malformed",
            "--responses",
            responses,
            "--out",
        ])
        .arg(home.claude())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn body(d: &Daemon, path: &str) -> Value {
    let r = d.get(path);
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    serde_json::from_str(&r.body).unwrap()
}

const JSON: &str = "Content-Type: application/json\r\n";

#[test]
fn the_page_calibrates_and_applies_a_proposal() {
    let home = Home::new();
    generate(&home, "600");
    let d = Daemon::start(&home, &[]);
    let c = body(&d, "/api/calibrate?days=3650");
    // The command's own JSON, for the same history and configuration.
    let o = home
        .redline()
        .args(["calibrate", "--json", "--days", "3650"])
        .output()
        .unwrap();
    let cli: Value = serde_json::from_slice(&o.stdout).unwrap();
    for key in Calibration::KEYS {
        assert_eq!(c[key]["proposed"], cli[key]["proposed"], "{key}");
        assert_eq!(c[key]["current"], cli[key]["current"], "{key}");
    }
    assert_eq!(c["history"]["responses"], cli["history"]["responses"]);
    assert!(c["plot"].as_str().unwrap().starts_with("<svg"));
    assert_eq!(c["applicable"], true);
    let file = home.dir.join("config/redline/config.toml");
    assert_eq!(c["config_file"], file.display().to_string());
    assert_eq!(d.get("/api/calibrate?days=0").status, 400);

    // Apply the tach redline: written, then taken up by the running daemon.
    let proposed = c["tach_redline"]["proposed"].as_u64().expect("a proposal");
    let r = d.post_bytes(
        "/api/calibrate/apply",
        "application/json",
        "",
        br#"{"key": "tach_redline", "days": 3650}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let a: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(a["value"], proposed);
    assert!(a["said"][0].as_str().unwrap().starts_with("wrote "), "{a}");
    assert!(
        !a["said"].to_string().contains("block_budget"),
        "only what was written: {a}"
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let written: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(
        written["tach_redline"].as_integer(),
        Some(proposed as i64),
        "{text}"
    );
    assert_eq!(written.len(), 1, "only the key asked for: {text}");
    d.until("the daemon to take the new redline", |d| {
        body(d, "/api/config")["tach_redline"] == proposed
    });

    // A key that is not a calibration key, and a body that is not JSON.
    let bad = d.post_bytes(
        "/api/calibrate/apply",
        "application/json",
        "",
        br#"{"key":"listen"}"#,
    );
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("tach_redline"), "{}", bad.body);
    let r = d.request(&format!(
        "POST /api/calibrate/apply HTTP/1.1\r\nHost: localhost\r\n{JSON}Content-Length: 3\r\nConnection: close\r\n\r\nnot"
    ));
    assert_eq!(r.status, 400);
}

#[test]
fn the_demo_does_not_write_the_config_file() {
    let home = Home::new();
    let d = Daemon::start(&home, &["--demo"]);
    let c = body(&d, "/api/calibrate");
    assert_eq!(c["applicable"], false);
    assert!(c["why"].as_str().unwrap().contains("--demo"));
    let r = d.post_bytes(
        "/api/calibrate/apply",
        "application/json",
        "",
        br#"{"key": "tach_redline"}"#,
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(!home.dir.join("config/redline/config.toml").exists());
}

#[test]
fn the_sweep_starts_and_stops_from_the_page() {
    let home = Home::new();
    generate(&home, "200");
    let d = Daemon::start(&home, &[]);
    assert_eq!(body(&d, "/api/sweep")["sweep"], false);
    let values = body(&d, "/usage/gauge")["needles"].clone();
    let r = d.post_bytes("/api/sweep", "application/json", "", br#"{"on": true}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(body(&d, "/api/sweep")["sweep"], true);
    // At once at the zero mark, every needle; then on to 25 %.
    d.until("every needle at the zero mark", |d| {
        body(d, "/usage/gauge")["needles"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n == 0.0)
    });
    let start = Instant::now();
    let mut moved = false;
    while start.elapsed() < Duration::from_secs(8) && !moved {
        let n = body(&d, "/usage/gauge")["needles"].clone();
        let n = n.as_array().unwrap();
        assert!(n.iter().all(|x| *x == n[0]), "{n:?}");
        moved = n[0].as_f64().unwrap() > 0.0;
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(moved, "the sweep moves on from the zero mark");
    let r = d.post_bytes("/api/sweep", "application/json", "", br#"{"on": false}"#);
    assert_eq!(r.status, 200);
    d.until("the values back", |d| {
        body(d, "/usage/gauge")["needles"] == values
    });
    let log = d.stderr.lock().unwrap().join("\n");
    assert!(log.contains("redline: sweep: off"), "{log}");
}
