//! `redline watch`: the five values in the terminal once a second, from the same live
//! state the daemon serves, without HTTP. On a terminal the line is redrawn in place;
//! piped, one line a second is printed.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::Result;
use clap::parser::ValueSource;
use redline_core::{Lamp, LampState, Lamps};
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

/// One line: the designed cluster's values (FUEL, TACH, TEMP, BOOST), then today's
/// dollars and the model, then the lamps.
pub fn render(u: &Usage, color: bool) -> String {
    let pct = |v: Option<f64>| v.map_or("--".to_owned(), |v| format!("{:.0}%", v * 100.0));
    let time = u.updated_at.get(11..19).unwrap_or("");
    let fuel = match (u.fuel.remaining, u.fuel.basis) {
        (Some(r), Some("rate_limits")) => format!("{:.0}% left (plan)", r * 100.0),
        (Some(r), _) => format!("{:.0}% left", r * 100.0),
        (None, _) => match u.window_5h_tokens {
            Some(t) => format!("-- ({} in window, no budget yet)", short(t)),
            None => "--".into(),
        },
    };
    let temp = match (u.thinking_ratio, u.thinking.basis) {
        (Some(r), Some(basis)) => format!("{r:.2} ({basis})"),
        (Some(r), None) => format!("{r:.2}"),
        (None, _) => "--".into(),
    };
    format!(
        "{time}  FUEL {fuel}  TACH {}/min  TEMP {temp}  BOOST {}  COST ${:.2}  MODEL {}  {}",
        thousands(u.tach.tokens_per_min.round() as u64),
        pct(u.cache_hit_rate),
        u.cost.today_usd,
        u.last_model.unwrap_or("--"),
        lamps(&u.lamps, color),
    )
}

/// Lamps, each labelled: the name when on, `*NAME*` when blinking, `~NAME~` when pulsing,
/// `name` in lower case when off (in colour on a terminal: each lamp in its own colour,
/// blinking ones blink).
fn lamps(l: &Lamps, color: bool) -> String {
    Lamp::ALL
        .iter()
        .map(|&lamp| {
            let name = lamp.name().to_uppercase();
            let c = lamp.color();
            match (l.get(lamp), color) {
                (LampState::Off, _) => lamp.name().to_owned(),
                (LampState::On, false) => name,
                (LampState::Blink, false) => format!("*{name}*"),
                (LampState::Pulse, false) => format!("~{name}~"),
                (state, true) => {
                    let blink = if state == LampState::Blink { "5;" } else { "" };
                    format!("\x1b[{blink}1;38;2;{};{};{}m{name}\x1b[0m", c.r, c.g, c.b)
                }
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
