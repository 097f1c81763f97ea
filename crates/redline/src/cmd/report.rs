//! `redline report daily|weekly|monthly|session|blocks`: ccusage's Claude reports, from
//! the same transcripts, as JSON in ccusage's shapes or as a table.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context, Result};
use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use redline_engine::archive;
use redline_engine::blocks::{self, Block};
use redline_engine::journal::Journal;
use redline_engine::prices::{CostMode, PriceTable, price_entry, strip_date};
use redline_engine::report::{self, BlockFilter, Kind, ModelNames, Order, Report, ReportOptions};
use redline_engine::roots::{RootEnv, list_transcripts, resolve_roots};
use redline_engine::scan::{Scan, scan};
use redline_engine::store::{self, Record, Rollup};

use crate::cli::{Mode, OrderArg, ReportArgs, ReportKind, TokenLimit, WeekStart};
use crate::config;
use crate::table::{Align, Table, thousands, usd};

/// How many line errors are printed before the rest are only counted.
const SHOWN_ERRORS: usize = 20;

/// Runs the report.
pub fn run(args: &ReportArgs) -> Result<()> {
    let env = RootEnv::from_process();
    let roots = resolve_roots(&env);
    let mut transcripts = list_transcripts(&roots).context("cannot list transcripts")?;
    if let Some(p) = &args.project {
        transcripts.retain(|t| &t.project == p);
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
    let mut scan = scan(transcripts, None);
    // A report reads no more lines: the dedup index can go before the report is built.
    scan.ledger.release_index();
    warn_about_input(&scan);

    let price_file = args
        .prices
        .clone()
        .or_else(|| config::default_prices_file(&env));
    let prices = PriceTable::bundled_with(price_file.as_deref())?;
    if !args.transcripts_only {
        let dir = args
            .state_dir
            .clone()
            .unwrap_or_else(|| config::state_home(&env).join("redline"));
        keep_history(&mut scan, &dir, &prices, args)?;
    }
    let opts = ReportOptions {
        tz: config::time_zone(args.timezone.as_deref()).map_err(anyhow::Error::msg)?,
        mode: cost_mode(args.mode),
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
            let limit = match args.token_limit {
                None => None,
                Some(TokenLimit::Tokens(n)) => Some(n),
                Some(TokenLimit::Max) => blocks::max_completed_total(&shown, now_ms),
            };
            if args.json {
                json(&blocks::blocks_json(&shown, now_ms, limit))?
            } else {
                blocks_table(&shown, now_ms, limit, &opts.tz)
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
                rows_table(&r, k, title, args.breakdown)
            }
        }
    };
    io::stdout().lock().write_all(out.as_bytes())?;
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

/// Broken lines by place (a few, then a count), and lines read beyond ccusage's format.
/// Adds the hours the daemon's store kept of transcripts deleted since (see
/// [`redline_engine::archive`]). No store, nothing added; a store that cannot be read is
/// an error rather than a report that silently lacks history. The store is read a line
/// at a time: once for each key's tokens, again for the keys the transcripts lack.
fn keep_history(scan: &mut Scan, dir: &Path, prices: &PriceTable, args: &ReportArgs) -> Result<()> {
    let path = dir.join(store::FILE);
    let context = || format!("cannot read the kept history in {}", path.display());
    let wanted = |r: &Rollup| args.project.as_ref().is_none_or(|p| &r.project == p);
    let mut stored = HashMap::new();
    let problems = Journal::<Record>::read_with(&path, store::KIND, |r| {
        if let Record::Rollup(x) = &r
            && wanted(x)
        {
            archive::note_stored(&mut stored, x);
        }
    })
    .with_context(context)?;
    for p in problems.iter().take(SHOWN_ERRORS) {
        eprintln!("redline: warning: {p}");
    }
    if stored.is_empty() {
        // Nothing kept (no store, or no rollups yet): nothing to add back.
        return Ok(());
    }
    let present = archive::present(&scan.ledger, &scan.files, &scan.models, &|_| true);
    let deficit = archive::deficit(&stored, &present);
    if deficit.is_empty() {
        return Ok(());
    }
    // Only keys of wanted rollups are in the deficit: the second pass needs no filter.
    let kept = store::rollups_in(&path, &deficit).with_context(context)?;
    let mode = cost_mode(args.mode);
    archive::restore(
        &mut scan.ledger,
        &mut scan.files,
        &mut scan.models,
        &kept,
        &|_| true,
        &|e, models| {
            let price = e.model().and_then(|m| prices.lookup(models.name(m)));
            price_entry(mode, price, e).usd()
        },
    );
    Ok(())
}

fn cost_mode(m: Mode) -> CostMode {
    match m {
        Mode::Auto => CostMode::Auto,
        Mode::Calculate => CostMode::Calculate,
        Mode::Display => CostMode::Display,
    }
}

fn warn_about_input(scan: &Scan) {
    let s = &scan.stats;
    for e in scan.errors.iter().take(SHOWN_ERRORS) {
        eprintln!("redline: warning: {e}");
    }
    let problems = s.bad_lines + s.unreadable_files;
    if problems > SHOWN_ERRORS as u64 {
        eprintln!(
            "redline: warning: {} more unreadable lines or files not shown",
            problems - SHOWN_ERRORS as u64
        );
    }
    if s.lenient_lines > 0 {
        eprintln!(
            "redline: note: {} usage lines are not in Claude Code's own format (nulls, spacing, timestamps); counted, though ccusage would skip them",
            thousands(s.lenient_lines)
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

fn rows_table(r: &Report, kind: Kind, title: &str, breakdown: bool) -> String {
    let first = match kind {
        Kind::Daily => "Date",
        Kind::Weekly => "Week",
        Kind::Monthly => "Month",
        Kind::Session => "Session",
    };
    let mut cols = vec![(first, Align::Left)];
    if kind == Kind::Session {
        cols.push(("Project", Align::Left));
    }
    cols.extend([
        ("Models", Align::Left),
        ("Input", Align::Right),
        ("Output", Align::Right),
        ("Cache Create", Align::Right),
        ("Cache Read", Align::Right),
        ("Total Tokens", Align::Right),
        ("Cost (USD)", Align::Right),
    ]);
    if kind == Kind::Session {
        cols.push(("Last Activity", Align::Left));
    }
    let mut t = Table::new(&cols);
    let numbers = |tok: redline_core::TokenCounts, cost: f64| {
        vec![
            thousands(tok.input),
            thousands(tok.output),
            thousands(tok.cache_creation),
            thousands(tok.cache_read),
            thousands(tok.total()),
            usd(cost),
        ]
    };
    for row in &r.rows {
        let mut cells = vec![row.key.clone()];
        if let Some(s) = &row.session {
            cells[0] = s.session_id.chars().take(8).collect::<String>() + "…";
            cells.push(s.project.clone());
        }
        cells.push(models_cell(&row.models_used));
        cells.extend(numbers(row.tokens, row.cost));
        if let Some(s) = &row.session {
            cells.push(redline_engine::timestamp::format_ms(s.last_ms)[..10].to_string());
        }
        t.row(cells);
        if breakdown {
            for b in &row.breakdowns {
                let mut cells = vec![format!("  └─ {}", short_model(&b.model))];
                if kind == Kind::Session {
                    cells.push(String::new());
                }
                cells.push(String::new());
                cells.extend(numbers(b.tokens, b.cost));
                t.sub_row(cells);
            }
        }
    }
    let mut total = vec!["Total".to_string()];
    if kind == Kind::Session {
        total.push(String::new());
    }
    total.push(String::new());
    total.extend(numbers(r.totals.tokens, r.totals.cost));
    t.footer(total);
    format!("Claude Code Token Usage Report - {title}\n\n{}", t.render())
}

fn blocks_table(shown: &[Block], now_ms: i64, limit: Option<u64>, tz: &TimeZone) -> String {
    if shown.is_empty() {
        eprintln!("No usage data found.");
        return String::new();
    }
    let mut cols = vec![
        ("Block Start", Align::Left),
        ("Duration/Status", Align::Left),
        ("Models", Align::Left),
        ("Tokens", Align::Right),
    ];
    if limit.is_some() {
        cols.push(("% of limit", Align::Right));
    }
    cols.push(("Cost", Align::Right));
    let mut t = Table::new(&cols);
    for b in shown {
        let start = jiff::Timestamp::from_millisecond(b.start_ms)
            .map(|ts| tz.to_datetime(ts).strftime("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default();
        let status = if b.is_gap {
            format!("(gap, {})", duration(b.end_ms - b.start_ms))
        } else if b.is_active(now_ms) {
            format!("ACTIVE ({} left)", duration(b.end_ms - now_ms))
        } else {
            duration(b.actual_end_ms.unwrap_or(b.start_ms) - b.start_ms)
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
                format!("{:.1}%", b.tokens.total() as f64 * 100.0 / l as f64)
            });
        }
        cells.push(usd(b.cost_usd));
        t.row(cells);
    }
    format!(
        "Claude Code Token Usage Report - Session Blocks\n\n{}",
        t.render()
    )
}

fn duration(ms: i64) -> String {
    let minutes = ms.max(0) / 60_000;
    format!("{}h {:02}m", minutes / 60, minutes % 60)
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
    }
}
