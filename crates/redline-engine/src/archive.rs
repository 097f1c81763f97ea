//! History that outlives the transcripts. Claude Code deletes transcripts it considers old
//! (30 days by default), and with them the days, blocks and sessions a report or the `max`
//! budget is built from. The daemon therefore keeps [`Rollup`]s: per UTC hour, session and
//! model, the responses' tokens and dollars as they stood when last written.
//!
//! Rollups only grow (a response's copy may grow, never shrink), so the figure the store
//! holds for a key is never more than the whole truth, and what the transcripts still hold
//! for it is never more either. [`restore`] adds, for each key, what the stored figure has
//! beyond the transcripts as one aggregate entry: nothing at all while every transcript is
//! there, exactly the deleted part once some are gone. Reports stay ccusage's figures on
//! data ccusage can still read, and keep the rest.
//!
//! An aggregate entry sits at the first response's time of its hour, so days and blocks
//! come out right wherever the time zone's offset is a whole number of hours.
//!
//! Kept history belongs to where it was read: each rollup names its root (the projects
//! directory's canonical path) and host, and a reader (a report, the daemon) takes only
//! the rollups of the roots it reads on this machine ([`Scope`], [`Kept`]). Rollups
//! written before roots were recorded belong to the root that a newer rollup of the same
//! session names, and to none while no newer rollup names their session.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::hashed::{KeyMap, KeySet};
use crate::ledger::{
    Entry, FLAG_AGGREGATE, FileId, FileMeta, Files, Ledger, ModelId, Models, Offered,
};
use crate::store::{Rollup, RollupRef, counts, tokens};

const HOUR_MS: i64 = 3600 * 1000;

/// A rollup's key: hour, project, session, model.
type Key<'a> = (i64, &'a str, &'a str, Option<ModelId>);

/// A rollup key's hash: what the daemon remembers of a key without its strings. The
/// xxh3 of the hour's bytes, each string followed by 0x1f, and whether there is a model,
/// in one call (a streaming hasher's set-up costs more than these few bytes).
pub fn key_hash(hour_ms: i64, project: &str, session: &str, model: Option<&str>) -> u64 {
    let parts = [project, session, model.unwrap_or("")];
    let len = 8 + parts.iter().map(|p| p.len() + 1).sum::<usize>() + 1;
    let mut stack = [0u8; 256];
    let mut heap = Vec::new();
    let buf: &mut [u8] = if len <= stack.len() {
        &mut stack[..len]
    } else {
        heap.resize(len, 0);
        &mut heap
    };
    buf[..8].copy_from_slice(&hour_ms.to_le_bytes());
    let mut at = 8;
    for part in parts {
        buf[at..at + part.len()].copy_from_slice(part.as_bytes());
        at += part.len();
        buf[at] = 0x1f;
        at += 1;
    }
    buf[at] = u8::from(model.is_some());
    xxhash_rust::xxh3::xxh3_64(buf)
}

/// [`key_hash`] of a rollup (a [`Rollup`] or a [`RollupRef`]).
pub fn rollup_key<'a>(r: impl Into<RollupRef<'a>>) -> u64 {
    let r = r.into();
    key_hash(r.hour_ms, r.project, r.session, r.model)
}

/// A rollup's key with its root and host: what the store's compaction keeps one of. A
/// rollup without a root has its plain key, as it had before roots were recorded.
pub fn rollup_identity<'a>(r: impl Into<RollupRef<'a>>) -> u64 {
    let r = r.into();
    let key = rollup_key(r);
    let (Some(root), host) = (r.root, r.host) else {
        return key;
    };
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&key.to_le_bytes());
    for part in [root, host.unwrap_or("")] {
        h.update(part.as_bytes());
        h.update(&[0x1f]);
    }
    h.digest()
}

/// A session's hash: project and id.
fn session_hash(project: &str, session: &str) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for part in [project, session] {
        h.update(part.as_bytes());
        h.update(&[0x1f]);
    }
    h.digest()
}

/// The canonical name of a projects directory, as rollups record their root: its path
/// with links resolved, or, for a directory that is not there (yet), its absolute path.
pub fn root_name(projects: &Path) -> String {
    std::fs::canonicalize(projects)
        .or_else(|_| std::path::absolute(projects))
        .unwrap_or_else(|_| projects.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

/// Whose kept history a reader takes: the roots it reads, on this machine.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    /// This machine's host name.
    pub host: String,
    /// Each root read: its projects directory as configured (transcript paths start with
    /// it) and its [`root_name`].
    pub roots: Vec<(PathBuf, String)>,
}

impl Scope {
    /// The scope of `host` reading the projects directories `projects`.
    pub fn new<'a>(host: &str, projects: impl IntoIterator<Item = &'a Path>) -> Scope {
        Scope {
            host: host.to_owned(),
            roots: projects
                .into_iter()
                .map(|p| (p.to_path_buf(), root_name(p)))
                .collect(),
        }
    }

    /// The [`root_name`] of the root a transcript at `path` lies under.
    pub fn root_of(&self, path: &Path) -> Option<&str> {
        self.roots
            .iter()
            .find(|(p, _)| path.starts_with(p))
            .map(|(_, name)| name.as_str())
    }

    /// Whether a rollup that names its root is of this scope: its root is read here, on
    /// this host. `None` for a rollup written before roots were recorded.
    pub fn holds<'a>(&self, r: impl Into<RollupRef<'a>>) -> Option<bool> {
        let r = r.into();
        let root = r.root?;
        Some(r.host == Some(self.host.as_str()) && self.roots.iter().any(|(_, name)| name == root))
    }
}

/// What a store keeps for a [`Scope`], gathered a record at a time: each key's largest
/// figure among the scope's rollups. A rollup written before roots were recorded is the
/// scope's when a rollup of the scope names its session (its transcripts were read here
/// since; a session id is a UUID, so no other root holds it), and no one's otherwise (its
/// transcripts were gone before a newer redline read them: nothing says where they were).
#[derive(Debug, Default)]
pub struct Kept {
    scope: Scope,
    stored: KeyMap<u64>,
    /// Rootless rollups by key: their session's hash and their tokens.
    rootless: KeyMap<(u64, u64)>,
    /// Sessions that rollups of the scope name.
    claimed: KeySet,
}

impl Kept {
    /// Nothing gathered yet for `scope`.
    pub fn new(scope: Scope) -> Kept {
        Kept {
            scope,
            ..Kept::default()
        }
    }

    /// The scope.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The next rollup of the store.
    pub fn note<'a>(&mut self, r: impl Into<RollupRef<'a>>) {
        let r = r.into();
        match self.scope.holds(r) {
            Some(true) => {
                note_stored(&mut self.stored, r);
                self.claimed.insert(session_hash(r.project, r.session));
            }
            Some(false) => {}
            None => {
                let n = tokens(r.tokens).total();
                let held = self
                    .rootless
                    .entry(rollup_key(r))
                    .or_insert((session_hash(r.project, r.session), 0));
                held.1 = held.1.max(n);
            }
        }
    }

    /// Once every rollup was noted: each key's largest figure among the scope's rollups
    /// (see `note_stored`), the rootless ones its sessions claim included.
    pub fn stored(&mut self) -> &KeyMap<u64> {
        for (key, (session, n)) in std::mem::take(&mut self.rootless) {
            if self.claimed.contains(&session) {
                let held = self.stored.entry(key).or_default();
                *held = (*held).max(n);
            }
        }
        &self.stored
    }

    /// Whether a rollup is the scope's (once every rollup was noted).
    pub fn owns<'a>(&self, r: impl Into<RollupRef<'a>>) -> bool {
        let r = r.into();
        self.scope
            .holds(r)
            .unwrap_or_else(|| self.claimed.contains(&session_hash(r.project, r.session)))
    }
}

/// [`key_hash`] of a transcript entry.
pub fn entry_key(e: &Entry, files: &Files, models: &Models) -> u64 {
    let f = files.get(e.file);
    key_hash(
        hour_of(e.ts_ms),
        &f.project,
        &f.session,
        e.model().map(|m| models.name(m)),
    )
}

/// The hour holding `ts_ms`.
pub fn hour_of(ts_ms: i64) -> i64 {
    ts_ms - ts_ms.rem_euclid(HOUR_MS)
}

#[derive(Default)]
struct Sum {
    responses: u64,
    first_ms: i64,
    tokens: [u64; 4],
    cache_write_1h: u64,
    cost_usd: f64,
}

impl Sum {
    fn add(&mut self, e: &Entry, cost: f64) {
        if self.responses == 0 || e.ts_ms < self.first_ms {
            self.first_ms = e.ts_ms;
        }
        self.responses += 1;
        let t = counts(e.tokens());
        for (a, b) in self.tokens.iter_mut().zip(t) {
            *a += b;
        }
        self.cache_write_1h += e.cache_write_1h();
        self.cost_usd += cost;
    }
}

/// The rollups of every transcript entry for which `wanted` says yes, each labelled with
/// the root of its first transcript and the host of `scope` (see [`Scope`]; no root when
/// `scope` has none). `transcript` says which files are transcripts (not another
/// source's aggregates); `cost` prices an entry.
pub fn rollups(
    ledger: &Ledger,
    files: &Files,
    models: &Models,
    scope: Option<&Scope>,
    transcript: &dyn Fn(FileId) -> bool,
    wanted: &dyn Fn(&Entry) -> bool,
    cost: &dyn Fn(&Entry, &Models) -> f64,
) -> Vec<Rollup> {
    let mut sums: HashMap<Key<'_>, (Sum, Option<&str>)> = HashMap::new();
    for e in ledger.entries() {
        if e.tokens().total() == 0 || !transcript(e.file) || !wanted(e) {
            continue;
        }
        let f = files.get(e.file);
        sums.entry((hour_of(e.ts_ms), &f.project, &f.session, e.model()))
            .or_insert_with(|| (Sum::default(), scope.and_then(|s| s.root_of(&f.path))))
            .0
            .add(e, cost(e, models));
    }
    let host = scope.map(|s| s.host.clone());
    let mut out: Vec<Rollup> = sums
        .into_iter()
        .map(|((hour_ms, project, session, model), (s, root))| Rollup {
            hour_ms,
            project: project.to_owned(),
            session: session.to_owned(),
            model: model.map(|m| models.name(m).to_owned()),
            responses: s.responses,
            first_ms: s.first_ms,
            tokens: s.tokens,
            cache_write_1h: s.cache_write_1h,
            cost_usd: s.cost_usd,
            root: root.map(str::to_owned),
            host: root.and(host.clone()),
        })
        .collect();
    out.sort_by(|a, b| {
        (a.hour_ms, &a.project, &a.session, &a.model)
            .cmp(&(b.hour_ms, &b.project, &b.session, &b.model))
    });
    out
}

/// Each rollup key's tokens (see [`key_hash`]) in the ledger's transcript entries. A
/// file's entries follow one another in the ledger, an hour and model at a time: each
/// such run is summed and its key hashed once, not each entry's strings.
pub fn present(
    ledger: &Ledger,
    files: &Files,
    models: &Models,
    transcript: &dyn Fn(FileId) -> bool,
) -> KeyMap<u64> {
    type Run = (FileId, i64, Option<ModelId>);
    let mut present = KeyMap::<u64>::default();
    let mut add = |(file, hour, model): Run, n: u64| {
        if transcript(file) {
            let f = files.get(file);
            let key = key_hash(hour, &f.project, &f.session, model.map(|m| models.name(m)));
            *present.entry(key).or_default() += n;
        }
    };
    let mut run: Option<(Run, u64)> = None;
    for e in ledger.entries() {
        let n = e.tokens().total();
        if n == 0 {
            continue;
        }
        let this = (e.file, hour_of(e.ts_ms), e.model());
        match &mut run {
            Some((r, sum)) if *r == this => *sum += n,
            _ => {
                if let Some((r, sum)) = run.replace((this, n)) {
                    add(r, sum);
                }
            }
        }
    }
    if let Some((r, sum)) = run {
        add(r, sum);
    }
    present
}

/// The keys `more` holds more tokens of than `less` (each a rollup key's tokens): with the
/// store's figures against the transcripts', hours of transcripts deleted since they were
/// rolled up; the other way round, hours the store has yet to be told.
pub fn deficit(more: &KeyMap<u64>, less: &KeyMap<u64>) -> KeySet {
    more.iter()
        .filter(|(k, n)| less.get(k).is_none_or(|l| l < n))
        .map(|(&k, _)| k)
        .collect()
}

/// Adds a stored rollup's tokens to `stored` (each key's largest figure).
fn note_stored(stored: &mut KeyMap<u64>, r: RollupRef<'_>) {
    let n = tokens(r.tokens).total();
    let held = stored.entry(rollup_key(r)).or_default();
    *held = (*held).max(n);
}

/// Folds one stored rollup into another for the same key: each figure the larger.
pub fn merge(into: &mut Rollup, other: &Rollup) {
    if other.responses > 0 && (into.responses == 0 || other.first_ms < into.first_ms) {
        into.first_ms = other.first_ms;
    }
    into.responses = into.responses.max(other.responses);
    for (a, b) in into.tokens.iter_mut().zip(other.tokens) {
        *a = (*a).max(b);
    }
    into.cache_write_1h = into.cache_write_1h.max(other.cache_write_1h);
    into.cost_usd = into.cost_usd.max(other.cost_usd);
}

/// Keeps one rollup per key, each the larger figures of its records.
pub fn latest(records: impl IntoIterator<Item = Rollup>) -> Vec<Rollup> {
    let mut by_key: HashMap<(i64, String, String, Option<String>), Rollup> = HashMap::new();
    for r in records {
        let key = (
            r.hour_ms,
            r.project.clone(),
            r.session.clone(),
            r.model.clone(),
        );
        match by_key.get_mut(&key) {
            Some(held) => merge(held, &r),
            None => {
                by_key.insert(key, r);
            }
        }
    }
    let mut out: Vec<Rollup> = by_key.into_values().collect();
    out.sort_by(|a, b| (a.hour_ms, &a.session).cmp(&(b.hour_ms, &b.session)));
    out
}

/// The figures of a rollup key: tokens by kind, the 1-hour cache writes, dollars.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Figures {
    /// Tokens: input, output, cache writes, cache reads.
    pub tokens: [u64; 4],
    /// The part of the cache writes with the 1-hour lifetime.
    pub cache_write_1h: u64,
    /// US dollars.
    pub cost_usd: f64,
}

impl Figures {
    /// A rollup's figures.
    pub fn of(r: &Rollup) -> Figures {
        Figures {
            tokens: r.tokens,
            cache_write_1h: r.cache_write_1h,
            cost_usd: r.cost_usd,
        }
    }

    /// An aggregate entry's figures (its own dollars).
    pub fn of_entry(e: &Entry) -> Figures {
        Figures {
            tokens: counts(e.tokens()),
            cache_write_1h: e.cache_write_1h(),
            cost_usd: e.cost_usd().unwrap_or(0.0),
        }
    }

    /// Adds (`sign` 1) or takes away (`sign` -1) a response priced at `cost`.
    pub fn add(&mut self, e: &Entry, cost: f64, sign: i8) {
        let t = counts(e.tokens());
        for (a, b) in self.tokens.iter_mut().zip(t) {
            *a = if sign < 0 {
                a.saturating_sub(b)
            } else {
                *a + b
            };
        }
        let h1 = e.cache_write_1h();
        self.cache_write_1h = if sign < 0 {
            self.cache_write_1h.saturating_sub(h1)
        } else {
            self.cache_write_1h + h1
        };
        self.cost_usd += f64::from(sign) * cost;
    }

    /// What these figures hold beyond `other`, kind by kind, never below zero: what
    /// [`restore`] adds for a kept figure beyond the transcripts'.
    pub fn beyond(&self, other: &Figures) -> Figures {
        Figures {
            tokens: std::array::from_fn(|k| self.tokens[k].saturating_sub(other.tokens[k])),
            cache_write_1h: self.cache_write_1h.saturating_sub(other.cache_write_1h),
            cost_usd: (self.cost_usd - other.cost_usd).max(0.0),
        }
    }
}

/// What [`restore`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Restored {
    /// Aggregate entries added for what the transcripts no longer hold.
    pub entries: usize,
    /// Of those, for sessions with no transcript left at all.
    pub sessions_gone: usize,
}

/// Adds to `ledger` what `stored` (one rollup per key, see [`latest`]) holds beyond the
/// transcripts, as aggregate entries. Returns the slots added with what was done.
pub fn restore(
    ledger: &mut Ledger,
    files: &mut Files,
    models: &mut Models,
    stored: &[Rollup],
    transcript: &dyn Fn(FileId) -> bool,
    cost: &dyn Fn(&Entry, &Models) -> f64,
) -> (Vec<u32>, Restored) {
    if stored.is_empty() {
        return (Vec::new(), Restored::default());
    }
    let wanted: HashSet<(i64, &str, &str)> = stored
        .iter()
        .map(|r| (r.hour_ms, r.project.as_str(), r.session.as_str()))
        .collect();
    let present = rollups(
        ledger,
        files,
        models,
        None,
        transcript,
        &|e| {
            let f = files.get(e.file);
            wanted.contains(&(hour_of(e.ts_ms), &*f.project, &*f.session))
        },
        cost,
    );
    let present: HashMap<(i64, &str, &str, Option<&str>), &Rollup> = present
        .iter()
        .map(|r| {
            (
                (
                    r.hour_ms,
                    r.project.as_str(),
                    r.session.as_str(),
                    r.model.as_deref(),
                ),
                r,
            )
        })
        .collect();
    // A session's file to hang an aggregate on: one of its own transcripts if any is left
    // (so the session report shows one session), else a stand-in.
    let mut session_file: HashMap<(String, String), FileId> = HashMap::new();
    for i in 0..files.len() {
        let id = FileId::try_from(i).unwrap_or(FileId::MAX);
        if transcript(id) {
            let f = files.get(id);
            session_file
                .entry((f.project.to_string(), f.session.to_string()))
                .or_insert(id);
        }
    }
    let mut slots = Vec::new();
    let mut done = Restored::default();
    for r in stored {
        let here = present
            .get(&(
                r.hour_ms,
                r.project.as_str(),
                r.session.as_str(),
                r.model.as_deref(),
            ))
            .copied();
        let mut missing = r.tokens;
        let mut usd = r.cost_usd;
        let mut h1 = r.cache_write_1h;
        if let Some(p) = here {
            for (m, have) in missing.iter_mut().zip(p.tokens) {
                *m = m.saturating_sub(have);
            }
            usd -= p.cost_usd;
            h1 = h1.saturating_sub(p.cache_write_1h);
        }
        if missing.iter().all(|&n| n == 0) {
            continue;
        }
        let key = (r.project.clone(), r.session.clone());
        let file = match session_file.get(&key) {
            Some(&id) => id,
            None => {
                done.sessions_gone += 1;
                let id = files.add(FileMeta {
                    path: format!("(archived)/{}/{}.jsonl", r.project, r.session).into(),
                    project: r.project.as_str().into(),
                    session: r.session.as_str().into(),
                });
                session_file.insert(key, id);
                id
            }
        };
        let model = r.model.as_deref().map(|m| models.intern(m));
        let mut e = Entry::with_usage(
            r.first_ms,
            tokens(missing),
            h1,
            Some(usd.max(0.0)),
            model,
            file,
            0,
        );
        e.flags |= FLAG_AGGREGATE;
        if let Offered::Added(slot) = ledger.offer(None, e, files) {
            slots.push(slot);
            done.entries += 1;
        }
    }
    (slots, done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollup(session: &str, root: Option<&str>, host: Option<&str>, input: u64) -> Rollup {
        Rollup {
            hour_ms: 3_600_000,
            project: "p".into(),
            session: session.into(),
            model: Some("m".into()),
            responses: 1,
            first_ms: 3_600_001,
            tokens: [input, 0, 0, 0],
            cache_write_1h: 0,
            cost_usd: 0.1,
            root: root.map(str::to_owned),
            host: host.map(str::to_owned),
        }
    }

    fn scope(roots: &[&str]) -> Scope {
        Scope {
            host: "desk".into(),
            roots: roots
                .iter()
                .map(|r| (PathBuf::from(r), (*r).into()))
                .collect(),
        }
    }

    fn kept(scope: Scope, rollups: &[Rollup]) -> Kept {
        let mut k = Kept::new(scope);
        for r in rollups {
            k.note(r);
        }
        k
    }

    #[test]
    fn a_keys_hash_is_the_streamed_hash_of_its_parts() {
        let streamed = |hour_ms: i64, parts: [&str; 3], model: bool| {
            let mut h = xxhash_rust::xxh3::Xxh3::new();
            h.update(&hour_ms.to_le_bytes());
            for part in parts {
                h.update(part.as_bytes());
                h.update(&[0x1f]);
            }
            h.update(&[u8::from(model)]);
            h.digest()
        };
        let long = "x".repeat(300);
        for (hour, project, session, model) in [
            (3_600_000, "-home-me-p", "9f1c-2b", Some("claude-opus-4-6")),
            (-3_600_000, "", "", None),
            (7_200_000, long.as_str(), "s", Some(long.as_str())),
        ] {
            assert_eq!(
                key_hash(hour, project, session, model),
                streamed(
                    hour,
                    [project, session, model.unwrap_or("")],
                    model.is_some()
                )
            );
        }
        assert_ne!(key_hash(0, "p", "s", None), key_hash(0, "p", "s", Some("")));
    }

    #[test]
    fn a_reader_keeps_only_the_rollups_of_its_roots_on_its_host() {
        let a = rollup("sa", Some("/a/projects"), Some("desk"), 10);
        let b = rollup("sb", Some("/b/projects"), Some("desk"), 20);
        let elsewhere = rollup("sc", Some("/a/projects"), Some("laptop"), 30);
        let all = [a.clone(), b.clone(), elsewhere.clone()];
        let mut on_b = kept(scope(&["/b/projects"]), &all);
        assert_eq!(
            on_b.stored().clone(),
            KeyMap::from_iter([(rollup_key(&b), 20)])
        );
        assert!(on_b.owns(&b) && !on_b.owns(&a) && !on_b.owns(&elsewhere));
        let mut on_both = kept(scope(&["/a/projects", "/b/projects"]), &all);
        assert_eq!(on_both.stored().len(), 2);
        assert!(
            !on_both.owns(&elsewhere),
            "another host's history is its own"
        );
    }

    #[test]
    fn rootless_rollups_belong_to_the_root_that_names_their_session() {
        // Written before roots were recorded: session sa was read again on /a since,
        // session gone never was.
        let old_a = rollup("sa", None, None, 50);
        let gone = rollup("gone", None, None, 7);
        let new_a = rollup("sa", Some("/a/projects"), Some("desk"), 40);
        let all = [old_a.clone(), gone.clone(), new_a.clone()];
        let mut on_a = kept(scope(&["/a/projects"]), &all);
        // One key: the larger figure, never the two added.
        assert_eq!(
            on_a.stored().clone(),
            KeyMap::from_iter([(rollup_key(&new_a), 50)])
        );
        assert!(on_a.owns(&old_a) && on_a.owns(&new_a) && !on_a.owns(&gone));
        let mut on_b = kept(scope(&["/b/projects"]), &all);
        assert!(on_b.stored().is_empty());
        assert!(!on_b.owns(&old_a) && !on_b.owns(&gone));
    }

    #[test]
    fn the_compaction_keeps_one_rollup_per_key_root_and_host() {
        let a = rollup("s", Some("/a/projects"), Some("desk"), 1);
        let b = rollup("s", Some("/b/projects"), Some("desk"), 1);
        let other_host = rollup("s", Some("/a/projects"), Some("laptop"), 1);
        let old = rollup("s", None, None, 1);
        let ids: HashSet<u64> = [&a, &b, &other_host, &old]
            .map(rollup_identity)
            .into_iter()
            .collect();
        assert_eq!(ids.len(), 4);
        // A rollup without a root keeps the key it always had.
        assert_eq!(rollup_identity(&old), rollup_key(&old));
        assert_eq!(rollup_key(&a), rollup_key(&old));
    }

    #[test]
    fn rollups_name_the_root_of_their_transcripts_and_the_host() {
        let mut files = Files::default();
        let mut models = Models::default();
        let m = models.intern("m");
        let mut ledger = Ledger::default();
        for (i, path) in ["/a/projects/p/s1.jsonl", "/b/projects/p/s2.jsonl"]
            .iter()
            .enumerate()
        {
            let id = files.add(FileMeta {
                path: PathBuf::from(path),
                project: "p".into(),
                session: format!("s{}", i + 1).into(),
            });
            let e = Entry::with_usage(
                3_600_500,
                redline_core::TokenCounts::new(10, 1, 0, 0),
                0,
                None,
                Some(m),
                id,
                1,
            );
            ledger.offer(Some(i as u64 + 1), e, &files);
        }
        let s = scope(&["/a/projects", "/b/projects"]);
        let out = rollups(
            &ledger,
            &files,
            &models,
            Some(&s),
            &|_| true,
            &|_| true,
            &|_, _| 0.0,
        );
        let labels: Vec<(&str, Option<&str>, Option<&str>)> = out
            .iter()
            .map(|r| (r.session.as_str(), r.root.as_deref(), r.host.as_deref()))
            .collect();
        assert_eq!(
            labels,
            [
                ("s1", Some("/a/projects"), Some("desk")),
                ("s2", Some("/b/projects"), Some("desk"))
            ]
        );
        // Without a scope, as before: no root, no host.
        let bare = rollups(
            &ledger,
            &files,
            &models,
            None,
            &|_| true,
            &|_| true,
            &|_, _| 0.0,
        );
        assert!(bare.iter().all(|r| r.root.is_none() && r.host.is_none()));
    }

    #[test]
    fn root_names_resolve_links_and_stand_for_missing_directories() {
        let dir = std::env::temp_dir().join(format!("redline-root-name-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("real/projects")).unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.join("real"), dir.join("link")).unwrap();
            assert_eq!(
                root_name(&dir.join("link/projects")),
                root_name(&dir.join("real/projects"))
            );
        }
        let missing = dir.join("missing/projects");
        assert_eq!(root_name(&missing), missing.to_string_lossy());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
