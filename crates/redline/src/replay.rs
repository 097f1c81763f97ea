//! `redline serve --demo`: a scripted Claude Code session played in real time, so someone
//! without Claude Code sees every needle and lamp move within a minute.
//!
//! The script writes transcript lines, stamped now, into a directory of its own (the daemon
//! follows it like any other root, so the whole reading path is what moves the needles),
//! and sends the statusLine figures and hooks Claude Code would send through the hub's
//! input queue. One loop lasts a minute (less with `--demo-speed`) and then starts over
//! with a fresh session:
//!
//! | seconds | what happens | what moves |
//! |---|---|---|
//! | 0-12 | Sonnet answers, a prompt every few seconds | TACH rises, TEMP fills, COST counts |
//! | 12-30 | Opus takes over, with large cache writes | MODEL on, REDLINE on then blinking, HOT on then blinking |
//! | 30-42 | the plan's 5-hour limit runs down | FUEL falls: on at 15 %, blinking at 5 % |
//! | 42-46 | the API answers with an error | CHECK on |
//! | 46-60 | the session ends, quiet | TACH decays, TEMP empties |

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use redline_engine::feed::{HookEvent, HookKind, LimitWindow, StatusFeed};
use serde_json::json;

use crate::hub::{Input, now_ms};

/// One loop of the script, at speed 1.
const LOOP: Duration = Duration::from_secs(60);

/// Makes the demo's Claude directory (a `projects/` inside `dir`) and returns the
/// projects directory to follow.
pub fn prepare(dir: &Path) -> Result<PathBuf> {
    let projects = dir.join("projects").join("-home-demo-redline");
    fs::create_dir_all(&projects)
        .with_context(|| format!("cannot create {}", projects.display()))?;
    Ok(dir.join("projects"))
}

/// Plays the script forever on a thread of its own, `speed` times faster than real time.
pub fn start(projects: PathBuf, inputs: mpsc::Sender<Input>, speed: f64) -> Result<()> {
    let speed = speed.clamp(0.1, 100.0);
    std::thread::Builder::new()
        .name("redline-demo".into())
        .spawn(move || {
            let mut round = 0u32;
            loop {
                round += 1;
                if play(&projects, &inputs, speed, round).is_err() {
                    return;
                }
            }
        })?;
    Ok(())
}

/// One step of the script: at `at` seconds into the loop, do `what`.
enum Step {
    Respond {
        model: &'static str,
        input: u64,
        output: u64,
        cache_write: u64,
        context: u64,
    },
    Prompt,
    Stop,
    PlanUsed(f64),
    ApiError,
    SessionEnd,
}

fn script() -> Vec<(f64, Step)> {
    use Step::*;
    let mut s = vec![(0.0, Prompt)];
    // Sonnet: moderate pace, the context filling.
    for i in 0..6 {
        s.push((
            1.0 + 2.0 * i as f64,
            Respond {
                model: "claude-sonnet-4-5",
                input: 800,
                output: 400,
                cache_write: 600,
                context: 40_000 + 15_000 * i,
            },
        ));
    }
    // Opus with large cache writes: past the redline, then past full scale; HOT, then HOT blinking.
    for i in 0..9 {
        s.push((
            12.0 + 2.0 * i as f64,
            Respond {
                model: "claude-opus-4-6",
                input: 1_000,
                output: 1_500,
                cache_write: 1_000 + 900 * i,
                context: 130_000 + 7_800 * i,
            },
        ));
    }
    s.push((29.0, Stop));
    // The plan's 5-hour window runs down.
    for (i, used) in [0.55, 0.7, 0.8, 0.86, 0.9, 0.93, 0.96, 0.98]
        .iter()
        .enumerate()
    {
        s.push((30.0 + 1.5 * i as f64, PlanUsed(*used)));
    }
    s.push((42.0, ApiError));
    s.push((46.0, SessionEnd));
    s
}

fn play(projects: &Path, inputs: &mpsc::Sender<Input>, speed: f64, round: u32) -> Result<(), ()> {
    let started = Instant::now();
    let session = format!("00000000-demo-4000-8000-{round:012}");
    let file = projects
        .join("-home-demo-redline")
        .join(format!("{session}.jsonl"));
    let loop_end_s = (now_ms() / 1000) + (LOOP.as_secs_f64() / speed) as i64;
    let mut n = 0;
    for (at, step) in script() {
        let due = Duration::from_secs_f64(at / speed);
        std::thread::sleep(due.saturating_sub(started.elapsed()));
        n += 1;
        let hook = |kind| {
            Input::Hook(HookEvent {
                kind,
                session_id: Some(session.clone()),
                error: None,
            })
        };
        match step {
            Step::Respond {
                model,
                input,
                output,
                cache_write,
                context,
            } => {
                let line = response_line(
                    &session,
                    round,
                    n,
                    model,
                    input,
                    output,
                    cache_write,
                    context,
                );
                append(&file, &line).map_err(|_| ())?;
                inputs
                    .send(Input::Status(
                        StatusFeed {
                            session_id: Some(session.clone()),
                            ..StatusFeed::default()
                        },
                        None,
                    ))
                    .map_err(|_| ())?;
            }
            Step::Prompt => inputs
                .send(hook(HookKind::UserPromptSubmit))
                .map_err(|_| ())?,
            Step::Stop => inputs.send(hook(HookKind::Stop)).map_err(|_| ())?,
            Step::SessionEnd => inputs.send(hook(HookKind::SessionEnd)).map_err(|_| ())?,
            Step::PlanUsed(used) => {
                let feed = StatusFeed {
                    session_id: Some(session.clone()),
                    five_hour: Some(LimitWindow {
                        used,
                        resets_at_s: loop_end_s,
                    }),
                    ..StatusFeed::default()
                };
                inputs.send(Input::Status(feed, None)).map_err(|_| ())?;
            }
            Step::ApiError => append(&file, &error_line(&session)).map_err(|_| ())?,
        }
    }
    std::thread::sleep((LOOP.div_f64(speed)).saturating_sub(started.elapsed()));
    Ok(())
}

fn stamp() -> String {
    jiff::Timestamp::from_millisecond(now_ms())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

#[allow(clippy::too_many_arguments)]
fn response_line(
    session: &str,
    round: u32,
    n: u32,
    model: &str,
    input: u64,
    output: u64,
    cache_write: u64,
    context: u64,
) -> String {
    let cache_read = context.saturating_sub(input + cache_write);
    json!({
        "parentUuid": null, "isSidechain": false, "userType": "external", "cwd": "/home/demo/redline",
        "sessionId": session, "version": "2.1.90", "gitBranch": "main", "type": "assistant",
        "requestId": format!("req_demo_{round}_{n}"), "uuid": format!("demo-{round}-{n}"),
        "timestamp": stamp(),
        "message": {
            "id": format!("msg_demo_{round}_{n}"), "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": "Done: the needles move."}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": input, "output_tokens": output,
                      "cache_creation_input_tokens": cache_write, "cache_read_input_tokens": cache_read,
                      "cache_creation": {"ephemeral_5m_input_tokens": cache_write, "ephemeral_1h_input_tokens": 0},
                      "service_tier": "standard"}
        }
    })
    .to_string()
}

fn error_line(session: &str) -> String {
    json!({
        "parentUuid": null, "isSidechain": false, "userType": "external", "cwd": "/home/demo/redline",
        "sessionId": session, "version": "2.1.90", "type": "assistant", "isApiErrorMessage": true,
        "timestamp": stamp(), "uuid": format!("demo-error-{}", now_ms()),
        "message": {"id": format!("msg_demo_error_{}", now_ms()), "type": "message", "role": "assistant",
                    "model": "<synthetic>",
                    "content": [{"type": "text", "text": "API Error: 529 overloaded (demo)"}],
                    "usage": {"input_tokens": 0, "output_tokens": 0,
                              "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}
    })
    .to_string()
}

fn append(file: &Path, line: &str) -> std::io::Result<()> {
    let mut f = OpenOptions::new().create(true).append(true).open(file)?;
    f.write_all(format!("{line}\n").as_bytes())
}
