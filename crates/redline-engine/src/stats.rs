//! Deep stats for the web page (`/api/stats/*`): the history held by the live state, cut
//! the ways a person looks at it. Every figure is built from the same priced, deduplicated
//! responses as `redline report`, so a day's cost here is the day's cost there.
//!
//! Each function takes the dataset of the last `days` local days and `now`, and returns
//! plain JSON; none reads a clock.

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

/// The window a stat covers: `days` local days ending today.
#[derive(Clone, Debug)]
pub struct Window {
    /// Milliseconds since the epoch, now.
    pub now_ms: i64,
    /// Local days to cover, today included (1..=366).
    pub days: u32,
    /// The user's zone.
    pub tz: TimeZone,
    /// The block budget in force, for the blocks chart's line.
    pub budget_tokens: Option<u64>,
    /// At most this many rows where a list is cut (sessions, projects).
    pub limit: usize,
}

impl Window {
    /// The first local date covered.
    pub fn since(&self) -> Date {
        let today = self.tz.to_datetime(instant(self.now_ms)).date();
        today
            .checked_sub(jiff::Span::new().days(i64::from(self.days.clamp(1, 366)) - 1))
            .unwrap_or(today)
    }

    /// Report options restricted to the window.
    pub fn options(&self, mode: crate::prices::CostMode) -> ReportOptions {
        ReportOptions {
            tz: self.tz.clone(),
            mode,
            since: Some(self.since()),
            ..ReportOptions::default()
        }
    }
}

fn tokens_json(t: TokenCounts) -> Value {
    json!({"input": t.input, "output": t.output, "cacheCreation": t.cache_creation,
           "cacheRead": t.cache_read, "total": t.total()})
}

fn usd(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

/// One stat over `data` (a dataset prepared with [`Window::options`]).
pub fn stat(which: Stat, data: &Dataset<'_>, w: &Window, opts: &ReportOptions) -> Value {
    let since = w.since();
    let mut v = match which {
        Stat::Daily => daily(data, opts),
        Stat::Blocks => blocks(data, w),
        Stat::Projects => projects(data, since, w.limit),
        Stat::Cache => cache(data, since),
        Stat::Thinking => thinking(data, since),
        Stat::Sessions => sessions(data, opts, w.limit),
        Stat::Hours => hours(data, since, &w.tz),
    };
    if let Value::Object(m) = &mut v {
        m.insert("since".into(), json!(since.to_string()));
        m.insert("days".into(), json!(w.days));
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

fn blocks(data: &Dataset<'_>, w: &Window) -> Value {
    // Blocks chain through time: walk what the dataset holds (a day more than the
    // window), then keep the blocks that reach into the window.
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
    let from_ms = w
        .now_ms
        .saturating_sub(i64::from(w.days.clamp(1, 366)) * 24 * 3600 * 1000);
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
    let mut all = Ratio::default();
    for i in data.items.iter().filter(|i| i.date >= since) {
        let t = i.entry.thinking_tokens();
        let output = i.entry.tokens().output;
        by.entry(i.date).or_default().add(t, output);
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
    json!({"rows": rows, "overall": row(&all)})
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
