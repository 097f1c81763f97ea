//! The needle sweep: every needle through 0, 25, 50, 75 and 100 % and back
//! (`redline_core::sweep`), so a person can check printed faces against the needles.
//! Started by `serve --sweep` or from the page (`POST /api/sweep`), stopped from the page.
//!
//! The hub runs as always; a relay between it and the HTTP side passes its snapshots on
//! untouched while the sweep is off (no copy, no timer: an idle daemon stays idle), and
//! while it is on republishes them four times a second with the needles' positions
//! replaced, so `/usage`, `/usage/gauge`, `/events` and the page all show the sweep and
//! the firmware follows it. The lamps stay live.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redline_core::sweep;
use tokio::sync::{Notify, watch};

use crate::hub::Snapshot;

/// How often the relay republishes while sweeping.
const EVERY: Duration = Duration::from_millis(250);

/// Sequence numbers of swept snapshots start here, far above the hub's own (which count
/// changes from 0), so `/events` never takes one for the other.
const SWEPT_SEQ: u64 = 1 << 62;

/// Whether the sweep runs, and since when.
#[derive(Debug)]
pub struct Control {
    on: AtomicBool,
    since: Mutex<Instant>,
    wake: Notify,
}

impl Control {
    /// A control, sweeping from the start when `on`.
    pub fn new(on: bool) -> Arc<Control> {
        Arc::new(Control {
            on: AtomicBool::new(on),
            since: Mutex::new(Instant::now()),
            wake: Notify::new(),
        })
    }

    /// Whether it sweeps.
    pub fn on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// Starts (from the zero mark) or stops the sweep.
    pub fn set(&self, on: bool) {
        if on && !self.on() {
            *self.since.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        }
        self.on.store(on, Ordering::Relaxed);
        self.wake.notify_one();
    }

    fn elapsed_ms(&self) -> u64 {
        let since = *self.since.lock().unwrap_or_else(|e| e.into_inner());
        u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// The snapshots the HTTP side reads, and the task that feeds them (spawn it on the
/// runtime).
pub fn relay(
    mut hub: watch::Receiver<Arc<Snapshot>>,
    control: Arc<Control>,
) -> (watch::Receiver<Arc<Snapshot>>, impl Future<Output = ()>) {
    let first = hub.borrow_and_update().clone();
    let first = if control.on() {
        Arc::new(swept(&first, 0.0, SWEPT_SEQ))
    } else {
        first
    };
    let (tx, rx) = watch::channel(first);
    let task = async move {
        let mut seq = SWEPT_SEQ;
        let mut last = None;
        let mut mark = None;
        loop {
            let snap = hub.borrow_and_update().clone();
            let out = if control.on() {
                let (at, held) = sweep::position(control.elapsed_ms());
                if held.is_some() && held != mark {
                    eprintln!(
                        "redline: sweep: every needle at {:.0} % for {} s",
                        held.unwrap_or(0.0) * 100.0,
                        sweep::HOLD_MS / 1000
                    );
                }
                mark = held;
                // A new sequence number whenever the hub's values or the position moved,
                // so /events sends exactly then.
                if last != Some((snap.seq, at.to_bits())) {
                    seq += 1;
                    last = Some((snap.seq, at.to_bits()));
                }
                Arc::new(swept(&snap, at, seq))
            } else {
                if mark.take().is_some() || last.take().is_some() {
                    eprintln!("redline: sweep: off; the needles show the values again");
                }
                snap
            };
            if tx.send(out).is_err() {
                return;
            }
            let sweeping = control.on();
            tokio::select! {
                changed = hub.changed() => if changed.is_err() { return },
                () = control.wake.notified() => {}
                () = tokio::time::sleep(EVERY), if sweeping => {}
            }
        }
    };
    (rx, task)
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
