//! FUEL: how much of the current 5-hour window is used. Claude Code's own figure
//! (`rate_limits.five_hour` from the statusLine) while its window lasts; otherwise the
//! open block's tokens (all four kinds, as ccusage's `totalTokens`) over the block
//! budget, a number or the largest completed block (`max`). Blocks follow ccusage's rule
//! (see [`crate::blocks`]). Also here: a usage limit that was hit and has not reset yet
//! (WARN blinks), the weekly window, and the open block's dollars.

use redline_core::TokenCounts;

use crate::blocks::{BLOCK_MS, Block};
use crate::feed::LimitWindow;
use crate::usage::{self, format_s, round_share};

use super::{Budget, External, Live, Settings, block_entry};

/// Where the block estimate is made from.
#[derive(Clone, Copy, Debug)]
pub(super) enum FuelFrom<'a> {
    /// The ledger's block walk; the name is the source shown (`jsonl` or `otlp`).
    Ledger(&'static str),
    /// Prometheus's reading (`None` before the first).
    Prometheus(Option<&'a External>),
}

/// The 5-hour window as the values and `/usage`'s `fuel` need it.
#[derive(Clone, Debug, Default)]
pub(super) struct Window5h {
    /// Share used, 0..1 (rounded to four places).
    pub(super) used: Option<f64>,
    /// Tokens in the window.
    pub(super) tokens: Option<u64>,
    /// `rate_limits` or `estimate`.
    pub(super) basis: Option<&'static str>,
    /// `statusline`, `jsonl` or `prometheus`.
    pub(super) source: Option<&'static str>,
    /// The open block.
    pub(super) block: Option<Block>,
    /// The budget.
    pub(super) budget: Option<u64>,
    /// Tokens at the block's end if the burn rate holds.
    pub(super) projected: Option<u64>,
    /// When a usage limit that was hit resets, seconds since the epoch, while ahead.
    pub(super) limit_reset_s: Option<i64>,
    /// Claude Code's weekly window, while it lasts.
    pub(super) weekly: Option<LimitWindow>,
    /// Dollars in the open block.
    pub(super) block_usd: Option<f64>,
}

impl Window5h {
    /// `/usage`'s `fuel` object.
    pub(super) fn to_wire(&self) -> usage::Fuel {
        let b = self.block.as_ref();
        usage::Fuel {
            remaining: self.used.map(|u| round_share(1.0 - u)),
            basis: self.basis,
            source: self.source,
            block_tokens: b.map(|b| b.tokens.total()),
            budget_tokens: self.budget,
            block_start: b.map(|b| format_s(b.start_ms)),
            block_end: b.map(|b| format_s(b.end_ms)),
            projected_tokens: self.projected,
            limit_reset_at: self.limit_reset_s.map(|s| format_s(s.saturating_mul(1000))),
            weekly_used: self.weekly.map(|w| w.used),
            weekly_reset_at: self
                .weekly
                .map(|w| format_s(w.resets_at_s.saturating_mul(1000))),
        }
    }
}

impl Live {
    /// The 5-hour window at `now_ms`, estimated `from` the ledger or Prometheus, with
    /// Claude Code's own figure over the estimate when `rate_limits` says so.
    pub(super) fn window_5h(
        &self,
        now_ms: i64,
        s: &Settings,
        from: FuelFrom<'_>,
        rate_limits: bool,
    ) -> Window5h {
        let (prom, ext, ledger_name) = match from {
            FuelFrom::Ledger(name) => (false, None, name),
            FuelFrom::Prometheus(x) => (true, x, "prometheus"),
        };
        let mut walk = self.anchor.clone();
        let mut max_closed = self.anchor_max;
        let mut limit_reset_s: Option<i64> = None;
        for &(_, slot) in &self.recent {
            let e = self.ledger.get(slot);
            walk.push(&block_entry(e, self.cost(e)), |b| {
                if !b.is_gap {
                    max_closed = max_closed.max(b.tokens.total());
                }
            });
            if let Some(reset) = e
                .limit_reset_s()
                .filter(|&r| r.saturating_mul(1000) > now_ms)
            {
                limit_reset_s = limit_reset_s.max(Some(reset));
            }
        }
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
        let current = if prom {
            ext_block.as_ref()
        } else {
            walk.current()
        };
        if let Some(b) = current.filter(|b| !b.is_active(now_ms)) {
            max_closed = max_closed.max(b.tokens.total());
        }
        if prom {
            max_closed = ext.and_then(|x| x.budget_max).unwrap_or(0);
        }
        let active = current.filter(|b| b.is_active(now_ms)).cloned();
        let budget = match s.budget {
            Budget::Tokens(n) => Some(n),
            Budget::Max => Some(max_closed).filter(|&m| m > 0),
        };
        let block_tokens = active.as_ref().map_or(0, |b| b.tokens.total());
        let tokens = (!prom || ext.is_some()).then_some(block_tokens);
        // Shares are rounded before anything uses them, so the lamp and the figure shown
        // never disagree (1 - 0.85 is 0.15000000000000002 in floating point).
        let estimate =
            budget.map(|b| round_share((block_tokens as f64 / b as f64).clamp(0.0, 1.0)));

        // Claude Code's own plan figures, while their window lasts.
        let live =
            |w: Option<LimitWindow>| w.filter(|w| w.resets_at_s.saturating_mul(1000) > now_ms);
        let five_hour = live(self.claude.five_hour);
        let (used, basis, source) = match five_hour.filter(|_| rate_limits) {
            Some(w) => (
                Some(round_share(w.used)),
                Some("rate_limits"),
                Some("statusline"),
            ),
            None => (
                estimate,
                estimate.map(|_| "estimate"),
                estimate.map(|_| ledger_name),
            ),
        };
        // A turn that failed on a rate limit: pending until the reset of the plan window
        // it failed in (one that began after the failure is another window), else the end
        // of the block it failed in, else five hours on.
        if let Some((t, known)) = self.claude.rate_limited.filter(|&(t, _)| t <= now_ms) {
            let plan_reset_ms = known.or_else(|| {
                five_hour
                    .map(|w| w.resets_at_s.saturating_mul(1000))
                    .filter(|&reset| reset.saturating_sub(BLOCK_MS) <= t)
            });
            let reset_ms = match (plan_reset_ms, current) {
                (Some(reset), _) => reset,
                (None, Some(b)) if b.start_ms <= t && t < b.end_ms => b.end_ms,
                _ => t.saturating_add(BLOCK_MS),
            };
            if reset_ms > now_ms {
                limit_reset_s = limit_reset_s.max(Some(reset_ms.div_euclid(1000)));
            }
        }
        Window5h {
            used,
            tokens,
            basis,
            source,
            projected: active
                .as_ref()
                .and_then(|b| b.projection(now_ms))
                .map(|p| p.total_tokens),
            block_usd: active.as_ref().map(|b| b.cost_usd),
            block: active,
            budget,
            limit_reset_s,
            weekly: live(self.claude.seven_day),
        }
    }
}
