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

use std::collections::{HashMap, HashSet};

use crate::ledger::{
    Entry, FLAG_AGGREGATE, FileId, FileMeta, Files, Ledger, ModelId, Models, Offered,
};
use crate::store::{Rollup, counts, tokens};

const HOUR_MS: i64 = 3600 * 1000;

/// A rollup's key: hour, project, session, model.
type Key<'a> = (i64, &'a str, &'a str, Option<ModelId>);

/// A rollup key's hash: what the daemon remembers of a key without its strings.
pub fn key_hash(hour_ms: i64, project: &str, session: &str, model: Option<&str>) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&hour_ms.to_le_bytes());
    for part in [project, session, model.unwrap_or("")] {
        h.update(part.as_bytes());
        h.update(&[0x1f]);
    }
    h.update(&[u8::from(model.is_some())]);
    h.digest()
}

/// [`key_hash`] of a rollup.
pub fn rollup_key(r: &Rollup) -> u64 {
    key_hash(r.hour_ms, &r.project, &r.session, r.model.as_deref())
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

/// The rollups of every transcript entry for which `wanted` says yes. `transcript` says
/// which files are transcripts (not another source's aggregates); `cost` prices an entry.
pub fn rollups(
    ledger: &Ledger,
    files: &Files,
    models: &Models,
    transcript: &dyn Fn(FileId) -> bool,
    wanted: &dyn Fn(&Entry) -> bool,
    cost: &dyn Fn(&Entry, &Models) -> f64,
) -> Vec<Rollup> {
    let mut sums: HashMap<Key<'_>, Sum> = HashMap::new();
    for e in ledger.entries() {
        if e.tokens().total() == 0 || !transcript(e.file) || !wanted(e) {
            continue;
        }
        let f = files.get(e.file);
        sums.entry((hour_of(e.ts_ms), &f.project, &f.session, e.model()))
            .or_default()
            .add(e, cost(e, models));
    }
    let mut out: Vec<Rollup> = sums
        .into_iter()
        .map(|((hour_ms, project, session, model), s)| Rollup {
            hour_ms,
            project: project.to_owned(),
            session: session.to_owned(),
            model: model.map(|m| models.name(m).to_owned()),
            responses: s.responses,
            first_ms: s.first_ms,
            tokens: s.tokens,
            cache_write_1h: s.cache_write_1h,
            cost_usd: s.cost_usd,
        })
        .collect();
    out.sort_by(|a, b| {
        (a.hour_ms, &a.project, &a.session, &a.model)
            .cmp(&(b.hour_ms, &b.project, &b.session, &b.model))
    });
    out
}

/// Each rollup key's tokens (see [`key_hash`]) in the ledger's transcript entries.
pub fn present(
    ledger: &Ledger,
    files: &Files,
    models: &Models,
    transcript: &dyn Fn(FileId) -> bool,
) -> HashMap<u64, u64> {
    let mut present: HashMap<u64, u64> = HashMap::new();
    for e in ledger.entries() {
        let n = e.tokens().total();
        if n > 0 && transcript(e.file) {
            *present.entry(entry_key(e, files, models)).or_default() += n;
        }
    }
    present
}

/// The keys `more` holds more tokens of than `less` (each a rollup key's tokens): with the
/// store's figures against the transcripts', hours of transcripts deleted since they were
/// rolled up; the other way round, hours the store has yet to be told.
pub fn deficit(more: &HashMap<u64, u64>, less: &HashMap<u64, u64>) -> HashSet<u64> {
    more.iter()
        .filter(|(k, n)| less.get(k).is_none_or(|l| l < n))
        .map(|(&k, _)| k)
        .collect()
}

/// Adds a stored rollup's tokens to `stored` (each key's largest figure).
pub fn note_stored(stored: &mut HashMap<u64, u64>, r: &Rollup) {
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
        transcript,
        &|e| {
            let f = files.get(e.file);
            wanted.contains(&(hour_of(e.ts_ms), f.project.as_str(), f.session.as_str()))
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
                .entry((f.project.clone(), f.session.clone()))
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
                    project: r.project.clone(),
                    session: r.session.clone(),
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
