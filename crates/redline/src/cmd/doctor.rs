//! `redline doctor`: what redline would run with and what it can see. The resolved
//! configuration with each value's origin, the roots and whether they exist, what a scan
//! of them finds, what the daemon's store keeps for each root, and whether a daemon
//! answers at the configured address.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use clap::parser::ValueSource;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use redline_engine::archive::Scope;
use redline_engine::journal::Journal;
use redline_engine::roots::{RootEnv, resolve_roots};
use redline_engine::scan::ScanOptions;
use redline_engine::store::{self, Record, Rollup};
use redline_engine::usage::format_s;

use crate::config::{self, Origin};
use crate::table::thousands;

/// Prints the report. Fails only when the configuration itself is wrong.
pub fn run(
    args: &crate::config::DaemonArgs,
    source: &dyn Fn(&str) -> Option<ValueSource>,
    env: &RootEnv,
) -> Result<()> {
    let cfg = config::resolve(args, source, env)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "configuration")?;
    match &cfg.file {
        Some(f) => writeln!(out, "  file: {}", f.display())?,
        None => writeln!(out, "  file: none (defaults, variables and flags only)")?,
    }
    // The keys in one column, as wide as the longest.
    let width = cfg.resolved.iter().map(|r| r.key.len()).max().unwrap_or(0);
    for r in &cfg.resolved {
        let origin = match r.origin {
            Origin::Flag => "flag",
            Origin::Env => "variable",
            Origin::File => "file",
            Origin::Default => "default",
        };
        writeln!(out, "  {:<width$} {:<32} ({origin})", r.key, r.value)?;
    }
    if let Some(p) = &cfg.prices {
        writeln!(out, "  prices file: {}", p.display())?;
    }
    let token_file = cfg.token_file();
    if token_file.exists() {
        match config::token_file_problem(&token_file) {
            Some(why) => writeln!(out, "  token file: {why}")?,
            None => writeln!(out, "  token file: {} (yours alone)", token_file.display())?,
        }
    }

    writeln!(out, "\nsource jsonl (Claude Code transcripts)")?;
    let roots = resolve_roots(env);
    for r in &roots {
        let state = match std::fs::metadata(&r.projects) {
            Ok(m) if m.is_dir() => "exists",
            Ok(_) => "is not a directory",
            Err(_) => "not there yet (watched for)",
        };
        writeln!(out, "  root {}: {state}", r.projects.display())?;
    }
    // What cannot be read is named; the rest is read.
    let mut indexes = crate::scan_index::open(&roots, env, args.no_index);
    let listing = indexes.list(&roots);
    let list = listing.transcripts;
    let bytes: u64 = list
        .iter()
        .filter_map(|t| std::fs::metadata(&t.path).ok())
        .map(|m| m.len())
        .sum();
    let started = std::time::Instant::now();
    let (s, mut used, writing) =
        crate::scan_index::scan(list, ScanOptions::default(), indexes, Vec::new(), false);
    writing.wait(&mut used);
    let last = s.ledger.entries().map(|e| e.ts_ms).max();
    writeln!(
        out,
        "  {} files, {} MB; {} lines, {} responses, {} unreadable lines, read in {:.2} s",
        thousands(s.stats.files),
        bytes / 1_000_000,
        thousands(s.stats.lines),
        thousands(s.ledger.len() as u64),
        thousands(s.stats.bad_lines),
        started.elapsed().as_secs_f64()
    )?;
    writeln!(
        out,
        "  newest response: {}",
        last.map_or("none".into(), format_s)
    )?;
    for e in s.errors.iter().take(5) {
        writeln!(out, "  problem: {e}")?;
    }
    for skipped in &listing.skipped {
        writeln!(out, "  skipped: {skipped}")?;
    }
    scan_index(
        &mut out,
        &roots,
        env,
        &used,
        s.ledger.len() as u64,
        args.no_index,
    )?;

    // The store's heading and its damage, then what it keeps per root.
    crate::cmd::ack::explain(&mut out, &cfg.state_dir)?;
    let scope = Scope::new(
        &config::this_host(),
        roots.iter().map(|r| r.projects.as_path()),
    );
    kept_history(
        &mut out,
        &cfg.state_dir.join(store::FILE),
        &scope,
        &cfg.settings.tz,
    )?;

    for line in crate::cmd::correlate::doctor(&cfg.correlate, &cfg.settings.tz) {
        writeln!(out, "{line}")?;
    }

    writeln!(out, "\ndaemon at {}", cfg.listen)?;
    match probe(cfg.local_addr()) {
        Ok(body) => writeln!(out, "  answers /healthz: {}", body.trim())?,
        Err(e) => writeln!(out, "  not answering ({e}); start it with `redline serve`")?,
    }
    Ok(())
}

/// The scan index: where it is, its size per response, and what this scan did with it.
fn scan_index(
    out: &mut impl Write,
    roots: &[redline_engine::roots::Root],
    env: &RootEnv,
    used: &crate::scan_index::Used,
    responses: u64,
    off: bool,
) -> Result<()> {
    let dir = crate::scan_index::cache_dir(env);
    writeln!(out, "\nscan index ({})", dir.display())?;
    if off {
        writeln!(
            out,
            "  off (--no-index or REDLINE_NO_INDEX): every transcript is read"
        )?;
        return Ok(());
    }
    let mut size = 0;
    for r in roots {
        let path = redline_engine::index::path_for(&dir, &r.projects);
        match redline_engine::index::Loaded::read(&path, &r.projects) {
            Ok(l) => {
                size += l.size();
                let (dirs, trusted) = l.dirs();
                writeln!(
                    out,
                    "  {}: {} bytes, {} files, {} responses ({:.1} bytes a response), {} directories ({} known unchanged while their time is)",
                    path.display(),
                    thousands(l.size()),
                    thousands(l.len() as u64),
                    thousands(l.slots()),
                    l.size() as f64 / l.slots().max(1) as f64,
                    thousands(dirs as u64),
                    thousands(trusted as u64)
                )?;
            }
            Err(redline_engine::index::Unusable::Missing) => {
                writeln!(out, "  {}: none yet", path.display())?;
            }
            Err(redline_engine::index::Unusable::OtherVersion) => writeln!(
                out,
                "  {}: from another version of redline, written anew by the next report",
                path.display()
            )?,
            Err(redline_engine::index::Unusable::Damaged(why)) => {
                writeln!(out, "  {}: damaged ({why}), written anew", path.display())?;
            }
        }
    }
    if responses > 0 && size > 0 {
        writeln!(
            out,
            "  {:.1} bytes a counted response ({} responses after dedup)",
            size as f64 / responses as f64,
            thousands(responses)
        )?;
    }
    if let Some(st) = &used.stats {
        let known = st.unchanged + st.grown + st.reread;
        let all = known + st.new;
        let rate = if all == 0 {
            0.0
        } else {
            100.0 * st.hits() as f64 / all as f64
        };
        writeln!(
            out,
            "  this scan: {} files unchanged (not opened), {} grown (read from where the index stopped), {} read again, {} new: hit rate {rate:.1} %; {} MB read, {} MB known from the index",
            thousands(st.unchanged),
            thousands(st.grown),
            thousands(st.reread),
            thousands(st.new),
            st.bytes_read / 1_000_000,
            st.bytes_skipped / 1_000_000
        )?;
    }
    if let Some((read, all)) = used.dirs {
        writeln!(
            out,
            "  this listing: {} of {} directories read, the rest known unchanged (not opened)",
            thousands(read as u64),
            thousands(all as u64)
        )?;
    }
    Ok(())
}

/// `GET /healthz` with a short timeout.
fn probe(addr: std::net::SocketAddr) -> std::io::Result<String> {
    let (_, body) = crate::client::get(&addr.to_string(), "/healthz", Duration::from_secs(2))?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// What rollups of one root on one host hold.
#[derive(Default)]
struct Held {
    records: u64,
    /// Of them, rollups written before roots were recorded, claimed by this root.
    older: u64,
    sessions: BTreeSet<(String, String)>,
    days: BTreeSet<Date>,
}

impl Held {
    fn add(&mut self, r: &Rollup, tz: &TimeZone) {
        self.records += 1;
        self.sessions.insert((r.project.clone(), r.session.clone()));
        let at = redline_engine::timestamp::instant(r.first_ms);
        self.days.insert(tz.to_datetime(at).date());
    }

    fn absorb(&mut self, other: Held) {
        self.records += other.records;
        self.older += other.records;
        self.sessions.extend(other.sessions);
        self.days.extend(other.days);
    }

    fn line(&self) -> String {
        let n = |k: usize, one: &str, many: &str| {
            format!(
                "{} {}",
                thousands(k as u64),
                if k == 1 { one } else { many }
            )
        };
        let span = match (self.days.first(), self.days.last()) {
            (Some(a), Some(b)) => format!(", {a} to {b}"),
            _ => String::new(),
        };
        let older = if self.older > 0 {
            format!(
                " ({} written before rollups named their root)",
                thousands(self.older)
            )
        } else {
            String::new()
        };
        format!(
            "{}{older}, {}, {}{span}",
            n(self.records as usize, "rollup", "rollups"),
            n(self.sessions.len(), "session", "sessions"),
            n(self.days.len(), "day", "days"),
        )
    }
}

/// The daemon's store: where it is, and per root and host what its rollups of the
/// transcripts hold (the roots read here marked, those are what a report adds back), with
/// the OpenTelemetry it keeps. Rollups written before roots were recorded count with the
/// root a newer rollup of their session names, else on a line of their own (no report
/// adds them). Read without the daemon's lock, a line at a time.
/// Goes under the store's heading (see [`crate::cmd::ack::explain`]).
fn kept_history(out: &mut impl Write, path: &Path, scope: &Scope, tz: &TimeZone) -> Result<()> {
    let size = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            writeln!(
                out,
                "  not there yet: `redline serve` keeps OpenTelemetry and hourly rollups of the transcripts here"
            )?;
            return Ok(());
        }
        Err(e) => {
            writeln!(out, "  cannot read it: {e}")?;
            return Ok(());
        }
    };
    type Owner = (String, String);
    let mut by_owner: BTreeMap<Owner, Held> = BTreeMap::new();
    // Rollups without a root, by session, until the sessions' owners are known.
    let mut rootless: HashMap<(String, String), Held> = HashMap::new();
    let mut claims: HashMap<(String, String), Owner> = HashMap::new();
    let (mut usage, mut series, mut readings) = (0u64, 0u64, 0u64);
    let read = Journal::<Record>::read_with(path, store::KIND, |r| match r {
        Record::Rollup(x) => match &x.root {
            Some(root) => {
                let owner = (root.clone(), x.host.clone().unwrap_or_default());
                claims
                    .entry((x.project.clone(), x.session.clone()))
                    .or_insert_with(|| owner.clone());
                by_owner.entry(owner).or_default().add(&x, tz);
            }
            None => rootless
                .entry((x.project.clone(), x.session.clone()))
                .or_default()
                .add(&x, tz),
        },
        Record::Usage(_) => usage += 1,
        Record::Series(_) => series += 1,
        Record::Limit(_) => readings += 1,
    });
    let problems = match read {
        Ok(p) => p,
        Err(e) => {
            writeln!(out, "  cannot read it: {e}")?;
            return Ok(());
        }
    };
    let mut unclaimed = Held::default();
    for (session, held) in rootless {
        match claims.get(&session) {
            Some(owner) => by_owner.entry(owner.clone()).or_default().absorb(held),
            None => {
                unclaimed.records += held.records;
                unclaimed.sessions.extend(held.sessions);
                unclaimed.days.extend(held.days);
            }
        }
    }
    let damaged = if problems.is_empty() {
        String::new()
    } else {
        format!("; {} unreadable lines", thousands(problems.len() as u64))
    };
    writeln!(out, "  size {} KB{damaged}", thousands(size.div_ceil(1000)))?;
    for p in problems.iter().take(5) {
        writeln!(out, "  problem: {p}")?;
    }
    let here = |(root, host): &Owner| {
        host == &scope.host && scope.roots.iter().any(|(_, name)| name == root)
    };
    if !by_owner.keys().any(here) {
        writeln!(out, "  rollups of the roots read here: none yet")?;
    }
    for (owner, held) in &by_owner {
        let mark = if here(owner) { " (read here)" } else { "" };
        writeln!(
            out,
            "  rollups of {} on {}{mark}: {}",
            owner.0,
            owner.1,
            held.line()
        )?;
    }
    if unclaimed.records > 0 {
        writeln!(
            out,
            "  rollups without a root (written before rollups named one, sessions no newer rollup names): {}; no report adds them",
            unclaimed.line()
        )?;
    }
    writeln!(
        out,
        "  OpenTelemetry: {} usage records, {} series positions",
        thousands(usage),
        thousands(series)
    )?;
    if readings > 0 {
        writeln!(
            out,
            "  statusLine plan readings: {} (`redline calibrate` measures the plan's size from them)",
            thousands(readings)
        )?;
    }
    Ok(())
}
