//! Scenario tests: each file under `tests/scenarios/` is a story in virtual time (polls,
//! targets, waits) with expectations along the way, run against the real planner,
//! homing, smoothing, poll and lamp logic wired up as the firmware wires them. Each file
//! is its own `#[test]`; a failure names `file:line` and prints the whole trace. The
//! format is described in `docs/motion.md`.

use std::fmt::Write as _;

use redline_core::calibration::{CalPoint, Calibration, CalibrationError};
use redline_core::homing::Homing;
use redline_core::led;
use redline_core::motion::{DIRECT_DRIVE, Direction, Planner, Profile, QUAD_MICROSTEP};
use redline_core::poll::{Cluster, Needle, Outputs, ParseError, PollConfig};
use redline_core::wire::Lamps;
use redline_core::{Lamp, LampState, Rgb};

#[path = "support/scn_files.rs"]
#[macro_use]
mod scn_files;

scn_files!(
    "scenarios",
    run_file,
    every_scenario_file_is_listed: blink_timing,
    calibration,
    failure_and_recovery,
    full_sweep_direct,
    full_sweep_quad,
    homing_direct,
    homing_quad,
    noisy_feed,
    parsing,
    retarget_same_direction,
    reversal_mid_move,
    slow_needle,
);

/// The control loop's period: how often the firmware asks the cluster for targets.
const TICK_US: u64 = 1000;
/// How long `wait idle` may take before the scenario fails.
const IDLE_LIMIT_US: u64 = 120_000_000;

fn run_file(name: &str) {
    let path = format!("{}/tests/scenarios/{name}.scn", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut sim = Sim::new(QUAD_MICROSTEP);
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split_once(" #").map_or(raw, |(l, _)| l).trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        sim.trace(format_args!("{line}"));
        if let Err(message) = sim.command(line) {
            panic!(
                "{name}.scn:{}: {message}\n--- trace ---\n{}{}",
                n + 1,
                sim.log,
                sim.recent_steps()
            );
        }
    }
}

/// Running figures of one needle since the last `mark`.
#[derive(Clone, Copy, Debug, Default)]
struct Stats {
    max_dps: f64,
    max_jump_dps: f64,
    reversals: u32,
    direction_changes: u32,
    reversal_dps: f64,
    peak: Option<u16>,
    trough: Option<u16>,
    last_step_us: Option<u64>,
    steps: u64,
}

/// One needle as the firmware drives it, plus a motor with stops to step.
struct NeedleSim {
    planner: Planner,
    homing: Option<(Homing, u64)>,
    homing_ms: Option<u64>,
    /// Follows the cluster's targets (false after a `target` command).
    attached: bool,
    /// Steps from the zero stop, held within the stops like the real motor.
    physical: i32,
    last: Option<(u64, Direction)>,
    /// The previous interval if it was a moving step in the same direction.
    prev_dps: Option<f64>,
    stats: Stats,
    /// Where a `target` command found the needle, how far it needed to brake and which
    /// way it was going.
    retarget: Option<(u16, u16, Direction)>,
    recent: Vec<String>,
}

struct Sim {
    profile: Profile,
    calibrations: [Calibration; 4],
    cluster: Cluster,
    needles: Vec<NeedleSim>,
    now: u64,
    mark_us: u64,
    last_tick: u64,
    outputs: Outputs,
    dim: u8,
    last_poll: Option<Result<(), ParseError>>,
    last_calibration: Result<(), CalibrationError>,
    log: String,
}

impl Sim {
    fn new(profile: Profile) -> Sim {
        let calibrations = [Calibration::linear(profile.full_scale()); 4];
        let planner = Planner::new(profile);
        let needles = Needle::ALL
            .iter()
            .map(|_| NeedleSim {
                planner,
                homing: None,
                homing_ms: None,
                attached: true,
                physical: i32::from(profile.zero_offset),
                last: None,
                prev_dps: None,
                stats: Stats::default(),
                retarget: None,
                recent: Vec::new(),
            })
            .collect();
        Sim {
            profile,
            calibrations,
            cluster: Cluster::new(PollConfig::for_profile(&profile), calibrations, 0),
            needles,
            now: 0,
            mark_us: 0,
            last_tick: 0,
            outputs: Outputs {
                targets: [0; 4],
                lamps: Lamps::default(),
                color: None,
            },
            dim: 100,
            last_poll: None,
            last_calibration: Ok(()),
            log: String::new(),
        }
    }

    fn trace(&mut self, what: std::fmt::Arguments) {
        let _ = writeln!(self.log, "{:>12.3} ms  {what}", self.now as f64 / 1000.0);
    }

    fn trace_state(&mut self) {
        let mut line = String::from("              ");
        for (needle, n) in Needle::ALL.iter().zip(&self.needles) {
            let p = &n.planner;
            let _ = write!(
                line,
                "{} pos {} tgt {} {:.0} dps | ",
                needle.name(),
                p.position(),
                p.target(),
                p.speed_mdps() as f64 / 1000.0
            );
        }
        let l = self.outputs.lamps;
        let _ = write!(
            line,
            "lamps {} {} {} {} {}{}",
            l.model.as_str(),
            l.hot.as_str(),
            l.warn.as_str(),
            l.stall.as_str(),
            l.idle.as_str(),
            if self.cluster.is_failed() {
                " FAILED"
            } else {
                ""
            }
        );
        self.log.push_str(&line);
        self.log.push('\n');
    }

    fn recent_steps(&self) -> String {
        let mut out = String::new();
        for (needle, n) in Needle::ALL.iter().zip(&self.needles) {
            if !n.recent.is_empty() {
                let _ = writeln!(out, "--- last steps of {} ---", needle.name());
                for s in &n.recent {
                    let _ = writeln!(out, "{s}");
                }
            }
        }
        out
    }

    fn command(&mut self, line: &str) -> Result<(), String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["profile", name] => {
                let profile = match *name {
                    "quad" => QUAD_MICROSTEP,
                    "direct" => DIRECT_DRIVE,
                    other => return Err(format!("unknown profile {other}")),
                };
                if self.now != 0 {
                    return Err("profile must come first".into());
                }
                *self = Sim {
                    log: std::mem::take(&mut self.log),
                    ..Sim::new(profile)
                };
            }
            ["max_speed", needle, dps] => {
                let i = needle_index(needle)?;
                self.needles[i].planner.set_max_speed(number(dps)? as u16);
            }
            ["calibrate", needle, points @ ..] => {
                let i = needle_index(needle)?;
                let mut parsed = Vec::new();
                for p in points {
                    let (f, s) = p
                        .split_once(':')
                        .ok_or(format!("{p}: want fraction:steps"))?;
                    parsed.push(CalPoint {
                        fraction: number(f)? as f32,
                        steps: number(s)? as u16,
                    });
                }
                self.last_calibration =
                    Calibration::new(&parsed, self.profile.full_scale()).map(|cal| {
                        self.calibrations[i] = cal;
                    });
                let config = PollConfig::for_profile(&self.profile);
                self.cluster = Cluster::new(config, self.calibrations, self.now);
            }
            ["dim", percent] => self.dim = number(percent)? as u8,
            ["home", needle, "from", physical] => {
                let i = needle_index(needle)?;
                let n = &mut self.needles[i];
                n.physical = number(physical)? as i32;
                n.homing = Some((Homing::new(self.profile), self.now));
            }
            ["target", needle, "step", steps] => {
                let i = needle_index(needle)?;
                self.retarget(i, number(steps)? as u16);
            }
            ["target", needle, fraction] => {
                let i = needle_index(needle)?;
                let steps = self.calibrations[i].steps(number(fraction)? as f32);
                self.retarget(i, steps);
            }
            ["poll", ..] => {
                let body = line["poll".len()..].trim();
                self.last_poll = Some(self.cluster.answer(body.as_bytes(), self.now));
                let result = format!("{:?}", self.last_poll.unwrap());
                self.trace(format_args!("  -> {result}"));
            }
            ["poll_fail"] => {} // A fetch that failed: nothing reaches the cluster.
            ["wait", "idle"] => {
                let limit = self.now + IDLE_LIMIT_US;
                while !self.idle() {
                    if self.now >= limit {
                        self.trace_state();
                        return Err("still moving after 120 s".into());
                    }
                    self.advance(self.now + TICK_US);
                }
                self.trace_state();
            }
            ["wait", duration] => {
                let until = self.now + duration_us(duration)?;
                self.advance(until);
                self.trace_state();
            }
            ["mark"] => {
                self.mark_us = self.now;
                for n in &mut self.needles {
                    n.stats = Stats::default();
                    n.retarget = None;
                }
            }
            ["expect", rest @ ..] => self.expect(rest)?,
            _ => return Err(format!("unknown command `{line}`")),
        }
        Ok(())
    }

    fn retarget(&mut self, i: usize, steps: u16) {
        let n = &mut self.needles[i];
        n.attached = false;
        let heading = n.last.map_or(Direction::Up, |(_, d)| d);
        n.retarget = Some((n.planner.position(), n.planner.stopping_distance(), heading));
        n.planner.set_target(steps);
    }

    /// No needle homing or moving, and no attached needle's target still walking.
    fn idle(&self) -> bool {
        self.needles.iter().enumerate().all(|(i, n)| {
            let walking =
                n.attached && self.outputs.targets[i] != self.cluster.goal(Needle::ALL[i]);
            n.homing.is_none() && n.planner.is_idle() && !walking
        })
    }

    /// Runs virtual time to `until`: every step at its deadline, the control tick every
    /// millisecond.
    fn advance(&mut self, until: u64) {
        loop {
            let next_tick = self.last_tick + TICK_US;
            let mut t = until.min(next_tick);
            for n in &self.needles {
                if let Some(d) = n.deadline() {
                    t = t.min(d.max(self.now));
                }
            }
            self.now = t;
            for n in &mut self.needles {
                n.step_if_due(self.now, &self.profile);
            }
            if self.now >= next_tick {
                self.last_tick = self.now;
                self.outputs = self.cluster.tick(self.now);
                for (n, target) in self.needles.iter_mut().zip(self.outputs.targets) {
                    if n.attached && n.homing.is_none() {
                        n.planner.set_target(target);
                    }
                }
            }
            if self.now >= until {
                return;
            }
        }
    }

    /// The colour the lamp's LED shows now, as the firmware would shift it out.
    fn led(&self, name: &str) -> Result<Rgb, String> {
        let lamp = Lamp::from_name(name).ok_or_else(|| format!("unknown lamp {name}"))?;
        let frame = led::frame(
            &self.cluster.lamps(),
            self.cluster.color(),
            self.now,
            self.dim,
        );
        Ok(frame[lamp as usize])
    }

    fn expect(&self, words: &[&str]) -> Result<(), String> {
        let (metric, rest) = words.split_first().ok_or("expect what?")?;
        match (*metric, rest) {
            ("lamp", [lamp, state]) => {
                let actual = lamp_state(&self.cluster.lamps(), lamp)?.as_str();
                return check_word(actual, state);
            }
            ("led", [lamp, state]) => {
                let lit = self.led(lamp)? != Rgb::BLACK;
                return check_word(if lit { "lit" } else { "dark" }, state);
            }
            ("color", [lamp, hex]) => {
                // Written without its `#`, which starts a comment here.
                let actual = self.led(lamp)?.to_string();
                return check_word(&actual[1..], hex);
            }
            ("poll", [state]) => {
                let actual = match self.last_poll {
                    None => "none",
                    Some(Ok(())) => "ok",
                    Some(Err(ParseError::Json)) => "json",
                    Some(Err(ParseError::Version(_))) => "version",
                };
                return check_word(actual, state);
            }
            ("calibration", [state]) => {
                let actual = match self.last_calibration {
                    Ok(()) => "ok",
                    Err(CalibrationError::PointCount(_)) => "point_count",
                    Err(CalibrationError::Ends) => "ends",
                    Err(CalibrationError::FractionOrder(_)) => "fraction_order",
                    Err(CalibrationError::StepOrder(_)) => "step_order",
                    Err(CalibrationError::BeyondFullScale(_)) => "beyond_full_scale",
                };
                return check_word(actual, state);
            }
            ("failed", [state]) => {
                let actual = if self.cluster.is_failed() {
                    "yes"
                } else {
                    "no"
                };
                return check_word(actual, state);
            }
            _ => {}
        }
        // Numeric: `expect METRIC [SUBJECT] CHECK...`.
        let (subject, check) = match rest.split_first() {
            Some((s, check)) if s.chars().next().is_some_and(char::is_alphabetic) => {
                (Some(*s), check)
            }
            _ => (None, rest),
        };
        let actual = self.metric(metric, subject)?;
        check_number(actual, check)
    }

    fn metric(&self, metric: &str, subject: Option<&str>) -> Result<f64, String> {
        if metric == "brightness" {
            let lamp = subject.ok_or("brightness of which lamp?")?;
            let state = lamp_state(&self.cluster.lamps(), lamp)?;
            return Ok(f64::from(led::brightness(state, self.now, self.dim)));
        }
        if metric == "elapsed_ms" {
            return Ok((self.now - self.mark_us) as f64 / 1000.0);
        }
        if metric == "refused" {
            return Ok(f64::from(self.cluster.refused()));
        }
        let needles: Vec<(usize, &NeedleSim)> = match subject {
            Some(name) => {
                let i = needle_index(name)?;
                vec![(i, &self.needles[i])]
            }
            None => self.needles.iter().enumerate().collect(),
        };
        let values = needles.iter().map(|(i, n)| -> Result<f64, String> {
            let s = &n.stats;
            Ok(match metric {
                "position" => f64::from(n.planner.position()),
                "target" => f64::from(n.planner.target()),
                "goal" => f64::from(self.cluster.goal(Needle::ALL[*i])),
                "physical" => f64::from(n.physical),
                "max_speed_dps" => s.max_dps,
                "max_jump_dps" => s.max_jump_dps,
                "reversals" => f64::from(s.reversals),
                "direction_changes" => f64::from(s.direction_changes),
                "reversal_dps" => s.reversal_dps,
                "peak" => f64::from(s.peak.unwrap_or(n.planner.position())),
                "trough" => f64::from(s.trough.unwrap_or(n.planner.position())),
                "steps" => s.steps as f64,
                "moving_ms" => s
                    .last_step_us
                    .map_or(0.0, |t| (t - self.mark_us) as f64 / 1000.0),
                "homing_ms" => n.homing_ms.ok_or("the needle has not homed")? as f64,
                "overrun" => {
                    // How far on the needle went from where the last `target` found it.
                    let (at, _, heading) = n.retarget.ok_or("no target since the mark")?;
                    f64::from(match heading {
                        Direction::Up => s.peak.unwrap_or(at).max(at) - at,
                        Direction::Down => at - s.trough.unwrap_or(at).min(at),
                    })
                }
                "braking" => f64::from(n.retarget.ok_or("no target since the mark")?.1),
                other => return Err(format!("unknown metric {other}")),
            })
        });
        let values: Vec<f64> = values.collect::<Result<_, _>>()?;
        Ok(match metric {
            "reversals" | "direction_changes" | "steps" => values.iter().sum(),
            "trough" => values.iter().copied().fold(f64::INFINITY, f64::min),
            _ => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        })
    }
}

impl NeedleSim {
    fn deadline(&self) -> Option<u64> {
        match &self.homing {
            Some((h, _)) => h.next_deadline(),
            None => self.planner.next_deadline(),
        }
    }

    fn step_if_due(&mut self, now: u64, profile: &Profile) {
        let step = match &mut self.homing {
            Some((h, started)) => {
                let step = h.next_step(now);
                if h.is_done() {
                    self.homing_ms = Some((now - *started) / 1000);
                    self.homing = None;
                    self.planner.reset(0);
                    self.attached = true;
                }
                step
            }
            None => self.planner.next_step(now),
        };
        let Some(step) = step else { return };
        let spd = f64::from(profile.steps_per_degree);
        // A step counts as moving when it comes at least at two thirds of the start speed.
        let moving_gap = u64::from(profile.level_interval_us(1)) * 3 / 2;
        self.physical =
            (self.physical + step.direction.sign()).clamp(0, i32::from(profile.sweep_steps));
        let s = &mut self.stats;
        let mut dps = 0.0;
        if let Some((t, dir)) = self.last {
            let interval = now - t;
            dps = 1e6 / (interval as f64 * spd);
            s.max_dps = s.max_dps.max(dps);
            if dir == step.direction {
                if let Some(prev) = self.prev_dps
                    && interval <= moving_gap
                {
                    s.max_jump_dps = s.max_jump_dps.max((dps - prev).abs());
                }
                self.prev_dps = (interval <= moving_gap).then_some(dps);
            } else if interval <= moving_gap {
                s.direction_changes += 1;
                // Turned round while moving (after a rest it is just a start).
                s.reversals += 1;
                let before = self.prev_dps.unwrap_or(0.0);
                s.reversal_dps = s.reversal_dps.max(dps).max(before);
                self.prev_dps = None;
            } else {
                s.direction_changes += 1;
                self.prev_dps = None;
            }
        }
        self.last = Some((now, step.direction));
        let position = self.planner.position();
        s.steps += 1;
        s.last_step_us = Some(now);
        s.peak = Some(s.peak.map_or(position, |p| p.max(position)));
        s.trough = Some(s.trough.map_or(position, |p| p.min(position)));
        if self.recent.len() == 24 {
            self.recent.remove(0);
        }
        self.recent.push(format!(
            "{:>12.3} ms  {:?} pos {position} physical {} level {} {dps:.1} dps",
            now as f64 / 1000.0,
            step.direction,
            self.physical,
            self.planner.level(),
        ));
    }
}

fn needle_index(name: &str) -> Result<usize, String> {
    Needle::from_name(name)
        .map(Needle::index)
        .ok_or_else(|| format!("unknown needle {name}"))
}

fn lamp_state(lamps: &Lamps, name: &str) -> Result<LampState, String> {
    Lamp::from_name(name)
        .map(|l| lamps.get(l))
        .ok_or_else(|| format!("unknown lamp {name}"))
}

fn number(text: &str) -> Result<f64, String> {
    text.parse()
        .map_err(|_| format!("`{text}` is not a number"))
}

fn duration_us(text: &str) -> Result<u64, String> {
    let (value, scale) = if let Some(v) = text.strip_suffix("ms") {
        (v, 1000.0)
    } else if let Some(v) = text.strip_suffix("us") {
        (v, 1.0)
    } else if let Some(v) = text.strip_suffix('s') {
        (v, 1e6)
    } else {
        return Err(format!("`{text}`: want a duration like 300ms, 2s or 150us"));
    };
    Ok((number(value)? * scale).round() as u64)
}

fn check_word(actual: &str, expected: &str) -> Result<(), String> {
    if actual == expected {
        Ok(())
    } else {
        Err(format!("expected {expected}, found {actual}"))
    }
}

fn check_number(actual: f64, check: &[&str]) -> Result<(), String> {
    let ok = match check {
        ["<=", v] => actual <= number(v)?,
        [">=", v] => actual >= number(v)?,
        ["<", v] => actual < number(v)?,
        [">", v] => actual > number(v)?,
        ["==", v] | [v] if !v.contains('±') => actual == number(v)?,
        [v] => {
            let (centre, tolerance) = v.split_once('±').unwrap();
            (actual - number(centre)?).abs() <= number(tolerance)?
        }
        _ => return Err(format!("cannot read the check `{}`", check.join(" "))),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("expected {}, found {actual}", check.join(" ")))
    }
}
