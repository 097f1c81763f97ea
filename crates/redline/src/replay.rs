//! `redline serve --demo`: a scripted Claude Code session played in real time, so someone
//! without Claude Code sees every needle move and every lamp light within a minute.
//!
//! The script writes transcript lines, stamped now, into a directory of its own (the daemon
//! follows it like any other root, so the whole reading path is what moves the needles),
//! and sends the statusLine objects and hooks Claude Code would send through the hub's
//! input queue. One loop lasts a minute (less with `--demo-speed`) and then starts over
//! with a new session. [`settings`] scales the daemon's time limits to the minute (stall
//! 3 s, active 5 s, stale 40 s; the tach, ratio and API-error windows 10 s; all divided by
//! the speed), and the token counts are divided by the speed too, so the needles read the
//! same at any speed; faster than real time, the script also has the daemon recompute once
//! a script second, as it does once a real second by itself.
//!
//! | seconds | what happens | what moves |
//! |---|---|---|
//! | 0-13.5 | a prompt; Sonnet answers every 2 s, thinking a little, with two short tools | MODEL amber, TACH to about 11k/min, TEMP white (0.3), BOOST 0.99, FUEL from 90 % left down to 70 % |
//! | 13.5-25 | the turn stops; nobody types | TACH falls to zero, IDLE pulses from 18.5 s, TEMP and BOOST hold |
//! | 25-38 | `/model opus`: the new model's cold cache takes the whole context, then it thinks hard | MODEL red; BOOST to zero (red), climbing back to 0.99; TACH past full scale (HOT blinks), then at the redline once the cold write leaves the window (HOT on, from 35.5 s); TEMP into red (0.55 to 0.8); WARN on for the cold cache, on again at 80 % of the plan (31.5 s), blinking at 95 % (34.5 s); FUEL down to 2 % left |
//! | 31-41 | the API answers 529 overloaded | STALL blinks |
//! | 40 | the plan's 5-hour window resets | FUEL back to 98 % left, WARN off |
//! | 40-49 | a prompt, and the model says nothing for 9 s | STALL on from 43 s |
//! | 49-59 | Haiku answers; a 5 s build runs (a running tool is no stall); the turn stops, the session ends | MODEL green, TEMP blue (0.1), BOOST dips to 0.75 and recovers, CONTEXT empties |
//!
//! Each loop leaves the needles where a real day would: FUEL and WEEKLY follow plan
//! windows that reset (a figure never falls before its reset, as Claude Code's does not),
//! TACH, TEMP and BOOST are windows over the last seconds, CONTEXT belongs to the loop's
//! own session, and COST (today's dollars, which only local midnight takes back to zero)
//! plays the demo's day: the day's first loop spends half of [`DAY_USD`] ($12), Opus
//! the most of it, each later loop half what the one before did, so COST climbs to $12,
//! $18, $21, ... and never passes $24 of its $50, however long the demo runs; the next
//! local day (in the configured time zone) starts at $12 again. The dollars are each
//! line's `costUSD` (the field old Claude Code versions wrote, which the daemon takes in
//! the default cost mode `auto`, as in `display`; with `cost_mode = "calculate"` COST
//! prices the tokens instead and keeps climbing), and they do not depend on the speed:
//! COST is a day's total, not a rate.
//!
//! Each loop is a session of its own, with an id shaped as Claude Code's are (a version 4
//! UUID), distinct from loop to loop and the same for the same loop of any run.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use redline_engine::feed::{HookEvent, HookKind, LimitWindow, StatusFeed};
use redline_engine::live::Settings;
use serde_json::json;

use crate::hub::{Input, now_ms};

/// One loop of the script, in script seconds (real seconds at speed 1).
const LOOP_S: f64 = 60.0;
/// When, in the loop, the plan's 5-hour window resets.
const PLAN_RESET_S: f64 = 40.0;
/// The demo's limits, in script seconds: a session waiting this long lights STALL...
const STALL_AFTER_S: f64 = 3.0;
/// ...this much quiet lets IDLE pulse...
const ACTIVE_S: f64 = 5.0;
/// ...this old, a response no longer counts (MODEL, TEMP, BOOST, CONTEXT, the turns)...
const STALE_AFTER_S: f64 = 40.0;
/// ...and the tach, ratio and API-error windows. Ten, so that at the tests' speed of 10
/// each is a whole second, as the daemon counts them.
const WINDOW_S: f64 = 10.0;
/// The demo's day in dollars: what COST comes to after many loops (never reached), half
/// of it spent in the day's first loop.
const DAY_USD: f64 = 24.0;
/// The block budget when none is configured: the plan figures drive FUEL, and this only
/// keeps the estimate (before the first statusLine) near full.
pub const BUDGET_TOKENS: u64 = 1_000_000_000;

/// The speed range `--demo-speed` is held to.
fn clamp_speed(speed: f64) -> f64 {
    if speed.is_finite() {
        speed.clamp(0.1, 100.0)
    } else {
        1.0
    }
}

/// Scales the daemon's time limits to the demo's minute played `speed` times faster (the
/// script's lamps need a stall, a quiet stretch and an API error to come and go within a
/// loop, where the defaults are minutes and hours). Everything else (needles, zones,
/// shares, the redline) stays as configured.
pub fn settings(s: &mut Settings, speed: f64) {
    let speed = clamp_speed(speed);
    let ms = |script_s: f64| ((script_s * 1000.0 / speed).round() as i64).max(1);
    let whole_s = |script_s: f64| ((script_s / speed).round() as u64).max(1);
    s.thresholds.stall_after_ms = ms(STALL_AFTER_S);
    s.thresholds.active_ms = ms(ACTIVE_S);
    s.thresholds.stale_after_ms = ms(STALE_AFTER_S);
    s.api_error_window_s = whole_s(WINDOW_S);
    s.tach_window_s = whole_s(WINDOW_S);
    s.ratio_window_s = whole_s(WINDOW_S);
}

/// Makes the demo's Claude directory (a `projects/` inside `dir`) and returns the
/// projects directory to follow.
pub fn prepare(dir: &Path) -> Result<PathBuf> {
    let projects = dir.join("projects").join("-home-demo-redline");
    fs::create_dir_all(&projects)
        .with_context(|| format!("cannot create {}", projects.display()))?;
    Ok(dir.join("projects"))
}

/// Plays the script forever on a thread of its own, `speed` times faster than real time;
/// `tz` is the daemon's time zone (its "today" for COST, see the module's documentation).
pub fn start(
    projects: PathBuf,
    inputs: mpsc::Sender<Input>,
    speed: f64,
    tz: TimeZone,
) -> Result<()> {
    let speed = clamp_speed(speed);
    std::thread::Builder::new()
        .name("redline-demo".into())
        .spawn(move || {
            let mut player = Player {
                projects,
                inputs,
                speed,
                tz,
                round: 0,
                day: None,
                plan_reset_s: None,
            };
            while player.play().is_ok() {}
        })?;
    Ok(())
}

/// One response of the script, in the token counts of speed 1.
#[derive(Clone, Copy)]
struct Response {
    model: &'static str,
    input: u64,
    output: u64,
    cache_write: u64,
    cache_read: u64,
    /// The share of the response's characters that are thinking (TEMP's estimate).
    thinking: f64,
    /// Its weight in the loop's dollars: a loop spends its dollars (half of [`DAY_USD`] in
    /// the day's first loop, see [`day_share`]) over its responses in these proportions.
    cost_weight: f64,
    /// The plan's 5-hour window used after it, as the statusLine then says.
    plan_used: f64,
}

/// One step of the script.
#[derive(Clone, Copy)]
enum Step {
    /// A hook of the loop's session.
    Hook(HookKind),
    /// A response line, then the statusLine Claude Code sends after it.
    Respond(Response),
    /// A statusLine object alone, with the plan's use.
    Status(f64),
    /// An API error line (529 overloaded).
    ApiError,
}

fn sonnet(i: u64) -> Response {
    Response {
        model: "claude-sonnet-4-5",
        input: 20,
        output: 180 + 10 * i,
        cache_write: 130,
        cache_read: 9_000 + 1_000 * i,
        thinking: 0.3,
        cost_weight: 4.0,
        plan_used: 0.10 + 0.035 * i as f64,
    }
}

fn opus(i: u64) -> Response {
    const PLAN: [f64; 9] = [0.45, 0.55, 0.65, 0.75, 0.82, 0.88, 0.95, 0.97, 0.98];
    let cold = i == 0;
    Response {
        model: "claude-opus-4-6",
        input: 20,
        output: 330 + 5 * i,
        // A new model has no cache: its first request writes the whole context.
        cache_write: if cold { 15_000 } else { 170 },
        cache_read: if cold { 0 } else { 15_000 + 600 * i },
        thinking: 0.55 + 0.03 * i as f64,
        cost_weight: 10.0,
        plan_used: PLAN[i as usize],
    }
}

fn haiku(i: u64) -> Response {
    let first = i == 0;
    Response {
        model: "claude-haiku-4-5",
        input: 20,
        output: 150,
        cache_write: if first { 2_000 } else { 120 },
        cache_read: 6_000 + 1_000 * i,
        thinking: 0.1,
        cost_weight: 0.5,
        plan_used: 0.03 + 0.01 * i as f64,
    }
}

/// The loop, in script seconds (see the table in the module's documentation).
fn script() -> Vec<(f64, Step)> {
    use HookKind::*;
    use Step::*;
    let mut s = vec![
        (0.0, Hook(SessionStart)),
        (0.0, Hook(UserPromptSubmit)),
        (0.0, Status(0.10)),
    ];
    for i in 0..7 {
        s.push((1.0 + 2.0 * i as f64, Respond(sonnet(i))));
    }
    s.extend([
        (4.0, Hook(PreToolUse)),
        (4.6, Hook(PostToolUse)),
        (8.0, Hook(PreToolUse)),
        (8.8, Hook(PostToolUse)),
        (13.5, Hook(Stop)),
        (25.0, Hook(UserPromptSubmit)),
    ]);
    for i in 0..9 {
        s.push((25.5 + 1.5 * i as f64, Respond(opus(i))));
    }
    s.extend([
        (31.0, ApiError),
        (38.0, Hook(Stop)),
        // The window has reset: the new figure comes with the next prompt, which the
        // model then leaves unanswered for longer than the stall limit.
        (PLAN_RESET_S, Hook(UserPromptSubmit)),
        (PLAN_RESET_S, Status(0.02)),
        (49.0, Respond(haiku(0))),
        (50.5, Respond(haiku(1))),
        (51.0, Hook(PreToolUse)),
        (56.0, Hook(PostToolUse)),
        (56.5, Respond(haiku(2))),
        (58.0, Respond(haiku(3))),
        (58.5, Hook(Stop)),
        (59.0, Hook(SessionEnd)),
    ]);
    s.sort_by(|a, b| a.0.total_cmp(&b.0));
    s
}

/// The share of [`DAY_USD`] the `n`th loop of a day spends (1 for the first): a half, a
/// quarter, ..., so a day's loops never add up to the whole.
fn day_share(n: u32) -> f64 {
    0.5f64.powi(n.clamp(1, 1_000) as i32)
}

/// A response's `costUSD` in the `n`th loop of a day, to a millionth of a dollar: from
/// about the 25th loop on, nothing (the day's figure is then within a cent of its whole).
fn response_usd(script: &[(f64, Step)], r: &Response, n: u32) -> f64 {
    (r.cost_weight * usd_per_weight(script, n) * 1e6).round() / 1e6
}

/// Dollars per unit of [`Response::cost_weight`] in the `n`th loop of a day.
fn usd_per_weight(script: &[(f64, Step)], n: u32) -> f64 {
    let weights: f64 = script
        .iter()
        .map(|(_, step)| match step {
            Step::Respond(r) => r.cost_weight,
            _ => 0.0,
        })
        .sum();
    DAY_USD * day_share(n) / weights
}

/// The `round`th loop's session id: a version 4 UUID (as Claude Code's are) from a hash
/// of the round, so distinct from loop to loop, the first eight digits too (what the
/// stats page shows), and the same for the same loop of any run.
fn session_id(round: u32) -> String {
    uuid(u64::from(round))
}

/// A version 4, variant 1 UUID made from `seed` with splitmix64.
fn uuid(seed: u64) -> String {
    let mut state = seed ^ 0x7265_646c_696e_6521; // "redline!"
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let (hi, lo) = (next(), next());
    let hi = (hi & !0xf000) | 0x4000; // version 4
    let lo = (lo & !(0b11 << 62)) | (0b10 << 62); // variant 1
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

/// The script's state from loop to loop.
struct Player {
    projects: PathBuf,
    inputs: mpsc::Sender<Input>,
    speed: f64,
    /// The daemon's time zone: its day is COST's.
    tz: TimeZone,
    round: u32,
    /// The local day of the newest loop, and how many loops it has had.
    day: Option<(Date, u32)>,
    /// When the plan window in force resets, seconds since the epoch.
    plan_reset_s: Option<i64>,
}

impl Player {
    /// Plays one loop; an error when the daemon is gone.
    fn play(&mut self) -> Result<(), ()> {
        self.round += 1;
        let started = Instant::now();
        let start_ms = now_ms();
        let at_s = |script_s: f64| (start_ms as f64 + script_s * 1000.0 / self.speed) / 1000.0;
        // The window in force resets at this loop's reset time; the one after it at the
        // next loop's, so one window runs across the loop's end, as a plan's does across
        // any hour. Reset times are whole seconds (as Claude Code's are), and always later
        // than the one before, so the daemon takes each new window as new.
        let current = (at_s(PLAN_RESET_S).ceil() as i64).max(self.plan_reset_s.unwrap_or(0));
        let next = (at_s(PLAN_RESET_S + LOOP_S).ceil() as i64).max(current + 1);
        self.plan_reset_s = Some(current);
        let session = session_id(self.round);
        let today = self.tz.to_datetime(jiff::Timestamp::now()).date();
        let nth = match self.day {
            Some((day, n)) if day == today => n + 1,
            _ => 1,
        };
        self.day = Some((today, nth));
        let script = script();
        let file = self
            .projects
            .join("-home-demo-redline")
            .join(format!("{session}.jsonl"));
        for (n, &(at, step)) in script.iter().enumerate() {
            self.wait(started, at)?;
            if at >= PLAN_RESET_S {
                self.plan_reset_s = Some(next);
            }
            match step {
                Step::Hook(kind) => self.send(Input::Hook(HookEvent {
                    kind,
                    session_id: Some(session.clone()),
                    error: None,
                }))?,
                Step::Respond(r) => {
                    let usd = response_usd(&script, &r, nth);
                    let line = self.response_line(&session, n, &r, usd);
                    append(&file, &line).map_err(|_| ())?;
                    self.send(self.status(&session, Some(r.model), r.plan_used))?;
                }
                Step::Status(used) => self.send(self.status(&session, None, used))?,
                Step::ApiError => {
                    append(&file, &error_line(&session, self.round, n)).map_err(|_| ())?
                }
            }
        }
        self.wait(started, LOOP_S)
    }

    /// Waits until `script_s` into the loop that began at `started`. The daemon recomputes
    /// its values on each input and otherwise on the whole second, which at speed 10 is
    /// ten script seconds: a stall or an IDLE stretch could pass unseen between two. So,
    /// faster than real time, the wait asks the hub for a recomputation once a script
    /// second, and the values move as often as in a real minute.
    fn wait(&self, started: Instant, script_s: f64) -> Result<(), ()> {
        let due = Duration::from_secs_f64(script_s / self.speed);
        let nudge = (self.speed > 1.0).then(|| Duration::from_secs_f64(1.0 / self.speed));
        loop {
            let left = due.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Ok(());
            }
            match nudge {
                Some(every) if every < left => {
                    std::thread::sleep(every);
                    self.send(Input::Tick)?;
                }
                _ => std::thread::sleep(left),
            }
        }
    }

    fn send(&self, input: Input) -> Result<(), ()> {
        self.inputs.send(input).map_err(|_| ())
    }

    /// The statusLine object Claude Code sends: the model, the context window and the
    /// plan's windows (the weekly one moves with the 5-hour one, and resets with it).
    fn status(&self, session: &str, model: Option<&str>, plan_used: f64) -> Input {
        let resets_at_s = self.plan_reset_s.unwrap_or(0);
        let feed = StatusFeed {
            session_id: Some(session.to_owned()),
            model_id: model.map(str::to_owned),
            context_window_size: Some(200_000),
            five_hour: Some(LimitWindow {
                used: plan_used,
                resets_at_s,
            }),
            seven_day: Some(LimitWindow {
                used: 0.20 + 0.15 * plan_used,
                resets_at_s,
            }),
            ..StatusFeed::default()
        };
        Input::Status(feed, None)
    }

    /// A response line with a thinking block and a text block whose lengths give the
    /// script's thinking share, its tokens divided by the speed (so the tach, which
    /// counts per minute of real time, reads the same at any speed), and `cost_usd` (not
    /// divided by the speed: COST is a day's total, not a rate).
    fn response_line(&self, session: &str, n: usize, r: &Response, cost_usd: f64) -> String {
        let round = self.round;
        let scale = |tokens: u64| (tokens as f64 / self.speed).round() as u64;
        let thinking_chars = (1_000.0 * r.thinking).round() as usize;
        let thinking = words(
            "Let me weigh the needles against the plan before answering. ",
            thinking_chars,
        );
        let text = words(
            "Done: the needles move and the lamps light. ",
            1_000 - thinking_chars,
        );
        json!({
            "parentUuid": null, "isSidechain": false, "userType": "external", "cwd": "/home/demo/redline",
            "sessionId": session, "version": "2.1.90", "gitBranch": "main", "type": "assistant",
            "requestId": format!("req_demo_{round}_{n}"), "uuid": line_uuid(round, n),
            "timestamp": stamp(),
            "costUSD": cost_usd,
            "message": {
                "id": format!("msg_demo_{round}_{n}"), "type": "message", "role": "assistant", "model": r.model,
                "content": [{"type": "thinking", "thinking": thinking}, {"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": scale(r.input), "output_tokens": scale(r.output),
                          "cache_creation_input_tokens": scale(r.cache_write),
                          "cache_read_input_tokens": scale(r.cache_read),
                          "cache_creation": {"ephemeral_5m_input_tokens": scale(r.cache_write), "ephemeral_1h_input_tokens": 0},
                          "service_tier": "standard"}
            }
        })
        .to_string()
    }
}

/// A line's `uuid`, as Claude Code writes one: the `n`th line of the `round`th loop.
fn line_uuid(round: u32, n: usize) -> String {
    uuid((u64::from(round) << 32) | (n as u64 + 1))
}

/// `phrase` repeated to `chars` characters.
fn words(phrase: &str, chars: usize) -> String {
    phrase.chars().cycle().take(chars).collect()
}

fn stamp() -> String {
    jiff::Timestamp::from_millisecond(now_ms())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn error_line(session: &str, round: u32, n: usize) -> String {
    json!({
        "parentUuid": null, "isSidechain": false, "userType": "external", "cwd": "/home/demo/redline",
        "sessionId": session, "version": "2.1.90", "type": "assistant", "isApiErrorMessage": true,
        "timestamp": stamp(), "uuid": line_uuid(round, n),
        "message": {"id": format!("msg_demo_error_{round}_{n}"), "type": "message", "role": "assistant",
                    "model": "<synthetic>",
                    "content": [{"type": "text", "text": "API Error: 529 {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}"}],
                    "usage": {"input_tokens": 0, "output_tokens": 0,
                              "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}
    })
    .to_string()
}

fn append(file: &Path, line: &str) -> std::io::Result<()> {
    let mut f = OpenOptions::new().create(true).append(true).open(file)?;
    f.write_all(format!("{line}\n").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_fits_its_loop_in_order() {
        let s = script();
        assert!(s.windows(2).all(|w| w[0].0 <= w[1].0));
        assert!(s.iter().all(|(at, _)| (0.0..LOOP_S).contains(at)));
        let models: std::collections::BTreeSet<&str> = s
            .iter()
            .filter_map(|(_, step)| match step {
                Step::Respond(r) => Some(r.model),
                _ => None,
            })
            .collect();
        assert_eq!(models.len(), 3, "{models:?}");
    }

    #[test]
    fn limits_scale_with_the_speed() {
        let mut s = Settings::default();
        settings(&mut s, 10.0);
        assert_eq!(s.thresholds.stall_after_ms, 300);
        assert_eq!(s.thresholds.active_ms, 500);
        assert_eq!(s.thresholds.stale_after_ms, 4_000);
        assert_eq!(
            (s.tach_window_s, s.ratio_window_s, s.api_error_window_s),
            (1, 1, 1)
        );
        assert_eq!(s.thresholds.problem(), None);
        settings(&mut s, 1.0);
        assert_eq!((s.tach_window_s, s.thresholds.stall_after_ms), (10, 3_000));
    }

    /// What the `loops` loops of one day add to COST.
    fn day_after(loops: u32) -> f64 {
        let s = script();
        (1..=loops)
            .map(|n| {
                s.iter()
                    .filter_map(|(_, step)| match step {
                        Step::Respond(r) => Some(response_usd(&s, r, n)),
                        _ => None,
                    })
                    .sum::<f64>()
            })
            .sum()
    }

    #[test]
    fn cost_plays_a_day_and_never_passes_it_however_many_loops() {
        // The first loop: half the demo's day, on the dial ($50) but well off zero.
        assert!(
            (day_after(1) - DAY_USD / 2.0).abs() < 1e-9,
            "{}",
            day_after(1)
        );
        assert!((day_after(2) - DAY_USD * 0.75).abs() < 1e-9);
        // A day of loops at any speed (a minute each, or 0.6 s at --demo-speed 100):
        // within the day, not a loop's dollars times the loops.
        for loops in [10, 1_440, 14_400] {
            let usd = day_after(loops);
            assert!(
                usd <= DAY_USD + 1e-4 && usd > DAY_USD * 0.99,
                "{loops} loops: ${usd}"
            );
        }
        // The late loops spend nothing at all: no line carries a vanishing figure.
        assert_eq!(day_after(14_400), day_after(40));
        assert!(DAY_USD < Settings::default().scales.cost_full_scale_usd);
        // Opus spends the most, Haiku the least.
        let (o, s, h) = (
            opus(1).cost_weight,
            sonnet(1).cost_weight,
            haiku(1).cost_weight,
        );
        assert!(o > s && s > h && h > 0.0);
    }

    #[test]
    fn sessions_are_distinct_uuids() {
        let ids: Vec<String> = (1..=10_000).map(session_id).collect();
        for id in &ids {
            let groups: Vec<&str> = id.split('-').collect();
            assert_eq!(
                groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
                [8, 4, 4, 4, 12],
                "{id}"
            );
            assert!(
                id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()) && id.to_lowercase() == *id
            );
            assert!(groups[2].starts_with('4'), "version 4: {id}");
            assert!("89ab".contains(&groups[3][..1]), "variant 1: {id}");
        }
        // Distinct, the first eight digits too (what the stats page shows).
        let heads: std::collections::BTreeSet<&str> = ids.iter().map(|i| &i[..8]).collect();
        assert_eq!(heads.len(), ids.len());
        assert!(!heads.contains("00000000"));
        // The same loop gives the same id; a line's id is another.
        assert_eq!(session_id(3), session_id(3));
        assert_ne!(line_uuid(1, 0), session_id(1));
        assert_ne!(line_uuid(1, 0), line_uuid(1, 1));
    }
}
