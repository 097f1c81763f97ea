//! The one thread that owns the live state: it scans history, follows the transcripts,
//! and publishes a fresh [`Snapshot`] whenever something changed and once a second (the
//! tach decays and the day turns with time alone). Readers (HTTP handlers, `redline
//! watch`) only ever clone an `Arc` of the newest snapshot, so a burst of requests never
//! waits for a file to be read, and reading never waits for a request.
//!
//! Start-up serves first and catches up after: the first snapshot holds the transcripts'
//! values (from the scan index and what changed since), and says they are not final
//! (`/usage`'s `final: false`); the hub's thread then replays the store (OpenTelemetry
//! received, cumulative positions, the history of deleted transcripts) before it takes any
//! input, publishes the final values, and only then compacts the store, if that is worth
//! its while. Inputs that arrive meanwhile wait in the queue, so each is counted once,
//! after the store's records. The store's file is read (not replayed) on a thread of its
//! own: it needs nothing of the transcripts.
//!
//! On Linux the listing sets the file watches as it goes, each directory's before it
//! looks at the directory ([`redline_engine::roots::survey_watching`]), and a thread of
//! its own takes them in hand alongside the scan; the catch-up reads what they announced
//! meanwhile before the values are final. The ordering argument: a change made after its
//! directory's watch took hold is announced, and its notification waits in the queue; a
//! change made before was made before the listing looked, and the listing saw it.
//!
//! Elsewhere the watches are set up on that thread, alongside the scan, on the
//! directories the listing went through (none is read again for them); once they are all
//! in place, that thread lists the transcripts again ([`redline_engine::relist`]), and the
//! catch-up reads what changed since the first listing before the values are final: a
//! change made before its directory's watch took hold was made before the second listing
//! began, which finds it by its stamp. A directory the first listing did not see is found
//! by the second, then watched, then listed once more, so the same holds for it. Either
//! way the file is read by the tailer from where the scan (or the last look) stopped, so
//! a line both announced and found again is read once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use redline_engine::archive;
use redline_engine::feed::{HookEvent, StatusFeed};
use redline_engine::follow::{EarlyWatches, Follower, FsEvent, Happening, RootState};
use redline_engine::index::IndexSet;
use redline_engine::journal::{self, Journal};
use redline_engine::ledger::FileId;
use redline_engine::live::{
    Choice, External, Live, LiveStats, ModelCounters, Settings, SourceHealth,
};
use redline_engine::otlp::Batch;
use redline_engine::prices::{CostMode, PriceTable};
use redline_engine::relist::{Changes, Listed};
use redline_engine::roots::{
    NOT_REGULAR, Root, Skipped, out_of_descriptors, path_order, survey_watching, survey_with,
    transcripts_below,
};
use redline_engine::scan::{ScanOptions, scan_indexed};
use redline_engine::stats::{Stat, Window};
use redline_engine::store::{self, Record};
use redline_engine::tail::{TailEvent, Tailer};
use redline_engine::text::{Side, Watch};
use redline_engine::textline::TextCounter;
use redline_engine::usage::Usage;
use std::sync::mpsc;
use tokio::sync::{oneshot, watch};

use crate::exports::Export;

/// How many broken lines are logged with their place before the rest are only counted.
const LOGGED_ERRORS: u64 = 50;
/// How often the transcripts' changed hours are rolled up into the store, unless
/// `REDLINE_ROLLUP_EVERY` (seconds) says otherwise (see [`rollups_every`]).
const ROLLUPS_EVERY: Duration = Duration::from_secs(300);

/// `REDLINE_ROLLUP_EVERY` seconds when set to a positive number, else [`ROLLUPS_EVERY`]:
/// how often changed hours are written to the store (the tests write them each second).
fn rollups_every() -> Duration {
    std::env::var("REDLINE_ROLLUP_EVERY")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|&s| s > 0)
        .map_or(ROLLUPS_EVERY, Duration::from_secs)
}
/// `REDLINE_CATCH_UP_WAIT_MS`: how long the hub waits before it reads the store back at
/// start, for the tests that look at the values while they are not final yet.
fn catch_up_wait() -> Option<Duration> {
    wait_ms("REDLINE_CATCH_UP_WAIT_MS")
}
/// `REDLINE_WATCH_WAIT_MS`: how long the thread that sets up the file watches waits
/// before it takes the watches the listing set in hand (on Linux) or sets them
/// (elsewhere), for the tests that write meanwhile.
fn watch_wait() -> Option<Duration> {
    wait_ms("REDLINE_WATCH_WAIT_MS")
}
/// A wait in milliseconds from the variable `name`; none when unset, unreadable or 0.
fn wait_ms(name: &str) -> Option<Duration> {
    std::env::var(name)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|&ms| ms > 0)
        .map(Duration::from_millis)
}
/// At most this many rollups are written at once (a first start writes every hour of
/// history, a chunk a second, so memory stays small).
const ROLLUPS_AT_ONCE: usize = 2000;
/// How often the store is compacted.
const COMPACT_EVERY: Duration = Duration::from_secs(24 * 3600);

/// Everything a reader needs, computed once per change or second.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The `/usage` document.
    pub usage: Usage,
    /// It, serialized.
    pub usage_json: String,
    /// `/usage/gauge`, serialized.
    pub gauge_json: String,
    /// Bumped each time the values changed (not merely the time): `/events` sends then.
    pub seq: u64,
    /// Tokens and dollars per model since the daemon started.
    pub counters: BTreeMap<String, ModelCounters>,
    /// Lines and responses read.
    pub stats: LiveStats,
    /// Transcript files followed.
    pub files_watched: usize,
    /// Each root and its state.
    pub roots: Vec<(PathBuf, RootState)>,
    /// The store's file, when one is open.
    pub store: Option<PathBuf>,
    /// Transcript rollups not yet written to the store.
    pub rollups_pending: usize,
    /// Each value's source and why (`/api/status`).
    pub choices: Vec<Choice>,
    /// Em-dashes in the assistant's text by model since the daemon started; empty when
    /// the text statistics are off.
    pub emdash: BTreeMap<String, u64>,
    /// The watch list's phrases and their counts in the assistant's text.
    pub phrases: Vec<(String, u64)>,
    /// The git counters (commits attributed to sessions, OpenTelemetry's commits and
    /// lines), since the daemon started.
    pub git: Arc<crate::gitwatch::Counters>,
}

/// What the hub is started with.
pub struct HubConfig {
    /// The roots to read.
    pub roots: Vec<Root>,
    /// Value settings.
    pub settings: Settings,
    /// Prices.
    pub prices: PriceTable,
    /// Cost mode.
    pub cost_mode: CostMode,
    /// Log each broken line (the daemon) or stay quiet (the terminal view).
    pub log: bool,
    /// The durable store (OpenTelemetry received, transcript rollups, statusLine plan
    /// readings); `None` keeps nothing (the terminal view).
    pub store: Option<PathBuf>,
    /// This machine's name, for `/api/hosts`.
    pub host: String,
    /// A Prometheus to read values from, as `[sources]` chooses.
    pub prometheus: Option<String>,
    /// The watch list of the text statistics; `None` turns them off.
    pub text: Option<Vec<String>>,
    /// The needle sweep (`serve --sweep`, `/api/sweep`); `None` never sweeps.
    pub sweep: Option<Arc<crate::sweep::Control>>,
    /// The git counter's slack in minutes; `None` runs no git.
    pub git: Option<u32>,
    /// The scan index's directory; `None` reads every transcript at start and keeps no
    /// index (`--no-index`).
    pub index: Option<PathBuf>,
    /// When the daemon started: the log's `final values after N ms` counts from here.
    pub started: Instant,
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// What reaches the hub besides the clock.
#[derive(Debug)]
pub enum Input {
    /// A file-system notification.
    Fs(FsEvent),
    /// A statusLine object; the `/usage` document after it is sent back when asked.
    Status(StatusFeed, Option<oneshot::Sender<String>>),
    /// A hook.
    Hook(HookEvent),
    /// A deep stat over `days` local days (at most `limit` rows), answered as JSON.
    Stat(Stat, u32, usize, oneshot::Sender<serde_json::Value>),
    /// Cost and tokens by day and hour over `days` local days, with the daily report
    /// (`/api/correlate`, `/api/stats/daily.csv`).
    Usage(u32, oneshot::Sender<redline_engine::correlate::Usage>),
    /// An OpenTelemetry export: answered once it is stored (or why it could not be).
    Otlp(Export),
    /// `/api/hosts`, answered as JSON text (keys in the documented order).
    Hosts(oneshot::Sender<String>),
    /// A reading of the external source (Prometheus), or what failed.
    External(Result<External, String>),
    /// New settings for the values, from the config file changed while serving
    /// (`reload`): applied from the next snapshot on.
    Settings(Box<Settings>),
    /// Nothing but a recomputation now, before the next whole second (the demo, played
    /// faster than real time, asks for one each script second).
    Tick,
    /// The sessions with a response after the second time, with their responses after
    /// the first (the git counter's question).
    GitSessions(i64, i64, crate::gitwatch::SessionsReply),
    /// The daemon is stopping: read what has come, write every rollup still due to the
    /// store (so hours written since the last rollup outlive a transcript deleted before
    /// the next start), answer, and end.
    Stop(mpsc::Sender<()>),
}

/// Why the hub gave no answer to [`ask`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unanswered {
    /// The hub is gone: nothing was sent (the daemon is shutting down).
    Closed,
    /// The hub dropped the question without answering.
    Dropped,
    /// No answer within the wait.
    Late,
}

/// Hands the hub an input that carries a reply channel (`input` builds it around the
/// sender) and waits up to `wait` for the reply.
pub async fn ask<T>(
    inputs: &mpsc::Sender<Input>,
    wait: Duration,
    input: impl FnOnce(oneshot::Sender<T>) -> Input,
) -> Result<T, Unanswered> {
    let (tx, rx) = oneshot::channel();
    if inputs.send(input(tx)).is_err() {
        return Err(Unanswered::Closed);
    }
    match tokio::time::timeout(wait, rx).await {
        Ok(Ok(reply)) => Ok(reply),
        Ok(Err(_)) => Err(Unanswered::Dropped),
        Err(_) => Err(Unanswered::Late),
    }
}

/// The running hub, as its readers and writers hold it.
#[derive(Clone, Debug)]
pub struct Handle {
    /// The newest snapshot.
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    /// Where statusLine objects and hooks go.
    pub inputs: mpsc::Sender<Input>,
}

/// Start-up phases and their times, for `REDLINE_TIMINGS`.
struct Phases {
    at: Instant,
    said: Vec<(&'static str, Duration)>,
}

impl Phases {
    fn new() -> Phases {
        Phases {
            at: Instant::now(),
            said: Vec::new(),
        }
    }

    /// The phase `name` ends now.
    fn mark(&mut self, name: &'static str) {
        let now = Instant::now();
        self.said
            .push((name, now.saturating_duration_since(self.at)));
        self.at = now;
    }

    /// `redline: timings: <what>: list 80.1 ms, ...`, when logging and `REDLINE_TIMINGS`
    /// asks for it.
    fn say(&self, log: bool, what: &str) {
        if log && crate::scan_index::timings_wanted() {
            let said: Vec<String> = self
                .said
                .iter()
                .map(|(n, d)| format!("{n} {:.1} ms", d.as_secs_f64() * 1000.0))
                .collect();
            eprintln!("redline: timings: {what}: {}", said.join(", "));
        }
    }
}

/// Scans history, then follows it on a thread of its own. Returns once the first snapshot
/// is published: the transcripts' values, not final while the store is still to be read
/// back (the hub's thread does that first, see the module docs).
pub fn start(cfg: HubConfig) -> Result<Handle> {
    let HubConfig {
        roots,
        settings,
        prices,
        cost_mode,
        log,
        store,
        host,
        prometheus,
        text: text_watch,
        sweep,
        git,
        index,
        started: daemon_started,
    } = cfg;
    // With Prometheus configured the transcripts are still read: each value takes its
    // source by `[sources]` (thinking, cache and context have no other).
    let no_store = "the store is not open; see the daemon's log";
    let tach_window_s = settings.tach_window_s;
    let tz = settings.tz.clone();
    let mut phases = Phases::new();
    let scope = archive::Scope::new(&host, roots.iter().map(|r| r.projects.as_path()));
    // The file watches: where the watcher can be told from any thread (Linux), the
    // listing sets them as it goes, each directory's before it looks at the directory,
    // and the watching thread only adopts them. Elsewhere that thread watches the
    // directories the listing went through, then lists again, to find what changed
    // before (see the module docs).
    let (inputs, queue) = mpsc::channel();
    let fs_inputs = inputs.clone();
    let send = move |ev| {
        let _ = fs_inputs.send(Input::Fs(ev));
    };
    let (unwatched, early) = match Follower::start_early(roots.clone(), send.clone()) {
        Ok(Some((follower, early))) => (Some(follower), Some(early)),
        // Elsewhere, or when it cannot start (the thread then says why).
        _ => (None, None),
    };
    let watch_roots = roots.clone();
    let (listed_tx, listed_rx) = mpsc::channel::<AfterListing>();
    let watching = std::thread::Builder::new()
        .name("redline-watch".into())
        .spawn(move || match unwatched {
            Some(follower) => adopt_watches(follower, listed_rx),
            None => watch_listed(&watch_roots, listed_rx, send),
        })?;
    // A directory that cannot be read is named (and lights STALL); the rest is read.
    // The index first: the listing does not read the directories it knows unchanged.
    // What it saw is kept, to list again cheaply once the watches are in place.
    let projects: Vec<PathBuf> = roots.iter().map(|r| r.projects.clone()).collect();
    let mut set = index
        .as_ref()
        .map(|dir| IndexSet::open(dir, &projects, now_ms(), true));
    let listed_at = now_ms();
    let memory = set.as_ref().map(IndexSet::memory).unwrap_or_default();
    let (listing, dirs) = match &early {
        Some(early) => survey_watching(&roots, &memory, &|dir: &Path| early.watch(dir)),
        None => survey_with(&roots, &memory),
    };
    drop(memory);
    // Handed to the thread setting up the watches; should it be gone, the catch-up finds
    // that out.
    let _ = listed_tx.send(match early {
        Some(early) => AfterListing::Watches(early),
        None => AfterListing::Listed(Listed::new(listed_at, &listing, &dirs)),
    });
    if let Some(set) = set.as_mut() {
        set.listed(dirs);
    }
    phases.mark("list");
    // The store is read alongside the rest of the start-up (it needs nothing of the
    // transcripts), and replayed by the hub's thread once the first values are out. Not
    // alongside the listing: that keeps both cores busy with the kernel's work, and the
    // scan and first values leave the store's read time enough.
    let store_read = match &store {
        Some(path) => {
            let (path, scope) = (path.clone(), scope.clone());
            Some(
                std::thread::Builder::new()
                    .name("redline-store".into())
                    .spawn(move || read_store(&path, scope))?,
            )
        }
        None => None,
    };
    // The text statistics count from the daemon's start, as Prometheus counters do (and
    // the token counters): a pass over the whole history here would add the time of
    // `redline stats character` to every start-up.
    let text = text_watch.map(|watch| TextCounter::new(Watch::new(&watch), tz.clone(), i64::MIN));
    let options = ScanOptions {
        threads: None,
        hold_partial_last: true,
    };
    let (scan, set) = scan_indexed(listing.transcripts, options, set);
    let mut errors_logged = 0;
    if let Some(mut set) = set {
        set.finish(&scan.files, &scan.ledger);
        if log {
            for p in &set.problems {
                eprintln!("redline: warning: {}", crate::config::printable(p));
                errors_logged += 1;
            }
        }
    }
    // The index is kept up to date as the transcripts grow, by a thread of its own.
    if let Some(dir) = index {
        let roots = roots.clone();
        std::thread::Builder::new()
            .name("redline-index".into())
            .spawn(move || keep_index(&dir, &roots, options))?;
    }
    if log {
        for e in &scan.errors {
            eprintln!(
                "redline: warning: {}",
                crate::config::printable(&e.to_string())
            );
            errors_logged += 1;
        }
    }
    // Files whose open failed for want of descriptors are read again once there are some.
    let mut retry: BTreeSet<Happening> = scan
        .retry
        .iter()
        .filter_map(|&id| {
            let path = scan.files.get(id).path.clone();
            Some(Happening::File {
                root: root_of(&roots, &path)?,
                path,
            })
        })
        .collect();
    let mut failing_files = BTreeMap::new();
    let mut not_regular = BTreeSet::new();
    for s in &listing.skipped {
        if log {
            eprintln!(
                "redline: warning: {}",
                crate::config::printable(&s.to_string())
            );
            errors_logged += 1;
        }
        note_skipped(
            s,
            root_of(&roots, &s.path),
            &mut failing_files,
            &mut not_regular,
            &mut retry,
        );
    }
    let mut tailer = Tailer::default();
    for (i, end) in scan.ends.iter().enumerate() {
        let id = FileId::try_from(i).unwrap_or(FileId::MAX);
        tailer.adopt(id, *end);
    }
    let newest: Vec<Option<i64>> = scan.ends.iter().map(|e| e.newest_ms).collect();
    phases.mark("scan");
    let mut live = Live::from_scan(scan, prices, cost_mode);
    phases.mark("live state");
    prime_turns(
        &mut live,
        &newest,
        now_ms(),
        settings.thresholds.stale_after_ms,
    );
    if let Some(url) = &prometheus {
        live.set_external(Err(format!("{url}: not read yet")));
        let url = url.clone();
        let sender = inputs.clone();
        std::thread::Builder::new()
            .name("redline-prometheus".into())
            .spawn(move || follow_prometheus(&url, &tz, tach_window_s, &sender))?;
    }
    live.set_scope(scope);
    phases.mark("turns");
    // The store is read back, and the transcripts listed again once the watches are in
    // place, by the hub's thread once the first values are out.
    live.set_catching_up(true);
    let git_counters = crate::gitwatch::Counters::new(now_ms());
    if let Some(slack) = git {
        crate::gitwatch::start(inputs.clone(), git_counters.clone(), slack)?;
    }
    let mut hub = Hub {
        git: git_counters,
        live,
        tailer,
        follower: None,
        watching: Some(watching),
        held: Vec::new(),
        roots,
        settings,
        sticky_error: None,
        failing_files,
        not_regular,
        retry,
        log,
        errors_logged,
        seq: 0,
        last_values: None,
        tx: None,
        journal: None,
        store_path: store,
        store_read,
        store_error: None,
        store_tried: Instant::now(),
        damage: DamageWatch::default(),
        no_store,
        host,
        rolled_at: Instant::now(),
        rollups_every: rollups_every(),
        compacted_at: Instant::now(),
        backlog: true,
        text,
        sweep,
        sweep_held: None,
    };
    crate::memory::release_free();
    let first = hub.snapshot(now_ms());
    phases.mark("first values");
    phases.say(log, "start-up");
    let (tx, rx) = watch::channel(Arc::new(first));
    hub.tx = Some(tx);
    std::thread::Builder::new()
        .name("redline-hub".into())
        .spawn(move || {
            hub.catch_up(daemon_started, &queue);
            hub.run(queue);
        })?;
    Ok(Handle {
        snapshots: rx,
        inputs,
    })
}

/// The watching thread where the listing set the watches: once it is done, `follower`
/// takes them, and watches each root they did not cover; what is in such a root is read
/// (it may have been written before its watch took hold). Nothing is listed again: a
/// change made after a directory's watch took hold is announced, one made before was
/// seen by the listing.
fn adopt_watches(mut follower: Follower, listed: mpsc::Receiver<AfterListing>) -> Watched {
    let early = match listed.recv() {
        Ok(AfterListing::Watches(early)) => Some(early),
        _ => None,
    };
    if let Some(wait) = watch_wait() {
        std::thread::sleep(wait);
    }
    let started = Instant::now();
    let mut changes = Changes::default();
    if let Some(early) = early {
        for h in follower.adopt(early) {
            if let Happening::Dir { path, .. } = h {
                changes.new_dirs.push(path);
            }
        }
    }
    let took = started.elapsed();
    let started = Instant::now();
    list_new_dirs(&mut changes);
    Watched {
        follower: Ok(follower),
        took,
        changes,
        listed_again: started.elapsed(),
    }
}

/// The watching thread elsewhere: once the listing is done, watches the directories it
/// went through, then lists again (see the module docs).
fn watch_listed(
    roots: &[Root],
    listed: mpsc::Receiver<AfterListing>,
    send: impl Fn(FsEvent) + Send + 'static,
) -> Watched {
    if let Some(wait) = watch_wait() {
        std::thread::sleep(wait);
    }
    // The directories to watch are the start-up listing's: waiting for it costs less
    // than reading every directory again (without it, they are read).
    let listed = match listed.recv() {
        Ok(AfterListing::Listed(listed)) => Some(listed),
        _ => None,
    };
    let started = Instant::now();
    let dirs = listed.as_ref().map_or(&[][..], Listed::dirs);
    let mut follower = Follower::start_listed(roots.to_vec(), dirs, send)
        .map_err(|e| format!("cannot start the file watcher: {e}"));
    let took = started.elapsed();
    let started = Instant::now();
    let mut changes = listed
        .map(|listed| listed.changes(roots))
        .unwrap_or_default();
    if let Ok(f) = &mut follower {
        watch_new_dirs(f, &mut changes);
    }
    Watched {
        follower,
        took,
        changes,
        listed_again: started.elapsed(),
    }
}

/// Watches the directories made since the start-up's listing (which the second listing
/// found, and no watch covered), then lists what is in them now: what was written there
/// before their watches took hold is read, what came after is announced.
fn watch_new_dirs(follower: &mut Follower, changes: &mut Changes) {
    if changes.new_dirs.is_empty() {
        return;
    }
    for dir in &changes.new_dirs {
        follower.watch_dir(dir);
    }
    list_new_dirs(changes);
}

/// Lists what is in the directories of `changes.new_dirs` now, into its files and what
/// it passed over.
fn list_new_dirs(changes: &mut Changes) {
    if changes.new_dirs.is_empty() {
        return;
    }
    for dir in &changes.new_dirs {
        let (files, skipped) = transcripts_below(dir);
        changes.files.extend(files);
        changes.skipped.extend(skipped);
    }
    changes.files.sort_by(|a, b| path_order(a, b));
    changes.files.dedup();
    changes.skipped.sort_by(|a, b| path_order(&a.path, &b.path));
    changes.skipped.dedup_by(|a, b| a.path == b.path);
}

/// How often the scan index is brought up to date while serving, unless
/// `REDLINE_INDEX_EVERY` (seconds) says otherwise.
const INDEX_EVERY: Duration = Duration::from_secs(600);

/// Brings the scan index up to date every [`INDEX_EVERY`], so that the next report or
/// start reads only what came since: the files that changed are read again (on one core,
/// from where the index stopped); the values are not touched (the hub counts its own).
/// Quiet: a problem is said by the report or start that meets it.
fn keep_index(dir: &Path, roots: &[Root], options: ScanOptions) {
    let every = std::env::var("REDLINE_INDEX_EVERY")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|&s| s > 0)
        .map_or(INDEX_EVERY, Duration::from_secs);
    let projects: Vec<PathBuf> = roots.iter().map(|r| r.projects.clone()).collect();
    loop {
        std::thread::sleep(every);
        let mut set = IndexSet::open(dir, &projects, now_ms(), true);
        let (listing, _) = crate::scan_index::list(roots, Some(&mut set));
        let one_core = ScanOptions {
            threads: Some(1),
            ..options
        };
        let (scan, set) = scan_indexed(listing.transcripts, one_core, Some(set));
        if let Some(mut set) = set {
            set.finish(&scan.files, &scan.ledger);
        }
        drop(scan);
        crate::memory::release_free();
    }
}

/// Files what a listing passed over: a directory that cannot be read lights STALL (and
/// is listed again each tick while descriptors are short), a `*.jsonl` that is not a
/// regular file is only remembered, to be warned of once.
fn note_skipped(
    s: &Skipped,
    root: Option<usize>,
    failing: &mut BTreeMap<PathBuf, String>,
    not_regular: &mut BTreeSet<PathBuf>,
    retry: &mut BTreeSet<Happening>,
) {
    if s.why == NOT_REGULAR {
        not_regular.insert(s.path.clone());
        return;
    }
    failing.insert(s.path.clone(), s.to_string());
    if let Some(root) = root
        && out_of_descriptors(s.os_error)
    {
        retry.insert(Happening::Dir {
            root,
            path: s.path.clone(),
        });
    }
}

/// The most of a file's end read at start-up for its turn state: enough for the last
/// lines of a session but a huge tool result.
const TURN_TAIL_BYTES: u64 = 256 * 1024;
/// The most files whose ends are read at start-up: far more sessions than anyone runs at
/// once.
const TURN_TAIL_FILES: usize = 64;

/// Reads the last lines of the transcripts whose newest response is within the stale
/// limit of `now_ms` (the newest ones first, a few dozen at most), for their sessions'
/// turn state: a turn that was waiting on the model when the daemon started shows as
/// such. The scan reads only usage lines; this reads the few others that matter.
fn prime_turns(live: &mut Live, newest: &[Option<i64>], now_ms: i64, stale_after_ms: i64) {
    let mut fresh: Vec<(i64, FileId)> = newest
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let t = (*t)?;
            (now_ms.saturating_sub(t) < stale_after_ms).then_some((t, FileId::try_from(i).ok()?))
        })
        .collect();
    fresh.sort_unstable_by(|a, b| b.cmp(a));
    fresh.truncate(TURN_TAIL_FILES);
    for (_, id) in fresh {
        let path = live.files().get(id).path.clone();
        if let Ok(lines) = redline_engine::turnline::tail_lines(&path, TURN_TAIL_BYTES) {
            for line in lines {
                live.note_turn_line(id, &line);
            }
        }
    }
}

struct Hub {
    live: Live,
    tailer: Tailer,
    follower: Option<Follower>,
    /// The thread setting up the file watches, until the catch-up joins it.
    watching: Option<std::thread::JoinHandle<Watched>>,
    /// Inputs the catch-up took from the queue and did not handle (all but the file
    /// watches' notifications): the first batch of `run`.
    held: Vec<Input>,
    roots: Vec<Root>,
    settings: Settings,
    /// A failure that stays until the daemon restarts (the watcher broke: events may be lost).
    sticky_error: Option<String>,
    /// Files and directories that could not be read, with why: they light STALL.
    failing_files: BTreeMap<PathBuf, String>,
    /// `*.jsonl` names that are not regular files (FIFOs and the like), warned of once.
    not_regular: BTreeSet<PathBuf>,
    /// What failed for want of file descriptors (`EMFILE`, `ENFILE`): looked at again
    /// each tick until it reads, so a line appended meanwhile is not left until the file
    /// is written again.
    retry: BTreeSet<Happening>,
    log: bool,
    errors_logged: u64,
    seq: u64,
    /// The last values published, without their time, to tell a change from a tick.
    last_values: Option<Usage>,
    tx: Option<watch::Sender<Arc<Snapshot>>>,
    journal: Option<Journal<Record>>,
    /// The store's path, when one is kept: opened again while it cannot be.
    store_path: Option<PathBuf>,
    /// The store as read at start, until the catch-up replays it.
    store_read: Option<std::thread::JoinHandle<Result<StoreRead, String>>>,
    /// Why the store cannot be opened or was not written (OpenTelemetry failing, STALL).
    store_error: Option<String>,
    /// When the store was last tried.
    store_tried: Instant,
    /// The store's side file of damaged records, until the user acknowledges it.
    damage: DamageWatch,
    /// Why OpenTelemetry is refused when there is no store.
    no_store: &'static str,
    host: String,
    rolled_at: Instant,
    /// How often changed hours are rolled up ([`rollups_every`], read once at start).
    rollups_every: Duration,
    compacted_at: Instant,
    /// Rollups wait from the start: write a chunk each tick until they are out.
    backlog: bool,
    /// The text statistics, when they are on.
    text: Option<TextCounter>,
    /// The needle sweep, and the mark it said last.
    sweep: Option<Arc<crate::sweep::Control>>,
    sweep_held: Option<Option<f32>>,
    /// The git counters.
    git: Arc<crate::gitwatch::Counters>,
}

/// The place of the root `path` lies in.
fn root_of(roots: &[Root], path: &Path) -> Option<usize> {
    roots.iter().position(|r| path.starts_with(&r.projects))
}

/// What the start-up's listing hands the thread setting up the file watches, once done.
enum AfterListing {
    /// What it went through: to watch, then list again.
    Listed(Listed),
    /// The watches it set as it went: to adopt.
    Watches(EarlyWatches),
}

/// What the thread setting up the file watches hands back.
struct Watched {
    /// The follower, or why there is none.
    follower: Result<Follower, String>,
    /// How long the watches took to set up.
    took: Duration,
    /// What changed since the start-up's listing, as listed again once the watches were
    /// all in place.
    changes: Changes,
    /// How long that listing took.
    listed_again: Duration,
}

/// How often a store that cannot be opened is tried again.
const STORE_RETRY_EVERY: Duration = Duration::from_secs(5);

/// Watches the store's side file of damaged records (see [`journal::damage`]): while it
/// holds records the user has not acknowledged with `redline doctor --ack`, OpenTelemetry
/// shows an error and STALL blinks. Checked each tick by the files' sizes and times; read
/// only when those change.
#[derive(Debug, Default)]
struct DamageWatch {
    seen: Option<(Option<FileStamp>, Option<FileStamp>)>,
    /// What to show while the damage is not acknowledged.
    error: Option<String>,
}

type FileStamp = (u64, Option<SystemTime>);

fn stamp(path: &Path) -> Option<FileStamp> {
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.len(), m.modified().ok()))
}

impl DamageWatch {
    fn check(&mut self, store: &Path) {
        let now = (
            stamp(&journal::damaged_path(store)),
            stamp(&journal::ack_path(store)),
        );
        if self.seen.as_ref() == Some(&now) {
            return;
        }
        self.seen = Some(now);
        self.error = match journal::damage(store) {
            Ok(Some(d)) if !d.acknowledged => Some(format!(
                "the store was damaged: {} {} moved to {}; see `redline doctor`, then `redline doctor --ack`",
                d.records,
                if d.records == 1 { "record" } else { "records" },
                d.side.display()
            )),
            Ok(_) => None,
            Err(e) => {
                // Not settled: look again at the next tick.
                self.seen = None;
                Some(format!(
                    "cannot read {}: {e}",
                    journal::damaged_path(store).display()
                ))
            }
        };
    }
}

/// How often Prometheus is read while it answers, and the longest wait while it fails.
const PROMETHEUS_EVERY: Duration = Duration::from_secs(2);
const PROMETHEUS_BACKOFF_MAX: Duration = Duration::from_secs(10);

/// Reads Prometheus every two seconds and hands each reading (or what failed) to the hub;
/// after a failure it waits twice as long each time, up to ten seconds. Ends when the hub
/// is gone.
fn follow_prometheus(
    url: &str,
    tz: &jiff::tz::TimeZone,
    tach_window_s: u64,
    hub: &mpsc::Sender<Input>,
) {
    let mut source = match crate::prom_source::PromSource::new(url) {
        Ok(s) => s,
        Err(e) => {
            let _ = hub.send(Input::External(Err(e)));
            return;
        }
    };
    let mut wait = PROMETHEUS_EVERY;
    loop {
        let reading = source.read(now_ms(), tz, tach_window_s);
        wait = match reading {
            Ok(_) => PROMETHEUS_EVERY,
            Err(_) => (wait * 2).min(PROMETHEUS_BACKOFF_MAX),
        };
        if hub.send(Input::External(reading)).is_err() {
            return;
        }
        std::thread::sleep(wait);
    }
}

/// Opens the store and replays it into `live` (OpenTelemetry received, cumulative series'
/// positions, rollups of transcripts since deleted); returns it with the compaction's
/// first pass, to be finished (see [`finish_compaction`]) before anything is
/// appended. A store that cannot be opened leaves OpenTelemetry failing (STALL blinking,
/// exports answered 503) and history unkept, but the daemon serves on and tries it again
/// every [`STORE_RETRY_EVERY`]; the error says why. The store is read a line at a time:
/// once to replay (the compaction's first pass with it), once more for the rollups of
/// deleted hours if there are any, and once more if the compaction rewrites it. What is
/// held of a rollup between the passes is its key's hash and tokens.
fn open_store(
    path: &Path,
    live: &mut Live,
    log: bool,
    phases: &mut Phases,
) -> Result<(Journal<Record>, store::Compaction), String> {
    let read = read_store(path, live.scope().cloned().unwrap_or_default());
    phases.mark("store read");
    replay_store(path, read, live, log, phases)
}

/// A store as read at start ([`read_store`]), not yet replayed into the values.
struct StoreRead {
    journal: Journal<Record>,
    problems: Vec<String>,
    /// What the store keeps of `scope`'s rollups.
    kept: archive::Kept,
    /// The compaction's first pass, which holds every record that is not a rollup.
    compaction: store::Compaction,
    /// How long it took.
    took: Duration,
}

/// Opens and reads the store for [`replay_store`]: needs nothing of the live state, so
/// the daemon does it on a thread of its own while the file watches are set up. Only the
/// rollups of `scope` (the roots read here, on this host) are this daemon's history.
fn read_store(path: &Path, scope: archive::Scope) -> Result<StoreRead, String> {
    let started = Instant::now();
    let mut kept = archive::Kept::new(scope);
    // The compaction's first pass rides along the read.
    let mut compaction = store::Compaction::default();
    // Rollups are read as their lines hold them, without making each one.
    let (journal, problems) = store::open(path, |r| match r {
        store::Read::Rollup(x) => {
            compaction.note_rollup(x);
            kept.note(x);
        }
        store::Read::Other(other) => compaction.note_other(other),
    })
    .map_err(|e| format!("the store cannot be opened: {e}"))?;
    Ok(StoreRead {
        journal,
        problems,
        kept,
        compaction,
        took: started.elapsed(),
    })
}

/// Replays a store [`read_store`] read into `live`: its OpenTelemetry records and series
/// positions in order, then the rollups of transcripts deleted since.
fn replay_store(
    path: &Path,
    read: Result<StoreRead, String>,
    live: &mut Live,
    log: bool,
    phases: &mut Phases,
) -> Result<(Journal<Record>, store::Compaction), String> {
    let StoreRead {
        journal,
        problems,
        mut kept,
        compaction,
        took: _,
    } = read.inspect_err(|why| {
        if log {
            eprintln!("redline: warning: {}", crate::config::printable(why));
        }
    })?;
    if log {
        for p in &problems {
            eprintln!("redline: warning: {}", crate::config::printable(p));
        }
    }
    for r in compaction.others() {
        live.apply_record(r);
    }
    phases.mark("store replay");
    let deficit = live.plan_rollups(kept.stored());
    if !deficit.is_empty() {
        match store::rollups_in(path, &deficit, &|r| kept.owns(r)) {
            Ok(kept) => {
                let restored = live.restore_rollups(&kept);
                if log {
                    eprintln!(
                        "redline: kept history: {} hours of transcripts no longer on disk ({} sessions gone)",
                        restored.entries, restored.sessions_gone
                    );
                }
            }
            Err(e) if log => eprintln!(
                "redline: warning: cannot read the store again: {}",
                crate::config::printable(&e.to_string())
            ),
            Err(_) => {}
        }
    }
    phases.mark("kept history");
    Ok((journal, compaction))
}

/// Finishes a compaction whose first pass rode along [`open_store`]'s replay, if it would
/// drop enough to be worth the rewrite (see [`store::Compaction::finish_if_worthwhile`]:
/// a restart does not rewrite a store that is nearly all kept); a failure is logged, and
/// the store goes on as it was.
fn finish_compaction(journal: &mut Journal<Record>, compaction: store::Compaction, log: bool) {
    if let Err(e) = compaction.finish_if_worthwhile(journal, now_ms())
        && log
    {
        eprintln!(
            "redline: warning: cannot compact the store: {}",
            crate::config::printable(&e.to_string())
        );
    }
}

impl Hub {
    /// The start-up's catch-up, on the hub's thread before it takes any input: reads the
    /// store back into the values (when there is one), waits for the file watches and
    /// reads what changed before they were in place ([`Hub::watches_in_place`]),
    /// publishes the values as final, says so in the log, then compacts the store if
    /// that is worth its while.
    fn catch_up(&mut self, daemon_started: Instant, queue: &mpsc::Receiver<Input>) {
        if let Some(wait) = catch_up_wait() {
            std::thread::sleep(wait);
        }
        let mut phases = Phases::new();
        let mut read_took = None;
        let mut compaction = None;
        if let Some(path) = self.store_path.clone() {
            let read = match self.store_read.take() {
                Some(reading) => reading
                    .join()
                    .unwrap_or_else(|_| Err("the store's reader failed".into())),
                None => read_store(&path, self.live.scope().cloned().unwrap_or_default()),
            };
            read_took = Some(read.as_ref().map_or(Duration::ZERO, |r| r.took));
            phases.mark("store read wait");
            match replay_store(&path, read, &mut self.live, self.log, &mut phases) {
                Ok((journal, c)) => {
                    self.journal = Some(journal);
                    compaction = Some(c);
                }
                Err(why) => self.store_error = Some(why),
            }
            self.store_tried = Instant::now();
            self.damage.check(&path);
        }
        let (watch_took, listed_again) = self.watches_in_place(&mut phases);
        // What the file watches announced meanwhile is read before the values are final:
        // with watches the listing set, that is every change it did not see. The other
        // inputs wait for the first turn of `run`, in their order.
        let mut fs = Vec::new();
        for input in queue.try_iter() {
            match input {
                Input::Fs(ev) => fs.push(ev),
                other => self.held.push(other),
            }
        }
        if let (Some(f), false) = (&mut self.follower, fs.is_empty()) {
            let happenings = f.happenings(fs);
            self.happened(happenings);
        }
        phases.mark("announced read");
        self.live.set_catching_up(false);
        let snapshot = self.snapshot(now_ms());
        if let Some(tx) = &self.tx {
            // Nobody reading: the daemon is stopping, and `run` finds that out.
            let _ = tx.send(Arc::new(snapshot));
        }
        phases.mark("final values");
        if self.log {
            eprintln!(
                "redline: final values after {} ms ({}the file watches in place)",
                daemon_started.elapsed().as_millis(),
                if read_took.is_some() {
                    "the store read back, "
                } else {
                    ""
                }
            );
        }
        if let (Some(journal), Some(compaction)) = (&mut self.journal, compaction) {
            finish_compaction(journal, compaction, self.log);
            phases.mark("compaction");
        }
        // What the catch-up freed (the store's records, the second listing, a compaction)
        // goes back to the system, once the values are out.
        crate::memory::release_free();
        phases.mark("memory given back");
        let alongside = [
            ("watch (alongside the start-up)", watch_took),
            ("listed again (after it)", listed_again),
        ];
        phases.said.splice(0..0, alongside);
        if let Some(took) = read_took {
            phases
                .said
                .insert(0, ("store read (alongside the start-up)", took));
        }
        phases.say(self.log, "catch-up");
    }

    /// Waits for the thread setting up the file watches, takes its follower (or why there
    /// is none), then reads each transcript that thread found new or changed: where the
    /// listing set the watches, what is below a root made since; elsewhere, what appeared
    /// or changed between the start-up's listing and the one that thread made once the
    /// watches were in place, whatever was written before its directory was watched,
    /// which no notification announces. What was written after is announced as well, and
    /// read once all the same (see the module docs). Returns how long the watches and
    /// that listing took.
    fn watches_in_place(&mut self, phases: &mut Phases) -> (Duration, Duration) {
        let watched = match self.watching.take().map(std::thread::JoinHandle::join) {
            Some(Ok(watched)) => watched,
            Some(Err(_)) => Watched {
                follower: Err("the file watcher failed".into()),
                took: Duration::ZERO,
                changes: Changes::default(),
                listed_again: Duration::ZERO,
            },
            None => return (Duration::ZERO, Duration::ZERO),
        };
        match watched.follower {
            Ok(f) => self.follower = Some(f),
            Err(why) => self.sticky_error = Some(why),
        }
        phases.mark("watch wait");
        for s in &watched.changes.skipped {
            // Said already when the start-up's listing passed it over.
            if !self.not_regular.contains(&s.path) && !self.failing_files.contains_key(&s.path) {
                self.warn(&s.to_string());
            }
            note_skipped(
                s,
                root_of(&self.roots, &s.path),
                &mut self.failing_files,
                &mut self.not_regular,
                &mut self.retry,
            );
        }
        for path in &watched.changes.files {
            if let Some(root) = root_of(&self.roots, path) {
                self.look(root, path);
            }
        }
        phases.mark("changed files read");
        (watched.took, watched.listed_again)
    }

    /// Looks at what the file watches said happened.
    fn happened(&mut self, happenings: Vec<Happening>) {
        for h in happenings {
            match h {
                Happening::File { root, path } => self.look(root, &path),
                Happening::Dir { root, path } => self.look_below(root, &path),
                Happening::Error(e) => {
                    self.warn(&e);
                    self.sticky_error = Some(e);
                }
            }
        }
    }

    fn run(mut self, queue: mpsc::Receiver<Input>) {
        loop {
            let now = now_ms();
            // Wake at the next whole second: the values move with time alone.
            let mut to_tick = Duration::from_millis(1000 - now.rem_euclid(1000) as u64);
            if self.sweep.as_ref().is_some_and(|s| s.on()) {
                to_tick = to_tick.min(crate::sweep::EVERY);
            }
            // First what the catch-up held back, without waiting.
            let mut batch: Vec<Input> = std::mem::take(&mut self.held);
            if !batch.is_empty() {
                batch.extend(queue.try_iter());
            } else {
                match queue.recv_timeout(to_tick) {
                    Ok(first) => {
                        batch.push(first);
                        batch.extend(queue.try_iter());
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    // Nobody can send any more (no watcher, no server): only the clock is
                    // left.
                    Err(mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(to_tick),
                }
            }
            let mut fs = Vec::new();
            let mut replies = Vec::new();
            // Answered once the snapshot holding them is out: after a 200, `/usage` shows
            // the export.
            let mut stored = Vec::new();
            let mut stop = None;
            for input in batch {
                match input {
                    Input::Fs(ev) => fs.push(ev),
                    Input::Status(feed, reply) => {
                        let now = now_ms();
                        self.live.apply_status(&feed, now);
                        if let Some(reading) = self.live.plan_reading(&feed, now) {
                            self.keep(Record::Limit(reading));
                        }
                        replies.extend(reply);
                    }
                    Input::Hook(h) => self.live.apply_hook(&h, now_ms()),
                    Input::Stat(which, days, limit, reply) => {
                        let window = Window {
                            now_ms: now_ms(),
                            days,
                            tz: self.settings.tz.clone(),
                            budget_tokens: self
                                .last_values
                                .as_ref()
                                .and_then(|u| u.fuel.budget_tokens),
                            limit,
                        };
                        let _ = reply.send(self.live.stat(which, &window));
                    }
                    Input::Usage(days, reply) => {
                        let window = Window {
                            now_ms: now_ms(),
                            days,
                            tz: self.settings.tz.clone(),
                            budget_tokens: None,
                            limit: 0,
                        };
                        let _ = reply.send(self.live.usage_days(&window));
                    }
                    Input::Otlp(Export {
                        batch,
                        claim,
                        permit,
                        reply,
                    }) => {
                        // Abandoned: its receiver answered 503 already, so it must not
                        // count.
                        if claim.take() {
                            stored.push((reply, self.take_otlp(&batch)));
                        }
                        // Its place in the queue is free once the batch is gone.
                        drop(batch);
                        drop(permit);
                    }
                    Input::GitSessions(from, active_since, reply) => {
                        let _ = reply.send(self.live.git_sessions(from, active_since));
                    }
                    Input::Hosts(reply) => {
                        let _ = reply.send(self.hosts_json());
                    }
                    Input::External(reading) => self.live.set_external(reading),
                    Input::Settings(settings) => self.settings = *settings,
                    Input::Tick => {}
                    Input::Stop(done) => stop = Some(done),
                }
            }
            let mut happenings = match (&mut self.follower, fs.is_empty()) {
                (Some(f), false) => f.happenings(fs),
                _ => Vec::new(),
            };
            happenings.extend(std::mem::take(&mut self.retry));
            self.happened(happenings);
            self.retry_store();
            if let Some(path) = &self.store_path {
                self.damage.check(path);
            }
            if self.backlog || self.rolled_at.elapsed() >= self.rollups_every {
                self.roll_up();
            }
            if stop.is_some() {
                while self.journal.is_some() && self.live.rollups_due() > 0 {
                    self.roll_up();
                }
            }
            if self.compacted_at.elapsed() >= COMPACT_EVERY {
                self.compacted_at = Instant::now();
                if let Some(j) = &mut self.journal
                    && let Err(e) = store::compact(j, now_ms())
                {
                    self.warn(&format!("cannot compact the store: {e}"));
                }
                crate::memory::release_free();
            }
            let snapshot = self.snapshot(now_ms());
            for reply in replies {
                let _ = reply.send(snapshot.usage_json.clone());
            }
            let Some(tx) = &self.tx else { return };
            let published = tx.send(Arc::new(snapshot)).is_ok();
            // Even when shutting down: what was stored must not be answered 503.
            for (reply, result) in stored {
                let _ = reply.send(result);
            }
            if let Some(done) = stop {
                let _ = done.send(());
                return;
            }
            if !published {
                // Nobody reads any more: the daemon is shutting down.
                return;
            }
        }
    }

    /// Reads every transcript below a directory that appeared (or was passed over before).
    fn look_below(&mut self, root: usize, path: &Path) {
        let (files, skipped) = transcripts_below(path);
        // What was failing below here is looked at again now.
        self.failing_files.retain(|p, _| !p.starts_with(path));
        for s in &skipped {
            if !self.not_regular.contains(&s.path) {
                self.warn(&s.to_string());
            }
            note_skipped(
                s,
                Some(root),
                &mut self.failing_files,
                &mut self.not_regular,
                &mut self.retry,
            );
        }
        for f in files {
            self.look(root, &f);
        }
    }

    /// Reads what is new in one file.
    fn look(&mut self, root: usize, path: &Path) {
        let Some(projects) = self.roots.get(root).map(|r| r.projects.clone()) else {
            return;
        };
        let Some(id) = self.live.file_id(&projects, path) else {
            return;
        };
        let place = self.text.as_ref().map(|_| {
            let meta = self.live.files().get(id);
            (meta.project.clone(), meta.session.clone())
        });
        let live = &mut self.live;
        let text = &mut self.text;
        let mut bad: Vec<String> = Vec::new();
        let result = self.tailer.look(id, path, |ev| match ev {
            TailEvent::Restart(_) => live.restart_file(id),
            TailEvent::Line(n, line) => {
                if let Err(problem) = live.ingest(id, n, line) {
                    bad.push(format!("{}:{n}: {problem}", path.display()));
                }
                if let (Some(counter), Some((project, session))) = (text.as_mut(), &place) {
                    counter.ingest(line, project, session);
                }
            }
            TailEvent::TooLong(n, _) => {
                live.note_long_line();
                bad.push(format!(
                    "{}:{n}: {}",
                    path.display(),
                    redline_engine::scan::too_long_message()
                ));
            }
        });
        for b in bad {
            self.warn(&b);
        }
        match result {
            Ok(look) if look.not_regular => {
                // Not a transcript: said once, never opened (a FIFO would block the hub).
                self.failing_files.remove(path);
                if self.not_regular.insert(path.to_path_buf()) {
                    self.warn(&format!("{}: {NOT_REGULAR}", path.display()));
                }
            }
            Ok(_) => {
                self.failing_files.remove(path);
                self.not_regular.remove(path);
            }
            Err(e) => {
                let msg = format!("{}: {e}", path.display());
                if self.failing_files.get(path) != Some(&msg) {
                    self.warn(&msg);
                }
                self.failing_files.insert(path.to_path_buf(), msg);
                if out_of_descriptors(e.raw_os_error()) {
                    self.retry.insert(Happening::File {
                        root,
                        path: path.to_path_buf(),
                    });
                }
            }
        }
    }

    /// Stores an export's records, then counts them: nothing is acknowledged that a
    /// restart would not find.
    fn take_otlp(&mut self, batch: &Batch) -> Result<(), String> {
        let now = now_ms();
        let records = self.live.otlp_records(batch, now);
        if !records.is_empty() {
            let Some(journal) = &mut self.journal else {
                return Err(self.no_store.into());
            };
            // All or nothing: after an error the store is as it was, and nothing counts.
            if let Err(e) = journal.append(&records) {
                let why = format!("cannot write the store: {e}");
                self.warn(&why);
                self.store_error = Some(why.clone());
                return Err(why);
            }
            self.store_error = None;
        }
        for r in &records {
            self.live.apply_record(r);
        }
        self.live.otlp_events(&batch.events, now);
        self.git.take_otel(&batch.code);
        Ok(())
    }

    /// Appends a record the daemon keeps for `redline calibrate` (a plan reading). Not
    /// kept without a store; a write that fails is logged, and the values go on.
    fn keep(&mut self, record: Record) {
        let Some(journal) = &mut self.journal else {
            return;
        };
        if let Err(e) = journal.append(std::slice::from_ref(&record)) {
            self.warn(&format!("cannot write the store: {e}"));
        }
    }

    /// Opens the store again when it could not be (a state directory not writable yet, a
    /// lock another daemon held), every [`STORE_RETRY_EVERY`]: nothing of it was replayed,
    /// so replaying it now counts it once.
    fn retry_store(&mut self) {
        if self.journal.is_some() || self.store_tried.elapsed() < STORE_RETRY_EVERY {
            return;
        }
        let Some(path) = self.store_path.clone() else {
            return;
        };
        self.store_tried = Instant::now();
        match open_store(&path, &mut self.live, false, &mut Phases::new()) {
            Ok((mut j, compaction)) => {
                finish_compaction(&mut j, compaction, self.log);
                if self.log {
                    eprintln!(
                        "redline: the store is open now: {}",
                        crate::config::printable(&path.display().to_string())
                    );
                }
                self.journal = Some(j);
                self.store_error = None;
                self.backlog = true;
            }
            Err(why) => self.store_error = Some(why),
        }
    }

    /// Writes a chunk of the rollups due (the transcript hours that changed).
    fn roll_up(&mut self) {
        self.rolled_at = Instant::now();
        let Some(journal) = &mut self.journal else {
            self.backlog = false;
            return;
        };
        let rollups: Vec<Record> = self
            .live
            .take_rollups(ROLLUPS_AT_ONCE)
            .into_iter()
            .map(Record::Rollup)
            .collect();
        let was_backlog = self.backlog;
        self.backlog = self.live.rollups_due() > 0;
        if was_backlog && !self.backlog {
            crate::memory::release_free();
        }
        if let Err(e) = journal.append(&rollups) {
            let why = format!("cannot write the store: {e}");
            self.warn(&why);
        }
    }

    /// `/api/hosts`: today per host, in the daemon's time zone.
    fn hosts_json(&self) -> String {
        #[derive(serde::Serialize)]
        struct Today {
            input: u64,
            output: u64,
            #[serde(rename = "cacheRead")]
            cache_read: u64,
            #[serde(rename = "cacheCreation")]
            cache_creation: u64,
            cost_usd: f64,
        }
        #[derive(serde::Serialize)]
        struct Host {
            host: String,
            last_seen: Option<String>,
            today: Today,
        }
        let hosts: Vec<Host> = self
            .live
            .hosts_today(now_ms(), &self.settings.tz, &self.host)
            .into_iter()
            .map(|h| Host {
                host: h.host,
                last_seen: h.last_seen_ms.map(redline_engine::usage::format_s),
                today: Today {
                    input: h.tokens.input,
                    output: h.tokens.output,
                    cache_read: h.tokens.cache_read,
                    cache_creation: h.tokens.cache_creation,
                    cost_usd: redline_engine::usage::round_usd(h.cost_usd),
                },
            })
            .collect();
        #[derive(serde::Serialize)]
        struct Hosts {
            hosts: Vec<Host>,
        }
        serde_json::to_string(&Hosts { hosts }).unwrap_or_default()
    }

    fn warn(&mut self, msg: &str) {
        if !self.log {
            return;
        }
        self.errors_logged += 1;
        if self.errors_logged <= LOGGED_ERRORS {
            eprintln!("redline: warning: {}", crate::config::printable(msg));
        } else if self.errors_logged == LOGGED_ERRORS + 1 {
            eprintln!(
                "redline: warning: more problems follow; they are counted in /metrics, not logged"
            );
        }
    }

    fn health(&self) -> SourceHealth {
        let mut problems: BTreeSet<String> = BTreeSet::new();
        problems.extend(self.sticky_error.clone());
        if let Some(f) = &self.follower {
            for s in f.states() {
                if let RootState::Failed(why) = s {
                    problems.insert(why.clone());
                }
            }
        }
        problems.extend(self.failing_files.values().take(3).cloned());
        SourceHealth {
            error: (!problems.is_empty())
                .then(|| problems.into_iter().collect::<Vec<_>>().join("; ")),
        }
    }

    fn snapshot(&mut self, now: i64) -> Snapshot {
        self.live.set_health(self.health());
        let store_problems: Vec<&str> = [&self.store_error, &self.damage.error]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        self.live
            .set_otlp_error((!store_problems.is_empty()).then(|| store_problems.join("; ")));
        let mut usage = self.live.usage(now, &self.settings);
        if let Some(control) = &self.sweep {
            crate::sweep::apply(control, &mut usage, &mut self.sweep_held);
        }
        let values = Usage {
            updated_at: String::new(),
            ..usage.clone()
        };
        if self.last_values.as_ref() != Some(&values) {
            self.seq += 1;
            self.last_values = Some(values);
        }
        let roots = match &self.follower {
            // Being set up: said as such until the catch-up takes the follower.
            None if self.watching.is_some() => self
                .roots
                .iter()
                .map(|r| (r.projects.clone(), RootState::Starting))
                .collect(),
            Some(f) => f
                .roots()
                .iter()
                .zip(f.states())
                .map(|(r, s)| (r.projects.clone(), s.clone()))
                .collect(),
            None => self
                .roots
                .iter()
                .map(|r| {
                    (
                        r.projects.clone(),
                        RootState::Failed("no file watcher".into()),
                    )
                })
                .collect(),
        };
        Snapshot {
            usage_json: serde_json::to_string(&usage).unwrap_or_default(),
            gauge_json: serde_json::to_string(&usage.gauge_report()).unwrap_or_default(),
            usage,
            seq: self.seq,
            counters: self.live.counters().clone(),
            stats: self.live.stats(),
            files_watched: self.tailer.len(),
            roots,
            store: self.journal.as_ref().map(|j| j.path().to_owned()),
            rollups_pending: self.live.rollups_due(),
            choices: self.live.choices().to_vec(),
            emdash: self
                .text
                .as_ref()
                .map_or_else(BTreeMap::new, emdash_by_model),
            phrases: self.text.as_ref().map_or_else(Vec::new, |t| {
                let c = &t.character;
                c.watch
                    .phrases
                    .iter()
                    .cloned()
                    .zip(c.watch_counts.iter().copied())
                    .collect()
            }),
            git: self.git.clone(),
        }
    }
}

/// Em-dashes in the assistant's text (main chain and subagents) by model.
fn emdash_by_model(t: &TextCounter) -> BTreeMap<String, u64> {
    let mut out: BTreeMap<String, u64> = BTreeMap::new();
    for ((side, model), c) in &t.character.by_model {
        if *side != Side::User {
            *out.entry(model.clone()).or_default() += c.em_dashes;
        }
    }
    out
}
