//! `redline statusline`: Claude Code's statusLine command. Claude Code pipes a JSON object
//! to it on each assistant message; this forwards it to the daemon (`POST /statusline`,
//! whose plan limits then drive FUEL) and prints one status line from the answer, the
//! designed cluster in words: `Opus 4.6 │ FUEL 62% plan │ TACH 8,123/min │ think 22% │
//! cache 93% │ $12.34 today`, and the warning lamps that are lit (`HOT`, `WARN`, `STALL`;
//! with `!` when blinking).
//!
//! It must never get in Claude Code's way: a daemon that is down, slow or misconfigured
//! costs at most one second all told and still gives a line (from the JSON alone), and
//! the exit status is always 0. `--then CMD` runs another statusLine command on the same
//! input and appends its output, so users of other status lines keep theirs.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Result;
use clap::parser::ValueSource;
use redline_core::Lamp;
use redline_engine::feed::StatusFeed;
use redline_engine::roots::RootEnv;
use serde_json::Value;

use crate::cli::StatuslineArgs;
use crate::client;
use crate::config;
use crate::table::thousands;

/// The most stdin that is read: Claude Code's objects are a few kilobytes.
const MAX_INPUT: u64 = 1024 * 1024;
/// How long the daemon may take, all told (connecting, sending and its answer).
const TIMEOUT: Duration = Duration::from_secs(1);

/// Reads stdin, forwards it, prints the line. Always succeeds.
pub fn run(
    args: &StatuslineArgs,
    source: &dyn Fn(&str) -> Option<ValueSource>,
    env: &RootEnv,
) -> Result<()> {
    let mut input = Vec::new();
    let _ = std::io::stdin().take(MAX_INPUT).read_to_end(&mut input);
    let feed = StatusFeed::parse(&input).unwrap_or_default();
    let usage = forward(args, source, env, &input);
    let mut line = render(&feed, usage.as_ref());
    if let Some(cmd) = &args.then {
        let theirs = run_other(cmd, &input);
        let mut lines = theirs.lines();
        if let Some(first) = lines.next().filter(|l| !l.trim().is_empty()) {
            line.push_str("  ");
            line.push_str(first);
        }
        for more in lines {
            line.push('\n');
            line.push_str(more);
        }
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    Ok(())
}

/// Posts the object to the daemon; its `/usage` answer, or `None` when there is none
/// within [`TIMEOUT`]. The request runs on a thread of its own so that the limit holds
/// for the whole exchange, not for each step of it; a late thread is left behind (the
/// process ends right after the line is printed).
fn forward(
    args: &StatuslineArgs,
    source: &dyn Fn(&str) -> Option<ValueSource>,
    env: &RootEnv,
    input: &[u8],
) -> Option<Value> {
    let cfg = config::resolve(&args.daemon, source, env).ok()?;
    let addr = cfg.local_addr().to_string();
    // A daemon bound beyond loopback wants its token for POSTs.
    let bearer = cfg.known_token().map(|t| format!("Bearer {t}"));
    let body = input.to_vec();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(b) = &bearer {
            headers.push(("Authorization", b.as_str()));
        }
        let answer = client::request(&addr, "POST", "/statusline", &headers, &body, TIMEOUT);
        let _ = tx.send(answer);
    });
    let (status, body) = rx.recv_timeout(TIMEOUT).ok()?.ok()?;
    (status == 200).then(|| serde_json::from_slice(&body).ok())?
}

/// The line: with the daemon's answer, `Opus 4.6 │ FUEL 62% plan │ TACH 8,123/min │ think
/// 22% │ cache 93% │ $12.34 today` and the lit warning lamps; without it, what the
/// statusLine object says itself (the plan, the session's dollars, the context) and
/// `redline: no daemon`. A value that is not known is left out.
pub fn render(feed: &StatusFeed, usage: Option<&Value>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let model = feed
        .model_name
        .clone()
        .or_else(|| feed.model_id.clone())
        .or_else(|| {
            usage
                .and_then(|u| u["model"]["id"].as_str())
                .map(str::to_owned)
        });
    parts.extend(model);
    let pct = |v: f64| format!("{:.0}%", v * 100.0);
    match usage {
        Some(u) => {
            if let Some(r) = u["fuel"]["remaining"].as_f64() {
                let basis = match u["fuel"]["basis"].as_str() {
                    Some("rate_limits") => "plan",
                    _ => "est.",
                };
                parts.push(format!("FUEL {} {basis}", pct(r)));
            }
            if let Some(tpm) = u["tach"]["tokens_per_min"].as_f64() {
                parts.push(format!("TACH {}/min", thousands(tpm.round() as u64)));
            }
            if let Some(t) = u["thinking"]["ratio"].as_f64() {
                parts.push(format!("think {}", pct(t)));
            }
            if let Some(c) = u["cache"]["hit_rate"].as_f64() {
                parts.push(format!("cache {}", pct(c)));
            }
            if let Some(c) = u["cost"]["today_usd"].as_f64() {
                parts.push(format!("${c:.2} today"));
            }
            let lit: Vec<String> = [Lamp::Hot, Lamp::Warn, Lamp::Stall]
                .iter()
                .filter_map(|l| {
                    let name = l.name().to_ascii_uppercase();
                    match u["lamps"][l.name()].as_str()? {
                        "on" => Some(name),
                        "blink" => Some(format!("{name}!")),
                        _ => None,
                    }
                })
                .collect();
            if !lit.is_empty() {
                parts.push(lit.join(" "));
            }
        }
        None => {
            if let Some(w) = feed.five_hour {
                parts.push(format!("FUEL {} plan", pct(1.0 - w.used)));
            }
            if let Some(c) = feed.session_cost_usd {
                parts.push(format!("${c:.2} session"));
            }
            if let Some(t) = feed.context_used {
                parts.push(format!("ctx {}", pct(t)));
            }
            parts.push("redline: no daemon".into());
        }
    }
    parts.join(" │ ")
}

/// Another statusLine command, fed the same input; its output, or nothing if it fails.
fn run_other(cmd: &str, input: &[u8]) -> String {
    let child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return String::new();
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input);
    }
    child
        .wait_with_output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim_end().to_owned())
        .unwrap_or_default()
}
