//! `redline watch`: the five values in the terminal once a second, from the same live
//! state the daemon serves, without HTTP. On a terminal the line is redrawn in place;
//! piped, one line a second is printed.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::Result;
use clap::parser::ValueSource;
use redline_core::{LampState, Lamps};
use redline_engine::roots::RootEnv;
use redline_engine::usage::Usage;

use crate::cli::WatchArgs;
use crate::cmd::serve::hub_config;
use crate::config;
use crate::hub;
use crate::table::thousands;

/// Prints the values until interrupted (or once, with `--once`).
pub fn run(
    args: &WatchArgs,
    source: &dyn Fn(&str) -> Option<ValueSource>,
    env: &RootEnv,
) -> Result<()> {
    let cfg = config::resolve(&args.daemon, source, env)?;
    let snapshots = hub::start(hub_config(&cfg, env, false)?)?.snapshots;
    let tty = std::io::stdout().is_terminal() && !args.once;
    let mut out = std::io::stdout().lock();
    loop {
        let line = render(&snapshots.borrow().usage, tty);
        if tty {
            write!(out, "\r\x1b[2K{line}")?;
        } else {
            writeln!(out, "{line}")?;
        }
        out.flush()?;
        if args.once {
            return Ok(());
        }
        // The hub publishes at least once a second; print at that pace.
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// One line: each gauge's value and needle position, then the lamps.
pub fn render(u: &Usage, color: bool) -> String {
    let pct = |g: Option<f32>| g.map_or("--".to_owned(), |g| format!("{:.0}%", g * 100.0));
    let time = u.generated_at.get(11..19).unwrap_or("");
    let fuel = match (u.fuel.remaining, u.fuel.block_tokens) {
        (Some(r), Some(b)) => format!("{:.0}% left ({} in block)", r * 100.0, short(b)),
        (Some(r), None) => format!("{:.0}% left", r * 100.0),
        (None, Some(b)) => format!("-- ({} in block, no budget yet)", short(b)),
        (None, None) => "--".into(),
    };
    let temp = match (u.context.used_tokens, u.context.window_tokens) {
        (Some(used), Some(w)) => format!("{} ({}/{})", pct(u.gauges.temp), short(used), short(w)),
        _ => "--".into(),
    };
    format!(
        "{time}  TACH {}/min ({})  FUEL {fuel}  COST ${:.2} ({})  TEMP {temp}  MODEL {}  {}",
        thousands(u.tach.tokens_per_min.round() as u64),
        pct(u.gauges.tach),
        u.cost.today_usd,
        pct(u.gauges.cost),
        u.model.family.unwrap_or("--"),
        lamps(&u.lamps, color),
    )
}

/// Lamps: the name when on, `*NAME*` when blinking, a dot when off (in color on a
/// terminal: amber on, red blinking).
fn lamps(l: &Lamps, color: bool) -> String {
    [
        ("MODEL", l.model),
        ("REDLINE", l.redline),
        ("FUEL", l.fuel),
        ("HOT", l.hot),
        ("CHECK", l.check),
    ]
    .iter()
    .map(|&(name, state)| match (state, color) {
        (LampState::Off, _) => "·".to_owned(),
        (LampState::On, false) => name.to_owned(),
        (LampState::Blink, false) => format!("*{name}*"),
        (LampState::On, true) => format!("\x1b[33m{name}\x1b[0m"),
        (LampState::Blink, true) => format!("\x1b[5;31m{name}\x1b[0m"),
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
