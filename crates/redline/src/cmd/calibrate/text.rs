//! `redline calibrate`'s table: per key the value in force and the proposal, the figures
//! and the rule, in 80 columns; and `--check`'s findings.

use jiff::tz::TimeZone;
use redline_engine::calibrate::check::Episode;
use redline_engine::calibrate::{BudgetValue, Calibration, Zones};

use super::Read;
use super::replay::CheckReport;
use crate::config::Config;
use crate::table::thousands;

/// The width the table keeps to.
const WIDTH: usize = 80;
/// Lit stretches listed per lamp before the rest are counted.
const SHOWN_EPISODES: usize = 15;

/// `text` wrapped at [`WIDTH`], each line starting with `indent`.
fn wrap(text: &str, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::from(indent);
    // A unit stays with its number: `117.3 s`, `8.8 %`.
    let mut words: Vec<String> = Vec::new();
    for w in text.split(' ').filter(|w| !w.is_empty()) {
        let unit = ["s", "s,", "s;", "s)", "%", "%,", "%;", "%)"].contains(&w);
        match words.last_mut() {
            Some(last) if unit => {
                last.push(' ');
                last.push_str(w);
            }
            _ => words.push(w.to_owned()),
        }
    }
    for word in &words {
        if line.len() > indent.len() && line.chars().count() + 1 + word.chars().count() > WIDTH {
            out.push_str(line.trim_end());
            out.push('\n');
            line = String::from(indent);
        }
        if line.len() > indent.len() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if line.len() > indent.len() {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| thousands(v.round().max(0.0) as u64))
}

fn tokens(v: Option<u64>) -> String {
    v.map_or_else(|| "-".into(), thousands)
}

fn secs(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(s) if s.fract() == 0.0 => format!("{} s", thousands(s as u64)),
        Some(s) => format!("{s:.1} s"),
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |s| format!("{:.1} %", s * 100.0))
}

fn share(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |s| format!("{s:.2}"))
}

/// A share as the config file has it: `0.45`, `0.0`.
fn zone(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.1}")
    } else {
        v.to_string()
    }
}

fn zones(z: Zones) -> String {
    format!("{} / {}", zone(z.temp_cool), zone(z.temp_hot))
}

/// `key  now -> proposed unit`, or why there is no proposal.
fn head<T: PartialEq>(
    key: &str,
    now: String,
    proposed: Option<(T, String)>,
    current: &T,
    unit: &str,
    note: Option<&str>,
) -> String {
    let line = match proposed {
        Some((p, text)) => {
            let same = if &p == current { " (as now)" } else { "" };
            format!("{key:<14}{now} -> {text}{unit}{same}")
        }
        None => format!(
            "{key:<14}{now}{unit}: no proposal ({})",
            note.unwrap_or("nothing to go by")
        ),
    };
    if line.chars().count() <= WIDTH {
        line + "\n"
    } else {
        wrap(&line, "")
    }
}

/// The whole table.
pub fn table(cal: &Calibration, read: &Read) -> String {
    let mut out = String::new();
    let days = jiff::civil::Date::strptime("%Y-%m-%d", &read.until)
        .ok()
        .zip(jiff::civil::Date::strptime("%Y-%m-%d", &read.since).ok())
        .and_then(|(u, s)| s.until(u).ok())
        .map_or(0, |span| span.get_days() + 1);
    out.push_str(&wrap(
        &format!(
            "redline calibrate: {} to {} ({} days, {})",
            read.since, read.until, days, read.time_zone
        ),
        "",
    ));
    let readings = match cal.block_budget.figures.readings {
        0 => "no statusLine plan readings".to_owned(),
        1 => "1 statusLine plan reading".to_owned(),
        n => format!("{} statusLine plan readings", thousands(n as u64)),
    };
    out.push_str(&wrap(
        &format!(
            "{} responses in {} sessions, {} active minutes, {} completed 5-hour blocks, {readings}",
            thousands(read.responses as u64),
            thousands(read.sessions as u64),
            thousands(cal.tach_redline.figures.active_minutes as u64),
            thousands(cal.block_budget.figures.completed_blocks as u64),
        ),
        "",
    ));
    if read.responses == 0 {
        let hint = match &read.newest_response {
            Some(t) => format!(
                "no responses in these days; the newest in the transcripts is from {}: widen the days with --days or --since",
                &t[..10]
            ),
            None => "no responses at all: is CLAUDE_CONFIG_DIR right?".to_owned(),
        };
        out.push_str(&wrap(&hint, ""));
    }
    out.push('\n');

    let r = &cal.tach_redline;
    let f = &r.figures;
    out.push_str(&head(
        "tach_redline",
        thousands(r.current),
        r.proposed.map(|p| (p, thousands(p))),
        &r.current,
        " tokens/min",
        r.note,
    ));
    let proposed_window = if cal.tach_window.proposed == Some(f.window_s) {
        ", the proposed one"
    } else {
        ""
    };
    out.push_str(&wrap(
        &format!(
            "the tach's peak in {} active minutes over a {} s window{proposed_window}: P50 {}, P90 {}, P95 {}, P99 {}, max {} tokens/min; HOT lit {} min per active hour now, {} proposed",
            thousands(f.active_minutes as u64),
            f.window_s,
            num(f.p50),
            num(f.p90),
            num(f.p95),
            num(f.p99),
            num(f.max),
            f.hot_per_active_hour_current
                .map_or("-".into(), |v| format!("{v:.1}")),
            f.hot_per_active_hour_proposed
                .map_or("-".into(), |v| format!("{v:.1}")),
        ),
        "  ",
    ));
    out.push_str(&wrap(&format!("rule: {}", r.rule), "  "));
    out.push('\n');

    let b = &cal.block_budget;
    let f = &b.figures;
    let now = match b.current {
        BudgetValue::Tokens(n) => thousands(n),
        BudgetValue::Max(_) => format!("max ({})", tokens(f.current_tokens)),
    };
    let current_tokens = f.current_tokens.unwrap_or(0);
    out.push_str(&head(
        "block_budget",
        now,
        b.proposed.map(|p| (p, thousands(p))),
        &current_tokens,
        " tokens",
        b.note,
    ));
    out.push_str(&wrap(
        &format!(
            "{} completed 5-hour blocks: P50 {}, P90 {}, max {} tokens (max_block_tokens, as `redline report blocks --token-limit max`: {}); WARN lit in {} of them now, {} proposed; empty (E) in {} now, {} proposed",
            thousands(f.completed_blocks as u64),
            tokens(f.p50),
            tokens(f.p90),
            tokens(f.max),
            tokens(f.max_block_tokens),
            pct(f.warn_share_current),
            pct(f.warn_share_proposed),
            pct(f.empty_share_current),
            pct(f.empty_share_proposed),
        ),
        "  ",
    ));
    let measured = match f.measured_budget {
        Some(m) => format!(
            "{} statusLine readings, {} of them measuring: the plan holds {} tokens a window (readings from {} to {})",
            thousands(f.readings as u64),
            thousands(f.readings_used as u64),
            thousands(m),
            tokens(f.implied_min),
            tokens(f.implied_max),
        ),
        None if f.readings > 0 => format!(
            "{} statusLine readings, none measuring (each needs 10 % used and tokens here in its window)",
            thousands(f.readings as u64)
        ),
        None => "no statusLine readings: the plan's size is not measured (the daemon keeps them while `redline statusline` feeds it; see docs/calibration.md)".into(),
    };
    out.push_str(&wrap(&measured, "  "));
    out.push_str(&wrap(&format!("rule: {}", b.rule), "  "));
    out.push('\n');

    let w = &cal.tach_window;
    let f = &w.figures;
    out.push_str(&head(
        "tach_window",
        w.current.to_string(),
        w.proposed.map(|p| (p, p.to_string())),
        &w.current,
        " s",
        w.note,
    ));
    out.push_str(&wrap(
        &format!(
            "{} gaps between responses inside turns: P50 {}, P90 {}, P99 {}, max {}; the window spans {} of them now, {} proposed",
            thousands(f.gaps as u64),
            secs(f.p50_s),
            secs(f.p90_s),
            secs(f.p99_s),
            secs(f.max_s),
            pct(f.spanned_current),
            pct(f.spanned_proposed),
        ),
        "  ",
    ));
    out.push_str(&wrap(&format!("rule: {}", w.rule), "  "));
    out.push('\n');

    let s = &cal.stall_after;
    let f = &s.figures;
    out.push_str(&head(
        "stall_after",
        s.current.to_string(),
        s.proposed.map(|p| (p, p.to_string())),
        &s.current,
        " s",
        s.note,
    ));
    out.push_str(&wrap(
        &format!(
            "{} waits for the model: P50 {}, P90 {}, P99 {}, max {}; STALL would have lit in {} of them now, {} proposed",
            thousands(f.waits as u64),
            secs(f.p50_s),
            secs(f.p90_s),
            secs(f.p99_s),
            secs(f.max_s),
            thousands(f.over_current as u64),
            thousands(f.over_proposed as u64),
        ),
        "  ",
    ));
    out.push_str(&wrap(&format!("rule: {}", s.rule), "  "));
    out.push('\n');

    let c = &cal.cache_floor;
    let f = &c.figures;
    out.push_str(&head(
        "cache_floor",
        zone(c.current),
        c.proposed.map(|p| (p, zone(p))),
        &c.current,
        "",
        c.note,
    ));
    out.push_str(&wrap(
        &format!(
            "the cache hit rate in {} active minutes with enough prompt tokens: P10 {}, P25 {}, P50 {}; under the floor (BOOST red, WARN on) in {} of them now, {} proposed",
            thousands(f.minutes as u64),
            share(f.p10),
            share(f.p25),
            share(f.p50),
            pct(f.under_current),
            pct(f.under_proposed),
        ),
        "  ",
    ));
    out.push_str(&wrap(&format!("rule: {}", c.rule), "  "));
    out.push('\n');

    let z = &cal.temp_zones;
    let f = &z.figures;
    out.push_str(&head(
        "temp_zones",
        zones(z.current),
        z.proposed.map(|p| (p, zones(p))),
        &z.current,
        " (cool / hot)",
        z.note,
    ));
    out.push_str(&wrap(
        &format!(
            "the thinking ratio in {} active minutes: P10 {}, P25 {}, P50 {}, P75 {}, P90 {}; TEMP blue {} and red {} of the time now, blue {} and red {} proposed",
            thousands(f.minutes as u64),
            share(f.p10),
            share(f.p25),
            share(f.p50),
            share(f.p75),
            share(f.p90),
            pct(f.blue_current),
            pct(f.red_current),
            pct(f.blue_proposed),
            pct(f.red_proposed),
        ),
        "  ",
    ));
    out.push_str(&wrap(&format!("rule: {}", z.rule), "  "));
    out.push('\n');
    out
}

fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

fn local(ms: i64, tz: &TimeZone) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| tz.to_datetime(t).strftime("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

fn episodes(out: &mut String, list: &[Episode], tz: &TimeZone, peak: impl Fn(&Episode) -> String) {
    for e in list.iter().take(SHOWN_EPISODES) {
        let state = if e.blinked { ", blinking" } else { "" };
        let why = if e.why.is_empty() {
            String::new()
        } else {
            format!("{}, ", e.why.join(" and "))
        };
        out.push_str(&format!(
            "    {}  {:>6}  {why}peak {}{state}\n",
            local(e.from_ms, tz),
            duration(e.to_ms - e.from_ms),
            peak(e)
        ));
    }
    if list.len() > SHOWN_EPISODES {
        out.push_str(&format!(
            "    ... and {} more (--json lists them all)\n",
            list.len() - SHOWN_EPISODES
        ));
    }
}

fn lit(list: &[Episode]) -> String {
    let total: i64 = list.iter().map(|e| e.to_ms - e.from_ms).sum();
    match list.len() {
        0 => "never lit".into(),
        1 => format!("lit once, {} in all", duration(total)),
        n => format!(
            "lit {} times, {} in all",
            thousands(n as u64),
            duration(total)
        ),
    }
}

/// `--check`'s findings.
pub fn check(c: &CheckReport, cfg: &Config, tz: &TimeZone) -> String {
    let mut out = String::new();
    let o = &c.outcome;
    out.push_str(&wrap(
        &format!(
            "check: the days replayed through the daemon's live path with the values in force ({} lines, the values computed {} times, {:.1} s)",
            thousands(o.lines),
            thousands(o.evaluations),
            c.seconds
        ),
        "",
    ));
    match &c.fuel {
        Some(f) => {
            let basis = if c.budget_from_max {
                " (block_budget = max: the largest completed block, fixed as the report fixes it)"
            } else {
                ""
            };
            let mut unread = String::new();
            if f.unread > 0 {
                unread += &format!("; {} block ends not replayed", thousands(f.unread as u64));
            }
            if f.at_block_end > 0 {
                unread += &format!(
                    "; {} left out, their last response at the very instant the block ends (five hours after its start), when the gauge has let go of the block by ccusage's own rule",
                    thousands(f.at_block_end as u64)
                );
            }
            let worst = match (
                f.worst_block_ms,
                f.worst_gauge_tokens,
                f.worst_report_tokens,
            ) {
                (Some(t), gauge, Some(report)) => format!(
                    ", at the block of {}: the gauge counted {} tokens, the report {}",
                    local(t, tz),
                    tokens(gauge),
                    thousands(report)
                ),
                _ => String::new(),
            };
            out.push_str(&wrap(
                &format!(
                    "FUEL (estimated) at each block's end against `redline report blocks`: {} blocks over {} tokens{basis}; largest disagreement {:.2} % ({} tokens){worst}{unread}",
                    thousands(f.blocks as u64),
                    thousands(f.budget),
                    f.largest_disagreement_pct,
                    thousands(f.largest_token_difference),
                ),
                "  ",
            ));
        }
        None => out.push_str(&wrap(
            "FUEL: no completed block and block_budget = max: nothing to compare",
            "  ",
        )),
    }
    let s = &cfg.settings;
    out.push_str(&wrap(
        &format!(
            "HOT (redline {} tokens/min over {} s): {}",
            thousands(s.tach_redline()),
            s.tach_window_s,
            lit(&o.hot)
        ),
        "  ",
    ));
    episodes(&mut out, &o.hot, tz, |e| {
        format!("{}/min", num(Some(e.peak)))
    });
    out.push_str(&wrap(
        &format!(
            "WARN (at {:.0} % of the window, or a usage limit, or a cache under {} over {} prompt tokens): {}",
            s.thresholds.warn_used * 100.0,
            s.scales.cache_floor,
            thousands(s.thresholds.cache_min_prompt_tokens),
            lit(&o.warn)
        ),
        "  ",
    ));
    episodes(&mut out, &o.warn, tz, |e| {
        format!("{:.0} % used", e.peak * 100.0)
    });
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_wrap_at_80_columns() {
        let text = "word ".repeat(40);
        let w = wrap(&text, "  ");
        assert!(
            w.lines()
                .all(|l| l.chars().count() <= WIDTH && l.starts_with("  "))
        );
        assert_eq!(w.split_whitespace().count(), 40);
        let units = wrap(&format!("{} P99 117.3 s, 8.8 % now", "x".repeat(70)), "");
        assert!(units.contains("\n117.3 s, 8.8 % now"), "{units:?}");
        assert_eq!(duration(59_000), "59s");
        assert_eq!(duration(190_000), "3m10s");
        assert_eq!(duration(7_800_000), "2h10m");
        assert_eq!(secs(Some(30.0)), "30 s");
        assert_eq!(secs(Some(7.25)), "7.2 s");
    }
}
