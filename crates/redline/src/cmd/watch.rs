//! `redline watch`: the designed cluster's values on one line, from the same live state
//! the daemon serves, without HTTP: FUEL, TACH, TEMP (with how the thinking was counted),
//! BOOST, today's dollars, the model, and the five lamps, each labelled. On a terminal the
//! line is redrawn in place four times a second, so the lamps blink and IDLE breathes as
//! the LEDs do; piped (or `--once`), one plain line a second.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::parser::ValueSource;
use redline_core::led::frame;
use redline_core::{Lamp, Lamps, Rgb};
use redline_engine::roots::RootEnv;
use redline_engine::usage::Usage;

use crate::cli::WatchArgs;
use crate::cmd::cluster::lens;
use crate::cmd::serve::hub_config;
use crate::config;
use crate::hub;
use crate::table::thousands;

/// How often a terminal's line is redrawn: often enough for a 1 Hz blink to show.
const TTY_EVERY: Duration = Duration::from_millis(250);
/// How often a plain line is printed: the hub publishes at least once a second.
const PLAIN_EVERY: Duration = Duration::from_secs(1);

/// Prints the values until interrupted (or once, with `--once`).
pub fn run(
    args: &WatchArgs,
    source: &dyn Fn(&str) -> Option<ValueSource>,
    env: &RootEnv,
) -> Result<()> {
    let cfg = config::resolve(&args.daemon, source, env)?;
    let snapshots = hub::start(hub_config(&cfg, env, false)?)?.snapshots;
    let tty = std::io::stdout().is_terminal() && !args.once;
    let started = Instant::now();
    let mut out = std::io::stdout().lock();
    loop {
        let now_us = started.elapsed().as_micros() as u64;
        let line = render(&snapshots.borrow().usage, tty.then_some(now_us));
        if tty {
            write!(out, "\r\x1b[2K{line}")?;
        } else {
            writeln!(out, "{line}")?;
        }
        out.flush()?;
        if args.once {
            return Ok(());
        }
        std::thread::sleep(if tty { TTY_EVERY } else { PLAIN_EVERY });
    }
}

/// One line: the designed cluster's values (FUEL, TACH, TEMP, BOOST), then today's
/// dollars and the model, then the lamps in panel order. `tty_us` (a clock for blinking)
/// draws the lamps as lit lenses; without it they are words.
pub fn render(u: &Usage, tty_us: Option<u64>) -> String {
    let pct = |v: Option<f64>| v.map_or("--".to_owned(), |v| format!("{:.0}%", v * 100.0));
    let time = u.updated_at.get(11..19).unwrap_or("");
    let fuel = match (u.fuel.remaining, u.fuel.basis) {
        // Left, as the needle shows it, and from what: the plan's own figure or the estimate
        // (as `redline statusline` says it).
        (Some(r), Some("rate_limits")) => format!("{:.0}% plan", r * 100.0),
        (Some(r), _) => format!("{:.0}% est.", r * 100.0),
        (None, _) => match u.window_5h_tokens {
            Some(t) => format!("-- ({} in window, no budget yet)", short(t)),
            None => "--".into(),
        },
    };
    let temp = match (u.thinking_ratio, u.thinking.basis) {
        (Some(r), Some(basis)) => format!("{:.0}% ({basis})", r * 100.0),
        (Some(r), None) => format!("{:.0}%", r * 100.0),
        (None, Some("unknown")) => "-- (unknown)".into(),
        (None, _) => "--".into(),
    };
    format!(
        "{time}  FUEL {fuel}  TACH {}/min  TEMP {temp}  BOOST {}  COST ${:.2}  MODEL {}  │ {}",
        thousands(u.tach.tokens_per_min.round() as u64),
        pct(u.cache_hit_rate),
        u.cost.today_usd,
        u.last_model.unwrap_or("--"),
        lamps(&u.lamps, u.model.color, tty_us),
    )
}

/// The five lamps in panel order, each labelled: `MODEL=on HOT=off WARN=blink STALL=off
/// IDLE=pulse`, or on a terminal lenses lit as the LEDs are at `tty_us`.
fn lamps(l: &Lamps, model_color: Option<Rgb>, tty_us: Option<u64>) -> String {
    let leds = tty_us.map(|now| frame(l, model_color, now, 100));
    Lamp::ALL
        .iter()
        .map(|&lamp| {
            let name = lamp.name().to_ascii_uppercase();
            match leds {
                Some(leds) => lens(&name, leds[lamp as usize]),
                None => format!("{name}={}", l.get(lamp).as_str()),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `1.2M`, `340k`, `999`.
fn short(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.0}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}
