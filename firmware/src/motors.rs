//! The step task: homes the needles at power-up, then follows the targets the panel task
//! publishes, pulsing each motor at the deadline its `redline-core` planner gives.
//!
//! It runs on an interrupt executor above every thread-mode task, so a step is late only
//! by interrupt latency, never by Wi-Fi or HTTP work; being late is safe because the
//! planner measures the next interval from the step actually taken. The quad build drives
//! a VID6606 / AX1201728SG through STEP + DIR pairs; the direct-drive build walks one
//! X27's coils through `SixState` on four GPIOs. Which way, how far and when are all the
//! core's decisions; this module only turns them into pin edges.

use core::sync::atomic::{AtomicU16, Ordering};

use embassy_futures::select::select;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::signal::Signal;
use embassy_time::{Instant, Timer};
#[cfg(not(feature = "direct-drive"))]
use esp_hal::delay::Delay;
use esp_hal::gpio::{AnyPin, Level, Output, OutputConfig};
use log::info;
use redline_core::homing::Homing;
use redline_core::motion::{Direction, Planner, Profile};

#[cfg(not(feature = "direct-drive"))]
use redline_core::motion::QUAD_MICROSTEP;
#[cfg(feature = "direct-drive")]
use redline_core::motion::{DIRECT_DRIVE, SixState};

#[cfg(not(feature = "direct-drive"))]
use crate::config;

/// The motion profile of this build.
#[cfg(not(feature = "direct-drive"))]
pub const PROFILE: Profile = QUAD_MICROSTEP;
/// The motion profile of this build.
#[cfg(feature = "direct-drive")]
pub const PROFILE: Profile = DIRECT_DRIVE;

/// How many motors this build drives.
#[cfg(not(feature = "direct-drive"))]
pub const MOTORS: usize = 4;
/// How many motors this build drives.
#[cfg(feature = "direct-drive")]
pub const MOTORS: usize = 1;

/// The VID6606 wants STEP high and low for at least 450 ns; 1 us leaves a margin for
/// slow edges through the 74AHCT125 and long wires.
#[cfg(not(feature = "direct-drive"))]
const PULSE_NS: u32 = 1_000;
/// DIR must settle before the STEP edge that samples it.
#[cfg(not(feature = "direct-drive"))]
const DIR_SETUP_NS: u32 = 200;

/// The panel's latest targets in steps, slots N1 to N4 (left to right). Atomics rather
/// than a mutex: the step task preempts the panel task and must never wait on it.
static TARGETS: [AtomicU16; 4] = [const { AtomicU16::new(0) }; 4];
/// Wakes the step task when a target moved (it otherwise sleeps until its next step).
static TARGETS_CHANGED: Signal<CriticalSectionRawMutex, ()> = Signal::new();

/// Publishes the panel's targets (steps, slots N1 to N4) to the step task.
pub fn set_targets(targets: [u16; 4]) {
    let mut changed = false;
    for (slot, target) in TARGETS.iter().zip(targets) {
        if slot.load(Ordering::Relaxed) != target {
            slot.store(target, Ordering::Relaxed);
            changed = true;
        }
    }
    if changed {
        TARGETS_CHANGED.signal(());
    }
}

/// The clock every `redline-core` call gets: microseconds since boot.
pub fn now_us() -> u64 {
    Instant::now().as_micros()
}

/// The quad build's pins, needles N1 to N4 (`take_pins!` fills it from the configuration).
#[cfg(not(feature = "direct-drive"))]
pub struct QuadPins {
    /// STEP inputs of the driver (through the buffer), one per needle.
    pub step: [AnyPin<'static>; 4],
    /// DIR inputs of the driver, one per needle.
    pub dir: [AnyPin<'static>; 4],
    /// The data line of the lamp chain (not a motor pin; handed on to the lamps).
    pub lamps: AnyPin<'static>,
}

/// The direct-drive build's pins.
#[cfg(feature = "direct-drive")]
pub struct DirectPins {
    /// Motor pins 1 to 4 (coil 1 = pins 1-2, coil 2 = pins 4-3).
    pub coils: [AnyPin<'static>; 4],
    /// The data line of the lamp chain (not a motor pin; handed on to the lamps).
    pub lamps: AnyPin<'static>,
}

fn output(pin: AnyPin<'static>) -> Output<'static> {
    Output::new(pin, Level::Low, OutputConfig::default())
}

/// STEP + DIR outputs of the quad driver.
#[cfg(not(feature = "direct-drive"))]
pub struct Driver {
    step: [Output<'static>; 4],
    dir: [Output<'static>; 4],
}

#[cfg(not(feature = "direct-drive"))]
impl Driver {
    /// Claims the motor pins and gives back the lamp chain's data pin.
    pub fn new(pins: QuadPins) -> (Driver, AnyPin<'static>) {
        let driver = Driver {
            step: pins.step.map(output),
            dir: pins.dir.map(output),
        };
        (driver, pins.lamps)
    }

    /// The needle slot (index into `Needle::ALL`) motor `i` shows: motor A is N1.
    const fn needle(i: usize) -> usize {
        i
    }

    /// One step on every motor with a direction: DIR first, then one STEP pulse shared by
    /// all of them.
    fn pulse(&mut self, steps: &[Option<Direction>; MOTORS]) {
        if steps.iter().all(Option::is_none) {
            return;
        }
        let delay = Delay::new();
        for (dir, step) in self.dir.iter_mut().zip(steps) {
            if let Some(direction) = step {
                let up = (*direction == Direction::Up) != config::INVERT_DIR;
                dir.set_level(Level::from(up));
            }
        }
        delay.delay_nanos(DIR_SETUP_NS);
        for (pin, step) in self.step.iter_mut().zip(steps) {
            if step.is_some() {
                pin.set_high();
            }
        }
        delay.delay_nanos(PULSE_NS);
        for (pin, step) in self.step.iter_mut().zip(steps) {
            if step.is_some() {
                pin.set_low();
            }
        }
    }
}

/// The four coil pins of one directly driven motor and where it is in its sequence.
#[cfg(feature = "direct-drive")]
pub struct Driver {
    coils: [Output<'static>; 4],
    state: SixState,
}

#[cfg(feature = "direct-drive")]
impl Driver {
    /// Claims the coil pins (energised at the sequence's first state, which homing
    /// absorbs) and gives back the lamp chain's data pin.
    pub fn new(pins: DirectPins) -> (Driver, AnyPin<'static>) {
        let mut driver = Driver {
            coils: pins.coils.map(output),
            state: SixState::new(),
        };
        driver.drive(driver.state.pins());
        (driver, pins.lamps)
    }

    /// The needle slot the single motor shows (`REDLINE_DIRECT_NEEDLE`).
    const fn needle(_i: usize) -> usize {
        crate::config::DIRECT_NEEDLE
    }

    fn pulse(&mut self, steps: &[Option<Direction>; MOTORS]) {
        if let Some(direction) = steps[0] {
            let bits = self.state.advance(direction);
            self.drive(bits);
        }
    }

    /// Bit 0 is motor pin 1.
    fn drive(&mut self, bits: u8) {
        for (i, coil) in self.coils.iter_mut().enumerate() {
            coil.set_level(Level::from(bits & (1 << i) != 0));
        }
    }
}

/// The step task: homing, then following the panel's targets for ever.
#[embassy_executor::task]
pub async fn run(mut driver: Driver) {
    let started = now_us();
    info!(
        "motors: homing {MOTORS} needle(s), {} profile ({} steps full scale)",
        PROFILE.name,
        PROFILE.full_scale()
    );
    let mut homing = [Homing::new(PROFILE); MOTORS];
    loop {
        let now = now_us();
        let steps = homing
            .each_mut()
            .map(|h| h.next_step(now).map(|s| s.direction));
        driver.pulse(&steps);
        let Some(next) = homing.iter().filter_map(Homing::next_deadline).min() else {
            break;
        };
        Timer::at(Instant::from_micros(next)).await;
    }
    info!("motors: homed in {} ms", (now_us() - started) / 1000);

    // Homing leaves every needle at position 0, where a new planner starts.
    let mut planners = [Planner::new(PROFILE); MOTORS];
    loop {
        for (i, planner) in planners.iter_mut().enumerate() {
            planner.set_target(TARGETS[Driver::needle(i)].load(Ordering::Relaxed));
        }
        let now = now_us();
        let steps = planners
            .each_mut()
            .map(|p| p.next_step(now).map(|s| s.direction));
        driver.pulse(&steps);
        match planners.iter().filter_map(Planner::next_deadline).min() {
            Some(next) => {
                select(
                    Timer::at(Instant::from_micros(next)),
                    TARGETS_CHANGED.wait(),
                )
                .await;
            }
            None => TARGETS_CHANGED.wait().await,
        }
    }
}
