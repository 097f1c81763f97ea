//! The needle sweep: every needle through 0, 25, 50, 75 and 100 % and back
//! (`redline_core::sweep`), so a person can check printed faces against the needles.
//! Started by `serve --sweep` or from the page (`POST /api/sweep`), stopped from the page.
//!
//! The hub applies it as it computes each snapshot (so a POST answered 200 is still in
//! the next `/usage`: there is one publisher), recomputing four times a second while the
//! sweep is on and at its usual pace when it is off (no timer of its own: an idle daemon
//! stays idle). `/usage`, `/usage/gauge`, `/events` and the page all show the sweep and
//! the firmware follows it. The lamps stay live.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redline_core::sweep;

/// How often the hub recomputes while sweeping.
pub const EVERY: Duration = Duration::from_millis(250);

/// Whether the sweep runs, and since when.
#[derive(Debug)]
pub struct Control {
    on: AtomicBool,
    since: Mutex<Instant>,
}

impl Control {
    /// A control, sweeping from the start when `on`.
    pub fn new(on: bool) -> Arc<Control> {
        Arc::new(Control {
            on: AtomicBool::new(on),
            since: Mutex::new(Instant::now()),
        })
    }

    /// Whether it sweeps.
    pub fn on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// Starts (from the zero mark) or stops the sweep; the hub takes it up at its next
    /// recomputation (send it `Input::Tick` to have that at once).
    pub fn set(&self, on: bool) {
        if on && !self.on() {
            *self.since.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        }
        self.on.store(on, Ordering::Relaxed);
    }

    fn elapsed_ms(&self) -> u64 {
        let since = *self.since.lock().unwrap_or_else(|e| e.into_inner());
        u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// Replaces the mounted needles' positions in `usage` with the sweep's, when it is on;
/// says in the log which mark is held as each is reached, and when it stops. `held` is
/// the caller's memory of the mark said last (`None` while moving or off).
pub fn apply(
    control: &Control,
    usage: &mut redline_engine::usage::Usage,
    held: &mut Option<Option<f32>>,
) {
    if !control.on() {
        if held.take().is_some() {
            eprintln!("redline: sweep: off; the needles show the values again");
        }
        return;
    }
    let (at, mark) = sweep::position(control.elapsed_ms());
    if mark.is_some() && *held != Some(mark) {
        eprintln!(
            "redline: sweep: every needle at {:.0} % for {} s",
            mark.unwrap_or(0.0) * 100.0,
            sweep::HOLD_MS / 1000
        );
    }
    *held = Some(mark);
    for g in &mut usage.gauges.0 {
        g.1 = Some(at);
    }
}
