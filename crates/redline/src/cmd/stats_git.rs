//! `redline stats git`: the commits made in each session's repository while it was
//! active, with what the session spent per commit and per changed line, per project and
//! per day (the rules: `redline_engine::git`). Tables that fit 80 columns, or JSON; the
//! daemon's `/api/git` answers the same JSON ([`compute`], [`document`]).

use std::collections::BTreeMap;
use std::io::{self, Write};

use anyhow::Result;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use redline_engine::cwds::Places;
use redline_engine::git::{self as correlation, Attributed, Correlation, Figures, Spend};
use redline_engine::ledger::FLAG_AGGREGATE;
use redline_engine::prices::PriceTable;
use redline_engine::report::{self, ModelNames, ReportOptions};
use redline_engine::roots::{RootEnv, resolve_roots, survey};
use redline_engine::scan::scan;
use redline_engine::timestamp::instant;
use serde_json::{Value, json};

use crate::cli::GitArgs;
use crate::config::{self, Config, DaemonArgs};
use crate::git::{self, Skipped};
use crate::table::{Align, Fit, Table, thousands, usd};

/// What a correlation is asked for.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Only the last N days (today included); `None` for all.
    pub days: Option<u32>,
    /// The slack around each session, in minutes.
    pub slack_minutes: u32,
}

/// A correlation and what it was made of.
#[derive(Clone, Debug)]
pub struct Computed {
    /// The figures.
    pub correlation: Correlation,
    /// What was passed over.
    pub skipped: Vec<Skipped>,
    /// The slack used.
    pub slack_minutes: u32,
    /// The first day, with `--days`.
    pub since: Option<Date>,
    /// Transcript files read for their directories.
    pub files: u64,
    /// Sessions with a response in the range.
    pub sessions: u64,
    /// Repositories read.
    pub repositories: u64,
    /// The zone of the days and times.
    pub tz: TimeZone,
}

/// Runs `redline stats git`.
pub fn run(args: &GitArgs, env: &RootEnv) -> Result<()> {
    let daemon = DaemonArgs {
        config: args.config.clone(),
        timezone: args.timezone.clone(),
        ..DaemonArgs::default()
    };
    let cfg = config::resolve(&daemon, &|_: &str| None, env)?;
    let o = Options {
        days: args.days,
        slack_minutes: args.slack.unwrap_or(cfg.git.slack_minutes),
    };
    let c = compute(&o, &cfg, env, jiff::Timestamp::now())?;
    let text = if args.json {
        serde_json::to_string_pretty(&document(&c))? + "\n"
    } else {
        tables(&c, Fit::stdout(false).width)
    };
    io::stdout().lock().write_all(text.as_bytes())?;
    Ok(())
}

/// Scans the transcripts, reads the sessions' directories and repositories, and
/// attributes the commits.
pub fn compute(o: &Options, cfg: &Config, env: &RootEnv, now: jiff::Timestamp) -> Result<Computed> {
    let tz = cfg.settings.tz.clone();
    let (since_ms, since) = match o.days {
        Some(days) => {
            let (first, ms) = crate::character::last_days(days, &tz, now)?;
            (ms, Some(first))
        }
        None => (i64::MIN, None),
    };
    let listing = survey(&resolve_roots(env));
    let mut scan = scan(listing.transcripts, None);
    scan.ledger.release_index();
    let prices = PriceTable::bundled_with(cfg.prices.as_deref())?;
    let opts = ReportOptions {
        tz: tz.clone(),
        mode: cfg.cost_mode,
        since,
        ..ReportOptions::default()
    };
    let names = ModelNames::new(&scan.models);
    let data = report::prepare_parts(
        &scan.ledger,
        &scan.models,
        &scan.files,
        &prices,
        &opts,
        &names,
        true,
    );
    let responses = data
        .items
        .iter()
        .filter(|it| !it.entry.has(FLAG_AGGREGATE))
        .map(|it| {
            (
                data.files.get(it.entry.file),
                Spend {
                    ts_ms: it.entry.ts_ms,
                    tokens: it.entry.tokens().total(),
                    cost_usd: it.cost,
                },
            )
        });
    let grouped = correlation::sessions(responses);
    let mut files = 0;
    let places: Vec<Vec<Places>> = grouped
        .iter()
        .map(|(_, paths)| {
            paths
                .iter()
                .filter_map(|p| {
                    let mut places = Places::default();
                    files += 1;
                    // A file that cannot be read was reported by the scan already.
                    places.read(p).ok().map(|()| places)
                })
                .collect()
        })
        .collect();
    let mut sessions: Vec<correlation::Session> = grouped.into_iter().map(|(s, _)| s).collect();
    let slack_ms = i64::from(o.slack_minutes) * 60_000;
    let repos = git::read(&mut sessions, &places, slack_ms);
    let mut distinct: Vec<&String> = sessions.iter().flat_map(|s| &s.repos).collect();
    distinct.sort();
    distinct.dedup();
    let repositories = distinct.len() as u64;
    let correlation = correlation::attribute(
        &sessions,
        &repos.commits,
        &correlation::Options {
            slack_ms,
            since_ms,
            tz: tz.clone(),
        },
    );
    Ok(Computed {
        correlation,
        skipped: repos.skipped,
        slack_minutes: o.slack_minutes,
        since,
        files,
        sessions: sessions.len() as u64,
        repositories,
        tz,
    })
}

fn round(v: f64, places: i32) -> f64 {
    let k = 10f64.powi(places);
    (v * k).round() / k
}

fn opt(v: Option<f64>, places: i32) -> Value {
    v.map_or(Value::Null, |v| json!(round(v, places)))
}

fn figures(f: &Figures) -> serde_json::Map<String, Value> {
    let v = json!({
        "sessions": f.sessions,
        "commits": f.commits,
        "lines_added": f.added,
        "lines_removed": f.removed,
        "tokens": f.tokens,
        "cost_usd": round(f.cost_usd, 6),
        "tokens_per_commit": opt(f.tokens_per_commit(), 2),
        "cost_per_commit": opt(f.cost_per_commit(), 6),
        "tokens_per_line": opt(f.tokens_per_line(), 2),
        "cost_per_line": opt(f.cost_per_line(), 6),
    });
    match v {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

fn keyed(key: &str, name: String, f: &Figures) -> Value {
    let mut m = serde_json::Map::new();
    m.insert(key.to_owned(), Value::String(name));
    m.extend(figures(f));
    Value::Object(m)
}

/// The short hash shown and written: 12 hex digits.
fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

fn commit_json(a: &Attributed) -> Value {
    json!({
        "hash": short(&a.commit.hash),
        "time": instant(a.commit.author_ms).strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "date": a.date.to_string(),
        "project": a.project,
        "session": a.session,
        "branch": a.branch,
        "lines_added": a.commit.added,
        "lines_removed": a.commit.removed,
        "files": a.commit.files,
        "responses": a.responses,
        "tokens": a.tokens,
        "cost_usd": round(a.cost_usd, 6),
        "tokens_per_line": opt(a.tokens_per_line(), 2),
        "cost_per_line": opt(a.cost_per_line(), 6),
    })
}

/// `--json` and `/api/git` (documented in docs/stats.md). `otel` is `null` here; the
/// daemon fills it with what OpenTelemetry senders reported.
pub fn document(c: &Computed) -> Value {
    let r = &c.correlation;
    let skipped: Vec<Value> = c
        .skipped
        .iter()
        .map(|s| json!({ "cwd": s.cwd, "sessions": s.sessions, "reason": s.reason }))
        .collect();
    json!({
        "slack_minutes": c.slack_minutes,
        "since": c.since.map(|d| d.to_string()),
        "totals": Value::Object(figures(&r.totals)),
        "by_project": r.by_project.iter().map(|(p, f)| keyed("project", p.clone(), f)).collect::<Vec<_>>(),
        "by_day": r.by_day.iter().map(|(d, f)| keyed("date", d.to_string(), f)).collect::<Vec<_>>(),
        "commits": r.commits.iter().map(commit_json).collect::<Vec<_>>(),
        "skipped": skipped,
        "read": {
            "files": c.files,
            "sessions": c.sessions,
            "repositories": c.repositories,
        },
        "otel": Value::Null,
    })
}

/// Tokens in few characters: `950`, `12.3k`, `4.5M`, `1.2B`.
fn tokens_short(n: f64) -> String {
    match n {
        n if n < 1e3 => format!("{n:.0}"),
        n if n < 1e6 => format!("{:.1}k", n / 1e3),
        n if n < 1e9 => format!("{:.1}M", n / 1e6),
        n => format!("{:.1}B", n / 1e9),
    }
}

/// Dollars to four places: per-line figures are fractions of a cent.
fn usd_fine(x: f64) -> String {
    format!("${:.4}", x + 0.0)
}

fn lines_cell(added: u64, removed: u64) -> String {
    format!("+{}\n-{}", thousands(added), thousands(removed))
}

/// "31.2k tok" over "$0.42", or "-" when there is nothing to divide by.
fn per_cell(tokens: Option<f64>, cost: Option<f64>, fine: bool) -> String {
    match (tokens, cost) {
        (Some(t), Some(c)) => format!(
            "{} tok\n{}",
            tokens_short(t),
            if fine { usd_fine(c) } else { usd(c) }
        ),
        _ => "-".to_owned(),
    }
}

fn group_table(
    first: &'static str,
    rows: &[(String, &Figures)],
    totals: Option<&Figures>,
) -> Table {
    let mut t = Table::new(&[
        (first, Align::Left),
        ("Commits", Align::Right),
        ("Lines", Align::Right),
        ("Tokens", Align::Right),
        ("Cost", Align::Right),
        ("Per commit", Align::Right),
        ("Per line", Align::Right),
    ]);
    let cells = |name: String, f: &Figures| {
        vec![
            name,
            thousands(f.commits),
            lines_cell(f.added, f.removed),
            tokens_short(f.tokens as f64),
            usd(f.cost_usd),
            per_cell(f.tokens_per_commit(), f.cost_per_commit(), false),
            per_cell(f.tokens_per_line(), f.cost_per_line(), true),
        ]
    };
    for (name, f) in rows {
        t.row(cells(name.clone(), f));
    }
    if let Some(f) = totals {
        t.footer(cells("Total".to_owned(), f));
    }
    t
}

/// The tables: per project, per day, each project's commits, then what was skipped.
pub fn tables(c: &Computed, width: Option<usize>) -> String {
    let width = Some(width.unwrap_or(80).min(80));
    let r = &c.correlation;
    let mut out = String::from("Claude Code Git Report\n\n");
    out += &format!(
        "Commits authored within {} minutes of a session's span; each commit's tokens and\ndollars are its session's since the commit before it (docs/stats.md).\n",
        c.slack_minutes
    );
    if r.totals.sessions == 0 {
        let range = c.since.map_or(String::new(), |d| format!(" since {d}"));
        out += &format!("\nNo session ran in a git repository{range}.\n");
    } else {
        out += "\nBy project\n";
        let rows: Vec<(String, &Figures)> =
            r.by_project.iter().map(|(p, f)| (p.clone(), f)).collect();
        out += &group_table("Project", &rows, Some(&r.totals)).render(width);
        out += "\nBy day\n";
        let rows: Vec<(String, &Figures)> =
            r.by_day.iter().map(|(d, f)| (d.to_string(), f)).collect();
        out += &group_table("Date", &rows, None).render(width);
        let mut by_project: BTreeMap<&str, Vec<&Attributed>> = BTreeMap::new();
        for a in &r.commits {
            by_project.entry(&a.project).or_default().push(a);
        }
        for (project, list) in by_project {
            out += &format!("\nCommits in {project}\n");
            let mut t = Table::new(&[
                ("Time", Align::Left),
                ("Commit", Align::Left),
                ("Lines", Align::Right),
                ("Tokens", Align::Right),
                ("Cost", Align::Right),
                ("Per line", Align::Right),
            ]);
            for a in list {
                let time =
                    c.tz.to_datetime(instant(a.commit.author_ms))
                        .strftime("%Y-%m-%d %H:%M")
                        .to_string();
                t.row(vec![
                    time,
                    short(&a.commit.hash).get(..8).unwrap_or("").to_owned(),
                    lines_cell(a.commit.added, a.commit.removed),
                    tokens_short(a.tokens as f64),
                    usd(a.cost_usd),
                    per_cell(a.tokens_per_line(), a.cost_per_line(), true),
                ]);
            }
            out += &t.render(width);
        }
    }
    if !c.skipped.is_empty() {
        out += "\nSkipped\n";
        for s in &c.skipped {
            out += &format!("  {}\n", config::printable(&s.to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use redline_engine::git::{Commit, Session};

    #[test]
    fn tables_fit_80_columns() {
        let t0 = 1_772_704_800_000;
        let s = Session {
            id: "s".into(),
            project: "-home-someone-projects-a-rather-long-project-name-worktrees-x".into(),
            repos: vec!["/r".into()],
            branch: None,
            spend: vec![Spend {
                ts_ms: t0,
                tokens: 1_234_567_890,
                cost_usd: 12_345.678,
            }],
        };
        let commit = Commit {
            repo: "/r".into(),
            hash: "0123456789abcdef0123456789abcdef01234567".into(),
            author_ms: t0 + 60_000,
            added: 123_456,
            removed: 65_432,
            files: 3,
        };
        let correlation = correlation::attribute(
            &[s],
            &[commit],
            &correlation::Options {
                slack_ms: 900_000,
                since_ms: i64::MIN,
                tz: TimeZone::UTC,
            },
        );
        let c = Computed {
            correlation,
            skipped: vec![Skipped {
                cwd: Some("/tmp/gone".into()),
                sessions: 1,
                reason: "no such directory (moved or deleted)".into(),
            }],
            slack_minutes: 15,
            since: None,
            files: 1,
            sessions: 1,
            repositories: 1,
            tz: TimeZone::UTC,
        };
        let text = tables(&c, None);
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "{line}");
        }
        assert!(text.contains("01234567"), "{text}");
        assert!(
            text.contains("/tmp/gone (1 session): no such directory"),
            "{text}"
        );
        let doc = document(&c);
        assert_eq!(doc["commits"][0]["hash"], "0123456789ab");
        assert_eq!(doc["totals"]["commits"], 1);
        assert_eq!(doc["skipped"][0]["cwd"], "/tmp/gone");
    }

    #[test]
    fn tokens_read_short() {
        assert_eq!(tokens_short(950.0), "950");
        assert_eq!(tokens_short(12_345.0), "12.3k");
        assert_eq!(tokens_short(4_500_000.0), "4.5M");
    }
}
