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

use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::PathBuf;

use redline_core::TokenCounts;

use crate::record::Record;

/// Index of a transcript file in a [`Files`] table.
pub type FileId = u32;
/// Index of a model id in a [`Models`] table.
pub type ModelId = u32;

/// One counted API response.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Milliseconds since the epoch.
    pub ts_ms: i64,
    /// The four token counts.
    pub tokens: TokenCounts,
    /// The part of `tokens.cache_creation` written with the 1-hour lifetime.
    pub cache_write_1h: u64,
    /// The line's own `costUSD`.
    pub cost_usd: Option<f64>,
    /// The model, or `None` when the line named none.
    pub model: Option<ModelId>,
    /// The file the surviving copy came from (its session and project).
    pub file: FileId,
    /// The 1-based line of the surviving copy.
    pub line: u32,
    /// Reset time of a usage-limit message, seconds since the epoch.
    pub limit_reset_s: Option<i64>,
    /// Boolean facts, see the `FLAG_*` constants.
    pub flags: u8,
}

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

impl Entry {
    /// Builds the entry for a parsed line.
    pub fn new(r: &Record<'_>, model: Option<ModelId>, file: FileId, line: u32) -> Entry {
        let flag = |on: bool, f: u8| if on { f } else { 0 };
        Entry {
            ts_ms: r.ts_ms,
            tokens: r.tokens,
            cache_write_1h: r.cache_write_1h,
            cost_usd: r.cost_usd,
            model,
            file,
            line,
            limit_reset_s: r.limit_reset_s,
            flags: flag(r.sidechain, FLAG_SIDECHAIN)
                | flag(r.fast, FLAG_FAST)
                | flag(r.geo_us, FLAG_GEO_US)
                | flag(r.api_error, FLAG_API_ERROR)
                | flag(r.has_speed, FLAG_HAS_SPEED)
                | flag(!r.canonical, FLAG_LENIENT),
        }
    }

    /// Whether the flag is set.
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// A transcript file's place: its path, project and session.
#[derive(Clone, Debug)]
pub struct FileMeta {
    /// Full path.
    pub path: PathBuf,
    /// Project name (first component under `projects/`).
    pub project: String,
    /// Session id (file stem, or the parent session for subagent files).
    pub session: String,
}

/// The files entries point into.
#[derive(Clone, Debug, Default)]
pub struct Files {
    files: Vec<FileMeta>,
}

impl Files {
    /// Adds a file and returns its id.
    pub fn add(&mut self, meta: FileMeta) -> FileId {
        self.files.push(meta);
        FileId::try_from(self.files.len() - 1).unwrap_or(FileId::MAX)
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

/// Keys are already 128-bit hashes: hashing them again would only cost time.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 ^= u64::from_le_bytes(b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64 ^ (v >> 64) as u64;
    }
}

/// Distinct responses: keyed ones deduplicated, unkeyed ones (no `message.id`) as they come.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    keyed: HashMap<u128, Entry, BuildHasherDefault<KeyHasher>>,
    unkeyed: Vec<Entry>,
    copies: u64,
}

impl Ledger {
    /// Offers one copy of a response. It is kept if it is the first copy of its key or beats
    /// the copy held (see the module docs).
    pub fn offer(&mut self, key: Option<u128>, entry: Entry, files: &Files) {
        let Some(key) = key else {
            self.unkeyed.push(entry);
            return;
        };
        self.copies += 1;
        match self.keyed.entry(key) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(entry);
            }
            std::collections::hash_map::Entry::Occupied(mut o) => {
                if survivor_order(&entry, o.get(), files) == Ordering::Greater {
                    o.insert(entry);
                }
            }
        }
    }

    /// Folds another ledger (for example another thread's) into this one.
    pub fn merge(&mut self, other: Ledger, files: &Files) {
        self.unkeyed.extend(other.unkeyed);
        self.copies += other.copies - other.keyed.len() as u64;
        for (key, entry) in other.keyed {
            self.offer(Some(key), entry, files);
        }
    }

    /// Every counted response, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.keyed.values().chain(self.unkeyed.iter())
    }

    /// Every counted response, sorted by time, then file path, then line: the order reports
    /// and blocks are built in.
    pub fn sorted(&self, files: &Files) -> Vec<&Entry> {
        let mut v: Vec<&Entry> = self.entries().collect();
        v.sort_by(|a, b| {
            a.ts_ms
                .cmp(&b.ts_ms)
                .then_with(|| files.get(a.file).path.cmp(&files.get(b.file).path))
                .then(a.line.cmp(&b.line))
        });
        v
    }

    /// Number of counted responses.
    pub fn len(&self) -> usize {
        self.keyed.len() + self.unkeyed.len()
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies of keyed responses that were dropped as duplicates.
    pub fn duplicates_dropped(&self) -> u64 {
        self.copies - self.keyed.len() as u64
    }
}

/// `Greater` when `a` should survive over `b`.
fn survivor_order(a: &Entry, b: &Entry, files: &Files) -> Ordering {
    let main_chain = |e: &Entry| !e.has(FLAG_SIDECHAIN);
    let cost = |e: &Entry| e.cost_usd.unwrap_or(f64::NEG_INFINITY);
    main_chain(a)
        .cmp(&main_chain(b))
        .then(a.tokens.total().cmp(&b.tokens.total()))
        .then(cost(a).total_cmp(&cost(b)))
        .then(a.has(FLAG_HAS_SPEED).cmp(&b.has(FLAG_HAS_SPEED)))
        // Earlier file, then earlier line, wins: reversed.
        .then_with(|| files.get(b.file).path.cmp(&files.get(a.file).path))
        .then(b.line.cmp(&a.line))
}

impl Ledger {
    /// Rewrites model ids through `map` (old id to new id), when a ledger built with its
    /// own model table joins another.
    pub fn remap_models(&mut self, map: &[ModelId]) {
        for e in self.keyed.values_mut().chain(self.unkeyed.iter_mut()) {
            e.model = e.model.map(|m| map[m as usize]);
        }
    }
}
