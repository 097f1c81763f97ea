//! The sessions the daemon's git counter looks at: those with a response since a given
//! time, each with its recent responses priced and the files they came from (where its
//! working directories are read). The attribution is [`crate::git`]'s.

use std::path::PathBuf;

use super::Live;
use crate::git::{Session, Spend, sessions};
use crate::ledger::FLAG_AGGREGATE;

impl Live {
    /// Each session with a response after `active_since_ms`, with its responses after
    /// `from_ms` (at most the two days the live state keeps in order) and its files.
    /// What OpenTelemetry senders reported has no file and is left out.
    pub fn git_sessions(&self, from_ms: i64, active_since_ms: i64) -> Vec<(Session, Vec<PathBuf>)> {
        let responses = self
            .in_range(from_ms.saturating_sub(1), i64::MAX)
            .filter(|(_, e)| !e.has(FLAG_AGGREGATE))
            .map(|(t, e)| {
                let spend = Spend {
                    ts_ms: t,
                    tokens: e.tokens().total(),
                    cost_usd: self.cost(e),
                };
                (self.files.get(e.file), spend)
            });
        sessions(responses)
            .into_iter()
            .filter(|(s, _)| s.spend.iter().any(|x| x.ts_ms > active_since_ms))
            .map(|(s, files)| (s, files.into_iter().map(PathBuf::from).collect()))
            .collect()
    }
}
