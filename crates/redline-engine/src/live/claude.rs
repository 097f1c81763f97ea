//! What Claude Code says itself, besides its transcripts: the statusLine's plan limits
//! and context windows, and the facts its hooks give that are not turn state (a session
//! that ended, a turn that failed on a rate limit). The turn rule is in [`super::turns`].

use std::collections::HashMap;

use crate::feed::{LimitWindow, StatusFeed};

use super::Live;

/// Claude Code's own figures.
#[derive(Clone, Debug, Default)]
pub(super) struct ClaudeState {
    /// The 5-hour and weekly plan limits.
    pub(super) five_hour: Option<LimitWindow>,
    pub(super) seven_day: Option<LimitWindow>,
    /// Context window sizes by session.
    pub(super) windows: HashMap<String, u64>,
    /// Sessions that ended, and when.
    pub(super) ended: HashMap<String, i64>,
    /// When a turn last failed on a rate limit, and the plan window's reset in force then
    /// (milliseconds), if the statusLine had sent one.
    pub(super) rate_limited: Option<(i64, Option<i64>)>,
    /// The tach as it stood after the last transcript write: held while a turn goes on.
    pub(super) tach_hold: f64,
    /// A transcript line was counted since the tach last looked.
    pub(super) wrote: bool,
    /// The newest statusLine object's arrival.
    pub(super) status_ms: Option<i64>,
    /// The newest hook's arrival.
    pub(super) hook_ms: Option<i64>,
}

impl Live {
    /// Takes in a statusLine object that arrived at `now_ms`: the plan's own limits (which
    /// then drive FUEL until they reset) and the session's context window. A limit's use
    /// never falls before its reset: a lower figure for the same window (from a session
    /// that had not caught up) is ignored.
    pub fn apply_status(&mut self, f: &StatusFeed, now_ms: i64) {
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
        self.claude.status_ms = Some(now_ms);
        if let Some(s) = &f.session_id {
            self.session_turn(s).telemetry(now_ms);
        }
        self.telemetry(now_ms);
    }
}
