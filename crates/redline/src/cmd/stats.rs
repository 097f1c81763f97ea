//! `redline stats character`: the character statistics of the transcripts' text (see
//! `redline_engine::text`), as tables that fit 80 columns or as JSON. A pass of its own
//! over the transcripts, so that `redline report` never pays for it.

use std::collections::BTreeMap;
use std::io::{self, Write};

use anyhow::Result;
use clap::parser::ValueSource;
use jiff::tz::TimeZone;
use redline_engine::roots::{RootEnv, resolve_roots, survey};
use redline_engine::text::{Character, Counts, Side, Watch};
use redline_engine::textline::TextCounter;
use redline_engine::textscan::{PassStats, scan_text};
use serde_json::{Value, json};

use crate::cli::CharacterArgs;
use crate::config::{self, DaemonArgs};
use crate::table::{Align, Fit, Table, thousands};

/// Runs `redline stats character`.
pub fn character(
    args: &CharacterArgs,
    source: &dyn Fn(&str) -> Option<ValueSource>,
    env: &RootEnv,
) -> Result<()> {
    let daemon = DaemonArgs {
        config: args.config.clone(),
        timezone: args.timezone.clone(),
        ..DaemonArgs::default()
    };
    // Where a value came from only matters to `redline doctor`; the values themselves
    // are in `daemon` (the nested subcommand's matches are not `source`'s).
    let _ = source;
    let cfg = config::resolve(&daemon, &|_: &str| None, env)?;
    let mut out = io::stdout().lock();
    if args.no_text || !cfg.text.enabled {
        let why = if args.no_text {
            "--no-text"
        } else {
            "[text] enabled = false"
        };
        if args.json {
            writeln!(out, "{}", json!({ "enabled": false, "reason": why }))?;
        } else {
            writeln!(out, "Text statistics are off ({why}): nothing was read.")?;
        }
        return Ok(());
    }
    let tz = cfg.settings.tz.clone();
    let since_ms = match args.days {
        Some(days) => first_ms(days, &tz, jiff::Timestamp::now())?,
        None => i64::MIN,
    };
    let roots = resolve_roots(env);
    let listing = survey(&roots);
    for skipped in &listing.skipped {
        eprintln!("redline: warning: {skipped}");
    }
    let mut counter = TextCounter::new(Watch::new(&cfg.text.watch), tz, since_ms);
    let pass = scan_text(listing.transcripts, &mut counter, None);
    if counter.stats.bad_lines > 0 {
        eprintln!(
            "redline: warning: {} lines are not JSON and were passed over (`redline report` names them)",
            counter.stats.bad_lines
        );
    }
    let text = if args.json {
        serde_json::to_string_pretty(&to_json(&counter, &pass, args.top))? + "\n"
    } else {
        tables(&counter.character, args.top, Fit::stdout(false).width)
    };
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// The first millisecond of the `days`-day range that ends today (local days in `tz`).
pub(crate) fn first_ms(days: u32, tz: &TimeZone, now: jiff::Timestamp) -> Result<i64> {
    let today = tz.to_datetime(now).date();
    let first = today.checked_sub(jiff::Span::new().days(i64::from(days) - 1))?;
    let midnight = first.to_datetime(jiff::civil::Time::midnight());
    Ok(tz
        .to_ambiguous_timestamp(midnight)
        .compatible()?
        .as_millisecond())
}

fn counts_json(c: &Counts) -> Value {
    json!({
        "em_dashes": c.em_dashes,
        "en_dashes": c.en_dashes,
        "words": c.words,
        "em_dashes_per_1k_words": round2(c.em_per_1k_words()),
        "pieces": c.pieces,
    })
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn side(c: &Character, s: Side) -> Counts {
    c.totals.get(&s).copied().unwrap_or_default()
}

/// Each key's counts per side, from a map keyed by (key, side).
fn by_key(map: &BTreeMap<(String, Side), Counts>, key: &str) -> Vec<Value> {
    let mut rows: BTreeMap<&str, BTreeMap<&str, Value>> = BTreeMap::new();
    for ((k, s), c) in map {
        rows.entry(k).or_default().insert(s.name(), counts_json(c));
    }
    rows.into_iter()
        .map(|(k, sides)| {
            let mut v = json!({ key: k });
            for (s, c) in sides {
                v[s] = c;
            }
            v
        })
        .collect()
}

/// `--json`: `totals` is the assistant's text (main chain and subagents); `main`,
/// `subagent` and `user` split it and give the prompts for contrast.
fn to_json(counter: &TextCounter, pass: &PassStats, top: usize) -> Value {
    let c = &counter.character;
    let mut models: BTreeMap<&str, BTreeMap<&str, Value>> = BTreeMap::new();
    let mut model_totals: BTreeMap<&str, Counts> = BTreeMap::new();
    for ((s, m), k) in &c.by_model {
        if *s == Side::User {
            continue;
        }
        models
            .entry(m)
            .or_default()
            .insert(s.name(), counts_json(k));
        model_totals.entry(m).or_default().add(k);
    }
    let by_model: Vec<Value> = models
        .into_iter()
        .map(|(m, sides)| {
            let mut v = counts_json(&model_totals[m]);
            v["model"] = json!(m);
            for (s, k) in sides {
                v[s] = k;
            }
            v
        })
        .collect();
    let watch: Vec<Value> = c
        .watch
        .phrases
        .iter()
        .zip(&c.watch_counts)
        .map(|(p, n)| json!({ "phrase": p, "count": n }))
        .collect();
    json!({
        "totals": counts_json(&c.assistant()),
        "main": counts_json(&side(c, Side::Main)),
        "subagent": counts_json(&side(c, Side::Subagent)),
        "user": counts_json(&side(c, Side::User)),
        "by_model": by_model,
        "by_day": by_key(&c.by_day, "date"),
        "by_project": by_key(&c.by_project, "project"),
        "by_session": by_key(&c.by_session, "session"),
        "phrases": c.phrases.top(top),
        "phrases_seen": c.phrases.offered,
        "watch": watch,
        "read": {
            "files": pass.files,
            "unreadable_files": pass.unreadable_files,
            "bytes": pass.bytes,
            "pieces": counter.stats.pieces,
            "duplicates": counter.stats.duplicates,
            "bad_lines": counter.stats.bad_lines,
        },
    })
}

fn per_1k(c: &Counts) -> String {
    format!("{:.2}", c.em_per_1k_words())
}

fn count_cells(c: &Counts) -> Vec<String> {
    vec![
        thousands(c.em_dashes),
        thousands(c.en_dashes),
        thousands(c.words),
        per_1k(c),
    ]
}

const COUNT_COLUMNS: [(&str, Align); 4] = [
    ("Em-dashes", Align::Right),
    ("En-dashes", Align::Right),
    ("Words", Align::Right),
    ("Em/1k words", Align::Right),
];

fn with_first(first: (&'static str, Align)) -> Vec<(&'static str, Align)> {
    std::iter::once(first).chain(COUNT_COLUMNS).collect()
}

/// The tables: totals, per model, per day, top phrases, the watch list.
fn tables(c: &Character, top: usize, width: Option<usize>) -> String {
    let width = Some(width.unwrap_or(80).min(80));
    let mut out = String::from("Claude Code Character Report\n\n");

    let mut t = Table::new(&with_first(("Text", Align::Left)));
    for (name, k) in [
        ("Assistant, main chain", side(c, Side::Main)),
        ("Assistant, subagents", side(c, Side::Subagent)),
        ("Your prompts", side(c, Side::User)),
    ] {
        t.row(
            std::iter::once(name.to_owned())
                .chain(count_cells(&k))
                .collect(),
        );
    }
    t.footer(
        std::iter::once("Assistant, all".to_owned())
            .chain(count_cells(&c.assistant()))
            .collect(),
    );
    out += &t.render(width);

    let mut per_model: BTreeMap<&str, Counts> = BTreeMap::new();
    for ((s, m), k) in &c.by_model {
        if *s != Side::User {
            per_model.entry(m).or_default().add(k);
        }
    }
    if !per_model.is_empty() {
        out += "\nAssistant by model\n";
        let mut t = Table::new(&with_first(("Model", Align::Left)));
        for (m, k) in &per_model {
            let name = if m.is_empty() { "(none)" } else { m };
            t.row(
                std::iter::once(name.to_owned())
                    .chain(count_cells(k))
                    .collect(),
            );
        }
        out += &t.render(width);
    }

    let mut days: BTreeMap<&str, (Counts, Counts)> = BTreeMap::new();
    for ((d, s), k) in &c.by_day {
        let e = days.entry(d).or_default();
        if *s == Side::User { &mut e.1 } else { &mut e.0 }.add(k);
    }
    if !days.is_empty() {
        out += "\nBy day (assistant, then your prompts)\n";
        let mut t = Table::new(&[
            ("Date", Align::Left),
            ("Em-dashes", Align::Right),
            ("Words", Align::Right),
            ("Em/1k", Align::Right),
            ("Yours", Align::Right),
            ("Your words", Align::Right),
            ("Your em/1k", Align::Right),
        ]);
        for (d, (a, u)) in &days {
            t.row(vec![
                (*d).to_owned(),
                thousands(a.em_dashes),
                thousands(a.words),
                per_1k(a),
                thousands(u.em_dashes),
                thousands(u.words),
                per_1k(u),
            ]);
        }
        out += &t.render(width);
    }

    let phrases = c.phrases.top(top);
    if !phrases.is_empty() {
        out += "\nThe assistant's most repeated phrases\n";
        let mut t = Table::new(&[
            ("#", Align::Right),
            ("Phrase", Align::Left),
            ("Count", Align::Right),
        ]);
        for (i, p) in phrases.iter().enumerate() {
            let count = if p.error > 0 {
                format!("~{}", thousands(p.count))
            } else {
                thousands(p.count)
            };
            t.row(vec![(i + 1).to_string(), p.phrase.clone(), count]);
        }
        out += &t.render(width);
    }

    if !c.watch.phrases.is_empty() {
        out += "\nWatch list ([text] watch in config.toml)\n";
        let mut t = Table::new(&[("Phrase", Align::Left), ("Count", Align::Right)]);
        for (p, n) in c.watch.phrases.iter().zip(&c.watch_counts) {
            t.row(vec![p.clone(), thousands(*n)]);
        }
        out += &t.render(width);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use redline_engine::text::{DEFAULT_WATCH, Place};

    #[test]
    fn the_days_range_starts_at_local_midnight() {
        let tz = TimeZone::UTC;
        let now: jiff::Timestamp = "2026-03-05T15:00:00Z".parse().unwrap();
        let first: jiff::Timestamp = "2026-03-03T00:00:00Z".parse().unwrap();
        assert_eq!(first_ms(3, &tz, now).unwrap(), first.as_millisecond());
    }

    #[test]
    fn tables_fit_80_columns() {
        let mut c = Character::new(Watch::new(&DEFAULT_WATCH));
        let place = Place {
            side: Side::Main,
            day: "2026-03-05",
            model: "claude-sonnet-4-5-20250929-with-a-long-name",
            project: "p",
            session: "s",
        };
        c.add(
            place,
            &"You're absolutely right \u{2014} word. ".repeat(300_000),
        );
        let text = tables(&c, 15, None);
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "{line}");
        }
        assert!(text.contains("you're absolutely right"));
    }
}
