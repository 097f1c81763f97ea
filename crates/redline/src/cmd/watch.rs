//! `redline watch`: the designed cluster's values in the terminal: FUEL, TACH, TEMP (with
//! how the thinking was counted), BOOST, today's dollars, the model, and the five lamps,
//! each named. They are the running daemon's when one answers at the configured address
//! (`--listen`, its variable or the config file: where `serve` listens), read from its
//! `/usage` as `statusline` and `cluster` read it; else (or with `--scan`) from a scan of
//! the transcripts of its own, with this command's settings. A line above the values says
//! which, and why.
//!
//! On a terminal the block is redrawn in place four times a second, so the lamps blink and
//! IDLE breathes as the LEDs do; piped (or `--once`), one plain line a second, with the
//! source's line printed first and again whenever the source changes.
//!
//! The daemon is asked once a second, on a thread of its own (a slow daemon never holds up
//! the drawing). When it stops answering, its last values stay up, marked as such, for
//! five seconds (the firmware's failure rule); then the watch scans for itself and keeps
//! asking, and goes back to the daemon's values when it answers again.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::parser::ValueSource;
use jiff::tz::TimeZone;
use redline_core::led::frame;
use redline_core::{Lamp, Lamps, Rgb};
use redline_engine::roots::RootEnv;
use serde_json::Value;
use tokio::sync::watch;

use crate::cli::WatchArgs;
use crate::client;
use crate::cmd::cluster::lens;
use crate::cmd::serve::hub_config;
use crate::config::{self, Config, Origin};
use crate::hub::{self, HubConfig, Snapshot};
use crate::table::thousands;

/// How often a terminal's block is redrawn: often enough for a 1 Hz blink to show.
const TTY_EVERY: Duration = Duration::from_millis(250);
/// How often a plain line is printed: the daemon recomputes at least once a second.
const PLAIN_EVERY: Duration = Duration::from_secs(1);
/// How often the daemon is asked, and how long each request may take.
const ASK_EVERY: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_secs(1);
/// How long the daemon's last values are shown after it stops answering before the watch
/// scans for itself: the firmware's failure rule.
const GRACE: Duration = Duration::from_secs(5);

/// Prints the values until interrupted (or once, with `--once`).
pub fn run(
    args: &WatchArgs,
    source: &dyn Fn(&str) -> Option<ValueSource>,
    env: &RootEnv,
) -> Result<()> {
    let cfg = config::resolve(&args.daemon, source, env)?;
    let addr = cfg.local_addr().to_string();
    let token = cfg.known_token();
    let mut feed = Feed {
        addr: addr.clone(),
        scanned: scanned(&cfg, env),
        hub: Some(hub_config(&cfg, env, false, args.daemon.no_index)?),
        scan: None,
        answer: None,
        down: None,
        forced: args.scan,
    };
    // The first answer before the first line, so that it says the truth.
    if !args.scan {
        let first = client::usage(&addr, token.as_deref(), TIMEOUT);
        feed.heard(first, Instant::now(), &cfg.settings.tz);
        if feed.answer.is_some() {
            ignored_settings(&cfg);
        }
    }
    let tz = cfg.settings.tz.clone();
    let mut out = std::io::stdout().lock();
    if args.once {
        let (from, usage) = feed.shown(Instant::now(), false)?;
        writeln!(out, "{from}\n{}", render(&usage, &tz, None))?;
        return Ok(());
    }

    let (tx, asked) = mpsc::channel();
    if !args.scan {
        std::thread::Builder::new()
            .name("redline-watch".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(ASK_EVERY);
                    let answer = client::usage(&addr, token.as_deref(), TIMEOUT);
                    if tx.send(answer).is_err() {
                        return;
                    }
                }
            })?;
    }
    let tty = std::io::stdout().is_terminal();
    let started = Instant::now();
    let mut drawn_lines = 0;
    let mut last_from = None;
    loop {
        let now = Instant::now();
        while let Ok(answer) = asked.try_recv() {
            feed.heard(answer, now, &tz);
        }
        let (from, usage) = feed.shown(now, true)?;
        if tty {
            // The source on a line, why on the next (kept, empty, so the block's height
            // stays), then the values.
            let now_us = started.elapsed().as_micros() as u64;
            let head = [from.what.clone(), from.why.clone().unwrap_or_default()];
            let mut block = String::new();
            for line in head.into_iter().chain(grid(&usage, &tz, now_us)) {
                block.push_str(&line);
                block.push_str("\x1b[K\n");
            }
            // A line longer than the terminal is cut at its edge rather than wrapped
            // (DECAWM off while drawing), so the block keeps its lines and redraws in place.
            if drawn_lines > 0 {
                write!(out, "\x1b[{drawn_lines}A")?;
            }
            write!(out, "\r\x1b[?7l{block}\x1b[?7h")?;
            drawn_lines = block.lines().count();
        } else {
            if last_from.as_ref() != Some(&from) {
                writeln!(out, "{from}")?;
            }
            writeln!(out, "{}", render(&usage, &tz, None))?;
        }
        last_from = Some(from);
        out.flush()?;
        std::thread::sleep(if tty { TTY_EVERY } else { PLAIN_EVERY });
    }
}

/// Where the values come from: the daemon's answers, and a scan of its own once needed.
struct Feed {
    /// The daemon's address, as asked.
    addr: String,
    /// What an own scan reads, in words (`~/.claude/projects, ...`).
    scanned: String,
    /// The own scan's configuration, until it is started.
    hub: Option<HubConfig>,
    /// The own scan, once started.
    scan: Option<watch::Receiver<Arc<Snapshot>>>,
    /// The daemon's newest `/usage`.
    answer: Option<Value>,
    /// Since when, and why, the daemon has not answered.
    down: Option<Down>,
    /// `--scan`: the daemon is not asked.
    forced: bool,
}

/// The daemon not answering.
struct Down {
    since: Instant,
    /// `since` on the clock, `HH:MM:SS`.
    at: String,
    /// When the grace ends, on the clock.
    until: String,
    /// The latest reason.
    why: String,
}

impl Feed {
    /// Takes one asking's outcome at `now`.
    fn heard(&mut self, answer: Result<Value, String>, now: Instant, tz: &TimeZone) {
        match answer {
            Ok(doc) => {
                self.answer = Some(doc);
                self.down = None;
            }
            Err(why) => match &mut self.down {
                Some(d) => d.why = why,
                None => {
                    let wall = jiff::Timestamp::now();
                    let until = wall
                        .checked_add(jiff::SignedDuration::try_from(GRACE).unwrap_or_default())
                        .unwrap_or(wall);
                    self.down = Some(Down {
                        since: now,
                        at: clock(wall, tz),
                        until: clock(until, tz),
                        why,
                    });
                }
            },
        }
    }

    /// Where the values come from and why, and the `/usage` document to show at `now`:
    /// the daemon's newest answer while it answers (and for [`GRACE`] after it stopped),
    /// else the own scan's, started here the first time it is needed. `again` says the
    /// daemon is asked again.
    fn shown(&mut self, now: Instant, again: bool) -> Result<(Source, Value)> {
        let again = if again { "; retrying each second" } else { "" };
        if let Some(doc) = &self.answer {
            let what = format!("from the daemon at {}", self.addr);
            match &self.down {
                None => return Ok((Source { what, why: None }, doc.clone())),
                Some(d) if now.duration_since(d.since) < GRACE => {
                    let why = format!(
                        "no answer since {} ({}); its last values until {}, then an own scan",
                        d.at, d.why, d.until,
                    );
                    let why = Some(why);
                    return Ok((Source { what, why }, doc.clone()));
                }
                Some(_) => {}
            }
        }
        let why = match (&self.down, self.answer.is_some()) {
            _ if self.forced => "--scan".to_owned(),
            (Some(d), true) => format!(
                "no answer from the daemon at {} since {} ({}){again}",
                self.addr, d.at, d.why
            ),
            (Some(d), false) => format!("no daemon at {} ({}){again}", self.addr, d.why),
            (None, _) => format!("no daemon at {}", self.addr),
        };
        let source = Source {
            what: format!("own scan of {}", self.scanned),
            why: Some(why),
        };
        if let Some(cfg) = self.hub.take() {
            self.scan = Some(hub::start(cfg)?.snapshots);
        }
        let doc = match &self.scan {
            Some(s) => serde_json::from_str(&s.borrow().usage_json)?,
            None => Value::Null,
        };
        Ok((source, doc))
    }
}

/// Where the values shown come from (`from the daemon at ...`, `own scan of ...`), and
/// why when it is not simply the daemon.
#[derive(Clone, Debug, PartialEq)]
struct Source {
    what: String,
    why: Option<String>,
}

impl std::fmt::Display for Source {
    /// One line: `what: why`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.why {
            Some(why) => write!(f, "{}: {why}", self.what),
            None => write!(f, "{}", self.what),
        }
    }
}

/// Says on stderr which of this command's own settings the daemon's values do not follow.
fn ignored_settings(cfg: &Config) {
    let given: Vec<String> = cfg
        .resolved
        .iter()
        .filter(|r| r.origin == Origin::Flag && !matches!(r.key, "listen" | "token"))
        .map(|r| format!("--{}", r.key.replace('_', "-")))
        .collect();
    if !given.is_empty() {
        eprintln!(
            "redline watch: the daemon's values follow its own settings, not {}; --scan reads the transcripts here with them",
            given.join(", ")
        );
    }
}

/// What an own scan reads: the roots, `~` for the home directory; or the Prometheus.
fn scanned(cfg: &Config, env: &RootEnv) -> String {
    if let Some(url) = &cfg.prometheus {
        return format!("Prometheus at {url}");
    }
    let roots = redline_engine::roots::resolve_roots(env);
    let names: Vec<String> = roots
        .iter()
        .map(|r| {
            let p = &r.projects;
            match env.home.as_deref().and_then(|h| p.strip_prefix(h).ok()) {
                Some(rest) => format!("~/{}", rest.display()),
                None => p.display().to_string(),
            }
        })
        .collect();
    names.join(", ")
}

/// `HH:MM:SS` of `t` in `tz`.
fn clock(t: jiff::Timestamp, tz: &TimeZone) -> String {
    tz.to_datetime(t).strftime("%H:%M:%S").to_string()
}

/// One plain line: the values, then the lamps as words.
pub fn render(u: &Value, tz: &TimeZone, tty_us: Option<u64>) -> String {
    let v = Values::of(u, tz);
    format!(
        "{}  FUEL {}  TACH {}/min  TEMP {}  BOOST {}  COST {}  MODEL {}  │ {}",
        v.time,
        v.fuel,
        v.tach,
        v.temp,
        v.boost,
        v.cost,
        v.model,
        lamps_row(u, tty_us)
    )
}

/// The block a terminal shows under the source's line: the values in two columns (within
/// 80 columns, where the plain line is not), then the lamps as lenses and the time.
fn grid(u: &Value, tz: &TimeZone, now_us: u64) -> [String; 4] {
    let v = Values::of(u, tz);
    let w = [&v.fuel, &v.temp, &v.cost]
        .iter()
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(0);
    [
        format!("FUEL  {:<w$}   TACH  {}/min", v.fuel, v.tach),
        format!("TEMP  {:<w$}   BOOST {}", v.temp, v.boost),
        format!("COST  {:<w$}   MODEL {}", v.cost, v.model),
        format!("{}   {}", lamps_row(u, Some(now_us)), v.time),
    ]
}

/// The designed cluster's values (FUEL, TACH, TEMP, BOOST), today's dollars and the model
/// as words, from a `/usage` document, with the time of its computing (in the configured
/// time zone).
struct Values {
    time: String,
    fuel: String,
    tach: String,
    temp: String,
    boost: String,
    cost: String,
    model: String,
}

impl Values {
    fn of(u: &Value, tz: &TimeZone) -> Values {
        let time = u["updated_at"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map_or_else(|| "--:--:--".to_owned(), |t| clock(t, tz));
        let fuel = match (u["fuel"]["remaining"].as_f64(), u["fuel"]["basis"].as_str()) {
            // Left, as the needle shows it, and from what: the plan's own figure or the
            // estimate (as `redline statusline` says it).
            (Some(r), Some("rate_limits")) => format!("{:.0}% plan", r * 100.0),
            (Some(r), _) => format!("{:.0}% est.", r * 100.0),
            (None, _) => match u["window_5h_tokens"].as_u64() {
                Some(t) => format!("-- ({} in window, no budget yet)", short(t)),
                None => "--".into(),
            },
        };
        let temp = match (
            u["thinking_ratio"].as_f64(),
            u["thinking"]["basis"].as_str(),
        ) {
            (Some(r), Some(basis)) => format!("{:.0}% ({basis})", r * 100.0),
            (Some(r), None) => format!("{:.0}%", r * 100.0),
            (None, Some("unknown")) => "-- (unknown)".into(),
            (None, _) => "--".into(),
        };
        Values {
            time,
            fuel,
            tach: u["tach"]["tokens_per_min"]
                .as_f64()
                .map_or("--".to_owned(), |t| thousands(t.round() as u64)),
            temp,
            boost: u["cache_hit_rate"]
                .as_f64()
                .map_or("--".to_owned(), |v| format!("{:.0}%", v * 100.0)),
            cost: u["cost"]["today_usd"]
                .as_f64()
                .map_or("--".to_owned(), |c| format!("${c:.2}")),
            model: u["last_model"].as_str().unwrap_or("--").to_owned(),
        }
    }
}

/// The five lamps in panel order, each named: `MODEL=on HOT=off WARN=blink STALL=off
/// IDLE=pulse`, or with a clock for blinking (`tty_us`), lenses lit as the LEDs are then,
/// each lens carrying its name.
fn lamps_row(u: &Value, tty_us: Option<u64>) -> String {
    let l: Lamps = serde_json::from_value(u["lamps"].clone()).unwrap_or_default();
    let color = u["model"]["color"].as_str().and_then(Rgb::parse);
    let leds = tty_us.map(|now| frame(&l, color, now, 100));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn feed() -> Feed {
        Feed {
            addr: "127.0.0.1:7878".into(),
            scanned: "~/.claude/projects".into(),
            hub: None,
            scan: None,
            answer: None,
            down: None,
            forced: false,
        }
    }

    #[test]
    fn the_daemon_s_last_values_stay_up_for_the_grace_then_the_own_scan() {
        let tz = TimeZone::UTC;
        let mut f = feed();
        let t0 = Instant::now();
        let doc = serde_json::json!({"version": 2, "lamps": {}, "cost": {"today_usd": 1.5}});
        f.heard(Ok(doc.clone()), t0, &tz);
        let (from, shown) = f.shown(t0, true).unwrap();
        assert_eq!(from.to_string(), "from the daemon at 127.0.0.1:7878");
        assert_eq!(shown, doc);
        // It stops answering: its last values, marked, for the grace.
        let t1 = t0 + Duration::from_secs(1);
        f.heard(Err("nothing listens there".into()), t1, &tz);
        let (from, shown) = f.shown(t1 + Duration::from_secs(2), true).unwrap();
        let label = from.to_string();
        assert!(
            label.starts_with("from the daemon at 127.0.0.1:7878: no answer since ")
                && label.contains(" (nothing listens there); its last values until ")
                && label.ends_with(", then an own scan"),
            "{label}"
        );
        assert_eq!(shown, doc);
        // Then the own scan (here none started: the test gives no configuration).
        let (from, shown) = f.shown(t1 + GRACE, true).unwrap();
        let label = from.to_string();
        assert!(
            label.starts_with(
                "own scan of ~/.claude/projects: no answer from the daemon at 127.0.0.1:7878 since "
            ) && label.ends_with(" (nothing listens there); retrying each second"),
            "{label}"
        );
        assert_eq!(shown, Value::Null);
        // And back to the daemon when it answers again.
        f.heard(Ok(doc.clone()), t1 + GRACE * 2, &tz);
        assert_eq!(
            f.shown(t1 + GRACE * 2, true).unwrap().0.to_string(),
            "from the daemon at 127.0.0.1:7878"
        );
    }

    #[test]
    fn no_daemon_at_the_start_is_said_with_its_reason() {
        let mut f = feed();
        f.heard(
            Err("nothing listens there".into()),
            Instant::now(),
            &TimeZone::UTC,
        );
        assert_eq!(
            f.shown(Instant::now(), false).unwrap().0.to_string(),
            "own scan of ~/.claude/projects: no daemon at 127.0.0.1:7878 (nothing listens there)"
        );
        f.forced = true;
        assert_eq!(
            f.shown(Instant::now(), true).unwrap().0.to_string(),
            "own scan of ~/.claude/projects: --scan"
        );
    }

    #[test]
    fn a_document_renders_every_value_and_names_every_lamp() {
        let doc = serde_json::json!({
            "version": 2, "updated_at": "2026-11-23T19:42:43Z", "window_5h_tokens": 3100000,
            "thinking_ratio": 0.22, "cache_hit_rate": 0.93, "last_model": "opus",
            "tach": {"tokens_per_min": 8123.4},
            "fuel": {"remaining": 0.62, "basis": "rate_limits"},
            "thinking": {"basis": "estimate"},
            "cost": {"today_usd": 12.345},
            "model": {"color": "#e0301e"},
            "lamps": {"model": "on", "hot": "off", "warn": "blink", "stall": "off", "idle": "pulse"}
        });
        let tz = TimeZone::get("Europe/Paris").unwrap_or(TimeZone::UTC);
        let line = render(&doc, &TimeZone::UTC, None);
        assert_eq!(
            line,
            "19:42:43  FUEL 62% plan  TACH 8,123/min  TEMP 22% (estimate)  BOOST 93%  COST $12.35  MODEL opus  │ MODEL=on HOT=off WARN=blink STALL=off IDLE=pulse"
        );
        if tz != TimeZone::UTC {
            assert!(render(&doc, &tz, None).starts_with("20:42:43 "));
        }
        // On a terminal, two columns within 80, and each lens carries its lamp's name.
        let g = grid(&doc, &TimeZone::UTC, 0);
        assert_eq!(
            g[0],
            format!("FUEL  62% plan{}TACH  8,123/min", " ".repeat(9))
        );
        assert_eq!(g[1], "TEMP  22% (estimate)   BOOST 93%");
        assert_eq!(g[2], format!("COST  $12.35{}MODEL opus", " ".repeat(11)));
        assert!(g[3].ends_with("   19:42:43"), "{}", g[3]);
        for name in ["MODEL", "HOT", "WARN", "STALL", "IDLE"] {
            assert!(g[3].contains(&format!(" {name} ")), "{}", g[3]);
        }
        // An empty document is dashes, not a failure.
        assert_eq!(
            render(&Value::Null, &TimeZone::UTC, None),
            "--:--:--  FUEL --  TACH --/min  TEMP --  BOOST --  COST --  MODEL --  │ MODEL=off HOT=off WARN=off STALL=off IDLE=off"
        );
    }
}
