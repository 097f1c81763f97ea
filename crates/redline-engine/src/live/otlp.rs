//! OpenTelemetry's side of the live state. Each sender and session has a stand-in file
//! (`otlp/<host>` as its project), and its usage is kept as one aggregate ledger entry
//! per minute and model, so blocks, days and stats count it like any response. One
//! source of record per session: a session with a transcript here is counted from the
//! transcript, and what OpenTelemetry reported for it is voided, whichever came first.
//! `api_request` events drive the tach and MODEL, `api_error` events STALL.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::hosts::SeriesBook;
use crate::ledger::{Entry, FLAG_AGGREGATE, FileId, FileMeta, ModelId, Offered};
use crate::otlp::{Batch, Event};
use crate::store::{self, Record};

use super::Live;

/// OpenTelemetry events are kept this long (longer than any tach or API-error window).
const EVENTS_KEPT_MS: i64 = 60 * 60 * 1000;
/// OpenTelemetry usage is kept in buckets of this length.
const BUCKET_MS: i64 = 60 * 1000;

#[derive(Clone, Debug, Default)]
pub(super) struct OtlpState {
    pub(super) series: SeriesBook,
    pub(super) origins: HashMap<(String, Option<String>), FileId>,
    pub(super) files: HashMap<FileId, Origin>,
    /// `api_request` events: (time, stand-in file, tach tokens, model).
    pub(super) requests: VecDeque<(i64, FileId, u64, Option<ModelId>)>,
    /// `api_error` events' times.
    pub(super) errors: VecDeque<i64>,
    /// Each host's newest delivery.
    pub(super) last_seen: BTreeMap<String, i64>,
    pub(super) last_event_ms: Option<i64>,
    pub(super) error: Option<String>,
}

#[derive(Clone, Debug)]
pub(super) struct Origin {
    pub(super) host: String,
    pub(super) session: Option<String>,
    /// (minute, model) to the slot of its aggregate entry.
    pub(super) buckets: HashMap<(i64, Option<ModelId>), u32>,
    /// Whether it sends `api_request` events: then they drive the tach, not the buckets.
    pub(super) events: bool,
}

impl Live {
    /// The records an OpenTelemetry metrics batch makes (usage deltas and cumulative series
    /// positions). Nothing changes until they are stored and [`Live::apply_record`]ed: an
    /// export is acknowledged only once it is on disk.
    pub fn otlp_records(&self, batch: &Batch, received_ms: i64) -> Vec<Record> {
        self.otlp.series.records(&batch.points, received_ms)
    }

    /// Takes in a stored record: live, after it was written, or from the store at start.
    /// `true` when it changed what is counted. Rollups are for [`Live::restore_rollups`];
    /// a plan reading only tells which readings are kept already (see
    /// [`Live::plan_reading`]).
    pub fn apply_record(&mut self, r: &Record) -> bool {
        match r {
            Record::Series(s) => {
                self.otlp.series.apply(s);
                false
            }
            Record::Rollup(_) => false,
            Record::Limit(l) => {
                self.note_kept_limit(l);
                false
            }
            Record::Usage(u) => self.apply_usage(u),
        }
    }

    fn apply_usage(&mut self, u: &store::Usage) -> bool {
        let seen = self
            .otlp
            .last_seen
            .entry(u.host.clone())
            .or_insert(i64::MIN);
        *seen = (*seen).max(u.received_ms);
        self.otlp.last_event_ms = self.otlp.last_event_ms.max(Some(u.ts_ms));
        self.telemetry(u.received_ms);
        let counted = u
            .session
            .as_ref()
            .is_none_or(|s| !self.transcript_sessions.contains(s));
        let delta = store::tokens(u.tokens);
        if !counted || (delta.total() == 0 && u.cost_usd <= 0.0) {
            return false;
        }
        let file = self.origin_file(&u.host, u.session.as_deref());
        let model = u.model.as_deref().map(|m| self.models.intern(m));
        self.index_prices();
        let minute = u.ts_ms - u.ts_ms.rem_euclid(BUCKET_MS);
        let held = self
            .otlp
            .files
            .get(&file)
            .and_then(|o| o.buckets.get(&(minute, model)))
            .copied();
        let (slot, old) = match held {
            Some(slot) => {
                let old = self.ledger.get(slot).clone();
                let cost = old.cost_usd().unwrap_or(0.0) + u.cost_usd;
                let mut e = Entry::with_usage(
                    old.ts_ms.max(u.ts_ms),
                    old.tokens() + delta,
                    0,
                    Some(cost),
                    model,
                    file,
                    0,
                );
                e.flags |= FLAG_AGGREGATE;
                self.ledger.set_unkeyed(slot, e);
                (slot, Some(old))
            }
            None => {
                let mut e = Entry::with_usage(u.ts_ms, delta, 0, Some(u.cost_usd), model, file, 0);
                e.flags |= FLAG_AGGREGATE;
                let Offered::Added(slot) = self.ledger.offer(None, e, &self.files) else {
                    return false;
                };
                if let Some(o) = self.otlp.files.get_mut(&file) {
                    o.buckets.insert((minute, model), slot);
                }
                self.stats.responses += 1;
                (slot, None)
            }
        };
        let e = self.ledger.get(slot).clone();
        self.count_since_start(&e, old.as_ref());
        self.place_recent(slot, e.ts_ms, old.as_ref().map(|o| o.ts_ms));
        true
    }

    /// The stand-in file of a sender and session, made on first sight.
    fn origin_file(&mut self, host: &str, session: Option<&str>) -> FileId {
        let key = (host.to_owned(), session.map(str::to_owned));
        if let Some(&id) = self.otlp.origins.get(&key) {
            return id;
        }
        let session_name = session.unwrap_or("(no session)").to_owned();
        let id = self.files.add(FileMeta {
            path: format!("otlp://{host}/{session_name}").into(),
            project: format!("otlp/{host}").into(),
            session: session_name.into(),
        });
        self.otlp.files.insert(
            id,
            Origin {
                host: host.to_owned(),
                session: session.map(str::to_owned),
                buckets: HashMap::new(),
                events: false,
            },
        );
        self.otlp.origins.insert(key, id);
        id
    }

    /// A session's transcript appeared: what OpenTelemetry reported for it no longer
    /// counts (one source of record per session), whichever arrived first.
    pub(super) fn void_otlp_session(&mut self, session: &str) {
        let voided: Vec<u32> = self
            .otlp
            .files
            .values()
            .filter(|o| o.session.as_deref() == Some(session))
            .flat_map(|o| o.buckets.values().copied())
            .collect();
        for slot in voided {
            let old = self.ledger.get(slot).clone();
            let mut e = Entry::with_usage(
                old.ts_ms,
                redline_core::TokenCounts::default(),
                0,
                Some(0.0),
                old.model(),
                old.file,
                0,
            );
            e.flags |= FLAG_AGGREGATE;
            self.ledger.set_unkeyed(slot, e);
            if old.ts_ms < self.horizon_ms {
                self.needs_rebuild = true;
            }
        }
        self.otlp.requests.retain(|r| {
            self.otlp
                .files
                .get(&r.1)
                .is_none_or(|o| o.session.as_deref() != Some(session))
        });
    }

    /// Takes in OpenTelemetry events: `api_request` for the tach and MODEL, `api_error`
    /// for STALL. Events are not stored; the counters are the record of usage.
    pub fn otlp_events(&mut self, events: &[Event], received_ms: i64) -> bool {
        let mut changed = false;
        for ev in events {
            match ev {
                Event::ApiRequest {
                    origin,
                    ts_ms,
                    model,
                    tokens,
                    ..
                } => {
                    self.note_host(&origin.host, received_ms, *ts_ms);
                    if origin
                        .session
                        .as_ref()
                        .is_some_and(|s| self.transcript_sessions.contains(s))
                    {
                        continue;
                    }
                    let file = self.origin_file(&origin.host, origin.session.as_deref());
                    if let Some(o) = self.otlp.files.get_mut(&file) {
                        o.events = true;
                    }
                    let model = model.as_deref().map(|m| self.models.intern(m));
                    self.index_prices();
                    let at = self.otlp.requests.partition_point(|r| r.0 <= *ts_ms);
                    self.otlp
                        .requests
                        .insert(at, (*ts_ms, file, tokens.tach(), model));
                    changed = true;
                }
                Event::ApiError { origin, ts_ms, .. } => {
                    self.note_host(&origin.host, received_ms, *ts_ms);
                    let at = self.otlp.errors.partition_point(|t| t <= ts_ms);
                    self.otlp.errors.insert(at, *ts_ms);
                    changed = true;
                }
            }
        }
        let keep_from = received_ms.saturating_sub(EVENTS_KEPT_MS);
        while self.otlp.requests.front().is_some_and(|r| r.0 < keep_from) {
            self.otlp.requests.pop_front();
        }
        while self.otlp.errors.front().is_some_and(|&t| t < keep_from) {
            self.otlp.errors.pop_front();
        }
        changed
    }

    fn note_host(&mut self, host: &str, received_ms: i64, ts_ms: i64) {
        let seen = self
            .otlp
            .last_seen
            .entry(host.to_owned())
            .or_insert(i64::MIN);
        *seen = (*seen).max(received_ms);
        self.otlp.last_event_ms = self.otlp.last_event_ms.max(Some(ts_ms));
        self.telemetry(received_ms);
    }

    /// Sets what is failing with OpenTelemetry (the store cannot be written), or `None`.
    pub fn set_otlp_error(&mut self, error: Option<String>) {
        self.otlp.error = error;
    }

    /// Whether a file is a transcript (not an OpenTelemetry sender's stand-in).
    pub(super) fn is_transcript(&self, file: FileId) -> bool {
        !self.otlp.files.contains_key(&file)
    }
}
