//! Session blocks: ccusage 20.0.24's five-hour windows (`blocks`), reproduced exactly.
//!
//! This module owns the block walk over time-sorted responses (with the gap blocks ccusage
//! inserts between idle stretches), the active-block rule, burn rate, projection, the
//! `--token-limit max` basis and the `blocks --json` object. It is pure: the caller passes
//! the entries already sorted, does any date filtering and ordering of blocks itself, and
//! hands in `now` wherever the answer depends on the clock.

use redline_core::TokenCounts;
use serde_json::{Value, json};

use crate::timestamp::format_ms;

/// The default session length: five hours, in milliseconds.
pub const BLOCK_MS: i64 = 5 * 3600 * 1000;

const MINUTE_MS: i64 = 60 * 1000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
/// ccusage's `BLOCKS_WARNING_THRESHOLD`: a projection above this share of the limit warns.
const WARNING_SHARE: f64 = 0.8;

/// One counted response, as blocks need it. Entries are given sorted by time (stable: ties
/// keep the caller's order).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockEntry<'a> {
    /// Milliseconds since the epoch.
    pub ts_ms: i64,
    /// The four token counts.
    pub tokens: TokenCounts,
    /// The response's cost in USD, already resolved by the cost mode.
    pub cost_usd: f64,
    /// Display model name (already with a `-fast` suffix when applicable); None for no model
    /// / `<synthetic>` (never listed in `models`).
    pub model: Option<&'a str>,
    /// Usage-limit reset time in seconds since the epoch, if this entry is an API error
    /// carrying one.
    pub limit_reset_s: Option<i64>,
}

/// One session block, or a gap block between two of them.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// Start: the first entry's time floored to the UTC hour, or for a gap, the previous
    /// entry plus the session length.
    pub start_ms: i64,
    /// End: start plus the session length, or for a gap, the next entry's time.
    pub end_ms: i64,
    /// The last entry's time; `None` for a gap.
    pub actual_end_ms: Option<i64>,
    /// Whether this is a gap block (no entries, never active).
    pub is_gap: bool,
    /// Number of entries, zero-token API-error lines included.
    pub entries: u64,
    /// Token sums.
    pub tokens: TokenCounts,
    /// Cost sum in USD, added in time order (float order matters for the printed digits).
    pub cost_usd: f64,
    /// Display model names in first-seen order, without `None` entries.
    pub models: Vec<String>,
    /// The first entry's time (the burn rate's origin); `None` for a gap.
    pub first_ms: Option<i64>,
    /// The first usage-limit reset time found among the entries, seconds since the epoch.
    pub usage_limit_reset_s: Option<i64>,
}

/// Consumption speed of an active block.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BurnRate {
    /// All four token kinds per minute.
    pub tokens_per_minute: f64,
    /// Input plus output tokens per minute (cache left out).
    pub tokens_per_minute_for_indicator: f64,
    /// USD per hour.
    pub cost_per_hour: f64,
}

/// Where an active block ends up if the burn rate holds until its end.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Projection {
    /// Projected token total, rounded to a whole token.
    pub total_tokens: u64,
    /// Projected cost, rounded to cents.
    pub total_cost: f64,
    /// Minutes from now to the block's end, rounded.
    pub remaining_minutes: i64,
}

/// Floors to the UTC hour. `div_euclid` keeps times before the epoch flooring downwards.
fn floor_to_hour(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS) * HOUR_MS
}

impl Block {
    /// An empty normal block starting at `start_ms`. ccusage falls back to `end = start`
    /// when the addition overflows; kept for parity although no real timestamp gets there.
    fn open(start_ms: i64, block_ms: i64) -> Block {
        Block {
            start_ms,
            end_ms: start_ms.checked_add(block_ms).unwrap_or(start_ms),
            actual_end_ms: None,
            is_gap: false,
            entries: 0,
            tokens: TokenCounts::default(),
            cost_usd: 0.0,
            models: Vec::new(),
            first_ms: None,
            usage_limit_reset_s: None,
        }
    }

    /// The gap after an entry at `last_ms` when the next one comes at `next_ms`.
    fn gap(last_ms: i64, next_ms: i64, block_ms: i64) -> Block {
        Block {
            start_ms: last_ms.checked_add(block_ms).unwrap_or(last_ms),
            end_ms: next_ms,
            is_gap: true,
            ..Block::open(0, 0)
        }
    }

    fn push(&mut self, e: &BlockEntry<'_>) {
        self.entries += 1;
        self.tokens += e.tokens;
        self.cost_usd += e.cost_usd;
        if let Some(m) = e.model
            && !self.models.iter().any(|seen| seen == m)
        {
            self.models.push(m.to_owned());
        }
        self.first_ms.get_or_insert(e.ts_ms);
        self.actual_end_ms = Some(e.ts_ms);
        self.usage_limit_reset_s = self.usage_limit_reset_s.or(e.limit_reset_s);
    }

    /// ccusage's id: the ISO start time, prefixed `gap-` for a gap block.
    pub fn id(&self) -> String {
        if self.is_gap {
            format!("gap-{}", format_ms(self.start_ms))
        } else {
            format_ms(self.start_ms)
        }
    }

    /// ccusage's rule: less than one session length since the last entry, and before the
    /// block's end. Gap blocks are never active.
    ///
    /// The session length is `end - start`, which holds for every normal block, so it need
    /// not be stored.
    pub fn is_active(&self, now_ms: i64) -> bool {
        let block_ms = self.end_ms.saturating_sub(self.start_ms);
        !self.is_gap
            && self
                .actual_end_ms
                .is_some_and(|last| now_ms.saturating_sub(last) < block_ms && now_ms < self.end_ms)
    }

    /// Tokens and cost per unit of time between the first and the last entry. `None` unless
    /// the block is active, and when its entries all share one timestamp.
    pub fn burn_rate(&self, now_ms: i64) -> Option<BurnRate> {
        if !self.is_active(now_ms) {
            return None;
        }
        let (first, last) = (self.first_ms?, self.actual_end_ms?);
        let minutes = last.saturating_sub(first) as f64 / MINUTE_MS as f64;
        if minutes <= 0.0 {
            return None;
        }
        // Same operation order as ccusage, so the printed digits agree.
        Some(BurnRate {
            tokens_per_minute: self.tokens.total() as f64 / minutes,
            tokens_per_minute_for_indicator: (self.tokens.input + self.tokens.output) as f64
                / minutes,
            cost_per_hour: self.cost_usd / minutes * 60.0,
        })
    }

    /// The block's totals at its end if the burn rate holds. `None` when there is no burn
    /// rate (inactive block, or a single timestamp).
    pub fn projection(&self, now_ms: i64) -> Option<Projection> {
        let rate = self.burn_rate(now_ms)?;
        let remaining = (self.end_ms.saturating_sub(now_ms) as f64 / MINUTE_MS as f64).round();
        let tokens = self.tokens.total() as f64 + rate.tokens_per_minute * remaining;
        let cost = self.cost_usd + (rate.cost_per_hour / 60.0) * remaining;
        Some(Projection {
            total_tokens: tokens.round() as u64,
            total_cost: (cost * 100.0).round() / 100.0,
            remaining_minutes: remaining as i64,
        })
    }
}

/// ccusage's block walk, with gap blocks. `block_ms` is the session length (5 h by default).
///
/// The first entry opens a block at its time floored to the hour. An entry more than
/// `block_ms` after the block's start, or more than `block_ms` after the previous entry
/// (both strict), closes it and opens a new one at its own floored hour; in the second case
/// a gap block covers the stretch from the previous entry plus `block_ms` to that entry.
pub fn build_blocks(entries: &[BlockEntry<'_>], block_ms: i64) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut walk = BlockWalk::new(block_ms);
    for e in entries {
        walk.push(e, |closed| blocks.push(closed));
    }
    blocks.extend(walk.into_current());
    blocks
}

/// The block walk one entry at a time, for a reader that keeps going: the live daemon
/// walks its history once, keeps the walk, and continues it with recent entries.
#[derive(Clone, Debug)]
pub struct BlockWalk {
    block_ms: i64,
    current: Option<Block>,
    last_ms: i64,
}

impl BlockWalk {
    /// A walk that has seen nothing.
    pub fn new(block_ms: i64) -> BlockWalk {
        BlockWalk {
            block_ms,
            current: None,
            last_ms: 0,
        }
    }

    /// Adds the next entry (in time order). Blocks it closes, and the gap block after one
    /// of them, go to `closed` in order.
    pub fn push(&mut self, e: &BlockEntry<'_>, mut closed: impl FnMut(Block)) {
        let block_ms = self.block_ms;
        let current = match &mut self.current {
            Some(b) => {
                let since_start = e.ts_ms.saturating_sub(b.start_ms);
                let since_last = e.ts_ms.saturating_sub(self.last_ms);
                if since_start > block_ms || since_last > block_ms {
                    let next = Block::open(floor_to_hour(e.ts_ms), block_ms);
                    closed(std::mem::replace(b, next));
                    if since_last > block_ms {
                        closed(Block::gap(self.last_ms, e.ts_ms, block_ms));
                    }
                }
                b
            }
            None => self
                .current
                .insert(Block::open(floor_to_hour(e.ts_ms), block_ms)),
        };
        current.push(e);
        self.last_ms = e.ts_ms;
    }

    /// The block still open (the last one), if any entry was seen.
    pub fn current(&self) -> Option<&Block> {
        self.current.as_ref()
    }

    /// Ends the walk, giving the block still open.
    pub fn into_current(self) -> Option<Block> {
        self.current
    }
}

/// `--token-limit max`: the largest total of completed (non-gap, non-active) blocks among
/// `blocks`; None if none.
///
/// A largest total of 0 also gives `None`: ccusage then applies no limit at all.
pub fn max_completed_total(blocks: &[Block], now_ms: i64) -> Option<u64> {
    blocks
        .iter()
        .filter(|b| !b.is_gap && !b.is_active(now_ms))
        .map(|b| b.tokens.total())
        .max()
        .filter(|&max| max > 0)
}

/// ccusage's `json_float`: integral values become JSON integers (`0`, not `0.0`).
fn json_float(v: f64) -> Value {
    if v.is_finite() && v.fract() == 0.0 && v >= i64::MIN as f64 && v <= i64::MAX as f64 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

/// One block's JSON object.
fn block_json(b: &Block, now_ms: i64, token_limit: Option<u64>) -> Value {
    let burn_rate = b.burn_rate(now_ms).map(|r| {
        json!({
            "costPerHour": r.cost_per_hour,
            "tokensPerMinute": r.tokens_per_minute,
            "tokensPerMinuteForIndicator": r.tokens_per_minute_for_indicator,
        })
    });
    let projection = b.projection(now_ms);
    // Keys are written in byte order, which is also what a sorted serde_json map prints, so
    // the output is the same whether or not `preserve_order` gets enabled in the build.
    let mut v = json!({
        "actualEndTime": b.actual_end_ms.map(format_ms),
        "burnRate": burn_rate,
        "costUSD": json_float(b.cost_usd),
        "endTime": format_ms(b.end_ms),
        "entries": b.entries,
        "id": b.id(),
        "isActive": b.is_active(now_ms),
        "isGap": b.is_gap,
        "models": b.models,
        "projection": projection.map(|p| json!({
            "remainingMinutes": p.remaining_minutes,
            "totalCost": p.total_cost,
            "totalTokens": p.total_tokens,
        })),
        "startTime": format_ms(b.start_ms),
        "tokenCounts": {
            "cacheCreationInputTokens": b.tokens.cache_creation,
            "cacheReadInputTokens": b.tokens.cache_read,
            "inputTokens": b.tokens.input,
            "outputTokens": b.tokens.output,
        },
    });
    // `tokenLimitStatus` sorts after `tokenCounts` ('C' < 'L'), before `totalTokens`.
    if let (Some(p), Some(limit)) = (projection, token_limit) {
        let projected = p.total_tokens;
        let status = if projected > limit {
            "exceeds"
        } else if projected as f64 > limit as f64 * WARNING_SHARE {
            "warning"
        } else {
            "ok"
        };
        v["tokenLimitStatus"] = json!({
            "limit": limit,
            "percentUsed": projected as f64 / limit as f64 * 100.0,
            "projectedUsage": projected,
            "status": status,
        });
    }
    v["totalTokens"] = json!(b.tokens.total());
    if let Some(s) = b.usage_limit_reset_s {
        v["usageLimitResetTime"] = json!(format_ms(s.saturating_mul(1000)));
    }
    v
}

/// ccusage's `blocks --json` object for already-filtered, already-ordered blocks:
/// `{"blocks":[...]}`.
///
/// Every block has the same keys (`actualEndTime` and the like are `null` where they do not
/// apply); `tokenLimitStatus` appears only when `token_limit` is given and the block has a
/// projection, `usageLimitResetTime` only when a reset time was seen. `costUSD` prints
/// integral values as integers; the other floats print as serde_json's shortest form.
pub fn blocks_json(blocks: &[Block], now_ms: i64, token_limit: Option<u64>) -> Value {
    let list: Vec<Value> = blocks
        .iter()
        .map(|b| block_json(b, now_ms, token_limit))
        .collect();
    json!({ "blocks": list })
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = HOUR_MS;
    const M: i64 = MINUTE_MS;

    fn ms(s: &str) -> i64 {
        crate::timestamp::parse(s).unwrap().ms
    }

    fn tok(input: u64, output: u64, cache_creation: u64, cache_read: u64) -> TokenCounts {
        TokenCounts {
            input,
            output,
            cache_creation,
            cache_read,
        }
    }

    fn entry(ts_ms: i64, model: Option<&str>) -> BlockEntry<'_> {
        BlockEntry {
            ts_ms,
            tokens: tok(10, 1, 0, 0),
            cost_usd: 0.5,
            model,
            limit_reset_s: None,
        }
    }

    fn starts(blocks: &[Block]) -> Vec<(String, bool)> {
        blocks.iter().map(|b| (b.id(), b.is_gap)).collect()
    }

    #[test]
    fn no_entries_no_blocks() {
        assert!(build_blocks(&[], BLOCK_MS).is_empty());
    }

    #[test]
    fn floor_to_hour_is_euclidean() {
        assert_eq!(floor_to_hour(0), 0);
        assert_eq!(floor_to_hour(H - 1), 0);
        assert_eq!(floor_to_hour(H), H);
        assert_eq!(floor_to_hour(-1), -H);
        assert_eq!(floor_to_hour(-H), -H);
        assert_eq!(floor_to_hour(-H - 1), -2 * H);
        assert_eq!(
            floor_to_hour(ms("2026-02-10T22:16:56.821Z")),
            ms("2026-02-10T22:00:00.000Z")
        );
        // A block opened by an entry just before the epoch starts at 23:00 the day before.
        let b = build_blocks(&[entry(-1, None)], BLOCK_MS);
        assert_eq!(b[0].start_ms, -H);
        assert_eq!(b[0].id(), "1969-12-31T23:00:00.000Z");
    }

    #[test]
    fn entry_exactly_five_hours_after_start_stays() {
        let s = ms("2026-02-10T10:00:00.000Z");
        // 10:00, 12:00, 14:00, 15:00 (= start + 5 h exactly): one block.
        let e = [
            entry(s, None),
            entry(s + 2 * H, None),
            entry(s + 4 * H, None),
            entry(s + 5 * H, None),
        ];
        let b = build_blocks(&e, BLOCK_MS);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].entries, 4);
        assert_eq!(b[0].end_ms, s + 5 * H);
        assert_eq!(b[0].actual_end_ms, Some(s + 5 * H));
        // One millisecond later opens a new block at its own hour, with no gap.
        let e = [
            entry(s, None),
            entry(s + 2 * H, None),
            entry(s + 4 * H, None),
            entry(s + 5 * H + 1, None),
        ];
        let b = build_blocks(&e, BLOCK_MS);
        assert_eq!(
            starts(&b),
            [
                ("2026-02-10T10:00:00.000Z".to_string(), false),
                ("2026-02-10T15:00:00.000Z".to_string(), false),
            ]
        );
        assert_eq!((b[0].entries, b[1].entries), (3, 1));
    }

    #[test]
    fn five_hours_after_previous_entry_closes_without_gap_more_makes_one() {
        // 10:30 floors to 10:00, so 15:30 is past the start edge but exactly 5 h after the
        // previous entry: a new block and no gap (the since-last test is strict too).
        let s = ms("2026-02-10T10:30:00.000Z");
        let b = build_blocks(&[entry(s, None), entry(s + 5 * H, None)], BLOCK_MS);
        assert_eq!(
            starts(&b),
            [
                ("2026-02-10T10:00:00.000Z".to_string(), false),
                ("2026-02-10T15:00:00.000Z".to_string(), false),
            ]
        );
        // One millisecond more: a gap from previous + 5 h to the entry.
        let b = build_blocks(&[entry(s, None), entry(s + 5 * H + 1, None)], BLOCK_MS);
        assert_eq!(
            starts(&b),
            [
                ("2026-02-10T10:00:00.000Z".to_string(), false),
                ("gap-2026-02-10T15:30:00.000Z".to_string(), true),
                ("2026-02-10T15:00:00.000Z".to_string(), false),
            ]
        );
        assert_eq!(b[1].end_ms, s + 5 * H + 1);
        // Entries close together keep a block going only up to the start edge.
        let b = build_blocks(
            &[
                entry(s, None),
                entry(s + 3 * H, None),
                entry(s + 5 * H, None),
            ],
            BLOCK_MS,
        );
        assert_eq!(b.len(), 2);
        assert!(!b[1].is_gap);
        // The session length is a parameter: with 8 h the same pair is one block.
        assert_eq!(
            build_blocks(&[entry(s, None), entry(s + 5 * H + 1, None)], 8 * H).len(),
            1
        );
    }

    #[test]
    fn gap_block_bounds_and_id() {
        // The rules' example: last entry 11:30, next 18:00 -> gap 16:30 -> 18:00.
        let e = [
            entry(ms("2026-02-10T10:05:00.000Z"), Some("a")),
            entry(ms("2026-02-10T11:30:00.000Z"), Some("a")),
            entry(ms("2026-02-10T18:00:00.000Z"), Some("b")),
        ];
        let b = build_blocks(&e, BLOCK_MS);
        assert_eq!(b.len(), 3);
        let gap = &b[1];
        assert!(gap.is_gap);
        assert_eq!(gap.start_ms, ms("2026-02-10T16:30:00.000Z"));
        assert_eq!(gap.end_ms, ms("2026-02-10T18:00:00.000Z"));
        assert_eq!(gap.id(), "gap-2026-02-10T16:30:00.000Z");
        assert_eq!(gap.entries, 0);
        assert_eq!(gap.actual_end_ms, None);
        assert!(gap.models.is_empty());
        assert_eq!(b[0].actual_end_ms, Some(ms("2026-02-10T11:30:00.000Z")));
        assert_eq!(b[2].start_ms, ms("2026-02-10T18:00:00.000Z"));
        assert_eq!(b[2].models, ["b"]);
        // Even "now" inside the gap does not make it active.
        assert!(!gap.is_active(ms("2026-02-10T17:00:00.000Z")));
    }

    #[test]
    fn is_active_boundaries() {
        let s = ms("2026-02-10T10:00:00.000Z");
        let b = &build_blocks(&[entry(s + 30 * M, None), entry(s + H, None)], BLOCK_MS)[0];
        assert_eq!(b.end_ms, s + 5 * H);
        assert!(b.is_active(s + H));
        assert!(b.is_active(s + 5 * H - 1));
        assert!(!b.is_active(s + 5 * H), "now == end is not active");
        // A last entry in the future (clock skew) still counts as recent.
        assert!(b.is_active(s));
        // The since-last rule binds when the length is not end - start, which only a
        // hand-made block shows: last entry 10:00, end 20:00, length 10 h.
        let odd = Block {
            end_ms: s + 10 * H,
            actual_end_ms: Some(s),
            ..b.clone()
        };
        assert!(odd.is_active(s + 10 * H - 1));
        let short = Block {
            start_ms: s + 8 * H,
            ..odd.clone()
        };
        // Length 2 h now, and 9 h since the last entry: not active although before the end.
        assert!(!short.is_active(s + 9 * H));
    }

    /// 10:00 block, entries at 10:10 (1000 in, 500 out, 2000 cache read, $1.50) and 10:50
    /// (500 in, 0 out, 1000 cache write, $0.90, API error with a reset time).
    fn worked_block() -> Block {
        let e = [
            BlockEntry {
                ts_ms: ms("2026-02-10T10:10:00.000Z"),
                tokens: tok(1000, 500, 0, 2000),
                cost_usd: 1.5,
                model: Some("claude-opus-4-6"),
                limit_reset_s: None,
            },
            BlockEntry {
                ts_ms: ms("2026-02-10T10:30:00.000Z"),
                tokens: TokenCounts::default(),
                cost_usd: 0.0,
                model: None,
                limit_reset_s: Some(1_767_286_800),
            },
            BlockEntry {
                ts_ms: ms("2026-02-10T10:50:00.000Z"),
                tokens: tok(500, 0, 1000, 0),
                cost_usd: 0.9,
                model: Some("claude-haiku-4-5"),
                limit_reset_s: Some(1_800_000_000),
            },
        ];
        let b = build_blocks(&e, BLOCK_MS);
        assert_eq!(b.len(), 1);
        b.into_iter().next().unwrap()
    }

    #[test]
    fn burn_rate_and_projection_by_hand() {
        let b = worked_block();
        assert_eq!(b.tokens.total(), 5000);
        assert_eq!(b.entries, 3);
        let now = ms("2026-02-10T11:00:00.000Z");
        // 40 minutes between the first and last entry.
        let r = b.burn_rate(now).unwrap();
        assert_eq!(r.tokens_per_minute, 125.0);
        assert_eq!(r.tokens_per_minute_for_indicator, 50.0);
        assert!((r.cost_per_hour - 3.6).abs() < 1e-12, "{}", r.cost_per_hour);
        // 4 h left = 240 min: 5000 + 125 * 240 = 35000; 2.4 + 0.06 * 240 = 16.8.
        let p = b.projection(now).unwrap();
        assert_eq!(p.remaining_minutes, 240);
        assert_eq!(p.total_tokens, 35_000);
        assert_eq!(p.total_cost, 16.8);
        // Remaining minutes round to nearest: 239.5 min left rounds away from zero.
        let p = b.projection(now + 30 * 1000).unwrap();
        assert_eq!(p.remaining_minutes, 240);
        let p = b.projection(now + 31 * 1000).unwrap();
        assert_eq!(p.remaining_minutes, 239);
        assert_eq!(p.total_tokens, 5000 + 125 * 239);
        // Inactive: neither.
        let after = ms("2026-02-10T15:00:00.000Z");
        assert_eq!(b.burn_rate(after), None);
        assert_eq!(b.projection(after), None);
    }

    #[test]
    fn single_timestamp_has_no_burn_rate() {
        let t = ms("2026-02-10T10:10:00.000Z");
        let b = &build_blocks(&[entry(t, None), entry(t, None)], BLOCK_MS)[0];
        assert!(b.is_active(t + M));
        assert_eq!(b.burn_rate(t + M), None);
        assert_eq!(b.projection(t + M), None);
    }

    #[test]
    fn models_first_seen_and_reset_from_first_entry_with_one() {
        let b = worked_block();
        assert_eq!(b.models, ["claude-opus-4-6", "claude-haiku-4-5"]);
        assert_eq!(b.usage_limit_reset_s, Some(1_767_286_800));
        let e = [
            entry(0, Some("b")),
            entry(1, None),
            entry(2, Some("a")),
            entry(3, Some("b")),
            entry(4, Some("c")),
        ];
        let b = &build_blocks(&e, BLOCK_MS)[0];
        assert_eq!(b.models, ["b", "a", "c"]);
        assert_eq!(b.entries, 5);
        assert_eq!(b.cost_usd, 2.5);
        assert_eq!(b.usage_limit_reset_s, None);
    }

    #[test]
    fn max_completed_skips_gaps_and_active() {
        let s = ms("2026-02-10T00:00:00.000Z");
        let mut big = entry(s + 20 * H, None);
        big.tokens = tok(1_000_000, 0, 0, 0);
        let e = [
            entry(s, None),                  // block 1: 11 tokens
            entry(s + 10 * H, None),         // gap, then block 2: 11 + 22
            entry(s + 10 * H + M, None),     //
            entry(s + 10 * H + 2 * M, None), // block 2: 33 tokens
            big,                             // gap, then block 3 (active below)
        ];
        let blocks = build_blocks(&e, BLOCK_MS);
        assert_eq!(blocks.len(), 5);
        let now = s + 20 * H + M;
        assert!(blocks[4].is_active(now));
        assert_eq!(max_completed_total(&blocks, now), Some(33));
        // Once the big block has ended, it counts.
        assert_eq!(max_completed_total(&blocks, s + 30 * H), Some(1_000_000));
        // Only gaps and an active block: none.
        let only = [blocks[1].clone(), blocks[4].clone()];
        assert_eq!(max_completed_total(&only, now), None);
        assert_eq!(max_completed_total(&[], now), None);
    }

    #[test]
    fn json_of_normal_and_gap_blocks() {
        let e = [
            BlockEntry {
                ts_ms: ms("2026-02-10T22:16:56.821Z"),
                tokens: tok(219, 28, 39438, 457858),
                cost_usd: 0.1250208,
                model: Some("claude-haiku-4-5-20251001"),
                limit_reset_s: Some(1_767_286_800),
            },
            BlockEntry {
                ts_ms: ms("2026-02-11T20:36:53.585Z"),
                tokens: tok(1, 2, 3, 4),
                cost_usd: 2.0,
                model: None,
                limit_reset_s: None,
            },
        ];
        let blocks = build_blocks(&e, BLOCK_MS);
        let now = ms("2026-03-01T00:00:00.000Z");
        let got = blocks_json(&blocks[..2], now, Some(1000));
        let want = json!({"blocks": [
            {
                "actualEndTime": "2026-02-10T22:16:56.821Z",
                "burnRate": null,
                "costUSD": 0.1250208,
                "endTime": "2026-02-11T03:00:00.000Z",
                "entries": 1,
                "id": "2026-02-10T22:00:00.000Z",
                "isActive": false,
                "isGap": false,
                "models": ["claude-haiku-4-5-20251001"],
                "projection": null,
                "startTime": "2026-02-10T22:00:00.000Z",
                "tokenCounts": {
                    "cacheCreationInputTokens": 39438,
                    "cacheReadInputTokens": 457858,
                    "inputTokens": 219,
                    "outputTokens": 28
                },
                "totalTokens": 497543,
                "usageLimitResetTime": "2026-01-01T17:00:00.000Z"
            },
            {
                "actualEndTime": null,
                "burnRate": null,
                "costUSD": 0,
                "endTime": "2026-02-11T20:36:53.585Z",
                "entries": 0,
                "id": "gap-2026-02-11T03:16:56.821Z",
                "isActive": false,
                "isGap": true,
                "models": [],
                "projection": null,
                "startTime": "2026-02-11T03:16:56.821Z",
                "tokenCounts": {
                    "cacheCreationInputTokens": 0,
                    "cacheReadInputTokens": 0,
                    "inputTokens": 0,
                    "outputTokens": 0
                },
                "totalTokens": 0
            }
        ]});
        assert_eq!(got, want);
        // `0` and `0.0` are different JSON numbers: the gap's cost must be the integer.
        assert!(got["blocks"][1]["costUSD"].is_i64());
        // Integral non-zero costs are integers too.
        assert_eq!(
            blocks_json(&blocks[2..], now, None)["blocks"][0]["costUSD"],
            json!(2)
        );
        // Printed key order is alphabetical, as ccusage prints it.
        let text = serde_json::to_string(&got["blocks"][0]).unwrap();
        let keys = [
            "actualEndTime",
            "burnRate",
            "costUSD",
            "endTime",
            "entries",
            "id",
            "isActive",
            "isGap",
            "models",
            "projection",
            "startTime",
            "tokenCounts",
            "totalTokens",
            "usageLimitResetTime",
        ];
        let pos: Vec<usize> = keys
            .iter()
            .map(|k| text.find(&format!("\"{k}\":")).unwrap())
            .collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{text}");
    }

    #[test]
    fn json_of_active_block_with_limit() {
        let b = worked_block();
        let now = ms("2026-02-10T11:00:00.000Z");
        let got = blocks_json(std::slice::from_ref(&b), now, Some(40_000));
        let v = &got["blocks"][0];
        assert_eq!(v["isActive"], json!(true));
        assert_eq!(v["costUSD"], json!(2.4));
        assert_eq!(
            v["burnRate"],
            json!({"costPerHour": b.burn_rate(now).unwrap().cost_per_hour,
                   "tokensPerMinute": 125.0, "tokensPerMinuteForIndicator": 50.0})
        );
        assert_eq!(
            v["projection"],
            json!({"remainingMinutes": 240, "totalCost": 16.8, "totalTokens": 35000})
        );
        assert_eq!(
            v["tokenLimitStatus"],
            json!({"limit": 40000, "percentUsed": 87.5, "projectedUsage": 35000,
                   "status": "warning"})
        );
        let status = |limit| {
            blocks_json(std::slice::from_ref(&b), now, Some(limit))["blocks"][0]["tokenLimitStatus"]
                ["status"]
                .clone()
        };
        assert_eq!(status(34_999), json!("exceeds"));
        assert_eq!(status(35_000), json!("warning"));
        assert_eq!(status(43_750), json!("ok")); // 35000 is exactly 80 %: not above it.
        assert_eq!(status(43_749), json!("warning"));
        // The status sorts between tokenCounts and totalTokens.
        let text = serde_json::to_string(v).unwrap();
        let at = |k: &str| text.rfind(&format!("\"{k}\":")).unwrap();
        assert!(at("tokenCounts") < at("tokenLimitStatus"));
        assert!(at("tokenLimitStatus") < at("totalTokens"));
        // No limit, or no projection: no status key.
        let none = blocks_json(std::slice::from_ref(&b), now, None);
        assert!(none["blocks"][0].get("tokenLimitStatus").is_none());
        let later = ms("2026-02-10T16:00:00.000Z");
        let inactive = blocks_json(std::slice::from_ref(&b), later, Some(40_000));
        assert!(inactive["blocks"][0].get("tokenLimitStatus").is_none());
        assert_eq!(inactive["blocks"][0]["burnRate"], Value::Null);
    }
}
