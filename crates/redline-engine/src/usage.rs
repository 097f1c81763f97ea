//! The `GET /usage` document (SPEC.md, version 1) as types.
//!
//! Every key is always present: an unknown value is `None`, serialized as `null`, never
//! skipped. Fields may be added within a version, never renamed; the field order here is
//! the order on the wire.

use redline_core::{GaugeReport, Gauges, Lamps};
use serde::Serialize;

/// The whole `/usage` object.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Usage {
    /// Always 1 for this shape.
    pub version: u32,
    /// When the values were computed, to the second.
    pub generated_at: String,
    /// Each configured source's health.
    pub sources: Sources,
    /// TACH.
    pub tach: Tach,
    /// FUEL.
    pub fuel: Fuel,
    /// COST.
    pub cost: Cost,
    /// TEMP.
    pub context: Context,
    /// MODEL.
    pub model: Model,
    /// Needle positions.
    pub gauges: Gauges,
    /// Lamp states.
    pub lamps: Lamps,
}

impl Usage {
    /// The part the firmware reads (`/usage/gauge`).
    pub fn gauge_report(&self) -> GaugeReport {
        GaugeReport {
            version: self.version,
            gauges: self.gauges,
            lamps: self.lamps,
        }
    }
}

/// The sources, by name.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sources {
    /// Claude Code's transcripts.
    pub jsonl: Source,
    /// OpenTelemetry received (`/v1/*`, gRPC).
    pub otlp: Source,
    /// An existing Prometheus, read with `--source prometheus=URL`.
    pub prometheus: Source,
}

/// One source's health.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Source {
    /// Nothing is failing. A quiet source is not a failure.
    pub ok: bool,
    /// The newest event's time.
    pub last_event_at: Option<String>,
    /// What is failing.
    pub error: Option<String>,
}

/// Tokens per minute.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Tach {
    /// Input, output and cache-write tokens per minute over the window.
    pub tokens_per_min: f64,
    /// Where the red zone starts.
    pub redline: u64,
    /// The trailing window, seconds.
    pub window_s: u64,
}

/// The 5-hour block's budget.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fuel {
    /// Share left, 0..1.
    pub remaining: Option<f64>,
    /// `estimate` (budget-based) or `rate_limits` (Claude Code's own figure).
    pub basis: Option<&'static str>,
    /// Tokens in the open block (all four kinds).
    pub block_tokens: Option<u64>,
    /// The budget.
    pub budget_tokens: Option<u64>,
    /// The open block's start.
    pub block_start: Option<String>,
    /// The open block's end.
    pub block_end: Option<String>,
    /// Tokens at the block's end if the burn rate holds.
    pub projected_tokens: Option<u64>,
    /// When a usage limit hit in this block resets.
    pub limit_reset_at: Option<String>,
    /// The weekly limit's use, 0..1 (from Claude Code's statusLine).
    pub weekly_used: Option<f64>,
    /// When the weekly limit resets.
    pub weekly_reset_at: Option<String>,
}

/// Dollars.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cost {
    /// Spent today (local day).
    pub today_usd: f64,
    /// Spent in the open block.
    pub block_usd: Option<f64>,
    /// COST's full scale.
    pub full_scale_usd: f64,
}

/// The active session's context window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Context {
    /// Tokens the last main-chain request sent.
    pub used_tokens: Option<u64>,
    /// The window.
    pub window_tokens: Option<u64>,
    /// The session.
    pub session_id: Option<String>,
}

/// The model of the most recent main-chain response.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Model {
    /// The model id.
    pub id: Option<String>,
    /// `opus`, `sonnet`, `haiku` or `other`.
    pub family: Option<&'static str>,
}

/// RFC 3339 UTC to the second (`2026-11-23T19:42:43Z`).
pub fn format_s(ms: i64) -> String {
    let s = ms.div_euclid(1000);
    jiff::Timestamp::from_second(s)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// Dollars to a hundredth of a cent: enough for any display, short on the wire.
pub fn round_usd(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use redline_core::{GaugeReport, Gauges, LampState, Lamps};

    #[test]
    fn the_longest_gauge_report_fits_the_firmware_buffer() {
        // The longest f32 texts (nine significant digits, an exponent for tiny values)
        // and every lamp blinking.
        let g = Some(1.175_494_4e-38_f32);
        let report = GaugeReport {
            version: 1,
            gauges: Gauges {
                tach: Some(0.123_456_79),
                fuel: g,
                cost: g,
                temp: g,
            },
            lamps: Lamps {
                model: LampState::Blink,
                redline: LampState::Blink,
                fuel: LampState::Blink,
                hot: LampState::Blink,
                check: LampState::Blink,
            },
        };
        let text = serde_json::to_string(&report).unwrap();
        assert!(text.len() < 256, "{} bytes: {text}", text.len());
    }
}
