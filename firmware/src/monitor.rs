//! The monitor task (thread mode): the heartbeat the panel checks before feeding the
//! watchdog, the end of homing, and once a minute the figures a first board is sized by:
//! the step interrupt's cost and the spacing of its ticks, the main stack's high-water
//! mark and the heap in use.

use embassy_time::{Duration, Ticker};
use log::info;

use crate::motors::{self, CYCLES_PER_SYSTIMER_TICK, MOTORS, TICK_US};
use crate::{panel, stack};

/// How often the heartbeat is given (the panel allows 30 s of silence).
const BEAT: Duration = Duration::from_secs(1);
/// Beats between two reports: one a minute.
const REPORT_EVERY: u32 = 60;

/// SYSTIMER ticks (16 MHz) to nanoseconds.
const fn ns(systimer_ticks: u64) -> u64 {
    systimer_ticks * 1000 / 16
}

/// The monitor task.
#[embassy_executor::task]
pub async fn run() {
    let mut ticker = Ticker::every(BEAT);
    let mut beats = 0u32;
    let mut homed = false;
    loop {
        ticker.next().await;
        panel::heartbeat();
        if !homed && let Some(ms) = motors::take_homed_ms() {
            info!("motors: homed in {ms} ms");
            homed = true;
        }
        beats += 1;
        if beats.is_multiple_of(REPORT_EVERY) {
            report();
        }
    }
}

/// Logs the step interrupt's figures for the last minute and the memory high-water marks.
fn report() {
    let r = motors::take_report();
    let mean = r.cost_sum.checked_div(u64::from(r.ticks)).unwrap_or(0);
    let max = u64::from(r.cost_max);
    let period_cycles = TICK_US * 160;
    // Per mille of the CPU the handler body takes (entry/exit overhead not included).
    let load = mean * CYCLES_PER_SYSTIMER_TICK * 1000 / period_cycles;
    info!(
        "steps: {} ticks, {} steps ({MOTORS} motor(s)); handler mean {} cycles, max {} cycles ({} ns) of {period_cycles} per {TICK_US} us tick ({}.{}% CPU); ticks at most {} ns apart",
        r.ticks,
        r.steps,
        mean * CYCLES_PER_SYSTIMER_TICK,
        max * CYCLES_PER_SYSTIMER_TICK,
        ns(max),
        load / 10,
        load % 10,
        ns(u64::from(r.gap_max)),
    );
    let (size, used) = stack::main_high_water();
    info!(
        "stack: main {used} of {size} bytes used at most ({} free); heap {} bytes in use, {} free",
        size - used,
        esp_alloc::HEAP.used(),
        esp_alloc::HEAP.free()
    );
}
