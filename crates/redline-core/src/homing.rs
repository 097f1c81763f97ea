//! Homing at power-up: the step sequence that finds a needle's zero stop without knowing
//! where the needle is, and leaves it at the planner's position 0.
//!
//! The motor cannot report its position, so homing drives backwards further than the
//! whole sweep and lets the internal stop absorb the excess. Following the motor maker's
//! procedure it first moves a short way forward slowly (freeing a needle resting on the
//! stop, so the backward run starts from a known state), then runs backwards over the
//! full sweep plus that forward move plus a margin, accelerating through the same table
//! as the planner but never past [`START_STOP_DPS`]: a motor pushed into its stop at or
//! below the start-stop speed just stalls, where a faster one strains and bounces. After a
//! pause for the needle to settle it steps [`Profile::zero_offset`] forward, so zero is a
//! few steps off the stop and a needle at rest never presses on it. Then the caller
//! starts its [`crate::motion::Planner`] at position 0.

use crate::motion::{Direction, Profile, START_STOP_DPS, Step};

/// How homing moves; [`HomingOptions::DEFAULT`] follows the motor maker's advice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HomingOptions {
    /// The slow forward move before the backward run, in degrees (0 skips it).
    pub forward_deg: u16,
    /// How far past the full sweep (and the forward move) the backward run goes, in
    /// degrees, so a needle that slipped beyond the far stop still reaches zero.
    pub margin_deg: u16,
    /// Top speed of the backward run in degrees per second; clamped to
    /// [`START_STOP_DPS`].
    pub speed_dps: u16,
    /// Pause after the backward run, in microseconds, for the needle to come to rest
    /// against the stop before stepping off it.
    pub settle_us: u32,
}

impl HomingOptions {
    /// 10 degrees forward, 10 degrees of margin, 180 deg/s backwards, 100 ms to settle.
    pub const DEFAULT: HomingOptions = HomingOptions {
        forward_deg: 10,
        margin_deg: 10,
        speed_dps: 180,
        settle_us: 100_000,
    };
}

impl Default for HomingOptions {
    fn default() -> Self {
        HomingOptions::DEFAULT
    }
}

/// Which part of the sequence comes next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Forward,
    Backward,
    Offset,
    Done,
}

/// The homing sequence of one needle, as a state machine driven like the planner:
/// [`Homing::next_deadline`] says when, [`Homing::next_step`] steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Homing {
    profile: Profile,
    options: HomingOptions,
    phase: Phase,
    /// Steps left in the current phase.
    left: u32,
    /// Speed level of the backward run (see the planner's levels).
    level: u16,
    min_interval_us: u32,
    last_step_us: Option<u64>,
    /// Set by the first step of a phase that starts after the settle pause.
    pause_before_next: bool,
}

impl Homing {
    /// Homing with [`HomingOptions::DEFAULT`].
    pub fn new(profile: Profile) -> Homing {
        Homing::with_options(profile, HomingOptions::DEFAULT)
    }

    /// Homing with the given options.
    pub fn with_options(profile: Profile, options: HomingOptions) -> Homing {
        let speed = options.speed_dps.clamp(1, START_STOP_DPS);
        let mut homing = Homing {
            profile,
            options,
            phase: Phase::Forward,
            left: u32::from(options.forward_deg) * u32::from(profile.steps_per_degree),
            level: 0,
            min_interval_us: profile.interval_at_dps(speed),
            last_step_us: None,
            pause_before_next: false,
        };
        homing.skip_empty_phases();
        homing
    }

    /// Steps of the backward run: the sweep, the forward move and the margin.
    pub fn backward_steps(&self) -> u32 {
        let spd = u32::from(self.profile.steps_per_degree);
        u32::from(self.profile.sweep_steps)
            + u32::from(self.options.forward_deg) * spd
            + u32::from(self.options.margin_deg) * spd
    }

    /// True once the needle sits at position 0.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// When the next step is due in microseconds (a time already past means now), or
    /// `None` once done.
    pub fn next_deadline(&self) -> Option<u64> {
        let (_, interval) = self.plan()?;
        Some(match self.last_step_us {
            Some(last) => last + u64::from(interval),
            None => 0,
        })
    }

    /// Takes the next homing step if it is due at `now_us`.
    pub fn next_step(&mut self, now_us: u64) -> Option<Step> {
        let deadline = self.next_deadline()?;
        if now_us < deadline {
            return None;
        }
        let (direction, _) = self.plan()?;
        if self.phase == Phase::Backward {
            self.level = self.level.saturating_add(1);
        }
        self.pause_before_next = false;
        self.last_step_us = Some(now_us);
        self.left -= 1;
        self.skip_empty_phases();
        Some(Step { direction })
    }

    /// Moves past phases with nothing left to do.
    fn skip_empty_phases(&mut self) {
        while self.left == 0 {
            match self.phase {
                Phase::Forward => {
                    self.phase = Phase::Backward;
                    self.left = self.backward_steps();
                    self.level = 0;
                }
                Phase::Backward => {
                    self.phase = Phase::Offset;
                    self.left = u32::from(self.profile.zero_offset);
                    self.pause_before_next = true;
                }
                Phase::Offset => {
                    self.phase = Phase::Done;
                    return;
                }
                Phase::Done => return,
            }
        }
    }

    /// The direction of the next step and the interval before it.
    fn plan(&self) -> Option<(Direction, u32)> {
        let start = self.profile.level_interval_us(1).max(self.min_interval_us);
        match self.phase {
            Phase::Done => None,
            // The slow moves run at the table's start speed, below the start-stop speed.
            Phase::Forward => Some((Direction::Up, start)),
            Phase::Offset => {
                let wait = if self.pause_before_next {
                    self.options.settle_us.max(start)
                } else {
                    start
                };
                Some((Direction::Up, wait))
            }
            Phase::Backward => {
                let level = self.level.saturating_add(1);
                let interval = self
                    .profile
                    .level_interval_us(level)
                    .max(self.min_interval_us);
                Some((Direction::Down, interval))
            }
        }
    }
}
