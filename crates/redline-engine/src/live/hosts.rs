//! Today's figures per host, for `/api/hosts`: this machine's transcripts and each
//! OpenTelemetry sender.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;

use super::{Live, local_day};

/// One host's figures for `/api/hosts`.
#[derive(Clone, Debug, PartialEq)]
pub struct HostDay {
    /// The host's name (`host.name`; this machine's for its transcripts).
    pub host: String,
    /// Its newest data, milliseconds since the epoch.
    pub last_seen_ms: Option<i64>,
    /// Today's tokens.
    pub tokens: redline_core::TokenCounts,
    /// Today's dollars.
    pub cost_usd: f64,
}

impl Live {
    /// Today's figures per host: this machine's transcripts under `local_host`, and each
    /// OpenTelemetry sender's counted usage under its `host.name` (the same name adds up).
    /// Their sum is `/usage`'s today.
    pub fn hosts_today(&self, now_ms: i64, tz: &TimeZone, local_host: &str) -> Vec<HostDay> {
        let (day_start, day_end) = local_day(now_ms, tz);
        let mut by_host: BTreeMap<String, HostDay> = BTreeMap::new();
        fn day<'a>(by_host: &'a mut BTreeMap<String, HostDay>, host: &str) -> &'a mut HostDay {
            by_host.entry(host.to_owned()).or_insert_with(|| HostDay {
                host: host.to_owned(),
                last_seen_ms: None,
                tokens: redline_core::TokenCounts::default(),
                cost_usd: 0.0,
            })
        }
        if let Some(t) = self.last_event_ms {
            day(&mut by_host, local_host).last_seen_ms = Some(t);
        }
        for (host, &t) in &self.otlp.last_seen {
            let d = day(&mut by_host, host);
            d.last_seen_ms = d.last_seen_ms.max(Some(t));
        }
        let from = self.recent.partition_point(|&(t, _)| t < day_start);
        for &(ts, slot) in &self.recent[from..] {
            if ts >= day_end {
                break;
            }
            let e = self.ledger.get(slot);
            let host = self
                .otlp
                .files
                .get(&e.file)
                .map_or(local_host, |o| o.host.as_str());
            let d = day(&mut by_host, host);
            d.tokens += e.tokens();
            d.cost_usd += self.cost(e);
        }
        by_host.into_values().collect()
    }
}
