//! `redline serve --sweep`: every needle through 0, 25, 50, 75 and 100 % and back
//! (`redline_core::sweep`), so a person can check printed faces against the needles. The
//! hub runs as always; a relay between it and the HTTP side republishes each snapshot with
//! the needles' positions replaced, four times a second, so `/usage`, `/usage/gauge`,
//! `/events` and the page all show the sweep and the firmware follows it. The lamps stay
//! live.

use std::sync::Arc;
use std::time::{Duration, Instant};

use redline_core::sweep;
use tokio::sync::watch;

use crate::hub::Snapshot;

/// How often the relay republishes.
const EVERY: Duration = Duration::from_millis(250);

/// `hub`'s snapshots with every needle at the sweep's position, from now on.
pub fn relay(hub: watch::Receiver<Arc<Snapshot>>) -> watch::Receiver<Arc<Snapshot>> {
    let start = Instant::now();
    let (tx, rx) = watch::channel(Arc::new(swept(&hub.borrow(), 0.0, 0)));
    std::thread::Builder::new()
        .name("redline-sweep".into())
        .spawn(move || {
            let mut seq = 0;
            let mut last = None;
            let mut mark = None;
            loop {
                std::thread::sleep(EVERY);
                let elapsed = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
                let (at, held) = sweep::position(elapsed);
                if held.is_some() && held != mark {
                    eprintln!(
                        "redline: sweep: every needle at {:.0} % for {} s",
                        held.unwrap_or(0.0) * 100.0,
                        sweep::HOLD_MS / 1000
                    );
                }
                mark = held;
                let snap = hub.borrow().clone();
                // A new sequence number whenever the hub's values or the position moved,
                // so /events sends exactly then.
                if last != Some((snap.seq, at.to_bits())) {
                    seq += 1;
                    last = Some((snap.seq, at.to_bits()));
                }
                if tx.send(Arc::new(swept(&snap, at, seq))).is_err() {
                    return;
                }
            }
        })
        .expect("a thread for the sweep");
    rx
}

/// `snap` with every mounted needle at `at`.
fn swept(snap: &Snapshot, at: f32, seq: u64) -> Snapshot {
    let mut s = snap.clone();
    for g in &mut s.usage.gauges.0 {
        g.1 = Some(at);
    }
    s.usage_json = serde_json::to_string(&s.usage).unwrap_or_default();
    s.gauge_json = serde_json::to_string(&s.usage.gauge_report()).unwrap_or_default();
    s.seq = seq;
    s
}
