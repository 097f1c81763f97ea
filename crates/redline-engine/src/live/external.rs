//! Values read from an external source (Prometheus, `--source prometheus=URL`), which
//! then stand for the ledger's.

use super::Live;

/// The values as an external source (Prometheus) gives them, instead of the ledger's.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct External {
    /// Input + output + cache-creation tokens per minute over the tach window (cache reads
    /// excluded, as the ledger's tach does).
    pub tokens_per_min: f64,
    /// The open 5-hour block, if there was activity in the last 5 h.
    pub block: Option<ExternalBlock>,
    /// The largest completed block's tokens in the history the source holds; `None`
    /// without a completed block.
    pub budget_max: Option<u64>,
    /// Dollars since local midnight.
    pub cost_today_usd: f64,
    /// The model with the most tokens lately.
    pub model: Option<String>,
    /// The newest sample's time.
    pub newest_sample_ms: Option<i64>,
}

/// An external source's open 5-hour block: all four token kinds, as ccusage's
/// `totalTokens`.
#[derive(Clone, Debug, PartialEq)]
pub struct ExternalBlock {
    /// The hour of its first activity (UTC), in milliseconds.
    pub start_ms: i64,
    /// Start + 5 h.
    pub end_ms: i64,
    /// Tokens since the start.
    pub tokens: u64,
    /// Dollars since the start.
    pub cost_usd: f64,
}

/// An external source's state: configured or not, its last reading, what is failing.
#[derive(Clone, Debug, Default)]
pub(super) struct ExternalState {
    pub(super) on: bool,
    pub(super) reading: Option<External>,
    pub(super) error: Option<String>,
}

impl Live {
    /// (STALL blinks while it fails; the last reading is kept meanwhile).
    pub fn set_external(&mut self, reading: Result<External, String>) {
        self.external.on = true;
        match reading {
            Ok(r) => {
                self.external.reading = Some(r);
                self.external.error = None;
            }
            Err(e) => self.external.error = Some(e),
        }
    }
}

impl ExternalState {
    /// The last reading, while an external source stands for the ledger.
    pub(super) fn reading(&self) -> Option<&External> {
        if self.on { self.reading.as_ref() } else { None }
    }
}
