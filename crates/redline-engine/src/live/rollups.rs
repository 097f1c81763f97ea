//! Transcript rollups kept in the store (see [`crate::archive`]): which hours are due to
//! be written, and what the store holds beyond the transcripts still on disk.

use std::collections::HashMap;

use crate::archive::{self, Restored, Scope};
use crate::hashed::{KeyMap, KeySet};
use crate::ledger::{Entry, FLAG_AGGREGATE};
use crate::prices::price_entry;
use crate::store::Rollup;

use super::Live;

/// A restored hour (see [`Live::restore_rollups`]): its aggregate's slot, the kept
/// figure, and what transcripts hold of its key, so the aggregate stays the difference.
#[derive(Clone, Debug)]
pub(super) struct Restoring {
    slot: u32,
    kept: archive::Figures,
    taken: archive::Figures,
}

impl Live {
    /// Says whose the rollups are that this reader writes and takes back: the roots it
    /// reads, on this host (see [`crate::archive::Scope`]). Without it rollups name no
    /// root.
    pub fn set_scope(&mut self, scope: Scope) {
        self.scope = Some(scope);
    }

    /// Whose the rollups are (see [`Live::set_scope`]).
    pub fn scope(&self) -> Option<&Scope> {
        self.scope.as_ref()
    }

    /// Adds what stored rollups hold beyond the transcripts read (see [`crate::archive`]).
    pub fn restore_rollups(&mut self, stored: &[Rollup]) -> Restored {
        let (priced, prices, mode) = (&self.price_index, &self.prices, self.cost_mode);
        let otlp_files = &self.otlp.files;
        let (slots, done) = archive::restore(
            &mut self.ledger,
            &mut self.files,
            &mut self.models,
            stored,
            &|f| !otlp_files.contains_key(&f),
            &|e, _| {
                let price = e
                    .model()
                    .and_then(|m| priced.get(m as usize).copied().flatten());
                price_entry(mode, price.map(|i| &prices.models()[i]), e).usd()
            },
        );
        self.index_prices();
        let by_key: HashMap<u64, &Rollup> =
            stored.iter().map(|r| (archive::rollup_key(r), r)).collect();
        for slot in slots {
            self.stats.responses += 1;
            let e = self.ledger.get(slot).clone();
            self.place_recent(slot, e.ts_ms, None);
            let key = archive::entry_key(&e, &self.files, &self.models);
            if let Some(r) = by_key.get(&key) {
                let kept = archive::Figures::of(r);
                // What the transcripts held of the key then: the kept figure less the
                // aggregate.
                let taken = kept.beyond(&archive::Figures::of_entry(&e));
                self.restored.insert(key, Restoring { slot, kept, taken });
            }
        }
        done
    }

    /// Keeps a restored hour (see [`Live::restore_rollups`]) at what the store holds
    /// beyond the transcripts as a transcript response of its key arrives (`e`, replacing
    /// `old` if it does): a transcript that comes back after its hour was restored (a
    /// restore from a backup, a synced directory) holds the kept responses, not more.
    pub(super) fn settle_restored(&mut self, e: &Entry, old: Option<&Entry>) {
        if self.restored.is_empty() || e.has(FLAG_AGGREGATE) || !self.is_transcript(e.file) {
            return;
        }
        let mut touched = Vec::new();
        for (x, sign) in [(Some(e), 1i8), (old, -1)] {
            let Some(x) = x else { continue };
            let key = archive::entry_key(x, &self.files, &self.models);
            let cost = self.cost(x);
            let Some(r) = self.restored.get_mut(&key) else {
                continue;
            };
            r.taken.add(x, cost, sign);
            touched.push(key);
        }
        for key in touched {
            let Some(r) = self.restored.get(&key) else {
                continue;
            };
            let (slot, rest) = (r.slot, r.kept.beyond(&r.taken));
            let held = self.ledger.get(slot).clone();
            let mut now = Entry::with_usage(
                held.ts_ms,
                crate::store::tokens(rest.tokens),
                rest.cache_write_1h,
                Some(rest.cost_usd),
                held.model(),
                held.file,
                held.line,
            );
            now.flags = held.flags;
            self.ledger.set_unkeyed(slot, now);
            if held.ts_ms < self.horizon_ms {
                self.needs_rebuild = true;
            }
        }
    }

    /// Compares the transcripts read with what the store holds for this reader's scope
    /// (`stored`: each rollup key's tokens, see [`crate::archive::Kept::stored`]): every
    /// key the transcripts hold more of becomes due to be written,
    /// and the keys the store holds more of (transcripts deleted since) are returned, to
    /// be read back in full and [restored](Live::restore_rollups).
    pub fn plan_rollups(&mut self, stored: &KeyMap<u64>) -> KeySet {
        let present = archive::present(&self.ledger, &self.files, &self.models, &|f| {
            self.is_transcript(f)
        });
        self.rollups_due = archive::deficit(&present, stored);
        archive::deficit(stored, &present)
    }

    /// Up to `max` rollups of the transcript hours due to be stored (see
    /// [`Live::plan_rollups`]); call again until it is empty.
    pub fn take_rollups(&mut self, max: usize) -> Vec<Rollup> {
        if self.rollups_due.is_empty() {
            return Vec::new();
        }
        let chosen: KeySet = if self.rollups_due.len() <= max {
            std::mem::take(&mut self.rollups_due)
        } else {
            let some: Vec<u64> = self.rollups_due.iter().take(max).copied().collect();
            for k in &some {
                self.rollups_due.remove(k);
            }
            some.into_iter().collect()
        };
        let files = &self.files;
        let models = &self.models;
        archive::rollups(
            &self.ledger,
            files,
            models,
            self.scope.as_ref(),
            &|f| self.is_transcript(f),
            &|e| chosen.contains(&archive::entry_key(e, files, models)),
            &|e, _| self.cost(e),
        )
    }

    /// How many rollup keys wait to be stored.
    pub fn rollups_due(&self) -> usize {
        self.rollups_due.len()
    }

    pub(super) fn note_rollup(&mut self, e: &Entry) {
        if e.tokens().total() > 0 && self.is_transcript(e.file) {
            let key = archive::entry_key(e, &self.files, &self.models);
            self.rollups_due.insert(key);
        }
    }
}
