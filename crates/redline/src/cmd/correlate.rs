//! `redline stats correlate`: each `[[correlate]]` source of config.toml read once (its
//! file, or its URL fetched), laid by day beside Claude cost and tokens from the same
//! accounting as `redline report daily`, with the correlation and what it means; as
//! 80-column tables or as the JSON the daemon's `/api/correlate` answers.

use std::io::{self, Write};

use anyhow::Result;
use jiff::tz::TimeZone;
use redline_engine::correlate::{self, Usage};
use redline_engine::prices::PriceTable;
use redline_engine::report::{self, ModelNames, ReportOptions};
use redline_engine::roots::{RootEnv, resolve_roots, survey};
use redline_engine::scan::scan;
use serde_json::json;

use crate::cli::CorrelateArgs;
use crate::cmd::report::warn_about_input;
use crate::config::{self, DaemonArgs, printable};
use crate::correlate::document::{Analysis, analyse, document};
use crate::correlate::load::{Loaded, read_all};
use crate::history::History;
use crate::table::{Align, Fit, Table, thousands, usd};

/// Runs `redline stats correlate`.
pub fn run(args: &CorrelateArgs, env: &RootEnv) -> Result<()> {
    let daemon = DaemonArgs {
        config: args.config.clone(),
        timezone: args.timezone.clone(),
        ..DaemonArgs::default()
    };
    let cfg = config::resolve(&daemon, &|_: &str| None, env)?;
    let mut out = io::stdout().lock();
    if cfg.correlate.is_empty() && !args.json {
        let file = cfg.file.clone().or_else(|| {
            env.config_home()
                .map(|h| h.join("redline").join("config.toml"))
        });
        let file = file.map_or_else(|| "config.toml".to_owned(), |f| f.display().to_string());
        writeln!(
            out,
            "No [[correlate]] sources in {file}. Add one, such as:\n\n{EXAMPLE}\nThe keys: docs/stats.md, \"Correlate\"."
        )?;
        return Ok(());
    }
    let loaded = read_all(&cfg.correlate);
    warn_about_sources(&loaded);

    let tz = cfg.settings.tz.clone();
    let roots = resolve_roots(env);
    let history = History::start(&roots, &cfg, None);
    let listing = survey(&roots);
    for skipped in &listing.skipped {
        eprintln!("redline: warning: {skipped}");
    }
    let mut scan = scan(listing.transcripts, None);
    scan.ledger.release_index();
    warn_about_input(&scan);
    let prices = PriceTable::bundled_with(cfg.prices.as_deref())?;
    history.keep(&mut scan, &cfg, &prices)?;
    let today = tz.to_datetime(jiff::Timestamp::now()).date();
    let since = redline_engine::days::first_of(today, args.days).unwrap_or(today);
    let opts = ReportOptions {
        tz: tz.clone(),
        mode: cfg.cost_mode,
        since: Some(since),
        until: Some(today),
        ..ReportOptions::default()
    };
    let names = ModelNames::new(&scan.models);
    let data = report::prepare(&scan, &prices, &opts, &names);
    let usage = correlate::usage(&data, &opts, since, today);
    let analyses = analyse(&usage, &loaded, &tz);
    let text = if args.json {
        let doc = document(&usage, &analyses, &tz, json!(args.days));
        serde_json::to_string_pretty(&doc)? + "\n"
    } else {
        tables(&usage, &analyses, &tz, Fit::stdout(false).width)
    };
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// What a new user can paste into config.toml.
const EXAMPLE: &str = "[[correlate]]\nname = \"hours worked\"\npath = \"~/timesheet.csv\"\ntime = \"date\"\nvalue = \"hours\"\n";

/// Each source that could not be read, and the first bad rows of each, on stderr.
fn warn_about_sources(loaded: &[Loaded]) {
    for l in loaded {
        let name = &l.source.name;
        if let Some(e) = &l.error {
            eprintln!(
                "redline: warning: correlate source {name:?}: {}",
                printable(e)
            );
        }
        let Some(rows) = &l.rows else { continue };
        for b in &rows.first_bad {
            eprintln!(
                "redline: warning: correlate source {name:?}: {}",
                printable(&b.to_string())
            );
        }
        let more = rows.bad.saturating_sub(rows.first_bad.len() as u64);
        if more > 0 {
            eprintln!(
                "redline: warning: correlate source {name:?}: {} more bad rows passed over",
                thousands(more)
            );
        }
    }
}

/// What `redline doctor` says of each `[[correlate]]` source: read (or fetched) now, its
/// rows, the days they cover, and what is wrong.
pub fn doctor(sources: &[crate::correlate::Source], tz: &TimeZone) -> Vec<String> {
    let mut out = Vec::new();
    for l in read_all(sources) {
        let s = &l.source;
        out.push(format!(
            "\ncorrelate {:?} ({} {})",
            s.name,
            s.place.kind(),
            s.place.origin()
        ));
        if let Some(e) = &l.error {
            out.push(format!("  cannot read: {}", printable(e)));
        }
        let Some(rows) = &l.rows else { continue };
        let days = rows.events.iter().map(|e| e.when.local(tz).0);
        let span = match (days.clone().min(), days.max()) {
            (Some(a), Some(b)) => format!(", {a} to {b}"),
            _ => String::new(),
        };
        out.push(format!(
            "  {} rows ({}, time {:?}), {} bad{span}",
            thousands(rows.events.len() as u64),
            l.format.map_or("?", |f| f.name()),
            s.fields.time,
            thousands(rows.bad)
        ));
        for b in &rows.first_bad {
            out.push(format!("  bad row: {}", printable(&b.to_string())));
        }
    }
    out
}

/// A source's figure: with separators when the whole series is whole numbers (counts,
/// dollars without cents), else to two places; `-` for none.
fn figure(v: Option<f64>, whole: bool) -> String {
    match v {
        None => "-".to_owned(),
        Some(v) if whole => {
            let s = thousands(v.abs() as u64);
            if v < 0.0 { format!("-{s}") } else { s }
        }
        Some(v) => format!("{v:.2}"),
    }
}

/// One table per source, its correlation lines under it.
fn tables(usage: &Usage, analyses: &[Analysis], tz: &TimeZone, width: Option<usize>) -> String {
    let width = width.unwrap_or(80).min(80);
    let mut out = format!(
        "Correlation with Claude usage, {} to {} ({} days, {})\n",
        usage.since,
        usage.until,
        usage.days.len(),
        tz.iana_name().unwrap_or("UTC")
    );
    for a in analyses {
        let s = &a.loaded.source;
        let what = match (&s.fields.value, s.aggregate) {
            (None, _) | (_, correlate::Aggregate::Count) => "events counted".to_owned(),
            (Some(v), agg) => format!("{} of {v:?}", agg.name()),
        };
        out.push('\n');
        let heading = format!("{} ({}, {what} by day)", s.name, s.place.origin());
        for l in crate::table::wrap(&heading, width) {
            out += &l;
            out.push('\n');
        }
        let Some(series) = &a.series else {
            out += &format!(
                "  not read: {}\n",
                a.loaded.error.as_deref().unwrap_or("no rows")
            );
            continue;
        };
        if let Some(e) = &a.loaded.error {
            out += &format!("  the last read failed ({e}); these are the rows read before\n");
        }
        let mut t = Table::new(&[
            ("Date", Align::Left),
            ("Cost", Align::Right),
            ("Tokens", Align::Right),
            (s.name.as_str(), Align::Right),
        ]);
        let whole = series
            .days
            .iter()
            .filter_map(|(_, v)| *v)
            .all(|v| v.fract() == 0.0 && v.abs() < 1e15);
        for (d, (date, v)) in usage.days.iter().zip(&series.days) {
            t.row(vec![
                date.to_string(),
                usd(d.cost),
                thousands(d.tokens),
                figure(*v, whole),
            ]);
        }
        out += &t.render(Some(width));
        for c in &a.correlations {
            let line = format!("Against {}: {}", c.against.name(), c.reading);
            for l in crate::table::wrap(&line, width) {
                out += &l;
                out.push('\n');
            }
        }
        if let Some(rows) = &a.loaded.rows
            && rows.bad > 0
        {
            out += &format!(
                "{} bad rows passed over (named on stderr)\n",
                thousands(rows.bad)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_plainly() {
        assert_eq!(figure(None, true), "-");
        assert_eq!(figure(Some(12_345.0), true), "12,345");
        assert_eq!(figure(Some(-3.0), true), "-3");
        assert_eq!(figure(Some(7.456), false), "7.46");
        assert_eq!(figure(Some(2.0), false), "2.00");
    }
}
