//! The lamp table of SPEC.md, one story per rule: each file under `tests/lamp_rules/` sets
//! values, sends hooks and transcript lines to sessions and lets virtual time pass, with
//! the expected lamps along the way, run against `redline_core::turn` and
//! `redline_core::lamps` as the daemon wires them. A failure names `file:line` and prints
//! the trace.
//!
//! Commands (one a line, `#` starts a comment):
//! - `wait 30s` / `wait 500ms`: time passes.
//! - `set tpm N|none`, `set used SHARE|none` (of the 5-hour window), `set limit on|off`
//!   (a usage limit whose reset is ahead), `set cache RATE PROMPT_TOKENS|none`,
//!   `set failing on|off` (a source), `set api_error on|off` (within the error window).
//! - `set stall_after 30s`, `set stale_after 1h`: the limits.
//! - `model FAMILY`: a main-chain response from that family, now (telemetry too).
//! - `telemetry`: something arrived (a statusLine object, an OpenTelemetry point).
//! - `hook SESSION prompt|pre|post|stop|end`: a Claude Code hook, now.
//! - `line SESSION prompt|result|tool|reply|end`: a main-chain transcript line, now.
//! - `expect LAMP off|on|blink|pulse`, `expect color RRGGBB|none`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use redline_core::ModelFamily;
use redline_core::lamps::{Annunciators, LampInputs, Thresholds, lamps};
use redline_core::turn::{HookMark, LineMark, SessionTurn, summarize};
use redline_core::wire::Lamp;

#[path = "support/scn_files.rs"]
#[macro_use]
mod scn_files;

scn_files!(
    "lamp_rules",
    run,
    every_story_is_listed: model_colour_until_stale,
    hot_redline_and_full_scale,
    warn_plan_window,
    warn_usage_limit,
    warn_cold_cache,
    stall_failing_source_and_api_errors,
    stall_waiting_by_hooks,
    stall_waiting_by_transcript,
    idle_quiet_without_a_turn,
);

/// The world as the daemon would see it.
struct World {
    now: i64,
    inputs: LampInputs,
    thresholds: Thresholds,
    sessions: BTreeMap<String, SessionTurn>,
    log: String,
}

impl World {
    fn new() -> World {
        // Some distance from the epoch, so that "never" and "long ago" differ.
        let now = 1_800_000_000_000;
        World {
            now,
            inputs: LampInputs {
                now_ms: now,
                tach_redline: 20_000.0,
                ..LampInputs::default()
            },
            thresholds: Thresholds::default(),
            sessions: BTreeMap::new(),
            log: String::new(),
        }
    }

    fn telemetry(&mut self) {
        self.inputs.telemetry_ms = Some(self.now);
    }

    fn lamps(&self) -> Annunciators {
        let mut inputs = self.inputs;
        inputs.now_ms = self.now;
        inputs.turn = summarize(
            self.sessions.values(),
            self.now,
            self.thresholds.stale_after_ms,
        );
        lamps(&inputs, &self.thresholds)
    }

    fn command(&mut self, line: &str) -> Result<(), String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let on = |w: &str| match w {
            "on" => Ok(true),
            "off" => Ok(false),
            other => Err(format!("on or off, not {other}")),
        };
        match words.as_slice() {
            ["wait", d] => self.now += duration_ms(d)?,
            ["set", "tpm", "none"] => self.inputs.tokens_per_min = None,
            ["set", "tpm", n] => self.inputs.tokens_per_min = Some(number(n)?),
            ["set", "used", "none"] => self.inputs.window_5h_pct = None,
            ["set", "used", n] => self.inputs.window_5h_pct = Some(number(n)?),
            ["set", "limit", v] => self.inputs.limit_pending = on(v)?,
            ["set", "cache", "none"] => self.inputs.cache_hit_rate = None,
            ["set", "cache", rate, prompt] => {
                self.inputs.cache_hit_rate = Some(number(rate)?);
                self.inputs.cache_prompt_tokens = number(prompt)? as u64;
            }
            ["set", "failing", v] => self.inputs.source_failing = on(v)?,
            ["set", "api_error", v] => self.inputs.recent_api_error = on(v)?,
            ["set", "stall_after", d] => self.thresholds.stall_after_ms = duration_ms(d)?,
            ["set", "stale_after", d] => self.thresholds.stale_after_ms = duration_ms(d)?,
            ["model", family] => {
                let f = ModelFamily::from_name(family).ok_or(format!("no family {family}"))?;
                self.inputs.model = Some((f, self.now));
                self.telemetry();
            }
            ["telemetry"] => self.telemetry(),
            ["hook", session, what] => {
                let mark = match *what {
                    "prompt" => HookMark::Prompt,
                    "pre" => HookMark::PreTool,
                    "post" => HookMark::PostTool,
                    "stop" => HookMark::Stop,
                    "end" => HookMark::SessionEnd,
                    other => return Err(format!("no hook {other}")),
                };
                let now = self.now;
                self.sessions
                    .entry((*session).into())
                    .or_default()
                    .hook(mark, now);
                self.telemetry();
            }
            ["line", session, what] => {
                let mark = match *what {
                    "prompt" => LineMark::Prompt,
                    "result" => LineMark::ToolResult,
                    "tool" => LineMark::ToolUse,
                    "reply" => LineMark::Reply,
                    "end" => LineMark::TurnEnd,
                    other => return Err(format!("no line kind {other}")),
                };
                let now = self.now;
                self.sessions
                    .entry((*session).into())
                    .or_default()
                    .line(mark, now);
                self.telemetry();
            }
            ["expect", "color", hex] => {
                let got = self
                    .lamps()
                    .color
                    .map_or("none".to_owned(), |c| c.to_string()[1..].to_owned());
                if got != *hex {
                    return Err(format!("expected colour {hex}, found {got}"));
                }
            }
            ["expect", lamp, state] => {
                let l = Lamp::from_name(lamp).ok_or(format!("no lamp {lamp}"))?;
                let got = self.lamps().lamps.get(l).as_str();
                if got != *state {
                    return Err(format!("expected {lamp} {state}, found {got}"));
                }
            }
            _ => return Err(format!("unknown command `{line}`")),
        }
        Ok(())
    }
}

fn run(name: &str) {
    let path = format!("{}/tests/lamp_rules/{name}.scn", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut w = World::new();
    let start = w.now;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split_once('#').map_or(raw, |(l, _)| l).trim();
        if line.is_empty() {
            continue;
        }
        let _ = writeln!(w.log, "{:>9.1} s  {line}", (w.now - start) as f64 / 1000.0);
        if let Err(e) = w.command(line) {
            let l = w.lamps().lamps;
            panic!(
                "{name}.scn:{}: {e}\n--- trace ---\n{}lamps now: {:?}",
                n + 1,
                w.log,
                l
            );
        }
    }
}

fn number(s: &str) -> Result<f64, String> {
    s.parse().map_err(|_| format!("`{s}` is not a number"))
}

fn duration_ms(s: &str) -> Result<i64, String> {
    let (v, scale) = if let Some(v) = s.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1e3)
    } else if let Some(v) = s.strip_suffix('m') {
        (v, 60e3)
    } else if let Some(v) = s.strip_suffix('h') {
        (v, 3600e3)
    } else {
        return Err(format!("`{s}`: want a duration like 500ms, 30s, 2m or 5h"));
    };
    Ok((number(v)? * scale).round() as i64)
}
