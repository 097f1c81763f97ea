//! The panel task: owns the `redline_core::poll::Cluster`, feeds it each fetched body,
//! ticks it every 10 ms and passes the result on: needle targets (slots N1 to N4, left to
//! right; the daemon decides which dial each shows) to the step interrupt, and the five lamp
//! colours (from `redline_core::led::frame`) to the LED chain.
//!
//! It runs on its own interrupt executor (priority 2), above the thread-mode tasks, so the
//! lamps go on showing the truth (STALL blinking after 5 s without an answer) while the
//! radio starts, even if starting it blocks the thread-mode executor; and it feeds the
//! watchdog on every tick, as long as the thread-mode tasks still show signs of life (the
//! monitor's heartbeat, [`heartbeat`]). Silent for [`THREAD_SILENCE_MAX`], they are taken
//! to be stuck (a radio start that never returns, a task that never yields): the panel
//! stops feeding and the watchdog resets the chip, which starts the radio afresh.
//!
//! Ticking often matters because the cluster's followers walk each target steadily
//! between polls; the step interrupt then sees a smoothly moving target rather than a jump
//! per poll. Smoothing, the failure rule, MODEL's colour, blinking, pulsing and dimming are
//! the core's; this task only logs when the failure rule starts and ends.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use embassy_futures::select::{Either, select};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::signal::Signal;
use embassy_time::{Duration, Ticker, Timer};
use esp_hal::gpio::AnyPin;
use esp_hal::peripherals::RMT;
use esp_hal::rtc_cntl::Rwdt;
use log::{error, info, warn};
use redline_core::calibration::{CalPoint, Calibration, MAX_POINTS};
use redline_core::led;
use redline_core::poll::{Cluster, PollConfig};

use crate::config;
use crate::http::Body;
use crate::lamps::Lamps;
use crate::motors::{self, PROFILE, now_us};

/// How often the cluster is ticked.
const TICK: Duration = Duration::from_millis(10);

/// How long the thread-mode tasks may stay silent before the panel stops feeding the
/// watchdog. A radio start takes well under a second; nothing else blocks.
pub const THREAD_SILENCE_MAX: Duration = Duration::from_secs(30);

/// When the thread-mode executor last ran the monitor (ms since boot, wrapping).
static HEARTBEAT_MS: AtomicU32 = AtomicU32::new(0);

/// Set once the panel has ticked and shown its first frame.
static RUNNING: AtomicBool = AtomicBool::new(false);

/// Called by a thread-mode task at least every few seconds: the thread-mode executor is
/// alive.
pub fn heartbeat() {
    HEARTBEAT_MS.store((now_us() / 1000) as u32, Ordering::Relaxed);
}

/// Waits until the panel has run once (its first frame is out, the watchdog fed).
pub async fn wait_running() {
    while !RUNNING.load(Ordering::Relaxed) {
        Timer::after(TICK).await;
    }
}

/// The latest fetched body; a newer one replaces one not yet read.
static ANSWER: Signal<CriticalSectionRawMutex, Body> = Signal::new();

/// Hands a fetched body to the panel (called by the poll task).
pub fn deliver(body: Body) {
    ANSWER.signal(body);
}

/// A needle's calibration from its build-time points; linear when it has none.
fn table(points: &[(f32, u16)]) -> Calibration {
    let linear = Calibration::linear(PROFILE.full_scale());
    let mut cal = [CalPoint::default(); MAX_POINTS];
    if points.is_empty() || points.len() > MAX_POINTS {
        return linear;
    }
    for (slot, &(fraction, steps)) in cal.iter_mut().zip(points) {
        *slot = CalPoint { fraction, steps };
    }
    // build.rs refused any table these rules refuse, so this never falls back.
    Calibration::new(&cal[..points.len()], PROFILE.full_scale()).unwrap_or(linear)
}

/// The panel task.
#[embassy_executor::task]
pub async fn run(rmt: RMT<'static>, lamp_data: AnyPin<'static>, mut watchdog: Rwdt) {
    // Made here, not in `main`: an async driver belongs to the executor that polls it.
    let mut lamps = Lamps::new(rmt, lamp_data);
    let poll = PollConfig {
        interval_us: config::POLL_MS * 1000,
        ..PollConfig::for_profile(&PROFILE)
    };
    // Each needle's table from REDLINE_CAL_N1..N4 (checked by build.rs), else linear.
    let calibrations: [Calibration; 4] = core::array::from_fn(|n| table(config::CALIBRATION[n]));
    let mut cluster = Cluster::new(poll, calibrations, now_us());
    let mut ticker = Ticker::every(TICK);
    let mut failed = false;
    let mut answered = false;
    let mut starving = false;
    heartbeat();
    info!("panel: waiting for the daemon; STALL blinks after 5 s without an answer");
    loop {
        if let Either::First(body) = select(ANSWER.wait(), ticker.next()).await {
            match cluster.answer(body.as_slice(), now_us()) {
                Ok(()) if !answered => {
                    info!("panel: first answer read; needles following");
                    answered = true;
                }
                Ok(()) => {}
                Err(e) => warn!(
                    "panel: body refused: {e} ({} refused since boot)",
                    cluster.refused()
                ),
            }
        }
        let now = now_us();
        let out = cluster.tick(now);
        motors::set_targets(out.targets);
        lamps
            .show(led::frame(&out.lamps, out.color, now, config::DIM_PERCENT))
            .await;
        // Feed the watchdog while the thread-mode tasks are alive; otherwise let it bite.
        let silent_ms = ((now / 1000) as u32).wrapping_sub(HEARTBEAT_MS.load(Ordering::Relaxed));
        if u64::from(silent_ms) < THREAD_SILENCE_MAX.as_millis() {
            watchdog.feed();
            starving = false;
        } else if !starving {
            starving = true;
            error!(
                "watchdog: thread tasks silent for {} s (radio start stuck?); resetting in {} s",
                silent_ms / 1000,
                crate::WATCHDOG_TIMEOUT_S
            );
        }
        RUNNING.store(true, Ordering::Relaxed);
        if cluster.is_failed() != failed {
            failed = cluster.is_failed();
            if failed {
                warn!("panel: no valid answer for 5 s: needles to zero, STALL blinking");
            } else {
                info!("panel: answers again: needles following");
            }
        }
    }
}
