//! The config file followed by a running daemon: a changed scale, zone or needle order
//! reaches `/usage`, `/api/config`, `/api/status` and the faces without a restart; a key
//! that needs one is named in the log; a file that no longer parses changes nothing.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Daemon, Home};

fn write_config(home: &Home, text: &str) {
    let dir = home.dir.join("config/redline");
    std::fs::create_dir_all(&dir).unwrap();
    // Written beside and renamed over, as editors do.
    std::fs::write(dir.join("config.toml.tmp"), text).unwrap();
    std::fs::rename(dir.join("config.toml.tmp"), dir.join("config.toml")).unwrap();
}

fn full_scale(d: &Daemon, dial: &str) -> String {
    let svg = d.get(&format!("/faces/{dial}.svg")).body;
    let at = svg.find("data-full-scale=\"").expect("a face") + 17;
    svg[at..at + svg[at..].find('"').unwrap()].to_owned()
}

#[test]
fn a_changed_config_file_is_applied_while_serving() {
    let home = Home::new();
    write_config(&home, "tach_redline = 20000\n");
    let d = Daemon::start(&home, &[]);
    assert_eq!(full_scale(&d, "tach"), "25000");
    assert_eq!(d.usage()["needles"][1], "tach");
    // A page listening on /events hears that the configuration changed.
    let heard = Arc::new(Mutex::new(String::new()));
    let mut events = TcpStream::connect(&d.addr).unwrap();
    events
        .write_all(b"GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let keep = heard.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = events.read(&mut buf) {
            if n == 0 {
                break;
            }
            keep.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    d.until("the first usage event", |_| {
        heard.lock().unwrap().contains("event: usage")
    });
    assert!(!heard.lock().unwrap().contains("event: config"));

    write_config(
        &home,
        "# calibrated\ntach_redline = 30000\nneedles = [\"cost\", \"tach\", \"temp\", \"boost\"]\n[zones]\ncache_floor = 0.4\n",
    );
    d.until("the new redline on the faces", |d| {
        full_scale(d, "tach") == "37500"
    });
    d.until("the new needles in /usage", |d| {
        d.usage()["needles"][0] == "cost"
    });
    let c: serde_json::Value = serde_json::from_str(&d.get("/api/config").body).unwrap();
    assert_eq!(c["tach_redline"], 30000);
    assert_eq!(c["thresholds"]["cache_floor"], 0.4);
    assert_eq!(c["needles"][0], "cost");
    let s: serde_json::Value = serde_json::from_str(&d.get("/api/status").body).unwrap();
    assert!(s["config"].to_string().contains("30000"), "{}", s["config"]);
    let log = d.stderr.lock().unwrap().join("\n");
    assert!(
        log.contains("redline: config: applied tach_redline 20000 -> 30000"),
        "{log}"
    );

    // A broken file: said, and the settings in force stay.
    write_config(&home, "tach_redline = \"fast\"\n");
    d.until("the broken file named in the log", |d| {
        d.stderr
            .lock()
            .unwrap()
            .join("\n")
            .contains("changed but cannot be used")
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(full_scale(&d, "tach"), "37500");

    // A key that needs a restart is named, not applied (the test's own --listen flag
    // would win over the file anyway, as it does at start).
    write_config(
        &home,
        "tach_redline = 30000\nallowed_hosts = [\"gauges.example\"]\n",
    );
    d.until("the restart key named", |d| {
        d.stderr
            .lock()
            .unwrap()
            .join("\n")
            .contains("allowed_hosts changed; restart redline serve to use it")
    });
    assert_eq!(d.get("/usage").status, 200, "still serving where it was");
}
