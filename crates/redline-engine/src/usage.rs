//! The `GET /usage` document (SPEC.md, version 2) as types.
//!
//! The origin's documented fields come first, flat (`rate_1m`, `window_5h_tokens`,
//! `window_5h_pct`, `thinking_ratio`, `cache_hit_rate`, `last_model`, the four lamp
//! booleans, `updated_at`, then redline's `final`); the objects after them carry the detail. Every key is always
//! present: an unknown value is `None`, serialized as `null`, never skipped. Fields may
//! be added within a version, never renamed; the field order here is the order on the
//! wire.

use redline_core::gauges::Dial;
use redline_core::{GaugeReport, Lamps, Rgb};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

/// The whole `/usage` object.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Usage {
    /// Always 2 for this shape.
    pub version: u32,
    /// TACH: tokens per minute over the tach window.
    pub rate_1m: Option<f64>,
    /// FUEL: tokens in the current 5-hour window (all four kinds).
    pub window_5h_tokens: Option<u64>,
    /// FUEL: share of the 5-hour window used, 0..1.
    pub window_5h_pct: Option<f64>,
    /// TEMP: thinking tokens over output tokens in the ratio window.
    pub thinking_ratio: Option<f64>,
    /// BOOST: cache reads over all prompt tokens in the ratio window.
    pub cache_hit_rate: Option<f64>,
    /// MODEL: the newest main-chain response's family, while it is fresh.
    pub last_model: Option<&'static str>,
    /// The HOT lamp is lit.
    pub hot: bool,
    /// The WARN lamp is lit.
    pub warn: bool,
    /// The STALL lamp is lit.
    pub stall: bool,
    /// The IDLE lamp pulses.
    pub idle: bool,
    /// When this document was computed, to the second.
    pub updated_at: String,
    /// `final` on the wire: `false` while the daemon is still catching up at start (it
    /// serves the transcripts' values first, then reads back what its store keeps:
    /// OpenTelemetry received and the history of deleted transcripts), `true` from then on.
    #[serde(rename = "final")]
    pub is_final: bool,
    /// Each source's health.
    pub sources: Sources,
    /// TACH.
    pub tach: Tach,
    /// FUEL.
    pub fuel: Fuel,
    /// TEMP.
    pub thinking: Thinking,
    /// BOOST.
    pub cache: Cache,
    /// COST.
    pub cost: Cost,
    /// CONTEXT.
    pub context: Context,
    /// MODEL.
    pub model: Model,
    /// The turn in progress, if any.
    pub turn: Turn,
    /// The configured needles, left to right.
    pub needles: [&'static str; 4],
    /// Needle positions, keyed by the configured needles.
    pub gauges: NeedleGauges,
    /// Lamp states.
    pub lamps: Lamps,
}

impl Usage {
    /// The part the firmware reads (`/usage/gauge`).
    pub fn gauge_report(&self) -> GaugeReport {
        GaugeReport {
            version: self.version,
            needles: self.gauges.0.map(|(_, g)| g),
            lamps: self.lamps.in_order(),
            color: self.model.color,
        }
    }
}

/// The needle positions by dial, in the configured order: `{"fuel":0.62,"tach":0.32,...}`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NeedleGauges(pub [(Dial, Option<f32>); 4]);

impl NeedleGauges {
    /// The position of `dial`, when it is mounted and known.
    pub fn get(&self, dial: Dial) -> Option<f32> {
        self.0
            .iter()
            .find(|(d, _)| *d == dial)
            .and_then(|(_, g)| *g)
    }
}

impl Serialize for NeedleGauges {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(4))?;
        for (dial, g) in &self.0 {
            m.serialize_entry(dial.name(), g)?;
        }
        m.end()
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
    /// Claude Code's statusLine, forwarded by `redline statusline`.
    pub statusline: Source,
    /// Claude Code's HTTP hooks.
    pub hooks: Source,
}

/// One source's health.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Source {
    /// Whether the daemon takes this source (for `statusline` and `hooks`: whether one
    /// has arrived since the daemon started).
    pub configured: bool,
    /// Nothing is failing (`null` when not configured). A quiet source is not a failure.
    pub ok: Option<bool>,
    /// The newest event's time.
    pub last_event_at: Option<String>,
    /// What is failing.
    pub error: Option<String>,
}

impl Source {
    /// A source's health from whether it is configured, its newest event and its error.
    pub fn new(configured: bool, last_event_ms: Option<i64>, error: Option<String>) -> Source {
        Source {
            configured,
            ok: configured.then_some(error.is_none()),
            last_event_at: last_event_ms.map(format_s),
            error,
        }
    }
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
    /// The source: `jsonl`, `otlp` or `prometheus`.
    pub source: Option<&'static str>,
}

/// The 5-hour window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fuel {
    /// Share left, 0..1 (the needle).
    pub remaining: Option<f64>,
    /// `rate_limits` (Claude Code's own figure) or `estimate` (block tokens over the
    /// budget).
    pub basis: Option<&'static str>,
    /// The source the figure came from: `statusline`, `prometheus`, `jsonl` or `otlp`.
    pub source: Option<&'static str>,
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
    /// When a usage limit that was hit resets, while that is ahead.
    pub limit_reset_at: Option<String>,
    /// The weekly limit's use, 0..1 (from Claude Code's statusLine).
    pub weekly_used: Option<f64>,
    /// When the weekly limit resets.
    pub weekly_reset_at: Option<String>,
}

/// Thinking over output.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Thinking {
    /// Thinking tokens over output tokens, 0..1.
    pub ratio: Option<f64>,
    /// Thinking tokens of the responses counted (rounded).
    pub thinking_tokens: Option<u64>,
    /// Their output tokens.
    pub output_tokens: Option<u64>,
    /// `exact`, `estimate` or `unknown`.
    pub basis: Option<&'static str>,
    /// The source: `jsonl`.
    pub source: Option<&'static str>,
    /// The ratio window, seconds.
    pub window_s: u64,
}

/// The prompt cache.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cache {
    /// Cache reads over prompt tokens, 0..1.
    pub hit_rate: Option<f64>,
    /// Cache reads in the ratio window.
    pub read_tokens: Option<u64>,
    /// Prompt tokens (input, cache writes, cache reads) in the window.
    pub prompt_tokens: Option<u64>,
    /// The source: `jsonl` or `otlp`.
    pub source: Option<&'static str>,
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
    /// The source: `jsonl`, `otlp` or `prometheus`.
    pub source: Option<&'static str>,
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
    /// The source: `jsonl`.
    pub source: Option<&'static str>,
}

/// The model of the most recent main-chain response.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Model {
    /// The model id.
    pub id: Option<String>,
    /// `opus`, `sonnet`, `haiku`, `fable` or `other`.
    pub family: Option<&'static str>,
    /// The MODEL lamp's colour for the family.
    pub color: Option<Rgb>,
    /// The source: `jsonl`, `otlp` or `prometheus`.
    pub source: Option<&'static str>,
}

/// The turn in progress.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Turn {
    /// Some session is in a turn.
    pub in_progress: bool,
    /// When the turn shown began.
    pub since: Option<String>,
    /// Where its state came from: `hooks` or `transcript`.
    pub basis: Option<&'static str>,
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

/// A share to four places: what the wire carries of ratios.
pub fn round_share(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use redline_core::{GaugeReport, LampState, Rgb};

    #[test]
    fn the_longest_gauge_report_fits_the_firmware_buffer() {
        // The longest f32 texts (nine significant digits, an exponent for tiny values)
        // and every lamp in its longest state.
        let g = Some(1.175_494_4e-38_f32);
        let report = GaugeReport {
            version: 2,
            needles: [Some(0.123_456_79), g, g, g],
            lamps: [LampState::Blink; 5],
            color: Some(Rgb::new(255, 255, 255)),
        };
        let text = serde_json::to_string(&report).unwrap();
        assert!(text.len() < 256, "{} bytes: {text}", text.len());
        let pulse = GaugeReport {
            lamps: [LampState::Pulse; 5],
            ..report
        };
        assert!(serde_json::to_string(&pulse).unwrap().len() < 256);
        assert!(
            text.starts_with(r#"{"version":2,"needles":[0.12345679,"#),
            "{text}"
        );
    }
}
