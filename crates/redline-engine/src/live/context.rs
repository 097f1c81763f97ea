//! CONTEXT: how full the active session's context window is: the prompt the newest
//! main-chain request sent (input, cache writes and reads) over the window, which is
//! the statusLine's `context_window_size` when known, else 200k, or 1M once a request of
//! the session passed 200k. A session that ended (`SessionEnd`) after its last response,
//! or whose last response is older than `REDLINE_STALE_AFTER`, shows nothing.

use super::{Live, Settings};

/// Context windows: the default, and the 1M window a session shows it has once a request
/// passes the default.
const WINDOW_DEFAULT: u64 = 200_000;
const WINDOW_LARGE: u64 = 1_000_000;

/// The active session's context.
#[derive(Clone, Debug)]
pub(super) struct ContextValue {
    /// Tokens in use.
    pub(super) used: u64,
    /// The window.
    pub(super) window: u64,
    /// The session.
    pub(super) session: String,
}

impl Live {
    /// The context at `now_ms`.
    pub(super) fn context(&self, now_ms: i64, s: &Settings) -> Option<ContextValue> {
        let (ts, slot) = self.last_main?;
        if now_ms.saturating_sub(ts) >= s.thresholds.stale_after_ms {
            return None;
        }
        let e = self.ledger.get(slot);
        let session = self.files.get(e.file).session.to_string();
        if self
            .claude
            .ended
            .get(&session)
            .is_some_and(|&t| t >= e.ts_ms)
        {
            return None;
        }
        let big = self
            .session_prompt_max
            .get(&session)
            .is_some_and(|&m| m > WINDOW_DEFAULT);
        let window = match self.claude.windows.get(&session) {
            Some(&w) => w,
            None if big => WINDOW_LARGE,
            None => WINDOW_DEFAULT,
        };
        Some(ContextValue {
            used: e.tokens().prompt(),
            window,
            session,
        })
    }
}
