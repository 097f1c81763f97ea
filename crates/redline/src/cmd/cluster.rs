//! `redline cluster`: the instrument cluster in the terminal, driven by the same
//! `redline-core` code the ESP32 runs. It polls a daemon's `/usage/gauge` once a second,
//! feeds each answer to the core's poll logic (smoothing, deadband, the 5 s failure rule),
//! and steps each needle's motion planner in real time, so the needles move exactly as the
//! motors would: acceleration, top speed, no overshoot, the ease to zero when the daemon
//! goes silent. Only the pins are missing.

use std::io::{IsTerminal, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use redline_core::calibration::Calibration;
use redline_core::led::is_lit;
use redline_core::motion::{DIRECT_DRIVE, Planner, Profile, QUAD_MICROSTEP};
use redline_core::gauges::{Dial, Scales, ZoneColor, zones};
use redline_core::poll::{Cluster, Needle, PollConfig};
use redline_core::{Lamp, LampState, Lamps};

use crate::cli::{ClusterArgs, MotorProfile};
use crate::client;

/// Frames drawn per second.
const FPS: u64 = 30;
/// Character cells of each needle's track.
const TRACK: usize = 50;

/// Draws the cluster until interrupted, or for `--for` seconds.
pub fn run(args: &ClusterArgs) -> Result<()> {
    let authority = client::authority(&args.url).map_err(|e| anyhow!("--url: {e}"))?;
    let profile = match args.profile {
        MotorProfile::Quad => QUAD_MICROSTEP,
        MotorProfile::Direct => DIRECT_DRIVE,
    };
    let poll_every = Duration::from_millis(args.poll_ms.max(100));
    let config = PollConfig {
        interval_us: poll_every.as_micros() as u64,
        ..PollConfig::for_profile(&profile)
    };
    let full = profile.full_scale();
    let start = Instant::now();
    let now_us = || start.elapsed().as_micros() as u64;
    let mut cluster = Cluster::new(config, [Calibration::linear(full); 4], now_us());
    let mut planners = [Planner::new(profile); 4];

    // The poller: one GET a poll interval, on its own thread, so a slow daemon never
    // stalls the motion.
    let (tx, rx) = mpsc::channel::<Option<Vec<u8>>>();
    std::thread::spawn(move || {
        loop {
            let t = Instant::now();
            let body = match client::get(&authority, "/usage/gauge", Duration::from_secs(1)) {
                Ok((200, body)) => Some(body),
                _ => None,
            };
            if tx.send(body).is_err() {
                return;
            }
            std::thread::sleep(poll_every.saturating_sub(t.elapsed()));
        }
    });

    let tty = std::io::stdout().is_terminal() && args.run_for.is_none();
    let mut out = std::io::stdout().lock();
    let mut drawn_lines = 0;
    let mut status = String::from("waiting for the daemon");
    loop {
        let now = now_us();
        while let Ok(answer) = rx.try_recv() {
            status = match answer {
                Some(body) => match cluster.answer(&body, now) {
                    Ok(()) => format!("{} ok", args.url),
                    Err(e) => format!("{}: unreadable answer ({e})", args.url),
                },
                None => format!("{}: no answer", args.url),
            };
        }
        let outputs = cluster.tick(now);
        for (p, &target) in planners.iter_mut().zip(&outputs.targets) {
            p.set_target(target);
            // Every step due by now, at the time it was due: the motion the motor makes.
            while let Some(due) = p.next_deadline().filter(|&d| d <= now) {
                p.next_step(due);
            }
        }
        let done = args
            .run_for
            .is_some_and(|s| start.elapsed().as_secs_f64() >= s);
        if tty || done {
            let frame = draw(
                &planners,
                &profile,
                &outputs.lamps,
                now,
                tty,
                &status,
                cluster.is_failed(),
            );
            if tty && drawn_lines > 0 {
                write!(out, "\x1b[{drawn_lines}A")?;
            }
            write!(out, "{frame}")?;
            out.flush()?;
            drawn_lines = frame.lines().count();
        }
        if done {
            return Ok(());
        }
        std::thread::sleep(Duration::from_micros(1_000_000 / FPS));
    }
}

/// One frame: a track per needle with its red zone, the needle's degrees, then the lamps.
fn draw(
    planners: &[Planner; 4],
    profile: &Profile,
    lamps: &Lamps,
    now_us: u64,
    color: bool,
    status: &str,
    failed: bool,
) -> String {
    let full = f64::from(profile.full_scale());
    let mut s = String::new();
    for needle in Needle::ALL {
        let dial = Dial::DEFAULT_NEEDLES[needle.index()];
        let p = &planners[needle.index()];
        let share = f64::from(p.position()) / full;
        let at = ((share * (TRACK - 1) as f64).round() as usize).min(TRACK - 1);
        let face = zones(dial, &Scales::default());
        let red = |cell: usize| {
            let x = cell as f32 / (TRACK - 1) as f32;
            face.iter()
                .flatten()
                .any(|z| z.color == ZoneColor::Red && x >= z.from && x <= z.to)
        };
        let track: String = (0..TRACK)
            .map(|cell| match (cell == at, red(cell), color) {
                (true, _, true) => "\x1b[1;97m┃\x1b[0m".to_owned(),
                (true, _, false) => "|".to_owned(),
                (false, true, true) => "\x1b[31m─\x1b[0m".to_owned(),
                (false, true, false) => "=".to_owned(),
                (false, false, _) => "-".to_owned(),
            })
            .collect();
        let degrees = f64::from(p.position()) / f64::from(profile.steps_per_degree);
        s.push_str(&format!(
            "{:<5} [{track}] {:>5.1}° {:>3.0}%{}\n",
            dial.face().title,
            degrees,
            share * 100.0,
            clear(color)
        ));
    }
    // In color the lamps blink as the LEDs do; in plain text a blinking lamp is marked.
    let lamp = |name: &str, state: LampState| match (color, state) {
        (true, _) if !is_lit(state, now_us) => format!("\x1b[2m {name} \x1b[0m"),
        (true, _) => format!("\x1b[1;30;43m {name} \x1b[0m"),
        (false, LampState::Off) => format!(" {} ", name.to_lowercase()),
        (false, LampState::On) => format!("[{name}]"),
        (false, LampState::Blink) => format!("[{name}*]"),
        (false, LampState::Pulse) => format!("[{name}~]"),
    };
    let label = |l: Lamp| l.name().to_uppercase();
    s.push_str(&format!(
        "{} {} {} {} {}  {}{}{}\n",
        lamp(&label(Lamp::Model), lamps.model),
        lamp(&label(Lamp::Hot), lamps.hot),
        lamp(&label(Lamp::Warn), lamps.warn),
        lamp(&label(Lamp::Stall), lamps.stall),
        lamp(&label(Lamp::Idle), lamps.idle),
        status,
        if failed {
            " (failure rule: easing to zero)"
        } else {
            ""
        },
        clear(color),
    ));
    s
}

/// Clears the rest of the line when redrawing in place.
fn clear(color: bool) -> &'static str {
    if color { "\x1b[K" } else { "" }
}
