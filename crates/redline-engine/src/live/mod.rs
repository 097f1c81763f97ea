//! The live state: every counted response, kept deduplicated as lines arrive, and the
//! values computed from it for any `now`.
//!
//! The cold scan's ledger is kept whole (its dedup index too), so a copy written later,
//! in any file, still folds into the response it belongs to. The values need only recent
//! responses (the tach and ratio windows, today, the open 5-hour block) plus one fact
//! about the past: the block walk up to a horizon some two days back, with the largest
//! block it closed (the `max` budget). That walk is built once from the whole ledger and
//! rebuilt only when the horizon has moved an hour, or when a response older than the
//! horizon arrives; otherwise each value is a pass over the recent responses in its own
//! time range. Nothing here reads a clock: `now` is an argument, so scenarios run in
//! virtual time.
//!
//! Each value has its own file in `live/`: `tach.rs` (TACH), `window.rs` (FUEL, the 5-hour
//! window), `thinking.rs` (TEMP), `cache.rs` (BOOST), `cost.rs` (COST), `context.rs`
//! (CONTEXT), `model.rs` (MODEL) and `turns.rs` (the turn rule behind STALL and IDLE);
//! `claude.rs` holds what Claude Code said itself (statusLine), `otlp.rs` and
//! `external.rs` the other sources, `rollups.rs` and `hosts.rs` what the store and
//! `/api/hosts` need, `git.rs` the sessions the git counter looks at. This file reads lines into the ledger and puts the values together
//! into `/usage`, the lamps included.

mod cache;
mod claude;
mod context;
mod cost;
mod external;
mod git;
mod hosts;
mod model;
mod otlp;
mod rollups;
mod sources;
mod tach;
mod thinking;
mod turns;
mod window;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use jiff::tz::TimeZone;
use redline_core::TokenCounts;
use redline_core::gauges::{Dial, Readings, Scales, positions};
use redline_core::lamps::{LampInputs, Thresholds, lamps};
use redline_core::turn::SessionTurn;

use crate::blocks::{BLOCK_MS, BlockEntry, BlockWalk};
use crate::ledger::{
    Entry, FLAG_AGGREGATE, FLAG_API_ERROR, FLAG_SIDECHAIN, FLAG_UNKEYED, FileId, FileMeta, Files,
    Ledger, Models, Offered, Run,
};
use crate::prices::{CostMode, PriceTable, price_entry};
use crate::record::{LineProblem, parse_line};
use crate::report::{ModelNames, prepare_parts};
use crate::roots::Transcript;
use crate::scan::Scan;
use crate::stats::{Stat, Window};
use crate::turnline;
use crate::usage::{self, NeedleGauges, Usage};

pub use external::{External, ExternalBlock};
pub use hosts::HostDay;
pub use sources::{Candidate, Choice, Pick, SourceName, SourcePicks, ValueName, choose};

use claude::ClaudeState;
use external::ExternalState;
use otlp::OtlpState;

/// How far back the recent list reaches: enough for today in any time zone (a day can
/// last 25 hours) plus an open block that began five hours before midnight.
const RECENT_SPAN_MS: i64 = 48 * 3600 * 1000;
/// How far the horizon may fall behind before the walk is rebuilt.
const REBUILD_EVERY_MS: i64 = 3600 * 1000;

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
    /// Seconds of trailing window for the tach.
    pub tach_window_s: u64,
    /// A block's budget.
    pub budget: Budget,
    /// The dials on the four needles, left to right.
    pub needles: [Dial; 4],
    /// Scales and zones: the tach's redline, COST's full scale, TEMP's bands, the cache
    /// floor.
    pub scales: Scales,
    /// Lamp thresholds, the stall and stale limits among them.
    pub thresholds: Thresholds,
    /// The user's time zone: "today" for COST.
    pub tz: TimeZone,
    /// API errors this recent blink STALL.
    pub api_error_window_s: u64,
    /// Seconds of activity the thinking ratio and cache hit rate look back over.
    pub ratio_window_s: u64,
    /// Each value's source (`[sources]`; see [`choose`]).
    pub sources: SourcePicks,
}

impl Settings {
    /// Tokens per minute where the tach's red zone starts.
    pub fn tach_redline(&self) -> u64 {
        self.scales.tach_redline as u64
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            tach_window_s: 60,
            budget: Budget::Max,
            needles: Dial::DEFAULT_NEEDLES,
            scales: Scales::default(),
            thresholds: Thresholds::default(),
            tz: TimeZone::UTC,
            api_error_window_s: 300,
            ratio_window_s: 300,
            sources: SourcePicks::default(),
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
    /// Lines longer than [`crate::reader::MAX_LINE_BYTES`], passed over unread.
    pub long_lines: u64,
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
    /// Files under a session's `subagents/`: never the main chain.
    subagent_files: HashSet<FileId>,
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
    /// Per file (by id): the run of response lines its reading stands in (whose content
    /// counts).
    runs: Vec<Run>,
    /// Per file (by id): the number of the last line read from it, so that a reading that
    /// starts over is known as one even when nobody said so (see [`Live::ingest`]).
    lines_read: Vec<u64>,
    counters: BTreeMap<String, ModelCounters>,
    stats: LiveStats,
    /// The newest usage line's time.
    last_event_ms: Option<i64>,
    /// The newest telemetry of any source: IDLE's clock.
    telemetry_ms: Option<i64>,
    health: SourceHealth,
    /// Claude Code's own figures (statusLine) and hook-driven facts.
    claude: ClaudeState,
    /// Each session's turn state.
    turns: HashMap<String, SessionTurn>,
    /// What OpenTelemetry senders reported.
    otlp: OtlpState,
    /// Sessions that have a transcript here: their OpenTelemetry usage is not counted.
    transcript_sessions: HashSet<String>,
    /// Values read from Prometheus (`--source prometheus=URL`), which then stand for the
    /// ledger's.
    external: ExternalState,
    /// Rollup keys (see [`crate::archive::key_hash`]) whose transcript figures changed
    /// since they were stored: all that [`Live::plan_rollups`] found, then each one a line
    /// moves.
    rollups_due: crate::hashed::KeySet,
    /// Whose the rollups are: the roots read, on this host (see [`Live::set_scope`]).
    scope: Option<crate::archive::Scope>,
    /// Restored hours by rollup key, kept at what the store holds beyond the transcripts
    /// (see [`Live::restore_rollups`]).
    restored: HashMap<u64, rollups::Restoring>,
    /// The source chosen for each value at the last [`Live::usage`], and why.
    choices: Vec<Choice>,
    /// Whether what the store keeps is still to be read back (see
    /// [`Live::set_catching_up`]): `/usage` says its values are not final yet.
    catching_up: bool,
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
            ends,
            ..
        } = scan;
        let paths = (0..files.len())
            .map(|i| {
                let id = FileId::try_from(i).unwrap_or(FileId::MAX);
                (path_hash(&files.get(id).path), id)
            })
            .collect();
        let runs = ends.iter().map(|end| end.run).collect();
        let lines_read = ends.iter().map(|end| end.lines).collect();
        let mut live = Live {
            files,
            paths,
            subagent_files: HashSet::new(),
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
            runs,
            lines_read,
            counters: BTreeMap::new(),
            stats: LiveStats {
                lines: stats.lines,
                bad_lines: stats.bad_lines,
                long_lines: stats.long_lines,
                responses: 0,
                duplicates: 0,
            },
            last_event_ms: stats.newest_ms,
            telemetry_ms: stats.newest_ms,
            health: SourceHealth::default(),
            claude: ClaudeState::default(),
            turns: HashMap::new(),
            otlp: OtlpState::default(),
            transcript_sessions: HashSet::new(),
            external: ExternalState::default(),
            rollups_due: crate::hashed::KeySet::default(),
            scope: None,
            restored: HashMap::new(),
            choices: Vec::new(),
            catching_up: false,
        };
        for i in 0..live.files.len() {
            let id = FileId::try_from(i).unwrap_or(FileId::MAX);
            live.note_file(id);
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

    /// Remembers a new transcript's session and whether it is a subagent's.
    fn note_file(&mut self, id: FileId) {
        let meta = self.files.get(id);
        if meta.path.components().any(|c| c.as_os_str() == "subagents") {
            self.subagent_files.insert(id);
        }
        let session = meta.session.to_string();
        if self.transcript_sessions.insert(session.clone()) {
            self.void_otlp_session(&session);
        }
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
        let id = self.files.add(FileMeta {
            path: t.path,
            project: t.project,
            session: t.session,
        });
        self.paths.entry(hash).or_insert(id);
        self.note_file(id);
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
        if let Some(run) = self.runs.get_mut(file as usize) {
            *run = Run::default();
        }
        if let Some(n) = self.lines_read.get_mut(file as usize) {
            *n = 0;
        }
    }

    /// Reads one line of `file` as it arrives: its usage into the ledger, and what it says
    /// of its session's turn. `Ok(true)` when it changed what is counted.
    ///
    /// A line numbered at or before the last one read from `file` means the file is read
    /// again from its start without a [`Live::restart_file`]: it was deleted and written
    /// anew (its reader forgot it when it went, and meets the new one as a new file). It
    /// is taken as a restart, so the lines without `message.id` already counted from it
    /// are not counted again.
    pub fn ingest(&mut self, file: FileId, line_no: u64, line: &[u8]) -> Result<bool, LineProblem> {
        let at = file as usize;
        if self.lines_read.len() <= at {
            self.lines_read.resize(at + 1, 0);
        }
        if line_no <= self.lines_read[at] {
            self.restart_file(file);
        }
        self.lines_read[at] = line_no;
        self.stats.lines += 1;
        let rec = match parse_line(line) {
            Ok(Some(rec)) => rec,
            Ok(None) => {
                self.note_turn_line(file, line);
                return Ok(false);
            }
            Err(problem) => {
                self.stats.bad_lines += 1;
                return Err(problem);
            }
        };
        // The record already says what the turn needs: the line is not read again.
        self.note_turn(file, turnline::of_record(&rec));
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
        let at = file as usize;
        if self.runs.len() <= at {
            self.runs.resize(at + 1, Run::default());
        }
        let answer = self.runs[at].offer(
            &mut self.ledger,
            rec.key,
            rec.content_hash,
            entry,
            &self.files,
        );
        let (slot, old) = match answer {
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
        self.settle_restored(&e, old.as_ref());
        self.note_rollup(&e);
        if let Some(o) = &old {
            self.note_rollup(o);
        }
        self.claude.wrote = true;
        Ok(true)
    }

    /// Counts a line too long to read (see [`crate::reader::MAX_LINE_BYTES`]).
    pub fn note_long_line(&mut self) {
        self.stats.lines += 1;
        self.stats.long_lines += 1;
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
        self.with_dataset(&data_opts, |data| crate::stats::stat(which, data, w, &opts))
    }

    /// The responses priced and dated as reports see them with `opts`, handed to `f`.
    fn with_dataset<R>(
        &self,
        opts: &crate::report::ReportOptions,
        f: impl FnOnce(&crate::report::Dataset<'_>) -> R,
    ) -> R {
        let names = ModelNames::new(&self.models);
        let data = prepare_parts(
            &self.ledger,
            &self.models,
            &self.files,
            &self.prices,
            opts,
            &names,
            true,
        );
        f(&data)
    }

    /// Cost and tokens by day and hour of day over a window, with its daily report (for
    /// `/api/correlate` and `/api/stats/daily.csv`).
    pub fn usage_days(&self, w: &Window) -> crate::correlate::Usage {
        let opts = w.options(self.cost_mode);
        self.with_dataset(&opts, |data| {
            let since = crate::stats::first_day(data, w);
            crate::correlate::usage(data, &opts, since, w.today())
        })
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

    /// Says that the values are not final yet (`true`: the daemon serves before it has
    /// read back what its store keeps) or are now (`false`, the default): `/usage`'s
    /// `final` is its opposite.
    pub fn set_catching_up(&mut self, catching_up: bool) {
        self.catching_up = catching_up;
    }

    /// The whole `/usage` document at `now_ms`.
    pub fn usage(&mut self, now_ms: i64, s: &Settings) -> Usage {
        if self.needs_rebuild
            || now_ms.saturating_sub(self.horizon_ms) > RECENT_SPAN_MS + REBUILD_EVERY_MS
        {
            self.rebuild(now_ms);
        }
        let turn = self.turn_summary(now_ms, s);
        let ext = self.external.reading().cloned();
        let ratio_window = self.ratio_window(now_ms, s);
        let thinking = self.thinking(ratio_window);
        let cache = self.cache(ratio_window);
        let context = self.context(now_ms, s);

        // Each source's figures, then the choice per value (see `sources.rs`).
        let ledger_tach = self.tach_ledger(now_ms, s);
        let ledger_cost = self.cost_today(now_ms, s);
        let ledger_model = self.last_model(now_ms);
        let ext_model = ext.as_ref().and_then(|x| {
            let id = x.model.clone()?;
            Some(model::ModelValue {
                family: Some(redline_core::ModelFamily::of(&id)),
                id: Some(id),
                at_ms: x.newest_sample_ms.or(Some(now_ms)),
            })
        });
        let est_ledger = self.window_5h(now_ms, s, window::FuelFrom::Ledger("jsonl"), false);
        let est_ext = self.window_5h(now_ms, s, window::FuelFrom::Prometheus(ext.as_ref()), false);
        let five_hour = self
            .claude
            .five_hour
            .filter(|w| w.resets_at_s.saturating_mul(1000) > now_ms);
        let ext_failing = self.external.error.is_some();
        let prom = |has: bool, number: Option<f64>| Candidate {
            has_value: has && ext.is_some(),
            number: number.filter(|_| ext.is_some()),
            ..Candidate::new(
                SourceName::Prometheus,
                self.external.on,
                ext_failing,
                ext.as_ref().and_then(|x| x.newest_sample_ms),
            )
        };
        let ledger = |number: Option<f64>| {
            [
                (
                    SourceName::Jsonl,
                    self.health.error.is_some(),
                    self.last_event_ms,
                ),
                (
                    SourceName::Otlp,
                    self.otlp.error.is_some(),
                    self.otlp.last_event_ms,
                ),
            ]
            .map(|(src, failing, newest)| Candidate {
                has_value: newest.is_some(),
                number,
                ..Candidate::new(src, true, failing, newest)
            })
        };
        let status = Candidate {
            has_value: five_hour.is_some(),
            number: five_hour.map(|w| round4(w.used)),
            ..Candidate::new(
                SourceName::Statusline,
                self.claude.status_ms.is_some(),
                false,
                self.claude.status_ms,
            )
        };
        let with = |value: ValueName, mut cands: Vec<Candidate>| {
            cands.retain(|c| value.allows(c.source));
            choose(
                value,
                s.sources.get(value),
                &cands,
                now_ms,
                s.thresholds.stale_after_ms,
            )
        };
        let cat = |a: Vec<Candidate>, b: [Candidate; 2]| a.into_iter().chain(b).collect::<Vec<_>>();
        let fuel_c = with(
            ValueName::Fuel,
            cat(
                vec![status, prom(true, est_ext.used)],
                ledger(est_ledger.used),
            ),
        );
        let tach_c = with(
            ValueName::Tach,
            cat(
                vec![prom(true, ext.as_ref().map(|x| round1(x.tokens_per_min)))],
                ledger(Some(round1(ledger_tach))),
            ),
        );
        let cost_c = with(
            ValueName::Cost,
            cat(
                vec![prom(
                    true,
                    ext.as_ref().map(|x| usage::round_usd(x.cost_today_usd)),
                )],
                ledger(Some(usage::round_usd(ledger_cost.today_usd))),
            ),
        );
        let model_c = with(
            ValueName::Model,
            cat(vec![prom(ext_model.is_some(), None)], ledger(None)),
        );
        let ledger_only = |value: ValueName| with(value, ledger(None).to_vec());
        let thinking_c = ledger_only(ValueName::Thinking);
        let cache_c = ledger_only(ValueName::Cache);
        let context_c = ledger_only(ValueName::Context);

        let is = |c: &Choice, src: SourceName| c.source == Some(src);
        let ledger_name = |c: &Choice| {
            c.source
                .filter(|s| s.is_ledger())
                .unwrap_or(SourceName::Jsonl)
                .as_str()
        };
        let window = match fuel_c.source {
            Some(SourceName::Statusline) => {
                let prom_ok = self.external.on && !ext_failing && ext.is_some();
                let from = if prom_ok {
                    window::FuelFrom::Prometheus(ext.as_ref())
                } else {
                    window::FuelFrom::Ledger("jsonl")
                };
                let mut w = self.window_5h(now_ms, s, from, true);
                if five_hour.is_none() {
                    // Pinned to a statusLine whose window is not open: nothing to show.
                    (w.used, w.basis, w.source) = (None, None, None);
                }
                w
            }
            Some(SourceName::Prometheus) => {
                self.window_5h(now_ms, s, window::FuelFrom::Prometheus(ext.as_ref()), false)
            }
            _ => self.window_5h(
                now_ms,
                s,
                window::FuelFrom::Ledger(ledger_name(&fuel_c)),
                false,
            ),
        };
        let tach_from = tach_c.source.unwrap_or(SourceName::Jsonl);
        let raw_tach = if is(&tach_c, SourceName::Prometheus) {
            ext.as_ref().map_or(0.0, |x| x.tokens_per_min)
        } else {
            ledger_tach
        };
        let tokens_per_min = self.tach_held(raw_tach, now_ms, &turn);
        let cost_from = cost_c.source.unwrap_or(SourceName::Jsonl);
        let cost = if is(&cost_c, SourceName::Prometheus) {
            cost::CostValue {
                today_usd: ext.as_ref().map_or(0.0, |x| x.cost_today_usd),
            }
        } else {
            ledger_cost
        };
        let model_from = model_c.source.unwrap_or(SourceName::Jsonl);
        let model = if is(&model_c, SourceName::Prometheus) {
            ext_model
        } else {
            ledger_model
        };
        let cache_from = ledger_name(&cache_c);
        self.choices = vec![
            fuel_c, tach_c, cost_c, thinking_c, cache_c, context_c, model_c,
        ];
        let api_error = self.recent_api_error(now_ms, s);
        let ext = ext.as_ref();

        let share = |v: Option<f64>| v.map(usage::round_share);
        // The needles show what the wire says, to the same four places.
        let readings = Readings {
            tokens_per_min: Some(tokens_per_min),
            window_5h_used: window.used,
            thinking_ratio: share(thinking.value()),
            cache_hit_rate: share(cache.value()),
            cost_today_usd: Some(cost.today_usd),
            context: context.as_ref().map(|c| (c.used, c.window)),
            weekly_used: window.weekly.map(|w| w.used),
        };
        let annunciators = lamps(
            &LampInputs {
                now_ms,
                telemetry_ms: self.telemetry_ms,
                model: model.as_ref().and_then(|m| m.family.zip(m.at_ms)),
                tokens_per_min: Some(tokens_per_min),
                tach_redline: s.scales.tach_redline,
                window_5h_pct: window.used,
                limit_pending: window.limit_reset_s.is_some(),
                cache_hit_rate: cache.value(),
                cache_prompt_tokens: cache.prompt,
                source_failing: self.health.error.is_some()
                    || self.otlp.error.is_some()
                    || self.external.error.is_some(),
                recent_api_error: api_error,
                turn,
            },
            &s.thresholds,
        );
        let l = annunciators.lamps;
        let gauge_positions = positions(&s.needles, &readings, &s.scales);
        let family = annunciators.family.map(|f| f.as_str());
        Usage {
            version: redline_core::wire::USAGE_VERSION,
            rate_1m: Some((tokens_per_min * 10.0).round() / 10.0),
            window_5h_tokens: window.tokens,
            window_5h_pct: share(window.used),
            thinking_ratio: share(thinking.value()),
            cache_hit_rate: share(cache.value()),
            last_model: family,
            hot: l.hot.is_lit(),
            warn: l.warn.is_lit(),
            stall: l.stall.is_lit(),
            idle: l.idle == redline_core::LampState::Pulse,
            updated_at: usage::format_s(now_ms),
            is_final: !self.catching_up,
            sources: usage::Sources {
                jsonl: usage::Source::new(true, self.last_event_ms, self.health.error.clone()),
                otlp: usage::Source::new(true, self.otlp.last_event_ms, self.otlp.error.clone()),
                prometheus: usage::Source::new(
                    self.external.on,
                    ext.and_then(|x| x.newest_sample_ms),
                    self.external.error.clone(),
                ),
                statusline: usage::Source::new(
                    self.claude.status_ms.is_some(),
                    self.claude.status_ms,
                    None,
                ),
                hooks: usage::Source::new(self.claude.hook_ms.is_some(), self.claude.hook_ms, None),
            },
            tach: usage::Tach {
                tokens_per_min: (tokens_per_min * 10.0).round() / 10.0,
                redline: s.tach_redline(),
                window_s: s.tach_window_s,
                source: Some(tach_from.as_str()),
            },
            fuel: window.to_wire(),
            thinking: thinking.to_wire(s.ratio_window_s, true),
            cache: cache.to_wire(cache_from),
            cost: usage::Cost {
                today_usd: usage::round_usd(cost.today_usd),
                block_usd: window.block_usd.map(usage::round_usd),
                full_scale_usd: s.scales.cost_full_scale_usd,
                source: Some(cost_from.as_str()),
            },
            context: usage::Context {
                used_tokens: context.as_ref().map(|c| c.used),
                window_tokens: context.as_ref().map(|c| c.window),
                source: context.as_ref().map(|_| "jsonl"),
                session_id: context.map(|c| c.session),
            },
            model: usage::Model {
                id: model.and_then(|m| m.id).filter(|_| family.is_some()),
                family,
                color: annunciators.color,
                source: family.map(|_| model_from.as_str()),
            },
            turn: usage::Turn {
                in_progress: turn.in_progress,
                since: turn.since_ms.map(usage::format_s),
                basis: turn.basis.map(|b| b.as_str()),
            },
            needles: s.needles.map(Dial::name),
            gauges: NeedleGauges(std::array::from_fn(|i| (s.needles[i], gauge_positions[i]))),
            lamps: l,
        }
    }

    /// The source chosen for each value at the last [`Live::usage`], and why (for
    /// `/api/status`).
    pub fn choices(&self) -> &[Choice] {
        &self.choices
    }

    /// Whether an API error (a transcript's or an OpenTelemetry `api_error`) came within
    /// the error window before `now_ms`.
    fn recent_api_error(&self, now_ms: i64, s: &Settings) -> bool {
        let api_window_ms = i64::try_from(s.api_error_window_s * 1000).unwrap_or(i64::MAX);
        let from = now_ms.saturating_sub(api_window_ms);
        self.in_range(from, now_ms)
            .any(|(_, e)| e.has(FLAG_API_ERROR))
            || self.otlp.errors.iter().any(|&t| t > from && t <= now_ms)
    }

    /// The recent responses with `from < time <= to`, in time order.
    fn in_range(&self, from: i64, to: i64) -> impl Iterator<Item = (i64, &Entry)> {
        let start = self.recent.partition_point(|&(t, _)| t <= from);
        self.recent[start..]
            .iter()
            .take_while(move |&&(t, _)| t <= to)
            .map(|&(t, slot)| (t, self.ledger.get(slot)))
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

    /// Whether a response is on the main chain (SPEC.md): not a sidechain copy, not in a
    /// subagent's file, not `<synthetic>`, not an API error, not a total kept elsewhere.
    fn is_main_chain(&self, e: &Entry) -> bool {
        !e.has(FLAG_SIDECHAIN)
            && !e.has(FLAG_API_ERROR)
            && !e.has(FLAG_AGGREGATE)
            && !self.subagent_files.contains(&e.file)
            && e.model()
                .is_some_and(|m| self.models.name(m) != "<synthetic>")
            && e.tokens().total() > 0
    }

    /// Tracks the latest main-chain response and each session's largest prompt.
    fn note_main_chain(&mut self, e: &Entry, slot: u32) {
        if !self.is_main_chain(e) {
            return;
        }
        let session = &self.files.get(e.file).session;
        let prompt = e.tokens().prompt();
        match self.session_prompt_max.get_mut(&**session) {
            Some(m) => *m = (*m).max(prompt),
            None => {
                self.session_prompt_max.insert(session.to_string(), prompt);
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
    let start_of = |d: jiff::civil::Date| crate::days::start_ms(d, tz).unwrap_or(now_ms);
    let next = date.tomorrow().unwrap_or(date);
    (start_of(date), start_of(next))
}

/// A share to four places.
fn round4(v: f64) -> f64 {
    usage::round_share(v)
}

/// Tokens per minute to one place, as `/usage` shows them.
fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Milliseconds of a count of seconds, saturating.
fn ms(seconds: u64) -> i64 {
    i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX)
}
