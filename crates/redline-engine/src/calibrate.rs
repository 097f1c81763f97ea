//! Calibration: what a user's own history says the calibration variables should be, with
//! the evidence (`redline calibrate`). Pure: the caller reads the transcripts, the kept
//! rollups and the store's statusLine readings, and hands in the counted responses, the
//! turn marks of the main chains, the report's 5-hour blocks and `now`.
//!
//! One rule per key, each a function of history only (never of the value in force), so
//! writing the proposals and calibrating again proposes the same values:
//!
//! | key | figures | proposal |
//! |---|---|---|
//! | `tach_window` | gaps between consecutive responses of one session inside one turn | the P90 gap, rounded up to 15 s, within 30..600 s |
//! | `tach_redline` | the tach's peak in each active minute, over the proposed window | the P95, rounded to the nearest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^n |
//! | `block_budget` | completed 5-hour blocks; statusLine `rate_limits` readings | the median budget the readings imply; without readings, the largest completed block rounded up to three significant figures |
//! | `stall_after` | how long the model took to answer a prompt or a tool result | the P99, rounded up to 15 s, at least 30 s (at most an hour) |
//! | `cache_floor` | the cache hit rate at each active minute with enough prompt tokens | the P10, rounded down to 0.05 |
//! | `temp_cool`, `temp_hot` | the thinking ratio at each active minute | the P25 and the P90, rounded to 0.05, cool below hot |
//!
//! An *active minute* is a UTC minute in which at least one response (with tokens) was
//! written. Percentiles are nearest-rank: the P90 of 10 values is the 9th smallest.
//! Per-minute values are computed as the live daemon computes them (`live/tach.rs`,
//! `live/cache.rs`, `live/thinking.rs`): the tach counts input, output and cache-write
//! tokens in the trailing window `(t - w, t]`; the cache hit rate and the thinking ratio
//! look over the ratio window ending at the minute's newest response. Totals kept
//! elsewhere (rollups of deleted transcripts) count in blocks and budgets only: an hour's
//! tokens on one instant would read as one huge minute.
//!
//! [`check`] replays history through the live path in virtual time (`--check`).

pub mod check;

use std::collections::{HashMap, HashSet};

use redline_core::TokenCounts;
use redline_core::turn::LineMark;
use serde::Serialize;

use crate::blocks::{BLOCK_MS, Block, max_completed_total};
use crate::live::{Budget, Settings};
use crate::usage::round_share;

/// Seconds the time proposals round to.
pub const STEP_S: u64 = 15;
/// The tach window's proposal stays within these seconds.
pub const TACH_WINDOW_S: (u64, u64) = (30, 600);
/// The stall proposal stays within these seconds.
pub const STALL_AFTER_S: (u64, u64) = (30, 3600);
/// Readings below this share used are left out of the measured budget: a step of one
/// percentage point is then at most a tenth of the reading.
pub const MIN_READING_USED: f64 = 0.10;
/// The dial-friendly mantissas a redline is rounded to (x 10^n).
pub const DIAL_STEPS: [f64; 10] = [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0];

const MINUTE_MS: i64 = 60_000;

/// One counted response, as the rules read it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Response {
    /// Its time, milliseconds since the epoch.
    pub ts_ms: i64,
    /// Its session (an index the caller gives; subagents count with their parent).
    pub session: u32,
    /// Its tokens.
    pub tokens: TokenCounts,
    /// Its thinking tokens, when known (see [`crate::ledger::Entry::thinking_tokens`]).
    pub thinking: Option<f64>,
    /// A total kept elsewhere (a rollup of deleted transcripts): counted in blocks and
    /// budgets only.
    pub aggregate: bool,
}

/// A main-chain transcript line's place in its session's turn (see
/// [`crate::turnline`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    /// The session, as in [`Response::session`].
    pub session: u32,
    /// The line's time.
    pub ts_ms: i64,
    /// What it says of the turn.
    pub mark: LineMark,
}

/// A statusLine `rate_limits.five_hour` reading the daemon kept (see
/// [`crate::store::Limit`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reading {
    /// When it arrived.
    pub at_ms: i64,
    /// The share of the plan's 5-hour window used, 0..1.
    pub used: f64,
    /// When that window resets, seconds since the epoch.
    pub resets_at_s: i64,
}

/// The history the rules read.
#[derive(Clone, Copy, Debug)]
pub struct History<'a> {
    /// The counted responses of the days calibrated, sorted by time.
    pub responses: &'a [Response],
    /// The main chains' turn marks of those days, in each file's order.
    pub marks: &'a [Mark],
    /// The report's 5-hour blocks of those days (`redline report blocks`), gaps included.
    pub blocks: &'a [Block],
    /// The statusLine readings of those days.
    pub readings: &'a [Reading],
    /// Now: blocks still active are not completed.
    pub now_ms: i64,
}

/// The values in force, and the settings the rules read as they are.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Current {
    /// `tach_window`, seconds.
    pub tach_window_s: u64,
    /// `tach_redline`, tokens per minute.
    pub tach_redline: u64,
    /// `block_budget`.
    pub block_budget: Budget,
    /// `stall_after`, seconds.
    pub stall_after_s: u64,
    /// `[zones] cache_floor`.
    pub cache_floor: f64,
    /// `[zones] temp_cool`.
    pub temp_cool: f64,
    /// `[zones] temp_hot`.
    pub temp_hot: f64,
    /// `[lamps] warn_used`: WARN at this share of the window (not calibrated).
    pub warn_used: f64,
    /// `ratio_window`, seconds: TEMP's and BOOST's window (not calibrated).
    pub ratio_window_s: u64,
    /// `[lamps] cache_min_prompt_tokens` (not calibrated).
    pub cache_min_prompt_tokens: u64,
}

impl Current {
    /// The values the daemon runs with.
    pub fn from_settings(s: &Settings) -> Current {
        Current {
            tach_window_s: s.tach_window_s,
            tach_redline: s.tach_redline(),
            block_budget: s.budget,
            stall_after_s: (s.thresholds.stall_after_ms / 1000).max(0) as u64,
            cache_floor: s.scales.cache_floor,
            temp_cool: s.scales.temp_cool,
            temp_hot: s.scales.temp_hot,
            warn_used: s.thresholds.warn_used,
            ratio_window_s: s.ratio_window_s,
            cache_min_prompt_tokens: s.thresholds.cache_min_prompt_tokens,
        }
    }
}

/// One key's calibration: the value in force, the proposal (`None` when history says
/// nothing about it), the rule in words, and the figures behind it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Proposal<C, P, F> {
    /// The value in force.
    pub current: C,
    /// What history proposes.
    pub proposed: Option<P>,
    /// The rule, in words.
    pub rule: &'static str,
    /// Why there is no proposal, when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
    /// The figures.
    pub figures: F,
    /// The values the figures are percentiles of, for plots (not serialized).
    #[serde(skip)]
    pub samples: Vec<f64>,
}

/// A block budget as the config file writes it: a number of tokens or `"max"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum BudgetValue {
    /// A number of tokens.
    Tokens(u64),
    /// `"max"`.
    Max(&'static str),
}

impl From<Budget> for BudgetValue {
    fn from(b: Budget) -> BudgetValue {
        match b {
            Budget::Tokens(n) => BudgetValue::Tokens(n),
            Budget::Max => BudgetValue::Max("max"),
        }
    }
}

/// TEMP's zones.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Zones {
    /// Blue below.
    pub temp_cool: f64,
    /// Red above.
    pub temp_hot: f64,
}

/// `tach_window`'s figures: the gaps inside turns, in seconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TachWindowFigures {
    /// Gaps counted.
    pub gaps: usize,
    /// Median gap.
    pub p50_s: Option<f64>,
    /// P90 gap.
    pub p90_s: Option<f64>,
    /// P99 gap.
    pub p99_s: Option<f64>,
    /// Longest gap.
    pub max_s: Option<f64>,
    /// Share of gaps the current window spans.
    pub spanned_current: Option<f64>,
    /// Share of gaps the proposed window spans.
    pub spanned_proposed: Option<f64>,
}

/// `tach_redline`'s figures: the tach's peak in each active minute.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TachRedlineFigures {
    /// The window the distribution is computed over (the proposed one).
    pub window_s: u64,
    /// Active minutes.
    pub active_minutes: usize,
    /// Median peak, tokens per minute.
    pub p50: Option<f64>,
    /// P90 peak.
    pub p90: Option<f64>,
    /// P95 peak.
    pub p95: Option<f64>,
    /// P99 peak.
    pub p99: Option<f64>,
    /// Highest peak.
    pub max: Option<f64>,
    /// Minutes HOT was lit per active hour with the current redline and window.
    pub hot_per_active_hour_current: Option<f64>,
    /// The same with the proposed redline and window.
    pub hot_per_active_hour_proposed: Option<f64>,
}

/// `block_budget`'s figures: completed blocks and the statusLine's readings.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct BlockBudgetFigures {
    /// Completed (not gap, not active) blocks.
    pub completed_blocks: usize,
    /// Median block total, tokens.
    pub p50: Option<u64>,
    /// P90 block total.
    pub p90: Option<u64>,
    /// Largest block total.
    pub max: Option<u64>,
    /// `max` as `redline report blocks --token-limit max` (and ccusage) computes it.
    pub max_block_tokens: Option<u64>,
    /// The current budget in tokens (`max` resolved to `max_block_tokens`).
    pub current_tokens: Option<u64>,
    /// Share of completed blocks that would have lit WARN (the window's `warn_used`)
    /// with the current budget.
    pub warn_share_current: Option<f64>,
    /// Share that would have emptied the tank (100 %, E) with the current budget.
    pub empty_share_current: Option<f64>,
    /// WARN's share with the proposed budget.
    pub warn_share_proposed: Option<f64>,
    /// E's share with the proposed budget.
    pub empty_share_proposed: Option<f64>,
    /// statusLine readings of these days.
    pub readings: usize,
    /// Readings that measured the budget (the first of each new share in each window,
    /// at least 10 % used, with tokens here in that window).
    pub readings_used: usize,
    /// The median budget those readings imply: the plan's size, measured.
    pub measured_budget: Option<u64>,
    /// The smallest budget a reading implied.
    pub implied_min: Option<u64>,
    /// The largest budget a reading implied.
    pub implied_max: Option<u64>,
}

/// `stall_after`'s figures: how long the model took to answer, in seconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StallFigures {
    /// Waits counted (a prompt or tool result, then the first assistant line).
    pub waits: usize,
    /// Median wait.
    pub p50_s: Option<f64>,
    /// P90 wait.
    pub p90_s: Option<f64>,
    /// P99 wait.
    pub p99_s: Option<f64>,
    /// Longest wait.
    pub max_s: Option<f64>,
    /// Waits that would have lit STALL with the current value.
    pub over_current: usize,
    /// Waits that would have lit STALL with the proposed value.
    pub over_proposed: usize,
}

/// `cache_floor`'s figures: the cache hit rate at active minutes.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CacheFigures {
    /// Active minutes with enough prompt tokens in the ratio window.
    pub minutes: usize,
    /// P10 hit rate.
    pub p10: Option<f64>,
    /// P25 hit rate.
    pub p25: Option<f64>,
    /// Median hit rate.
    pub p50: Option<f64>,
    /// Share of those minutes below the current floor (WARN's cold cache).
    pub under_current: Option<f64>,
    /// Share below the proposed floor.
    pub under_proposed: Option<f64>,
}

/// The thinking zones' figures: the thinking ratio at active minutes.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TempFigures {
    /// Active minutes whose ratio window had output of known thinking.
    pub minutes: usize,
    /// P10 ratio.
    pub p10: Option<f64>,
    /// P25 ratio.
    pub p25: Option<f64>,
    /// Median ratio.
    pub p50: Option<f64>,
    /// P75 ratio.
    pub p75: Option<f64>,
    /// P90 ratio.
    pub p90: Option<f64>,
    /// Share of minutes blue (below `temp_cool`) with the current zones.
    pub blue_current: Option<f64>,
    /// Share red (above `temp_hot`) with the current zones.
    pub red_current: Option<f64>,
    /// Share blue with the proposed zones.
    pub blue_proposed: Option<f64>,
    /// Share red with the proposed zones.
    pub red_proposed: Option<f64>,
}

/// Every key's calibration, in the order `--json` prints them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Calibration {
    /// `tach_redline`.
    pub tach_redline: Proposal<u64, u64, TachRedlineFigures>,
    /// `block_budget`.
    pub block_budget: Proposal<BudgetValue, u64, BlockBudgetFigures>,
    /// `tach_window`.
    pub tach_window: Proposal<u64, u64, TachWindowFigures>,
    /// `stall_after`.
    pub stall_after: Proposal<u64, u64, StallFigures>,
    /// `[zones] cache_floor`.
    pub cache_floor: Proposal<f64, f64, CacheFigures>,
    /// `[zones] temp_cool` and `temp_hot`.
    pub temp_zones: Proposal<Zones, Zones, TempFigures>,
}

impl Calibration {
    /// The keys, as `--json` and `/api/calibrate` name them, in their order.
    pub const KEYS: [&'static str; 6] = [
        "tach_redline",
        "block_budget",
        "tach_window",
        "stall_after",
        "cache_floor",
        "temp_zones",
    ];
}

/// The rules, in words (`--json`'s `rule`, the table's `rule:` lines).
pub mod rules {
    /// `tach_window`.
    pub const TACH_WINDOW: &str = "the P90 of the gaps between consecutive responses of one session inside one turn (a prompt to the turn's end), rounded up to 15 s, within 30 to 600 s: the tach then holds between nine in ten of a turn's responses instead of dropping to zero";
    /// `tach_redline`.
    pub const TACH_REDLINE: &str = "the P95 of the tach's peak in each active minute, computed as the daemon does over the proposed window, rounded to the nearest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^n: HOT lights in about one active minute in twenty";
    /// `block_budget`.
    pub const BLOCK_BUDGET: &str = "with statusLine rate_limits readings, the median of the budgets they imply (the tokens of their 5-hour window up to the reading, all four kinds, over the share used; the first reading of each new share, from 10 % used), to three significant figures; without, the largest completed block (`max`, as ccusage computes it) rounded up to three significant figures";
    /// `stall_after`.
    pub const STALL_AFTER: &str = "the P99 of how long the model took to answer (a prompt or a tool result to the session's next assistant line), rounded up to 15 s, at least 30 s and at most an hour: STALL then lights for one wait in a hundred";
    /// `cache_floor`.
    pub const CACHE_FLOOR: &str = "the P10 of the cache hit rate over the ratio window at each active minute with at least cache_min_prompt_tokens prompt tokens, rounded down to 0.05: BOOST reads red and WARN lights for a cold cache in about one such minute in ten";
    /// `temp_zones`.
    pub const TEMP_ZONES: &str = "the P25 (temp_cool) and the P90 (temp_hot) of the thinking ratio over the ratio window at each active minute, rounded to 0.05, temp_hot at least 0.05 above temp_cool: TEMP reads blue a quarter of the time and red one time in ten";
}

/// Every proposal from `h`, with the figures at `current` and at the proposal.
pub fn calibrate(h: &History<'_>, current: &Current) -> Calibration {
    let minutes: Vec<&Response> = h
        .responses
        .iter()
        .filter(|r| !r.aggregate && r.tokens.total() > 0)
        .collect();
    let tach_window = tach_window(&minutes, h.marks, current);
    let window_s = tach_window.proposed.unwrap_or(current.tach_window_s);
    Calibration {
        tach_redline: tach_redline(&minutes, window_s, current),
        block_budget: block_budget(h, current),
        tach_window,
        stall_after: stall_after(h.marks, current),
        cache_floor: cache_floor(&minutes, current),
        temp_zones: temp_zones(&minutes, current),
    }
}

/// The nearest-rank percentile `per_mille` / 1000 of `sorted` (ascending).
pub fn percentile<T: Copy>(sorted: &[T], per_mille: u32) -> Option<T> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let rank = (u64::from(per_mille) * n as u64).div_ceil(1000) as usize;
    Some(sorted[rank.clamp(1, n) - 1])
}

/// `x` rounded to the nearest dial-friendly number (see [`DIAL_STEPS`]), nearest by
/// ratio; `None` for nothing positive.
pub fn dial_round(x: f64) -> Option<u64> {
    if !(x.is_finite() && x > 0.0) {
        return None;
    }
    let decade = 10f64.powi(x.log10().floor() as i32);
    DIAL_STEPS
        .iter()
        .map(|m| m * decade)
        .chain([10.0 * decade])
        .map(|c| ((c / x).ln().abs(), c))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.round().max(1.0) as u64)
}

/// Seconds rounded up to a whole number of [`STEP_S`], within `bounds`.
pub fn up_to_step(seconds: f64, bounds: (u64, u64)) -> u64 {
    let steps = (seconds / STEP_S as f64 - 1e-9).ceil().max(0.0) as u64;
    (steps * STEP_S).clamp(bounds.0, bounds.1)
}

/// `n` to `figures` significant figures, rounded up or to the nearest.
pub fn significant(n: u64, figures: u32, up: bool) -> u64 {
    let digits = n.checked_ilog10().map_or(1, |d| d + 1);
    if digits <= figures {
        return n;
    }
    let unit = 10u64.pow(digits - figures);
    let q = if up {
        n.div_ceil(unit)
    } else {
        (n + unit / 2) / unit
    };
    q * unit
}

/// A share rounded to twentieths (0.05): down, or to the nearest.
fn twentieths(x: f64, down: bool) -> f64 {
    let k = if down {
        (x * 20.0 + 1e-9).floor()
    } else {
        (x * 20.0).round()
    };
    k.clamp(0.0, 20.0) / 20.0
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

/// A share of `n` over `of`, to four places; `None` for nothing counted.
fn share(n: usize, of: usize) -> Option<f64> {
    (of > 0).then(|| round_share(n as f64 / of as f64))
}

fn seconds(ms: f64) -> f64 {
    (ms / 100.0).round() / 10.0
}

/// The gaps between consecutive responses of one session inside one turn, in
/// milliseconds: the last turn boundary at or before the first response is a prompt,
/// and no boundary (a prompt, the turn's end) comes before the second.
pub fn turn_gaps(responses: &[&Response], marks: &[Mark]) -> Vec<f64> {
    let mut bounds: HashMap<u32, Vec<(i64, bool)>> = HashMap::new();
    for m in marks {
        let start = match m.mark {
            LineMark::Prompt => true,
            LineMark::TurnEnd => false,
            _ => continue,
        };
        bounds.entry(m.session).or_default().push((m.ts_ms, start));
    }
    for b in bounds.values_mut() {
        // At one instant a turn's end comes before the next prompt.
        b.sort_by_key(|&(t, start)| (t, start));
    }
    let mut by_session: HashMap<u32, Vec<i64>> = HashMap::new();
    for r in responses {
        by_session.entry(r.session).or_default().push(r.ts_ms);
    }
    let mut gaps = Vec::new();
    for (session, mut times) in by_session {
        let Some(b) = bounds.get(&session) else {
            continue;
        };
        times.sort_unstable();
        for pair in times.windows(2) {
            let (t1, t2) = (pair[0], pair[1]);
            let at = b.partition_point(|&(t, _)| t <= t1);
            let in_turn = at > 0 && b[at - 1].1;
            let crossed = b.get(at).is_some_and(|&(t, _)| t <= t2);
            if in_turn && !crossed {
                gaps.push((t2 - t1) as f64);
            }
        }
    }
    sorted(gaps)
}

fn tach_window(
    minutes: &[&Response],
    marks: &[Mark],
    c: &Current,
) -> Proposal<u64, u64, TachWindowFigures> {
    let gaps = turn_gaps(minutes, marks);
    let proposed = percentile(&gaps, 900).map(|p90| up_to_step(p90 / 1000.0, TACH_WINDOW_S));
    let spanned = |w: u64| {
        share(
            gaps.iter().filter(|&&g| g < w as f64 * 1000.0).count(),
            gaps.len(),
        )
    };
    let at = |pm| percentile(&gaps, pm).map(seconds);
    Proposal {
        current: c.tach_window_s,
        proposed,
        rule: rules::TACH_WINDOW,
        note: proposed
            .is_none()
            .then_some("no two responses inside one turn in these days"),
        figures: TachWindowFigures {
            gaps: gaps.len(),
            p50_s: at(500),
            p90_s: at(900),
            p99_s: at(990),
            max_s: gaps.last().copied().map(seconds),
            spanned_current: spanned(c.tach_window_s),
            spanned_proposed: proposed.and_then(spanned),
        },
        samples: gaps.iter().map(|g| g / 1000.0).collect(),
    }
}

/// The tach's running sums: tokens (input, output, cache writes) up to each response.
struct TachSums<'a> {
    responses: &'a [&'a Response],
    prefix: Vec<u64>,
}

impl<'a> TachSums<'a> {
    fn new(responses: &'a [&'a Response]) -> TachSums<'a> {
        let mut prefix = Vec::with_capacity(responses.len() + 1);
        prefix.push(0);
        let mut sum = 0u64;
        for r in responses {
            sum += r.tokens.tach();
            prefix.push(sum);
        }
        TachSums { responses, prefix }
    }

    /// Responses at or before `t`.
    fn upto(&self, t: i64) -> usize {
        self.responses.partition_point(|r| r.ts_ms <= t)
    }

    /// The tach at `t` over `window_ms`, as `live/tach.rs` computes it: the tokens of
    /// `(t - window, t]`, per minute.
    fn at(&self, t: i64, window_ms: i64) -> f64 {
        let (lo, hi) = (self.upto(t - window_ms), self.upto(t));
        (self.prefix[hi] - self.prefix[lo]) as f64 * 60_000.0 / window_ms as f64
    }
}

/// The tach's peak in each active minute over a window of `window_s` seconds: the
/// highest of its value at the minute's start and just after each response in it. The
/// responses are sorted by time and all have tokens.
pub fn minute_peaks(responses: &[&Response], window_s: u64) -> Vec<f64> {
    let window_ms = (window_s.max(1) * 1000) as i64;
    let sums = TachSums::new(responses);
    let mut peaks = Vec::new();
    let mut i = 0;
    while i < responses.len() {
        let minute = responses[i].ts_ms.div_euclid(MINUTE_MS);
        let mut peak = sums.at(minute * MINUTE_MS, window_ms);
        while i < responses.len() && responses[i].ts_ms.div_euclid(MINUTE_MS) == minute {
            peak = peak.max(sums.at(responses[i].ts_ms, window_ms));
            i += 1;
        }
        peaks.push(peak);
    }
    peaks
}

/// Minutes HOT would light (a peak at or above `redline`) per active hour.
fn hot_per_hour(peaks: &[f64], redline: u64) -> Option<f64> {
    let hot = peaks.iter().filter(|&&p| p >= redline as f64).count();
    (!peaks.is_empty()).then(|| (hot as f64 * 60.0 / peaks.len() as f64 * 100.0).round() / 100.0)
}

fn tach_redline(
    minutes: &[&Response],
    window_s: u64,
    c: &Current,
) -> Proposal<u64, u64, TachRedlineFigures> {
    let peaks = minute_peaks(minutes, window_s);
    let ranked = sorted(peaks.clone());
    let proposed = percentile(&ranked, 950).and_then(dial_round);
    let at = |pm| percentile(&ranked, pm).map(|v| (v * 10.0).round() / 10.0);
    let now = if window_s == c.tach_window_s {
        hot_per_hour(&peaks, c.tach_redline)
    } else {
        hot_per_hour(&minute_peaks(minutes, c.tach_window_s), c.tach_redline)
    };
    Proposal {
        current: c.tach_redline,
        proposed,
        rule: rules::TACH_REDLINE,
        note: proposed
            .is_none()
            .then_some("no active minute with tokens in these days"),
        figures: TachRedlineFigures {
            window_s,
            active_minutes: peaks.len(),
            p50: at(500),
            p90: at(900),
            p95: at(950),
            p99: at(990),
            max: at(1000),
            hot_per_active_hour_current: now,
            hot_per_active_hour_proposed: proposed.and_then(|r| hot_per_hour(&peaks, r)),
        },
        samples: peaks,
    }
}

/// The budgets the statusLine's readings imply: for the first reading of each new share
/// in each window, at least [`MIN_READING_USED`] used, the tokens of the responses of its
/// window up to it (all four kinds) over that share. `responses` sorted by time.
pub fn implied_budgets(responses: &[Response], readings: &[Reading]) -> Vec<f64> {
    let mut prefix = Vec::with_capacity(responses.len() + 1);
    prefix.push(0u64);
    let mut sum = 0u64;
    for r in responses {
        sum += r.tokens.total();
        prefix.push(sum);
    }
    let mut by_time = readings.to_vec();
    by_time.sort_by_key(|r| r.at_ms);
    let mut highest: HashMap<i64, f64> = HashMap::new();
    let mut out = Vec::new();
    for r in by_time {
        let top = highest.entry(r.resets_at_s).or_insert(f64::NEG_INFINITY);
        if r.used <= *top {
            continue;
        }
        *top = r.used;
        if r.used < MIN_READING_USED {
            continue;
        }
        let from = r.resets_at_s.saturating_mul(1000).saturating_sub(BLOCK_MS);
        let lo = responses.partition_point(|x| x.ts_ms < from);
        let hi = responses.partition_point(|x| x.ts_ms <= r.at_ms);
        let tokens = prefix[hi.max(lo)] - prefix[lo];
        if tokens > 0 {
            out.push(tokens as f64 / r.used);
        }
    }
    sorted(out)
}

fn block_budget(h: &History<'_>, c: &Current) -> Proposal<BudgetValue, u64, BlockBudgetFigures> {
    let completed: Vec<u64> = {
        let mut v: Vec<u64> = h
            .blocks
            .iter()
            .filter(|b| !b.is_gap && !b.is_active(h.now_ms))
            .map(|b| b.tokens.total())
            .collect();
        v.sort_unstable();
        v
    };
    let max_block_tokens = max_completed_total(h.blocks, h.now_ms);
    let implied = implied_budgets(h.responses, h.readings);
    let measured = percentile(&implied, 500).map(|b| b.round() as u64);
    let proposed = match measured {
        Some(m) => Some(significant(m, 3, false)),
        None => max_block_tokens.map(|m| significant(m, 3, true)),
    };
    let current_tokens = match c.block_budget {
        Budget::Tokens(n) => Some(n),
        Budget::Max => max_block_tokens,
    };
    // As the gauge reads a block at its end: its share of the budget, to four places.
    let shares = |budget: Option<u64>| {
        let budget = budget.filter(|&b| b > 0)?;
        let used = |t: u64| round_share((t as f64 / budget as f64).clamp(0.0, 1.0));
        let warn = completed
            .iter()
            .filter(|&&t| used(t) >= c.warn_used)
            .count();
        let empty = completed.iter().filter(|&&t| used(t) >= 1.0).count();
        Some((
            share(warn, completed.len())?,
            share(empty, completed.len())?,
        ))
    };
    let (now, then) = (shares(current_tokens), shares(proposed));
    Proposal {
        current: c.block_budget.into(),
        proposed,
        rule: rules::BLOCK_BUDGET,
        note: proposed
            .is_none()
            .then_some("no completed 5-hour block and no statusLine reading in these days"),
        figures: BlockBudgetFigures {
            completed_blocks: completed.len(),
            p50: percentile(&completed, 500),
            p90: percentile(&completed, 900),
            max: completed.last().copied(),
            max_block_tokens,
            current_tokens,
            warn_share_current: now.map(|s| s.0),
            empty_share_current: now.map(|s| s.1),
            warn_share_proposed: then.map(|s| s.0),
            empty_share_proposed: then.map(|s| s.1),
            readings: h.readings.len(),
            readings_used: implied.len(),
            measured_budget: measured,
            implied_min: implied.first().map(|b| b.round() as u64),
            implied_max: implied.last().map(|b| b.round() as u64),
        },
        samples: completed.iter().map(|&t| t as f64).collect(),
    }
}

/// How long the model took to answer, in milliseconds: in each session, from a prompt or
/// tool result (the last of a run of them) to the next assistant line. A turn that ends
/// first (an interruption, its end) has no wait. One wait seen in two sessions (a resumed
/// session's replay) counts once.
pub fn answer_waits(marks: &[Mark]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..marks.len()).collect();
    order.sort_by_key(|&i| (marks[i].session, marks[i].ts_ms, i));
    let mut seen: HashSet<(i64, i64)> = HashSet::new();
    let mut waits = Vec::new();
    let mut waiting: Option<(u32, i64)> = None;
    for i in order {
        let m = marks[i];
        if waiting.is_some_and(|(s, _)| s != m.session) {
            waiting = None;
        }
        match m.mark {
            LineMark::Prompt | LineMark::ToolResult => waiting = Some((m.session, m.ts_ms)),
            LineMark::ToolUse | LineMark::Reply => {
                if let Some((_, since)) = waiting.take()
                    && seen.insert((since, m.ts_ms))
                {
                    waits.push((m.ts_ms - since).max(0) as f64);
                }
            }
            LineMark::TurnEnd => waiting = None,
        }
    }
    sorted(waits)
}

fn stall_after(marks: &[Mark], c: &Current) -> Proposal<u64, u64, StallFigures> {
    let waits = answer_waits(marks);
    let proposed = percentile(&waits, 990).map(|p99| up_to_step(p99 / 1000.0, STALL_AFTER_S));
    let over = |s: u64| waits.iter().filter(|&&w| w > s as f64 * 1000.0).count();
    let at = |pm| percentile(&waits, pm).map(seconds);
    Proposal {
        current: c.stall_after_s,
        proposed,
        rule: rules::STALL_AFTER,
        note: proposed
            .is_none()
            .then_some("no prompt or tool result answered in these days"),
        figures: StallFigures {
            waits: waits.len(),
            p50_s: at(500),
            p90_s: at(900),
            p99_s: at(990),
            max_s: waits.last().copied().map(seconds),
            over_current: over(c.stall_after_s),
            over_proposed: proposed.map_or(0, over),
        },
        samples: waits.iter().map(|w| w / 1000.0).collect(),
    }
}

/// What the ratio window holds at each active minute: (prompt tokens, cache reads,
/// thinking tokens known, output tokens of known thinking). The window is
/// `ratio_window_s` seconds ending at the minute's newest response, as TEMP and BOOST
/// look.
fn ratio_windows(responses: &[&Response], ratio_window_s: u64) -> Vec<(u64, u64, f64, u64)> {
    let window_ms = (ratio_window_s.max(1) * 1000) as i64;
    let mut prefix = Vec::with_capacity(responses.len() + 1);
    let mut acc = (0u64, 0u64, 0f64, 0u64);
    prefix.push(acc);
    for r in responses {
        acc.0 += r.tokens.prompt();
        acc.1 += r.tokens.cache_read;
        if let Some(t) = r.thinking {
            acc.2 += t;
            acc.3 += r.tokens.output;
        }
        prefix.push(acc);
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < responses.len() {
        let minute = responses[i].ts_ms.div_euclid(MINUTE_MS);
        while i + 1 < responses.len() && responses[i + 1].ts_ms.div_euclid(MINUTE_MS) == minute {
            i += 1;
        }
        let newest = responses[i].ts_ms;
        let lo = responses.partition_point(|r| r.ts_ms <= newest - window_ms);
        let (a, b) = (prefix[lo], prefix[i + 1]);
        out.push((b.0 - a.0, b.1 - a.1, b.2 - a.2, b.3 - a.3));
        i += 1;
    }
    out
}

/// The cache hit rate at each active minute whose ratio window holds at least
/// `min_prompt` prompt tokens (WARN's cold-cache condition looks no further).
pub fn minute_hit_rates(responses: &[&Response], ratio_window_s: u64, min_prompt: u64) -> Vec<f64> {
    ratio_windows(responses, ratio_window_s)
        .into_iter()
        .filter(|w| w.0 > 0 && w.0 >= min_prompt)
        .map(|w| w.1 as f64 / w.0 as f64)
        .collect()
}

/// The thinking ratio at each active minute whose ratio window has output of known
/// thinking.
pub fn minute_ratios(responses: &[&Response], ratio_window_s: u64) -> Vec<f64> {
    ratio_windows(responses, ratio_window_s)
        .into_iter()
        .filter(|w| w.3 > 0)
        .map(|w| w.2 / w.3 as f64)
        .collect()
}

fn cache_floor(minutes: &[&Response], c: &Current) -> Proposal<f64, f64, CacheFigures> {
    let rates = sorted(minute_hit_rates(
        minutes,
        c.ratio_window_s,
        c.cache_min_prompt_tokens,
    ));
    let proposed = percentile(&rates, 100).map(|p10| twentieths(p10, true).min(0.95));
    let under = |floor: f64| share(rates.iter().filter(|&&r| r < floor).count(), rates.len());
    let at = |pm| percentile(&rates, pm).map(round_share);
    Proposal {
        current: c.cache_floor,
        proposed,
        rule: rules::CACHE_FLOOR,
        note: proposed
            .is_none()
            .then_some("no active minute with enough prompt tokens in these days"),
        figures: CacheFigures {
            minutes: rates.len(),
            p10: at(100),
            p25: at(250),
            p50: at(500),
            under_current: under(c.cache_floor),
            under_proposed: proposed.and_then(under),
        },
        samples: rates,
    }
}

fn temp_zones(minutes: &[&Response], c: &Current) -> Proposal<Zones, Zones, TempFigures> {
    let ratios = sorted(minute_ratios(minutes, c.ratio_window_s));
    let proposed = percentile(&ratios, 250)
        .zip(percentile(&ratios, 900))
        .map(|(p25, p90)| {
            let cool = twentieths(p25, false).min(0.95);
            let hot = twentieths(p90, false).max(cool + 0.05);
            // Twentieths again: 0.35 + 0.05 is 0.39999999999999997 in floating point.
            Zones {
                temp_cool: cool,
                temp_hot: twentieths(hot, false),
            }
        });
    let zones = |z: Zones| {
        let blue = ratios.iter().filter(|&&r| r < z.temp_cool).count();
        let red = ratios.iter().filter(|&&r| r > z.temp_hot).count();
        (share(blue, ratios.len()), share(red, ratios.len()))
    };
    let now = zones(Zones {
        temp_cool: c.temp_cool,
        temp_hot: c.temp_hot,
    });
    let then = proposed.map(zones);
    let at = |pm| percentile(&ratios, pm).map(round_share);
    Proposal {
        current: Zones {
            temp_cool: c.temp_cool,
            temp_hot: c.temp_hot,
        },
        proposed,
        rule: rules::TEMP_ZONES,
        note: proposed
            .is_none()
            .then_some("no active minute with output of known thinking in these days"),
        figures: TempFigures {
            minutes: ratios.len(),
            p10: at(100),
            p25: at(250),
            p50: at(500),
            p75: at(750),
            p90: at(900),
            blue_current: now.0,
            red_current: now.1,
            blue_proposed: then.and_then(|t| t.0),
            red_proposed: then.and_then(|t| t.1),
        },
        samples: ratios,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocks::{BlockEntry, build_blocks};

    /// A Monday, midnight UTC: 2026-11-23.
    const DAY0: i64 = 1_795_392_000_000;
    const S: i64 = 1000;

    fn resp(t_s: i64, tokens: [u64; 4], thinking: Option<f64>) -> Response {
        Response {
            ts_ms: DAY0 + t_s * S,
            session: 0,
            tokens: TokenCounts::new(tokens[0], tokens[1], tokens[2], tokens[3]),
            thinking,
            aggregate: false,
        }
    }

    fn mark(t_s: i64, mark: LineMark) -> Mark {
        Mark {
            session: 0,
            ts_ms: DAY0 + t_s * S,
            mark,
        }
    }

    fn defaults() -> Current {
        Current::from_settings(&Settings::default())
    }

    fn blocks_of(responses: &[Response]) -> Vec<Block> {
        let entries: Vec<BlockEntry<'_>> = responses
            .iter()
            .map(|r| BlockEntry {
                ts_ms: r.ts_ms,
                tokens: r.tokens,
                cost_usd: 0.0,
                model: None,
                limit_reset_s: None,
            })
            .collect();
        build_blocks(&entries, BLOCK_MS)
    }

    fn run(
        responses: &[Response],
        marks: &[Mark],
        readings: &[Reading],
        c: &Current,
    ) -> Calibration {
        let blocks = blocks_of(responses);
        let h = History {
            responses,
            marks,
            blocks: &blocks,
            readings,
            now_ms: DAY0 + 400 * 86_400 * S,
        };
        calibrate(&h, c)
    }

    /// The values in force after writing every proposal of `cal` over `c`.
    fn written(cal: &Calibration, c: &Current) -> Current {
        let z = cal.temp_zones.proposed.unwrap_or(Zones {
            temp_cool: c.temp_cool,
            temp_hot: c.temp_hot,
        });
        Current {
            tach_window_s: cal.tach_window.proposed.unwrap_or(c.tach_window_s),
            tach_redline: cal.tach_redline.proposed.unwrap_or(c.tach_redline),
            block_budget: cal
                .block_budget
                .proposed
                .map_or(c.block_budget, Budget::Tokens),
            stall_after_s: cal.stall_after.proposed.unwrap_or(c.stall_after_s),
            cache_floor: cal.cache_floor.proposed.unwrap_or(c.cache_floor),
            temp_cool: z.temp_cool,
            temp_hot: z.temp_hot,
            ..*c
        }
    }

    fn proposals(cal: &Calibration) -> String {
        format!(
            "{:?} {:?} {:?} {:?} {:?} {:?}",
            cal.tach_redline.proposed,
            cal.block_budget.proposed,
            cal.tach_window.proposed,
            cal.stall_after.proposed,
            cal.cache_floor.proposed,
            cal.temp_zones.proposed
        )
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u32> = (1..=10).collect();
        assert_eq!(percentile(&v, 500), Some(5));
        assert_eq!(percentile(&v, 900), Some(9));
        assert_eq!(percentile(&v, 950), Some(10));
        assert_eq!(percentile(&v, 100), Some(1));
        assert_eq!(percentile(&v, 0), Some(1));
        assert_eq!(percentile(&v, 1000), Some(10));
        let hundred: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&hundred, 990), Some(99));
        assert_eq!(percentile::<u32>(&[], 500), None);
    }

    #[test]
    fn roundings() {
        // Nearest by ratio among 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^n.
        assert_eq!(dial_round(17_300.0), Some(15_000));
        assert_eq!(dial_round(17_400.0), Some(20_000));
        assert_eq!(dial_round(950.0), Some(1_000));
        assert_eq!(dial_round(2_730.0), Some(2_500));
        assert_eq!(dial_round(2_750.0), Some(3_000));
        assert_eq!(dial_round(7_000.0), Some(8_000));
        assert_eq!(dial_round(6_900.0), Some(6_000));
        assert_eq!(dial_round(1.0), Some(1));
        assert_eq!(dial_round(0.0), None);
        assert_eq!(up_to_step(30.0, TACH_WINDOW_S), 30);
        assert_eq!(up_to_step(30.4, TACH_WINDOW_S), 45);
        assert_eq!(up_to_step(5.0, TACH_WINDOW_S), 30);
        assert_eq!(up_to_step(9_000.0, TACH_WINDOW_S), 600);
        assert_eq!(up_to_step(247.0, TACH_WINDOW_S), 255);
        assert_eq!(significant(8_234_567, 3, true), 8_240_000);
        assert_eq!(significant(8_234_567, 3, false), 8_230_000);
        assert_eq!(significant(8_235_000, 3, false), 8_240_000);
        assert_eq!(significant(6_000_000, 3, true), 6_000_000);
        assert_eq!(significant(999, 3, true), 999);
        assert_eq!(twentieths(0.45, true), 0.45);
        assert_eq!(twentieths(0.9 * 0.5, true), 0.45);
        assert_eq!(twentieths(0.44, true), 0.4);
        assert_eq!(twentieths(0.374, false), 0.35);
        assert_eq!(twentieths(0.376, false), 0.4);
    }

    /// A steady user: a turn every ten minutes for a day; in each, a prompt and four
    /// responses 30 s apart (1,000 tach tokens each, 9,000 cache reads, a quarter of the
    /// output thinking) with three tool runs of 25 s between them.
    fn steady() -> (Vec<Response>, Vec<Mark>) {
        let (mut rs, mut ms) = (Vec::new(), Vec::new());
        for turn in 0..144 {
            let t = turn * 600;
            ms.push(mark(t, LineMark::Prompt));
            for (i, at) in [10, 40, 70, 100].into_iter().enumerate() {
                rs.push(resp(t + at, [100, 400, 500, 9_000], Some(100.0)));
                if i < 3 {
                    ms.push(mark(t + at, LineMark::ToolUse));
                    ms.push(mark(t + at + 25, LineMark::ToolResult));
                } else {
                    ms.push(mark(t + at, LineMark::Reply));
                }
            }
            ms.push(mark(t + 101, LineMark::TurnEnd));
        }
        (rs, ms)
    }

    #[test]
    fn a_steady_user() {
        let (rs, ms) = steady();
        let c = defaults();
        let cal = run(&rs, &ms, &[], &c);

        // Three gaps of 30 s per turn; the gap from a turn's end to the next prompt's
        // answer is not inside a turn.
        let w = &cal.tach_window;
        assert_eq!(w.figures.gaps, 3 * 144);
        assert_eq!((w.figures.p90_s, w.figures.max_s), (Some(30.0), Some(30.0)));
        assert_eq!(w.proposed, Some(30));
        // A window of 30 s, `(t - 30, t]`, never spans two responses 30 s apart.
        assert_eq!(w.figures.spanned_proposed, Some(0.0));
        assert_eq!(w.figures.spanned_current, Some(1.0));

        // Over 30 s, every response reads 1,000 tokens x 2 per minute, and each turn's
        // two active minutes peak there.
        let r = &cal.tach_redline;
        assert_eq!(r.figures.window_s, 30);
        assert_eq!(r.figures.active_minutes, 2 * 144);
        assert_eq!(
            (r.figures.p50, r.figures.max),
            (Some(2_000.0), Some(2_000.0))
        );
        assert_eq!(r.proposed, Some(2_000));
        assert_eq!(r.figures.hot_per_active_hour_current, Some(0.0));
        assert_eq!(r.figures.hot_per_active_hour_proposed, Some(60.0));

        // The model answered a prompt in 10 s and each tool result in 5 s.
        let s = &cal.stall_after;
        assert_eq!(s.figures.waits, 4 * 144);
        assert_eq!((s.figures.p50_s, s.figures.p99_s), (Some(5.0), Some(10.0)));
        assert_eq!(s.proposed, Some(30));
        assert_eq!((s.figures.over_current, s.figures.over_proposed), (0, 0));

        // 9,000 reads of 9,600 prompt tokens in every window: 0.9375, down to 0.9.
        let k = &cal.cache_floor;
        assert_eq!(k.figures.minutes, 2 * 144);
        assert_eq!(k.figures.p10, Some(0.9375));
        assert_eq!(k.proposed, Some(0.9));
        assert_eq!(
            (k.figures.under_current, k.figures.under_proposed),
            (Some(0.0), Some(0.0))
        );

        // A ratio of 0.25 everywhere: cool at 0.25, hot 0.05 above it.
        let z = &cal.temp_zones;
        assert_eq!(z.figures.p25, Some(0.25));
        assert_eq!(
            z.proposed,
            Some(Zones {
                temp_cool: 0.25,
                temp_hot: 0.3
            })
        );
        assert_eq!(z.figures.blue_current, Some(0.0));
        assert_eq!(z.figures.red_current, Some(0.0));

        // One block per five hours of the day: 4.8 blocks of 10,000 x 4 per turn...
        let b = &cal.block_budget;
        assert_eq!(b.figures.completed_blocks, 5);
        assert_eq!(b.figures.max, Some(30 * 4 * 10_000));
        assert_eq!(b.figures.max_block_tokens, b.figures.max);
        assert_eq!(b.current, BudgetValue::Max("max"));
        assert_eq!(b.proposed, Some(1_200_000));
        assert_eq!(b.figures.measured_budget, None);
    }

    /// A bursty user: a turn an hour; four quick responses 2 s apart whose size grows
    /// from turn to turn (1,000 to 20,000 tach tokens each), a 4-minute tool run, and a
    /// short answer (500). In the eighth turn the model takes 200 s over that answer.
    fn bursty() -> (Vec<Response>, Vec<Mark>) {
        let (mut rs, mut ms) = (Vec::new(), Vec::new());
        for k in 0..20u64 {
            let t = k as i64 * 3600;
            ms.push(mark(t, LineMark::Prompt));
            for at in [5, 7, 9, 11] {
                let cw = 1000 * (k + 1) - 500;
                rs.push(resp(t + at, [50, 450, cw, 20_000], Some(45.0)));
                ms.push(mark(
                    t + at,
                    if at == 11 {
                        LineMark::ToolUse
                    } else {
                        LineMark::Reply
                    },
                ));
            }
            ms.push(mark(t + 251, LineMark::ToolResult));
            let answer = if k == 7 { 451 } else { 258 };
            rs.push(resp(t + answer, [50, 450, 0, 20_000], Some(0.0)));
            ms.push(mark(t + answer, LineMark::Reply));
            ms.push(mark(t + answer + 1, LineMark::TurnEnd));
        }
        (rs, ms)
    }

    #[test]
    fn a_bursty_user() {
        let (rs, ms) = bursty();
        let c = defaults();
        let cal = run(&rs, &ms, &[], &c);

        // 60 gaps of 2 s, 19 of 247 s, one of 440 s: the P90 (the 72nd of 80) is 247 s,
        // so the window is 255 s.
        let w = &cal.tach_window;
        assert_eq!(w.figures.gaps, 80);
        assert_eq!(w.figures.p50_s, Some(2.0));
        assert_eq!(w.figures.p90_s, Some(247.0));
        assert_eq!(w.figures.max_s, Some(440.0));
        assert_eq!(w.proposed, Some(255));
        assert_eq!(w.figures.spanned_current, Some(0.75));
        assert_eq!(w.figures.spanned_proposed, Some(0.9875));

        // Over 255 s a burst reads 4 x 1,000 (k + 1) x 60 / 255 = 941.18 (k + 1) per
        // minute in its own minute, and 117.65 more with the answer (the burst still in
        // the window). The P95 (38th of 40) is turn 19's answer minute: 18,000, nearest
        // to 20,000.
        let r = &cal.tach_redline;
        assert_eq!(r.figures.active_minutes, 40);
        assert_eq!(r.figures.p50, Some(9_529.4));
        assert_eq!(r.figures.p95, Some(18_000.0));
        assert_eq!(r.figures.max, Some(18_941.2));
        assert_eq!(r.proposed, Some(20_000));
        // Now (60 s, 20,000): a burst of 4,000 (k + 1) per minute lights HOT from the
        // fifth turn on, 16 of the 40 active minutes.
        assert_eq!(r.figures.hot_per_active_hour_current, Some(24.0));
        assert_eq!(r.figures.hot_per_active_hour_proposed, Some(0.0));

        // Waits: 5 s after each prompt, 7 s after each tool run but one of 200 s; the
        // P99 (the 40th of 40) is 200 s, up to 210 s.
        let s = &cal.stall_after;
        assert_eq!(s.figures.waits, 40);
        assert_eq!(s.figures.p90_s, Some(7.0));
        assert_eq!(s.figures.max_s, Some(200.0));
        assert_eq!(s.proposed, Some(210));
        assert_eq!((s.figures.over_current, s.figures.over_proposed), (1, 0));
    }

    /// A user who hits the plan's limits: one response a day, from 1 M to 6 M tokens, each
    /// read by the statusLine at 6 M tokens a window.
    fn limited(plan: f64) -> (Vec<Response>, Vec<Reading>) {
        let (mut rs, mut rd) = (Vec::new(), Vec::new());
        for d in 0..6i64 {
            let t = d * 86_400 + 10 * 3600 + 1800;
            let tokens = 1_000_000 * (d as u64 + 1);
            rs.push(resp(t, [0, 0, 0, tokens], None));
            let reset_s = (DAY0 / 1000) + d * 86_400 + 15 * 3600;
            let reading = |after: i64, used: f64| Reading {
                at_ms: DAY0 + (t + after) * S,
                used,
                resets_at_s: reset_s,
            };
            rd.push(reading(60, (tokens as f64 / plan).min(1.0)));
            // Said again, and lower by a session that had not caught up: no new share.
            rd.push(reading(120, (tokens as f64 / plan).min(1.0)));
            rd.push(reading(180, 0.01));
        }
        (rs, rd)
    }

    #[test]
    fn a_user_who_hits_the_limits() {
        let (rs, rd) = limited(6_000_000.0);
        let mut c = defaults();
        let cal = run(&rs, &[], &rd, &c);
        let b = &cal.block_budget;
        assert_eq!(b.figures.completed_blocks, 6);
        assert_eq!(b.figures.p50, Some(3_000_000));
        assert_eq!(b.figures.p90, Some(6_000_000));
        assert_eq!(b.figures.max_block_tokens, Some(6_000_000));
        assert_eq!(b.figures.readings, 18);
        assert_eq!(b.figures.readings_used, 6);
        assert_eq!(b.figures.measured_budget, Some(6_000_000));
        assert_eq!(b.proposed, Some(6_000_000));
        // 5 M and 6 M of 6 M light WARN (80 %); 6 M empties the tank.
        assert_eq!(b.figures.warn_share_proposed, Some(0.3333));
        assert_eq!(b.figures.empty_share_proposed, Some(0.1667));
        assert_eq!(b.figures.current_tokens, Some(6_000_000));

        // A plan of 9 M: the readings say so, though no block came near.
        let (rs9, rd9) = limited(9_000_000.0);
        let b9 = run(&rs9, &[], &rd9, &c).block_budget;
        assert_eq!(b9.proposed, Some(9_000_000));
        // 1 M is 11 % of 9 M, counted; at 5 M of 45 M (11 %) too; below 10 % not.
        assert_eq!(b9.figures.readings_used, 6);
        assert_eq!(b9.figures.warn_share_proposed, Some(0.0));

        // Without readings: the largest block, rounded up to three figures.
        let mut odd = rs.clone();
        odd[5].tokens.cache_read = 6_012_345;
        let b = run(&odd, &[], &[], &c).block_budget;
        assert_eq!(b.figures.max_block_tokens, Some(6_012_345));
        assert_eq!(b.proposed, Some(6_020_000));
        // A fixed budget of 10 M: nothing reaches 80 % of it.
        c.block_budget = Budget::Tokens(10_000_000);
        let b = run(&odd, &[], &[], &c).block_budget;
        assert_eq!(b.current, BudgetValue::Tokens(10_000_000));
        assert_eq!(b.figures.warn_share_current, Some(0.0));
        assert_eq!(b.figures.empty_share_current, Some(0.0));
        // Rounded up, the largest block reads 99.87 %: the tank is never quite empty.
        assert_eq!(b.figures.warn_share_proposed, Some(0.3333));
        assert_eq!(b.figures.empty_share_proposed, Some(0.0));
    }

    #[test]
    fn readings_imply_budgets_from_their_own_window() {
        // Tokens before the window's start (reset - 5 h) and after the reading are not
        // the reading's.
        let rs = [
            resp(0, [0, 0, 0, 500], None),
            resp(3 * 3600, [0, 0, 0, 1_000], None),
            resp(4 * 3600, [0, 0, 0, 1_000], None),
            resp(5 * 3600, [0, 0, 0, 7_000], None),
        ];
        let reading = Reading {
            at_ms: DAY0 + (4 * 3600 + 1) * S,
            used: 0.2,
            resets_at_s: DAY0 / 1000 + 7 * 3600,
        };
        assert_eq!(implied_budgets(&rs, &[reading]), [10_000.0]);
        // Below 10 % used: left out; with no tokens in its window: left out.
        let low = Reading {
            used: 0.05,
            ..reading
        };
        assert!(implied_budgets(&rs, &[low]).is_empty());
        let elsewhere = Reading {
            resets_at_s: DAY0 / 1000 + 100 * 3600,
            at_ms: DAY0 + 99 * 3600 * S,
            ..reading
        };
        assert!(implied_budgets(&rs, &[elsewhere]).is_empty());
    }

    #[test]
    fn gaps_stay_inside_turns() {
        let rs = [
            resp(10, [1, 0, 0, 0], None),
            resp(20, [1, 0, 0, 0], None),
            resp(50, [1, 0, 0, 0], None),
            resp(100, [1, 0, 0, 0], None),
            resp(500, [1, 0, 0, 0], None),
        ];
        let refs: Vec<&Response> = rs.iter().collect();
        // Before any prompt nothing is inside a turn; the turn ends at 60.
        let ms = [
            mark(15, LineMark::Prompt),
            mark(60, LineMark::TurnEnd),
            mark(90, LineMark::Prompt),
        ];
        assert_eq!(turn_gaps(&refs, &ms), [30_000.0, 400_000.0]);
        // Another session's marks say nothing about this one.
        let other: Vec<Mark> = ms.iter().map(|m| Mark { session: 1, ..*m }).collect();
        assert!(turn_gaps(&refs, &other).is_empty());
    }

    #[test]
    fn waits_are_from_the_last_user_line_to_the_next_answer() {
        let ms = [
            mark(0, LineMark::Prompt),
            mark(12, LineMark::ToolUse),
            mark(13, LineMark::ToolUse),
            mark(40, LineMark::ToolResult),
            mark(41, LineMark::ToolResult),
            mark(50, LineMark::Reply),
            mark(51, LineMark::Reply),
            // Interrupted: no wait.
            mark(100, LineMark::Prompt),
            mark(130, LineMark::TurnEnd),
            mark(200, LineMark::Prompt),
        ];
        assert_eq!(answer_waits(&ms), [9_000.0, 12_000.0]);
        // The same wait in a resumed session's replay counts once.
        let mut twice = ms.to_vec();
        twice.extend(ms.iter().map(|m| Mark { session: 7, ..*m }));
        assert_eq!(answer_waits(&twice).len(), 2);
    }

    #[test]
    fn a_cold_cache_and_the_thinking_spread() {
        // Ten turns an hour apart, each one response: hit rates 0.1 to 1.0 over 20,000
        // prompt tokens, thinking ratios 0.05 to 0.5; one more with 5,000 prompt tokens
        // (under WARN's minimum) and no known thinking.
        let mut rs: Vec<Response> = (1..=10u64)
            .map(|i| {
                let read = 2_000 * i;
                resp(
                    i as i64 * 3600,
                    [20_000 - read, 1_000, 0, read],
                    Some(50.0 * i as f64),
                )
            })
            .collect();
        rs.push(resp(20 * 3600, [5_000, 1_000, 0, 0], None));
        let c = defaults();
        let cal = run(&rs, &[], &[], &c);
        let k = &cal.cache_floor;
        assert_eq!(k.figures.minutes, 10);
        assert_eq!((k.figures.p10, k.figures.p50), (Some(0.1), Some(0.5)));
        assert_eq!(k.proposed, Some(0.1));
        // Under 0.5: 0.1 to 0.4; under 0.1: none.
        assert_eq!(k.figures.under_current, Some(0.4));
        assert_eq!(k.figures.under_proposed, Some(0.0));
        let z = &cal.temp_zones;
        assert_eq!(z.figures.minutes, 10);
        assert_eq!((z.figures.p25, z.figures.p90), (Some(0.15), Some(0.45)));
        assert_eq!(
            z.proposed,
            Some(Zones {
                temp_cool: 0.15,
                temp_hot: 0.45
            })
        );
        // Now (0.2, 0.6): 0.05 to 0.15 blue, none red; proposed: 0.05, 0.1 blue, 0.5 red.
        assert_eq!(
            (z.figures.blue_current, z.figures.red_current),
            (Some(0.3), Some(0.0))
        );
        assert_eq!(
            (z.figures.blue_proposed, z.figures.red_proposed),
            (Some(0.2), Some(0.1))
        );
        // No turn marks: no window, stall or gap proposal, and the tach uses the window
        // in force.
        assert_eq!(cal.tach_window.proposed, None);
        assert!(cal.tach_window.note.is_some());
        assert_eq!(cal.stall_after.proposed, None);
        assert_eq!(cal.tach_redline.figures.window_s, 60);
    }

    #[test]
    fn writing_the_proposals_proposes_them_again() {
        let (mut rs, mut ms) = bursty();
        let (s_rs, s_ms) = steady();
        rs.extend(s_rs.iter().map(|r| Response {
            session: 3,
            ts_ms: r.ts_ms + 30 * 86_400 * S,
            ..*r
        }));
        ms.extend(s_ms.iter().map(|m| Mark {
            session: 3,
            ts_ms: m.ts_ms + 30 * 86_400 * S,
            ..*m
        }));
        rs.sort_by_key(|r| r.ts_ms);
        let (l_rs, rd) = limited(6_000_000.0);
        let c = defaults();
        for history in [&rs, &l_rs] {
            let first = run(history, &ms, &rd, &c);
            let again = run(history, &ms, &rd, &written(&first, &c));
            assert_eq!(proposals(&first), proposals(&again));
        }
    }

    #[test]
    fn an_empty_history_proposes_nothing() {
        let c = defaults();
        let cal = run(&[], &[], &[], &c);
        assert_eq!(proposals(&cal), "None None None None None None");
        assert!(cal.block_budget.note.is_some());
        let json = serde_json::to_value(&cal).unwrap();
        assert_eq!(json["block_budget"]["current"], "max");
        assert_eq!(json["tach_redline"]["current"], 20_000);
        assert!(json["tach_redline"]["proposed"].is_null());
        assert!(json["tach_redline"].get("samples").is_none());
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 6);
    }
}
