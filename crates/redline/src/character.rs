//! The character statistics of the transcripts' text (see `redline_engine::text`), read
//! in one pass of their own: what `redline stats character --json` prints and
//! `GET /api/character` answers. So that `redline report` never pays for it, nothing
//! else runs this pass.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use jiff::tz::TimeZone;
use redline_engine::days as local_days;
use redline_engine::roots::{Root, survey};
use redline_engine::text::{Character, Counts, Side, Spark, Watch};
use redline_engine::textline::TextCounter;
use redline_engine::textscan::{PassStats, scan_text};
use serde_json::{Value, json};

use crate::config::Config;

/// What one pass read and counted.
pub struct Read {
    /// The counts.
    pub counter: TextCounter,
    /// What the pass read.
    pub pass: PassStats,
    /// Roots or directories that could not be listed, in words.
    pub skipped: Vec<String>,
}

/// Reads the text of every transcript under `roots` whose time is in the last `days`
/// local days before `now` (all of them for `None`), with `cfg`'s watch list and time
/// zone. With `days`, each top phrase keeps a sparkline over them.
pub fn read(roots: &[Root], cfg: &Config, days: Option<u32>, now: jiff::Timestamp) -> Result<Read> {
    let tz = cfg.settings.tz.clone();
    let (since_ms, spark) = match days {
        Some(days) => {
            let (first, ms) = last_days(days, &tz, now)?;
            (ms, Some(Spark::new(first, days)))
        }
        None => (i64::MIN, None),
    };
    let listing = survey(roots);
    let mut counter = TextCounter::with_spark(Watch::new(&cfg.text.watch), tz, since_ms, spark);
    let pass = scan_text(listing.transcripts, &mut counter, None);
    Ok(Read {
        counter,
        pass,
        skipped: listing.skipped.iter().map(ToString::to_string).collect(),
    })
}

/// The `days`-day range that ends today (local days in `tz`): its first day, and the
/// millisecond that day begins.
pub fn last_days(
    days: u32,
    tz: &TimeZone,
    now: jiff::Timestamp,
) -> Result<(jiff::civil::Date, i64)> {
    let first = local_days::first_of(tz.to_datetime(now).date(), days)
        .context("the days reach before the calendar")?;
    let ms = local_days::start_ms(first, tz)
        .with_context(|| format!("{first} has no start in the time zone"))?;
    Ok((first, ms))
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

/// One side's counts (zero when it has none).
pub fn side(c: &Character, s: Side) -> Counts {
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

/// The JSON document: `totals` is the assistant's text (main chain and subagents);
/// `main`, `subagent` and `user` split it and give the prompts for contrast; `top` is
/// how many phrases to list. See docs/stats.md for every key.
pub fn to_json(read: &Read, top: usize) -> Value {
    let (counter, pass) = (&read.counter, &read.pass);
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
    let by_day_model: Vec<Value> = c
        .by_day_model
        .iter()
        .map(|((d, m), k)| {
            let mut v = counts_json(k);
            v["date"] = json!(d);
            v["model"] = json!(m);
            v
        })
        .collect();
    let watch_by_day: Vec<Value> = c
        .watch_by_day
        .iter()
        .map(|(d, counts)| json!({ "date": d, "counts": counts }))
        .collect();
    let spark = c.spark.map_or(
        Value::Null,
        |s| json!({ "first": s.first.to_string(), "days": s.days, "bars": s.bars }),
    );
    json!({
        "totals": counts_json(&c.assistant()),
        "main": counts_json(&side(c, Side::Main)),
        "subagent": counts_json(&side(c, Side::Subagent)),
        "user": counts_json(&side(c, Side::User)),
        "by_model": by_model,
        "by_day": by_key(&c.by_day, "date"),
        "by_day_model": by_day_model,
        "by_project": by_key(&c.by_project, "project"),
        "by_session": by_key(&c.by_session, "session"),
        "phrases": c.phrases.top(top),
        "phrases_seen": c.phrases.offered,
        "spark": spark,
        "watch": watch,
        "watch_by_day": watch_by_day,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_days_range_starts_at_local_midnight() {
        let tz = TimeZone::UTC;
        let now: jiff::Timestamp = "2026-03-05T15:00:00Z".parse().unwrap();
        let (first, ms) = last_days(3, &tz, now).unwrap();
        assert_eq!(first.to_string(), "2026-03-03");
        let midnight: jiff::Timestamp = "2026-03-03T00:00:00Z".parse().unwrap();
        assert_eq!(ms, midnight.as_millisecond());
    }
}
