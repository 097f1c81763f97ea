//! COST: US dollars spent today, the user's local day, priced from the price table in the
//! configured cost mode (Prometheus's figure is chosen over it in `mod.rs`). The open block's
//! dollars are with the 5-hour window ([`super::window`]).

use super::{Live, Settings, local_day};

/// Today's dollars.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct CostValue {
    /// Spent since local midnight.
    pub(super) today_usd: f64,
}

impl Live {
    /// Today's dollars at `now_ms`, from the ledger.
    pub(super) fn cost_today(&self, now_ms: i64, s: &Settings) -> CostValue {
        let (day_start, day_end) = local_day(now_ms, &s.tz);
        let today_usd = self
            .in_range(day_start.saturating_sub(1), day_end.saturating_sub(1))
            .fold(0.0, |sum, (_, e)| sum + self.cost(e));
        CostValue { today_usd }
    }
}
