//! The set of distinct API responses, deduplicated across every file.
//!
//! Claude Code writes one response as several lines (one per content block, early ones
//! with a placeholder `output_tokens`), subagent responses also appear in the parent's
//! files, and resumed sessions replay earlier responses in a new file. Each response is
//! kept once, by a rule that is a total order on copies, so the survivor never depends on
//! the order in which files were read or how many threads read them:
//!
//! 1. a main-chain copy beats a sidechain copy;
//! 2. then the larger token total;
//! 3. then the larger `costUSD` of its own;
//! 4. then a copy that states `usage.speed`;
//! 5. then the copy from the earlier file in sorted path order, then the earlier line.
//!
//! Copies share the key `message.id` + `requestId`; a sidechain copy (a subagent's replay)
//! also matches a response with the same `message.id` under another `requestId`, as
//! ccusage matches them. Main-chain copies under two `requestId`s (a retry) stay two
//! responses, and a sidechain copy never makes them one. So a message id counts once per
//! `requestId` its main-chain copies carry, or once if all its copies are sidechain ones,
//! whatever order the copies come in. (Of a message id with two main-chain `requestId`s,
//! a sidechain copy may add its first-copy place, and the content counted from there, to
//! either response, by the order copies come in; no count, token or response's cost
//! depends on it.) Besides the survivor,
//! each response remembers where its first copy stands (file, line): reports walk
//! responses in that order, as ccusage does, so first-seen lists such as `modelsUsed`
//! come out the same.
//!
//! A response's content (its thinking, text and tool input, for [`crate::thinking`]) is
//! spread over its lines, one block a line, and a resumed session writes the same lines
//! again, sometimes in the same file. So the content is counted from one *run* only: the
//! consecutive lines of the response, in one file, that hold its first copy. A reader
//! marks a line that continues the run it read before ([`CONTINUES`]); the content of
//! such a line is added, a line that starts the run holding the first copy replaces
//! what was counted (so a file read again from its start counts once), and every other
//! copy's content is passed over. Like the survivor, the result does not depend on the
//! order in which files were read.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::Hasher;
use std::path::PathBuf;
use std::sync::Arc;

use redline_core::TokenCounts;

use crate::hashed::KeyBuild;
use crate::record::Record;
use crate::roots::path_order;
use crate::thinking::{CONTINUES, Content};

/// Index of a transcript file in a [`Files`] table.
pub type FileId = u32;
/// Index of a model id in a [`Models`] table.
pub type ModelId = u32;

/// One counted API response, kept small (80 bytes): a corpus of 300k responses must fit
/// in a few dozen megabytes. Counts are 32-bit (one response never comes near 4 billion
/// tokens; the parser rejects a line that claims more); absent values use sentinels, read
/// through the accessors.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Milliseconds since the epoch.
    pub ts_ms: i64,
    /// input, output, cache writes (all), cache reads, 1-hour cache writes.
    counts: [u32; 5],
    /// The line's own `costUSD`; NaN when it had none.
    cost_usd: f64,
    /// The model, [`NO_MODEL`] when the line named none.
    model: ModelId,
    /// The file the surviving copy came from (its session and project).
    pub file: FileId,
    /// The 1-based line of the surviving copy.
    pub line: u32,
    /// The file of the earliest copy (in sorted path order).
    pub first_file: FileId,
    /// The line of the earliest copy.
    pub first_line: u32,
    /// Hash of `message.id`, or of the whole line for an unkeyed one (0 when not from a line).
    pub id_hash: u64,
    /// Reset time of a usage-limit message, seconds since the epoch; 0 when none.
    limit_reset_s: u32,
    /// Thinking characters (or exact thinking tokens) of the response's first run.
    thinking: u32,
    /// Visible characters (text, tool input) of that run.
    visible: u32,
    /// Boolean facts, see the `FLAG_*` constants.
    pub flags: u8,
    /// The `THINKING_*` flags of [`crate::thinking`].
    content: u8,
    /// More than one copy of the response was offered to the ledger holding it: in the
    /// ledger of all files, copies in more than one file (see [`Ledger::push_alone`]).
    shared: bool,
}

/// The model id of an entry whose line named no model.
pub const NO_MODEL: ModelId = ModelId::MAX;

/// `isSidechain`.
pub const FLAG_SIDECHAIN: u8 = 1;
/// `usage.speed == "fast"`.
pub const FLAG_FAST: u8 = 2;
/// `usage.inference_geo == "us"`.
pub const FLAG_GEO_US: u8 = 4;
/// `isApiErrorMessage`.
pub const FLAG_API_ERROR: u8 = 8;
/// `usage.speed` present.
pub const FLAG_HAS_SPEED: u8 = 16;
/// The line was accepted beyond Claude Code's own shape.
pub const FLAG_LENIENT: u8 = 32;
/// The line had no `message.id`: never deduplicated.
pub const FLAG_UNKEYED: u8 = 64;
/// Not a transcript line but a total kept elsewhere (an archived rollup, or what an
/// OpenTelemetry sender reported): its `cost_usd` is its cost in every cost mode, since
/// its tokens add up many responses and cannot be priced as one.
pub const FLAG_AGGREGATE: u8 = 128;

impl Entry {
    /// Builds the entry for a parsed line.
    pub fn new(r: &Record<'_>, model: Option<ModelId>, file: FileId, line: u32) -> Entry {
        let flag = |on: bool, f: u8| if on { f } else { 0 };
        let mut e = Entry::with_usage(
            r.ts_ms,
            r.tokens,
            r.cache_write_1h,
            r.cost_usd,
            model,
            file,
            line,
        );
        e.limit_reset_s = r
            .limit_reset_s
            .and_then(|s| u32::try_from(s).ok())
            .unwrap_or(0);
        e.set_content(r.content);
        e.id_hash = r.id_hash;
        e.flags = flag(r.sidechain, FLAG_SIDECHAIN)
            | flag(r.fast, FLAG_FAST)
            | flag(r.geo_us, FLAG_GEO_US)
            | flag(r.api_error, FLAG_API_ERROR)
            | flag(r.has_speed, FLAG_HAS_SPEED)
            | flag(!r.canonical, FLAG_LENIENT);
        e
    }

    /// An entry from its usage alone (no id, no flags): for sources other than a
    /// transcript line, and for tests. Counts above `u32::MAX` are clamped.
    pub fn with_usage(
        ts_ms: i64,
        tokens: TokenCounts,
        cache_write_1h: u64,
        cost_usd: Option<f64>,
        model: Option<ModelId>,
        file: FileId,
        line: u32,
    ) -> Entry {
        let c = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        Entry {
            ts_ms,
            counts: [
                c(tokens.input),
                c(tokens.output),
                c(tokens.cache_creation),
                c(tokens.cache_read),
                c(cache_write_1h.min(tokens.cache_creation)),
            ],
            cost_usd: cost_usd.unwrap_or(f64::NAN),
            model: model.unwrap_or(NO_MODEL),
            file,
            line,
            first_file: file,
            first_line: line,
            id_hash: 0,
            limit_reset_s: 0,
            thinking: 0,
            visible: 0,
            flags: 0,
            content: 0,
            shared: false,
        }
    }

    /// The four token counts.
    pub fn tokens(&self) -> TokenCounts {
        let [input, output, cache_creation, cache_read, _] = self.counts.map(u64::from);
        TokenCounts {
            input,
            output,
            cache_creation,
            cache_read,
        }
    }

    /// The part of the cache writes made with the 1-hour lifetime.
    pub fn cache_write_1h(&self) -> u64 {
        u64::from(self.counts[4])
    }

    /// The line's own `costUSD`.
    pub fn cost_usd(&self) -> Option<f64> {
        (!self.cost_usd.is_nan()).then_some(self.cost_usd)
    }

    /// The model, if the line named one.
    pub fn model(&self) -> Option<ModelId> {
        (self.model != NO_MODEL).then_some(self.model)
    }

    /// The reset time of a usage-limit message, seconds since the epoch.
    pub fn limit_reset_s(&self) -> Option<i64> {
        (self.limit_reset_s != 0).then_some(i64::from(self.limit_reset_s))
    }

    /// Whether more than one copy of the response was offered to the ledger holding it.
    pub fn is_shared(&self) -> bool {
        self.shared
    }

    /// Whether the flag is set.
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// What the response's content says about its thinking.
    pub fn content(&self) -> Content {
        Content {
            thinking: self.thinking,
            visible: self.visible,
            flags: self.content,
        }
    }

    /// Sets the content (a reader marks a line that continues its run with
    /// [`CONTINUES`]; see the module docs).
    pub fn set_content(&mut self, c: Content) {
        self.thinking = c.thinking;
        self.visible = c.visible;
        self.content = c.flags;
    }

    /// The thinking tokens of this response and how they were found; `None` when nothing
    /// is known of them (a redacted signature, or a total kept elsewhere).
    pub fn thinking_tokens(&self) -> Option<(f64, crate::thinking::Basis)> {
        if self.has(FLAG_AGGREGATE) {
            return None;
        }
        self.content().thinking_tokens(self.tokens().output)
    }
}

/// An entry's fields apart from its file, as the scan index ([`crate::index`]) stores
/// them: an entry rebuilt from its parts is the entry that gave them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EntryParts {
    /// Milliseconds since the epoch.
    pub ts_ms: i64,
    /// input, output, cache writes (all), cache reads, 1-hour cache writes.
    pub counts: [u32; 5],
    /// The line's own `costUSD`.
    pub cost_usd: Option<f64>,
    /// The model.
    pub model: Option<ModelId>,
    /// The line of the surviving copy.
    pub line: u32,
    /// The line of the earliest copy.
    pub first_line: u32,
    /// See [`Entry::id_hash`].
    pub id_hash: u64,
    /// Reset time of a usage-limit message, seconds since the epoch; 0 when none.
    pub limit_reset_s: u32,
    /// Thinking characters (or exact thinking tokens).
    pub thinking: u32,
    /// Visible characters.
    pub visible: u32,
    /// The `FLAG_*` flags.
    pub flags: u8,
    /// The `THINKING_*` flags of [`crate::thinking`].
    pub content: u8,
}

impl Entry {
    /// The entry's fields apart from its file: what the scan index stores of an entry
    /// whose copies all came from one file.
    pub fn parts(&self) -> EntryParts {
        EntryParts {
            ts_ms: self.ts_ms,
            counts: self.counts,
            cost_usd: self.cost_usd(),
            model: self.model(),
            line: self.line,
            first_line: self.first_line,
            id_hash: self.id_hash,
            limit_reset_s: self.limit_reset_s,
            thinking: self.thinking,
            visible: self.visible,
            flags: self.flags,
            content: self.content,
        }
    }

    /// The entry of file `file` with these parts (see [`Entry::parts`]).
    pub fn from_parts(p: &EntryParts, file: FileId) -> Entry {
        Entry {
            ts_ms: p.ts_ms,
            counts: p.counts,
            cost_usd: p.cost_usd.unwrap_or(f64::NAN),
            model: p.model.unwrap_or(NO_MODEL),
            file,
            line: p.line,
            first_file: file,
            first_line: p.first_line,
            id_hash: p.id_hash,
            limit_reset_s: p.limit_reset_s,
            thinking: p.thinking,
            visible: p.visible,
            flags: p.flags,
            content: p.content,
            shared: false,
        }
    }

    /// Points the entry (whose copies all came from one file) at file `file`.
    pub fn set_file(&mut self, file: FileId) {
        self.file = file;
        self.first_file = file;
    }

    /// Sets the model id (an entry whose ids came from another table).
    pub fn set_model(&mut self, model: ModelId) {
        self.model = model;
    }
}

/// A transcript file's place: its path, project and session.
#[derive(Clone, Debug)]
pub struct FileMeta {
    /// Full path.
    pub path: PathBuf,
    /// Project name (first component under `projects/`).
    pub project: Arc<str>,
    /// Session id (file stem, or the parent session for subagent files).
    pub session: Arc<str>,
}

/// The files entries point into.
#[derive(Clone, Debug, Default)]
pub struct Files {
    files: Vec<FileMeta>,
    /// Whether ids were handed out in path order, so ids compare as paths do.
    ids_in_path_order: bool,
}

impl Files {
    /// No files yet, with room for `n`.
    pub fn with_capacity(n: usize) -> Files {
        Files {
            files: Vec::with_capacity(n),
            ..Files::default()
        }
    }

    /// Adds a file and returns its id. Its project and session share their text with the
    /// file added before when they are the same (files come in path order: a project's
    /// files are neighbours, and so are a session's and its subagents').
    pub fn add(&mut self, mut meta: FileMeta) -> FileId {
        if let Some(last) = self.files.last() {
            if last.project == meta.project {
                meta.project = Arc::clone(&last.project);
            }
            if last.session == meta.session {
                meta.session = Arc::clone(&last.session);
            }
        }
        self.ids_in_path_order = self
            .files
            .last()
            .is_none_or(|last| path_order(&last.path, &meta.path).is_lt())
            && (self.files.is_empty() || self.ids_in_path_order);
        self.files.push(meta);
        FileId::try_from(self.files.len() - 1).unwrap_or(FileId::MAX)
    }

    /// Orders two responses by where their first copies stand: file path, then line. The
    /// order ccusage walks responses in, and so the order of first-seen lists.
    pub fn first_copy_order(&self, a: &Entry, b: &Entry) -> Ordering {
        self.order(a.first_file, b.first_file)
            .then(a.first_line.cmp(&b.first_line))
    }

    /// Each file's place in path order, by [`FileId`]: comparing places is
    /// [`Files::order`], without comparing paths.
    pub fn places(&self) -> Vec<u32> {
        let mut ids: Vec<FileId> = (0..self.files.len())
            .map(|i| FileId::try_from(i).unwrap_or(FileId::MAX))
            .collect();
        if !self.ids_in_path_order {
            ids.sort_by(|&a, &b| self.order(a, b));
        }
        let mut place = vec![0u32; ids.len()];
        for (p, id) in ids.into_iter().enumerate() {
            place[id as usize] = u32::try_from(p).unwrap_or(u32::MAX);
        }
        place
    }

    /// Orders two files by path (the tie-break order).
    pub fn order(&self, a: FileId, b: FileId) -> Ordering {
        if a == b {
            Ordering::Equal
        } else if self.ids_in_path_order {
            a.cmp(&b)
        } else {
            path_order(&self.get(a).path, &self.get(b).path)
        }
    }
    /// The file with this id.
    pub fn get(&self, id: FileId) -> &FileMeta {
        &self.files[id as usize]
    }
    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// Interned model ids.
#[derive(Clone, Debug, Default)]
pub struct Models {
    names: Vec<Box<str>>,
    index: HashMap<Box<str>, ModelId>,
}

impl Models {
    /// The id of `name`, interning it on first sight.
    pub fn intern(&mut self, name: &str) -> ModelId {
        if let Some(&id) = self.index.get(name) {
            return id;
        }
        let id = ModelId::try_from(self.names.len()).unwrap_or(ModelId::MAX);
        self.names.push(name.into());
        self.index.insert(name.into(), id);
        id
    }
    /// The name of a model id.
    pub fn name(&self, id: ModelId) -> &str {
        &self.names[id as usize]
    }
    /// Every interned name, in id order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(|n| &**n)
    }
}

/// A 64-bit hash kept as two halves: a map slot (key and entry index) then takes 12 bytes
/// instead of 16, which on 300k responses is 4 MB less for the two maps together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key([u32; 2]);

impl Key {
    fn new(k: u64) -> Key {
        Key([k as u32, (k >> 32) as u32])
    }
    fn get(self) -> u64 {
        u64::from(self.0[0]) | (u64::from(self.0[1]) << 32)
    }
}

impl std::hash::Hash for Key {
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u64(self.get());
    }
}

/// Dedup keys to entry slots.
type SlotMap = HashMap<Key, u32, KeyBuild>;

/// Marks a slot in the dedup index that a key reached by sidechain copies only: a
/// main-chain copy under that key then joins the slot only while the slot is still all
/// sidechain copies (see [`Ledger::offer`]).
const SIDE_KEY: u32 = 1 << 31;

/// The slot a dedup index value names.
fn slot_of(v: u32) -> u32 {
    v & !SIDE_KEY
}

/// The dedup index value for slot `at`, reached under a key by `entry`.
fn keyed_slot(at: u32, entry: &Entry) -> u32 {
    if entry.has(FLAG_SIDECHAIN) {
        at | SIDE_KEY
    } else {
        at
    }
}

/// Entries in fixed-size chunks: growing never copies or doubles the whole store, so
/// memory follows the number of responses instead of the next power of two.
#[derive(Clone, Debug, Default)]
struct Chunks {
    chunks: Vec<Vec<Entry>>,
    len: usize,
    /// Empty chunks given to the ledger ahead of need (see [`Ledger::give_room`]).
    room: Vec<Vec<Entry>>,
}

/// Entries per chunk (160 KB): below the size glibc gives mappings of their own (256 KB,
/// as the daemon and `report` fix it), so the chunks take heap that earlier passes (the
/// listing, the index's paths) freed rather than new pages.
const CHUNK: usize = 2048;

impl Chunks {
    fn push(&mut self, e: Entry) {
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            let c = self.room.pop().unwrap_or_else(|| Vec::with_capacity(CHUNK));
            self.chunks.push(c);
        }
        if let Some(c) = self.chunks.last_mut() {
            c.push(e);
        }
        self.len += 1;
    }
    fn get(&self, i: u32) -> &Entry {
        &self.chunks[i as usize / CHUNK][i as usize % CHUNK]
    }
    fn get_mut(&mut self, i: u32) -> &mut Entry {
        &mut self.chunks[i as usize / CHUNK][i as usize % CHUNK]
    }
    fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.chunks.iter().flatten()
    }
    fn iter_mut(&mut self) -> impl Iterator<Item = &mut Entry> {
        self.chunks.iter_mut().flatten()
    }
    fn into_entries(self) -> impl Iterator<Item = Entry> {
        self.chunks.into_iter().flatten()
    }
}

/// An empty chunk of entries, its pages already in place: see [`Ledger::fresh_room`].
pub struct Room(Vec<Entry>);

/// Distinct responses: keyed ones deduplicated, unkeyed ones (no `message.id`) as they
/// come. Entries live in chunks; the maps hold only 16-byte slots pointing into them.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    entries: Chunks,
    /// Dedup key to the entry.
    index: SlotMap,
    /// `message.id` hash to the first entry stored under that id, for matching sidechain
    /// copies that carry another `requestId`.
    by_id: SlotMap,
    /// Copies of keyed responses offered, and distinct keyed responses kept.
    copies: u64,
    keyed: u64,
}

impl Ledger {
    /// Offers one copy of a response. It is kept if it is the first copy of its response or
    /// beats the copy held (see the module docs). The answer says what changed, for a live
    /// reader that keeps running figures; a scan may ignore it.
    pub fn offer(&mut self, key: Option<u64>, mut entry: Entry, files: &Files) -> Offered {
        let continues = entry.content & CONTINUES != 0;
        entry.content &= !CONTINUES;
        let Some(key) = key else {
            entry.flags |= FLAG_UNKEYED;
            entry.shared = false;
            let at = self.next_slot();
            self.entries.push(entry);
            return Offered::Added(at);
        };
        entry.flags &= !FLAG_UNKEYED;
        self.copies += 1;
        let Some(at) = self.held_for(key, &entry) else {
            let at = self.next_slot();
            if entry.id_hash != 0 {
                self.by_id.entry(Key::new(entry.id_hash)).or_insert(at);
            }
            self.index.insert(Key::new(key), keyed_slot(at, &entry));
            entry.shared = false;
            self.entries.push(entry);
            self.keyed += 1;
            return Offered::Added(at);
        };
        let held = self.entries.get_mut(at);
        let offered = entry.content();
        let first_order = files.first_copy_order(&entry, held);
        let first = if first_order == Ordering::Less {
            (entry.first_file, entry.first_line)
        } else {
            (held.first_file, held.first_line)
        };
        // The content of the run holding the first copy (see the module docs): a copy
        // that starts it (earlier, or the same line read again) replaces what was
        // counted, a line continuing it adds, any other copy is passed over. An exact
        // figure from any copy stands, the largest one.
        let mut content = held.content();
        if first_order != Ordering::Greater {
            content = offered;
        } else if continues {
            content.add(&offered);
        }
        for c in [held.content(), offered] {
            if c.flags & crate::thinking::THINKING_EXACT != 0 {
                content.set_exact(c.thinking);
            }
        }
        let answer = if survivor_order(&entry, held, files) == Ordering::Greater {
            Offered::Replaced(at, Box::new(std::mem::replace(held, entry)))
        } else {
            Offered::Kept(at)
        };
        (held.first_file, held.first_line) = first;
        held.set_content(content);
        held.shared = true;
        answer
    }

    /// The slot holding the response a copy under `key` belongs to, if one does; the key
    /// is entered for it. A key's main-chain copies all go to one slot, a response of its
    /// own; a sidechain copy goes to its key's slot, else to the first slot of its message
    /// id, and a main-chain copy under a new key takes that first slot while sidechain
    /// copies alone are in it. So each message id ends with one slot per key of its
    /// main-chain copies (one slot if there are none), in any order of offers.
    fn held_for(&mut self, key: u64, entry: &Entry) -> Option<u32> {
        let side = entry.has(FLAG_SIDECHAIN);
        let k = Key::new(key);
        let side_only = |l: &Ledger, at: u32| l.entries.get(at).has(FLAG_SIDECHAIN);
        let at = match self.index.get(&k).copied() {
            Some(v) if v & SIDE_KEY == 0 => return Some(v),
            // Reached by sidechain copies only so far.
            Some(v) => slot_of(v),
            None if entry.id_hash == 0 => return None,
            None => *self.by_id.get(&Key::new(entry.id_hash))?,
        };
        if side {
            self.index.entry(k).or_insert(at | SIDE_KEY);
            Some(at)
        } else if side_only(self, at) {
            self.index.insert(k, at);
            Some(at)
        } else {
            // Another key's main-chain copies hold it: a response of its own.
            None
        }
    }

    fn next_slot(&self) -> u32 {
        u32::try_from(self.entries.len).unwrap_or(u32::MAX)
    }

    /// The entry in slot `at` (as [`Offered`] names it).
    pub fn get(&self, at: u32) -> &Entry {
        self.entries.get(at)
    }

    /// Replaces an unkeyed entry in place (an aggregate that grew, or was voided), and
    /// returns what it held. Keyed entries are left alone: they only change by [`offer`].
    ///
    /// [`offer`]: Ledger::offer
    pub fn set_unkeyed(&mut self, at: u32, mut entry: Entry) -> Option<Entry> {
        let held = self.entries.get_mut(at);
        if !held.has(FLAG_UNKEYED) {
            return None;
        }
        entry.flags |= FLAG_UNKEYED;
        Some(std::mem::replace(held, entry))
    }

    /// Folds another ledger (for example one file's) into this one; the slot each of its
    /// slots went to is pushed to `placed` (in its slot order) when given.
    pub fn merge(&mut self, other: Ledger, files: &Files, mut placed: Option<&mut Vec<u32>>) {
        self.copies += other.copies - other.keyed;
        let keys = other.slot_keys();
        for (entry, key) in other.entries.into_entries().zip(keys) {
            let at = self.offer(key, entry, files).slot();
            if let Some(p) = placed.as_deref_mut() {
                p.push(at);
            }
        }
    }

    /// Keeps a response of which the ledger holds no copy, as [`Ledger::offer`] would
    /// keep it, without looking for one: the caller knows (the scan index says which
    /// responses no other file held, and those files are merged before any other). `index`
    /// says whether it is entered in the dedup index (a ledger later offered more copies
    /// needs it; a report's does not). Its slot comes back.
    pub fn push_alone(&mut self, key: Option<u64>, mut entry: Entry, index: bool) -> u32 {
        entry.content &= !CONTINUES;
        entry.shared = false;
        let at = self.next_slot();
        match key {
            None => entry.flags |= FLAG_UNKEYED,
            Some(key) => {
                entry.flags &= !FLAG_UNKEYED;
                self.copies += 1;
                self.keyed += 1;
                if index {
                    if entry.id_hash != 0 {
                        self.by_id.entry(Key::new(entry.id_hash)).or_insert(at);
                    }
                    self.index.insert(Key::new(key), keyed_slot(at, &entry));
                }
            }
        }
        self.entries.push(entry);
        at
    }

    /// Counts copies of keyed responses that were folded away before they came here (a
    /// file's own duplicates, as its index record says).
    pub fn add_dropped(&mut self, dropped: u64) {
        self.copies += dropped;
    }

    /// Entries a [`Ledger::fresh_room`] holds.
    pub const ROOM: usize = CHUNK;

    /// An empty chunk whose pages are put in place now (see
    /// [`crate::bulk::vec_in_place`]), made away from the ledger, for
    /// [`Ledger::give_room`].
    pub fn fresh_room() -> Room {
        Room(crate::bulk::vec_in_place(CHUNK))
    }

    /// Room for entries to come, made by [`Ledger::fresh_room`] on another thread: a
    /// shared ledger then does not wait for pages to be found while it is held.
    pub fn give_room(&mut self, room: Room) {
        self.entries.room.push(room.0);
    }

    /// Lets go of room given and not used.
    pub fn drop_room(&mut self) {
        self.entries.room = Vec::new();
    }

    /// Makes room for `n` more responses in the dedup index (a reader that knows how many
    /// are coming saves the index's regrowth).
    pub fn reserve(&mut self, n: usize) {
        self.index.reserve(n);
        self.by_id.reserve(n);
    }

    /// Every slot in order, with the key it is held under (`None` for an unkeyed entry):
    /// with [`Ledger::duplicates_dropped`], all a ledger is (see [`Ledger::from_slots`]).
    pub fn slots(&self) -> Vec<(Option<u64>, &Entry)> {
        self.slot_keys()
            .into_iter()
            .zip(self.entries.iter())
            .collect()
    }

    /// The key each slot is offered under when it moves to another ledger: the key of
    /// its main-chain copies, or (all of its copies sidechain ones) the least of their
    /// keys. The slot's entry is its best copy, so it stands for all of them there.
    fn slot_keys(&self) -> Vec<Option<u64>> {
        let mut keys: Vec<Option<(bool, u64)>> = vec![None; self.entries.len];
        for (key, &v) in &self.index {
            let this = (v & SIDE_KEY != 0, key.get());
            let held = &mut keys[slot_of(v) as usize];
            if held.is_none_or(|h| this < h) {
                *held = Some(this);
            }
        }
        keys.into_iter().map(|k| k.map(|(_, key)| key)).collect()
    }

    /// The ledger whose [`Ledger::slots`] and [`Ledger::duplicates_dropped`] these were,
    /// dedup index and all: offering it the next copies gives what offering them to the
    /// original would have.
    pub fn from_slots(
        slots: impl IntoIterator<Item = (Option<u64>, Entry)>,
        dropped: u64,
    ) -> Ledger {
        let mut l = Ledger::default();
        for (key, entry) in slots {
            let at = l.next_slot();
            if let Some(key) = key {
                if entry.id_hash != 0 {
                    l.by_id.entry(Key::new(entry.id_hash)).or_insert(at);
                }
                l.index.insert(Key::new(key), keyed_slot(at, &entry));
                l.keyed += 1;
            }
            l.entries.push(entry);
        }
        l.copies = l.keyed + dropped;
        l
    }

    /// Frees the dedup index, for a one-shot report once every file has been read: the
    /// index is about a third of the ledger's memory. Copies offered after this are no
    /// longer matched with the responses held, so a live reader must not call it.
    pub fn release_index(&mut self) {
        self.index = HashMap::default();
        self.by_id = HashMap::default();
    }

    /// The counted responses in slots `range` (as many as there are of them).
    pub fn entries_in(&self, range: std::ops::Range<usize>) -> impl Iterator<Item = &Entry> {
        let end = range.end.min(self.entries.len);
        let start = range.start.min(end);
        let first = start / CHUNK;
        self.entries
            .chunks
            .iter()
            .skip(first)
            .flatten()
            .skip(start - first * CHUNK)
            .take(end - start)
    }

    /// Every counted response, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    /// Number of counted responses.
    pub fn len(&self) -> usize {
        self.entries.len
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.entries.len == 0
    }

    /// Copies of keyed responses that were dropped as duplicates.
    pub fn duplicates_dropped(&self) -> u64 {
        self.copies - self.keyed
    }
}

/// Where a reader stands in a file's runs of response lines (see the module docs): the
/// response its last keyed line belonged to, whether that run holds the response's first
/// copy (whose content counts), and the blocks the run has shown, so that a replay
/// written right after the original is not taken for more of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Run {
    /// The response's dedup key; 0 before any keyed line.
    key: u64,
    counting: bool,
    seen: u8,
    /// 16 bits of the content hash of each of the run's first [`RUN_BLOCKS`] lines: only
    /// blocks of one response are told apart, and every transcript carries a `Run` (32
    /// bytes all told).
    blocks: [u16; RUN_BLOCKS],
}

/// How many of a run's blocks are remembered to tell a replay: more than a response
/// usually has.
pub const RUN_BLOCKS: usize = 8;

/// A [`Run`]'s state, as the scan index stores it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunParts {
    /// The response's dedup key; 0 before any keyed line.
    pub key: u64,
    /// Whether the run holds the response's first copy.
    pub counting: bool,
    /// How many of `blocks` are set.
    pub seen: u8,
    /// 16 bits of the content hash of each of the run's first blocks.
    pub blocks: [u16; RUN_BLOCKS],
}

impl Run {
    /// The run's state.
    pub fn parts(&self) -> RunParts {
        RunParts {
            key: self.key,
            counting: self.counting,
            seen: self.seen,
            blocks: self.blocks,
        }
    }

    /// The run with this state; `None` when it is not one a reader could stand in.
    pub fn from_parts(p: &RunParts) -> Option<Run> {
        (usize::from(p.seen) <= RUN_BLOCKS).then_some(Run {
            key: p.key,
            counting: p.counting,
            seen: p.seen,
            blocks: p.blocks,
        })
    }

    /// Offers the copy `entry` (under `key`, its content hashing to `content_hash`) to
    /// `ledger` as the next line this reader read, keeping count of the run it stands in:
    /// the one way a reader offers a response line.
    pub fn offer(
        &mut self,
        ledger: &mut Ledger,
        key: Option<u64>,
        content_hash: u64,
        mut entry: Entry,
        files: &Files,
    ) -> Offered {
        let (file, line) = (entry.file, entry.line);
        self.mark(key, content_hash, &mut entry);
        let answer = ledger.offer(key, entry, files);
        self.offered(key, content_hash, &answer, ledger, file, line);
        answer
    }

    /// Marks a copy about to be offered under `key`, whose content hashes to
    /// `content_hash`, when it continues the counting run. A block the run already
    /// showed starts a replay: from there on nothing of this run counts.
    fn mark(&mut self, key: Option<u64>, content_hash: u64, entry: &mut Entry) {
        if key != Some(self.key) || self.key == 0 {
            return;
        }
        let shown = &self.blocks[..usize::from(self.seen)];
        if content_hash != 0 && shown.contains(&(content_hash as u16)) {
            self.counting = false;
        }
        if self.counting {
            entry.content |= CONTINUES;
            self.remember(content_hash);
        }
    }

    fn remember(&mut self, content_hash: u64) {
        if usize::from(self.seen) < RUN_BLOCKS {
            self.blocks[usize::from(self.seen)] = content_hash as u16;
            self.seen += 1;
        }
    }

    /// Takes the answer to the offer of the copy at (`file`, `line`) under `key`: a line
    /// that starts a run counts on when it became the response's first copy.
    fn offered(
        &mut self,
        key: Option<u64>,
        content_hash: u64,
        answer: &Offered,
        ledger: &Ledger,
        file: FileId,
        line: u32,
    ) {
        let Some(k) = key else {
            *self = Run::default();
            return;
        };
        if self.key == k && k != 0 {
            return;
        }
        let at = match answer {
            Offered::Added(at) | Offered::Kept(at) | Offered::Replaced(at, _) => *at,
        };
        let held = ledger.get(at);
        *self = Run {
            key: k,
            counting: (held.first_file, held.first_line) == (file, line),
            ..Run::default()
        };
        self.remember(content_hash);
    }
}

/// What an offer changed.
#[derive(Clone, Debug, PartialEq)]
pub enum Offered {
    /// A new response, in this slot.
    Added(u32),
    /// The copy in this slot beat the one held, which is given back.
    Replaced(u32, Box<Entry>),
    /// The copy held in this slot stays; the offered one was a duplicate.
    Kept(u32),
}

impl Offered {
    /// The slot the response is held in.
    pub fn slot(&self) -> u32 {
        match self {
            Offered::Added(at) | Offered::Replaced(at, _) | Offered::Kept(at) => *at,
        }
    }
}

/// `Greater` when `a` should survive over `b`.
fn survivor_order(a: &Entry, b: &Entry, files: &Files) -> Ordering {
    let main_chain = |e: &Entry| !e.has(FLAG_SIDECHAIN);
    let cost = |e: &Entry| e.cost_usd().unwrap_or(f64::NEG_INFINITY);
    main_chain(a)
        .cmp(&main_chain(b))
        .then(a.tokens().total().cmp(&b.tokens().total()))
        .then(cost(a).total_cmp(&cost(b)))
        .then(a.has(FLAG_HAS_SPEED).cmp(&b.has(FLAG_HAS_SPEED)))
        // Earlier file, then earlier line, wins: reversed.
        .then_with(|| files.order(b.file, a.file))
        .then(b.line.cmp(&a.line))
}

impl Ledger {
    /// Rewrites model ids through `map` (old id to new id), when a ledger built with its
    /// own model table joins another.
    pub fn remap_models(&mut self, map: &[ModelId]) {
        for e in self.entries.iter_mut() {
            if e.model != NO_MODEL {
                e.model = map[e.model as usize];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::dedup_key;

    /// A project's files and a session's (its subagents' too) come together in path
    /// order: they hold one copy of the project's and the session's name between them.
    #[test]
    fn neighbours_share_their_project_and_session_names() {
        let mut files = Files::default();
        let meta = |path: &str, project: &str, session: &str| FileMeta {
            path: path.into(),
            project: project.into(),
            session: session.into(),
        };
        let a = files.add(meta("/p/-a/s.jsonl", "-a", "s"));
        let b = files.add(meta("/p/-a/s/subagents/x.jsonl", "-a", "s"));
        let c = files.add(meta("/p/-a/t.jsonl", "-a", "t"));
        let d = files.add(meta("/p/-b/t.jsonl", "-b", "t"));
        let (a, b, c, d) = (files.get(a), files.get(b), files.get(c), files.get(d));
        assert!(Arc::ptr_eq(&a.session, &b.session));
        assert!(Arc::ptr_eq(&a.project, &c.project));
        assert!(!Arc::ptr_eq(&a.session, &c.session));
        assert_eq!(&*c.session, "t");
        assert_eq!(&*d.project, "-b");
        assert!(Arc::ptr_eq(&c.session, &d.session));
    }

    /// The responses as reports walk them (see `report::prepare`).
    fn in_file_order<'a>(l: &'a Ledger, files: &Files) -> Vec<&'a Entry> {
        let mut v: Vec<&Entry> = l.entries().collect();
        v.sort_by(|a, b| files.first_copy_order(a, b));
        v
    }

    fn files(paths: &[&str]) -> Files {
        let mut f = Files::default();
        for p in paths {
            f.add(FileMeta {
                path: PathBuf::from(p),
                project: "p".into(),
                session: "s".into(),
            });
        }
        f
    }

    #[test]
    fn a_range_of_slots_is_those_slots() {
        let mut l = Ledger::default();
        let n = 3 * CHUNK + 17;
        for i in 0..n {
            let e = Entry::with_usage(i as i64, TokenCounts::default(), 0, None, None, 0, 0);
            l.push_alone(None, e, false);
        }
        let all: Vec<i64> = l.entries().map(|e| e.ts_ms).collect();
        for (a, b) in [
            (0, n),
            (0, 0),
            (5, 9),
            (CHUNK - 1, CHUNK + 1),
            (2 * CHUNK, n + 40),
            (n, n + 5),
            (n / 2, n),
        ] {
            let got: Vec<i64> = l.entries_in(a..b).map(|e| e.ts_ms).collect();
            let end = b.min(n);
            assert_eq!(got, all[a.min(end)..end], "{a}..{b}");
        }
    }

    #[test]
    fn places_order_files_as_their_paths_do() {
        for paths in [
            &["/p/a.jsonl", "/p/b.jsonl", "/p/c.jsonl"][..],
            &[
                "/p/s/subagents/x.jsonl",
                "/p/s.jsonl",
                "/p/r.jsonl",
                "/q.jsonl",
            ][..],
        ] {
            let f = files(paths);
            let place = f.places();
            for a in 0..f.len() as FileId {
                for b in 0..f.len() as FileId {
                    assert_eq!(
                        place[a as usize].cmp(&place[b as usize]),
                        f.order(a, b),
                        "{a} {b} of {paths:?}"
                    );
                }
            }
        }
    }

    fn copy(file: FileId, line: u32, output: u64, flags: u8) -> Entry {
        let mut e = Entry::with_usage(
            1_000,
            TokenCounts::new(10, output, 0, 0),
            0,
            None,
            Some(0),
            file,
            line,
        );
        e.id_hash = 7;
        e.flags = flags;
        e
    }

    /// Offers copies in every order and across two "threads", and checks one outcome.
    fn survivor(
        f: &Files,
        copies: &[(Option<u64>, Entry)],
    ) -> Vec<(FileId, u32, u64, FileId, u32)> {
        let summary = |l: &Ledger| {
            let mut v: Vec<_> = l
                .entries()
                .map(|e| {
                    (
                        e.file,
                        e.line,
                        e.tokens().output,
                        e.first_file,
                        e.first_line,
                    )
                })
                .collect();
            v.sort();
            v
        };
        let mut expected = None;
        let n = copies.len();
        // Every rotation, forwards and backwards, and every split point between two ledgers.
        for rot in 0..n {
            for rev in [false, true] {
                let mut order: Vec<_> = copies.iter().cycle().skip(rot).take(n).cloned().collect();
                if rev {
                    order.reverse();
                }
                for split in 0..=n {
                    let (mut a, mut b) = (Ledger::default(), Ledger::default());
                    for (i, (k, e)) in order.iter().enumerate() {
                        if i < split {
                            a.offer(*k, e.clone(), f);
                        } else {
                            b.offer(*k, e.clone(), f);
                        }
                    }
                    a.merge(b, f, None);
                    let got = summary(&a);
                    match &expected {
                        None => expected = Some(got),
                        Some(want) => {
                            assert_eq!(&got, want, "rotation {rot} reversed {rev} split {split}")
                        }
                    }
                }
            }
        }
        expected.unwrap_or_default()
    }

    #[test]
    fn streamed_copies_keep_the_largest_and_the_first_position() {
        let f = files(&["/a.jsonl", "/b.jsonl"]);
        let k = Some(dedup_key("m", Some("r")));
        let got = survivor(
            &f,
            &[
                (k, copy(0, 1, 3, 0)),
                (k, copy(0, 2, 3, 0)),
                (k, copy(0, 3, 420, 0)),
                (k, copy(1, 1, 8, 0)),
            ],
        );
        assert_eq!(got, [(0, 3, 420, 0, 1)]);
    }

    #[test]
    fn main_chain_beats_a_larger_sidechain_copy() {
        let f = files(&["/a.jsonl", "/b.jsonl"]);
        let k = Some(dedup_key("m", Some("r")));
        let got = survivor(
            &f,
            &[
                (k, copy(1, 5, 900, FLAG_SIDECHAIN)),
                (k, copy(1, 6, 100, 0)),
            ],
        );
        assert_eq!(got, [(1, 6, 100, 1, 5)]);
    }

    #[test]
    fn full_tie_goes_to_the_earlier_path_then_line() {
        let f = files(&["/p/a.jsonl", "/p/b.jsonl"]);
        let k = Some(dedup_key("m", Some("r")));
        let got = survivor(
            &f,
            &[
                (k, copy(1, 1, 50, 0)),
                (k, copy(0, 9, 50, 0)),
                (k, copy(0, 4, 50, 0)),
            ],
        );
        assert_eq!(got, [(0, 4, 50, 0, 4)]);
        // A copy that states its speed wins a token tie.
        let got = survivor(
            &f,
            &[(k, copy(0, 4, 50, 0)), (k, copy(1, 1, 50, FLAG_HAS_SPEED))],
        );
        assert_eq!(got, [(1, 1, 50, 0, 4)]);
    }

    #[test]
    fn files_added_out_of_path_order_still_break_ties_by_path() {
        let f = files(&["/p/b.jsonl", "/p/a.jsonl"]);
        let k = Some(dedup_key("m", Some("r")));
        let got = survivor(&f, &[(k, copy(0, 1, 50, 0)), (k, copy(1, 1, 50, 0))]);
        assert_eq!(got, [(1, 1, 50, 1, 1)]);
    }

    #[test]
    fn missing_ids() {
        let f = files(&["/a.jsonl"]);
        // Same id without requestId: one response. No id at all: every line counts.
        let id_only = Some(dedup_key("m", None));
        let got = survivor(
            &f,
            &[
                (id_only, copy(0, 1, 5, 0)),
                (id_only, copy(0, 2, 6, 0)),
                (None, copy(0, 3, 1, 0)),
                (None, copy(0, 4, 1, 0)),
            ],
        );
        assert_eq!(got, [(0, 2, 6, 0, 1), (0, 3, 1, 0, 3), (0, 4, 1, 0, 4)]);
        // id + requestId and id alone are different responses.
        let both = Some(dedup_key("m", Some("r")));
        let mut l = Ledger::default();
        l.offer(both, copy(0, 1, 5, 0), &f);
        l.offer(id_only, copy(0, 2, 5, 0), &f);
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn a_sidechain_replay_under_another_request_id_is_the_same_response() {
        let f = files(&["/a.jsonl", "/s/agent.jsonl"]);
        let main = Some(dedup_key("m", Some("r1")));
        let replay = Some(dedup_key("m", Some("r2")));
        let got = survivor(
            &f,
            &[
                (main, copy(0, 1, 5, 0)),
                (replay, copy(1, 1, 9, FLAG_SIDECHAIN)),
            ],
        );
        assert_eq!(got, [(0, 1, 5, 0, 1)]);
        // Two main-chain copies with different request ids are two responses.
        let mut l = Ledger::default();
        l.offer(main, copy(0, 1, 5, 0), &f);
        l.offer(replay, copy(0, 2, 5, 0), &f);
        assert_eq!((l.len(), l.duplicates_dropped()), (2, 0));
    }

    /// Every order of `items`.
    fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
        if items.len() <= 1 {
            return vec![items.to_vec()];
        }
        let mut all = Vec::new();
        for i in 0..items.len() {
            let mut rest = items.to_vec();
            let first = rest.remove(i);
            for mut p in permutations(&rest) {
                p.insert(0, first.clone());
                all.push(p);
            }
        }
        all
    }

    /// Offers copies in every order, split at every point between two ledgers merged
    /// after (as two files' ledgers join the scan's), and checks they always give the
    /// same responses: survivors with their tokens, and (when `places`) the first-copy
    /// places too.
    fn same_in_every_order(
        f: &Files,
        copies: &[(Option<u64>, Entry)],
        places: bool,
    ) -> Vec<(FileId, u32, u64, FileId, u32)> {
        let mut expected = None;
        for order in permutations(copies) {
            for split in 0..=order.len() {
                let (mut a, mut b) = (Ledger::default(), Ledger::default());
                for (i, (k, e)) in order.iter().enumerate() {
                    let l = if i < split { &mut a } else { &mut b };
                    l.offer(*k, e.clone(), f);
                }
                a.merge(b, f, None);
                let mut got: Vec<_> = a
                    .entries()
                    .map(|e| {
                        let (ff, fl) = if places {
                            (e.first_file, e.first_line)
                        } else {
                            (0, 0)
                        };
                        (e.file, e.line, e.tokens().output, ff, fl)
                    })
                    .collect();
                got.sort();
                match &expected {
                    None => expected = Some(got),
                    Some(want) => assert_eq!(&got, want, "{order:?} split at {split}"),
                }
            }
        }
        expected.unwrap_or_default()
    }

    /// A response with main-chain copies in two files (a resumed session) and a
    /// subagent's replay under another request id is one response, whichever comes
    /// first: once the replay came first, the second main-chain copy used to be counted
    /// again.
    #[test]
    fn a_replay_under_another_request_id_joins_main_copies_in_any_order() {
        let f = files(&["/a.jsonl", "/b.jsonl", "/s/agent.jsonl"]);
        let main = Some(dedup_key("m", Some("r1")));
        let replay = Some(dedup_key("m", Some("r2")));
        let got = same_in_every_order(
            &f,
            &[
                (main, copy(0, 4, 5, 0)),
                (main, copy(1, 2, 5, 0)),
                (replay, copy(2, 1, 9, FLAG_SIDECHAIN)),
                (replay, copy(2, 2, 9, FLAG_SIDECHAIN)),
            ],
            true,
        );
        assert_eq!(got, [(0, 4, 5, 0, 4)]);
        // Sidechain copies alone, under two request ids: one response.
        let got = same_in_every_order(
            &f,
            &[
                (main, copy(2, 1, 5, FLAG_SIDECHAIN)),
                (replay, copy(2, 2, 9, FLAG_SIDECHAIN)),
                (main, copy(1, 3, 5, FLAG_SIDECHAIN)),
            ],
            true,
        );
        assert_eq!(got, [(2, 2, 9, 1, 3)]);
    }

    /// A retry (main-chain copies under a second request id) is a response of its own,
    /// and a sidechain copy under either key, or a third, does not make the two one, in
    /// any order. Which of them a sidechain copy adds its place to may follow the order
    /// (the module docs), so places are not compared here.
    #[test]
    fn a_retry_stays_two_responses_beside_sidechain_copies_in_any_order() {
        let f = files(&["/a.jsonl", "/b.jsonl", "/s/agent.jsonl"]);
        let [r1, r2, r3] = ["r1", "r2", "r3"].map(|r| Some(dedup_key("m", Some(r))));
        for side in [r1, r2, r3] {
            let got = same_in_every_order(
                &f,
                &[
                    (r1, copy(0, 1, 5, 0)),
                    (r2, copy(0, 2, 7, 0)),
                    (r1, copy(1, 1, 5, 0)),
                    (side, copy(2, 1, 9, FLAG_SIDECHAIN)),
                ],
                false,
            );
            assert_eq!(got, [(0, 1, 5, 0, 0), (0, 2, 7, 0, 0)]);
        }
    }

    #[test]
    fn file_order_is_the_first_copys_position() {
        let f = files(&["/a.jsonl", "/b.jsonl"]);
        let mut l = Ledger::default();
        l.offer(Some(dedup_key("x", Some("1"))), copy(1, 1, 5, 0), &f);
        l.offer(Some(dedup_key("y", Some("1"))), copy(1, 2, 5, 0), &f);
        l.offer(Some(dedup_key("y", Some("1"))), copy(0, 7, 9, 0), &f);
        let order: Vec<_> = in_file_order(&l, &f)
            .iter()
            .map(|e| (e.first_file, e.first_line))
            .collect();
        assert_eq!(order, [(0, 7), (1, 1)]);
        assert_eq!(l.duplicates_dropped(), 1);
    }

    #[test]
    fn many_responses_across_chunks_and_a_released_index() {
        let f = files(&["/a.jsonl", "/b.jsonl"]);
        let mut l = Ledger::default();
        let n = 3 * CHUNK as u32 + 17;
        for i in 0..n {
            let k = Some(dedup_key(&format!("m{i}"), Some("r")));
            // Two copies of each response, the later one larger.
            let mut small = copy(0, i + 1, 1, 0);
            small.id_hash = u64::from(i) + 1;
            let mut big = copy(1, i + 1, 100 + u64::from(i), 0);
            big.id_hash = u64::from(i) + 1;
            l.offer(k, small, &f);
            l.offer(k, big, &f);
        }
        assert_eq!(l.len(), n as usize);
        assert_eq!(l.duplicates_dropped(), u64::from(n));
        let total: u64 = l.entries().map(|e| e.tokens().output).sum();
        assert_eq!(total, (0..u64::from(n)).map(|i| 100 + i).sum::<u64>());
        l.release_index();
        assert_eq!(
            (l.len(), l.duplicates_dropped()),
            (n as usize, u64::from(n))
        );
        let order: Vec<u32> = in_file_order(&l, &f).iter().map(|e| e.first_line).collect();
        assert_eq!(order, (1..=n).collect::<Vec<_>>());
        assert!(l.entries().all(|e| e.file == 1), "the larger copy survives");
    }
}
