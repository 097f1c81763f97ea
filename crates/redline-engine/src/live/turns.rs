//! Turn state, for STALL and IDLE: each session's turn from its hooks when it sends them
//! and from its transcript's newest main-chain line otherwise (the rule itself is
//! `redline_core::turn`), and the newest telemetry of any source, IDLE's clock.

use redline_core::turn::{HookMark, SessionTurn, TurnSummary, summarize};

use crate::feed::{HookEvent, HookKind};
use crate::ledger::FileId;
use crate::turnline::{self, TurnLine};

use super::{Live, Settings};

impl Live {
    /// Takes in a hook that arrived at `now_ms`: turn state, the end of a session, a turn
    /// that failed on a rate limit.
    pub fn apply_hook(&mut self, h: &HookEvent, now_ms: i64) {
        let session = h.session_id.clone().unwrap_or_default();
        let mark = match h.kind {
            HookKind::UserPromptSubmit => Some(HookMark::Prompt),
            HookKind::PreToolUse => Some(HookMark::PreTool),
            HookKind::PostToolUse => Some(HookMark::PostTool),
            HookKind::Stop | HookKind::StopFailure => Some(HookMark::Stop),
            HookKind::SessionEnd => Some(HookMark::SessionEnd),
            HookKind::SessionStart | HookKind::Other => None,
        };
        let turn = self.session_turn(&session);
        match mark {
            Some(m) => turn.hook(m, now_ms),
            None => turn.telemetry(now_ms),
        }
        let c = &mut self.claude;
        match h.kind {
            HookKind::UserPromptSubmit | HookKind::SessionStart => {
                c.ended.remove(&session);
            }
            HookKind::StopFailure
                if h.error.as_deref().is_some_and(|e| e.contains("rate_limit")) =>
            {
                let reset = c
                    .five_hour
                    .map(|w| w.resets_at_s.saturating_mul(1000))
                    .filter(|&r| r > now_ms);
                c.rate_limited = Some((now_ms, reset));
            }
            HookKind::SessionEnd => {
                c.ended.insert(session, now_ms);
            }
            _ => {}
        }
        c.hook_ms = Some(now_ms);
        self.telemetry(now_ms);
    }

    /// Reads what a transcript line says of its session's turn (any line is telemetry;
    /// a main-chain prompt, tool result or answer moves the turn). At start-up the hub
    /// feeds the last lines of recent files through here, without counting them again.
    pub fn note_turn_line(&mut self, file: FileId, line: &[u8]) {
        if let Some(t) = turnline::read(line) {
            self.note_turn(file, t);
        }
    }

    /// Takes what a line of `file` said of its session's turn.
    pub(super) fn note_turn(&mut self, file: FileId, t: TurnLine) {
        self.telemetry(t.ts_ms);
        let subagent = self.subagent_files.contains(&file);
        let session = self.files.get(file).session.clone();
        let turn = self.session_turn(&session);
        match t.mark {
            Some(mark) if !subagent => turn.line(mark, t.ts_ms),
            _ => turn.telemetry(t.ts_ms),
        }
    }

    /// The turn state of a session, made on first sight.
    pub(super) fn session_turn(&mut self, session: &str) -> &mut SessionTurn {
        self.turns.entry(session.to_owned()).or_default()
    }

    /// Notes telemetry at `at_ms`.
    pub(super) fn telemetry(&mut self, at_ms: i64) {
        self.telemetry_ms = self.telemetry_ms.max(Some(at_ms));
    }

    /// The sessions' turns taken together at `now_ms`.
    pub(super) fn turn_summary(&self, now_ms: i64, s: &Settings) -> TurnSummary {
        summarize(self.turns.values(), now_ms, s.thresholds.stale_after_ms)
    }
}
