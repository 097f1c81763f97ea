//! Lamp rules: SPEC.md's annunciator table as one pure function.
//!
//! The daemon decides `off`, `on` or `blink` for each lamp from the values it holds; the
//! firmware only renders the states (and blinks CHECK by itself when the daemon goes
//! silent, which no daemon can report).

use crate::model::ModelFamily;
use crate::wire::{LampState, Lamps};

/// Where the lamps switch. The defaults are SPEC.md's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    /// FUEL is on at or below this share left.
    pub fuel_low: f64,
    /// FUEL blinks at or below this share left.
    pub fuel_critical: f64,
    /// HOT is on at or above this share of the context window (the auto-compact point).
    pub hot: f64,
    /// HOT blinks at or above this share.
    pub hot_critical: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            fuel_low: 0.15,
            fuel_critical: 0.05,
            hot: 0.80,
            hot_critical: 0.95,
        }
    }
}

/// What the lamps look at.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LampInputs {
    /// Family of the most recent main-chain response; `None` before any.
    pub family: Option<ModelFamily>,
    /// Tokens per minute.
    pub tokens_per_min: Option<f64>,
    /// The redline, tokens per minute.
    pub tach_redline: f64,
    /// Share of the block budget left.
    pub fuel_remaining: Option<f64>,
    /// A usage limit was hit in the current block.
    pub limit_hit: bool,
    /// Share of the context window in use.
    pub context_share: Option<f64>,
    /// A configured source is failing.
    pub source_failing: bool,
    /// The API returned errors in the last five minutes.
    pub recent_api_errors: bool,
}

/// `blink` when the value passes `blink`, else `on` when it passes `on`; unknown is `off`.
fn level(value: Option<f64>, on: impl Fn(f64) -> bool, blink: impl Fn(f64) -> bool) -> LampState {
    match value {
        Some(v) if blink(v) => LampState::Blink,
        Some(v) if on(v) => LampState::On,
        _ => LampState::Off,
    }
}

/// The five lamps for these inputs.
pub fn lamps(i: &LampInputs, t: &Thresholds) -> Lamps {
    let full_scale = i.tach_redline * crate::gauges::TACH_FULL_SCALE;
    let fuel = if i.limit_hit {
        LampState::Blink
    } else {
        level(
            i.fuel_remaining,
            |v| v <= t.fuel_low,
            |v| v <= t.fuel_critical,
        )
    };
    Lamps {
        model: if i.family == Some(ModelFamily::Opus) {
            LampState::On
        } else {
            LampState::Off
        },
        redline: if i.tach_redline > 0.0 {
            level(
                i.tokens_per_min,
                |v| v >= i.tach_redline,
                |v| v > full_scale,
            )
        } else {
            LampState::Off
        },
        fuel,
        hot: level(i.context_share, |v| v >= t.hot, |v| v >= t.hot_critical),
        check: if i.source_failing || i.recent_api_errors {
            LampState::On
        } else {
            LampState::Off
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LampState::*;

    fn base() -> LampInputs {
        LampInputs {
            tach_redline: 20_000.0,
            ..LampInputs::default()
        }
    }

    #[test]
    fn redline_on_at_the_line_and_blinks_over_full_scale() {
        let t = Thresholds::default();
        let at = |tpm: f64| {
            lamps(
                &LampInputs {
                    tokens_per_min: Some(tpm),
                    ..base()
                },
                &t,
            )
            .redline
        };
        assert_eq!(at(19_999.0), Off);
        assert_eq!(at(20_000.0), On);
        assert_eq!(at(25_000.0), On);
        assert_eq!(at(25_001.0), Blink);
    }

    #[test]
    fn fuel_thresholds_and_limit() {
        let t = Thresholds::default();
        let at = |rem: Option<f64>, limit_hit: bool| {
            lamps(
                &LampInputs {
                    fuel_remaining: rem,
                    limit_hit,
                    ..base()
                },
                &t,
            )
            .fuel
        };
        assert_eq!(at(Some(0.16), false), Off);
        assert_eq!(at(Some(0.15), false), On);
        assert_eq!(at(Some(0.06), false), On);
        assert_eq!(at(Some(0.05), false), Blink);
        assert_eq!(at(None, false), Off);
        assert_eq!(at(Some(0.9), true), Blink);
        assert_eq!(at(None, true), Blink);
    }

    #[test]
    fn hot_model_and_check() {
        let t = Thresholds::default();
        let l = |i: LampInputs| lamps(&i, &t);
        assert_eq!(
            l(LampInputs {
                context_share: Some(0.79),
                ..base()
            })
            .hot,
            Off
        );
        assert_eq!(
            l(LampInputs {
                context_share: Some(0.80),
                ..base()
            })
            .hot,
            On
        );
        assert_eq!(
            l(LampInputs {
                context_share: Some(0.95),
                ..base()
            })
            .hot,
            Blink
        );
        assert_eq!(
            l(LampInputs {
                family: Some(ModelFamily::Opus),
                ..base()
            })
            .model,
            On
        );
        assert_eq!(
            l(LampInputs {
                family: Some(ModelFamily::Sonnet),
                ..base()
            })
            .model,
            Off
        );
        assert_eq!(l(base()).check, Off);
        assert_eq!(
            l(LampInputs {
                source_failing: true,
                ..base()
            })
            .check,
            On
        );
        assert_eq!(
            l(LampInputs {
                recent_api_errors: true,
                ..base()
            })
            .check,
            On
        );
    }
}
