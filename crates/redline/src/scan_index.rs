//! The scan index as the commands use it (see [`redline_engine::index`] and
//! docs/index.md): where it lives (`$XDG_CACHE_HOME/redline/`, else `~/.cache/redline/`),
//! whether it is on (`--no-index`, `REDLINE_NO_INDEX`), and the one warning a damaged
//! one gets.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use redline_engine::index::{IndexSet, IndexStats};
use redline_engine::roots::{Root, RootEnv, Transcript};
use redline_engine::scan::{Scan, ScanOptions, scan_indexed};

/// `$XDG_CACHE_HOME/redline`, else `~/.cache/redline`.
pub fn cache_dir(env: &RootEnv) -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| env.home.as_ref().map(|h| h.join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".redline-cache"))
        .join("redline")
}

/// What a scan with the index did, for `--timings` and `redline doctor`.
#[derive(Clone, Debug, Default)]
pub struct Used {
    /// The counts, `None` when the index was off.
    pub stats: Option<IndexStats>,
    /// Reading the indexes.
    pub load: Duration,
    /// The scan itself.
    pub scan: Duration,
    /// Writing the new indexes.
    pub write: Duration,
}

/// Scans `transcripts` below `roots`, with the index unless `off`; `keep` are files
/// listed but left out of this scan (their records stay). Warns (once each) of a damaged
/// index or one that cannot be written; never fails for the index's sake. The ledger's
/// dedup index is released (the caller reads no more lines), before the new index is
/// finished: its footer then takes the room the dedup index had.
pub fn scan(
    transcripts: Vec<Transcript>,
    options: ScanOptions,
    roots: &[Root],
    env: &RootEnv,
    off: bool,
    keep: Vec<PathBuf>,
    log: bool,
) -> (Scan, Used) {
    if off {
        let t = Instant::now();
        let (mut s, _) = scan_indexed(transcripts, options, None);
        s.ledger.release_index();
        return (
            s,
            Used {
                scan: t.elapsed(),
                ..Used::default()
            },
        );
    }
    let t = Instant::now();
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let projects: Vec<PathBuf> = roots.iter().map(|r| r.projects.clone()).collect();
    let mut set = IndexSet::open(&cache_dir(env), &projects, now_ms, true);
    set.keep = keep;
    let load = t.elapsed();
    let (mut s, set) = scan_indexed(transcripts, options, Some(set));
    let scanned = t.elapsed();
    s.ledger.release_index();
    let Some(mut set) = set else {
        return (s, Used::default());
    };
    set.finish(&s.files, &s.ledger);
    if log {
        for p in &set.problems {
            eprintln!("redline: warning: {}", crate::config::printable(p));
        }
    }
    let used = Used {
        stats: Some(set.stats),
        load,
        scan: scanned - load,
        write: t.elapsed() - scanned,
    };
    (s, used)
}

/// Whether `REDLINE_TIMINGS` asks for the phases' times on stderr.
pub fn timings_wanted() -> bool {
    std::env::var("REDLINE_TIMINGS").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// One line of timings: `redline: timings: list 80.1 ms, ...`.
pub fn timings_line(list: Duration, used: &Used, report: Duration, total: Duration) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let index = match &used.stats {
        None => "index off".to_owned(),
        Some(s) => format!(
            "index load {:.1} ms, {} unchanged, {} grown, {} read again, {} new, {} bytes read, {} skipped, write {:.1} ms ({} bytes)",
            ms(used.load),
            s.unchanged,
            s.grown,
            s.reread,
            s.new,
            s.bytes_read,
            s.bytes_skipped,
            ms(used.write),
            s.bytes_written
        ),
    };
    format!(
        "redline: timings: list {:.1} ms, scan {:.1} ms, {index}, report {:.1} ms, total {:.1} ms",
        ms(list),
        ms(used.scan),
        ms(report),
        ms(total)
    )
}
