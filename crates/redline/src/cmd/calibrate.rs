//! `redline calibrate`: the calibration variables proposed from the user's own history
//! (the rules are `redline_engine::calibrate`'s), printed with the evidence as a table
//! or JSON, drawn as histograms (`--plot`), written into the config file (`--write`), and
//! checked against the daemon's live path (`--check`).
//!
//! This file gathers the history (the transcripts and kept rollups as `redline report`
//! reads them, the turn marks of the main chains, the store's statusLine readings) and
//! hands it to the engine; `calibrate/text.rs` prints, `calibrate/plot.rs` draws,
//! `calibrate/toml_edit.rs` edits the config file, `calibrate/replay.rs` feeds the check.

mod plot;
mod replay;
mod text;
mod toml_edit;

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::parser::ValueSource;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use redline_engine::calibrate::{
    self, BudgetValue, Calibration, Current, History, Mark, Reading, Response,
};
use redline_engine::ledger::FLAG_AGGREGATE;
use redline_engine::live::Budget;
use redline_engine::prices::PriceTable;
use redline_engine::report::{self, BlockFilter, ModelNames, ReportOptions};
use redline_engine::roots::{RootEnv, resolve_roots, survey};
use redline_engine::scan::scan;
use redline_engine::store::{self, Record};
use serde::Serialize;

use crate::cli::CalibrateArgs;
use crate::config::{self, Config, Origin};

/// What was read, for the table's head and `--json`'s `history`.
#[derive(Clone, Debug, Serialize)]
pub struct Read {
    /// First day read.
    pub since: String,
    /// Last day read.
    pub until: String,
    /// The time zone of those days.
    pub time_zone: String,
    /// Responses counted in those days.
    pub responses: usize,
    /// Sessions they belong to.
    pub sessions: usize,
    /// Main-chain transcript lines that marked a turn.
    pub turn_marks: usize,
    /// The newest response of all history, when any (a hint when the days hold none).
    pub newest_response: Option<String>,
    /// The config file in force.
    pub config_file: Option<String>,
}

/// Which days to read and what to do with them: `redline calibrate`'s flags, or the
/// page's `/api/calibrate`.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Days up to `until` (or today), when `since` is not given.
    pub days: u32,
    /// First day.
    pub since: Option<Date>,
    /// Last day.
    pub until: Option<Date>,
    /// Replay the days through the live path too.
    pub check: bool,
    /// Leave out the kept hours of deleted transcripts.
    pub transcripts_only: bool,
    /// Say nothing of unreadable lines (the daemon has logged them once already).
    pub quiet: bool,
}

impl Options {
    /// The command's flags.
    pub fn of(args: &CalibrateArgs) -> Options {
        Options {
            days: args.days,
            since: args.since,
            until: args.until,
            check: args.check,
            transcripts_only: args.transcripts_only,
            quiet: false,
        }
    }
}

/// What a calibration found: the proposals, what was read, and the check when asked.
pub struct Computed {
    /// The proposals with their evidence.
    pub cal: Calibration,
    /// What was read.
    pub read: Read,
    /// The replay, with `check`.
    pub check: Option<replay::CheckReport>,
}

/// Reads the history `cfg` and `env` point at and calibrates it.
pub fn compute(o: &Options, cfg: &Config, env: &RootEnv) -> Result<Computed> {
    let tz = cfg.settings.tz.clone();
    let now = jiff::Timestamp::now();
    let now_ms = now.as_millisecond();
    let (since, until) = days(o, tz.to_datetime(now).date())?;
    let (from_ms, to_ms) = (start_of(since, &tz), start_of(next_day(until), &tz));

    let roots = resolve_roots(env);
    let history = (!o.transcripts_only).then(|| crate::history::History::start(&roots, cfg, None));
    let listing = survey(&roots);
    if !o.quiet {
        for skipped in &listing.skipped {
            eprintln!("redline: warning: {skipped}");
        }
    }
    let mut scan = scan(listing.transcripts, None);
    scan.ledger.release_index();
    if !o.quiet {
        crate::cmd::report::warn_about_input(&scan);
    }
    let prices = PriceTable::bundled_with(cfg.prices.as_deref())?;
    if let Some(history) = history {
        history.keep(&mut scan, cfg, &prices)?;
    }
    let opts = ReportOptions {
        tz: tz.clone(),
        mode: cfg.cost_mode,
        since: Some(since),
        until: Some(until),
        ..ReportOptions::default()
    };
    let names = ModelNames::new(&scan.models);
    let data = report::prepare(&scan, &prices, &opts, &names);
    let blocks = report::blocks(&data, &opts, BlockFilter::default(), now_ms);

    // The responses of the days, each with its session.
    let mut sessions: HashMap<String, u32> = HashMap::new();
    let mut session_of = |name: &str| {
        let next = u32::try_from(sessions.len()).unwrap_or(u32::MAX);
        *sessions.entry(name.to_owned()).or_insert(next)
    };
    let mut responses: Vec<Response> = data
        .items
        .iter()
        .filter(|it| since <= it.date && it.date <= until)
        .map(|it| {
            let e = it.entry;
            Response {
                ts_ms: e.ts_ms,
                session: session_of(&scan.files.get(e.file).session),
                tokens: e.tokens(),
                thinking: e.thinking_tokens().map(|(t, _)| t),
                aggregate: e.has(FLAG_AGGREGATE),
            }
        })
        .collect();
    responses.sort_by_key(|r| r.ts_ms);
    let newest = data.items.iter().map(|it| it.entry.ts_ms).max();

    // The turn marks of the main chains (and, for --check, every line's place).
    let files: Vec<replay::Source> = (0..scan.files.len())
        .filter_map(|i| {
            let id = u32::try_from(i).ok()?;
            let f = scan.files.get(id);
            let root = roots
                .iter()
                .find(|r| f.path.starts_with(&r.projects))?
                .projects
                .clone();
            Some(replay::Source {
                root,
                path: f.path.clone(),
                session: session_of(&f.session),
                subagent: f.path.components().any(|c| c.as_os_str() == "subagents"),
            })
        })
        .collect();
    // The replay reads the transcripts on disk: its blocks are the report's without the
    // kept hours of deleted ones (`report blocks --transcripts-only`).
    let check_blocks = o.check.then(|| {
        let on_disk = report::Dataset {
            items: data
                .items
                .iter()
                .filter(|it| !it.entry.has(FLAG_AGGREGATE))
                .cloned()
                .collect(),
            files: data.files,
            names: data.names,
        };
        report::blocks(&on_disk, &opts, BlockFilter::default(), now_ms)
    });
    let check_from = check_blocks
        .as_deref()
        .map(|b| replay::start_of_replay(b, from_ms));
    let lines = replay::read_lines(&files, from_ms, to_ms, check_from);
    let marks: Vec<Mark> = lines.marks;

    let readings = plan_readings(&cfg.state_dir.join(store::FILE), from_ms, to_ms)?;
    let current = Current::from_settings(&cfg.settings);
    let history = History {
        responses: &responses,
        marks: &marks,
        blocks: &blocks,
        readings: &readings,
        now_ms,
    };
    let cal = calibrate::calibrate(&history, &current);
    let read = Read {
        since: since.to_string(),
        until: until.to_string(),
        time_zone: tz.iana_name().unwrap_or("system").to_owned(),
        responses: responses.len(),
        sessions: responses
            .iter()
            .map(|r| r.session)
            .collect::<std::collections::HashSet<_>>()
            .len(),
        turn_marks: marks.len(),
        newest_response: newest.map(redline_engine::usage::format_s),
        config_file: cfg.file.as_ref().map(|p| p.display().to_string()),
    };

    let check = match (check_from, &check_blocks) {
        (Some(start), Some(check_blocks)) => Some(replay::check(replay::CheckInput {
            files: &files,
            index: lines.index,
            start_ms: start,
            until_ms: to_ms.min(now_ms),
            blocks: check_blocks,
            now_ms,
            cfg,
            prices: prices.clone(),
        })?),
        _ => None,
    };
    Ok(Computed { cal, read, check })
}

/// The `--json` document, keys in the documented order (and `/api/calibrate`'s body,
/// less what the page adds).
#[derive(Serialize)]
pub struct Document<'a> {
    #[serde(flatten)]
    calibration: &'a Calibration,
    history: &'a Read,
    #[serde(skip_serializing_if = "Option::is_none")]
    check: Option<replay::CheckJson>,
}

/// The `--json` document of `c`.
pub fn document(c: &Computed) -> Document<'_> {
    Document {
        calibration: &c.cal,
        history: &c.read,
        check: c.check.as_ref().map(replay::CheckReport::json),
    }
}

/// The histograms, as `--plot` draws them.
pub fn plot(c: &Computed) -> String {
    plot::svg(&c.cal, &c.read)
}

/// Runs `redline calibrate`.
pub fn run(
    args: &CalibrateArgs,
    source: &dyn Fn(&str) -> Option<ValueSource>,
    env: &RootEnv,
) -> Result<()> {
    let cfg = config::resolve(&args.daemon, source, env)?;
    let tz = cfg.settings.tz.clone();
    let computed = compute(&Options::of(args), &cfg, env)?;
    let Computed { cal, read, check } = &computed;

    let out = if args.json {
        serde_json::to_string_pretty(&document(&computed))? + "\n"
    } else {
        let mut t = text::table(cal, read);
        if let Some(c) = check {
            t.push_str(&text::check(c, &cfg, &tz));
        }
        t
    };
    io::stdout().lock().write_all(out.as_bytes())?;

    // What the command did beside printing goes to stderr with --json (stdout is the
    // document), else to stdout after the table.
    let mut said = Vec::new();
    if let Some(path) = &args.plot {
        let svg = plot(&computed);
        std::fs::write(path, svg).with_context(|| format!("cannot write {}", path.display()))?;
        said.push(format!("plot: {}", path.display()));
    }
    if args.write {
        said.extend(write_config(cal, &cfg, env, None)?);
    } else if !args.json && has_proposal(cal) {
        said.push(format!(
            "`redline calibrate --write` puts the proposals into {} (after a backup).",
            config_path(&cfg, env).display()
        ));
    }
    for line in said {
        if args.json {
            eprintln!("redline: {line}");
        } else {
            println!("{line}");
        }
    }
    Ok(())
}

/// The days read: `--since`/`--until`, else the `--days` up to today.
fn days(args: &Options, today: Date) -> Result<(Date, Date)> {
    let until = args.until.unwrap_or(today);
    let since = match args.since {
        Some(s) => s,
        None => redline_engine::days::first_of(until, args.days)
            .context("--days reaches before the calendar")?,
    };
    if since > until {
        bail!("--since {since} is after --until {until}: no day can be in both");
    }
    Ok((since, until))
}

fn next_day(d: Date) -> Date {
    d.tomorrow().unwrap_or(d)
}

/// The first millisecond of `d` in `tz`.
fn start_of(d: Date, tz: &TimeZone) -> i64 {
    redline_engine::days::start_ms(d, tz).unwrap_or(0)
}

/// The statusLine readings the daemon kept, of `[from, to)`. No store, none.
fn plan_readings(path: &Path, from_ms: i64, to_ms: i64) -> Result<Vec<Reading>> {
    let mut readings = Vec::new();
    let problems = store::read(path, |r| {
        if let store::Read::Other(Record::Limit(l)) = r
            && (from_ms..to_ms).contains(&l.at_ms)
        {
            readings.push(Reading {
                at_ms: l.at_ms,
                used: l.used,
                resets_at_s: l.resets_at_s,
            });
        }
    })
    .with_context(|| format!("cannot read the statusLine readings in {}", path.display()))?;
    for p in problems.iter().take(5) {
        eprintln!("redline: warning: {p}");
    }
    Ok(readings)
}

/// Whether any proposal differs from the value in force.
fn has_proposal(cal: &Calibration) -> bool {
    fn differs<T: PartialEq>(current: &T, proposed: Option<&T>) -> bool {
        proposed.is_some_and(|p| p != current)
    }
    let budget = cal
        .block_budget
        .proposed
        .is_some_and(|p| cal.block_budget.current != BudgetValue::Tokens(p));
    budget
        || differs(
            &cal.tach_redline.current,
            cal.tach_redline.proposed.as_ref(),
        )
        || differs(&cal.tach_window.current, cal.tach_window.proposed.as_ref())
        || differs(&cal.stall_after.current, cal.stall_after.proposed.as_ref())
        || differs(&cal.cache_floor.current, cal.cache_floor.proposed.as_ref())
        || differs(&cal.temp_zones.current, cal.temp_zones.proposed.as_ref())
}

/// The config file `--write` edits: the one in force, else the default place.
pub fn config_path(cfg: &Config, env: &RootEnv) -> PathBuf {
    cfg.file.clone().unwrap_or_else(|| {
        env.config_home()
            .unwrap_or_else(|| PathBuf::from("."))
            .join("redline")
            .join("config.toml")
    })
}

/// The calibration key an edit belongs to (`temp_cool` and `temp_hot` are `temp_zones`).
fn calibration_key(e: &toml_edit::Edit) -> &'static str {
    match e.key {
        "temp_cool" | "temp_hot" => "temp_zones",
        k => k,
    }
}

/// The edits the proposals make, by config key.
fn edits(cal: &Calibration) -> Vec<toml_edit::Edit> {
    use toml_edit::{Edit, Value};
    let mut e = Vec::new();
    let mut top = |key: &'static str, v: Option<u64>| {
        if let Some(v) = v {
            e.push(Edit {
                table: None,
                key,
                value: Value::Int(v),
            });
        }
    };
    top("tach_redline", cal.tach_redline.proposed);
    top("tach_window", cal.tach_window.proposed);
    top("block_budget", cal.block_budget.proposed);
    top("stall_after", cal.stall_after.proposed);
    let mut zone = |key: &'static str, v: Option<f64>| {
        if let Some(v) = v {
            e.push(Edit {
                table: Some("zones"),
                key,
                value: Value::Float(v),
            });
        }
    };
    zone("cache_floor", cal.cache_floor.proposed);
    zone("temp_cool", cal.temp_zones.proposed.map(|z| z.temp_cool));
    zone("temp_hot", cal.temp_zones.proposed.map(|z| z.temp_hot));
    e
}

/// Writes the proposals (all, or `only` that key's: `temp_zones` writes both zone keys)
/// into the config file, after a timestamped backup of it; what happened, as lines to
/// print.
pub fn write_config(
    cal: &Calibration,
    cfg: &Config,
    env: &RootEnv,
    only: Option<&str>,
) -> Result<Vec<String>> {
    let named = config_path(cfg, env);
    // A config file that is a link (a dotfiles repository) stays one: write its target.
    let path = match std::fs::symlink_metadata(&named) {
        Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(&named)
            .with_context(|| format!("cannot follow the link {}", named.display()))?,
        _ => named,
    };
    let old = match std::fs::read_to_string(&path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let edits: Vec<toml_edit::Edit> = edits(cal)
        .into_iter()
        .filter(|e| only.is_none_or(|k| calibration_key(e) == k))
        .collect();
    let mut lines = Vec::new();
    if edits.is_empty() {
        lines.push(format!(
            "{}: nothing to change (no proposal)",
            path.display()
        ));
        return Ok(lines);
    }
    let base = old
        .clone()
        .unwrap_or_else(|| toml_edit::NEW_FILE.to_owned());
    let new = toml_edit::apply(&base, &edits)
        .map_err(|e| anyhow::anyhow!("{}: {e}; nothing was changed", path.display()))?;
    if old.as_deref() == Some(new.as_str()) {
        lines.push(format!("{}: nothing to change", path.display()));
    } else {
        let backup = match &old {
            Some(_) => Some(crate::cmd::install_claude::backup(&path)?),
            None => None,
        };
        crate::cmd::install_claude::replace(&path, &new)?;
        lines.push(match backup {
            Some(b) => format!("wrote {} (backup: {})", path.display(), b.display()),
            None => format!("wrote {}", path.display()),
        });
    }
    // A flag or variable beats the file: say which keys the file cannot set.
    for r in &cfg.resolved {
        let written = edits.iter().any(|e| match e.table {
            Some(t) => r.key.strip_prefix(t).and_then(|k| k.strip_prefix('.')) == Some(e.key),
            None => r.key == e.key,
        });
        if !written {
            continue;
        }
        let var = format!("REDLINE_{}", r.key.to_ascii_uppercase());
        match r.origin {
            Origin::Env => lines.push(format!(
                "  note: {var} is set, and wins over the file's {}",
                r.key
            )),
            Origin::Flag => lines.push(format!(
                "  note: --{} was given, and wins over the file's {}",
                r.key.replace('_', "-"),
                r.key
            )),
            _ => {}
        }
    }
    if let Budget::Max = cfg.settings.budget
        && edits.iter().any(|e| e.key == "block_budget")
    {
        lines.push(
            "  block_budget is a number now, not `max`: run `redline calibrate` again as history grows"
                .into(),
        );
    }
    Ok(lines)
}
