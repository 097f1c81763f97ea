//! The firmware's poll logic: parsing `/usage/gauge` bodies and turning the answers (or
//! their absence) into needle targets and lamp states.
//!
//! The firmware fetches the body, hands it to [`Cluster::answer`] with the time, and on
//! every pass of its control loop calls [`Cluster::tick`] for the needle targets and the
//! lamps. The cluster applies calibration, smoothing and the failure rule: with no valid
//! answer for [`PollConfig::stale_after_us`] (5 s) the needles ease to zero at a gentle
//! pace and STALL blinks (the other lamps go dark: their information is stale, and IDLE
//! must not claim all is quiet); the next valid answer restores everything by itself.
//! Parsing uses `serde-json-core`, so it needs no heap.

use crate::calibration::Calibration;
use crate::follow::Follower;
use crate::motion::Profile;
use crate::wire::{GaugeReport, LampState, Lamps, Rgb, USAGE_VERSION};

/// The four needles by where they are mounted, left to right. Which dial each one shows is
/// the daemon's configuration (`needles`), not the firmware's: `/usage/gauge` sends the
/// positions in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Needle {
    /// The leftmost needle (FUEL as designed).
    N1,
    /// The second (TACH as designed).
    N2,
    /// The third (TEMP as designed).
    N3,
    /// The rightmost (BOOST as designed).
    N4,
}

impl Needle {
    /// All four, left to right (the order of every `[_; 4]` in this module).
    pub const ALL: [Needle; 4] = [Needle::N1, Needle::N2, Needle::N3, Needle::N4];

    /// The position in [`Needle::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Its name in logs and scenario files (`n1` to `n4`).
    pub const fn name(self) -> &'static str {
        match self {
            Needle::N1 => "n1",
            Needle::N2 => "n2",
            Needle::N3 => "n3",
            Needle::N4 => "n4",
        }
    }

    /// The needle with this name.
    pub fn from_name(name: &str) -> Option<Needle> {
        Needle::ALL.into_iter().find(|n| n.name() == name)
    }
}

/// Why a `/usage/gauge` body was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not JSON of the expected shape (truncated, a wrong type, a missing `version`).
    Json,
    /// A version this firmware does not speak.
    Version(u32),
}

impl core::fmt::Display for ParseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ParseError::Json => f.write_str("not a /usage/gauge body"),
            ParseError::Version(v) => write!(f, "/usage version {v}, expected {USAGE_VERSION}"),
        }
    }
}

/// Parses a `/usage/gauge` body. Unknown keys are skipped (fields are added within a
/// version), `null` needles stay `None`, a version other than [`USAGE_VERSION`] is
/// refused.
pub fn parse_gauge(body: &[u8]) -> Result<GaugeReport, ParseError> {
    // The version first: a daemon of another version is named as such, whatever its
    // shape.
    #[derive(serde::Deserialize)]
    struct Versioned {
        version: u32,
    }
    let (v, _) = serde_json_core::from_slice::<Versioned>(body).map_err(|_| ParseError::Json)?;
    if v.version != USAGE_VERSION {
        return Err(ParseError::Version(v.version));
    }
    let (report, _) =
        serde_json_core::from_slice::<GaugeReport>(body).map_err(|_| ParseError::Json)?;
    Ok(report)
}

/// The four needle fractions, left to right: unknown (`null`) and NaN at 0 (the needle
/// rests at its zero stop), everything clamped to 0..=1.
pub fn fractions(needles: &[Option<f32>; 4]) -> [f32; 4] {
    needles.map(|g| match g {
        Some(v) if v > 0.0 => v.min(1.0),
        _ => 0.0,
    })
}

/// Timing of the poll loop and its smoothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollConfig {
    /// How often the firmware polls, in microseconds: each new value is walked to over
    /// this long.
    pub interval_us: u64,
    /// No valid answer for this long and the failure rule applies (5 s).
    pub stale_after_us: u64,
    /// Goal changes of this many steps or fewer are ignored.
    pub deadband_steps: u16,
    /// How fast the needles ease to zero under the failure rule, in steps per second.
    pub ease_steps_per_s: u32,
}

impl PollConfig {
    /// A 1 s poll, the 5 s failure rule, a deadband of one degree and a 60 deg/s return
    /// to zero, in this profile's steps.
    pub const fn for_profile(profile: &Profile) -> PollConfig {
        PollConfig {
            interval_us: 1_000_000,
            stale_after_us: 5_000_000,
            deadband_steps: profile.steps_per_degree,
            ease_steps_per_s: 60 * profile.steps_per_degree as u32,
        }
    }
}

/// What the panel should show now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outputs {
    /// Planner targets in steps, in panel order.
    pub targets: [u16; 4],
    /// The lamps as the firmware shows them (STALL blinking under the failure rule).
    pub lamps: Lamps,
    /// MODEL's colour.
    pub color: Option<Rgb>,
}

/// The poll state of the whole panel: last answer, smoothing and the failure rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cluster {
    config: PollConfig,
    calibrations: [Calibration; 4],
    followers: [Follower; 4],
    lamps: Lamps,
    color: Option<Rgb>,
    last_valid_us: u64,
    failed: bool,
    refused: u32,
}

impl Cluster {
    /// A panel with needles at zero and lamps dark, started at `now_us`; the failure rule
    /// counts from here until the first valid answer.
    pub fn new(config: PollConfig, calibrations: [Calibration; 4], now_us: u64) -> Cluster {
        let followers = calibrations.map(|cal| {
            let points = cal.points();
            let full_scale = points[points.len() - 1].steps;
            Follower::new(0, config.deadband_steps, full_scale)
        });
        Cluster {
            config,
            calibrations,
            followers,
            lamps: Lamps::default(),
            color: None,
            last_valid_us: now_us,
            failed: false,
            refused: 0,
        }
    }

    /// A body arrived at `now_us`. A valid one moves the needle goals and lamps (and ends
    /// a failure); an invalid one is counted and otherwise changes nothing, so the failure
    /// rule decides when it matters.
    pub fn answer(&mut self, body: &[u8], now_us: u64) -> Result<(), ParseError> {
        match parse_gauge(body) {
            Ok(report) => {
                self.apply(&report, now_us);
                Ok(())
            }
            Err(e) => {
                self.refused = self.refused.saturating_add(1);
                Err(e)
            }
        }
    }

    /// Applies an already parsed report received at `now_us`.
    pub fn apply(&mut self, report: &GaugeReport, now_us: u64) {
        let fractions = fractions(&report.needles);
        for (i, follower) in self.followers.iter_mut().enumerate() {
            let goal = self.calibrations[i].steps(fractions[i]);
            if self.failed {
                // Coming back from a failure, walk to the value whatever the deadband.
                follower.walk_to(goal, now_us, self.config.interval_us);
            } else {
                follower.update(goal, now_us, self.config.interval_us);
            }
        }
        self.lamps = Lamps::from_order(report.lamps);
        self.color = report.color;
        self.last_valid_us = now_us;
        self.failed = false;
    }

    /// The control loop's call: applies the failure rule at `now_us` and says where the
    /// needles should be and how the lamps stand.
    pub fn tick(&mut self, now_us: u64) -> Outputs {
        let stale = now_us.saturating_sub(self.last_valid_us) >= self.config.stale_after_us;
        if stale && !self.failed {
            self.failed = true;
            for follower in &mut self.followers {
                follower.ease_to(0, now_us, self.config.ease_steps_per_s);
            }
        }
        Outputs {
            targets: self.followers.map(|f| f.target(now_us)),
            lamps: self.lamps(),
            color: self.color,
        }
    }

    /// The lamps as shown: the last answer's, or under the failure rule only STALL,
    /// blinking (the other lamps' information is stale).
    pub fn lamps(&self) -> Lamps {
        if self.failed {
            Lamps {
                stall: LampState::Blink,
                ..Lamps::default()
            }
        } else {
            self.lamps
        }
    }

    /// MODEL's colour from the last answer.
    pub const fn color(&self) -> Option<Rgb> {
        self.color
    }

    /// True while the failure rule holds.
    pub const fn is_failed(&self) -> bool {
        self.failed
    }

    /// How many bodies were refused since start-up.
    pub const fn refused(&self) -> u32 {
        self.refused
    }

    /// The goal (steps) a needle is walking to.
    pub fn goal(&self, needle: Needle) -> u16 {
        self.followers[needle.index()].goal()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gauge_body_parses_with_unknown_keys_and_nulls() {
        let body = br##"{"version":2,"extra":{"a":[1,2,{"b":null}]},
            "needles":[0.62,null,0.22,0.93],"later":"field",
            "lamps":["on","off","blink","off","pulse"],"color":"#e0301e"}"##;
        let report = parse_gauge(body).unwrap();
        assert_eq!(report.needles[1], None);
        assert_eq!(report.lamps[2], LampState::Blink);
        assert_eq!(report.lamps[4], LampState::Pulse);
        assert_eq!(report.color, Some(Rgb::new(0xe0, 0x30, 0x1e)));
        assert_eq!(fractions(&report.needles), [0.62, 0.0, 0.22, 0.93]);
        let dark = br#"{"version":2,"needles":[0,0,0,0],"lamps":["off","off","off","off","off"],"color":null}"#;
        assert_eq!(parse_gauge(dark).unwrap().color, None);
    }

    #[test]
    fn bad_bodies_are_refused() {
        assert_eq!(parse_gauge(b"{\"version\":2,"), Err(ParseError::Json));
        assert_eq!(parse_gauge(b"<html>"), Err(ParseError::Json));
        let v1 = br#"{"version":1,"gauges":{"tach":0,"fuel":0,"cost":0,"temp":0},
            "lamps":{"model":"on","redline":"off","fuel":"off","hot":"off","check":"off"}}"#;
        assert_eq!(parse_gauge(v1), Err(ParseError::Version(1)));
        let v3 = br#"{"version":3,"needles":[0,0,0,0],"lamps":["on","off","off","off","off"],"color":null}"#;
        assert_eq!(parse_gauge(v3), Err(ParseError::Version(3)));
        let short = br#"{"version":2,"needles":[0,0,0],"lamps":["on","off","off","off","off"],"color":null}"#;
        assert_eq!(parse_gauge(short), Err(ParseError::Json));
        let colour = br#"{"version":2,"needles":[0,0,0,0],"lamps":["on","off","off","off","off"],"color":"red"}"#;
        assert_eq!(parse_gauge(colour), Err(ParseError::Json));
    }
}
