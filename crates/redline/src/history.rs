//! The hours the daemon's store kept of transcripts deleted since (see
//! [`redline_engine::archive`]), added back to a scan by `report`, `correlate` and
//! `calibrate`.
//!
//! The store is read on a thread of its own, started before the transcripts are listed:
//! a store kept for months holds tens of thousands of rollups, and reading them costs as
//! much as a warm scan. Only what the scan found is needed to say which are missing, so
//! the two go on side by side and meet in [`History::keep`].

use std::path::PathBuf;
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use redline_engine::archive::{self, Kept};
use redline_engine::prices::{PriceTable, price_entry};
use redline_engine::roots::Root;
use redline_engine::scan::Scan;
use redline_engine::store;

use crate::config::Config;

/// How many problems in the store are printed.
const SHOWN_PROBLEMS: usize = 20;

/// The store being read (see the module docs).
pub struct History {
    path: PathBuf,
    reading: JoinHandle<std::io::Result<(Kept, Vec<String>)>>,
}

impl History {
    /// Starts reading the rollups `cfg`'s store kept of `roots` on this host; `project`
    /// keeps only that project's.
    pub fn start(roots: &[Root], cfg: &Config, project: Option<&str>) -> History {
        let scope = archive::Scope::new(
            &crate::config::this_host(),
            roots.iter().map(|r| r.projects.as_path()),
        );
        let path = cfg.state_dir.join(store::FILE);
        let project = project.map(str::to_owned);
        let at = path.clone();
        let reading = std::thread::spawn(move || {
            let mut kept = Kept::new(scope);
            // Rollups as their lines hold them (nothing copied).
            let problems = store::read(&at, |r| {
                if let store::Read::Rollup(x) = r
                    && project.as_deref().is_none_or(|p| x.project == p)
                {
                    kept.note(x);
                }
            })?;
            Ok((kept, problems))
        });
        History { path, reading }
    }

    /// Adds to `scan` what the store kept and the scan lacks, and says so on stderr in one
    /// line when it added any. No store, nothing added; a store that cannot be read is an
    /// error rather than a report that silently lacks history. The store is read a line at
    /// a time: once for each key's tokens, again for the keys the transcripts lack.
    pub fn keep(self, scan: &mut Scan, cfg: &Config, prices: &PriceTable) -> Result<()> {
        let path = self.path;
        let context = || format!("cannot read the kept history in {}", path.display());
        let (mut kept, problems) = match self.reading.join() {
            Ok(read) => read.with_context(context)?,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        for p in problems.iter().take(SHOWN_PROBLEMS) {
            eprintln!("redline: warning: {p}");
        }
        let stored = kept.stored();
        if stored.is_empty() {
            // Nothing kept for these roots (no store, or no rollups yet): nothing to add.
            return Ok(());
        }
        let present = archive::present(&scan.ledger, &scan.files, &scan.models, &|_| true);
        let deficit = archive::deficit(stored, &present);
        if deficit.is_empty() {
            return Ok(());
        }
        // Only keys of wanted rollups are in the deficit: the second pass needs no filter
        // beyond whose they are.
        let rollups =
            store::rollups_in(&path, &deficit, &|r| kept.owns(r)).with_context(context)?;
        let mode = cfg.cost_mode;
        let (slots, done) = archive::restore(
            &mut scan.ledger,
            &mut scan.files,
            &mut scan.models,
            &rollups,
            &|_| true,
            &|e, models| {
                let price = e.model().and_then(|m| prices.lookup(models.name(m)));
                price_entry(mode, price, e).usd()
            },
        );
        if !slots.is_empty() {
            let tz = &cfg.settings.tz;
            let mut days = std::collections::HashSet::new();
            let mut sessions = std::collections::HashSet::new();
            for &slot in &slots {
                let e = scan.ledger.get(slot);
                let f = scan.files.get(e.file);
                sessions.insert((&*f.project, &*f.session));
                days.insert(
                    tz.to_datetime(redline_engine::timestamp::instant(e.ts_ms))
                        .date(),
                );
            }
            eprintln!(
                "{}",
                added_line(days.len(), sessions.len(), done.sessions_gone, &path)
            );
        }
        Ok(())
    }
}

/// The line a report prints when it added kept history.
fn added_line(days: usize, sessions: usize, gone: usize, store: &std::path::Path) -> String {
    let n = |k: usize, one: &str, many: &str| format!("{k} {}", if k == 1 { one } else { many });
    format!(
        "redline: kept history: added {} of {} ({} no longer on disk) from {}; --transcripts-only leaves it out",
        n(days, "day", "days"),
        n(sessions, "session", "sessions"),
        gone,
        store.display()
    )
}
