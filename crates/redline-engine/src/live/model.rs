//! MODEL: the newest main-chain response's model (or an OpenTelemetry sender's newer
//! `api_request`, or what the external source reports), with its family and the time it
//! answered; the lamp shows the family's colour while that is younger than
//! `REDLINE_STALE_AFTER` (see `redline_core::lamps`).

use redline_core::ModelFamily;

use super::Live;

/// The newest model.
#[derive(Clone, Debug)]
pub(super) struct ModelValue {
    /// Its id.
    pub(super) id: Option<String>,
    /// Its family.
    pub(super) family: Option<ModelFamily>,
    /// When it answered.
    pub(super) at_ms: Option<i64>,
}

impl Live {
    /// The newest model at `now_ms`, from the ledger.
    pub(super) fn last_model(&self, now_ms: i64) -> Option<ModelValue> {
        let main = self
            .last_main
            .map(|(ts, slot)| (ts, self.ledger.get(slot).model()));
        // A sender's `api_request` newer than the main chain's response.
        let sent = self
            .otlp
            .requests
            .iter()
            .rev()
            .find(|r| r.3.is_some() && r.0 <= now_ms)
            .filter(|r| main.is_none_or(|(ts, _)| r.0 > ts))
            .map(|r| (r.0, r.3));
        let (at, model) = sent.or(main)?;
        let id = self.models.name(model?).to_owned();
        Some(ModelValue {
            family: Some(ModelFamily::of(&id)),
            id: Some(id),
            at_ms: Some(at),
        })
    }
}
