//! The live state: every counted response, kept deduplicated as lines arrive, and the
//! five values computed from it for any `now`.
//!
//! The cold scan's ledger is kept whole (its dedup index too), so a copy written later,
//! in any file, still folds into the response it belongs to. The values need only recent
//! responses (the tach window, today, the open 5-hour block) plus one fact about the past:
//! the block walk up to a horizon some two days back, with the largest block it closed
//! (the `max` budget). That walk is built once from the whole ledger and rebuilt only when
//! the horizon has moved an hour, or when a response older than the horizon arrives;
//! otherwise each value is a pass over the recent responses. Nothing here reads a clock:
//! `now` is an argument, so scenarios run in virtual time.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::Path;

use jiff::tz::TimeZone;
use redline_core::gauges::{Readings, Scales, gauges};
use redline_core::lamps::{LampInputs, Thresholds, lamps};
use redline_core::{ModelFamily, TokenCounts};

use crate::archive::{self, Restored};
use crate::blocks::{BLOCK_MS, Block, BlockEntry, BlockWalk};
use crate::feed::{HookEvent, HookKind, LimitWindow, StatusFeed};
use crate::hosts::SeriesBook;
use crate::ledger::{
    Entry, FLAG_AGGREGATE, FLAG_API_ERROR, FLAG_SIDECHAIN, FLAG_UNKEYED, FileId, FileMeta, Files,
    Ledger, ModelId, Models, Offered,
};
use crate::otlp::{Batch, Event};
use crate::prices::{CostMode, PriceTable, price_entry};
use crate::record::{LineProblem, parse_line};
use crate::report::{ModelNames, prepare_parts};
use crate::roots::Transcript;
use crate::scan::Scan;
use crate::stats::{Stat, Window};
use crate::store::{self, Record, Rollup};
use crate::usage::{self, Usage};

/// How far back the recent list reaches: enough for today in any time zone (a day can
/// last 25 hours) plus an open block that began five hours before midnight.
const RECENT_SPAN_MS: i64 = 48 * 3600 * 1000;
/// How far the horizon may fall behind before the walk is rebuilt.
const REBUILD_EVERY_MS: i64 = 3600 * 1000;
/// Context windows: the default, and the 1M window a session shows it has once a request
/// passes the default.
const WINDOW_DEFAULT: u64 = 200_000;
const WINDOW_LARGE: u64 = 1_000_000;
/// A turn whose `Stop` never came is over after this long without a hook.
const TURN_TIMEOUT_MS: i64 = 10 * 60 * 1000;
/// OpenTelemetry events are kept this long (longer than any tach or API-error window).
const EVENTS_KEPT_MS: i64 = 60 * 60 * 1000;
/// OpenTelemetry usage is kept in buckets of this length.
const BUCKET_MS: i64 = 60 * 1000;

/// A block's token budget (`REDLINE_BLOCK_BUDGET`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Budget {
    /// The largest completed non-gap block in history, as ccusage's `--token-limit max`.
    #[default]
    Max,
    /// A fixed number of tokens.
    Tokens(u64),
}

impl std::str::FromStr for Budget {
    type Err = String;
    fn from_str(s: &str) -> Result<Budget, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("max") {
            return Ok(Budget::Max);
        }
        match s.replace('_', "").parse::<u64>() {
            Ok(n) if n > 0 => Ok(Budget::Tokens(n)),
            _ => Err(format!(
                "block budget {s:?} is neither `max` nor a positive number of tokens"
            )),
        }
    }
}

/// What the values are computed against: the calibration variables and the rest of the
/// configuration that shapes them.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Tokens per minute where the red zone starts.
    pub tach_redline: u64,
    /// Seconds of trailing window for the tach.
    pub tach_window_s: u64,
    /// A block's budget.
    pub budget: Budget,
    /// Dollars at COST's full scale.
    pub cost_full_scale_usd: f64,
    /// Lamp thresholds.
    pub thresholds: Thresholds,
    /// The user's time zone: "today" for COST.
    pub tz: TimeZone,
    /// API errors this recent light CHECK.
    pub api_error_window_s: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            tach_redline: 20_000,
            tach_window_s: 60,
            budget: Budget::Max,
            cost_full_scale_usd: 50.0,
            thresholds: Thresholds::default(),
            tz: TimeZone::UTC,
            api_error_window_s: 300,
        }
    }
}

/// A source's health, as `/usage`'s `sources` reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceHealth {
    /// What is failing, if anything (a root that cannot be read, a watch that broke).
    pub error: Option<String>,
}

/// Tokens and dollars per model since the daemon started: Prometheus counters.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ModelCounters {
    /// Tokens by kind.
    pub tokens: TokenCounts,
    /// US dollars.
    pub cost_usd: f64,
}

/// What the live reader has seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Lines read, the cold scan's included.
    pub lines: u64,
    /// Lines that could not be read.
    pub bad_lines: u64,
    /// Responses counted (distinct).
    pub responses: u64,
    /// Copies folded into a response already counted.
    pub duplicates: u64,
}

/// The live state. See the module docs.
pub struct Live {
    files: Files,
    /// A hash of each file's path to its id (the path itself is in `files` once).
    paths: HashMap<u64, FileId>,
    models: Models,
    ledger: Ledger,
    prices: PriceTable,
    cost_mode: CostMode,
    /// Per model id: the index of its price in `prices.models()`, looked up when the
    /// model is first seen.
    price_index: Vec<Option<usize>>,
    /// Responses at or after `horizon_ms`, as (time, slot), sorted by time.
    recent: Vec<(i64, u32)>,
    horizon_ms: i64,
    /// The block walk over every response before the horizon.
    anchor: BlockWalk,
    /// The largest total of a non-gap block the anchor walk closed.
    anchor_max: u64,
    needs_rebuild: bool,
    /// The most recent main-chain response: (time, slot).
    last_main: Option<(i64, u32)>,
    /// Per session: the largest prompt a main-chain response sent.
    session_prompt_max: HashMap<String, u64>,
    /// Per file being re-read from its start: unkeyed lines (by hash) already counted from
    /// it, to be passed over once each.
    reread_skip: HashMap<FileId, HashMap<u64, u32>>,
    counters: BTreeMap<String, ModelCounters>,
    stats: LiveStats,
    last_event_ms: Option<i64>,
    health: SourceHealth,
    /// Claude Code's own figures and turn state (statusLine and hooks).
    claude: ClaudeState,
    /// What OpenTelemetry senders reported.
    otlp: OtlpState,
    /// Sessions that have a transcript here: their OpenTelemetry usage is not counted.
    transcript_sessions: HashSet<String>,
    /// Values read from Prometheus (`--source prometheus=URL`), which then stand for the
    /// ledger's.
    external: ExternalState,
    /// Rollup keys (see [`archive::key_hash`]) whose transcript figures changed since
    /// they were stored: all that [`Live::plan_rollups`] found, then each one a line moves.
    rollups_due: HashSet<u64>,
}

/// OpenTelemetry's side of the live state. Each sender and session has a stand-in file
/// (`otlp/<host>` as its project), and its usage is kept as one aggregate ledger entry
/// per minute and model, so blocks, days and stats count it like any response.
#[derive(Clone, Debug, Default)]
struct OtlpState {
    series: SeriesBook,
    origins: HashMap<(String, Option<String>), FileId>,
    files: HashMap<FileId, Origin>,
    /// `api_request` events: (time, stand-in file, tach tokens, model).
    requests: VecDeque<(i64, FileId, u64, Option<ModelId>)>,
    /// `api_error` events' times.
    errors: VecDeque<i64>,
    /// Each host's newest delivery.
    last_seen: BTreeMap<String, i64>,
    last_event_ms: Option<i64>,
    error: Option<String>,
}

#[derive(Clone, Debug)]
struct Origin {
    host: String,
    session: Option<String>,
    /// (minute, model) to the slot of its aggregate entry.
    buckets: HashMap<(i64, Option<ModelId>), u32>,
    /// Whether it sends `api_request` events: then they drive the tach, not the buckets.
    events: bool,
}

/// The values as an external source (Prometheus) gives them, instead of the ledger's.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct External {
    /// Input + output + cache-creation tokens per minute over the tach window (cache reads
    /// excluded, as the ledger's tach does).
    pub tokens_per_min: f64,
    /// The open 5-hour block, if there was activity in the last 5 h.
    pub block: Option<ExternalBlock>,
    /// The largest completed block's tokens in the history the source holds; `None`
    /// without a completed block.
    pub budget_max: Option<u64>,
    /// Dollars since local midnight.
    pub cost_today_usd: f64,
    /// The model with the most tokens lately.
    pub model: Option<String>,
    /// The newest sample's time.
    pub newest_sample_ms: Option<i64>,
}

/// An external source's open 5-hour block: all four token kinds, as ccusage's
/// `totalTokens`.
#[derive(Clone, Debug, PartialEq)]
pub struct ExternalBlock {
    /// The hour of its first activity (UTC), in milliseconds.
    pub start_ms: i64,
    /// Start + 5 h.
    pub end_ms: i64,
    /// Tokens since the start.
    pub tokens: u64,
    /// Dollars since the start.
    pub cost_usd: f64,
}

/// An external source's state: configured or not, its last reading, what is failing.
#[derive(Clone, Debug, Default)]
struct ExternalState {
    on: bool,
    reading: Option<External>,
    error: Option<String>,
}

/// One host's figures for `/api/hosts`.
#[derive(Clone, Debug, PartialEq)]
pub struct HostDay {
    /// The host's name (`host.name`; this machine's for its transcripts).
    pub host: String,
    /// Its newest data, milliseconds since the epoch.
    pub last_seen_ms: Option<i64>,
    /// Today's tokens.
    pub tokens: redline_core::TokenCounts,
    /// Today's dollars.
    pub cost_usd: f64,
}

/// What Claude Code said itself, through its statusLine and hooks.
#[derive(Clone, Debug, Default)]
struct ClaudeState {
    /// The 5-hour and weekly plan limits.
    five_hour: Option<LimitWindow>,
    seven_day: Option<LimitWindow>,
    /// Context window sizes by session.
    windows: HashMap<String, u64>,
    /// Sessions in a turn, with their last hook's time.
    turns: HashMap<String, i64>,
    /// Sessions that ended, and when.
    ended: HashMap<String, i64>,
    /// When a turn last failed on a rate limit.
    rate_limited_ms: Option<i64>,
    /// The tach as it stood after the last transcript write: held while a turn goes on.
    tach_hold: f64,
    wrote: bool,
}

impl Live {
    /// An empty state pricing with `prices` in `cost_mode`.
    pub fn new(prices: PriceTable, cost_mode: CostMode) -> Live {
        Live::from_scan(Scan::default(), prices, cost_mode)
    }

    /// Takes over a cold scan's result. Counters start at zero: they count what arrives
    /// from here on.
    pub fn from_scan(scan: Scan, prices: PriceTable, cost_mode: CostMode) -> Live {
        let Scan {
            files,
            models,
            ledger,
            stats,
            ..
        } = scan;
        let paths = (0..files.len())
            .map(|i| {
                let id = FileId::try_from(i).unwrap_or(FileId::MAX);
                (path_hash(&files.get(id).path), id)
            })
            .collect();
        let mut live = Live {
            files,
            paths,
            models,
            ledger,
            prices,
            cost_mode,
            price_index: Vec::new(),
            recent: Vec::new(),
            horizon_ms: i64::MIN,
            anchor: BlockWalk::new(BLOCK_MS),
            anchor_max: 0,
            needs_rebuild: true,
            last_main: None,
            session_prompt_max: HashMap::new(),
            reread_skip: HashMap::new(),
            counters: BTreeMap::new(),
            stats: LiveStats {
                lines: stats.lines,
                bad_lines: stats.bad_lines,
                responses: 0,
                duplicates: 0,
            },
            last_event_ms: stats.newest_ms,
            health: SourceHealth::default(),
            claude: ClaudeState::default(),
            otlp: OtlpState::default(),
            transcript_sessions: HashSet::new(),
            external: ExternalState::default(),
            rollups_due: HashSet::new(),
        };
        for i in 0..live.files.len() {
            let id = FileId::try_from(i).unwrap_or(FileId::MAX);
            live.transcript_sessions
                .insert(live.files.get(id).session.clone());
        }
        live.stats.responses = live.ledger.len() as u64;
        live.stats.duplicates = live.ledger.duplicates_dropped();
        live.index_prices();
        for slot in 0..live.ledger.len() {
            let slot = u32::try_from(slot).unwrap_or(u32::MAX);
            let e = live.ledger.get(slot).clone();
            live.note_main_chain(&e, slot);
        }
        live
    }

    /// The id of the transcript at `path` (below the projects directory `root`), adding it
    /// on first sight. `None` for a file that belongs to no project.
    pub fn file_id(&mut self, root: &Path, path: &Path) -> Option<FileId> {
        let hash = path_hash(path);
        match self.paths.get(&hash) {
            Some(&id) if self.files.get(id).path == path => return Some(id),
            // Two paths with one 64-bit hash: never seen, but then look the slow way.
            Some(_) => {
                if let Some(i) = (0..self.files.len()).find(|&i| {
                    self.files
                        .get(FileId::try_from(i).unwrap_or(FileId::MAX))
                        .path
                        == path
                }) {
                    return FileId::try_from(i).ok();
                }
            }
            None => {}
        }
        let t = Transcript::describe(root, path)?;
        let session = t.session.clone();
        let id = self.files.add(FileMeta {
            path: t.path,
            project: t.project,
            session: t.session,
        });
        self.paths.entry(hash).or_insert(id);
        if self.transcript_sessions.insert(session.clone()) {
            self.void_otlp_session(&session);
        }
        Some(id)
    }

    /// The files known, by id.
    pub fn files(&self) -> &Files {
        &self.files
    }

    /// Says that `file` is about to be read again from its first line (it was truncated or
    /// replaced). Keyed responses fold into themselves on their own; the unkeyed lines
    /// already counted from it are remembered, so the re-read passes over each once.
    pub fn restart_file(&mut self, file: FileId) {
        let mut seen: HashMap<u64, u32> = HashMap::new();
        for e in self.ledger.entries() {
            if e.file == file && e.has(FLAG_UNKEYED) {
                *seen.entry(e.id_hash).or_default() += 1;
            }
        }
        if seen.is_empty() {
            self.reread_skip.remove(&file);
        } else {
            self.reread_skip.insert(file, seen);
        }
    }

    /// Reads one line of `file`. `Ok(true)` when it changed what is counted.
    pub fn ingest(&mut self, file: FileId, line_no: u64, line: &[u8]) -> Result<bool, LineProblem> {
        self.stats.lines += 1;
        let rec = match parse_line(line) {
            Ok(Some(rec)) => rec,
            Ok(None) => return Ok(false),
            Err(problem) => {
                self.stats.bad_lines += 1;
                return Err(problem);
            }
        };
        if rec.key.is_none()
            && let Some(skip) = self.reread_skip.get_mut(&file)
            && let Some(n) = skip.get_mut(&rec.id_hash)
            && *n > 0
        {
            *n -= 1;
            return Ok(false);
        }
        self.last_event_ms = self.last_event_ms.max(Some(rec.ts_ms));
        let model = rec.model.as_deref().map(|m| self.models.intern(m));
        self.index_prices();
        let line32 = u32::try_from(line_no).unwrap_or(u32::MAX);
        let entry = Entry::new(&rec, model, file, line32);
        let (slot, old) = match self.ledger.offer(rec.key, entry, &self.files) {
            Offered::Kept(_) => {
                self.stats.duplicates += 1;
                return Ok(false);
            }
            Offered::Added(slot) => {
                self.stats.responses += 1;
                (slot, None)
            }
            Offered::Replaced(slot, old) => {
                self.stats.duplicates += 1;
                (slot, Some(*old))
            }
        };
        let e = self.ledger.get(slot).clone();
        self.count_since_start(&e, old.as_ref());
        self.place_recent(slot, e.ts_ms, old.as_ref().map(|o| o.ts_ms));
        self.note_main_chain(&e, slot);
        self.note_rollup(&e);
        if let Some(o) = &old {
            self.note_rollup(o);
        }
        self.claude.wrote = true;
        Ok(true)
    }

    /// Takes in a statusLine object: the plan's own limits (which then drive FUEL until
    /// they reset) and the session's context window. A limit's use never falls before its
    /// reset: a lower figure for the same window (from a session that had not caught up)
    /// is ignored.
    pub fn apply_status(&mut self, f: &StatusFeed) {
        let merge = |held: &mut Option<LimitWindow>, new: Option<LimitWindow>| {
            let Some(new) = new else { return };
            *held = Some(match *held {
                Some(old) if old.resets_at_s == new.resets_at_s => LimitWindow {
                    used: old.used.max(new.used),
                    ..new
                },
                Some(old) if old.resets_at_s > new.resets_at_s => old,
                _ => new,
            });
        };
        merge(&mut self.claude.five_hour, f.five_hour);
        merge(&mut self.claude.seven_day, f.seven_day);
        if let (Some(s), Some(w)) = (&f.session_id, f.context_window_size) {
            self.claude.windows.insert(s.clone(), w);
        }
    }

    /// Takes in a hook: turn state, the end of a session, a rate-limited turn.
    pub fn apply_hook(&mut self, h: &HookEvent, now_ms: i64) {
        let session = h.session_id.clone().unwrap_or_default();
        let c = &mut self.claude;
        match h.kind {
            HookKind::UserPromptSubmit | HookKind::PostToolUse => {
                c.ended.remove(&session);
                c.turns.insert(session, now_ms);
            }
            HookKind::SessionStart => {
                c.ended.remove(&session);
            }
            HookKind::Stop => {
                c.turns.remove(&session);
            }
            HookKind::StopFailure => {
                c.turns.remove(&session);
                if h.error.as_deref().is_some_and(|e| e.contains("rate_limit")) {
                    c.rate_limited_ms = Some(now_ms);
                }
            }
            HookKind::SessionEnd => {
                c.turns.remove(&session);
                c.ended.insert(session, now_ms);
            }
            HookKind::Other => {}
        }
    }

    /// The records an OpenTelemetry metrics batch makes (usage deltas and cumulative series
    /// positions). Nothing changes until they are stored and [`Live::apply_record`]ed: an
    /// export is acknowledged only once it is on disk.
    pub fn otlp_records(&self, batch: &Batch, received_ms: i64) -> Vec<Record> {
        self.otlp.series.records(&batch.points, received_ms)
    }

    /// Takes in a stored record: live, after it was written, or from the store at start.
    /// `true` when it changed what is counted. Rollups are for [`Live::restore_rollups`].
    pub fn apply_record(&mut self, r: &Record) -> bool {
        match r {
            Record::Series(s) => {
                self.otlp.series.apply(s);
                false
            }
            Record::Rollup(_) => false,
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
            project: format!("otlp/{host}"),
            session: session_name,
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
    fn void_otlp_session(&mut self, session: &str) {
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
    /// for CHECK. Events are not stored; the counters are the record of usage.
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
    }

    /// Takes the values from an external source from now on: each reading, or what failed
    /// (CHECK lights while it fails; the last reading is kept meanwhile).
    pub fn set_external(&mut self, reading: Result<External, String>) {
        self.external.on = true;
        match reading {
            Ok(r) => {
                self.external.reading = Some(r);
                self.external.error = None;
            }
            Err(e) => self.external.error = Some(e),
        }
    }

    /// Sets what is failing with OpenTelemetry (the store cannot be written), or `None`.
    pub fn set_otlp_error(&mut self, error: Option<String>) {
        self.otlp.error = error;
    }

    /// Whether a file is a transcript (not an OpenTelemetry sender's stand-in).
    fn is_transcript(&self, file: FileId) -> bool {
        !self.otlp.files.contains_key(&file)
    }

    /// Adds what stored rollups hold beyond the transcripts read (see [`crate::archive`]).
    pub fn restore_rollups(&mut self, stored: &[Rollup]) -> Restored {
        let (priced, prices, mode) = (&self.price_index, &self.prices, self.cost_mode);
        let otlp_files = &self.otlp.files;
        let (slots, done) = archive::restore(
            &mut self.ledger,
            &mut self.files,
            &mut self.models,
            stored,
            &|f| !otlp_files.contains_key(&f),
            &|e, _| {
                let price = e
                    .model()
                    .and_then(|m| priced.get(m as usize).copied().flatten());
                price_entry(mode, price.map(|i| &prices.models()[i]), e).usd()
            },
        );
        self.index_prices();
        for slot in slots {
            self.stats.responses += 1;
            let e = self.ledger.get(slot).clone();
            self.place_recent(slot, e.ts_ms, None);
        }
        done
    }

    /// Compares the transcripts read with what the store holds (`stored`: each rollup
    /// key's tokens): every key the transcripts hold more of becomes due to be written,
    /// and the keys the store holds more of (transcripts deleted since) are returned, to
    /// be read back in full and [restored](Live::restore_rollups).
    pub fn plan_rollups(&mut self, stored: &HashMap<u64, u64>) -> HashSet<u64> {
        let present = archive::present(&self.ledger, &self.files, &self.models, &|f| {
            self.is_transcript(f)
        });
        self.rollups_due = archive::deficit(&present, stored);
        archive::deficit(stored, &present)
    }

    /// Up to `max` rollups of the transcript hours due to be stored (see
    /// [`Live::plan_rollups`]); call again until it is empty.
    pub fn take_rollups(&mut self, max: usize) -> Vec<Rollup> {
        if self.rollups_due.is_empty() {
            return Vec::new();
        }
        let chosen: HashSet<u64> = if self.rollups_due.len() <= max {
            std::mem::take(&mut self.rollups_due)
        } else {
            let some: Vec<u64> = self.rollups_due.iter().take(max).copied().collect();
            for k in &some {
                self.rollups_due.remove(k);
            }
            some.into_iter().collect()
        };
        let files = &self.files;
        let models = &self.models;
        archive::rollups(
            &self.ledger,
            files,
            models,
            &|f| self.is_transcript(f),
            &|e| chosen.contains(&archive::entry_key(e, files, models)),
            &|e, _| self.cost(e),
        )
    }

    /// How many rollup keys wait to be stored.
    pub fn rollups_due(&self) -> usize {
        self.rollups_due.len()
    }

    fn note_rollup(&mut self, e: &Entry) {
        if e.tokens().total() > 0 && self.is_transcript(e.file) {
            let key = archive::entry_key(e, &self.files, &self.models);
            self.rollups_due.insert(key);
        }
    }

    /// Today's figures per host: this machine's transcripts under `local_host`, and each
    /// OpenTelemetry sender's counted usage under its `host.name` (the same name adds up).
    /// Their sum is `/usage`'s today.
    pub fn hosts_today(&self, now_ms: i64, tz: &TimeZone, local_host: &str) -> Vec<HostDay> {
        let (day_start, day_end) = local_day(now_ms, tz);
        let mut by_host: BTreeMap<String, HostDay> = BTreeMap::new();
        fn day<'a>(by_host: &'a mut BTreeMap<String, HostDay>, host: &str) -> &'a mut HostDay {
            by_host.entry(host.to_owned()).or_insert_with(|| HostDay {
                host: host.to_owned(),
                last_seen_ms: None,
                tokens: redline_core::TokenCounts::default(),
                cost_usd: 0.0,
            })
        }
        if let Some(t) = self.last_event_ms {
            day(&mut by_host, local_host).last_seen_ms = Some(t);
        }
        for (host, &t) in &self.otlp.last_seen {
            let d = day(&mut by_host, host);
            d.last_seen_ms = d.last_seen_ms.max(Some(t));
        }
        let from = self.recent.partition_point(|&(t, _)| t < day_start);
        for &(ts, slot) in &self.recent[from..] {
            if ts >= day_end {
                break;
            }
            let e = self.ledger.get(slot);
            let host = self
                .otlp
                .files
                .get(&e.file)
                .map_or(local_host, |o| o.host.as_str());
            let d = day(&mut by_host, host);
            d.tokens += e.tokens();
            d.cost_usd += self.cost(e);
        }
        by_host.into_values().collect()
    }

    /// Sets the transcript source's health (the follower knows when a root or watch fails).
    pub fn set_health(&mut self, health: SourceHealth) {
        self.health = health;
    }

    /// The transcript source's health.
    pub fn health(&self) -> &SourceHealth {
        &self.health
    }

    /// One of the deep stats over the history held (see [`crate::stats`]).
    pub fn stat(&self, which: Stat, w: &Window) -> serde_json::Value {
        let opts = w.options(self.cost_mode);
        // Only the window's responses are priced and kept; blocks start a day earlier so
        // the first one in the window is whole.
        let mut data_opts = opts.clone();
        if which == Stat::Blocks {
            data_opts.since = data_opts.since.and_then(|d| d.yesterday().ok());
        }
        let names = ModelNames::new(&self.models);
        let data = prepare_parts(
            &self.ledger,
            &self.models,
            &self.files,
            &self.prices,
            &data_opts,
            &names,
            true,
        );
        crate::stats::stat(which, &data, w, &opts)
    }

    /// Per-model tokens and dollars since the daemon started.
    pub fn counters(&self) -> &BTreeMap<String, ModelCounters> {
        &self.counters
    }

    /// What has been read.
    pub fn stats(&self) -> LiveStats {
        self.stats
    }

    /// The newest usage line's time.
    pub fn last_event_ms(&self) -> Option<i64> {
        self.last_event_ms
    }

    /// The whole `/usage` document at `now_ms`.
    pub fn usage(&mut self, now_ms: i64, s: &Settings) -> Usage {
        if self.needs_rebuild
            || now_ms.saturating_sub(self.horizon_ms) > RECENT_SPAN_MS + REBUILD_EVERY_MS
        {
            self.rebuild(now_ms);
        }
        let window_ms = i64::try_from(s.tach_window_s.max(1) * 1000).unwrap_or(i64::MAX);
        let api_window_ms = i64::try_from(s.api_error_window_s * 1000).unwrap_or(i64::MAX);
        let (day_start, day_end) = local_day(now_ms, &s.tz);

        let mut walk = self.anchor.clone();
        let mut max_closed = self.anchor_max;
        let mut tach_tokens = 0u64;
        let mut today_usd = 0.0;
        let mut api_errors = false;
        for &(ts, slot) in &self.recent {
            let e = self.ledger.get(slot);
            let cost = self.cost(e);
            walk.push(&block_entry(e, cost), |b| {
                if !b.is_gap {
                    max_closed = max_closed.max(b.tokens.total());
                }
            });
            if ts > now_ms.saturating_sub(window_ms)
                && self.otlp.files.get(&e.file).is_none_or(|o| !o.events)
            {
                tach_tokens += e.tokens().tach();
            }
            if (day_start..day_end).contains(&ts) {
                today_usd += cost;
            }
            api_errors |= e.has(FLAG_API_ERROR) && ts > now_ms.saturating_sub(api_window_ms);
        }
        // Senders of `api_request` events drive the tach per request.
        let window_from = now_ms.saturating_sub(window_ms);
        let from = self.otlp.requests.partition_point(|r| r.0 <= window_from);
        for &(ts, _, tach, _) in self.otlp.requests.range(from..) {
            if ts <= now_ms {
                tach_tokens += tach;
            }
        }
        let errors_from = now_ms.saturating_sub(api_window_ms);
        api_errors |= self
            .otlp
            .errors
            .iter()
            .any(|&t| t > errors_from && t <= now_ms);
        let ext = self
            .external
            .on
            .then_some(self.external.reading.as_ref())
            .flatten();
        let ext_block = ext.and_then(|x| x.block.as_ref()).map(|b| Block {
            start_ms: b.start_ms,
            end_ms: b.end_ms,
            actual_end_ms: Some(now_ms.min(b.end_ms)),
            is_gap: false,
            entries: 1,
            tokens: TokenCounts::new(b.tokens, 0, 0, 0),
            cost_usd: b.cost_usd,
            models: Vec::new(),
            first_ms: Some(b.start_ms),
            usage_limit_reset_s: None,
        });
        let current = if self.external.on {
            ext_block.as_ref()
        } else {
            walk.current()
        };
        if let Some(b) = current.filter(|b| !b.is_active(now_ms)) {
            max_closed = max_closed.max(b.tokens.total());
        }
        if self.external.on {
            max_closed = ext.and_then(|x| x.budget_max).unwrap_or(0);
            today_usd = ext.map_or(0.0, |x| x.cost_today_usd);
            tach_tokens = 0;
        }
        let active: Option<&Block> = current.filter(|b| b.is_active(now_ms));
        let budget = match s.budget {
            Budget::Tokens(n) => Some(n),
            Budget::Max => Some(max_closed).filter(|&m| m > 0),
        };
        let block_tokens = active.map_or(0, |b| b.tokens.total());
        // Rounded before anything uses it, so the lamp and the figure shown never disagree
        // (1 - 0.85 is 0.15000000000000002 in floating point).
        let remaining = budget.map(|b| {
            ((1.0 - block_tokens as f64 / b as f64).clamp(0.0, 1.0) * 10_000.0).round() / 10_000.0
        });
        let mut tokens_per_min = match ext {
            Some(x) => x.tokens_per_min,
            None => tach_tokens as f64 * 60_000.0 / window_ms as f64,
        };
        // During a turn the tach holds what the last write showed instead of decaying
        // while Claude Code thinks or a tool runs between transcript writes.
        let c = &mut self.claude;
        if std::mem::take(&mut c.wrote) {
            c.tach_hold = tokens_per_min;
        }
        if c.turns
            .values()
            .any(|&t| now_ms.saturating_sub(t) < TURN_TIMEOUT_MS)
        {
            tokens_per_min = tokens_per_min.max(c.tach_hold);
        } else {
            c.tach_hold = 0.0;
        }
        // Claude Code's own plan figures, while their window lasts.
        let live_window =
            |w: Option<LimitWindow>| w.filter(|w| w.resets_at_s.saturating_mul(1000) > now_ms);
        let five_hour = live_window(c.five_hour);
        let seven_day = live_window(c.seven_day);
        let rate_limited = c.rate_limited_ms.is_some_and(|t| match five_hour {
            Some(w) => t < w.resets_at_s.saturating_mul(1000),
            None => now_ms.saturating_sub(t) < BLOCK_MS,
        });
        let (remaining, basis) = match five_hour {
            Some(w) => (
                Some(((1.0 - w.used) * 10_000.0).round() / 10_000.0),
                Some("rate_limits"),
            ),
            None => (remaining, remaining.map(|_| "estimate")),
        };

        let main = self.last_main.map(|(_, slot)| self.ledger.get(slot));
        // The newest model: the main chain's, or a sender's newer `api_request`.
        let sent = self
            .otlp
            .requests
            .iter()
            .rev()
            .find(|r| r.3.is_some() && r.0 <= now_ms)
            .filter(|r| main.is_none_or(|e| r.0 > e.ts_ms));
        let model_id = match ext {
            Some(x) => x.model.clone(),
            None => sent
                .and_then(|r| r.3)
                .or_else(|| main.and_then(Entry::model))
                .map(|m| self.models.name(m).to_owned()),
        };
        let family = model_id.as_deref().map(ModelFamily::of);
        let session = main.map(|e| self.files.get(e.file).session.clone());
        // A session that ended (SessionEnd hook) after its last response shows no context.
        let ended = main
            .zip(session.as_ref())
            .is_some_and(|(e, s)| self.claude.ended.get(s).is_some_and(|&t| t >= e.ts_ms));
        let session = session.filter(|_| !ended);
        let context = main.filter(|_| !ended).map(|e| {
            let reported = session.as_ref().and_then(|s| self.claude.windows.get(s));
            let big = session
                .as_ref()
                .and_then(|s| self.session_prompt_max.get(s))
                .is_some_and(|&m| m > WINDOW_DEFAULT);
            let window = match reported {
                Some(&w) => w,
                None if big => WINDOW_LARGE,
                None => WINDOW_DEFAULT,
            };
            (e.tokens().prompt(), window)
        });
        let limit_reset_s = active.and_then(|b| b.usage_limit_reset_s);

        let readings = Readings {
            tokens_per_min: Some(tokens_per_min),
            fuel_remaining: remaining,
            cost_today_usd: Some(today_usd),
            context,
        };
        let scales = Scales {
            tach_redline: s.tach_redline as f64,
            cost_full_scale_usd: s.cost_full_scale_usd,
        };
        let lamp_inputs = LampInputs {
            family,
            tokens_per_min: Some(tokens_per_min),
            tach_redline: s.tach_redline as f64,
            fuel_remaining: remaining,
            limit_hit: limit_reset_s.is_some() || rate_limited,
            context_share: context.map(|(used, window)| used as f64 / window as f64),
            source_failing: self.health.error.is_some()
                || self.otlp.error.is_some()
                || self.external.error.is_some(),
            recent_api_errors: api_errors,
        };
        Usage {
            version: redline_core::wire::USAGE_VERSION,
            generated_at: usage::format_s(now_ms),
            sources: usage::Sources {
                jsonl: usage::Source {
                    ok: self.health.error.is_none(),
                    last_event_at: self.last_event_ms.map(usage::format_s),
                    error: self.health.error.clone(),
                },
                otlp: usage::Source {
                    ok: self.otlp.error.is_none(),
                    last_event_at: self.otlp.last_event_ms.map(usage::format_s),
                    error: self.otlp.error.clone(),
                },
                prometheus: usage::Source {
                    ok: self.external.error.is_none(),
                    last_event_at: ext.and_then(|x| x.newest_sample_ms).map(usage::format_s),
                    error: self.external.error.clone(),
                },
            },
            tach: usage::Tach {
                tokens_per_min: (tokens_per_min * 10.0).round() / 10.0,
                redline: s.tach_redline,
                window_s: s.tach_window_s,
            },
            fuel: usage::Fuel {
                remaining,
                basis,
                block_tokens: active.map(|_| block_tokens),
                budget_tokens: budget,
                block_start: active.map(|b| usage::format_s(b.start_ms)),
                block_end: active.map(|b| usage::format_s(b.end_ms)),
                projected_tokens: active
                    .and_then(|b| b.projection(now_ms))
                    .map(|p| p.total_tokens),
                limit_reset_at: limit_reset_s.map(|s| usage::format_s(s.saturating_mul(1000))),
                weekly_used: seven_day.map(|w| w.used),
                weekly_reset_at: seven_day
                    .map(|w| usage::format_s(w.resets_at_s.saturating_mul(1000))),
            },
            cost: usage::Cost {
                today_usd: usage::round_usd(today_usd),
                block_usd: active.map(|b| usage::round_usd(b.cost_usd)),
                full_scale_usd: s.cost_full_scale_usd,
            },
            context: usage::Context {
                used_tokens: context.map(|c| c.0),
                window_tokens: context.map(|c| c.1),
                session_id: session,
            },
            model: usage::Model {
                family: family.map(ModelFamily::as_str),
                id: model_id,
            },
            gauges: gauges(&readings, &scales),
            lamps: lamps(&lamp_inputs, &s.thresholds),
        }
    }

    /// Rebuilds the walk up to a horizon two days before `now_ms`, and the recent list
    /// after it, from the whole ledger.
    fn rebuild(&mut self, now_ms: i64) {
        let horizon = now_ms.saturating_sub(RECENT_SPAN_MS);
        let mut all: Vec<(i64, u32)> = (0..self.ledger.len())
            .map(|i| {
                let slot = u32::try_from(i).unwrap_or(u32::MAX);
                (self.ledger.get(slot).ts_ms, slot)
            })
            .collect();
        all.sort_unstable();
        let split = all.partition_point(|&(ts, _)| ts < horizon);
        let mut walk = BlockWalk::new(BLOCK_MS);
        let mut max = 0;
        for &(_, slot) in &all[..split] {
            let e = self.ledger.get(slot);
            let cost = self.cost(e);
            walk.push(&block_entry(e, cost), |b| {
                if !b.is_gap {
                    max = max.max(b.tokens.total());
                }
            });
        }
        self.recent = all.split_off(split);
        self.anchor = walk;
        self.anchor_max = max;
        self.horizon_ms = horizon;
        self.needs_rebuild = false;
    }

    /// Keeps the recent list in time order as a response arrives or moves.
    fn place_recent(&mut self, slot: u32, ts: i64, old_ts: Option<i64>) {
        if let Some(old) = old_ts
            && old >= self.horizon_ms
        {
            let from = self.recent.partition_point(|&(t, _)| t < old);
            if let Some(i) = self.recent[from..].iter().position(|&r| r == (old, slot)) {
                self.recent.remove(from + i);
            }
        }
        if ts < self.horizon_ms || old_ts.is_some_and(|o| o < self.horizon_ms) {
            // The past changed: the walk before the horizon must be redone.
            self.needs_rebuild = true;
            return;
        }
        let at = self.recent.partition_point(|&r| r <= (ts, slot));
        self.recent.insert(at, (ts, slot));
    }

    /// Tracks the latest main-chain response and each session's largest prompt. Sidechain
    /// (subagent) responses and API-error lines do not move TEMP or MODEL.
    fn note_main_chain(&mut self, e: &Entry, slot: u32) {
        if e.has(FLAG_SIDECHAIN) || e.has(FLAG_API_ERROR) || e.tokens().total() == 0 {
            return;
        }
        let session = &self.files.get(e.file).session;
        let prompt = e.tokens().prompt();
        match self.session_prompt_max.get_mut(session) {
            Some(m) => *m = (*m).max(prompt),
            None => {
                self.session_prompt_max.insert(session.clone(), prompt);
            }
        }
        if self.last_main.is_none_or(|(ts, _)| e.ts_ms >= ts) {
            self.last_main = Some((e.ts_ms, slot));
        }
    }

    /// Adds what a response brought since the daemon started. A copy that replaces a
    /// smaller one adds the difference; counters never go down.
    fn count_since_start(&mut self, e: &Entry, old: Option<&Entry>) {
        let Some(model) = e.model() else { return };
        if self.models.name(model) == "<synthetic>" {
            return;
        }
        let (t, was) = (e.tokens(), old.map(Entry::tokens).unwrap_or_default());
        let old_cost = old.map_or(0.0, |o| self.cost(o));
        let cost = self.cost(e) - old_cost;
        let name = self.models.name(model).to_owned();
        let c = self.counters.entry(name).or_default();
        c.tokens += TokenCounts::new(
            t.input.saturating_sub(was.input),
            t.output.saturating_sub(was.output),
            t.cache_creation.saturating_sub(was.cache_creation),
            t.cache_read.saturating_sub(was.cache_read),
        );
        c.cost_usd += cost.max(0.0);
    }

    /// A response's cost in the configured mode (0 for a model without a price).
    fn cost(&self, e: &Entry) -> f64 {
        let price = e.model().and_then(|m| self.price_index[m as usize]);
        price_entry(self.cost_mode, price.map(|i| &self.prices.models()[i]), e).usd()
    }

    /// Looks up the price of every model interned since the last call, once per model.
    fn index_prices(&mut self) {
        let Live {
            models,
            prices,
            price_index,
            ..
        } = self;
        for name in models.names().skip(price_index.len()) {
            let found = prices
                .lookup(name)
                .and_then(|p| prices.models().iter().position(|m| std::ptr::eq(m, p)));
            price_index.push(found);
        }
    }
}

fn path_hash(p: &Path) -> u64 {
    xxhash_rust::xxh3::xxh3_64(p.as_os_str().as_encoded_bytes())
}

fn block_entry(e: &Entry, cost_usd: f64) -> BlockEntry<'static> {
    BlockEntry {
        ts_ms: e.ts_ms,
        tokens: e.tokens(),
        cost_usd,
        model: None,
        limit_reset_s: e.limit_reset_s(),
    }
}

/// The start and end (exclusive) of the local day holding `now_ms`, in milliseconds.
fn local_day(now_ms: i64, tz: &TimeZone) -> (i64, i64) {
    let ts = crate::timestamp::instant(now_ms);
    let date = tz.to_datetime(ts).date();
    let start_of = |d: jiff::civil::Date| {
        tz.to_ambiguous_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
            .compatible()
            .map_or(now_ms, |t| t.as_millisecond())
    };
    let next = date.tomorrow().unwrap_or(date);
    (start_of(date), start_of(next))
}
