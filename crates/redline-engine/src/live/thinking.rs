//! TEMP: thinking tokens over output tokens, over the ratio window: the responses of the
//! last `ratio_window` seconds of activity (the window ends at the newest response, so
//! the value holds while nothing happens), until the newest response is older than
//! `REDLINE_STALE_AFTER`. Each response's thinking is exact, estimated from its content
//! blocks, or unknown (see [`crate::thinking`]); unknown ones, and totals kept elsewhere
//! (OpenTelemetry, rollups), are left out of both sides. Subagents' responses count: the
//! dial shows how much of what the models wrote was thinking.

use crate::thinking::Ratio;
use crate::usage;

use super::{Live, Settings};

/// The thinking ratio over the window.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct ThinkingValue(Ratio);

impl ThinkingValue {
    /// The ratio, 0..1.
    pub(super) fn value(&self) -> Option<f64> {
        self.0.value()
    }

    /// `/usage`'s `thinking` object.
    pub(super) fn to_wire(self, window_s: u64, transcripts: bool) -> usage::Thinking {
        let r = &self.0;
        let seen = r.output > 0 || r.left_out > 0;
        usage::Thinking {
            ratio: r.value().map(usage::round_share),
            thinking_tokens: r.tokens().filter(|_| r.output > 0),
            output_tokens: (r.output > 0).then_some(r.output),
            basis: r.basis().map(|b| b.as_str()),
            source: (transcripts && seen).then_some("jsonl"),
            window_s,
        }
    }
}

impl Live {
    /// The thinking ratio over the ratio window `window` (see [`Live::ratio_window`]).
    pub(super) fn thinking(&self, window: Option<(i64, i64)>) -> ThinkingValue {
        let mut ratio = Ratio::default();
        if let Some((from, to)) = window {
            for (_, e) in self.in_range(from, to) {
                ratio.add(e.thinking_tokens(), e.tokens().output);
            }
        }
        ThinkingValue(ratio)
    }

    /// The ratio window at `now_ms`: `ratio_window` seconds up to the newest response at
    /// or before now; `None` when there is none, or it is older than the stale limit.
    pub(super) fn ratio_window(&self, now_ms: i64, s: &Settings) -> Option<(i64, i64)> {
        let upto = self.recent.partition_point(|&(t, _)| t <= now_ms);
        let newest = self.recent[..upto]
            .iter()
            .rev()
            .map(|&(t, slot)| (t, self.ledger.get(slot)))
            .find(|(_, e)| e.tokens().total() > 0)
            .map(|(t, _)| t)?;
        if now_ms.saturating_sub(newest) >= s.thresholds.stale_after_ms {
            return None;
        }
        Some((newest.saturating_sub(super::ms(s.ratio_window_s)), newest))
    }
}
