//! The correlation of each source with Claude usage, worked out ([`analyse`]) and written
//! as the JSON that `redline stats correlate --json` prints and `/api/correlate` answers
//! ([`document`]; its shape is in docs/stats.md).

use jiff::tz::TimeZone;
use redline_engine::correlate::{Correlation, Series, Usage, correlations, series};
use serde_json::{Value, json};

use super::load::Loaded;

/// One source over the window.
#[derive(Clone, Debug)]
pub struct Analysis {
    /// The source and what was read of it.
    pub loaded: Loaded,
    /// Its days and hours; `None` when nothing could be read.
    pub series: Option<Series>,
    /// Against cost and/or tokens.
    pub correlations: Vec<Correlation>,
}

/// Each source laid over `usage` (its window and zone).
pub fn analyse(usage: &Usage, loaded: &[Loaded], tz: &TimeZone) -> Vec<Analysis> {
    loaded
        .iter()
        .map(|l| {
            let s = &l.source;
            let series = l.rows.as_ref().map(|r| {
                series(
                    &r.events,
                    tz,
                    s.aggregate,
                    s.missing,
                    usage.since,
                    usage.until,
                )
            });
            let correlations = series
                .as_ref()
                .map(|x| correlations(&s.name, x, usage, &s.against))
                .unwrap_or_default();
            Analysis {
                loaded: l.clone(),
                series,
                correlations,
            }
        })
        .collect()
}

/// The whole answer. `range` is the `days` asked for (or `"all"`).
pub fn document(usage: &Usage, analyses: &[Analysis], tz: &TimeZone, range: Value) -> Value {
    let daily: Vec<Value> = usage
        .days
        .iter()
        .map(|d| json!({"date": d.date.to_string(), "cost_usd": d.cost, "tokens": d.tokens}))
        .collect();
    let hourly: Vec<Value> = (0..24)
        .map(|h| json!({"hour": h, "cost_usd": usage.hour_cost[h], "tokens": usage.hour_tokens[h]}))
        .collect();
    json!({
        "since": usage.since.to_string(),
        "until": usage.until.to_string(),
        "days": usage.days.len(),
        "range": range,
        "timezone": tz.iana_name().unwrap_or("UTC"),
        "usage": {"daily": daily, "hourly": hourly},
        "sources": analyses.iter().map(source_json).collect::<Vec<_>>(),
    })
}

fn source_json(a: &Analysis) -> Value {
    let l = &a.loaded;
    let s = &l.source;
    let rows = l.rows.as_deref();
    let mut v = json!({
        "name": s.name,
        "kind": s.place.kind(),
        "origin": s.place.origin(),
        "format": l.format.or(s.format).map(|f| f.name()),
        "time": s.fields.time,
        "value": s.fields.value,
        "aggregate": s.aggregate.name(),
        "missing": s.missing.name(),
        "against": s.against.iter().map(|a| a.name()).collect::<Vec<_>>(),
        "read_at": l.read_at.map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
        "error": l.error,
        "rows": rows.map(|r| r.events.len()),
        "bad_rows": rows.map_or(0, |r| r.bad),
        "bad_examples": rows.map_or_else(Vec::new, |r| r.first_bad.iter()
            .map(|b| json!({"place": b.place, "why": b.why})).collect()),
    });
    let Some(x) = &a.series else {
        v["covered"] = Value::Null;
        v["daily"] = json!([]);
        v["hourly"] = json!([]);
        v["correlations"] = json!([]);
        return v;
    };
    v["covered"] = x.covered.map_or(
        Value::Null,
        |(a, b)| json!({"first": a.to_string(), "last": b.to_string()}),
    );
    v["events_in_window"] = json!(x.events);
    v["without_hour"] = json!(x.without_hour);
    v["daily"] = x
        .days
        .iter()
        .map(|(d, f)| json!({"date": d.to_string(), "value": f}))
        .collect();
    v["hourly"] = x
        .hours
        .iter()
        .enumerate()
        .map(|(h, f)| json!({"hour": h, "value": f}))
        .collect();
    v["correlations"] = a
        .correlations
        .iter()
        .map(|c| {
            json!({
                "against": c.against.name(), "n": c.n, "pearson": c.pearson,
                "spearman": c.spearman, "reading": c.reading,
            })
        })
        .collect();
    v
}
