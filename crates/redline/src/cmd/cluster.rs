//! `redline cluster`: the instrument cluster in the terminal, driven by the same
//! `redline-core` code the ESP32 runs. It polls a daemon's `/usage/gauge` once a second,
//! feeds each answer to the core's poll logic (smoothing, deadband, the 5 s failure rule),
//! and steps each needle's motion planner in real time, so the needles move exactly as the
//! motors would: acceleration, top speed, no overshoot, the ease to zero when the daemon
//! goes silent. The five lamps are lit as the LEDs are: MODEL in the colour the gauge body
//! carries, blinking and IDLE's breath from the core's LED frames, STALL blinking by
//! itself when the daemon stops answering. Only the pins are missing.
//!
//! What the firmware cannot know, the faces printed on the dials, the terminal reads now
//! and then (the layout): which dial each needle shows (`needles` in the open `/usage`,
//! since `/usage/gauge` carries positions only) and each dial's zones (`/api/config`,
//! drawn by the daemon from `redline_core::gauges::zones` with the configured scales;
//! when that is refused, as it is beyond loopback without `REDLINE_TOKEN`, the same
//! function with the default scales). In plain text (`--for`, or not a terminal) zones are
//! drawn as `=` red, `:` blue, `~` white and `-` none, and lamps as ` name ` off, `[NAME]`
//! on, `[NAME*]` blinking and `[NAME~]` pulsing; MODEL adds its colour, `[MODEL #e0301e]`.

use std::io::{IsTerminal, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use redline_core::calibration::Calibration;
use redline_core::gauges::{Dial, Scales, TACH_FULL_SCALE, Zone, ZoneColor, zones};
use redline_core::led::frame;
use redline_core::motion::{DIRECT_DRIVE, Planner, Profile, QUAD_MICROSTEP};
use redline_core::poll::{Cluster, Needle, PollConfig};
use redline_core::{Lamp, LampState, Lamps, Rgb};
use serde_json::Value;

use crate::cli::{ClusterArgs, MotorProfile};
use crate::client;

/// Frames drawn per second.
const FPS: u64 = 30;
/// Character cells of each needle's track.
const TRACK: usize = 50;
/// How often the layout is read again once known: it changes only when the daemon is
/// restarted with another configuration.
const LAYOUT_EVERY: Duration = Duration::from_secs(10);
/// How often it is tried while unknown.
const LAYOUT_RETRY: Duration = Duration::from_secs(1);
/// Each request's limit.
const TIMEOUT: Duration = Duration::from_secs(1);

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
    let gauge_from = authority.clone();
    std::thread::spawn(move || {
        loop {
            let t = Instant::now();
            let body = match client::get(&gauge_from, "/usage/gauge", TIMEOUT) {
                Ok((200, body)) => Some(body),
                _ => None,
            };
            if tx.send(body).is_err() {
                return;
            }
            std::thread::sleep(poll_every.saturating_sub(t.elapsed()));
        }
    });
    // The layout, on a thread of its own too: it is read rarely and may be slow.
    let (layout_tx, layout_rx) = mpsc::channel::<Layout>();
    let token = std::env::var("REDLINE_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    std::thread::spawn(move || {
        loop {
            let layout = read_layout(&authority, token.as_deref());
            let wait = if layout.is_some() {
                LAYOUT_EVERY
            } else {
                LAYOUT_RETRY
            };
            if let Some(l) = layout
                && layout_tx.send(l).is_err()
            {
                return;
            }
            std::thread::sleep(wait);
        }
    });

    let tty = std::io::stdout().is_terminal() && args.run_for.is_none();
    let mut out = std::io::stdout().lock();
    let mut drawn_lines = 0;
    let mut status = String::from("waiting for the daemon");
    let mut layout = Layout::designed();
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
        while let Ok(l) = layout_rx.try_recv() {
            layout = l;
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
            let view = View {
                planners: &planners,
                profile: &profile,
                layout: &layout,
                lamps: &outputs.lamps,
                color: outputs.color,
                now_us: now,
                tty,
            };
            let mut frame = view.draw();
            frame.push_str(&status_line(&status, &layout, cluster.is_failed(), tty));
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

/// What is printed on the four dials: which dial each needle shows, and each face's
/// zones and full-scale figure.
#[derive(Clone, Debug, PartialEq)]
struct Layout {
    dials: [Dial; 4],
    zones: [[Option<Zone>; 3]; 4],
    /// The figure at full scale, for the faces that print a number there (TACH, COST).
    full_scale: [f64; 4],
    /// Whether the needles came from the daemon (else: the cluster as designed).
    needles_read: bool,
    /// Whether the zones came from its `/api/config` (else: the default scales).
    zones_read: bool,
}

impl Layout {
    /// The designed cluster with the default scales: what is shown until the daemon says.
    fn designed() -> Layout {
        Layout::new(Dial::DEFAULT_NEEDLES, None, false)
    }

    /// The faces of `dials`, from `/api/config`'s `dials` when given.
    fn new(dials: [Dial; 4], config: Option<&Value>, needles_read: bool) -> Layout {
        let defaults = Scales::default();
        let read = |d: Dial| config.map(|c| &c["dials"][d.name()]);
        let zones = dials.map(|d| {
            read(d)
                .and_then(|v| parse_zones(&v["zones"]))
                .unwrap_or_else(|| zones(d, &defaults))
        });
        let full_scale = dials.map(|d| {
            read(d)
                .and_then(|v| v["full_scale"].as_f64())
                .unwrap_or(match d {
                    Dial::Tach => defaults.tach_redline * TACH_FULL_SCALE,
                    Dial::Cost => defaults.cost_full_scale_usd,
                    _ => 1.0,
                })
        });
        Layout {
            dials,
            zones,
            full_scale,
            needles_read,
            zones_read: config.is_some_and(|c| c["dials"].is_object()),
        }
    }
}

/// `[{"from":0,"to":0.2,"color":"blue"},...]` to zones; `None` when it is not that shape.
fn parse_zones(v: &Value) -> Option<[Option<Zone>; 3]> {
    let mut out = [None; 3];
    for (slot, z) in out.iter_mut().zip(v.as_array()?) {
        let color = match z["color"].as_str()? {
            "red" => ZoneColor::Red,
            "blue" => ZoneColor::Blue,
            "white" => ZoneColor::White,
            _ => continue,
        };
        *slot = Some(Zone {
            from: z["from"].as_f64()? as f32,
            to: z["to"].as_f64()? as f32,
            color,
        });
    }
    Some(out)
}

/// Reads the layout: the needles from `/usage` (open on any bind), the zones from
/// `/api/config` when it answers. `None` while `/usage` does not.
fn read_layout(authority: &str, token: Option<&str>) -> Option<Layout> {
    let (status, body) = client::get(authority, "/usage", TIMEOUT).ok()?;
    if status != 200 {
        return None;
    }
    let usage: Value = serde_json::from_slice(&body).ok()?;
    let dials: Vec<Dial> = usage["needles"]
        .as_array()?
        .iter()
        .map(|n| n.as_str().and_then(Dial::from_name))
        .collect::<Option<_>>()?;
    let dials: [Dial; 4] = dials.try_into().ok()?;
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .iter()
        .map(|b| ("Authorization", b.as_str()))
        .collect();
    let config = client::request(authority, "GET", "/api/config", &headers, &[], TIMEOUT)
        .ok()
        .filter(|(status, _)| *status == 200)
        .and_then(|(_, body)| serde_json::from_slice::<Value>(&body).ok());
    Some(Layout::new(dials, config.as_ref(), true))
}

/// What one frame shows.
struct View<'a> {
    planners: &'a [Planner; 4],
    profile: &'a Profile,
    layout: &'a Layout,
    lamps: &'a Lamps,
    color: Option<Rgb>,
    now_us: u64,
    tty: bool,
}

impl View<'_> {
    /// A line per needle (its face's title and legend, the track with its zones, the
    /// needle's share of the sweep and its degrees), then the lamps.
    fn draw(&self) -> String {
        let mut s = String::new();
        for needle in Needle::ALL {
            s.push_str(&self.needle_line(needle));
            s.push_str(clear(self.tty));
            s.push('\n');
        }
        s.push_str(&self.lamp_row());
        s.push_str(clear(self.tty));
        s.push('\n');
        s
    }

    fn needle_line(&self, needle: Needle) -> String {
        let i = needle.index();
        let dial = self.layout.dials[i];
        let face = dial.face();
        let p = &self.planners[i];
        let full = f64::from(self.profile.full_scale());
        let share = f64::from(p.position()) / full;
        let at = ((share * (TRACK - 1) as f64).round() as usize).min(TRACK - 1);
        let track: String = (0..TRACK)
            .map(|cell| {
                let x = cell as f32 / (TRACK - 1) as f32;
                // The last zone holding the cell: a boundary belongs to the zone above.
                let zone = self.layout.zones[i]
                    .iter()
                    .flatten()
                    .rfind(|z| x >= z.from && x <= z.to)
                    .map(|z| z.color);
                track_cell(cell == at, zone, self.tty)
            })
            .collect();
        let high = face
            .high
            .map_or_else(|| figure(dial, self.layout.full_scale[i]), str::to_owned);
        let degrees = f64::from(p.position()) / f64::from(self.profile.steps_per_degree);
        let title = if self.tty {
            format!("\x1b[1m{:<7}\x1b[0m", face.title)
        } else {
            format!("{:<7}", face.title)
        };
        format!(
            "{title} {:<15} {:>2} [{track}] {:<4} {:>5.1}° {:>3.0}%",
            face.legend,
            face.low,
            high,
            degrees,
            share * 100.0,
        )
    }

    /// The five lamps in panel order, each labelled. On a terminal each is a lens in the
    /// colour and brightness the LED would show at this moment (the core's frame: blinks
    /// and IDLE's breath included); in plain text, marks.
    fn lamp_row(&self) -> String {
        let leds = frame(self.lamps, self.color, self.now_us, 100);
        let states = self.lamps.in_order();
        let lens: Vec<String> = Lamp::ALL
            .iter()
            .map(|&lamp| {
                let i = lamp as usize;
                let name = lamp.name().to_ascii_uppercase();
                if self.tty {
                    lens(&name, leds[i])
                } else {
                    let colour = match (lamp, self.color) {
                        (Lamp::Model, Some(c)) if states[i].is_lit() => format!(" {c}"),
                        _ => String::new(),
                    };
                    match states[i] {
                        LampState::Off => format!(" {} ", name.to_lowercase()),
                        LampState::On => format!("[{name}{colour}]"),
                        LampState::Blink => format!("[{name}*{colour}]"),
                        LampState::Pulse => format!("[{name}~{colour}]"),
                    }
                }
            })
            .collect();
        lens.join(" ")
    }
}

/// One cell of a track: the needle, or the zone's colour.
fn track_cell(needle: bool, zone: Option<ZoneColor>, tty: bool) -> String {
    if !tty {
        return match (needle, zone) {
            (true, _) => "|",
            (false, Some(ZoneColor::Red)) => "=",
            (false, Some(ZoneColor::Blue)) => ":",
            (false, Some(ZoneColor::White)) => "~",
            (false, None) => "-",
        }
        .to_owned();
    }
    if needle {
        return "\x1b[1;38;2;255;240;200m┃\x1b[0m".to_owned();
    }
    let c = match zone {
        Some(ZoneColor::Red) => Lamp::Hot.color(),
        Some(ZoneColor::Blue) => Rgb::new(0x30, 0x70, 0xff),
        Some(ZoneColor::White) => Rgb::new(0xe8, 0xe8, 0xe0),
        None => Rgb::new(0x60, 0x60, 0x60),
    };
    let glyph = if zone.is_some() { '━' } else { '─' };
    format!("\x1b[38;2;{};{};{}m{glyph}\x1b[0m", c.r, c.g, c.b)
}

/// A lit or dark lens: the LED's colour behind the label, the label dark on a bright
/// lens and pale on a dim one.
pub(crate) fn lens(label: &str, led: Rgb) -> String {
    if led == Rgb::BLACK {
        return format!("\x1b[38;2;110;110;110;48;2;28;28;28m {label} \x1b[0m");
    }
    let luma = 299 * u32::from(led.r) + 587 * u32::from(led.g) + 114 * u32::from(led.b);
    let ink = if luma > 90_000 {
        "0;0;0"
    } else {
        "220;220;220"
    };
    format!(
        "\x1b[1;38;2;{ink};48;2;{};{};{}m {label} \x1b[0m",
        led.r, led.g, led.b
    )
}

/// The full-scale figure of a face that prints a number there: `25k` tokens a minute,
/// `$50`.
fn figure(dial: Dial, full: f64) -> String {
    match dial {
        Dial::Cost => format!("${full:.0}"),
        _ if full >= 1_000.0 => format!("{:.0}k", full / 1_000.0),
        _ => format!("{full:.0}"),
    }
}

/// The daemon's state, and where the faces came from.
fn status_line(status: &str, layout: &Layout, failed: bool, tty: bool) -> String {
    let needles = if layout.needles_read {
        "needles from /usage"
    } else {
        "needles as designed (no /usage yet)"
    };
    let zones = if layout.zones_read {
        "zones from /api/config"
    } else {
        "default zones"
    };
    let failure = if failed {
        " (failure rule: easing to zero)"
    } else {
        ""
    };
    format!("{status}{failure} · {needles} · {zones}{}\n", clear(tty))
}

/// Clears the rest of the line when redrawing in place.
fn clear(tty: bool) -> &'static str {
    if tty { "\x1b[K" } else { "" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_come_from_the_configuration_or_the_defaults() {
        let config = serde_json::json!({"dials": {
            "temp": {"zones": [{"from": 0.0, "to": 0.3, "color": "blue"},
                               {"from": 0.3, "to": 0.7, "color": "white"},
                               {"from": 0.7, "to": 1.0, "color": "red"}], "full_scale": 1.0},
            "tach": {"zones": [{"from": 0.8, "to": 1.0, "color": "red"}], "full_scale": 50000.0}
        }});
        let dials = [Dial::Temp, Dial::Tach, Dial::Cost, Dial::Boost];
        let l = Layout::new(dials, Some(&config), true);
        assert_eq!(
            l.zones[0][1].map(|z| (z.from, z.color)),
            Some((0.3, ZoneColor::White))
        );
        assert_eq!(figure(Dial::Tach, l.full_scale[1]), "50k");
        assert_eq!(figure(Dial::Cost, l.full_scale[2]), "$50");
        // BOOST is not in this configuration: its default face.
        assert_eq!(l.zones[3], zones(Dial::Boost, &Scales::default()));
        assert!(l.zones_read && l.needles_read);
        let d = Layout::designed();
        assert_eq!(d.dials, Dial::DEFAULT_NEEDLES);
        assert!(!d.zones_read && !d.needles_read);
    }
}
