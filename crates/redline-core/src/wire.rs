//! The part of `GET /usage` the needles and lamps read, as fixed-size types.
//!
//! The daemon serializes these into `/usage` (under `gauges` and `lamps`) and, alone, into
//! `/usage/gauge`; the firmware parses `/usage/gauge` into the same types without a heap.
//! Keeping one definition is what keeps the two ends of the wire from drifting apart.

use serde::{Deserialize, Serialize};

/// The version of `/usage` this crate speaks. Fields are added, never renamed, within it.
pub const USAGE_VERSION: u32 = 1;

/// A lamp's state on the wire: `off`, `on` or `blink`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LampState {
    /// Dark.
    #[default]
    Off,
    /// Lit steadily.
    On,
    /// Blinking: the condition is worse than "on" (see SPEC.md's lamp table).
    Blink,
}

impl LampState {
    /// The lowercase word used on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            LampState::Off => "off",
            LampState::On => "on",
            LampState::Blink => "blink",
        }
    }
}

/// Needle positions from 0 (the zero stop) to 1 (full scale), already clamped; `None`
/// (`null` on the wire) when the value is unknown, and the needle rests at zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Gauges {
    /// Tokens per minute over 1.25 x the redline.
    pub tach: Option<f32>,
    /// Share of the 5-hour block's budget left.
    pub fuel: Option<f32>,
    /// Dollars today over the cost full scale.
    pub cost: Option<f32>,
    /// Share of the active session's context window in use.
    pub temp: Option<f32>,
}

/// The five annunciator lamps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lamps {
    /// The most recent main-chain response came from an Opus-class model.
    pub model: LampState,
    /// The tach is at or above the redline (blinks over full scale).
    pub redline: LampState,
    /// Fuel is low (blinks when nearly empty or a usage limit was hit).
    pub fuel: LampState,
    /// The context window is nearly full.
    pub hot: LampState,
    /// A source is failing or the API returned errors recently.
    pub check: LampState,
}

/// The body of `GET /usage/gauge`: what the firmware needs and nothing more.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GaugeReport {
    /// Always [`USAGE_VERSION`] from a daemon that speaks this crate's version.
    pub version: u32,
    /// Needle positions.
    pub gauges: Gauges,
    /// Lamp states.
    pub lamps: Lamps,
}
