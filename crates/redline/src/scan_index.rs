//! The scan index as the commands use it (see [`redline_engine::index`] and
//! docs/index.md): where it lives (`$XDG_CACHE_HOME/redline/`, else `~/.cache/redline/`),
//! whether it is on (`--no-index`, `REDLINE_NO_INDEX`), and the one warning a damaged
//! one gets. The indexes are read before the listing ([`open`], then [`list`]): what
//! they remember of the directories spares reading the unchanged ones.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use redline_engine::index::{IndexSet, IndexStats};
use redline_engine::roots::{Listing, Root, RootEnv, Transcript, survey, survey_with};
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

/// The indexes of a scan's roots, read before the listing (see [`open`]).
#[derive(Debug)]
pub struct Indexes {
    /// `None` when the index is off.
    pub set: Option<IndexSet>,
    /// Reading them.
    pub load: Duration,
    /// Directories the listing read, and all it went through (when it used the indexes).
    pub dirs: Option<(usize, usize)>,
}

/// Reads the indexes of `roots` (none when `off`), as of now: before the listing, which
/// uses them ([`Indexes::list`]).
pub fn open(roots: &[Root], env: &RootEnv, off: bool) -> Indexes {
    let t = Instant::now();
    let set = (!off).then(|| {
        let now_ms = jiff::Timestamp::now().as_millisecond();
        let projects: Vec<PathBuf> = roots.iter().map(|r| r.projects.clone()).collect();
        IndexSet::open(&cache_dir(env), &projects, now_ms, true)
    });
    Indexes {
        set,
        load: t.elapsed(),
        dirs: None,
    }
}

impl Indexes {
    /// Lists the transcripts below `roots` (see [`list`]).
    pub fn list(&mut self, roots: &[Root]) -> Listing {
        let (listing, dirs) = list(roots, self.set.as_mut());
        self.dirs = dirs;
        listing
    }
}

/// Lists the transcripts below `roots`: with what `set` remembers of their directories
/// (those unchanged are not read again), and gives `set` the directories gone through,
/// for the indexes it writes; without a set, as [`survey`] does. With a set, also the
/// count of directories read and of all gone through.
pub fn list(roots: &[Root], set: Option<&mut IndexSet>) -> (Listing, Option<(usize, usize)>) {
    let Some(set) = set else {
        return (survey(roots), None);
    };
    let (listing, dirs) = survey_with(roots, &set.memory());
    let read = dirs.iter().map(|d| d.read()).sum();
    let all = dirs.iter().map(|d| d.dirs.len()).sum();
    set.listed(dirs);
    (listing, Some((read, all)))
}

/// What a scan with the index did, for `--timings` and `redline doctor`.
#[derive(Clone, Debug, Default)]
pub struct Used {
    /// The counts, `None` when the index was off.
    pub stats: Option<IndexStats>,
    /// Directories the listing read, and all it went through.
    pub dirs: Option<(usize, usize)>,
    /// Reading the indexes.
    pub load: Duration,
    /// The scan itself.
    pub scan: Duration,
    /// Writing the new indexes.
    pub write: Duration,
}

/// Scans `transcripts` (listed by [`Indexes::list`]) with `indexes` (none: without the
/// index); `keep` are files listed but left out of this scan (their records stay). Warns
/// (once each) of a damaged index or one that cannot be written; never fails for the
/// index's sake. The ledger's dedup index is released (the caller reads no more lines).
/// The new index is written by a thread of its own while the caller makes its report:
/// [`Writing::wait`] before the process ends.
pub fn scan(
    transcripts: Vec<Transcript>,
    options: ScanOptions,
    indexes: Indexes,
    keep: Vec<PathBuf>,
    log: bool,
) -> (Scan, Used, Writing) {
    let Indexes { set, load, dirs } = indexes;
    let Some(mut set) = set else {
        let t = Instant::now();
        let (mut s, _) = scan_indexed(transcripts, options, None);
        s.ledger.release_index();
        return (
            s,
            Used {
                scan: t.elapsed(),
                ..Used::default()
            },
            Writing::default(),
        );
    };
    let t = Instant::now();
    set.keep = keep;
    let (mut s, set) = scan_indexed(transcripts, options, Some(set));
    let scanned = t.elapsed();
    s.ledger.release_index();
    let Some(mut set) = set else {
        return (s, Used::default(), Writing::default());
    };
    let pending = set.finish_later(&s.files, &s.ledger);
    if log {
        for p in &set.problems {
            eprintln!("redline: warning: {}", crate::config::printable(p));
        }
    }
    let used = Used {
        stats: Some(set.stats),
        dirs,
        load,
        scan: scanned,
        write: Duration::ZERO,
    };
    let began = Instant::now();
    let thread = std::thread::Builder::new()
        .name("redline-index-write".into())
        .spawn(move || (pending.write_apart(), began.elapsed()));
    let writing = match thread {
        Ok(handle) => Writing {
            handle: Some(handle),
            log,
        },
        Err(e) => {
            if log {
                eprintln!("redline: warning: cannot write the scan index: {e}");
            }
            Writing::default()
        }
    };
    (s, used, writing)
}

/// What the thread writing the index gives back: what it wrote, what went wrong, and
/// how long it took.
type Written = ((IndexStats, Vec<String>), Duration);

/// The new scan index being written by a thread of its own (see [`scan`]).
#[derive(Debug, Default)]
pub struct Writing {
    handle: Option<std::thread::JoinHandle<Written>>,
    log: bool,
}

impl Writing {
    /// Waits for the index to be written, warns of what went wrong, and adds what was
    /// written to `used`.
    pub fn wait(mut self, used: &mut Used) {
        let Some(handle) = self.handle.take() else {
            return;
        };
        let Ok(((stats, problems), took)) = handle.join() else {
            if self.log {
                eprintln!("redline: warning: writing the scan index failed");
            }
            return;
        };
        if self.log {
            for p in &problems {
                eprintln!("redline: warning: {}", crate::config::printable(p));
            }
        }
        if let Some(s) = &mut used.stats {
            s.add(&stats);
        }
        used.write = took;
    }
}

impl Drop for Writing {
    /// A caller that stops early (an error after the scan) still leaves a whole index.
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
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
    let dirs = used.dirs.map_or_else(String::new, |(read, all)| {
        format!(" ({read} of {all} directories read)")
    });
    format!(
        "redline: timings: list {:.1} ms{dirs}, scan {:.1} ms, {index}, report {:.1} ms, total {:.1} ms",
        ms(list),
        ms(used.scan),
        ms(report),
        ms(total)
    )
}
