//! The cold scan: every transcript read once, on every core, into one [`Ledger`].
//!
//! Workers take files from a shared queue (largest first, so one big file does not finish
//! last alone). Each file is read into a small ledger of its own, which folds its streamed
//! copies together; that ledger then joins the shared one under a lock held only for the
//! merge, once per file. Memory is the shared ledger plus one file's responses per
//! worker. The survivor rule is a total order on copies, so the result is the same for any
//! number of threads and any scheduling.
//!
//! With the scan index, files it knows unchanged come first: workers decode them in runs
//! of neighbours (in path order), and the runs are merged in their order (see
//! `hand_over`), so a history taken from the index lies in the ledger in the order
//! reports walk it.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::index::format::{self, FileCounts, FileFacts, FileHead, Identity};
use crate::index::{self, EDGE_BYTES, IndexSet, IndexStats, Loaded, Task};
use crate::ledger::{Entry, FileId, FileMeta, Files, Ledger, ModelId, Models, Run};
use crate::reader::{MAX_LINE_BYTES, Piece, Start, open_regular, read_lines};
use crate::record::parse_line;
use crate::roots::{Stamp, Transcript, out_of_descriptors, path_order};
use crate::tail::fingerprint;

/// How many line errors are kept with their text; the rest are only counted.
pub const KEPT_ERRORS: usize = 200;

/// A line that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line number; 0 when the whole file failed.
    pub line: u64,
    /// What was wrong.
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.path.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
        }
    }
}

/// Counts of what a scan saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Files read.
    pub files: u64,
    /// Files that could not be opened or read to the end.
    pub unreadable_files: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Lines read.
    pub lines: u64,
    /// Lines that carried usage (every copy, before dedup).
    pub usage_lines: u64,
    /// Usage lines accepted although they differ from Claude Code's own shape.
    pub lenient_lines: u64,
    /// Broken lines (reported, not counted).
    pub bad_lines: u64,
    /// Lines longer than [`MAX_LINE_BYTES`] (reported, passed over unread).
    pub long_lines: u64,
    /// The newest timestamp of any usage line.
    pub newest_ms: Option<i64>,
}

impl ScanStats {
    fn add(&mut self, o: &ScanStats) {
        self.files += o.files;
        self.unreadable_files += o.unreadable_files;
        self.bytes += o.bytes;
        self.lines += o.lines;
        self.usage_lines += o.usage_lines;
        self.lenient_lines += o.lenient_lines;
        self.bad_lines += o.bad_lines;
        self.long_lines += o.long_lines;
        self.newest_ms = self.newest_ms.max(o.newest_ms);
    }
}

/// The result of a scan.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    /// The files read, by [`FileId`].
    pub files: Files,
    /// Model ids seen.
    pub models: Models,
    /// The distinct responses.
    pub ledger: Ledger,
    /// What was seen.
    pub stats: ScanStats,
    /// The first [`KEPT_ERRORS`] problems, in file and line order.
    pub errors: Vec<LineError>,
    /// Where each file's reading stopped, by [`FileId`]: a live reader carries on from
    /// there.
    pub ends: Vec<FileEnd>,
    /// Files that could not be opened or read for want of file descriptors (`EMFILE`,
    /// `ENFILE`), in id order: a live reader tries them again once some are free.
    pub retry: Vec<FileId>,
}

/// Where the scan stopped reading one file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileEnd {
    /// Bytes read: just past the last line handed out.
    pub offset: u64,
    /// Lines handed out.
    pub lines: u64,
    /// The file's identity when it was read (device and inode on Unix; 0 elsewhere).
    pub identity: (u64, u64),
    /// A hash of its first bytes as read (see [`crate::tail::fingerprint`]); only when
    /// the scan holds partial last lines back, that is, for a live reader.
    pub fingerprint: Option<u64>,
    /// The run of response lines the file ended in: a live reader goes on counting a
    /// response's content from there.
    pub run: Run,
    /// The newest timestamp of a usage line in the file.
    pub newest_ms: Option<i64>,
    /// The file ends inside an unfinished line longer than [`MAX_LINE_BYTES`], this many
    /// bytes of it passed over (included in `offset`).
    pub skipping: Option<u64>,
}

/// How a scan reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanOptions {
    /// Threads; `None` uses every core.
    pub threads: Option<usize>,
    /// Leave a last line without its newline unread: a writer may be in the middle of it,
    /// and a live reader will pick it up whole. A one-shot report reads it.
    pub hold_partial_last: bool,
}

/// What one worker gathered besides the ledger.
struct Worker {
    stats: ScanStats,
    ends: Vec<(FileId, FileEnd)>,
    retry: Vec<FileId>,
    hold_partial_last: bool,
    /// The first bytes of the file being read, as they went by.
    first: Vec<u8>,
    /// The last bytes of the file being read, as they went by.
    last: Vec<u8>,
    /// Room for one index record's entries as decoded.
    parts: Vec<(Option<u64>, crate::ledger::EntryParts)>,
    /// The new indexes' model ids (by root and name) this worker has looked up.
    index_models: std::collections::HashMap<(usize, String), ModelId>,
}

/// What the workers share: the one ledger and its model table, the errors kept, and the
/// indexes being read and written.
#[derive(Default)]
struct Shared {
    ledger: Ledger,
    models: Models,
    /// Where each file's reading ended, by file id: the workers put theirs here as they
    /// merge (one copy of them at a time, not the workers' and the scan's).
    ends: Vec<FileEnd>,
    errors: Vec<LineError>,
    index: Option<IndexShared>,
    /// Whether every response kept is entered in the ledger's dedup index. A response
    /// the index says no other file held is kept without looking for copies (unchanged
    /// files are merged before any file is read, and none of them holds one); it is
    /// entered in the dedup index only when a file read or a live reader may offer a
    /// copy of it later.
    enter_all: bool,
}

/// The index's side of [`Shared`].
struct IndexShared {
    set: IndexSet,
    /// Per root: the index's model id to the scan's, looked up on first use.
    to_scan: Vec<Vec<Option<ModelId>>>,
}

/// Reads every transcript. `threads` of `None` uses every core.
pub fn scan(transcripts: Vec<Transcript>, threads: Option<usize>) -> Scan {
    scan_with(
        transcripts,
        ScanOptions {
            threads,
            hold_partial_last: false,
        },
    )
}

/// Reads every transcript, as `options` say.
pub fn scan_with(transcripts: Vec<Transcript>, options: ScanOptions) -> Scan {
    scan_indexed(transcripts, options, None).0
}

/// Reads every transcript, as `options` say, using and writing the scan index `index`
/// when there is one (see [`crate::index`]): files it knows unchanged are not opened,
/// files that grew are read from where it stopped. The result is the same as without it.
/// The index set comes back with its counts (and with the new indexes still to be
/// finished: see [`IndexSet::finish`]).
pub fn scan_indexed(
    transcripts: Vec<Transcript>,
    options: ScanOptions,
    mut index: Option<IndexSet>,
) -> (Scan, Option<IndexSet>) {
    let threads = options.threads;
    let tasks = match &mut index {
        Some(set) => set.plan(&transcripts),
        None => vec![Task::Read; transcripts.len()],
    };
    let mut files = Files::with_capacity(transcripts.len());
    // Files to read, largest first (sizes as listed: a file that grew since is only read
    // later than it might be); equal sizes in path order, so the queue itself is
    // deterministic. Indexed files, which cost little, come last.
    //
    // Made afresh rather than collected in place: the listing's room (five times the
    // queue's) would otherwise stay taken until the scan ends.
    let mut queue: Vec<(u64, FileId, Task)> = Vec::with_capacity(transcripts.len());
    queue.extend(transcripts.into_iter().zip(tasks).map(|(t, task)| {
        let id = files.add(FileMeta {
            path: t.path,
            project: t.project,
            session: t.session,
        });
        let work = match task {
            Task::Unchanged { .. } => 0,
            _ => t.len.saturating_add(1),
        };
        (work, id, task)
    }));
    // Unchanged files first, all of them merged before any file read: a response the
    // index says no other file held is then kept without looking for copies (see
    // `flush_hits`), and only a file read may hold a copy of it, which finds it.
    queue.sort_by(|a, b| {
        let read = |t: &Task| !matches!(t, Task::Unchanged { .. });
        read(&a.2)
            .cmp(&read(&b.2))
            .then(b.0.cmp(&a.0))
            .then(a.1.cmp(&b.1))
    });
    let unchanged = queue
        .iter()
        .take_while(|(_, _, t)| matches!(t, Task::Unchanged { .. }))
        .count();

    let threads = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, queue.len().max(1));
    let next_run = AtomicUsize::new(0);
    let next_read = AtomicUsize::new(0);
    let waiting = (Mutex::new(Waiting::default()), std::sync::Condvar::new());
    let unchanged_done = std::sync::Barrier::new(threads);
    // The indexes read are only read from here on: outside the lock.
    let loaded_owned: Vec<Option<Loaded>> = index
        .as_mut()
        .map(|set| set.roots.iter_mut().map(|r| r.loaded.take()).collect())
        .unwrap_or_default();
    let loaded = &loaded_owned;
    let runs = runs_of(&queue[..unchanged], loaded);
    let to_scan = index
        .as_ref()
        .map(|set| {
            set.roots
                .iter()
                .map(|r| vec![None; r.models.names().count()])
                .collect()
        })
        .unwrap_or_default();
    // A live reader offers more copies later; a file read (rather than taken from the
    // index) may hold a copy of anything.
    let enter_all = options.hold_partial_last
        || queue
            .iter()
            .any(|(_, _, t)| !matches!(t, Task::Unchanged { .. }));
    let mut ledger = Ledger::default();
    if enter_all {
        ledger.reserve(
            loaded
                .iter()
                .flatten()
                .map(|l| usize::try_from(l.slots()).unwrap_or(0))
                .sum(),
        );
    }
    let shared = Mutex::new(Shared {
        index: index.map(|set| IndexShared { set, to_scan }),
        ends: vec![FileEnd::default(); files.len()],
        ledger,
        enter_all,
        ..Shared::default()
    });
    let workers: Vec<Worker> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut w = Worker {
                        stats: ScanStats::default(),
                        ends: Vec::new(),
                        retry: Vec::new(),
                        hold_partial_last: options.hold_partial_last,
                        first: Vec::new(),
                        last: Vec::new(),
                        parts: Vec::new(),
                        index_models: std::collections::HashMap::new(),
                    };
                    let mut buf = Vec::new();
                    let _leaving = Leaving(&waiting);
                    let mut owed = 0;
                    // Unchanged files in runs of neighbours, merged in the runs' order.
                    loop {
                        let run = next_run.fetch_add(1, Ordering::Relaxed);
                        let Some(bounds) = runs.get(run..run + 2) else {
                            break;
                        };
                        let mut hits = lock(&waiting.0).spare.pop().unwrap_or_default();
                        for &(_, id, task) in &queue[bounds[0]..bounds[1]] {
                            if let Task::Unchanged { root, at } = task
                                && take_unchanged(id, root, at, loaded, &mut w, &mut hits)
                            {
                                continue;
                            }
                            // The record would not read: the file is read instead.
                            recount(&shared, |s| {
                                s.unchanged -= 1;
                                s.reread += 1;
                            });
                            one_file(&files, id, Task::Read, loaded, &shared, &mut w, &mut buf);
                        }
                        // The ledger's room for these responses, made here rather than
                        // while the ledger is held: a new page costs a fault when first
                        // written, some 40 of them a chunk. Responses no other file held
                        // each take a slot; a copy may not.
                        owed += hits.entries.iter().filter(|(_, _, alone)| *alone).count();
                        while owed >= Ledger::ROOM {
                            hits.room.push(Ledger::fresh_room());
                            owed -= Ledger::ROOM;
                        }
                        hand_over(Some((run, hits)), &waiting, &shared, &files, loaded);
                    }
                    hand_over(None, &waiting, &shared, &files, loaded);
                    unchanged_done.wait();
                    loop {
                        let i = next_read.fetch_add(1, Ordering::Relaxed);
                        let Some(&(_, id, task)) = queue.get(unchanged + i) else {
                            break;
                        };
                        one_file(&files, id, task, loaded, &shared, &mut w, &mut buf);
                    }
                    w
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });

    let Shared {
        mut ledger,
        models,
        ends,
        mut errors,
        index,
        ..
    } = shared.into_inner().unwrap_or_else(|p| p.into_inner());
    // Room made for responses that proved copies of ones held.
    ledger.drop_room();
    let mut out = Scan {
        ends,
        files,
        models,
        ledger,
        ..Scan::default()
    };
    let mut index = index.map(|i| i.set);
    if let Some(set) = &mut index {
        for (r, l) in set.roots.iter_mut().zip(loaded_owned) {
            r.loaded = l;
        }
    }
    for mut w in workers {
        out.stats.add(&w.stats);
        for (id, end) in w.ends {
            out.ends[id as usize] = end;
        }
        out.retry.append(&mut w.retry);
    }
    out.retry.sort_unstable();
    sort_errors(&mut errors);
    out.errors = errors;
    (out, index)
}

/// Keeps the first [`KEPT_ERRORS`] errors in file and line order: the same list whatever
/// order the files were read in.
fn sort_errors(errors: &mut Vec<LineError>) {
    errors.sort_by(|a, b| path_order(&a.path, &b.path).then(a.line.cmp(&b.line)));
    errors.truncate(KEPT_ERRORS);
}

/// What reading one file gave, before it joins the shared ledger.
struct FileRead {
    ledger: Ledger,
    models: Models,
    /// Its line errors (the first [`KEPT_ERRORS`]).
    errors: Vec<(u64, String)>,
    /// What goes into the index (model ids still the file's own); `None` when the file
    /// could not be read to the end.
    facts: Option<Facts>,
    /// Where reading stopped.
    read_to: u64,
}

/// Reads one file (from where the index says it grew, when it did) and merges it into the
/// shared ledger, writing its record to the new index.
fn one_file(
    files: &Files,
    id: FileId,
    task: Task,
    loaded: &[Option<Loaded>],
    shared: &Mutex<Shared>,
    w: &mut Worker,
    buf: &mut Vec<u8>,
) {
    let path = &files.get(id).path;
    let resume = match task {
        Task::Grown { root, at } => {
            let r = resume_from(loaded, root, at, path, id);
            if r.is_none() {
                recount(shared, |s| {
                    s.grown -= 1;
                    s.reread += 1;
                });
            }
            r
        }
        _ => None,
    };
    let from = resume.as_ref().map_or(0, |r| r.facts.head.identity.offset);
    let read = read_file(files, id, w, buf, resume);
    // The record is encoded outside the lock: only the new index's model ids are looked
    // up under it, and rarely (each worker remembers them).
    let mut record = None;
    if let Some(facts) = &read.facts {
        let root = {
            let mut guard = shared.lock().unwrap_or_else(|p| p.into_inner());
            match guard.index.as_mut() {
                Some(ix) => {
                    let root = ix.set.root_of(path).filter(|&r| ix.set.writing(r));
                    if let Some(r) = root {
                        for n in read.models.names() {
                            w.index_models
                                .entry((r, n.to_owned()))
                                .or_insert_with(|| ix.set.roots[r].models.intern(n));
                        }
                    }
                    root.map(|r| (r, ix.set.now_ms))
                }
                None => None,
            }
        };
        if let Some((root, now_ms)) = root {
            let map: Vec<ModelId> = read
                .models
                .names()
                .map(|n| {
                    w.index_models
                        .get(&(root, n.to_owned()))
                        .copied()
                        .unwrap_or(0)
                })
                .collect();
            let mut head = facts.head;
            head.identity.seen_ms = now_ms;
            let remap = |mut p: crate::ledger::EntryParts| {
                p.model = p.model.map(|m| map[m as usize]);
                p
            };
            let mut bytes = Vec::new();
            let slots = match &facts.snapshot {
                Some(snap) => {
                    format::put_record(&mut bytes, &head, &snap.errors, &snap.entries, |p| {
                        remap(*p)
                    });
                    snap.entries.len()
                }
                None => {
                    let slots = read.ledger.slots();
                    format::put_record(&mut bytes, &head, &read.errors, &slots, |e| {
                        remap(e.parts())
                    });
                    slots.len()
                }
            };
            record = Some((root, bytes, slots as u64));
        }
    }
    let mut guard = shared.lock().unwrap_or_else(|p| p.into_inner());
    let Shared {
        ledger: all,
        models: all_models,
        ends: all_ends,
        errors: all_errors,
        index,
        ..
    } = &mut *guard;
    put_ends(all_ends, &mut w.ends);
    keep_errors(all_errors, path, read.errors);
    let map: Vec<ModelId> = read.models.names().map(|n| all_models.intern(n)).collect();
    let mut ledger = read.ledger;
    ledger.remap_models(&map);
    let mut placed = Vec::new();
    let writing = record.is_some();
    all.merge(ledger, files, writing.then_some(&mut placed));
    if let Some(ix) = index.as_mut() {
        ix.set.stats.bytes_read += read.read_to.saturating_sub(from);
        ix.set.stats.bytes_skipped += from;
        if let Some((root, bytes, slots)) = record {
            // A partial last line read after the record was taken may have added a
            // response at the end: the record's are the first.
            let held = usize::try_from(slots).map_or(placed.len(), |n| n.min(placed.len()));
            ix.set.put(root, id, &bytes, &placed[..held]);
        }
    }
}

/// Moves a worker's file ends to their places among all the files'.
fn put_ends(all: &mut [FileEnd], ends: &mut Vec<(FileId, FileEnd)>) {
    for (id, end) in ends.drain(..) {
        if let Some(at) = all.get_mut(id as usize) {
            *at = end;
        }
    }
}

/// Adjusts the index's counts (a record that would not read, edges that changed).
fn recount(shared: &Mutex<Shared>, f: impl FnOnce(&mut IndexStats)) {
    let mut guard = shared.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(ix) = guard.index.as_mut() {
        f(&mut ix.set.stats);
    }
}

/// Adds a file's errors to the ones kept, keeping no more than needed.
fn keep_errors(all: &mut Vec<LineError>, path: &std::path::Path, errors: Vec<(u64, String)>) {
    all.extend(errors.into_iter().map(|(line, message)| LineError {
        path: path.to_path_buf(),
        line,
        message,
    }));
    if all.len() > 2 * KEPT_ERRORS {
        sort_errors(all);
    }
}

/// An unchanged file whose facts wait in a worker's batch.
struct Hit {
    id: FileId,
    root: usize,
    at: usize,
    /// Its entries in the batch, from here (model ids still the index's).
    from: usize,
    dropped: u64,
    offset: u64,
    errors: Vec<(u64, String)>,
}

/// A run of unchanged files as decoded, merged into the shared ledger together (one lock
/// for many files).
#[derive(Default)]
struct Hits {
    files: Vec<Hit>,
    /// Each response: its key, its entry, and whether the index says no other file held
    /// a copy of it.
    entries: Vec<(Option<u64>, Entry, bool)>,
    /// Where each file's reading ended.
    ends: Vec<(FileId, FileEnd)>,
    /// Room for the shared ledger, made by the worker that decoded the run.
    room: Vec<crate::ledger::Room>,
}

/// Responses a worker takes at once: a run of unchanged files, neighbours in path order,
/// holding about this many (or one file, when it alone holds more).
const SLOTS_AT_ONCE: u64 = 1024;

/// Where the runs of unchanged files (`queue`, in path order) start, and where the last
/// ends: each run holds about [`SLOTS_AT_ONCE`] responses, as the index counts them.
fn runs_of(queue: &[(u64, FileId, Task)], loaded: &[Option<Loaded>]) -> Vec<usize> {
    let mut starts = vec![0];
    let mut slots = 0;
    for (i, (_, _, task)) in queue.iter().enumerate() {
        if let Task::Unchanged { root, at } = task {
            slots += loaded
                .get(*root)
                .and_then(Option::as_ref)
                .map_or(0, |l| l.slots_of(*at));
        }
        if slots >= SLOTS_AT_ONCE {
            starts.push(i + 1);
            slots = 0;
        }
    }
    if starts.last() != Some(&queue.len()) {
        starts.push(queue.len());
    }
    starts
}

/// Runs of unchanged files decoded ahead of their turn. The runs are merged in their
/// order, so the shared ledger holds the unchanged files' responses in path order, the
/// order reports walk them in (see [`crate::report`]), whichever worker decoded which
/// run. A run is left here, and merged in its turn by whichever worker is merging then.
#[derive(Default)]
struct Waiting {
    /// The run to merge next.
    next: usize,
    /// Runs decoded, by number.
    ready: std::collections::BTreeMap<usize, Hits>,
    /// Runs merged, kept for their room.
    spare: Vec<Hits>,
    /// A worker is merging: it takes every run whose turn comes before it stops, so a
    /// worker leaving a run then goes back to decoding rather than waiting for the
    /// ledger.
    merging: bool,
    /// A worker stopped (it panicked): no one waits for a turn any more.
    abandoned: bool,
}

/// Tells workers waiting for a turn that the worker holding this is gone, when it stops
/// by panicking (its run would never come, and the scope would never end).
struct Leaving<'w>(&'w (Mutex<Waiting>, std::sync::Condvar));

impl Drop for Leaving<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            lock(&self.0.0).abandoned = true;
            self.0.1.notify_all();
        }
    }
}

/// Runs left waiting (behind one still being decoded) before the worker that leaves one
/// waits for their turn: the batches' memory stays bounded when one run takes long.
const AHEAD_AT_MOST: usize = 2;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Leaves a run (its number, decoded) to be merged. When no worker is merging, this one
/// merges every run whose turn has come; otherwise the worker merging takes it in its
/// turn, and this one goes on. A worker that has no run left hands over `None`: the last
/// worker to do so finds every run left and merges them all. When too many runs wait
/// behind one still being decoded, waits until their turn has come (the worker decoding
/// that one never waits before leaving it).
fn hand_over(
    run: Option<(usize, Hits)>,
    waiting: &(Mutex<Waiting>, std::sync::Condvar),
    shared: &Mutex<Shared>,
    files: &Files,
    loaded: &[Option<Loaded>],
) {
    let merge = {
        let mut w = lock(&waiting.0);
        if let Some((run, hits)) = run {
            w.ready.insert(run, hits);
        }
        // The worker merging looks for the next run under this same lock before it
        // stops, so a run left while it merges is never left behind.
        !std::mem::replace(&mut w.merging, true)
    };
    if merge {
        let mut guard = lock(shared);
        loop {
            let mut hits = {
                let mut w = lock(&waiting.0);
                let next = w.next;
                let Some(hits) = w.ready.remove(&next) else {
                    w.merging = false;
                    break;
                };
                w.next += 1;
                hits
            };
            merge_hits(&mut guard, files, loaded, &mut hits);
            // A run with a large file in it does not keep its room.
            hits.entries.shrink_to(2 * SLOTS_AT_ONCE as usize);
            lock(&waiting.0).spare.push(hits);
            waiting.1.notify_all();
        }
    }
    let mut w = lock(&waiting.0);
    while w.ready.len() > AHEAD_AT_MOST && !w.abandoned {
        w = waiting.1.wait(w).unwrap_or_else(|p| p.into_inner());
    }
}

/// Takes an unchanged file's facts from the index into a run's batch; `false` when its
/// record would not read (the file is then read).
fn take_unchanged(
    id: FileId,
    root: usize,
    at: usize,
    loaded: &[Option<Loaded>],
    w: &mut Worker,
    hits: &mut Hits,
) -> bool {
    let Some(l) = loaded.get(root).and_then(Option::as_ref) else {
        return false;
    };
    let Ok((h, errors)) = format::get_facts_into(l.record(at), &mut w.parts) else {
        return false;
    };
    let Some(run) = Run::from_parts(&h.run) else {
        return false;
    };
    let models = l.models().len();
    if w.parts
        .iter()
        .any(|(_, p)| p.model.is_some_and(|m| m as usize >= models))
    {
        return false;
    }
    let from = hits.entries.len();
    hits.entries.extend(
        w.parts
            .iter()
            .enumerate()
            .map(|(i, (k, p))| (*k, Entry::from_parts(p, id), l.alone(at, i))),
    );
    hits.files.push(Hit {
        id,
        root,
        at,
        from,
        dropped: h.counts.dropped,
        offset: h.identity.offset,
        errors,
    });
    let c = &h.counts;
    w.stats.add(&ScanStats {
        files: 1,
        unreadable_files: 0,
        bytes: h.identity.offset,
        lines: h.lines,
        usage_lines: c.usage_lines,
        lenient_lines: c.lenient_lines,
        bad_lines: c.bad_lines,
        long_lines: c.long_lines,
        newest_ms: h.newest_ms,
    });
    hits.ends.push((
        id,
        FileEnd {
            offset: h.identity.offset,
            lines: h.lines,
            identity: (h.identity.dev, h.identity.ino),
            fingerprint: w.hold_partial_last.then_some(h.head),
            run,
            newest_ms: h.newest_ms,
            skipping: h.skipping,
        },
    ));
    true
}

/// Merges a run of unchanged files into the shared ledger, and writes their records to
/// the new index; the batch comes back empty, its room kept. A response the index says
/// no other file held is kept without looking for its copies (see
/// [`Shared::enter_all`]).
fn merge_hits(shared: &mut Shared, files: &Files, loaded: &[Option<Loaded>], hits: &mut Hits) {
    let Shared {
        ledger: all,
        models: all_models,
        ends: all_ends,
        errors: all_errors,
        index,
        enter_all,
    } = shared;
    put_ends(all_ends, &mut hits.ends);
    for room in hits.room.drain(..) {
        all.give_room(room);
    }
    let Some(ix) = index.as_mut() else {
        return;
    };
    let ends: Vec<usize> = hits
        .files
        .iter()
        .skip(1)
        .map(|h| h.from)
        .chain([hits.entries.len()])
        .collect();
    let mut entries = hits.entries.drain(..);
    let mut placed = Vec::new();
    for (hit, end) in hits.files.drain(..).zip(ends) {
        let Some(l) = loaded.get(hit.root).and_then(Option::as_ref) else {
            continue;
        };
        let names = l.models();
        let to_scan = &mut ix.to_scan[hit.root];
        let writing = ix.set.writing(hit.root);
        placed.clear();
        all.add_dropped(hit.dropped);
        for (k, mut e, alone) in entries.by_ref().take(end - hit.from) {
            if let Some(m) = e.model() {
                let m = m as usize;
                let mapped = *to_scan[m].get_or_insert_with(|| all_models.intern(&names[m]));
                e.set_model(mapped);
            }
            let at = if alone {
                ix.set.stats.alone += 1;
                all.push_alone(k, e, *enter_all)
            } else {
                all.offer(k, e, files).slot()
            };
            if writing {
                placed.push(at);
            }
        }
        if writing {
            ix.set.put(hit.root, hit.id, l.record(hit.at), &placed);
        }
        ix.set.stats.bytes_skipped += hit.offset;
        keep_errors(all_errors, &files.get(hit.id).path, hit.errors);
    }
}

/// Where a file that grew is read on from: its facts, as a ledger of its own.
struct Resume {
    ledger: Ledger,
    models: Models,
    run: Run,
    facts: FileFacts,
}

/// The facts of a file that grew, checked against the file: its device and inode, and
/// the hashes of the first and last bytes the index read. `None` when they do not match
/// (or the record would not read): the file is read from its start.
fn resume_from(
    loaded: &[Option<Loaded>],
    root: usize,
    at: usize,
    path: &std::path::Path,
    id: FileId,
) -> Option<Resume> {
    let l = loaded.get(root)?.as_ref()?;
    let facts = l.facts(at).ok()?;
    let names = l.models();
    let h = &facts.head;
    let file = open_regular(path).ok()?;
    let meta = file.metadata().ok()?;
    if file_identity(&meta) != (h.identity.dev, h.identity.ino) || meta.len() < h.identity.offset {
        return None;
    }
    if edges(&file, h.identity.offset).ok()? != (h.head, h.tail) {
        return None;
    }
    let run = Run::from_parts(&h.run)?;
    let mut models = Models::default();
    let mut slots = Vec::with_capacity(facts.entries.len());
    for (key, parts) in &facts.entries {
        let mut parts = *parts;
        if let Some(m) = parts.model {
            parts.model = Some(models.intern(names.get(m as usize)?));
        }
        slots.push((*key, Entry::from_parts(&parts, id)));
    }
    let ledger = Ledger::from_slots(slots, h.counts.dropped);
    Some(Resume {
        ledger,
        models,
        run,
        facts,
    })
}

/// The hashes of the first and the last `min(offset, EDGE_BYTES)` bytes before `offset`.
fn edges(file: &std::fs::File, offset: u64) -> std::io::Result<(u64, u64)> {
    let n = offset.min(EDGE_BYTES);
    let head = fingerprint(file, n)?;
    if offset <= EDGE_BYTES {
        return Ok((head, head));
    }
    Ok((head, fingerprint_at(file, offset - n, n)?))
}

/// The hash of `len` bytes of `file` from `at` (as [`fingerprint`] hashes the first ones).
fn fingerprint_at(file: &std::fs::File, at: u64, len: u64) -> std::io::Result<u64> {
    let mut buf = vec![0u8; len as usize];
    let mut got = 0;
    while got < buf.len() {
        match read_at(file, &mut buf[got..], at + got as u64)? {
            0 => break,
            n => got += n,
        }
    }
    Ok(index::edge_hash(&buf[..got]))
}

#[cfg(unix)]
fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(not(unix))]
fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = file.try_clone()?;
    f.seek(SeekFrom::Start(offset))?;
    f.read(buf)
}

/// A reader that keeps the first [`EDGE_BYTES`] bytes going by (the file's first bytes,
/// when reading starts at 0) and the last [`KEPT_LAST`] of them: the hashes of the
/// index's edges, without reading them again.
struct KeepEdges<'a, R> {
    inner: R,
    first: &'a mut Vec<u8>,
    /// The last bytes read, ending `read` bytes after the start.
    last: &'a mut Vec<u8>,
    read: &'a mut u64,
}

/// How many of the last bytes read are kept: the last edge, and a partial last line of
/// up to as much again after it.
const KEPT_LAST: usize = 2 * EDGE_BYTES as usize;

impl<R: Read> Read for KeepEdges<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        let room = (EDGE_BYTES as usize).saturating_sub(self.first.len());
        if room > 0 {
            self.first.extend_from_slice(&out[..n.min(room)]);
        }
        let new = &out[..n];
        if new.len() >= KEPT_LAST {
            self.last.clear();
            self.last.extend_from_slice(&new[new.len() - KEPT_LAST..]);
        } else {
            let drop = (self.last.len() + new.len()).saturating_sub(KEPT_LAST);
            self.last.drain(..drop);
            self.last.extend_from_slice(new);
        }
        *self.read += n as u64;
        Ok(n)
    }
}

/// Reads one file into a ledger and model table of its own (from its start, or on from
/// `resume`). What the index keeps of it is taken before a partial last line, which a
/// one-shot report reads too.
fn read_file(
    files: &Files,
    id: FileId,
    w: &mut Worker,
    buf: &mut Vec<u8>,
    resume: Option<Resume>,
) -> FileRead {
    let path = &files.get(id).path;
    let failed = |ledger, models, mut errors: Vec<(u64, String)>, why: String| {
        if errors.len() < KEPT_ERRORS {
            errors.push((0, why));
        }
        FileRead {
            ledger,
            models,
            errors,
            facts: None,
            read_to: 0,
        }
    };
    let file = match open_regular(path) {
        Ok(f) => f,
        Err(e) => {
            w.stats.unreadable_files += 1;
            if out_of_descriptors(e.raw_os_error()) {
                w.retry.push(id);
            }
            return failed(
                Ledger::default(),
                Models::default(),
                Vec::new(),
                e.to_string(),
            );
        }
    };
    w.stats.files += 1;
    let stamp = file.metadata().map(|m| Stamp::of(&m)).unwrap_or_default();
    // Where reading starts: the file's start, or where the index stopped.
    let mut st = match resume {
        Some(r) => {
            let h = r.facts.head;
            FileState {
                ledger: r.ledger,
                models: r.models,
                run: r.run,
                errors: r.facts.errors,
                newest_ms: h.newest_ms,
                counts: LineCounts {
                    lines: h.lines,
                    usage_lines: h.counts.usage_lines,
                    lenient_lines: h.counts.lenient_lines,
                    bad_lines: h.counts.bad_lines,
                    long_lines: h.counts.long_lines,
                },
                old_head: Some(h.head),
                from: h.identity.offset,
                skipping: h.skipping,
            }
        }
        None => FileState::default(),
    };
    let from = st.from;
    let start = Start {
        line: st.counts.lines + 1,
        skipping: st.skipping,
    };
    w.first.clear();
    w.last.clear();
    let mut src = &file;
    if from > 0
        && let Err(e) = src.seek(SeekFrom::Start(from))
    {
        w.stats.unreadable_files += 1;
        return failed(st.ledger, st.models, st.errors, format!("read failed: {e}"));
    }
    let mut kept_to = 0u64;
    let result = read_lines(
        KeepEdges {
            inner: src,
            first: &mut w.first,
            last: &mut w.last,
            read: &mut kept_to,
        },
        start,
        false,
        MAX_LINE_BYTES,
        buf,
        |n, piece| st.line(files, id, n, piece),
    );
    let end = match result {
        Ok(end) => end,
        Err(e) => {
            w.stats.unreadable_files += 1;
            if out_of_descriptors(e.raw_os_error()) {
                w.retry.push(id);
            }
            return failed(st.ledger, st.models, st.errors, format!("read failed: {e}"));
        }
    };
    let offset = from + end.consumed;
    // The edges the index knows the file by: the first bytes went by as they were read
    // (unless reading started past them: then they are the index's, unchanged); the
    // last ones are read again.
    let n = offset.min(EDGE_BYTES);
    let head = match st.old_head {
        Some(h) if from >= EDGE_BYTES => Some(h),
        Some(_) => fingerprint(&file, n).ok(),
        None => Some(index::edge_hash(&w.first[..n as usize])),
    };
    // The last bytes before the offset, from what went by when they did; else read again.
    let kept_from = (from + kept_to).saturating_sub(w.last.len() as u64);
    let tail = if offset <= EDGE_BYTES {
        head
    } else if offset - n >= kept_from && offset <= from + kept_to {
        let at = (offset - n - kept_from) as usize;
        Some(index::edge_hash(&w.last[at..at + n as usize]))
    } else {
        fingerprint_at(&file, offset - n, n).ok()
    };
    let partial = !w.hold_partial_last && (end.held > 0 || end.skipping.is_some());
    let facts = match (head, tail) {
        (Some(head), Some(tail)) => Some(Facts {
            head: FileHead {
                identity: Identity {
                    dev: stamp.dev,
                    ino: stamp.ino,
                    size: stamp.size,
                    mtime_ns: stamp.mtime_ns,
                    // Set as the record is written, from the scan's clock.
                    seen_ms: 0,
                    offset,
                },
                lines: st.counts.lines,
                skipping: end.skipping,
                head,
                tail,
                run: st.run.parts(),
                newest_ms: st.newest_ms,
                counts: FileCounts {
                    usage_lines: st.counts.usage_lines,
                    lenient_lines: st.counts.lenient_lines,
                    bad_lines: st.counts.bad_lines,
                    long_lines: st.counts.long_lines,
                    dropped: st.ledger.duplicates_dropped(),
                },
            },
            // Taken now only when a partial last line follows (rare); else they are the
            // ledger's, encoded straight from it.
            snapshot: partial.then(|| FileSnapshot {
                errors: st.errors.clone(),
                entries: st
                    .ledger
                    .slots()
                    .into_iter()
                    .map(|(k, e)| (k, e.parts()))
                    .collect(),
            }),
        }),
        _ => None,
    };
    // A one-shot report reads a partial last line too (never kept in the index).
    let mut read_to = offset;
    let mut skipping = end.skipping;
    if partial {
        let start = Start {
            line: st.counts.lines + 1,
            skipping: end.skipping,
        };
        let rest = (&file).seek(SeekFrom::Start(offset)).and_then(|_| {
            read_lines(&file, start, true, MAX_LINE_BYTES, buf, |n, piece| {
                st.line(files, id, n, piece)
            })
        });
        if let Ok(e) = rest {
            read_to += e.consumed;
            skipping = e.skipping;
        }
    }
    let c = &st.counts;
    w.stats.add(&ScanStats {
        files: 0,
        unreadable_files: 0,
        bytes: read_to,
        lines: c.lines,
        usage_lines: c.usage_lines,
        lenient_lines: c.lenient_lines,
        bad_lines: c.bad_lines,
        long_lines: c.long_lines,
        newest_ms: st.newest_ms,
    });
    w.ends.push((
        id,
        FileEnd {
            offset: read_to,
            lines: c.lines,
            identity: (stamp.dev, stamp.ino),
            fingerprint: if w.hold_partial_last { head } else { None },
            run: st.run,
            newest_ms: st.newest_ms,
            skipping,
        },
    ));
    FileRead {
        ledger: st.ledger,
        models: st.models,
        errors: st.errors,
        facts,
        read_to,
    }
}

/// What the index keeps of a file read: its head, and its errors and entries when they
/// are not the reading's final ones (a partial last line was read after them).
struct Facts {
    head: FileHead,
    snapshot: Option<FileSnapshot>,
}

/// A file's errors and entries as they stood before its partial last line.
struct FileSnapshot {
    errors: Vec<(u64, String)>,
    entries: Vec<(Option<u64>, crate::ledger::EntryParts)>,
}

/// One file's reading state: its own ledger and what its lines counted.
#[derive(Default)]
struct FileState {
    ledger: Ledger,
    models: Models,
    run: Run,
    errors: Vec<(u64, String)>,
    newest_ms: Option<i64>,
    counts: LineCounts,
    /// The hash of the first bytes, when the index gave it.
    old_head: Option<u64>,
    /// Where reading starts.
    from: u64,
    /// Reading starts inside an outsize line, this many bytes of it passed over.
    skipping: Option<u64>,
}

impl FileState {
    /// Reads one line (numbered `line_no`) of file `id`.
    fn line(&mut self, files: &Files, id: FileId, line_no: u64, piece: Piece<'_>) {
        let c = &mut self.counts;
        c.lines += 1;
        let line = match piece {
            Piece::Line(line) => line,
            Piece::TooLong(_) => {
                c.long_lines += 1;
                push_error(&mut self.errors, line_no, too_long_message());
                return;
            }
        };
        match parse_line(line) {
            Ok(None) => {}
            Ok(Some(rec)) => {
                c.usage_lines += 1;
                c.lenient_lines += u64::from(!rec.canonical);
                self.newest_ms = self.newest_ms.max(Some(rec.ts_ms));
                let model = rec.model.as_deref().map(|m| self.models.intern(m));
                let line32 = u32::try_from(line_no).unwrap_or(u32::MAX);
                let entry = Entry::new(&rec, model, id, line32);
                self.run
                    .offer(&mut self.ledger, rec.key, rec.content_hash, entry, files);
            }
            Err(problem) => {
                c.bad_lines += 1;
                push_error(&mut self.errors, line_no, problem.to_string());
            }
        }
    }
}

/// Keeps a file's first [`KEPT_ERRORS`] errors.
fn push_error(errors: &mut Vec<(u64, String)>, line: u64, message: String) {
    if errors.len() < KEPT_ERRORS {
        errors.push((line, message));
    }
}

/// Counts of the lines one read went through.
#[derive(Clone, Copy, Debug, Default)]
struct LineCounts {
    lines: u64,
    usage_lines: u64,
    lenient_lines: u64,
    bad_lines: u64,
    long_lines: u64,
}

/// What an outsize line is reported as: `line longer than 64 MiB, skipped`.
pub fn too_long_message() -> String {
    format!("line longer than {} MiB, skipped", MAX_LINE_BYTES >> 20)
}

/// A file's identity: device and inode, which survive a rename and change when a file is
/// replaced by another of the same name.
#[cfg(unix)]
pub fn file_identity(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

/// A file's identity: not available on this platform, so files are told apart by size
/// and content alone.
#[cfg(not(unix))]
pub fn file_identity(_: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roots::{Root, survey};

    #[test]
    fn an_outsize_line_is_reported_counted_apart_and_passed_over() {
        let d = std::env::temp_dir().join(format!("redline-scan-huge-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let projects = d.join("projects");
        std::fs::create_dir_all(projects.join("-p")).unwrap();
        let path = projects.join("-p/s.jsonl");
        let mut text = String::from("{}\n");
        text.push_str(&"x".repeat(MAX_LINE_BYTES + 10));
        text.push_str("\nnot json\n");
        std::fs::write(&path, &text).unwrap();
        let listing = survey(&[Root {
            projects,
            explicit: true,
        }]);
        for hold in [false, true] {
            let s = scan_with(
                listing.transcripts.clone(),
                ScanOptions {
                    threads: Some(1),
                    hold_partial_last: hold,
                },
            );
            assert_eq!(
                (s.stats.lines, s.stats.long_lines, s.stats.bad_lines),
                (3, 1, 1)
            );
            assert_eq!(s.stats.bytes, text.len() as u64);
            assert_eq!(
                s.errors[0].to_string(),
                format!("{}:2: line longer than 64 MiB, skipped", path.display())
            );
        }
        let _ = std::fs::remove_dir_all(&d);
    }
}
