//! `redline calibrate --check`: history replayed through the daemon's own live path
//! ([`Live`]) in virtual time, to see what the cluster would have shown. Not a second
//! implementation of any value or lamp: the transcript lines go into a [`Live`] in the
//! order they were written, and [`Live::usage`] is asked at every moment its answer can
//! change: each line's time (once every line of that instant is in), the moment a
//! response leaves the tach window, the moment activity lapses, the end of the open
//! block and the reset of a limit.
//!
//! Two things come out: the fuel gauge's estimate at the end of each block (its last
//! response), to hold against `redline report blocks` ([`fuel_vs_blocks`]), and the
//! stretches HOT and WARN were lit. The caller reads the files; this reads no clock.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::Path;

use redline_core::LampState;
use serde::Serialize;

use crate::blocks::Block;
use crate::ledger::FileId;
use crate::live::{Live, Settings};
use crate::prices::{CostMode, PriceTable};
use crate::timestamp;
use crate::usage::{Usage, round_share};

/// A moment to read the fuel gauge at: a block's last response, once the line that
/// holds it is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Checkpoint {
    /// When the line holding it is replayed: its time, or later when its file wrote a
    /// later time before it (the line is read in file order, as the daemon reads it).
    pub seen_ms: i64,
    /// The response's time.
    pub at_ms: i64,
}

/// The fuel gauge's estimate at a moment asked for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FuelReading {
    /// The moment asked for (a block's last response).
    pub at_ms: i64,
    /// When it was read: the first look at the values once that response's line was
    /// replayed.
    pub read_ms: i64,
    /// `window_5h_tokens`.
    pub tokens: Option<u64>,
    /// `window_5h_pct`.
    pub used: Option<f64>,
}

/// A stretch a lamp was lit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Episode {
    /// When it lit, milliseconds since the epoch.
    pub from_ms: i64,
    /// When it went dark (the end of the replay when it never did).
    pub to_ms: i64,
    /// Whether it blinked at some point.
    pub blinked: bool,
    /// The highest reading while lit: tokens per minute for HOT, the share of the
    /// window used for WARN.
    pub peak: f64,
    /// Why it lit, for WARN: `plan` (the window's share), `limit` (a usage limit not yet
    /// reset), `cold cache`; in the order first seen.
    pub why: Vec<&'static str>,
}

/// What the replay saw.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// The fuel gauge at each moment asked for, in order.
    pub fuel: Vec<FuelReading>,
    /// HOT's lit stretches.
    pub hot: Vec<Episode>,
    /// WARN's lit stretches.
    pub warn: Vec<Episode>,
    /// Times [`Live::usage`] was asked.
    pub evaluations: u64,
    /// Lines replayed.
    pub lines: u64,
}

/// One lamp's stretches as they happen.
#[derive(Debug, Default)]
struct Lamp {
    open: Option<Episode>,
    done: Vec<Episode>,
}

impl Lamp {
    fn see(&mut self, at: i64, state: LampState, value: f64, why: Option<&'static str>) {
        let lit = state.is_lit();
        match (&mut self.open, lit) {
            (Some(e), true) => {
                e.blinked |= state == LampState::Blink;
                e.peak = e.peak.max(value);
                if let Some(w) = why.filter(|w| !e.why.contains(w)) {
                    e.why.push(w);
                }
            }
            (Some(_), false) => {
                if let Some(mut e) = self.open.take() {
                    e.to_ms = at;
                    self.done.push(e);
                }
            }
            (None, true) => {
                self.open = Some(Episode {
                    from_ms: at,
                    to_ms: at,
                    blinked: state == LampState::Blink,
                    peak: value,
                    why: why.into_iter().collect(),
                });
            }
            (None, false) => {}
        }
    }

    fn finish(mut self, at: i64) -> Vec<Episode> {
        if let Some(mut e) = self.open.take() {
            e.to_ms = at.max(e.from_ms);
            self.done.push(e);
        }
        self.done
    }
}

/// A replay in progress: feed it every line in the order written (each file's lines in
/// file order; files interleaved by time), then [`Replay::finish`].
pub struct Replay {
    live: Live,
    settings: Settings,
    /// The latest moment replayed.
    clock: i64,
    /// Lines came in since the last look at the values that may change them.
    dirty: bool,
    /// The latest line's moment.
    last_line: Option<i64>,
    /// Moments the values can change without a line.
    due: BinaryHeap<Reverse<i64>>,
    last_block_end: Option<String>,
    last_reset: Option<String>,
    checkpoints: Vec<Checkpoint>,
    next_checkpoint: usize,
    fuel: Vec<FuelReading>,
    hot: Lamp,
    warn: Lamp,
    evaluations: u64,
    lines: u64,
}

impl Replay {
    /// A replay with the daemon's `settings`, pricing as it does, reading the fuel gauge
    /// at each of `checkpoints`.
    pub fn new(
        prices: PriceTable,
        cost_mode: CostMode,
        settings: Settings,
        mut checkpoints: Vec<Checkpoint>,
    ) -> Replay {
        checkpoints.sort_unstable();
        Replay {
            live: Live::new(prices, cost_mode),
            settings,
            clock: i64::MIN,
            dirty: false,
            last_line: None,
            due: BinaryHeap::new(),
            last_block_end: None,
            last_reset: None,
            checkpoints,
            next_checkpoint: 0,
            fuel: Vec::new(),
            hot: Lamp::default(),
            warn: Lamp::default(),
            evaluations: 0,
            lines: 0,
        }
    }

    /// The id of the transcript at `path` below the projects directory `root`.
    pub fn file(&mut self, root: &Path, path: &Path) -> Option<FileId> {
        self.live.file_id(root, path)
    }

    /// Replays line `line_no` of `file`, written at `ts_ms` (a line without a time of its
    /// own takes the one before it in its file). A time before the clock is read at the
    /// clock: the past is not looked at again.
    pub fn line(&mut self, file: FileId, line_no: u64, ts_ms: i64, bytes: &[u8]) {
        if ts_ms > self.clock {
            self.advance(ts_ms);
        }
        self.lines += 1;
        let counted = matches!(self.live.ingest(file, line_no, bytes), Ok(true));
        let s = &self.settings;
        // A line that counts nothing changes HOT and WARN only by making the cluster
        // active again (WARN's cold cache): the turn state is STALL's and IDLE's.
        let resumed = self
            .last_line
            .is_none_or(|t| self.clock.saturating_sub(t) >= s.thresholds.active_ms);
        self.dirty |= counted || resumed;
        self.last_line = Some(self.clock);
        if counted {
            let window = i64::try_from(s.tach_window_s.saturating_mul(1000)).unwrap_or(i64::MAX);
            self.due.push(Reverse(self.clock.saturating_add(window)));
        }
    }

    /// Looks at the values at every moment before `to` they can change.
    fn advance(&mut self, to: i64) {
        if self.dirty {
            self.dirty = false;
            self.evaluate(self.clock);
        }
        // Activity lapses when no line comes for the active window.
        if let Some(t) = self.last_line {
            let lapse = t.saturating_add(self.settings.thresholds.active_ms);
            if lapse > self.clock && lapse < to {
                self.due.push(Reverse(lapse));
            }
        }
        while let Some(&Reverse(d)) = self.due.peek() {
            if d >= to {
                break;
            }
            self.due.pop();
            if d > self.clock {
                self.clock = d;
                self.evaluate(d);
            }
        }
        self.clock = to;
    }

    fn evaluate(&mut self, now: i64) {
        let u = self.live.usage(now, &self.settings);
        self.evaluations += 1;
        while let Some(&c) = self.checkpoints.get(self.next_checkpoint)
            && c.seen_ms <= now
        {
            self.fuel.push(FuelReading {
                at_ms: c.at_ms,
                read_ms: now,
                tokens: u.window_5h_tokens,
                used: u.window_5h_pct,
            });
            self.next_checkpoint += 1;
        }
        self.hot
            .see(now, u.lamps.hot, u.rate_1m.unwrap_or(0.0), None);
        let why = self.warn_reason(&u);
        self.warn
            .see(now, u.lamps.warn, u.window_5h_pct.unwrap_or(0.0), why);
        // The open block's end and a limit's reset change the values without a line.
        for (held, next) in [
            (&mut self.last_block_end, &u.fuel.block_end),
            (&mut self.last_reset, &u.fuel.limit_reset_at),
        ] {
            if held != next {
                held.clone_from(next);
                if let Some(t) = next.as_deref().and_then(timestamp::parse) {
                    self.due.push(Reverse(t.ms));
                }
            }
        }
    }

    /// Why WARN is lit, by the lamp rule's conditions in its order.
    fn warn_reason(&self, u: &Usage) -> Option<&'static str> {
        if !u.lamps.warn.is_lit() {
            return None;
        }
        let t = &self.settings.thresholds;
        Some(if u.window_5h_pct.is_some_and(|p| p >= t.warn_used) {
            "plan"
        } else if u.fuel.limit_reset_at.is_some() {
            "limit"
        } else {
            "cold cache"
        })
    }

    /// Looks at the values up to `until_ms` and gives what was seen.
    pub fn finish(mut self, until_ms: i64) -> Outcome {
        let end = until_ms.max(self.clock);
        self.advance(end);
        if self.dirty {
            self.dirty = false;
            self.evaluate(end);
        }
        Outcome {
            fuel: self.fuel,
            hot: self.hot.finish(end),
            warn: self.warn.finish(end),
            evaluations: self.evaluations,
            lines: self.lines,
        }
    }
}

/// The fuel gauge held against `redline report blocks`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FuelCheck {
    /// Completed blocks compared (those left out are counted below).
    pub blocks: usize,
    /// The budget both sides used, tokens.
    pub budget: u64,
    /// The largest difference between the gauge's share used and the block's share of
    /// the budget (capped at 100 %, where the needle stops at E), in percentage points.
    pub largest_disagreement_pct: f64,
    /// The largest difference between the gauge's tokens and the block's.
    pub largest_token_difference: u64,
    /// The start of the block where the share differed most, when any did.
    pub worst_block_ms: Option<i64>,
    /// That block's tokens as the gauge showed them.
    pub worst_gauge_tokens: Option<u64>,
    /// That block's tokens as the report counts them.
    pub worst_report_tokens: Option<u64>,
    /// Blocks whose end the replay never reached.
    pub unread: usize,
    /// Blocks left out because their last response came at the instant the block ends
    /// (exactly five hours after its start), when ccusage's rule has already ended it and
    /// the gauge shows the next state.
    pub at_block_end: usize,
}

/// Compares the fuel gauge at the end of each completed block (`readings`, read at the
/// blocks' last responses in order) with the blocks' totals over `budget`.
pub fn fuel_vs_blocks(completed: &[&Block], readings: &[FuelReading], budget: u64) -> FuelCheck {
    let mut check = FuelCheck {
        blocks: completed.len(),
        budget,
        ..FuelCheck::default()
    };
    let mut worst = 0.0f64;
    for b in completed {
        let Some(end) = b.actual_end_ms else { continue };
        if end >= b.end_ms {
            // A response at the block's very last instant (exactly five hours after its
            // start): at that instant ccusage's rule has ended the block, so no gauge
            // ever shows its whole total.
            check.at_block_end += 1;
            continue;
        }
        let Some(r) = readings.iter().find(|r| r.at_ms == end) else {
            check.unread += 1;
            continue;
        };
        let total = b.tokens.total();
        let report = round_share((total as f64 / budget.max(1) as f64).clamp(0.0, 1.0));
        let gauge = r.used.unwrap_or(0.0);
        let off = (gauge - report).abs();
        if off > worst {
            worst = off;
            check.worst_block_ms = Some(b.start_ms);
            check.worst_gauge_tokens = r.tokens;
            check.worst_report_tokens = Some(total);
        }
        let tokens_off = r.tokens.unwrap_or(0).abs_diff(total);

        check.largest_token_difference = check.largest_token_difference.max(tokens_off);
    }
    check.blocks = completed.len() - check.unread - check.at_block_end;
    check.largest_disagreement_pct = (worst * 100.0 * 100.0).round() / 100.0;
    check
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocks::{BLOCK_MS, BlockEntry, build_blocks};
    use crate::live::Budget;
    use redline_core::TokenCounts;

    /// 2026-11-23T10:00:00Z.
    const T0: i64 = 1_795_428_000_000;

    fn line(id: u32, at_ms: i64, input: u64) -> String {
        format!(
            r#"{{"type":"assistant","isSidechain":false,"sessionId":"s","requestId":"req_{id}","timestamp":"{}","message":{{"id":"msg_{id}","model":"claude-sonnet-4-5","type":"message","role":"assistant","content":[{{"type":"text","text":"ok"}}],"usage":{{"input_tokens":{input},"output_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}}}}}"#,
            timestamp::format_ms(at_ms)
        )
    }

    #[test]
    fn lamps_and_fuel_through_the_live_path() {
        let mut s = Settings::default();
        s.scales.tach_redline = 1_000.0;
        s.budget = Budget::Tokens(3_000);
        let responses = [(1, T0, 2_000u64), (2, T0 + 120_000, 1_100)];
        let entries: Vec<BlockEntry<'_>> = responses
            .iter()
            .map(|&(_, t, input)| BlockEntry {
                ts_ms: t,
                tokens: TokenCounts::new(input, 0, 0, 0),
                cost_usd: 0.0,
                model: None,
                limit_reset_s: None,
            })
            .collect();
        let blocks = build_blocks(&entries, BLOCK_MS);
        let ends: Vec<Checkpoint> = blocks
            .iter()
            .filter_map(|b| b.actual_end_ms)
            .map(|at_ms| Checkpoint {
                seen_ms: at_ms,
                at_ms,
            })
            .collect();
        let mut r = Replay::new(PriceTable::bundled(), CostMode::Auto, s, ends);
        let file = r
            .file(Path::new("/p"), Path::new("/p/proj/s.jsonl"))
            .unwrap();
        for (n, &(id, t, input)) in responses.iter().enumerate() {
            r.line(file, n as u64 + 1, t, line(id, t, input).as_bytes());
        }
        let out = r.finish(T0 + 6 * 3_600_000);
        assert_eq!(out.lines, 2);

        // 2,000 tokens in 60 s is past 1.25 x 1,000: blinking until the response leaves
        // the window; 1,100 two minutes later: on, for the window's minute.
        let hot: Vec<(i64, i64, bool, f64)> = out
            .hot
            .iter()
            .map(|e| (e.from_ms - T0, e.to_ms - T0, e.blinked, e.peak))
            .collect();
        assert_eq!(
            hot,
            [
                (0, 60_000, true, 2_000.0),
                (120_000, 180_000, false, 1_100.0)
            ]
        );
        // 3,100 of 3,000 tokens: WARN blinks for the plan until the block ends (15:00).
        assert_eq!(out.warn.len(), 1);
        let w = &out.warn[0];
        assert_eq!((w.from_ms - T0, w.to_ms - T0), (120_000, 5 * 3_600_000));
        assert!(w.blinked);
        assert_eq!((w.peak, w.why.as_slice()), (1.0, ["plan"].as_slice()));

        // The gauge at the block's end is the report's block over the budget.
        assert_eq!(out.fuel.len(), 1);
        assert_eq!(out.fuel[0].tokens, Some(3_100));
        let completed: Vec<&Block> = blocks.iter().collect();
        let check = fuel_vs_blocks(&completed, &out.fuel, 3_000);
        assert_eq!(check.blocks, 1);
        assert_eq!(check.largest_disagreement_pct, 0.0);
        assert_eq!((check.largest_token_difference, check.unread), (0, 0));
        // Against another budget the gauge and the block differ: the check would say so.
        let off = fuel_vs_blocks(&completed, &out.fuel, 6_200);
        assert_eq!(off.largest_disagreement_pct, 50.0);
        assert_eq!(off.worst_block_ms, Some(T0));
    }
}
