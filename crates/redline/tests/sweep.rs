//! `redline serve --sweep`: every needle through the marks and back, on `/usage/gauge`
//! (what the firmware follows) and `/usage` (what the page draws) alike, while the lamps
//! stay live.

mod common;

use std::time::{Duration, Instant};

use common::{Daemon, Home};

#[test]
fn every_needle_visits_the_marks_together() {
    let home = Home::new();
    let d = Daemon::start(&home, &["--sweep"]);
    let start = Instant::now();
    let mut seen = Vec::new();
    while start.elapsed() < Duration::from_secs(14) {
        let g = d.get("/usage/gauge");
        assert_eq!(g.status, 200);
        let v: serde_json::Value = serde_json::from_str(&g.body).unwrap();
        let needles: Vec<f64> = v["needles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_f64().expect("a needle position, not null"))
            .collect();
        assert_eq!(needles.len(), 4);
        assert!(needles.iter().all(|n| *n == needles[0]), "{needles:?}");
        // /usage says the same for each mounted dial.
        let u = d.usage();
        for dial in ["fuel", "tach", "temp", "boost"] {
            let p = u["gauges"][dial].as_f64().unwrap();
            assert!((p - needles[0]).abs() < 0.2, "{dial}: {p} vs {needles:?}");
        }
        if seen.last() != Some(&needles[0]) {
            seen.push(needles[0]);
        }
        if seen.contains(&0.5) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // Held marks in order, with the slow moves between them.
    let marks: Vec<f64> = seen
        .iter()
        .copied()
        .filter(|p| [0.0, 0.25, 0.5].contains(p))
        .collect();
    assert_eq!(marks, [0.0, 0.25, 0.5], "{seen:?}");
    assert!(
        seen.iter().any(|p| *p > 0.0 && *p < 0.25),
        "it moves between marks: {seen:?}"
    );
    let log = d.stderr.lock().unwrap().join("\n");
    assert!(log.contains("sweep: every needle at 25 % for 3 s"), "{log}");
}
