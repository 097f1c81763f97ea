//! Lamp rules: SPEC.md's annunciator table as one pure function.
//!
//! Each lamp shows the first state whose condition holds, in the order blink, on, off
//! (IDLE pulses instead of blinking). The daemon gathers the [`LampInputs`] (values,
//! times, the turn summary) and this decides; the firmware only renders the states, and
//! blinks STALL by itself when the daemon goes silent, which no daemon can report.
//!
//! | lamp | blink / pulse | on |
//! |---|---|---|
//! | MODEL | never | the newest main-chain response is younger than the stale limit |
//! | HOT | tokens/min above full scale (1.25 x redline) | at or above the redline |
//! | WARN | 5-hour window at or above 95 % used, or a usage limit whose reset is ahead | at or above 80 %, or active with a cache hit rate under the floor over at least 10,000 prompt tokens |
//! | STALL | a source failing, or an API error in the error window | a session waiting for the model with no telemetry for the stall limit |
//! | IDLE | pulse: no telemetry for the active window and no turn open | never |

use crate::gauges::TACH_FULL_SCALE;
use crate::model::ModelFamily;
use crate::turn::TurnSummary;
use crate::wire::{LampState, Lamps, Rgb};

/// Where the lamps switch. The defaults are SPEC.md's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    /// WARN is on at or above this share of the 5-hour window used.
    pub warn_used: f64,
    /// WARN blinks at or above this share.
    pub warn_blink_used: f64,
    /// WARN is on, while active, below this cache hit rate...
    pub cache_floor: f64,
    /// ...once the window's prompt holds at least this many tokens.
    pub cache_min_prompt_tokens: u64,
    /// Telemetry this recent makes the cluster active (IDLE dark), milliseconds.
    pub active_ms: i64,
    /// A session waiting this long without telemetry lights STALL (`REDLINE_STALL_AFTER`).
    pub stall_after_ms: i64,
    /// MODEL goes off when the newest main-chain response is this old
    /// (`REDLINE_STALE_AFTER`).
    pub stale_after_ms: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            warn_used: 0.80,
            warn_blink_used: 0.95,
            cache_floor: 0.5,
            cache_min_prompt_tokens: 10_000,
            active_ms: 120_000,
            stall_after_ms: 180_000,
            stale_after_ms: 5 * 3600 * 1000,
        }
    }
}

impl Thresholds {
    /// Why these thresholds cannot work (a share outside 0..1, WARN's blink below its
    /// on, a time that is not positive), as `(key, what)`; `None` when they are sound.
    pub fn problem(&self) -> Option<(&'static str, &'static str)> {
        for (key, v) in [
            ("warn_used", self.warn_used),
            ("warn_blink_used", self.warn_blink_used),
            ("cache_floor", self.cache_floor),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Some((key, "must be a share from 0 to 1"));
            }
        }
        if self.warn_blink_used < self.warn_used {
            return Some(("warn_blink_used", "must not be below warn_used"));
        }
        for (key, v) in [
            ("active", self.active_ms),
            ("stall_after", self.stall_after_ms),
            ("stale_after", self.stale_after_ms),
        ] {
            if v <= 0 {
                return Some((key, "must be a positive number of seconds"));
            }
        }
        None
    }
}

/// What the lamps look at.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LampInputs {
    /// Now, milliseconds since the epoch.
    pub now_ms: i64,
    /// The newest telemetry of any source (a transcript line, an OpenTelemetry point or
    /// event, a statusLine object, a hook).
    pub telemetry_ms: Option<i64>,
    /// Family of the newest main-chain response and that response's time.
    pub model: Option<(ModelFamily, i64)>,
    /// Tokens per minute.
    pub tokens_per_min: Option<f64>,
    /// The redline, tokens per minute.
    pub tach_redline: f64,
    /// Share of the 5-hour window used.
    pub window_5h_pct: Option<f64>,
    /// A usage limit was hit and its reset is still ahead.
    pub limit_pending: bool,
    /// Cache hit rate over the ratio window.
    pub cache_hit_rate: Option<f64>,
    /// Prompt tokens (input, cache writes and reads) in that window.
    pub cache_prompt_tokens: u64,
    /// A configured source is failing now.
    pub source_failing: bool,
    /// The API returned an error within the error window.
    pub recent_api_error: bool,
    /// The sessions' turns.
    pub turn: TurnSummary,
}

/// The lamps and MODEL's colour.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Annunciators {
    /// The five states.
    pub lamps: Lamps,
    /// MODEL's colour: its family's, `None` while no fresh model is known.
    pub color: Option<Rgb>,
    /// The family MODEL shows.
    pub family: Option<ModelFamily>,
}

/// `blink` when the value passes `blink`, else `on` when it passes `on`; unknown is `off`.
fn level(value: Option<f64>, on: impl Fn(f64) -> bool, blink: impl Fn(f64) -> bool) -> LampState {
    match value {
        Some(v) if blink(v) => LampState::Blink,
        Some(v) if on(v) => LampState::On,
        _ => LampState::Off,
    }
}

fn age(now_ms: i64, at: Option<i64>) -> Option<i64> {
    at.map(|t| now_ms.saturating_sub(t))
}

/// The five lamps for these inputs.
pub fn lamps(i: &LampInputs, t: &Thresholds) -> Annunciators {
    let quiet_for = age(i.now_ms, i.telemetry_ms);
    let active = quiet_for.is_some_and(|a| a < t.active_ms);

    let family = i
        .model
        .filter(|&(_, at)| i.now_ms.saturating_sub(at) < t.stale_after_ms)
        .map(|(f, _)| f);
    let model = if family.is_some() {
        LampState::On
    } else {
        LampState::Off
    };

    let full_scale = i.tach_redline * TACH_FULL_SCALE;
    let hot = if i.tach_redline > 0.0 {
        level(
            i.tokens_per_min,
            |v| v >= i.tach_redline,
            |v| v > full_scale,
        )
    } else {
        LampState::Off
    };

    let cold_cache = active
        && i.cache_prompt_tokens >= t.cache_min_prompt_tokens
        && i.cache_hit_rate.is_some_and(|r| r < t.cache_floor);
    let warn = if i.limit_pending || i.window_5h_pct.is_some_and(|p| p >= t.warn_blink_used) {
        LampState::Blink
    } else if cold_cache || i.window_5h_pct.is_some_and(|p| p >= t.warn_used) {
        LampState::On
    } else {
        LampState::Off
    };

    let stalled = age(i.now_ms, i.turn.waiting_since_ms).is_some_and(|a| a >= t.stall_after_ms);
    let stall = if i.source_failing || i.recent_api_error {
        LampState::Blink
    } else if stalled {
        LampState::On
    } else {
        LampState::Off
    };

    let quiet = quiet_for.is_none_or(|a| a >= t.active_ms);
    let idle = if quiet && !i.turn.in_progress {
        LampState::Pulse
    } else {
        LampState::Off
    };

    Annunciators {
        lamps: Lamps {
            model,
            hot,
            warn,
            stall,
            idle,
        },
        color: family.map(ModelFamily::color),
        family,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LampState::*;

    const NOW: i64 = 1_800_000_000_000;

    fn base() -> LampInputs {
        LampInputs {
            now_ms: NOW,
            telemetry_ms: Some(NOW - 1_000),
            tach_redline: 20_000.0,
            ..LampInputs::default()
        }
    }

    #[test]
    fn thresholds_are_checked() {
        assert_eq!(Thresholds::default().problem(), None);
        let t = Thresholds {
            warn_blink_used: 0.7,
            ..Thresholds::default()
        };
        assert_eq!(t.problem().map(|p| p.0), Some("warn_blink_used"));
        let t = Thresholds {
            stall_after_ms: 0,
            ..Thresholds::default()
        };
        assert_eq!(t.problem().map(|p| p.0), Some("stall_after"));
    }

    #[test]
    fn model_shows_a_fresh_family_in_its_colour() {
        let t = Thresholds::default();
        let at = |age_ms: i64| {
            lamps(
                &LampInputs {
                    model: Some((ModelFamily::Haiku, NOW - age_ms)),
                    ..base()
                },
                &t,
            )
        };
        let a = at(1_000);
        assert_eq!(
            (a.lamps.model, a.color),
            (On, Some(ModelFamily::Haiku.color()))
        );
        let a = at(t.stale_after_ms);
        assert_eq!((a.lamps.model, a.color, a.family), (Off, None, None));
    }

    #[test]
    fn hot_at_the_redline_blinking_past_full_scale() {
        let t = Thresholds::default();
        let at = |tpm: Option<f64>| {
            lamps(
                &LampInputs {
                    tokens_per_min: tpm,
                    ..base()
                },
                &t,
            )
            .lamps
            .hot
        };
        assert_eq!(at(Some(19_999.0)), Off);
        assert_eq!(at(Some(20_000.0)), On);
        assert_eq!(at(Some(25_000.0)), On);
        assert_eq!(at(Some(25_001.0)), Blink);
        assert_eq!(at(None), Off);
    }
}
