//! `redline doctor`: what redline would run with and what it can see. The resolved
//! configuration with each value's origin, the roots and whether they exist, what a scan
//! of them finds, and whether a daemon answers at the configured address.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use clap::parser::ValueSource;
use redline_engine::roots::{RootEnv, list_transcripts, resolve_roots};
use redline_engine::scan::scan;
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
    match list_transcripts(&roots) {
        Ok(list) => {
            let bytes: u64 = list
                .iter()
                .filter_map(|t| std::fs::metadata(&t.path).ok())
                .map(|m| m.len())
                .sum();
            let started = std::time::Instant::now();
            let s = scan(list, None);
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
        }
        Err(e) => writeln!(out, "  cannot list transcripts: {e}")?,
    }

    writeln!(out, "\ndaemon at {}", cfg.listen)?;
    match probe(cfg.local_addr()) {
        Ok(body) => writeln!(out, "  answers /healthz: {}", body.trim())?,
        Err(e) => writeln!(out, "  not answering ({e}); start it with `redline serve`")?,
    }
    Ok(())
}

/// `GET /healthz` with a short timeout.
fn probe(addr: std::net::SocketAddr) -> std::io::Result<String> {
    let (_, body) = crate::client::get(&addr.to_string(), "/healthz", Duration::from_secs(2))?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}
