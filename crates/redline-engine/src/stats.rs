//! Deep stats for the web page (`/api/stats/*`): the history held by the live state, cut
//! the ways a person looks at it. Every figure is built from the same priced, deduplicated
//! responses as `redline report`, so a day's cost here is the day's cost there.
//!
//! Each function takes the dataset of the last `days` local days (or of all history, see
//! [`ALL_DAYS`]) and `now`, and returns plain JSON; none reads a clock.

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use redline_core::TokenCounts;
use serde_json::{Value, json};

use crate::blocks::{BLOCK_MS, BlockEntry, build_blocks};
use crate::report::{self, Dataset, ReportOptions};
use crate::thinking::Ratio;
use crate::timestamp::instant;
use crate::usage::round_share as share;

/// Which stat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stat {
    /// Tokens and cost per day, by model.
    Daily,
    /// 5-hour blocks, with the budget.
    Blocks,
    /// Cost and tokens by project.
    Projects,
    /// Cache reads as a share of the prompt, per day and overall.
    Cache,
    /// Thinking tokens as a share of output, per day and overall.
    Thinking,
    /// The costliest sessions.
    Sessions,
    /// Tokens by weekday and hour of day.
    Hours,
}

impl Stat {
    /// The stat named in `/api/stats/<name>`.
    pub fn from_name(name: &str) -> Option<Stat> {
        Some(match name {
            "daily" => Stat::Daily,
            "blocks" => Stat::Blocks,
            "projects" => Stat::Projects,
            "cache" => Stat::Cache,
            "thinking" => Stat::Thinking,
            "sessions" => Stat::Sessions,
            "hours" => Stat::Hours,
            _ => return None,
        })
    }

    /// Every stat's name, for the index.
    pub const NAMES: [&'static str; 7] = [
        "daily", "blocks", "projects", "cache", "thinking", "sessions", "hours",
    ];
}

/// `days` asking for all of history: every day from the first with a response to today.
pub const ALL_DAYS: u32 = 0;

/// The window a stat covers: `days` local days ending today, or all of history.
#[derive(Clone, Debug)]
pub struct Window {
    /// Milliseconds since the epoch, now.
    pub now_ms: i64,
    /// Local days to cover, today included (1..=366), or [`ALL_DAYS`].
    pub days: u32,
    /// The user's zone.
    pub tz: TimeZone,
    /// The block budget in force, for the blocks chart's line.
    pub budget_tokens: Option<u64>,
    /// At most this many rows where a list is cut (sessions, projects).
    pub limit: usize,
}

impl Window {
    /// Today, in the user's zone.
    pub fn today(&self) -> Date {
        self.tz.to_datetime(instant(self.now_ms)).date()
    }

    /// The whole of history rather than a number of days.
    pub fn is_all(&self) -> bool {
        self.days == ALL_DAYS
    }

    /// The first local date covered; `None` for all of history (whose first day is the
    /// data's, see [`first_day`]).
    pub fn since(&self) -> Option<Date> {
        if self.is_all() {
            return None;
        }
        let today = self.today();
        Some(crate::days::first_of(today, self.days.clamp(1, 366)).unwrap_or(today))
    }

    /// Report options restricted to the window.
    pub fn options(&self, mode: crate::prices::CostMode) -> ReportOptions {
        ReportOptions {
            tz: self.tz.clone(),
            mode,
            since: self.since(),
            ..ReportOptions::default()
        }
    }
}

/// The first day a stat over `data` covers: the window's, or for all of history the day of
/// the earliest response (today when there is none), so the page's axis starts where the
/// data does.
pub fn first_day(data: &Dataset<'_>, w: &Window) -> Date {
    let today = w.today();
    w.since().unwrap_or_else(|| {
        data.items
            .iter()
            .map(|i| i.date)
            .min()
            .unwrap_or(today)
            .min(today)
    })
}

/// The instant a local day begins, ms since the epoch (0 where the zone cannot place it).
fn day_start_ms(day: Date, tz: &TimeZone) -> i64 {
    crate::days::start_ms(day, tz).unwrap_or(0)
}

fn tokens_json(t: TokenCounts) -> Value {
    json!({"input": t.input, "output": t.output, "cacheCreation": t.cache_creation,
           "cacheRead": t.cache_read, "total": t.total()})
}

fn usd(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

/// One stat over `data` (a dataset prepared with [`Window::options`]). Every answer says
/// which days it covers: `since` and `until` (today), both local dates, `days` (how many,
/// every one of them, for all of history too), `range` (the `days` asked for, or `"all"`)
/// and `from`/`to`, the instants the first day begins and the last one ends, for charts
/// that place things in time (the blocks).
pub fn stat(which: Stat, data: &Dataset<'_>, w: &Window, opts: &ReportOptions) -> Value {
    let since = first_day(data, w);
    let until = w.today();
    let from_ms = day_start_ms(since, &w.tz);
    let mut v = match which {
        Stat::Daily => daily(data, opts),
        Stat::Blocks => blocks(data, w, from_ms),
        Stat::Projects => projects(data, since, w.limit),
        Stat::Cache => cache(data, since),
        Stat::Thinking => thinking(data, since),
        Stat::Sessions => sessions(data, opts, w.limit),
        Stat::Hours => hours(data, since, &w.tz),
    };
    if let Value::Object(m) = &mut v {
        let days = since.until(until).map_or(0, |s| s.get_days()) + 1;
        let to_ms = until
            .tomorrow()
            .map_or(w.now_ms, |d| day_start_ms(d, &w.tz));
        m.insert("since".into(), json!(since.to_string()));
        m.insert("until".into(), json!(until.to_string()));
        m.insert("days".into(), json!(days));
        m.insert(
            "range".into(),
            if w.is_all() {
                json!("all")
            } else {
                json!(w.days)
            },
        );
        m.insert("from".into(), json!(crate::usage::format_s(from_ms)));
        m.insert("to".into(), json!(crate::usage::format_s(to_ms)));
    }
    v
}

fn daily(data: &Dataset<'_>, opts: &ReportOptions) -> Value {
    let r = report::daily(data, opts);
    let days: Vec<Value> = r
        .rows
        .iter()
        .map(|row| {
            json!({
                "date": row.key,
                "tokens": tokens_json(row.tokens),
                "cost": usd(row.cost),
                "thinking_tokens": row.thinking.tokens(),
                "thinking_ratio": row.thinking.value().map(share),
                "cache_hit_rate": hit_ratio(row.tokens),
                "models": row.breakdowns.iter().map(|b| json!({
                    "model": b.model, "tokens": tokens_json(b.tokens), "cost": usd(b.cost)
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({"rows": days, "total_cost": usd(r.totals.cost), "total_tokens": tokens_json(r.totals.tokens)})
}

fn blocks(data: &Dataset<'_>, w: &Window, from_ms: i64) -> Value {
    // Blocks chain through time: walk what the dataset holds (a day more than the
    // window), then keep the blocks that reach into the window's first day or later.
    let mut entries: Vec<BlockEntry<'_>> = data
        .items
        .iter()
        .map(|i| BlockEntry {
            ts_ms: i.entry.ts_ms,
            tokens: i.entry.tokens(),
            cost_usd: i.cost,
            model: None,
            limit_reset_s: i.entry.limit_reset_s(),
        })
        .collect();
    entries.sort_by_key(|e| e.ts_ms);
    let rows: Vec<Value> = build_blocks(&entries, BLOCK_MS)
        .iter()
        .filter(|b| !b.is_gap && b.end_ms > from_ms)
        .map(|b| {
            json!({
                "start": crate::usage::format_s(b.start_ms),
                "end": crate::usage::format_s(b.end_ms),
                "last": b.actual_end_ms.map(crate::usage::format_s),
                "active": b.is_active(w.now_ms),
                "tokens": b.tokens.total(),
                "cost": usd(b.cost_usd),
                "limit_hit": b.usage_limit_reset_s.is_some(),
            })
        })
        .collect();
    json!({"rows": rows, "budget_tokens": w.budget_tokens})
}

fn projects(data: &Dataset<'_>, since: Date, limit: usize) -> Value {
    let mut by: BTreeMap<&str, (TokenCounts, f64, u64)> = BTreeMap::new();
    for i in data.items.iter().filter(|i| i.date >= since) {
        let p = by.entry(&data.files.get(i.entry.file).project).or_default();
        p.0 += i.entry.tokens();
        p.1 += i.cost;
        p.2 += 1;
    }
    let mut rows: Vec<(&str, (TokenCounts, f64, u64))> = by.into_iter().collect();
    rows.sort_by(|a, b| b.1.1.total_cmp(&a.1.1).then(a.0.cmp(b.0)));
    let rows: Vec<Value> = rows
        .into_iter()
        .take(limit)
        .map(|(project, (t, cost, n))| {
            json!({"project": project, "tokens": tokens_json(t), "cost": usd(cost), "responses": n})
        })
        .collect();
    json!({"rows": rows})
}

/// Cache reads over the whole prompt (uncached input + cache writes + cache reads).
fn hit_ratio(t: TokenCounts) -> Option<f64> {
    t.cache_hit_rate().map(share)
}

fn cache(data: &Dataset<'_>, since: Date) -> Value {
    let mut by: BTreeMap<Date, TokenCounts> = BTreeMap::new();
    let mut all = TokenCounts::default();
    for i in data.items.iter().filter(|i| i.date >= since) {
        *by.entry(i.date).or_default() += i.entry.tokens();
        all += i.entry.tokens();
    }
    let rows: Vec<Value> = by
        .into_iter()
        .map(|(d, t)| json!({"date": d.to_string(), "hit_ratio": hit_ratio(t), "tokens": tokens_json(t)}))
        .collect();
    json!({"rows": rows, "hit_ratio": hit_ratio(all)})
}

/// Thinking over output per day (see [`crate::thinking`] for how a response's thinking is
/// found), with how sure each figure is.
fn thinking(data: &Dataset<'_>, since: Date) -> Value {
    let mut by: BTreeMap<Date, Ratio> = BTreeMap::new();
    let mut models: BTreeMap<&str, Ratio> = BTreeMap::new();
    let mut all = Ratio::default();
    for i in data.items.iter().filter(|i| i.date >= since) {
        let t = i.entry.thinking_tokens();
        let output = i.entry.tokens().output;
        by.entry(i.date).or_default().add(t, output);
        if let Some(m) = data.model(i) {
            models.entry(m).or_default().add(t, output);
        }
        all.add(t, output);
    }
    let row = |r: &Ratio| {
        json!({"thinking_tokens": r.tokens(), "output_tokens": r.output,
               "ratio": r.value().map(share), "basis": r.basis().map(|b| b.as_str())})
    };
    let rows: Vec<Value> = by
        .iter()
        .map(|(d, r)| {
            let mut v = row(r);
            v["date"] = json!(d.to_string());
            v
        })
        .collect();
    let by_model: Vec<Value> = models
        .iter()
        .map(|(m, r)| {
            let mut v = row(r);
            v["model"] = json!(m);
            v
        })
        .collect();
    json!({"rows": rows, "by_model": by_model, "overall": row(&all)})
}

fn sessions(data: &Dataset<'_>, opts: &ReportOptions, limit: usize) -> Value {
    let r = report::session(data, opts);
    let rows: Vec<Value> = r
        .rows
        .iter()
        .take(limit)
        .map(|row| {
            let s = row.session.clone().unwrap_or_default();
            json!({
                "session": s.session_id, "project": s.project,
                "first": crate::usage::format_s(s.first_ms), "last": crate::usage::format_s(s.last_ms),
                "tokens": tokens_json(row.tokens), "cost": usd(row.cost), "models": row.models_used,
                "thinking_tokens": row.thinking.tokens(),
                "thinking_ratio": row.thinking.value().map(share),
                "cache_hit_rate": hit_ratio(row.tokens),
            })
        })
        .collect();
    json!({"rows": rows})
}

fn hours(data: &Dataset<'_>, since: Date, tz: &TimeZone) -> Value {
    // Monday first; tokens of all four kinds.
    let mut grid = [[0u64; 24]; 7];
    for i in data.items.iter().filter(|i| i.date >= since) {
        let dt = tz.to_datetime(instant(i.entry.ts_ms));
        let day = dt.weekday().to_monday_zero_offset() as usize;
        grid[day][dt.hour() as usize] += i.entry.tokens().total();
    }
    json!({"weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], "tokens": grid})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{Files, Models};
    use crate::prices::CostMode;
    use crate::report::ModelNames;

    fn window(days: u32) -> Window {
        Window {
            // 2026-03-10T12:00:00Z
            now_ms: 1_773_144_000_000,
            days,
            tz: TimeZone::UTC,
            budget_tokens: None,
            limit: 10,
        }
    }

    #[test]
    fn a_window_of_days_ends_today_and_all_of_history_has_no_first_day_of_its_own() {
        let w = window(7);
        assert_eq!(w.today().to_string(), "2026-03-10");
        assert_eq!(
            w.since().map(|d| d.to_string()).as_deref(),
            Some("2026-03-04")
        );
        assert!(!w.is_all());
        let all = window(ALL_DAYS);
        assert!(all.is_all());
        assert_eq!(all.since(), None);
        assert_eq!(all.options(CostMode::Auto).since, None);
    }

    #[test]
    fn every_answer_says_the_days_it_covers() {
        let files = Files::default();
        let names = ModelNames::new(&Models::default());
        let data = Dataset {
            items: Vec::new(),
            files: &files,
            names: &names,
        };
        for (w, since, days, range) in [
            (window(7), "2026-03-04", 7, json!(7)),
            // All of history with nothing in it: today alone.
            (window(ALL_DAYS), "2026-03-10", 1, json!("all")),
        ] {
            let opts = w.options(CostMode::Auto);
            let v = stat(Stat::Daily, &data, &w, &opts);
            assert_eq!(v["since"], since, "{v}");
            assert_eq!(v["until"], "2026-03-10");
            assert_eq!(v["days"], days);
            assert_eq!(v["range"], range);
            assert_eq!(v["from"], format!("{since}T00:00:00Z"));
            assert_eq!(v["to"], "2026-03-11T00:00:00Z");
        }
    }
}
