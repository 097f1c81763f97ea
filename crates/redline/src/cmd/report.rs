//! `redline report daily|weekly|monthly|session|blocks`: ccusage's Claude reports, from
//! the same transcripts, as JSON in ccusage's shapes or as a table.

use std::io::{self, Write};

use anyhow::{Result, bail};
use clap::ValueEnum;
use clap::parser::ValueSource;
use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use redline_engine::blocks::{self, Block};
use redline_engine::live::Budget;
use redline_engine::prices::{PriceTable, strip_date};
use redline_engine::report::{self, BlockFilter, Kind, ModelNames, Order, Report, ReportOptions};
use redline_engine::roots::{RootEnv, resolve_roots};
use redline_engine::scan::{Scan, ScanOptions};

use crate::cli::{OrderArg, ReportArgs, ReportKind, TokenLimit, WeekStart};
use crate::config::{self, Config, DaemonArgs, Origin};
use crate::history::History;
use crate::table::{Align, Fit, Table, thousands, usd};

/// How many line errors are printed before the rest are only counted.
const SHOWN_ERRORS: usize = 20;

/// Runs the report.
pub fn run(
    args: &ReportArgs,
    source: &dyn Fn(&str) -> Option<ValueSource>,
    env: &RootEnv,
) -> Result<()> {
    // Settings first: a wrong time zone or config file is refused before the scan.
    let cfg = settings(args, source, env)?;
    if let (Some(since), Some(until)) = (args.since, args.until)
        && since > until
    {
        bail!("--since {since} is after --until {until}: no day can be in both");
    }
    let started = std::time::Instant::now();
    crate::memory::fixed_mmap_threshold();
    let roots = resolve_roots(env);
    let history =
        (!args.transcripts_only).then(|| History::start(&roots, &cfg, args.project.as_deref()));
    // The index first: the listing does not read the directories it knows unchanged.
    let mut indexes = crate::scan_index::open(&roots, env, args.no_index);
    let listing_started = std::time::Instant::now();
    // A directory that cannot be read is named, and the rest counted.
    let listing = indexes.list(&roots);
    for skipped in &listing.skipped {
        eprintln!("redline: warning: {skipped}");
    }
    let listed = listing_started.elapsed();
    let mut transcripts = listing.transcripts;
    let mut left_out = Vec::new();
    if let Some(p) = &args.project {
        let others: Vec<redline_engine::roots::Transcript>;
        (transcripts, others) = transcripts.into_iter().partition(|t| *t.project == **p);
        left_out = others.iter().map(|t| t.path.clone()).collect();
        if transcripts.is_empty() && !others.is_empty() {
            // Only when nothing matched: the names there are, to say which was meant.
            let mut names: Vec<String> =
                others.into_iter().map(|t| t.project.to_string()).collect();
            names.sort();
            names.dedup();
            eprintln!("redline: {}", unknown_project(p, &names));
        }
    }
    if env.claude_config_dir.is_some() && !roots.iter().any(|r| r.projects.is_dir()) {
        let names: Vec<String> = roots
            .iter()
            .map(|r| r.projects.display().to_string())
            .collect();
        eprintln!(
            "redline: warning: CLAUDE_CONFIG_DIR names no existing projects/ directory ({})",
            names.join(", ")
        );
    }
    let (mut scan, mut used, writing) =
        crate::scan_index::scan(transcripts, ScanOptions::default(), indexes, left_out, true);
    let scanned = started.elapsed();
    warn_about_input(&scan);

    let prices = PriceTable::bundled_with(cfg.prices.as_deref())?;
    if let Some(history) = history {
        history.keep(&mut scan, &cfg, &prices)?;
    }
    let opts = ReportOptions {
        tz: cfg.settings.tz.clone(),
        mode: cfg.cost_mode,
        since: args.since,
        until: args.until,
        order: match args.order {
            OrderArg::Asc => Order::Asc,
            OrderArg::Desc => Order::Desc,
        },
        project: args.project.clone(),
        start_of_week: week_start(args.start_of_week),
    };
    let names = ModelNames::new(&scan.models);
    let data = report::prepare(&scan, &prices, &opts, &names);
    let now_ms = jiff::Timestamp::now().as_millisecond();

    let out = match args.kind {
        ReportKind::Blocks => {
            let filter = BlockFilter {
                active: args.active,
                recent: args.recent,
            };
            let shown = report::blocks(&data, &opts, filter, now_ms);
            // A budget set anywhere (flag, variable, config file) is the blocks' limit;
            // the daemon's own default (`max`) is not a limit the user asked for.
            let set = cfg
                .resolved
                .iter()
                .any(|r| r.key == "block_budget" && r.origin != Origin::Default);
            let limit = match (set, &cfg.settings.budget) {
                (false, _) => None,
                (true, Budget::Tokens(n)) => Some(*n),
                (true, Budget::Max) => blocks::max_completed_total(&shown, now_ms),
            };
            if args.json {
                json(&blocks::blocks_json(&shown, now_ms, limit))?
            } else {
                blocks_table(&shown, now_ms, limit, &opts.tz, Fit::stdout(args.compact))
            }
        }
        kind => {
            let (r, k, title) = match kind {
                ReportKind::Daily => (report::daily(&data, &opts), Kind::Daily, "Daily"),
                ReportKind::Weekly => (report::weekly(&data, &opts), Kind::Weekly, "Weekly"),
                ReportKind::Monthly => (report::monthly(&data, &opts), Kind::Monthly, "Monthly"),
                _ => (report::session(&data, &opts), Kind::Session, "By Session"),
            };
            warn_unpriced(&r);
            if args.json {
                json(&report::report_json(k, &r, args.project.as_deref()))?
            } else if r.rows.is_empty() {
                eprintln!("No usage data found.");
                String::new()
            } else {
                rows_table(&r, k, title, args.breakdown, Fit::stdout(args.compact))
            }
        }
    };
    io::stdout().lock().write_all(out.as_bytes())?;
    // The new index was written while the report was made.
    writing.wait(&mut used);
    if crate::scan_index::timings_wanted() {
        let total = started.elapsed();
        eprintln!(
            "{}",
            crate::scan_index::timings_line(listed, &used, total - scanned, total)
        );
    }
    // The process ends here: the system takes back the responses' memory at once, which
    // freeing it piece by piece would take milliseconds to do first.
    std::mem::forget(data);
    std::mem::forget(scan);
    Ok(())
}

fn json(v: &serde_json::Value) -> Result<String> {
    Ok(serde_json::to_string_pretty(v)? + "\n")
}

/// `--prices`, else `$XDG_CONFIG_HOME/redline/prices.toml` when it exists.
fn week_start(w: WeekStart) -> Weekday {
    match w {
        WeekStart::Sunday => Weekday::Sunday,
        WeekStart::Monday => Weekday::Monday,
        WeekStart::Tuesday => Weekday::Tuesday,
        WeekStart::Wednesday => Weekday::Wednesday,
        WeekStart::Thursday => Weekday::Thursday,
        WeekStart::Friday => Weekday::Friday,
        WeekStart::Saturday => Weekday::Saturday,
    }
}

/// The report's settings, resolved as `serve` resolves them (flag, `REDLINE_*` variable,
/// config file, default), so a report's days and costs agree with the daemon's "today".
/// The report's flags are named as ccusage names them; the resolver knows them by the
/// config file's keys.
fn settings(
    args: &ReportArgs,
    source: &dyn Fn(&str) -> Option<ValueSource>,
    env: &RootEnv,
) -> Result<Config> {
    let daemon = DaemonArgs {
        config: args.config.clone(),
        timezone: args.timezone.clone(),
        cost_mode: args.mode.map(|m| {
            m.to_possible_value()
                .map_or_else(String::new, |v| v.get_name().to_owned())
        }),
        prices: args.prices.clone(),
        state_dir: args.state_dir.clone(),
        block_budget: args.token_limit.map(|t| match t {
            TokenLimit::Tokens(n) => n.to_string(),
            TokenLimit::Max => "max".to_owned(),
        }),
        ..DaemonArgs::default()
    };
    let by_key = |key: &str| {
        source(match key {
            "cost_mode" => "mode",
            "block_budget" => "token_limit",
            k => k,
        })
    };
    config::resolve(&daemon, &by_key, env)
}

/// Why `--project NAME` matched nothing: the names there are, the likeliest first.
fn unknown_project(wanted: &str, names: &[String]) -> String {
    let lower = wanted.to_lowercase();
    let mut near: Vec<&String> = names
        .iter()
        .filter(|n| n.to_lowercase().contains(&lower) || lower.contains(&n.to_lowercase()))
        .collect();
    let hint = if near.is_empty() {
        near = names.iter().take(5).collect();
        "projects are the directory names under projects/, such as"
    } else {
        "did you mean"
    };
    let listed: Vec<&str> = near.iter().take(5).map(|n| n.as_str()).collect();
    format!(
        "no project is named {wanted:?} ({} projects in the transcripts); {hint} {}",
        names.len(),
        listed.join(", ")
    )
}

/// Broken lines by place (a few, then a count), and lines read beyond ccusage's format.
pub(crate) fn warn_about_input(scan: &Scan) {
    let s = &scan.stats;
    for e in scan.errors.iter().take(SHOWN_ERRORS) {
        eprintln!("redline: warning: {e}");
    }
    let problems = s.bad_lines + s.unreadable_files;
    if problems > SHOWN_ERRORS as u64 {
        eprintln!(
            "redline: warning: {} more unreadable lines or files not shown",
            thousands(problems - SHOWN_ERRORS as u64)
        );
    }
    if s.lenient_lines > 0 {
        let (n, what) = match s.lenient_lines {
            1 => ("1".to_owned(), "usage line is"),
            n => (thousands(n), "usage lines are"),
        };
        eprintln!(
            "redline: note: {n} {what} not in Claude Code's own format (nulls, spacing, timestamps); counted, though ccusage would skip them"
        );
    }
}

fn warn_unpriced(r: &Report) {
    for m in &r.totals.unpriced_models {
        eprintln!(
            "redline: warning: no price for model {m}; its cost is left out (add it with --prices FILE, see docs/prices.md)"
        );
    }
}

/// `claude-opus-4-6` as `opus-4-6`, `claude-haiku-4-5-20251001` as `haiku-4-5`.
fn short_model(m: &str) -> String {
    strip_date(m.strip_prefix("claude-").unwrap_or(m)).to_string()
}

fn models_cell(models: &[String]) -> String {
    let mut short: Vec<String> = models.iter().map(|m| short_model(m)).collect();
    short.sort();
    short.dedup();
    short
        .iter()
        .map(|m| format!("- {m}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Which columns a daily, weekly, monthly or session table shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Columns {
    /// Cache Create, Cache Read and Total Tokens: ccusage's compact table drops them.
    cache: bool,
    /// Session: Last Activity, the first column to go when the full table does not fit.
    last_activity: bool,
}

/// Every column.
const FULL: Columns = Columns {
    cache: true,
    last_activity: true,
};
/// ccusage's compact layout: the first column (and Project), Models, Input, Output, Cost.
const COMPACT: Columns = Columns {
    cache: false,
    last_activity: false,
};

/// Said under a table made compact by the terminal's width (ccusage's words).
const COMPACT_NOTE: &str =
    "\nRunning in Compact Mode\nExpand terminal width to see cache metrics and total tokens\n";

/// The table of a daily, weekly, monthly or session report, fitted to `fit`: the compact
/// one below [`crate::table::COMPACT_BELOW`] columns or with `--compact`; else the full
/// one when it fits, its text wrapped as far as need be; but a session table drops Last
/// Activity before it wraps a project's name or models. The compact one is the last resort.
fn rows_table(r: &Report, kind: Kind, title: &str, breakdown: bool, fit: Fit) -> String {
    let layout = |columns| (columns, rows_layout(r, kind, breakdown, columns));
    let no_last = Columns {
        last_activity: false,
        ..FULL
    };
    let (columns, t) = if fit.compact() {
        layout(COMPACT)
    } else {
        let full = layout(FULL);
        let session = kind == Kind::Session;
        let full_fits = if session {
            fit.fits_unwrapped(&full.1)
        } else {
            fit.fits(&full.1)
        };
        if full_fits {
            full
        } else {
            session
                .then(|| layout(no_last))
                .filter(|(_, t)| fit.fits(t))
                .unwrap_or_else(|| layout(COMPACT))
        }
    };
    let note = if !columns.cache && !fit.force_compact {
        COMPACT_NOTE
    } else {
        ""
    };
    format!(
        "Claude Code Token Usage Report - {title}\n\n{}{note}",
        t.render(fit.width)
    )
}

fn rows_layout(r: &Report, kind: Kind, breakdown: bool, columns: Columns) -> Table {
    let first = match kind {
        Kind::Daily => "Date",
        Kind::Weekly => "Week",
        Kind::Monthly => "Month",
        Kind::Session => "Session",
    };
    let session = kind == Kind::Session;
    let last_activity = session && columns.last_activity;
    let mut cols = vec![(first, Align::Left)];
    if session {
        cols.push(("Project", Align::Left));
    }
    cols.extend([
        ("Models", Align::Left),
        ("Input", Align::Right),
        ("Output", Align::Right),
    ]);
    if columns.cache {
        cols.extend([
            ("Cache Create", Align::Right),
            ("Cache Read", Align::Right),
            ("Total Tokens", Align::Right),
        ]);
    }
    cols.push(("Cost (USD)", Align::Right));
    if last_activity {
        cols.push(("Last Activity", Align::Left));
    }
    let mut t = Table::new(&cols);
    let numbers = |tok: redline_core::TokenCounts, cost: f64| {
        let mut cells = vec![thousands(tok.input), thousands(tok.output)];
        if columns.cache {
            cells.extend([
                thousands(tok.cache_creation),
                thousands(tok.cache_read),
                thousands(tok.total()),
            ]);
        }
        cells.push(usd(cost));
        cells
    };
    for row in &r.rows {
        let mut cells = vec![row.key.clone()];
        if let Some(s) = &row.session {
            cells[0] = s.session_id.chars().take(8).collect::<String>() + "…";
            cells.push(s.project.clone());
        }
        cells.push(models_cell(&row.models_used));
        cells.extend(numbers(row.tokens, row.cost));
        if let Some(s) = row.session.as_ref().filter(|_| last_activity) {
            cells.push(redline_engine::timestamp::format_ms(s.last_ms)[..10].to_string());
        }
        t.row(cells);
        if breakdown {
            for b in &row.breakdowns {
                let mut cells = vec![format!("  └─ {}", short_model(&b.model))];
                if session {
                    cells.push(String::new());
                }
                cells.push(String::new());
                cells.extend(numbers(b.tokens, b.cost));
                t.sub_row(cells);
            }
        }
    }
    let mut total = vec!["Total".to_string()];
    if session {
        total.push(String::new());
    }
    total.push(String::new());
    total.extend(numbers(r.totals.tokens, r.totals.cost));
    t.footer(total);
    t
}

/// The blocks table, with ccusage's `%` column (share of the token limit) when a limit is
/// set. Its compact form (below [`crate::table::COMPACT_BELOW`] columns, with
/// `--compact`, or when the full one does not fit) keeps every column and writes starts
/// and durations shorter (`03-04 06:00`, `4h57m`), as ccusage's does.
fn blocks_table(
    shown: &[Block],
    now_ms: i64,
    limit: Option<u64>,
    tz: &TimeZone,
    fit: Fit,
) -> String {
    if shown.is_empty() {
        eprintln!("No usage data found.");
        return String::new();
    }
    let full = (!fit.compact())
        .then(|| blocks_layout(shown, now_ms, limit, tz, false))
        .filter(|t| fit.fits(t));
    let t = full.unwrap_or_else(|| blocks_layout(shown, now_ms, limit, tz, true));
    format!(
        "Claude Code Token Usage Report - Session Blocks\n\n{}",
        t.render(fit.width)
    )
}

fn blocks_layout(
    shown: &[Block],
    now_ms: i64,
    limit: Option<u64>,
    tz: &TimeZone,
    compact: bool,
) -> Table {
    let mut cols = vec![
        ("Block Start", Align::Left),
        ("Duration/Status", Align::Left),
        ("Models", Align::Left),
        ("Tokens", Align::Right),
    ];
    if limit.is_some() {
        cols.push(("%", Align::Right));
    }
    cols.push(("Cost", Align::Right));
    let mut t = Table::new(&cols);
    let (start_format, span): (&str, fn(i64) -> String) = if compact {
        ("%m-%d %H:%M", short_duration)
    } else {
        ("%Y-%m-%d %H:%M", duration)
    };
    for b in shown {
        let start = jiff::Timestamp::from_millisecond(b.start_ms)
            .map(|ts| tz.to_datetime(ts).strftime(start_format).to_string())
            .unwrap_or_default();
        let status = if b.is_gap {
            format!("(gap, {})", span(b.end_ms - b.start_ms))
        } else if b.is_active(now_ms) {
            format!("ACTIVE ({} left)", span(b.end_ms - now_ms))
        } else {
            span(b.actual_end_ms.unwrap_or(b.start_ms) - b.start_ms)
        };
        let mut cells = vec![
            start,
            status,
            models_cell(&b.models),
            thousands(b.tokens.total()),
        ];
        if let Some(l) = limit {
            cells.push(if b.is_gap || l == 0 {
                String::new()
            } else {
                percent_of(b.tokens.total(), l)
            });
        }
        cells.push(usd(b.cost_usd));
        t.row(cells);
    }
    t
}

/// A block's share of the token limit as ccusage writes it: `4.3%`.
fn percent_of(tokens: u64, limit: u64) -> String {
    format!("{:.1}%", tokens as f64 * 100.0 / limit as f64)
}

fn duration(ms: i64) -> String {
    let minutes = ms.max(0) / 60_000;
    format!("{}h {:02}m", minutes / 60, minutes % 60)
}

/// [`duration`] without the space, for the compact blocks table.
fn short_duration(ms: i64) -> String {
    duration(ms).replace(' ', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_shorten_like_ccusage() {
        assert_eq!(short_model("claude-haiku-4-5-20251001"), "haiku-4-5");
        assert_eq!(short_model("claude-opus-4-6"), "opus-4-6");
        assert_eq!(short_model("claude-opus-4-6-fast"), "opus-4-6-fast");
        assert_eq!(
            models_cell(&["claude-opus-4-6".into(), "claude-haiku-4-5-20251001".into()]),
            "- haiku-4-5\n- opus-4-6"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(duration(5 * 3_600_000), "5h 00m");
        assert_eq!(duration(61 * 60_000 + 59_999), "1h 01m");
        assert_eq!(duration(-5), "0h 00m");
        assert_eq!(short_duration(4 * 3_600_000 + 57 * 60_000), "4h57m");
        assert_eq!(percent_of(2_127_789, 50_000_000), "4.3%");
        assert_eq!(percent_of(50_000_000, 50_000_000), "100.0%");
    }
}
