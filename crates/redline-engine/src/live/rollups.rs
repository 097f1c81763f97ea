//! Transcript rollups kept in the store (see [`crate::archive`]): which hours are due to
//! be written, and what the store holds beyond the transcripts still on disk.

use std::collections::{HashMap, HashSet};

use crate::archive::{self, Restored};
use crate::ledger::Entry;
use crate::prices::price_entry;
use crate::store::Rollup;

use super::Live;

impl Live {
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
        for slot in slots {
            self.stats.responses += 1;
            let e = self.ledger.get(slot).clone();
            self.place_recent(slot, e.ts_ms, None);
        }
        done
    }

    /// Compares the transcripts read with what the store holds (`stored`: each rollup
    /// key's tokens): every key the transcripts hold more of becomes due to be written,
    /// and the keys the store holds more of (transcripts deleted since) are returned, to
    /// be read back in full and [restored](Live::restore_rollups).
    pub fn plan_rollups(&mut self, stored: &HashMap<u64, u64>) -> HashSet<u64> {
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
        let chosen: HashSet<u64> = if self.rollups_due.len() <= max {
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
