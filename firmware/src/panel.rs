//! The panel task: owns the `redline_core::poll::Cluster`, feeds it each fetched body,
//! ticks it every 10 ms and passes the result on: needle targets (slots N1 to N4, left to
//! right; the daemon decides which dial each shows) to the step task, and the five lamp
//! colours (from `redline_core::led::frame`) to the LED chain.
//!
//! Ticking often matters because the cluster's followers walk each target steadily
//! between polls; the step task then sees a smoothly moving target rather than a jump
//! per poll. Smoothing, the failure rule, MODEL's colour, blinking, pulsing and dimming are
//! the core's; this task only logs when the failure rule starts and ends.

use embassy_futures::select::{Either, select};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::signal::Signal;
use embassy_time::{Duration, Ticker};
use log::{info, warn};
use redline_core::calibration::Calibration;
use redline_core::led;
use redline_core::poll::{Cluster, PollConfig};

use crate::config;
use crate::http::Body;
use crate::lamps::Lamps;
use crate::motors::{self, PROFILE, now_us};

/// How often the cluster is ticked.
const TICK: Duration = Duration::from_millis(10);

/// The latest fetched body; a newer one replaces one not yet read.
static ANSWER: Signal<CriticalSectionRawMutex, Body> = Signal::new();

/// Hands a fetched body to the panel (called by the poll task).
pub fn deliver(body: Body) {
    ANSWER.signal(body);
}

/// The panel task.
#[embassy_executor::task]
pub async fn run(mut lamps: Lamps) {
    let poll = PollConfig {
        interval_us: config::POLL_MS * 1000,
        ..PollConfig::for_profile(&PROFILE)
    };
    // Linear dials until `redline calibrate` exists; a table per needle slots in here.
    let calibrations = [Calibration::linear(PROFILE.full_scale()); 4];
    let mut cluster = Cluster::new(poll, calibrations, now_us());
    let mut ticker = Ticker::every(TICK);
    let mut failed = false;
    let mut answered = false;
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
