//! What Claude Code says itself, besides its transcripts: the statusLine's plan limits
//! and context windows, and the facts its hooks give that are not turn state (a session
//! that ended, a turn that failed on a rate limit). The turn rule is in [`super::turns`].
//! Also which plan readings the store keeps (for `redline calibrate`): the first of each
//! new share in each window.

use std::collections::HashMap;

use crate::feed::{LimitWindow, StatusFeed};
use crate::store;

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
    /// Per 5-hour window (by its reset, seconds): the highest share a kept reading had.
    pub(super) kept_limits: HashMap<i64, f64>,
}

/// Windows that reset this long ago are forgotten by the readings' bookkeeping.
const KEPT_LIMITS_FOR_S: i64 = 24 * 3600;

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

    /// The plan reading of a statusLine object that arrived at `now_ms`, when the store
    /// should keep it: the first reading of a new share in its window (the same share said
    /// again, or a lower one from a session that had not caught up, is not new). Noted
    /// as kept; the caller writes it.
    pub fn plan_reading(&mut self, f: &StatusFeed, now_ms: i64) -> Option<store::Limit> {
        let w = f.five_hour?;
        let reading = store::Limit {
            at_ms: now_ms,
            used: w.used,
            resets_at_s: w.resets_at_s,
            session: f.session_id.clone(),
        };
        self.note_kept_limit(&reading).then_some(reading)
    }

    /// Notes a kept reading (one the store replays, or one about to be written); whether
    /// it said something new.
    pub(super) fn note_kept_limit(&mut self, l: &store::Limit) -> bool {
        let kept = &mut self.claude.kept_limits;
        let highest = kept.entry(l.resets_at_s).or_insert(f64::NEG_INFINITY);
        if l.used <= *highest {
            return false;
        }
        *highest = l.used;
        let horizon = l.at_ms.div_euclid(1000) - KEPT_LIMITS_FOR_S;
        kept.retain(|&reset, _| reset >= horizon);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prices::{CostMode, PriceTable};
    use crate::store::Record;

    fn feed(used: f64, resets_at_s: i64) -> StatusFeed {
        StatusFeed {
            session_id: Some("s".into()),
            five_hour: Some(LimitWindow { used, resets_at_s }),
            ..StatusFeed::default()
        }
    }

    #[test]
    fn the_store_keeps_the_first_reading_of_each_new_share() {
        let mut live = Live::new(PriceTable::bundled(), CostMode::Auto);
        let at = 1_795_000_000_000;
        let kept =
            |live: &mut Live, used, reset| live.plan_reading(&feed(used, reset), at).is_some();
        assert!(kept(&mut live, 0.25, 1_795_010_000));
        // The same share again, or a lower one from a session behind: nothing new.
        assert!(!kept(&mut live, 0.25, 1_795_010_000));
        assert!(!kept(&mut live, 0.20, 1_795_010_000));
        assert!(kept(&mut live, 0.26, 1_795_010_000));
        // A new window starts from nothing.
        assert!(kept(&mut live, 0.01, 1_795_028_000));
        // No plan figure, no reading.
        assert!(live.plan_reading(&StatusFeed::default(), at).is_none());
        let r = live.plan_reading(&feed(0.5, 1_795_028_000), at).unwrap();
        assert_eq!(
            (r.at_ms, r.used, r.session.as_deref()),
            (at, 0.5, Some("s"))
        );

        // After a restart the store's readings say what is kept already.
        let mut again = Live::new(PriceTable::bundled(), CostMode::Auto);
        again.apply_record(&Record::Limit(r));
        assert!(!kept(&mut again, 0.5, 1_795_028_000));
        assert!(kept(&mut again, 0.51, 1_795_028_000));
    }
}
