//! Needle motion: the motor profiles, the acceleration table and the per-needle planner
//! that turns a target position into timed steps.
//!
//! The planner is a pure state machine. The firmware asks it when the next step is due
//! ([`Planner::next_deadline`]), arms a timer for then, and on the timer calls
//! [`Planner::next_step`] with the current time; the returned [`Step`] says which way to
//! pulse (STEP + DIR on the quad driver, or one more state of [`SixState`] on four GPIOs).
//! Time is always `u64` microseconds passed in by the caller, and all step timing is
//! integer arithmetic because neither ESP32-C3 nor C6 has a floating-point unit.
//!
//! Motion runs on a speed *level*: level `n` is the speed the acceleration table gives
//! after `n - 1` steps of travel from rest, and the level moves by at most one per step
//! (up to accelerate, down to brake). A needle at level `n` therefore needs exactly
//! `n - 1` more steps to come to rest, which is what makes every guarantee below cheap to
//! check before each step:
//!
//! - never faster than the profile's [`Profile::max_speed_dps`] (600 deg/s, 139 us per
//!   microstep) or the needle's own lower limit;
//! - no overshoot of a target: the planner only raises or holds the level while the
//!   remaining distance covers the braking distance, so it arrives exactly;
//! - a target that moves behind the needle (or closer than the braking distance) is
//!   handled by braking one level per step, reversing only at the start speed: no dead
//!   stop and no travel beyond the braking distance;
//! - a target moved further ahead keeps the level climbing: no speed jump;
//! - the needle stays within `0..=full_scale`, since the braking point never passes a
//!   target that was in range.

/// The speed a stepper motor of this class can start, stop and reverse at without losing
/// steps (degrees per second). Homing never goes faster than this.
pub const START_STOP_DPS: u16 = 200;

/// The fastest the X27.168 class may turn with acceleration (degrees per second); the
/// VID6606 driver's 7.2 kHz step limit at 1/12 degree is the same figure.
pub const MAX_SPEED_DPS: u16 = 600;

/// One point of the acceleration table: the speed reached after travelling so far from
/// rest. Between points the speed is interpolated linearly in distance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccelPoint {
    /// Distance travelled from rest, in whole degrees of needle travel.
    pub travelled_deg: u16,
    /// Speed at that distance, in degrees per second.
    pub speed_dps: u16,
}

/// The acceleration table both profiles share: constant acceleration of 3000 deg/s^2
/// from 100 deg/s (half the start-stop speed, so a reversal at the start speed is a
/// change of 200 deg/s at most), `v = sqrt(100^2 + 2 * 3000 * d)` sampled more densely
/// where the curve bends most. Linear interpolation between the samples keeps the
/// acceleration within 10% of the design figure. The last point lies above 600 deg/s on
/// purpose: the speed cap, not the table, decides the top speed.
pub const ACCEL_TABLE: [AccelPoint; 15] = [
    AccelPoint {
        travelled_deg: 0,
        speed_dps: 100,
    },
    AccelPoint {
        travelled_deg: 1,
        speed_dps: 126,
    },
    AccelPoint {
        travelled_deg: 2,
        speed_dps: 148,
    },
    AccelPoint {
        travelled_deg: 3,
        speed_dps: 167,
    },
    AccelPoint {
        travelled_deg: 4,
        speed_dps: 184,
    },
    AccelPoint {
        travelled_deg: 5,
        speed_dps: 200,
    },
    AccelPoint {
        travelled_deg: 7,
        speed_dps: 228,
    },
    AccelPoint {
        travelled_deg: 10,
        speed_dps: 265,
    },
    AccelPoint {
        travelled_deg: 14,
        speed_dps: 307,
    },
    AccelPoint {
        travelled_deg: 19,
        speed_dps: 352,
    },
    AccelPoint {
        travelled_deg: 25,
        speed_dps: 400,
    },
    AccelPoint {
        travelled_deg: 32,
        speed_dps: 449,
    },
    AccelPoint {
        travelled_deg: 40,
        speed_dps: 500,
    },
    AccelPoint {
        travelled_deg: 50,
        speed_dps: 557,
    },
    AccelPoint {
        travelled_deg: 60,
        speed_dps: 608,
    },
];

/// The design acceleration of [`ACCEL_TABLE`], in degrees per second squared.
pub const ACCEL_DPS2: u32 = 3000;

/// A motor and driver combination, as data: how fine a step is, how far the needle can
/// travel, and how fast it may go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Profile {
    /// A short name for logs and scenario files (`quad`, `direct`).
    pub name: &'static str,
    /// Steps per degree of needle travel (12 for microsteps, 3 for partial steps).
    pub steps_per_degree: u16,
    /// Steps from one internal stop to the other (315 degrees).
    pub sweep_steps: u16,
    /// How far off the zero stop homing defines position 0, in steps; the same margin is
    /// kept below the far stop, so the needle never presses on either stop.
    pub zero_offset: u16,
    /// Speed as a function of distance from rest.
    pub accel: &'static [AccelPoint],
    /// The top speed any needle of this profile may be given, in degrees per second.
    pub max_speed_dps: u16,
}

/// The VID6606 / AX1201728SG quad driver: STEP + DIR per motor, 1/12 degree microsteps,
/// 3780 steps over the 315 degree sweep, zero one degree off the stop.
pub const QUAD_MICROSTEP: Profile = Profile {
    name: "quad",
    steps_per_degree: 12,
    sweep_steps: 3780,
    zero_offset: 12,
    accel: &ACCEL_TABLE,
    max_speed_dps: MAX_SPEED_DPS,
};

/// One motor on four GPIOs through the six-state sequence ([`SixState`]): 1/3 degree
/// partial steps, 945 steps over the sweep, zero one degree off the stop.
pub const DIRECT_DRIVE: Profile = Profile {
    name: "direct",
    steps_per_degree: 3,
    sweep_steps: 945,
    zero_offset: 3,
    accel: &ACCEL_TABLE,
    max_speed_dps: MAX_SPEED_DPS,
};

impl Profile {
    /// The highest position the planner will drive to: the sweep less the zero offset at
    /// both ends (3756 for [`QUAD_MICROSTEP`], 939 for [`DIRECT_DRIVE`]).
    pub const fn full_scale(&self) -> u16 {
        self.sweep_steps - 2 * self.zero_offset
    }

    /// The speed of level `level` (1 = the first step from rest), in millidegrees per
    /// second, read from the acceleration table.
    pub fn level_speed_mdps(&self, level: u16) -> u32 {
        let spd = u32::from(self.steps_per_degree.max(1));
        // Distance travelled before a step at this level, in millidegrees.
        let travelled = u32::from(level.saturating_sub(1)) * 1000 / spd;
        let table = self.accel;
        let Some(first) = table.first() else {
            // No table: creep at the start-stop speed rather than not move at all.
            return u32::from(START_STOP_DPS) * 1000;
        };
        let mut speed = u32::from(first.speed_dps) * 1000;
        for pair in table.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let (da, db) = (
                u32::from(a.travelled_deg) * 1000,
                u32::from(b.travelled_deg) * 1000,
            );
            if travelled >= db {
                speed = u32::from(b.speed_dps) * 1000;
                continue;
            }
            if travelled >= da && db > da {
                let (va, vb) = (u32::from(a.speed_dps) * 1000, u32::from(b.speed_dps) * 1000);
                let span = u64::from(travelled - da);
                let width = u64::from(db - da);
                speed = if vb >= va {
                    va + (u64::from(vb - va) * span / width) as u32
                } else {
                    va - (u64::from(va - vb) * span / width) as u32
                };
            }
            break;
        }
        speed.max(1)
    }

    /// Microseconds between steps at speed level `level`, from the table alone (no cap),
    /// rounded up so the real speed never exceeds the table's.
    pub fn level_interval_us(&self, level: u16) -> u32 {
        interval_for_mdps(self.level_speed_mdps(level), self.steps_per_degree)
    }

    /// Microseconds per step at `dps` degrees per second, rounded up (600 deg/s on the
    /// quad driver gives 139 us).
    pub fn interval_at_dps(&self, dps: u16) -> u32 {
        interval_for_mdps(u32::from(dps.max(1)) * 1000, self.steps_per_degree)
    }
}

/// Microseconds per step at `mdps` millidegrees per second, rounded up.
fn interval_for_mdps(mdps: u32, steps_per_degree: u16) -> u32 {
    let steps_per_kilosecond = u64::from(mdps) * u64::from(steps_per_degree.max(1));
    1_000_000_000u64.div_ceil(steps_per_kilosecond.max(1)) as u32
}

/// Which way a step turns the needle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Towards full scale: the position grows.
    Up,
    /// Towards the zero stop: the position shrinks.
    Down,
}

impl Direction {
    /// +1 for [`Direction::Up`], -1 for [`Direction::Down`].
    pub const fn sign(self) -> i32 {
        match self {
            Direction::Up => 1,
            Direction::Down => -1,
        }
    }

    /// The other way.
    pub const fn reverse(self) -> Direction {
        match self {
            Direction::Up => Direction::Down,
            Direction::Down => Direction::Up,
        }
    }
}

/// One step the caller must make now: pulse STEP with DIR set for `direction`, or move
/// [`SixState`] one state that way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// Which way to step.
    pub direction: Direction,
}

/// The pin pattern of the direct-drive six-state sequence, bits for pins 1..4 (bit 0 =
/// pin 1); coil 1 is pin 1 to pin 2, coil 2 is pin 4 to pin 3.
pub const SIX_STATE_PINS: [u8; 6] = [0x9, 0x1, 0x7, 0x6, 0xE, 0x8];

/// Where a direct-drive motor is in its six-state sequence. Walking the sequence forward
/// turns the needle up; a [`Step`] from the planner or homing moves it one state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SixState {
    phase: u8,
}

impl SixState {
    /// Starts at state 0 (pins 0x9). The motor snaps to the nearest matching pole the
    /// first time it is energised, which homing absorbs.
    pub const fn new() -> SixState {
        SixState { phase: 0 }
    }

    /// The pins to drive now.
    pub const fn pins(self) -> u8 {
        SIX_STATE_PINS[self.phase as usize]
    }

    /// Moves one state in `direction` and returns the new pin pattern.
    pub fn advance(&mut self, direction: Direction) -> u8 {
        self.phase = match direction {
            Direction::Up => (self.phase + 1) % 6,
            Direction::Down => (self.phase + 5) % 6,
        };
        self.pins()
    }
}

/// The motion planner of one needle. See the module docs for what it guarantees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Planner {
    profile: Profile,
    position: u16,
    target: u16,
    direction: Direction,
    /// The speed level of the last step, 0 when at rest.
    level: u16,
    last_step_us: Option<u64>,
    /// The needle's speed cap as an interval, and the level where the table reaches it.
    min_interval_us: u32,
    max_level: u16,
}

impl Planner {
    /// A planner at rest at position 0 (where homing leaves the needle), at the profile's
    /// top speed.
    pub fn new(profile: Profile) -> Planner {
        let mut planner = Planner {
            profile,
            position: 0,
            target: 0,
            direction: Direction::Up,
            level: 0,
            last_step_us: None,
            min_interval_us: 1,
            max_level: 1,
        };
        planner.set_max_speed(profile.max_speed_dps);
        planner
    }

    /// The same planner with its top speed lowered to `dps` (see [`Planner::set_max_speed`]).
    pub fn with_max_speed(mut self, dps: u16) -> Planner {
        self.set_max_speed(dps);
        self
    }

    /// Sets this needle's top speed in degrees per second, clamped to the profile's
    /// maximum (600). A cap below the table's start speed slows every step to it. A needle
    /// already moving faster brakes to the new speed one level per step.
    pub fn set_max_speed(&mut self, dps: u16) {
        let dps = dps.clamp(1, self.profile.max_speed_dps);
        let min_interval = self.profile.interval_at_dps(dps);
        let mut level = 1u16;
        // The table is monotonic, so the first level at or past the cap is the top level;
        // the bound keeps a table that never reaches the cap from looping for ever.
        let limit = self.profile.sweep_steps.max(1);
        while level < limit && self.profile.level_interval_us(level) > min_interval {
            level += 1;
        }
        self.min_interval_us = min_interval;
        self.max_level = level;
    }

    /// This needle's top speed, as microseconds per step.
    pub const fn min_interval_us(&self) -> u32 {
        self.min_interval_us
    }

    /// The profile this planner drives.
    pub const fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Forgets any motion and declares the needle at rest at `position` (clamped to full
    /// scale), with the target there too. Homing ends with `reset(0)`.
    pub fn reset(&mut self, position: u16) {
        self.position = position.min(self.profile.full_scale());
        self.target = self.position;
        self.level = 0;
    }

    /// Sets where the needle should go, clamped to `0..=full_scale`. Takes effect from
    /// the next step; the speed never jumps.
    pub fn set_target(&mut self, position: u16) {
        self.target = position.min(self.profile.full_scale());
        self.settle();
    }

    /// Where the needle is heading.
    pub const fn target(&self) -> u16 {
        self.target
    }

    /// Where the needle is, in steps from position 0.
    pub const fn position(&self) -> u16 {
        self.position
    }

    /// True when the needle is at rest on its target.
    pub const fn is_idle(&self) -> bool {
        self.level == 0 && self.position == self.target
    }

    /// The speed level of the last step (0 at rest).
    pub const fn level(&self) -> u16 {
        self.level
    }

    /// How many more steps the needle needs to come to rest from its current speed.
    pub const fn stopping_distance(&self) -> u16 {
        self.level.saturating_sub(1)
    }

    /// The needle's current speed in millidegrees per second (0 at rest).
    pub fn speed_mdps(&self) -> u32 {
        if self.level == 0 {
            return 0;
        }
        let interval = self.interval_us(self.level);
        1_000_000_000 / (u32::from(self.profile.steps_per_degree).max(1) * interval).max(1)
    }

    /// When the next step is due, in microseconds, or `None` when at rest on target.
    /// A time already past means "now".
    pub fn next_deadline(&self) -> Option<u64> {
        let (_, level) = self.plan()?;
        Some(match self.last_step_us {
            Some(last) => last + u64::from(self.interval_us(level)),
            None => 0,
        })
    }

    /// Takes the next step if it is due at `now_us`: updates the position and returns
    /// which way to pulse. At most one step per call; `None` when nothing is due.
    pub fn next_step(&mut self, now_us: u64) -> Option<Step> {
        let (direction, level) = self.plan()?;
        let due = self
            .last_step_us
            .map_or(0, |last| last + u64::from(self.interval_us(level)));
        if now_us < due {
            return None;
        }
        Some(self.take(direction, level, now_us))
    }

    /// The step due at `now_us`, for a caller that already knows it is due (its cached
    /// [`Planner::next_deadline`] has passed), with the deadline of the step after it:
    /// what a fixed-rate step interrupt calls. It plans once for this step and once for
    /// the next, where [`Planner::next_step`] and then [`Planner::next_deadline`] would
    /// also work out this step's deadline again. `None` at rest on target.
    pub fn step_due(&mut self, now_us: u64) -> Option<(Step, Option<u64>)> {
        let (direction, level) = self.plan()?;
        let step = self.take(direction, level, now_us);
        Some((step, self.next_deadline()))
    }

    /// Moves one step in `direction` at `level`, taken at `now_us`.
    fn take(&mut self, direction: Direction, level: u16, now_us: u64) -> Step {
        self.direction = direction;
        self.level = level;
        self.position = match direction {
            Direction::Up => self.position + 1,
            Direction::Down => self.position - 1,
        };
        self.last_step_us = Some(now_us);
        self.settle();
        Step { direction }
    }

    /// At the start speed, on the target: that is rest.
    fn settle(&mut self) {
        if self.level == 1 && self.position == self.target {
            self.level = 0;
        }
    }

    /// The step interval of `level`, with this needle's speed cap.
    fn interval_us(&self, level: u16) -> u32 {
        self.profile
            .level_interval_us(level)
            .max(self.min_interval_us)
    }

    /// The direction and level of the next step, or `None` for rest.
    fn plan(&self) -> Option<(Direction, u16)> {
        let ahead = i32::from(self.target) - i32::from(self.position);
        if self.level == 0 {
            return match ahead {
                0 => None,
                a if a > 0 => Some((Direction::Up, 1)),
                _ => Some((Direction::Down, 1)),
            };
        }
        // Steps still to go in the direction of travel (negative: the target is behind).
        let remaining = ahead * self.direction.sign();
        let level = i32::from(self.level);
        if level == 1 && remaining <= 0 {
            // At the start speed the motor can stop or reverse on the spot.
            return (remaining < 0).then_some((self.direction.reverse(), 1));
        }
        // A step at level n leaves n - 1 steps of braking, which must fit in the
        // remaining - 1 steps after it: n <= remaining. Never change by more than one level
        // per step, so when the target came too close, brake anyway (physics wins).
        let wanted = (level + 1).min(i32::from(self.max_level)).min(remaining);
        let next = wanted.max(level - 1).max(1);
        Some((self.direction, next as u16))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quad_top_speed_is_139_us_per_microstep() {
        assert_eq!(QUAD_MICROSTEP.interval_at_dps(600), 139);
        let planner = Planner::new(QUAD_MICROSTEP);
        assert_eq!(planner.min_interval_us(), 139);
    }

    #[test]
    fn the_table_starts_below_the_start_stop_speed_and_rises() {
        for profile in [QUAD_MICROSTEP, DIRECT_DRIVE] {
            assert!(profile.level_speed_mdps(1) < u32::from(START_STOP_DPS) * 1000);
            let mut last = 0;
            for level in 1..2000 {
                let v = profile.level_speed_mdps(level);
                assert!(v >= last, "{} level {level}: {v} < {last}", profile.name);
                last = v;
            }
        }
    }

    #[test]
    fn the_six_state_sequence_walks_both_ways() {
        let mut s = SixState::new();
        let up: [u8; 6] = core::array::from_fn(|_| s.advance(Direction::Up));
        assert_eq!(up, [0x1, 0x7, 0x6, 0xE, 0x8, 0x9]);
        assert_eq!(s.advance(Direction::Down), 0x8);
        assert_eq!(s.advance(Direction::Down), 0xE);
    }
}
