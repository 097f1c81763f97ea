//! The scan index: what reading each transcript gave, kept on disk so that the next run
//! reads only the bytes that changed.
//!
//! One index per root (`projects/` directory), in a cache directory the caller names
//! (`$XDG_CACHE_HOME/redline/`). For each transcript it holds the file's identity (device,
//! inode, size, modification time, and hashes of the first and last 4 KiB read), where
//! reading stopped (past the last whole line: a partial last line is never indexed), the
//! run of response lines it ended in, the counts and first line errors, and the file's
//! own ledger: each response its lines gave, once, with its dedup key (see
//! [`format`](mod@format) for the bytes). The cold scan builds the same per-file ledgers before it
//! merges them ([`crate::scan`]), so merging indexed ones gives the same responses, the
//! same survivors and the same reports: the index never changes a number.
//!
//! What the next run does with a file is [`verdict`]'s decision, made from the listing's
//! `stat` alone:
//!
//! - **unchanged** (same device, inode, size and modification time, everything read, and
//!   last modified well before it was read): the facts are used and the file is not
//!   opened;
//! - **grown** (same device and inode, larger): it is opened, the hashes of its first and
//!   last indexed bytes are checked, and it is read from where the index stopped;
//! - anything else (another inode, shorter, the same size with another time, modified
//!   too close to when it was read, the clock gone backwards since the index was
//!   written): it is read again from its start.
//!
//! "Well before" is [`SETTLE_MS`]: a file rewritten within the same tick of the file
//! system's clock keeps its size and time, so facts taken that close to the file's last
//! change are not trusted without reading (git's "racily clean" entries, the same cure).
//!
//! The index also remembers the directories the listing went through, with their
//! modification times ([`IndexSet::memory`]): the next listing does not read a directory
//! whose time is the same and was settled when the index was written, it only `stat`s
//! the files and subdirectories the directory held (see [`crate::roots::survey_with`]).
//!
//! An index is written to a temporary file beside it, synced and renamed over it, so a
//! reader (a report while the daemon writes) sees the old index or the new one, never
//! half of one; a torn, damaged or foreign file fails its checks and is ignored (the
//! caller warns once), one of another version is ignored quietly. It is a cache:
//! deleting it loses nothing. The facts' version includes the source of everything that
//! turns lines into facts, so a redline that reads lines differently never trusts an
//! index written by one that read them otherwise.

pub mod format;

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use crate::ledger::{FileId, Files, Ledger, Models};
use crate::roots::{Memory, RootDirs, RootMemory, SeenDir, Stamp, Transcript};
use format::{FileFacts, Footer, FormatError, Identity, Listed, ListedDir};

/// How long before it was read a file must have been modified last for its facts to be
/// trusted without opening it (see the module docs). Three seconds: more than the
/// coarsest common timestamp (FAT's two seconds).
pub const SETTLE_MS: i64 = 3000;

/// How many directories read that the index could have vouched for make an index that
/// is otherwise unchanged worth writing again, so the next listing need not read them.
pub const DIRS_WORTH_WRITING: usize = 64;

/// Whether a directory modified at `mtime_ns` was settled at `at_ms` (by the rule
/// [`verdict`] applies to files: modified more than [`SETTLE_MS`] before).
pub fn settled(mtime_ns: i64, at_ms: i64) -> bool {
    mtime_ns < at_ms.saturating_sub(SETTLE_MS).saturating_mul(1_000_000)
}

/// How many leading (and trailing) bytes of what was read are hashed to know a file again.
pub const EDGE_BYTES: u64 = crate::tail::FINGERPRINT_BYTES;

/// The version of the facts: the layout, redline's version, and the source of everything
/// that turns lines into facts. An index of another version is not used.
pub fn facts_version() -> u64 {
    static VERSION: LazyLock<u64> = LazyLock::new(|| {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(&[format::FORMAT]);
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        for source in [
            include_str!("record.rs"),
            include_str!("ledger.rs"),
            include_str!("thinking.rs"),
            include_str!("json.rs"),
            include_str!("timestamp.rs"),
            include_str!("reader.rs"),
            include_str!("scan.rs"),
            include_str!("index.rs"),
            include_str!("index/format.rs"),
        ] {
            h.update(source.as_bytes());
        }
        h.digest()
    });
    *VERSION
}

/// The index file of the `projects/` directory `root`, in the cache directory `dir`.
pub fn path_for(dir: &Path, root: &Path) -> PathBuf {
    let hash = xxhash_rust::xxh3::xxh3_64(root.as_os_str().as_encoded_bytes());
    dir.join(format!("index-{hash:016x}.bin"))
}

/// What to do with a file the index knows (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Use the facts; do not open the file.
    Unchanged,
    /// Open it, check its edges, and read on from where the index stopped.
    Grown,
    /// Read it again from its start.
    Reread,
}

/// Decides what to do with a file whose record says `head`, which the listing now finds
/// as `now` (`None`: it could not say), at `now_ms` by the clock; the index was written
/// at `written_at_ms`. No disk, no clock: everything comes in as arguments.
pub fn verdict(head: &Identity, now: Option<&Stamp>, now_ms: i64, written_at_ms: i64) -> Verdict {
    let Some(now) = now else {
        return Verdict::Reread;
    };
    let settled = head
        .seen_ms
        .saturating_sub(head.mtime_ns.div_euclid(1_000_000))
        > SETTLE_MS;
    let clock_back = now_ms < written_at_ms || now_ms < head.seen_ms;
    let from_future = now.mtime_ns.div_euclid(1_000_000) > now_ms.saturating_add(SETTLE_MS);
    if clock_back
        || from_future
        || !settled
        || (now.dev, now.ino) != (head.dev, head.ino)
        || now.size < head.offset
    {
        return Verdict::Reread;
    }
    if now.size == head.size && now.mtime_ns == head.mtime_ns {
        return if head.offset == head.size {
            Verdict::Unchanged
        } else {
            // A partial last line, or lines that came while it was read: read on.
            Verdict::Grown
        };
    }
    if now.size > head.size && now.size > head.offset {
        Verdict::Grown
    } else {
        // The same size (or less) at another time: rewritten in place, perhaps.
        Verdict::Reread
    }
}

/// Why an index on disk is not used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unusable {
    /// There is none.
    Missing,
    /// Written by another version of redline (or of the format): not a problem, just
    /// not used.
    OtherVersion,
    /// Damaged, cut off, not an index, or another root's: warned of once.
    Damaged(String),
}

/// An index read from disk: its bytes, checked, and its footer.
#[derive(Debug)]
pub struct Loaded {
    bytes: crate::bulk::FileBytes,
    footer: Footer,
    /// Hash of a relative path to its place in `footer.files`.
    by_rel: HashMap<u64, usize>,
    /// Where each file's bits start in `footer.alone` (when there are bits).
    alone_at: Vec<u64>,
}

impl Loaded {
    /// Reads and checks the index at `path` of the `projects/` directory `root`.
    pub fn read(path: &Path, root: &Path) -> Result<Loaded, Unusable> {
        let bytes = match crate::bulk::FileBytes::of(path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Unusable::Missing),
            Err(e) => return Err(Unusable::Damaged(format!("cannot read it: {e}"))),
        };
        Loaded::from_bytes(bytes, root)
    }

    /// Checks the bytes of an index of `root`.
    pub fn from_bytes(
        bytes: impl Into<crate::bulk::FileBytes>,
        root: &Path,
    ) -> Result<Loaded, Unusable> {
        let bytes = bytes.into();
        if bytes.len() >= 8 && bytes[..7] == format::MAGIC[..7] && bytes[7] != format::FORMAT {
            return Err(Unusable::OtherVersion);
        }
        let (version, footer) =
            format::open(&bytes).map_err(|e| Unusable::Damaged(e.to_string()))?;
        if version != facts_version() {
            return Err(Unusable::OtherVersion);
        }
        if footer.root != root.as_os_str().as_encoded_bytes() {
            return Err(Unusable::Damaged(format!(
                "it is the index of {}, not of {}",
                String::from_utf8_lossy(&footer.root),
                root.display()
            )));
        }
        let by_rel = footer
            .files
            .iter()
            .enumerate()
            .map(|(i, l)| (xxhash_rust::xxh3::xxh3_64(&l.rel), i))
            .collect();
        let alone_at = if footer.alone.is_some() {
            footer
                .files
                .iter()
                .scan(0u64, |at, l| {
                    let start = *at;
                    *at += l.slots;
                    Some(start)
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(Loaded {
            bytes,
            footer,
            by_rel,
            alone_at,
        })
    }

    /// The place in the footer of the file at `rel` (its path below the root).
    pub fn find(&self, rel: &[u8]) -> Option<usize> {
        let i = *self.by_rel.get(&xxhash_rust::xxh3::xxh3_64(rel))?;
        (self.footer.files.get(i)?.rel == rel).then_some(i)
    }

    /// Lets the files' paths go (they were needed to find each file's record, and that is
    /// done): [`Loaded::find`] finds nothing after, and [`Loaded::memory`] knows no file.
    /// A large history's paths are some megabytes, needed no more while its responses
    /// fill the ledger.
    pub fn forget_paths(&mut self) {
        for l in &mut self.footer.files {
            l.rel = Vec::new();
        }
        self.by_rel = HashMap::new();
    }

    /// The record of the file at place `i`.
    pub fn record(&self, i: usize) -> &[u8] {
        let l = &self.footer.files[i];
        &self.bytes[l.offset as usize..(l.offset + l.len) as usize]
    }

    /// Whether response `slot` of the record at place `i` was held in no other file when
    /// the index was written (`false` when the index cannot tell, or the record holds
    /// fewer responses than its listing says).
    pub fn alone(&self, i: usize, slot: usize) -> bool {
        let (Some(bits), Some(&start), Some(l)) = (
            self.footer.alone.as_ref(),
            self.alone_at.get(i),
            self.footer.files.get(i),
        ) else {
            return false;
        };
        if slot as u64 >= l.slots {
            return false;
        }
        let bit = start + slot as u64;
        bits.get((bit / 8) as usize)
            .is_some_and(|b| b & (1 << (bit % 8)) != 0)
    }

    /// Whether the index knows which responses were held in one file only.
    pub fn knows_alone(&self) -> bool {
        self.footer.alone.is_some()
    }

    /// The identity of the file of the record at place `i` (its head's first numbers).
    pub fn identity(&self, i: usize) -> Result<Identity, FormatError> {
        format::get_identity(self.record(i))
    }

    /// The responses (ledger slots) of the record at place `i`.
    pub fn slots_of(&self, i: usize) -> u64 {
        self.footer.files.get(i).map_or(0, |l| l.slots)
    }

    /// The whole record at place `i`.
    pub fn facts(&self, i: usize) -> Result<FileFacts, FormatError> {
        format::get_facts(self.record(i))
    }

    /// Model names, by the index's model id.
    pub fn models(&self) -> &[String] {
        &self.footer.models
    }

    /// When it was written.
    pub fn written_at_ms(&self) -> i64 {
        self.footer.written_at_ms
    }

    /// How many files it holds.
    pub fn len(&self) -> usize {
        self.footer.files.len()
    }

    /// Whether it holds no file.
    pub fn is_empty(&self) -> bool {
        self.footer.files.is_empty()
    }

    /// The responses (ledger slots) of all its files.
    pub fn slots(&self) -> u64 {
        self.footer.slots
    }

    /// Its size in bytes.
    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// What it remembers of the directories below `root` (its root), for the listing.
    pub fn memory(&self, root: &Path) -> RootMemory<'_> {
        RootMemory::new(
            root,
            self.footer.written_at_ms,
            self.footer
                .dirs
                .iter()
                .map(|d| (d.rel.as_slice(), d.mtime_ns)),
            self.footer.files.iter().map(|l| l.rel.as_slice()),
        )
    }

    /// How many directories it remembers, and how many of them it trusts.
    pub fn dirs(&self) -> (usize, usize) {
        let d = &self.footer.dirs;
        (d.len(), d.iter().filter(|d| d.mtime_ns.is_some()).count())
    }
}

/// What a scan did with the index: counts for `redline doctor` and `--timings`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexStats {
    /// Files whose facts were used without opening them.
    pub unchanged: u64,
    /// Files read on from where the index stopped.
    pub grown: u64,
    /// Files the index knew but that were read again from their start.
    pub reread: u64,
    /// Files the index did not know.
    pub new: u64,
    /// Bytes read from transcripts.
    pub bytes_read: u64,
    /// Bytes of transcripts whose facts came from the index instead.
    pub bytes_skipped: u64,
    /// Responses of unchanged files kept without looking for copies (the index said no
    /// other file held one).
    pub alone: u64,
    /// Index files written, and their bytes.
    pub written: u64,
    /// Bytes written.
    pub bytes_written: u64,
}

impl IndexStats {
    /// Adds another's counts.
    pub fn add(&mut self, o: &IndexStats) {
        self.unchanged += o.unchanged;
        self.grown += o.grown;
        self.reread += o.reread;
        self.new += o.new;
        self.bytes_read += o.bytes_read;
        self.bytes_skipped += o.bytes_skipped;
        self.alone += o.alone;
        self.written += o.written;
        self.bytes_written += o.bytes_written;
    }

    /// Files the index knew and whose facts were used, wholly or as a start.
    pub fn hits(&self) -> u64 {
        self.unchanged + self.grown
    }
}

/// One root's index for a scan: the one read (if any) and the one being written.
#[derive(Debug)]
pub struct RootIndex {
    /// The `projects/` directory.
    pub root: PathBuf,
    /// The index file.
    pub path: PathBuf,
    /// The index read, when there was a usable one.
    pub loaded: Option<Loaded>,
    /// The model table of the index being written: the one read, extended.
    pub models: Models,
    /// The directories the listing went through (see [`IndexSet::listed`]).
    pub dirs: Option<Vec<SeenDir>>,
    writer: Option<Writer>,
}

/// The indexes of a scan's roots. See the module docs.
#[derive(Debug)]
pub struct IndexSet {
    /// The cache directory.
    pub dir: PathBuf,
    /// The scan's clock, taken before the listing.
    pub now_ms: i64,
    /// One per root, in the roots' order.
    pub roots: Vec<RootIndex>,
    /// Whether indexes are written (a read-only use leaves them as they are).
    pub write: bool,
    /// What went wrong, once each, for the caller to warn of.
    pub problems: Vec<String>,
    /// What the scan did.
    pub stats: IndexStats,
    /// Files listed but not scanned this time (a report of one project): their records
    /// are kept as they are.
    pub keep: Vec<PathBuf>,
}

/// Below this many transcripts, [`IndexSet::plan`] looks them up on one thread.
const LOOKED_UP_APART: usize = 4096;

/// What [`IndexSet::plan`] found of one transcript: the root it lies in, and the place of
/// its record in that root's index with the verdict on it.
#[derive(Clone, Copy, Default)]
struct Found {
    root: Option<usize>,
    record: Option<(usize, Verdict)>,
}

/// What the scan does with one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    /// Read it from its start.
    Read,
    /// Use the facts at this place of this root's index, unopened.
    Unchanged {
        /// The root's place.
        root: usize,
        /// The record's place.
        at: usize,
    },
    /// Read on from where the facts at this place stop.
    Grown {
        /// The root's place.
        root: usize,
        /// The record's place.
        at: usize,
    },
}

impl IndexSet {
    /// Reads the indexes of `roots` in `dir`, as of `now_ms` (taken before the listing).
    /// A damaged or foreign one is noted in `problems` and ignored; one of another
    /// version is ignored quietly.
    pub fn open(dir: &Path, roots: &[PathBuf], now_ms: i64, write: bool) -> IndexSet {
        let mut problems = Vec::new();
        let roots = roots
            .iter()
            .map(|root| {
                let path = path_for(dir, root);
                let loaded = match Loaded::read(&path, root) {
                    Ok(l) => Some(l),
                    Err(Unusable::Damaged(why)) => {
                        problems.push(format!(
                            "{}: the scan index is ignored and written anew: {why}",
                            path.display()
                        ));
                        None
                    }
                    Err(_) => None,
                };
                let mut models = Models::default();
                for m in loaded.iter().flat_map(|l| l.models()) {
                    models.intern(m);
                }
                RootIndex {
                    root: root.clone(),
                    path,
                    loaded,
                    models,
                    dirs: None,
                    writer: None,
                }
            })
            .collect();
        IndexSet {
            dir: dir.to_path_buf(),
            now_ms,
            roots,
            write,
            problems,
            stats: IndexStats::default(),
            keep: Vec::new(),
        }
    }

    /// What the indexes read remember of their roots' directories, for
    /// [`crate::roots::survey_with`]: nothing of a root whose index was written later than
    /// this scan's clock says it is now (the clock went back: no time is trusted).
    pub fn memory(&self) -> Memory<'_> {
        Memory {
            roots: self
                .roots
                .iter()
                .filter_map(|r| {
                    let l = r.loaded.as_ref()?;
                    (self.now_ms >= l.written_at_ms()).then(|| l.memory(&r.root))
                })
                .collect(),
        }
    }

    /// Takes the directories the listing went through ([`crate::roots::survey_with`]'s
    /// second half), for the indexes written after the scan.
    pub fn listed(&mut self, dirs: Vec<RootDirs>) {
        for d in dirs {
            if let Some(r) = self.roots.iter_mut().find(|r| r.root == d.root) {
                r.dirs = Some(d.dirs);
            }
        }
    }

    /// The place of the root `path` lies in.
    pub fn root_of(&self, path: &Path) -> Option<usize> {
        self.roots
            .iter()
            .position(|r| rel_bytes(path, &r.root).is_some())
    }

    /// What to do with each transcript, and starts the writers of the roots whose index
    /// changes. Counts the tasks in `stats`.
    pub fn plan(&mut self, transcripts: &[Transcript]) -> Vec<Task> {
        let mut seen = vec![0usize; self.roots.len()];
        let mut changed = vec![false; self.roots.len()];
        let found = self.look_up(transcripts);
        let tasks: Vec<Task> = found
            .into_iter()
            .map(|f| {
                let Some(root) = f.root else {
                    return Task::Read;
                };
                let Some((at, v)) = f.record else {
                    changed[root] = true;
                    self.stats.new += 1;
                    return Task::Read;
                };
                seen[root] += 1;
                match v {
                    Verdict::Unchanged => {
                        self.stats.unchanged += 1;
                        Task::Unchanged { root, at }
                    }
                    Verdict::Grown => {
                        changed[root] = true;
                        self.stats.grown += 1;
                        Task::Grown { root, at }
                    }
                    Verdict::Reread => {
                        changed[root] = true;
                        self.stats.reread += 1;
                        Task::Read
                    }
                }
            })
            .collect();
        for p in &self.keep {
            if let Some(root) = self.root_of(p) {
                let r = &self.roots[root];
                let known = r.loaded.as_ref().is_some_and(|l| {
                    rel_bytes(p, &r.root).is_some_and(|rel| l.find(rel).is_some())
                });
                seen[root] += usize::from(known);
            }
        }
        if self.keep.is_empty() {
            // Each file's record is found: the paths are not looked up again (the files
            // kept would be, when writing).
            for l in self.roots.iter_mut().filter_map(|r| r.loaded.as_mut()) {
                l.forget_paths();
            }
        }
        if self.write {
            for (i, r) in self.roots.iter_mut().enumerate() {
                // Files gone since: the index is compacted.
                let gone = r.loaded.as_ref().is_some_and(|l| l.len() != seen[i]);
                let fresh = r.loaded.is_none() && r.root.is_dir();
                // An index written by a scan of some files only cannot say which
                // responses no other file holds: a whole scan writes it again.
                let unsure =
                    self.keep.is_empty() && r.loaded.as_ref().is_some_and(|l| !l.knows_alone());
                // Many directories read that the index could have vouched for: written
                // again for them alone (a few are not worth writing the whole index).
                let dirs = r.dirs.as_deref().map_or(0, |d| {
                    d.iter()
                        .filter(|d| d.read && d.clean && settled(d.mtime_ns, self.now_ms))
                        .count()
                });
                if changed[i] || gone || fresh || unsure || dirs >= DIRS_WORTH_WRITING {
                    match Writer::start(&self.dir, &r.path) {
                        Ok(w) => r.writer = Some(w),
                        Err(e) => self.problems.push(format!(
                            "{}: cannot write the scan index: {e}",
                            r.path.display()
                        )),
                    }
                }
            }
        }
        tasks
    }

    /// Each transcript's root, record and verdict ([`IndexSet::plan`]'s first half). The
    /// records are looked up by path and their identities read, scattered over the
    /// indexes: on a large history a few milliseconds, shared among threads (as many as
    /// cores, at most four).
    fn look_up(&self, transcripts: &[Transcript]) -> Vec<Found> {
        let one = |t: &Transcript| {
            let Some(root) = self.root_of(&t.path) else {
                return Found::default();
            };
            let r = &self.roots[root];
            let record = r.loaded.as_ref().and_then(|l| {
                let at = l.find(rel_bytes(&t.path, &r.root)?)?;
                let v = match l.identity(at) {
                    Ok(h) => verdict(&h, t.stamp.as_ref(), self.now_ms, l.written_at_ms()),
                    Err(_) => Verdict::Reread,
                };
                Some((at, v))
            });
            Found {
                root: Some(root),
                record,
            }
        };
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 4)
            .min(transcripts.len() / LOOKED_UP_APART);
        if threads <= 1 {
            return transcripts.iter().map(one).collect();
        }
        let share = transcripts.len().div_ceil(threads);
        std::thread::scope(|s| {
            let parts: Vec<_> = transcripts
                .chunks(share)
                .map(|part| s.spawn(move || part.iter().map(one).collect::<Vec<_>>()))
                .collect();
            let mut all = Vec::with_capacity(transcripts.len());
            for p in parts {
                all.extend(p.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
            }
            all
        })
    }

    /// Whether root `root`'s index is being written.
    pub fn writing(&self, root: usize) -> bool {
        self.roots.get(root).is_some_and(|r| r.writer.is_some())
    }

    /// Writes file `id`'s record to its root's new index; `placed` are the slots its
    /// responses went to in the ledger of all files, in the record's order.
    pub fn put(&mut self, root: usize, id: FileId, record: &[u8], placed: &[u32]) {
        let Some(r) = self.roots.get_mut(root) else {
            return;
        };
        if let Some(w) = &mut r.writer
            && let Err(e) = w.put(id, record, placed)
        {
            self.problems.push(format!(
                "{}: cannot write the scan index: {e}",
                r.path.display()
            ));
            r.writer = None;
        }
    }

    /// Finishes the indexes being written: the files listed but not read ([`IndexSet::keep`])
    /// keep their old records; the rest of the old index is dropped (its files are gone).
    /// `ledger` is the ledger of all the files read, which says which responses were held
    /// in one file only. Each is synced and renamed into place.
    pub fn finish(&mut self, files: &Files, ledger: &Ledger) {
        let pending = self.finish_later(files, ledger);
        pending.write(self);
    }

    /// [`IndexSet::finish`] up to the writing: what is left ([`PendingWrite::write`])
    /// needs neither the files nor the ledger, so it may go on while a report is made.
    pub fn finish_later(&mut self, files: &Files, ledger: &Ledger) -> PendingWrite {
        let now_ms = self.now_ms;
        let keep = std::mem::take(&mut self.keep);
        if keep.is_empty() {
            // The indexes read are needed no more: their room goes back first.
            for r in &mut self.roots {
                r.loaded = None;
            }
        }
        let mut sealed = Vec::new();
        for r in &mut self.roots {
            let Some(mut w) = r.writer.take() else {
                continue;
            };
            let kept = (|| -> io::Result<()> {
                if let Some(l) = &r.loaded {
                    for p in &keep {
                        let Some(rel) = rel_bytes(p, &r.root) else {
                            continue;
                        };
                        if let Some(at) = l.find(rel) {
                            let slots = l.facts(at).map_or(0, |f| f.entries.len() as u64);
                            w.put_rel(rel.to_vec(), l.record(at), slots)?;
                        }
                    }
                }
                Ok(())
            })();
            if let Err(e) = kept {
                let _ = std::fs::remove_file(&w.tmp);
                self.problems.push(format!(
                    "{}: cannot write the scan index: {e}",
                    r.path.display()
                ));
                continue;
            }
            let models: Vec<String> = r.models.names().map(str::to_owned).collect();
            // Only a scan of every file can tell which responses no other file holds.
            let ledger = keep.is_empty().then_some(ledger);
            let dirs = r.dirs.take().unwrap_or_default();
            sealed.push(w.seal(files, ledger, &r.root, models, &dirs, now_ms));
        }
        PendingWrite { sealed }
    }
}

/// The indexes of a scan still to be written (see [`IndexSet::finish_later`]): owned, so
/// another thread may write them.
#[derive(Debug)]
pub struct PendingWrite {
    sealed: Vec<Sealed>,
}

impl PendingWrite {
    /// Writes them, counting what was written (and what went wrong) in `set`.
    pub fn write(self, set: &mut IndexSet) {
        let (stats, problems) = self.write_apart();
        set.stats.add(&stats);
        set.problems.extend(problems);
    }

    /// Writes them; what was written and what went wrong come back.
    pub fn write_apart(self) -> (IndexStats, Vec<String>) {
        let mut stats = IndexStats::default();
        let mut problems = Vec::new();
        for s in self.sealed {
            let path = s.writer.path.clone();
            match s.write() {
                Ok(n) => {
                    stats.written += 1;
                    stats.bytes_written += n;
                }
                Err(e) => problems.push(format!(
                    "{}: cannot write the scan index: {e}",
                    path.display()
                )),
            }
        }
        (stats, problems)
    }
}

/// An index being written: records go to a temporary file as files are read; the footer,
/// the trailer, a sync and a rename finish it.
#[derive(Debug)]
struct Writer {
    out: BufWriter<File>,
    tmp: PathBuf,
    path: PathBuf,
    crc: crc32fast::Hasher,
    pos: u64,
    /// (file, offset, length, where its slots start in `placed`, how many) of each record
    /// written.
    by_id: Vec<(FileId, u64, u64, usize, usize)>,
    /// The ledger slots the records' responses went to.
    placed: Vec<u32>,
    /// Records written by path (kept from the old index), with their responses.
    by_rel: Vec<(Vec<u8>, u64, u64, u64)>,
    /// The responses of the records written.
    slots: u64,
}

impl Writer {
    fn start(dir: &Path, path: &Path) -> io::Result<Writer> {
        std::fs::create_dir_all(dir)?;
        clean_leftovers(dir);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let tmp = dir.join(format!(".{name}.{}.{nanos}.tmp", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        let mut w = Writer {
            out: BufWriter::with_capacity(64 * 1024, file),
            tmp,
            path: path.to_path_buf(),
            crc: crc32fast::Hasher::new(),
            pos: 0,
            by_id: Vec::new(),
            placed: Vec::new(),
            by_rel: Vec::new(),
            slots: 0,
        };
        w.write(&format::header(facts_version()))?;
        Ok(w)
    }

    fn write(&mut self, b: &[u8]) -> io::Result<()> {
        self.out.write_all(b)?;
        self.crc.update(b);
        self.pos += b.len() as u64;
        Ok(())
    }

    fn put(&mut self, id: FileId, record: &[u8], placed: &[u32]) -> io::Result<()> {
        self.by_id.push((
            id,
            self.pos,
            record.len() as u64,
            self.placed.len(),
            placed.len(),
        ));
        self.placed.extend_from_slice(placed);
        self.slots += placed.len() as u64;
        self.write(record)
    }

    fn put_rel(&mut self, rel: Vec<u8>, record: &[u8], slots: u64) -> io::Result<()> {
        self.by_rel
            .push((rel, self.pos, record.len() as u64, slots));
        self.slots += slots;
        self.write(record)
    }

    /// What is left to write once every record is written: the footer, worked out here
    /// (no disk touched, so a caller may write it on another thread). With `ledger` (the
    /// ledger of a scan of every file), the footer says which responses were held in one
    /// file only.
    fn seal(
        mut self,
        files: &Files,
        ledger: Option<&Ledger>,
        root: &Path,
        models: Vec<String>,
        dirs: &[SeenDir],
        now_ms: i64,
    ) -> Sealed {
        // (path, offset, length, responses, where their slots are in `placed`)
        let mut listed: Vec<(Listed, Option<(usize, usize)>)> = self
            .by_id
            .iter()
            .filter_map(|&(id, offset, len, from, n)| {
                Some((
                    Listed {
                        rel: rel_bytes(&files.get(id).path, root)?.to_vec(),
                        offset,
                        len,
                        slots: n as u64,
                    },
                    Some((from, n)),
                ))
            })
            .chain(self.by_rel.drain(..).map(|(rel, offset, len, slots)| {
                (
                    Listed {
                        rel,
                        offset,
                        len,
                        slots,
                    },
                    None,
                )
            }))
            .collect();
        // Path order, as the scan sorts paths (bytes); a path written twice keeps
        // its last record.
        listed.sort_by(|a, b| a.0.rel.cmp(&b.0.rel));
        listed.dedup_by(|later, earlier| {
            if later.0.rel == earlier.0.rel {
                *earlier = std::mem::take(later);
                true
            } else {
                false
            }
        });
        let alone = ledger.map(|ledger| {
            let total: u64 = listed.iter().map(|l| l.0.slots).sum();
            let mut bits = vec![0u8; total.div_ceil(8) as usize];
            let mut bit = 0usize;
            for (l, placed) in &listed {
                if let Some((from, n)) = *placed {
                    for (i, &at) in self.placed[from..from + n].iter().enumerate() {
                        if (at as usize) < ledger.len() && !ledger.get(at).is_shared() {
                            let b = bit + i;
                            bits[b / 8] |= 1 << (b % 8);
                        }
                    }
                }
                bit += l.slots as usize;
            }
            bits
        });
        let listed: Vec<Listed> = listed.into_iter().map(|l| l.0).collect();
        let dirs = listed_dirs(dirs, &listed, now_ms);
        let footer = Footer {
            models,
            root: root.as_os_str().as_encoded_bytes().to_vec(),
            written_at_ms: now_ms,
            files: listed,
            slots: self.slots,
            alone,
            dirs,
        };
        Sealed {
            writer: self,
            footer,
        }
    }
}

/// An index whose records are written and whose footer is worked out: [`Sealed::write`]
/// writes the footer and trailer, syncs, renames.
#[derive(Debug)]
struct Sealed {
    writer: Writer,
    footer: Footer,
}

impl Sealed {
    /// Writes the footer and trailer, syncs and renames the index into place; its size
    /// comes back. On failure the temporary file is removed.
    fn write(self) -> io::Result<u64> {
        let Sealed { mut writer, footer } = self;
        let tmp = writer.tmp.clone();
        let done = (move || {
            let mut b = Vec::new();
            format::put_footer(&mut b, &footer);
            let at = writer.pos;
            writer.write(&b)?;
            let crc = writer.crc.clone().finalize();
            let t = format::trailer(at, b.len() as u64, crc);
            writer.out.write_all(&t)?;
            let size = writer.pos + t.len() as u64;
            let file = writer.out.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            drop(file);
            std::fs::rename(&writer.tmp, &writer.path)?;
            // The rename itself outlives a crash once the directory is synced.
            if let Some(dir) = writer.path.parent()
                && let Ok(d) = File::open(dir)
            {
                let _ = d.sync_all();
            }
            Ok(size)
        })();
        if done.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        done
    }
}

/// The directories for the footer: each one the listing went through, trusted (its time
/// kept) when its listing was clean, its time settled at `now_ms`, and the index holds
/// every transcript the listing found in it (a file left unread, or unreadable, has no
/// record: the directory is read again next time, which finds it).
fn listed_dirs(seen: &[SeenDir], files: &[Listed], now_ms: i64) -> Vec<ListedDir> {
    let mut held: HashMap<&[u8], u32> = HashMap::new();
    for l in files {
        if let Some(i) = memchr::memrchr(b'/', &l.rel) {
            *held.entry(&l.rel[..i]).or_default() += 1;
        }
    }
    let mut dirs: Vec<ListedDir> = seen
        .iter()
        .map(|d| {
            let all_held = held.get(d.rel.as_slice()).copied().unwrap_or(0) == d.files;
            ListedDir {
                rel: d.rel.clone(),
                mtime_ns: (d.clean && all_held && settled(d.mtime_ns, now_ms))
                    .then_some(d.mtime_ns),
            }
        })
        .collect();
    dirs.sort_by(|a, b| a.rel.cmp(&b.rel));
    dirs.dedup_by(|a, b| a.rel == b.rel);
    dirs
}

/// Removes temporary files that runs which died while writing left behind (an hour old:
/// a writer at work now is never that slow).
fn clean_leftovers(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(".index-") && name.ends_with(".tmp") {
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() > 3600);
            if old {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// The bytes of `path` below `root` (`None` when it is not below it): how the index
/// names a file. Compared as bytes, as the listing built the path from the root.
pub fn rel_bytes<'a>(path: &'a Path, root: &Path) -> Option<&'a [u8]> {
    let p = path.as_os_str().as_encoded_bytes();
    let mut r = root.as_os_str().as_encoded_bytes();
    while r.len() > 1 && r.ends_with(b"/") {
        r = &r[..r.len() - 1];
    }
    let rest = p.strip_prefix(r)?;
    let rest = rest.strip_prefix(b"/")?;
    (!rest.is_empty()).then_some(rest)
}

/// The hash of the first `min(offset, EDGE_BYTES)` bytes of `bytes` (the file's first
/// bytes): the same figure as [`crate::tail::fingerprint`] gives.
pub fn edge_hash(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use format::FileHead;

    const NOW: i64 = 1_800_000_000_000;

    fn head(size: u64, offset: u64, mtime_ms: i64, seen_ms: i64) -> FileHead {
        FileHead {
            identity: Identity {
                dev: 1,
                ino: 2,
                size,
                mtime_ns: mtime_ms * 1_000_000,
                seen_ms,
                offset,
            },
            ..FileHead::default()
        }
    }

    fn stamp(size: u64, mtime_ms: i64) -> Stamp {
        Stamp {
            dev: 1,
            ino: 2,
            size,
            mtime_ns: mtime_ms * 1_000_000,
        }
    }

    #[test]
    fn verdicts() {
        let old = NOW - 600_000;
        let seen = NOW - 60_000;
        let h = head(1000, 1000, old, seen);
        let v = |h: &FileHead, s: Option<Stamp>| verdict(&h.identity, s.as_ref(), NOW, seen);
        assert_eq!(v(&h, Some(stamp(1000, old))), Verdict::Unchanged);
        // Not opened when unchanged; opened and read on when it grew.
        assert_eq!(v(&h, Some(stamp(1500, NOW - 1000))), Verdict::Grown);
        // Shorter, or the same size at another time: read again.
        assert_eq!(v(&h, Some(stamp(900, NOW - 1000))), Verdict::Reread);
        assert_eq!(v(&h, Some(stamp(1000, old + 1))), Verdict::Reread);
        // Another inode under the name: read again.
        let mut moved = stamp(1000, old);
        moved.ino = 3;
        assert_eq!(v(&h, Some(moved)), Verdict::Reread);
        // No stamp: read again.
        assert_eq!(v(&h, None), Verdict::Reread);
        // A partial last line was left unread: read on, even unchanged.
        let partial = head(1000, 990, old, seen);
        assert_eq!(v(&partial, Some(stamp(1000, old))), Verdict::Grown);
        // Modified too close to when it was read: never trusted unopened.
        let racy = head(1000, 1000, seen - SETTLE_MS, seen);
        assert_eq!(
            v(&racy, Some(stamp(1000, seen - SETTLE_MS))),
            Verdict::Reread
        );
        let settled = head(1000, 1000, seen - SETTLE_MS - 1, seen);
        assert_eq!(
            v(&settled, Some(stamp(1000, seen - SETTLE_MS - 1))),
            Verdict::Unchanged
        );
        // The clock went back since the index was written, or the file is from the
        // future: doubt, so read again.
        assert_eq!(
            verdict(&h.identity, Some(&stamp(1000, old)), seen - 1, seen),
            Verdict::Reread
        );
        assert_eq!(
            v(&h, Some(stamp(1500, NOW + SETTLE_MS + 1))),
            Verdict::Reread
        );
    }

    #[test]
    fn an_index_of_another_root_or_version_is_not_used() {
        let footer = Footer {
            root: b"/a/projects".to_vec(),
            ..Footer::default()
        };
        let bytes = format::encode(facts_version(), &footer, &[]);
        assert!(Loaded::from_bytes(bytes.clone(), Path::new("/a/projects")).is_ok());
        assert!(matches!(
            Loaded::from_bytes(bytes, Path::new("/b/projects")),
            Err(Unusable::Damaged(_))
        ));
        let other = format::encode(facts_version() ^ 1, &footer, &[]);
        assert_eq!(
            Loaded::from_bytes(other, Path::new("/a/projects")).unwrap_err(),
            Unusable::OtherVersion
        );
        assert!(matches!(
            Loaded::from_bytes(
                b"{\"not\": \"an index\"}".to_vec(),
                Path::new("/a/projects")
            ),
            Err(Unusable::Damaged(_))
        ));
    }
}
