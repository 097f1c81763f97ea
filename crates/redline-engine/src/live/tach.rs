//! TACH: tokens per minute over a trailing window. Input, output and cache-write tokens
//! count; cache reads are left out, since they dwarf everything else and cost a tenth as
//! much. A sender of OpenTelemetry `api_request` events moves the tach per request
//! instead of by its minute buckets. While a turn is in progress by the hooks, the tach
//! holds what the last transcript write showed instead of decaying while the model
//! thinks or a tool runs between writes.

use redline_core::turn::{Basis, TurnSummary};

use super::{Live, Settings, ms};

/// A hook turn whose `Stop` never came no longer holds the tach after this long.
const TURN_HOLD_MS: i64 = 10 * 60 * 1000;

impl Live {
    /// Tokens per minute at `now_ms` from the ledger (transcripts and OpenTelemetry).
    pub(super) fn tach_ledger(&self, now_ms: i64, s: &Settings) -> f64 {
        let window_ms = ms(s.tach_window_s.max(1));
        let from = now_ms.saturating_sub(window_ms);
        let mut tokens: u64 = self
            .in_range(from, now_ms)
            .filter(|(_, e)| self.otlp.files.get(&e.file).is_none_or(|o| !o.events))
            .map(|(_, e)| e.tokens().tach())
            .sum();
        // Senders of `api_request` events drive the tach per request.
        let start = self.otlp.requests.partition_point(|r| r.0 <= from);
        tokens += self
            .otlp
            .requests
            .range(start..)
            .filter(|r| r.0 <= now_ms)
            .map(|r| r.2)
            .sum::<u64>();
        tokens as f64 * 60_000.0 / window_ms as f64
    }

    /// The tach shown, from the chosen source's `per_min`: held while a hook turn runs.
    pub(super) fn tach_held(&mut self, mut per_min: f64, now_ms: i64, turn: &TurnSummary) -> f64 {
        let c = &mut self.claude;
        if std::mem::take(&mut c.wrote) {
            c.tach_hold = per_min;
        }
        let held = turn.in_progress
            && turn.basis == Some(Basis::Hooks)
            && c.hook_ms
                .is_some_and(|t| now_ms.saturating_sub(t) < TURN_HOLD_MS);
        if held {
            per_min = per_min.max(c.tach_hold);
        } else {
            c.tach_hold = 0.0;
        }
        per_min
    }
}
