//! What the daemon keeps on disk, record by record, in its [`crate::journal`]: what
//! OpenTelemetry senders delivered (nothing else has it), rollups of the transcripts
//! (so history outlives Claude Code's own clean-up of old transcripts), and the
//! statusLine's plan readings (`redline calibrate` measures the plan's size from them).
//!
//! Records are small JSON objects with short keys; the journal frames and checksums them.
//! Replaying every record in order rebuilds the same state, so a rollup is a whole figure
//! (the larger of two figures for one key wins) and a usage record is a delta (they add).

use std::io;
use std::path::Path;

use redline_core::TokenCounts;
use serde::{Deserialize, Serialize};

use crate::journal::Journal;

/// The journal's kind, in its header.
pub const KIND: &str = "store";
/// The journal's file name in the state directory.
pub const FILE: &str = "store.jsonl";

/// One record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t")]
pub enum Record {
    /// Tokens and dollars an OpenTelemetry sender reported, as a delta.
    #[serde(rename = "u")]
    Usage(Usage),
    /// Where a cumulative series stood, so a restart goes on from there.
    #[serde(rename = "s")]
    Series(Series),
    /// One hour of one session's transcripts, one model: the whole figure so far.
    #[serde(rename = "r")]
    Rollup(Rollup),
    /// A statusLine `rate_limits.five_hour` reading that said something new.
    #[serde(rename = "l")]
    Limit(Limit),
}

/// Tokens in the four kinds, as stored: input, output, cache writes, cache reads.
pub type Counts = [u64; 4];

/// The stored form of token counts.
pub fn counts(t: TokenCounts) -> Counts {
    [t.input, t.output, t.cache_creation, t.cache_read]
}

/// Token counts from their stored form.
pub fn tokens(c: Counts) -> TokenCounts {
    TokenCounts::new(c[0], c[1], c[2], c[3])
}

/// A delta of an OpenTelemetry sender's counters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// The sender's `host.name`.
    #[serde(rename = "h")]
    pub host: String,
    /// Claude Code's `session.id`, if sent.
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The model.
    #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// When it happened (the point's time), milliseconds since the epoch.
    #[serde(rename = "ts")]
    pub ts_ms: i64,
    /// When it was received, milliseconds since the epoch.
    #[serde(rename = "at")]
    pub received_ms: i64,
    /// Tokens.
    #[serde(rename = "k", default)]
    pub tokens: Counts,
    /// US dollars.
    #[serde(rename = "usd", default)]
    pub cost_usd: f64,
}

/// The last point of a cumulative series.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// The series (see [`crate::otlp::Point::series`]).
    #[serde(rename = "id")]
    pub series: u64,
    /// Its start time, nanoseconds.
    #[serde(rename = "st")]
    pub start_ns: u64,
    /// Its last point's time, nanoseconds.
    #[serde(rename = "ti")]
    pub time_ns: u64,
    /// Its last value.
    #[serde(rename = "v")]
    pub value: f64,
}

/// One hour of transcripts for one session and model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rollup {
    /// The hour's start, milliseconds since the epoch (UTC hours).
    #[serde(rename = "hr")]
    pub hour_ms: i64,
    /// The project directory's name.
    #[serde(rename = "p")]
    pub project: String,
    /// The session id.
    #[serde(rename = "s")]
    pub session: String,
    /// The model, if the responses named one.
    #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Responses.
    #[serde(rename = "n")]
    pub responses: u64,
    /// The first response's time in the hour.
    #[serde(rename = "f")]
    pub first_ms: i64,
    /// Tokens.
    #[serde(rename = "k")]
    pub tokens: Counts,
    /// The part of the cache writes with the 1-hour lifetime.
    #[serde(rename = "h1", default)]
    pub cache_write_1h: u64,
    /// US dollars, as priced when written.
    #[serde(rename = "usd")]
    pub cost_usd: f64,
    /// The projects directory the transcripts were read from, as its canonical path (see
    /// [`crate::archive::Scope`]). `None` in rollups written before roots were recorded:
    /// see [`crate::archive::Kept`] for whose those are.
    #[serde(rename = "rt", default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    /// The machine that read them (its host name); `None` in rollups written before.
    #[serde(rename = "hn", default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// A rollup as a store line holds it, its strings borrowed from the line: what a replay
/// needs of the bulk of a store without making a [`Rollup`] of each (see [`open`]).
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
pub struct RollupRef<'a> {
    /// The record's tag: `r`.
    #[serde(rename = "t")]
    tag: &'a str,
    /// See [`Rollup::hour_ms`].
    #[serde(rename = "hr")]
    pub hour_ms: i64,
    /// See [`Rollup::project`].
    #[serde(rename = "p")]
    pub project: &'a str,
    /// See [`Rollup::session`].
    #[serde(rename = "s")]
    pub session: &'a str,
    /// See [`Rollup::model`].
    #[serde(rename = "m", default, borrow)]
    pub model: Option<&'a str>,
    /// See [`Rollup::responses`].
    #[serde(rename = "n")]
    pub responses: u64,
    /// See [`Rollup::first_ms`].
    #[serde(rename = "f")]
    pub first_ms: i64,
    /// See [`Rollup::tokens`].
    #[serde(rename = "k")]
    pub tokens: Counts,
    /// See [`Rollup::cache_write_1h`].
    #[serde(rename = "h1", default)]
    pub cache_write_1h: u64,
    /// See [`Rollup::cost_usd`].
    #[serde(rename = "usd")]
    pub cost_usd: f64,
    /// See [`Rollup::root`].
    #[serde(rename = "rt", default, borrow)]
    pub root: Option<&'a str>,
    /// See [`Rollup::host`].
    #[serde(rename = "hn", default, borrow)]
    pub host: Option<&'a str>,
}

impl<'a> From<&'a Rollup> for RollupRef<'a> {
    fn from(r: &'a Rollup) -> RollupRef<'a> {
        RollupRef {
            tag: "r",
            hour_ms: r.hour_ms,
            project: &r.project,
            session: &r.session,
            model: r.model.as_deref(),
            responses: r.responses,
            first_ms: r.first_ms,
            tokens: r.tokens,
            cache_write_1h: r.cache_write_1h,
            cost_usd: r.cost_usd,
            root: r.root.as_deref(),
            host: r.host.as_deref(),
        }
    }
}

impl<'a> From<&RollupRef<'a>> for RollupRef<'a> {
    fn from(r: &RollupRef<'a>) -> RollupRef<'a> {
        *r
    }
}

impl RollupRef<'_> {
    /// The rollup, made.
    pub fn to_rollup(&self) -> Rollup {
        Rollup {
            hour_ms: self.hour_ms,
            project: self.project.to_owned(),
            session: self.session.to_owned(),
            model: self.model.map(str::to_owned),
            responses: self.responses,
            first_ms: self.first_ms,
            tokens: self.tokens,
            cache_write_1h: self.cache_write_1h,
            cost_usd: self.cost_usd,
            root: self.root.map(str::to_owned),
            host: self.host.map(str::to_owned),
        }
    }
}

/// A record as [`open`] and [`read`] hand it over: a rollup as its line holds it, any
/// other record whole.
#[derive(Debug)]
pub enum Read<'a> {
    /// A rollup.
    Rollup(RollupRef<'a>),
    /// Anything else.
    Other(Record),
}

/// What every rollup's JSON starts with: the tag comes first as the store writes it.
const ROLLUP_START: &[u8] = br#"{"t":"r","#;

/// Decodes a record's JSON for `each`: a rollup as a [`RollupRef`] when it can be
/// (written by the store, with strings that need no unescaping: nearly always), else as a
/// [`Record`]. Refuses exactly what [`Record`] refuses: the borrowed form takes the same
/// fields with the same types and defaults, and whatever it does not take is decoded whole.
fn decode(json: &[u8], each: &mut dyn FnMut(Read<'_>)) -> Result<(), serde_json::Error> {
    if json.starts_with(ROLLUP_START)
        && let Ok(r) = serde_json::from_slice::<RollupRef<'_>>(json)
        && r.tag == "r"
    {
        each(Read::Rollup(r));
        return Ok(());
    }
    match serde_json::from_slice::<Record>(json)? {
        Record::Rollup(x) => each(Read::Rollup(RollupRef::from(&x))),
        other => each(Read::Other(other)),
    }
    Ok(())
}

/// Opens the store (see [`Journal::open_with`]), handing each record to `each` as [`Read`]:
/// the daemon's replay at start, which needs only the keys and tokens of most rollups.
pub fn open(
    path: &Path,
    mut each: impl FnMut(Read<'_>),
) -> io::Result<(Journal<Record>, Vec<String>)> {
    Journal::open_raw(path, KIND, |json| decode(json, &mut each))
}

/// Reads the store without locking or changing it (see [`Journal::read_with`]), handing
/// each record to `each` as [`Read`]; returns the problems met.
pub fn read(path: &Path, mut each: impl FnMut(Read<'_>)) -> io::Result<Vec<String>> {
    Journal::<Record>::read_raw(path, KIND, |json| decode(json, &mut each))
}

/// A statusLine `rate_limits.five_hour` reading: the plan's own figure for its 5-hour
/// window. The daemon keeps the first reading of each new share in each window (a
/// reading that repeats the share, or a lower one from a session that had not caught up,
/// says nothing new; see [`crate::live::Live::plan_reading`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Limit {
    /// When it arrived, milliseconds since the epoch.
    #[serde(rename = "at")]
    pub at_ms: i64,
    /// The share of the window used, 0..1.
    #[serde(rename = "u")]
    pub used: f64,
    /// When the window resets, seconds since the epoch.
    #[serde(rename = "r")]
    pub resets_at_s: i64,
    /// The session that sent it, if it said.
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

/// The rollups of the store at `path` whose keys (see [`crate::archive::rollup_key`]) are
/// among `keys` and that `owned` takes (see [`crate::archive::Kept::owns`]), one per key
/// (the larger figures), read a line at a time. A missing store has none.
pub fn rollups_in(
    path: &Path,
    keys: &crate::hashed::KeySet,
    owned: &dyn Fn(RollupRef<'_>) -> bool,
) -> io::Result<Vec<Rollup>> {
    let mut kept = Vec::new();
    read(path, |r| {
        if let Read::Rollup(x) = r
            && keys.contains(&crate::archive::rollup_key(x))
            && owned(x)
        {
            kept.push(x.to_rollup());
        }
    })?;
    Ok(crate::archive::latest(kept))
}

/// How long usage deltas are kept as they came before they are folded into minutes.
pub const RAW_FOR_MS: i64 = 24 * 3600 * 1000;

/// Rewrites the store: usage deltas older than [`RAW_FOR_MS`] folded into one record per
/// host, session, model and minute; every plan reading; the last rollup of each key from each root and host
/// (see [`crate::archive::rollup_identity`]: a later rollup of one holds at least what an
/// earlier one did); the last position of each cumulative series.
/// Replaying the result gives the same totals as replaying what it replaces. Two
/// streaming passes over the file, so a store of any size is compacted in the memory of
/// a hash per rollup key.
pub fn compact(journal: &mut Journal<Record>, now_ms: i64) -> io::Result<()> {
    let mut c = Compaction::default();
    Journal::<Record>::read_with(journal.path(), KIND, |r| c.note(&r))?;
    c.finish(journal, now_ms)
}

/// [`Compaction::finish_if_worthwhile`] rewrites a store when at least one record in this
/// many would go.
const WORTHWHILE_SHARE: usize = 4;

/// A [`compact`] whose first pass rides along another read of the store (the daemon's
/// replay at start): [`note`] every record read, in order, then [`finish`]. Nothing may be
/// appended in between.
///
/// [`note`]: Compaction::note
/// [`finish`]: Compaction::finish
#[derive(Debug, Default)]
pub struct Compaction {
    last: std::collections::HashMap<u64, u32>,
    seen: u32,
    small: Vec<Record>,
}

impl Compaction {
    /// Pass one: the next record.
    pub fn note(&mut self, r: &Record) {
        match r {
            Record::Rollup(x) => self.note_rollup(x),
            other => self.note_other(other.clone()),
        }
    }

    /// Pass one: the next record, a rollup.
    pub fn note_rollup<'a>(&mut self, r: impl Into<RollupRef<'a>>) {
        self.last
            .insert(crate::archive::rollup_identity(r), self.seen);
        self.seen += 1;
    }

    /// Pass one: the next record, not a rollup.
    pub fn note_other(&mut self, r: Record) {
        self.small.push(r);
        self.seen += 1;
    }

    /// The records noted that are not rollups, in order: what a replay applies besides
    /// the rollups.
    pub fn others(&self) -> &[Record] {
        &self.small
    }

    /// Pass two: rewrites the journal with the usage deltas (old ones folded into
    /// minutes), the last series positions, and each rollup that is its key's last.
    pub fn finish(mut self, journal: &mut Journal<Record>, now_ms: i64) -> io::Result<()> {
        let folded = fold(std::mem::take(&mut self.small), now_ms);
        self.rewrite(journal, folded)
    }

    /// Pass two, only when the rewrite would drop at least a quarter of the records
    /// (superseded rollups and series positions, old deltas folded into minutes): the
    /// daemon's start-up, which need not rewrite a store that is nearly all kept
    /// (the daily [`compact`] rewrites it regardless). `Ok(true)` when it was rewritten.
    pub fn finish_if_worthwhile(
        mut self,
        journal: &mut Journal<Record>,
        now_ms: i64,
    ) -> io::Result<bool> {
        let folded = fold(std::mem::take(&mut self.small), now_ms);
        let kept = folded.len() + self.last.len();
        let seen = self.seen as usize;
        let dropped = seen.saturating_sub(kept);
        if dropped == 0 || dropped * WORTHWHILE_SHARE < seen {
            return Ok(false);
        }
        self.rewrite(journal, folded)?;
        Ok(true)
    }

    /// Writes `folded` (the records that are not rollups, as [`fold`] left them) and
    /// every rollup that is its key's last.
    fn rewrite(self, journal: &mut Journal<Record>, folded: Vec<Record>) -> io::Result<()> {
        let Some(records) = Journal::<Record>::iter(journal.path(), KIND)? else {
            return Ok(());
        };
        let mut ordinal = 0u32;
        let rollups = records.filter_map(Result::ok).filter(|r| {
            let keep = matches!(r, Record::Rollup(x) if self.keeps_rollup(ordinal, x));
            ordinal += 1;
            keep
        });
        journal.rewrite(folded.into_iter().chain(rollups))
    }

    /// Pass two: whether the rollup that was record number `ordinal` (counting every
    /// record, as pass one did) is the last of its key from its root and host.
    fn keeps_rollup(&self, ordinal: u32, r: &Rollup) -> bool {
        self.last.get(&crate::archive::rollup_identity(r)) == Some(&ordinal)
    }
}

/// Folds usage deltas older than [`RAW_FOR_MS`] into minutes and keeps each series' last
/// position and every plan reading. Rollups are passed over.
fn fold(records: Vec<Record>, now_ms: i64) -> Vec<Record> {
    use std::collections::BTreeMap;
    type Key = (i64, String, Option<String>, Option<String>);
    let mut minutes: BTreeMap<Key, Usage> = BTreeMap::new();
    let mut raw = Vec::new();
    let mut series = crate::hosts::SeriesBook::default();
    let mut limits = Vec::new();
    for r in records {
        match r {
            Record::Usage(u) if u.received_ms < now_ms.saturating_sub(RAW_FOR_MS) => {
                let minute = u.ts_ms - u.ts_ms.rem_euclid(60_000);
                let key = (minute, u.host.clone(), u.session.clone(), u.model.clone());
                match minutes.get_mut(&key) {
                    Some(m) => {
                        for (a, b) in m.tokens.iter_mut().zip(u.tokens) {
                            *a += b;
                        }
                        m.cost_usd += u.cost_usd;
                        m.ts_ms = m.ts_ms.max(u.ts_ms);
                        m.received_ms = m.received_ms.max(u.received_ms);
                    }
                    None => {
                        minutes.insert(key, u);
                    }
                }
            }
            Record::Usage(u) => raw.push(Record::Usage(u)),
            Record::Series(s) => series.apply(&s),
            Record::Limit(l) => limits.push(Record::Limit(l)),
            Record::Rollup(_) => {}
        }
    }
    let mut positions: Vec<Series> = series.positions().copied().collect();
    positions.sort_by_key(|s| s.series);
    let mut out: Vec<Record> = positions.into_iter().map(Record::Series).collect();
    out.extend(minutes.into_values().map(Record::Usage));
    out.extend(raw);
    out.extend(limits);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(host: &str, ts_ms: i64, received_ms: i64, input: u64) -> Record {
        Record::Usage(Usage {
            host: host.into(),
            session: Some("s".into()),
            model: Some("m".into()),
            ts_ms,
            received_ms,
            tokens: [input, 1, 0, 0],
            cost_usd: 0.5,
        })
    }

    fn rollup(tokens: u64) -> Record {
        Record::Rollup(Rollup {
            hour_ms: 3_600_000,
            project: "p".into(),
            session: "s".into(),
            model: Some("m".into()),
            responses: 1,
            first_ms: 3_600_001,
            tokens: [tokens, 0, 0, 0],
            cache_write_1h: 0,
            cost_usd: 0.1,
            root: None,
            host: None,
        })
    }

    /// Appends `records` to a new journal, compacts it, and reads it back, twice.
    fn compacted(records: &[Record], now: i64) -> (Vec<Record>, Vec<Record>) {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("redline-store-compact-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join(FILE);
        let (mut journal, _) = Journal::<Record>::open(&path, KIND).unwrap();
        journal.append(records).unwrap();
        compact(&mut journal, now).unwrap();
        let once = Journal::<Record>::read(&path, KIND).unwrap().records;
        compact(&mut journal, now).unwrap();
        let twice = Journal::<Record>::read(&path, KIND).unwrap().records;
        let _ = std::fs::remove_dir_all(&dir);
        (once, twice)
    }

    /// A journal holding `records`, with pass one of a compaction over it.
    fn noted(name: &str, records: &[Record]) -> (std::path::PathBuf, Journal<Record>, Compaction) {
        let dir = std::env::temp_dir().join(format!(
            "redline-store-worthwhile-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join(FILE);
        let (mut journal, _) = Journal::<Record>::open(&path, KIND).unwrap();
        journal.append(records).unwrap();
        let mut c = Compaction::default();
        Journal::<Record>::read_with(&path, KIND, |r| c.note(&r)).unwrap();
        (dir, journal, c)
    }

    #[test]
    fn a_start_rewrites_the_store_only_when_a_quarter_of_it_would_go() {
        let now = 10 * RAW_FOR_MS;
        let key = |session: &str, tokens: u64| {
            let Record::Rollup(mut r) = rollup(tokens) else {
                unreachable!()
            };
            r.session = session.into();
            Record::Rollup(r)
        };
        // Eight keys, one written twice: one record in nine would go. Left as it is.
        let mut records: Vec<Record> = (0..8).map(|i| key(&format!("s{i}"), 10)).collect();
        records.push(key("s0", 12));
        let (dir, mut journal, c) = noted("little", &records);
        let before = std::fs::read(journal.path()).unwrap();
        assert!(!c.finish_if_worthwhile(&mut journal, now).unwrap());
        assert_eq!(std::fs::read(journal.path()).unwrap(), before);
        // Three of them written again, and three old deltas that fold into one minute: six
        // of fifteen would go. Rewritten, each key's last and the totals kept.
        records.extend([key("s1", 13), key("s2", 14), key("s3", 15)]);
        records.extend((0..3).map(|i| usage("a", 1_000 + i, 1_000 + i, 5)));
        let (dir2, mut journal, c) = noted("much", &records);
        assert!(c.finish_if_worthwhile(&mut journal, now).unwrap());
        let out = Journal::<Record>::read(journal.path(), KIND)
            .unwrap()
            .records;
        assert_eq!(out.len(), 8 + 1, "{out:?}");
        let tokens = |rs: &[Record], session: &str| -> Vec<u64> {
            rs.iter()
                .filter_map(|r| match r {
                    Record::Rollup(x) if x.session == session => Some(x.tokens[0]),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(
            ["s0", "s1", "s2", "s3", "s4"].map(|s| tokens(&out, s)),
            [[12], [13], [14], [15], [10]].map(Vec::from)
        );
        let Some(Record::Usage(folded)) = out.iter().find(|r| matches!(r, Record::Usage(_))) else {
            panic!("no usage: {out:?}");
        };
        assert_eq!(folded.tokens[0], 15);
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&dir2);
    }

    #[test]
    fn compaction_folds_old_deltas_into_minutes_and_keeps_totals() {
        let day = RAW_FOR_MS;
        let now = 10 * day;
        let records = vec![
            usage("a", 1_000, 1_000, 5),
            usage("a", 59_000, 59_000, 7),
            usage("a", 61_000, 61_000, 1),
            usage("b", 2_000, 2_000, 3),
            usage("a", now - 5_000, now - 5_000, 9),
            usage("a", now - 4_000, now - 4_000, 9),
            rollup(10),
            rollup(12),
        ];
        let total = |rs: &[Record]| -> (u64, f64) {
            rs.iter().fold((0, 0.0), |(t, c), r| match r {
                Record::Usage(u) => (t + u.tokens[0], c + u.cost_usd),
                _ => (t, c),
            })
        };
        let (out, again) = compacted(&records, now);
        assert_eq!(out.len(), 6, "{out:?}");
        let usages = out.iter().filter(|r| matches!(r, Record::Usage(_))).count();
        assert_eq!(usages, 5, "{out:?}");
        assert_eq!(total(&out), total(&records));
        // One rollup per key: the last one written.
        let rollups: Vec<&Record> = out
            .iter()
            .filter(|r| matches!(r, Record::Rollup(_)))
            .collect();
        assert_eq!(rollups, [&rollup(12)]);
        assert_eq!(again, out);
    }

    #[test]
    fn plan_readings_are_kept_through_compaction() {
        let reading = |at_ms: i64, used: f64| {
            Record::Limit(Limit {
                at_ms,
                used,
                resets_at_s: 1_795_410_000,
                session: Some("s1".into()),
            })
        };
        let text = serde_json::to_string(&reading(5, 0.25)).unwrap();
        assert_eq!(text, r#"{"t":"l","at":5,"u":0.25,"r":1795410000,"s":"s1"}"#);
        assert_eq!(
            serde_json::from_str::<Record>(r#"{"t":"l","at":5,"u":0.25,"r":1795410000}"#).unwrap(),
            Record::Limit(Limit {
                at_ms: 5,
                used: 0.25,
                resets_at_s: 1_795_410_000,
                session: None
            })
        );
        let records = vec![
            reading(1_000, 0.1),
            usage("a", 1_000, 1_000, 5),
            reading(2_000, 0.2),
            rollup(10),
        ];
        let (out, again) = compacted(&records, 10 * RAW_FOR_MS);
        let kept: Vec<&Record> = out
            .iter()
            .filter(|r| matches!(r, Record::Limit(_)))
            .collect();
        assert_eq!(kept, [&records[0], &records[2]]);
        assert_eq!(again, out);
    }

    /// What [`decode`] makes of `json`: the rollup (made), the other record, or the error.
    fn decoded(json: &str) -> Result<Record, String> {
        let mut out = None;
        decode(json.as_bytes(), &mut |r| {
            out = Some(match r {
                Read::Rollup(x) => Record::Rollup(x.to_rollup()),
                Read::Other(o) => o,
            });
        })
        .map_err(|e| e.to_string())?;
        Ok(out.expect("a record for each line decoded"))
    }

    #[test]
    fn rollups_read_without_being_made_take_and_refuse_what_records_do() {
        let Record::Rollup(mut named) = rollup(7) else {
            unreachable!()
        };
        named.root = Some("/home/me/.claude/projects".into());
        named.host = Some("desk".into());
        let written = serde_json::to_string(&Record::Rollup(named.clone())).unwrap();
        // As the store writes it, a rollup is read without being made.
        assert!(written.as_bytes().starts_with(ROLLUP_START), "{written}");
        assert!(serde_json::from_str::<RollupRef<'_>>(&written).is_ok());
        let lines = [
            written.clone(),
            serde_json::to_string(&rollup(3)).unwrap(),
            // Strings that need unescaping, fields in another order, no model, extra keys.
            r#"{"t":"r","hr":0,"p":"a\"b\\c","s":"\u00e9","n":1,"f":0,"k":[1,2,3,4],"usd":0.5}"#
                .into(),
            r#"{"hr":0,"p":"p","s":"s","t":"r","n":1,"f":0,"k":[1,2,3,4],"usd":1,"new":[1]}"#
                .into(),
            // What a record refuses, the borrowed form must too.
            r#"{"t":"r","hr":0,"p":"p","s":"s","n":1,"f":0,"k":[1,2,3,4]}"#.into(),
            r#"{"t":"r","hr":0,"p":"p","s":"s","n":-1,"f":0,"k":[1,2,3,4],"usd":1}"#.into(),
            r#"{"t":"r","hr":0,"p":"p","s":"s","n":1,"f":0,"k":[1,2,3],"usd":1}"#.into(),
            r#"{"t":"r","hr":0,"p":"p","p":"q","s":"s","n":1,"f":0,"k":[1,2,3,4],"usd":1}"#.into(),
            r#"{"t":"r","hr":0,"p":7,"s":"s","n":1,"f":0,"k":[1,2,3,4],"usd":1}"#.into(),
            r#"{"t":"r","hr":0,"p":"p","s":"s","n":1,"f":0,"k":[1,2,3,4],"usd":1"#.into(),
            // Not rollups.
            serde_json::to_string(&usage("a", 1, 2, 3)).unwrap(),
            r#"{"t":"s","id":1,"st":2,"ti":3,"v":4.5}"#.into(),
            r#"{"t":"x"}"#.into(),
        ];
        for line in &lines {
            let whole =
                serde_json::from_slice::<Record>(line.as_bytes()).map_err(|e| e.to_string());
            assert_eq!(decoded(line).is_ok(), whole.is_ok(), "{line}: {whole:?}");
            if let Ok(r) = whole {
                assert_eq!(decoded(line).unwrap(), r, "{line}");
            }
        }
        assert_eq!(decoded(&written).unwrap(), Record::Rollup(named));
        let Ok(Record::Rollup(escaped)) = decoded(&lines[2]) else {
            panic!("a rollup");
        };
        assert_eq!(
            (escaped.project.as_str(), escaped.session.as_str()),
            ("a\"b\\c", "é")
        );
    }

    #[test]
    fn a_rollup_line_that_does_not_decode_is_set_aside_by_the_fast_replay_too() {
        let dir = std::env::temp_dir().join(format!("redline-store-fast-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join(FILE);
        let (mut journal, _) = Journal::<Record>::open(&path, KIND).unwrap();
        journal.append(&[rollup(1), usage("a", 1, 2, 3)]).unwrap();
        drop(journal);
        // A line whose checksum is right but whose rollup lacks its dollars.
        let bad = r#"{"t":"r","hr":0,"p":"p","s":"s","n":1,"f":0,"k":[1,2,3,4]}"#;
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(&format!("{:08x} {bad}\n", crc32fast::hash(bad.as_bytes())));
        std::fs::write(&path, text).unwrap();
        let mut seen = (0, 0);
        let (_journal, problems) = open(&path, |r| match r {
            Read::Rollup(_) => seen.0 += 1,
            Read::Other(_) => seen.1 += 1,
        })
        .unwrap();
        assert_eq!(seen, (1, 1));
        assert!(
            problems
                .iter()
                .any(|p| p.contains(":4: record does not decode")),
            "{problems:?}"
        );
        let aside = std::fs::read_to_string(crate::journal::damaged_path(&path)).unwrap();
        assert!(aside.contains("\"line\":4"), "{aside}");
        assert_eq!(
            Journal::<Record>::read(&path, KIND).unwrap().records.len(),
            2
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn records_are_short_json_and_read_back() {
        let r = Record::Usage(Usage {
            host: "desk".into(),
            session: Some("s1".into()),
            model: None,
            ts_ms: 5,
            received_ms: 6,
            tokens: [1, 2, 3, 4],
            cost_usd: 0.5,
        });
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(
            text,
            r#"{"t":"u","h":"desk","s":"s1","ts":5,"at":6,"k":[1,2,3,4],"usd":0.5}"#
        );
        assert_eq!(serde_json::from_str::<Record>(&text).unwrap(), r);
        let bad = serde_json::from_str::<Record>(r#"{"t":"x"}"#);
        assert!(bad.is_err());
    }

    #[test]
    fn rollups_name_their_root_and_host_and_older_ones_still_read() {
        // As written before roots were recorded: no `rt`, no `hn`.
        let old = r#"{"t":"r","hr":3600000,"p":"p","s":"s","m":"m","n":1,"f":3600001,"k":[12,0,0,0],"h1":0,"usd":0.1}"#;
        let Record::Rollup(r) = serde_json::from_str::<Record>(old).unwrap() else {
            panic!("a rollup");
        };
        assert_eq!((r.root.as_deref(), r.host.as_deref()), (None, None));
        assert_eq!(
            serde_json::to_string(&Record::Rollup(r.clone())).unwrap(),
            old
        );
        let named = Rollup {
            root: Some("/home/me/.claude/projects".into()),
            host: Some("desk".into()),
            ..r
        };
        let text = serde_json::to_string(&Record::Rollup(named.clone())).unwrap();
        assert!(
            text.ends_with(r#""usd":0.1,"rt":"/home/me/.claude/projects","hn":"desk"}"#),
            "{text}"
        );
        assert_eq!(
            serde_json::from_str::<Record>(&text).unwrap(),
            Record::Rollup(named)
        );
    }

    #[test]
    fn compaction_keeps_each_roots_rollup_of_a_key() {
        let with_root = |root: Option<&str>, tokens: u64| {
            let Record::Rollup(mut r) = rollup(tokens) else {
                unreachable!()
            };
            r.root = root.map(str::to_owned);
            r.host = root.map(|_| "desk".to_owned());
            Record::Rollup(r)
        };
        let records = vec![
            with_root(None, 50),
            with_root(Some("/a"), 10),
            with_root(Some("/b"), 20),
            with_root(Some("/a"), 12),
        ];
        let (out, _) = compacted(&records, RAW_FOR_MS);
        assert_eq!(
            out,
            [
                with_root(None, 50),
                with_root(Some("/b"), 20),
                with_root(Some("/a"), 12)
            ]
        );
    }
}
