//! The step interrupt: homes the needles at power-up, then follows the targets the panel
//! task publishes, pulsing each motor when its `redline-core` planner says a step is due.
//!
//! One fixed-rate hardware timer (TIMG1's timer 0; esp-rtos owns TIMG0's for its
//! scheduler and embassy's clock) raises an interrupt every [`TICK_US`] microseconds at
//! [`PRIORITY`], above everything else this firmware runs: the Wi-Fi MAC and esp-rtos's
//! timer (priority 1) and the panel's executor (priority 2). Each tick asks every planner
//! whether its step is due; the answer is cached as a deadline, so a tick with nothing due
//! costs four compares. Steps are pipelined by one tick: the tick that decides a step sets
//! DIR at once and raises STEP at the start of the next tick, which lowers it again at the
//! start of the one after. Edges therefore come at a fixed offset from the tick, DIR is set
//! a whole tick (35 us) before the STEP edge that samples it and STEP stays high for a
//! tick, with no busy-wait in the interrupt (the VID6606 needs 450 ns of each).
//!
//! Being late is safe: the planner is told the tick's time and measures the next interval
//! from it, so a step is never early and the speed bound holds. `docs/motion.md` ("Step
//! timing on the chip") derives the cycle budget and the jitter; [`take_report`] gives the
//! measured cost, which the monitor logs once a minute.
//!
//! The quad build drives a VID6606 / AX1201728SG through STEP + DIR pairs; the
//! direct-drive build walks one X27's coils through `SixState` on four GPIOs.

use core::cell::RefCell;

use critical_section::Mutex;
use embassy_time::Instant;
use esp_hal::gpio::{AnyPin, Level, Output, OutputConfig};
use esp_hal::handler;
use esp_hal::interrupt::Priority;
use esp_hal::peripherals::TIMG1;
use esp_hal::time::Duration;
use esp_hal::timer::PeriodicTimer;
use esp_hal::timer::systimer::{SystemTimer, Unit};
use esp_hal::timer::timg::TimerGroup;
use esp_hal::{Blocking, ram};
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

/// The step interrupt's period: 28.6 kHz. A step is late by less than one period; 35 us
/// divides the shortest interval the planner asks for closely (139 us rounds up to 4
/// ticks, 140 us), so the top speed on the chip is 595 deg/s rather than 600, and the
/// worst tick (four steps and a re-plan, about 3,700 of its 5,600 cycles) fits the period
/// (docs/motion.md, "Step timing on the chip").
pub const TICK_US: u64 = 35;

/// The step interrupt's priority: above the panel's executor (2), the Wi-Fi MAC and
/// esp-rtos's timer (1).
pub const PRIORITY: Priority = Priority::Priority3;

/// SYSTIMER ticks per microsecond: its counter runs at 16 MHz from the 40 MHz crystal on
/// both the C3 and the C6 (checked at start).
const SYSTIMER_PER_US: u64 = 16;

/// CPU cycles per SYSTIMER tick at 160 MHz, for the report.
pub const CYCLES_PER_SYSTIMER_TICK: u64 = 10;

/// Everything the step interrupt owns, shared with the tasks through a critical section:
/// the panel writes targets, the monitor reads the figures. The interrupt runs only when
/// no critical section is held (they mask every interrupt on this single-core chip), so
/// neither side ever finds the `RefCell` borrowed.
static STEPPER: Mutex<RefCell<Option<Stepper>>> = Mutex::new(RefCell::new(None));

/// The clock every `redline-core` call outside the interrupt gets: microseconds since boot.
pub fn now_us() -> u64 {
    Instant::now().as_micros()
}

/// Microseconds since boot from the SYSTIMER counter, and the raw count (the interrupt's
/// clock: the same counter embassy's clock reads, without its conversion).
#[inline(always)]
fn systimer_now() -> u64 {
    SystemTimer::unit_value(Unit::Unit0)
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

/// The steps decided in one tick, one slot per motor.
type Steps = [Option<Direction>; MOTORS];

/// STEP + DIR outputs of the quad driver.
#[cfg(not(feature = "direct-drive"))]
pub struct Driver {
    step: [Output<'static>; 4],
    dir: [Output<'static>; 4],
    /// Which STEP pins are high (raised this tick, lowered at the next).
    raised: [bool; 4],
}

#[cfg(not(feature = "direct-drive"))]
impl Driver {
    /// Claims the motor pins and gives back the lamp chain's data pin.
    pub fn new(pins: QuadPins) -> (Driver, AnyPin<'static>) {
        let driver = Driver {
            step: pins.step.map(output),
            dir: pins.dir.map(output),
            raised: [false; 4],
        };
        (driver, pins.lamps)
    }

    /// The needle slot (index into `Needle::ALL`) motor `i` shows: motor A is N1.
    const fn needle(i: usize) -> usize {
        i
    }

    /// Start of a tick: ends last tick's STEP pulses, then raises STEP for the steps the
    /// last tick decided (their DIR has been set since then).
    #[inline(always)]
    fn emit(&mut self, steps: &Steps) {
        for (pin, raised) in self.step.iter_mut().zip(self.raised.iter_mut()) {
            if *raised {
                pin.set_low();
                *raised = false;
            }
        }
        for ((pin, raised), step) in self.step.iter_mut().zip(self.raised.iter_mut()).zip(steps) {
            if step.is_some() {
                pin.set_high();
                *raised = true;
            }
        }
    }

    /// End of a tick: sets DIR for the steps just decided, a tick before their STEP edge.
    #[inline(always)]
    fn prepare(&mut self, steps: &Steps) {
        for (pin, step) in self.dir.iter_mut().zip(steps) {
            if let Some(direction) = step {
                let up = (*direction == Direction::Up) != config::INVERT_DIR;
                pin.set_level(Level::from(up));
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

    /// Start of a tick: moves the coils one state for the step the last tick decided.
    #[inline(always)]
    fn emit(&mut self, steps: &Steps) {
        if let Some(direction) = steps[0] {
            let bits = self.state.advance(direction);
            self.drive(bits);
        }
    }

    /// Nothing to set ahead of a six-state step.
    #[inline(always)]
    fn prepare(&mut self, _steps: &Steps) {}

    /// Bit 0 is motor pin 1.
    fn drive(&mut self, bits: u8) {
        for (i, coil) in self.coils.iter_mut().enumerate() {
            coil.set_level(Level::from(bits & (1 << i) != 0));
        }
    }
}

/// The step interrupt's measurements since the last report, in SYSTIMER ticks (16 MHz).
#[derive(Clone, Copy, Debug, Default)]
pub struct Report {
    /// Ticks handled.
    pub ticks: u32,
    /// Sum and maximum of the handler's cost, entry to exit.
    pub cost_sum: u64,
    pub cost_max: u32,
    /// The longest gap between two consecutive handler entries: the period plus the worst
    /// extra latency (a critical section or a higher interrupt holding the tick back).
    pub gap_max: u32,
    /// Steps pulsed.
    pub steps: u32,
}

/// What the interrupt owns.
struct Stepper {
    timer: PeriodicTimer<'static, Blocking>,
    driver: Driver,
    /// `Some` while homing; every motor homes at once and all finish before following.
    homing: Option<[Homing; MOTORS]>,
    planners: [Planner; MOTORS],
    /// Each motor's next step time (us), cached so an idle tick costs a compare.
    deadlines: [Option<u64>; MOTORS],
    /// The panel's targets by needle slot, and which changed since the interrupt read them.
    targets: [u16; 4],
    changed: [bool; 4],
    /// The steps decided last tick, emitted at the start of this one.
    pending: Steps,
    /// The motor whose changed target is looked at first next tick: one re-plan per tick
    /// at most, in turn, so four targets changing at once cost four ticks a re-plan each.
    next_replan: usize,
    started_us: u64,
    /// When homing ended, for the monitor's log (taken once).
    homed_ms: Option<u64>,
    last_entry: u64,
    report: Report,
}

impl Stepper {
    /// One tick, at SYSTIMER count `entry`.
    #[inline(always)]
    fn tick(&mut self, entry: u64) {
        self.timer.clear_interrupt();
        let pending = core::mem::take(&mut self.pending);
        self.driver.emit(&pending);

        let now = entry / SYSTIMER_PER_US;
        let mut steps: Steps = [None; MOTORS];
        if let Some(homing) = self.homing.as_mut() {
            for ((h, deadline), step) in homing
                .iter_mut()
                .zip(self.deadlines.iter_mut())
                .zip(steps.iter_mut())
            {
                if deadline.is_some_and(|d| d <= now) {
                    *step = h.next_step(now).map(|s| s.direction);
                    *deadline = h.next_deadline();
                }
            }
            if homing.iter().all(Homing::is_done) {
                // Homing leaves every needle at position 0, where a new planner starts.
                self.homing = None;
                self.homed_ms = Some((now - self.started_us) / 1000);
                self.changed = [true; 4];
                self.deadlines = [None; MOTORS];
            }
        } else {
            for k in 0..MOTORS {
                let i = wrap(self.next_replan + k);
                let slot = Driver::needle(i);
                if self.changed[slot] {
                    self.changed[slot] = false;
                    self.planners[i].set_target(self.targets[slot]);
                    self.deadlines[i] = self.planners[i].next_deadline();
                    self.next_replan = wrap(i + 1);
                    break;
                }
            }
            for ((planner, deadline), step) in self
                .planners
                .iter_mut()
                .zip(self.deadlines.iter_mut())
                .zip(steps.iter_mut())
            {
                if deadline.is_some_and(|d| d <= now) {
                    // The step and the next deadline from one call: the cached deadline
                    // already says this step is due.
                    let (taken, next) = planner.step_due(now).unzip();
                    *step = taken.map(|s| s.direction);
                    *deadline = next.flatten();
                }
            }
        }
        self.driver.prepare(&steps);
        self.pending = steps;

        let r = &mut self.report;
        r.steps += steps.iter().filter(|s| s.is_some()).count() as u32;
        if self.last_entry != 0 {
            r.gap_max = r.gap_max.max(entry.wrapping_sub(self.last_entry) as u32);
        }
        self.last_entry = entry;
        let cost = systimer_now().wrapping_sub(entry) as u32;
        r.ticks += 1;
        r.cost_sum += u64::from(cost);
        r.cost_max = r.cost_max.max(cost);
    }
}

/// A motor index below `2 * MOTORS` brought into `0..MOTORS`.
#[inline(always)]
fn wrap(i: usize) -> usize {
    if i >= MOTORS { i - MOTORS } else { i }
}

/// The step interrupt (TIMG1 timer 0).
#[handler(priority = PRIORITY)]
#[ram]
fn step_tick() {
    let entry = systimer_now();
    critical_section::with(|cs| {
        if let Some(stepper) = STEPPER.borrow_ref_mut(cs).as_mut() {
            stepper.tick(entry);
        }
    });
}

/// Hands the motors to the step interrupt and starts it: homing begins at once.
pub fn start(driver: Driver, timg1: TIMG1<'static>) {
    assert_eq!(
        SystemTimer::ticks_per_second(),
        SYSTIMER_PER_US * 1_000_000,
        "the step interrupt's clock assumes a 16 MHz SYSTIMER (40 MHz crystal)"
    );
    info!(
        "motors: homing {MOTORS} needle(s), {} profile ({} steps full scale); step interrupt every {TICK_US} us",
        PROFILE.name,
        PROFILE.full_scale()
    );
    let group = TimerGroup::new(timg1);
    let mut timer = PeriodicTimer::new(group.timer0);
    timer.set_interrupt_handler(step_tick);
    timer
        .start(Duration::from_micros(TICK_US))
        .expect("TIMG1 reaches a 35 us period");
    let homing = [Homing::new(PROFILE); MOTORS];
    let stepper = Stepper {
        timer,
        driver,
        homing: Some(homing),
        planners: [Planner::new(PROFILE); MOTORS],
        deadlines: homing.map(|h| h.next_deadline()),
        targets: [0; 4],
        changed: [false; 4],
        pending: [None; MOTORS],
        next_replan: 0,
        started_us: systimer_now() / SYSTIMER_PER_US,
        homed_ms: None,
        last_entry: 0,
        report: Report::default(),
    };
    critical_section::with(|cs| {
        let mut slot = STEPPER.borrow_ref_mut(cs);
        // The interrupt can fire only once the critical section ends, with the state in place.
        slot.insert(stepper).timer.listen();
    });
}

/// Publishes the panel's targets (steps, slots N1 to N4) to the step interrupt. Only a
/// changed slot costs the interrupt a re-plan.
pub fn set_targets(targets: [u16; 4]) {
    critical_section::with(|cs| {
        if let Some(s) = STEPPER.borrow_ref_mut(cs).as_mut() {
            for ((old, changed), new) in s.targets.iter_mut().zip(s.changed.iter_mut()).zip(targets)
            {
                if *old != new {
                    *old = new;
                    *changed = true;
                }
            }
        }
    });
}

/// How long homing took, once, after it ended (ms).
pub fn take_homed_ms() -> Option<u64> {
    critical_section::with(|cs| {
        STEPPER
            .borrow_ref_mut(cs)
            .as_mut()
            .and_then(|s| s.homed_ms.take())
    })
}

/// The step interrupt's figures since the last call, which starts a new period.
pub fn take_report() -> Report {
    critical_section::with(|cs| {
        STEPPER
            .borrow_ref_mut(cs)
            .as_mut()
            .map(|s| core::mem::take(&mut s.report))
            .unwrap_or_default()
    })
}
