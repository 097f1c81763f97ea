//! Gauge scales: where each needle points for a value, as a fraction of its sweep.
//!
//! Every scale is a pure function of the value and its calibration, clamped to 0..1, and
//! `None` when the value is unknown (the needle then rests at its zero stop). SPEC.md's
//! gauge table is the contract: TACH's full scale is 1.25 x the redline, FUEL reads the
//! share of the block budget left, COST today's dollars over the cost full scale, TEMP the
//! share of the context window in use.

use crate::wire::Gauges;

/// TACH's full scale as a multiple of the redline: the red zone is the top fifth.
pub const TACH_FULL_SCALE: f64 = 1.25;

/// The values the needles show, as the daemon knows them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Readings {
    /// Tokens per minute over the trailing window.
    pub tokens_per_min: Option<f64>,
    /// Share of the 5-hour block's budget left, 0..1 (may arrive outside; it is clamped).
    pub fuel_remaining: Option<f64>,
    /// US dollars spent today.
    pub cost_today_usd: Option<f64>,
    /// Context tokens in use and the window they fill, for the active session.
    pub context: Option<(u64, u64)>,
}

/// What the scales are measured against.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scales {
    /// Tokens per minute where the red zone starts (`REDLINE_TACH_REDLINE`).
    pub tach_redline: f64,
    /// Dollars at COST's full scale.
    pub cost_full_scale_usd: f64,
}

impl Default for Scales {
    fn default() -> Self {
        Scales {
            tach_redline: 20_000.0,
            cost_full_scale_usd: 50.0,
        }
    }
}

/// `value / full`, clamped to 0..1; `None` for an unknown value or a scale that is not a
/// positive number (a misconfigured scale must not send the needle to a random place).
pub fn fraction(value: Option<f64>, full: f64) -> Option<f32> {
    let value = value?;
    if full.is_nan() || full <= 0.0 || !value.is_finite() {
        return None;
    }
    Some((value / full).clamp(0.0, 1.0) as f32)
}

/// The share of the context window in use, clamped.
pub fn context_fraction(used: u64, window: u64) -> Option<f32> {
    if window == 0 {
        return None;
    }
    fraction(Some(used as f64), window as f64)
}

/// The four needle positions for these readings.
pub fn gauges(r: &Readings, s: &Scales) -> Gauges {
    Gauges {
        tach: fraction(r.tokens_per_min, s.tach_redline * TACH_FULL_SCALE),
        fuel: fraction(r.fuel_remaining, 1.0),
        cost: fraction(r.cost_today_usd, s.cost_full_scale_usd),
        temp: r
            .context
            .and_then(|(used, window)| context_fraction(used, window)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_positions() {
        let r = Readings {
            tokens_per_min: Some(8123.0),
            fuel_remaining: Some(0.62),
            cost_today_usd: Some(12.34),
            context: Some((120_000, 200_000)),
        };
        let g = gauges(&r, &Scales::default());
        let near = |a: Option<f32>, b: f32| (a.unwrap() - b).abs() < 0.005;
        assert!(near(g.tach, 0.32), "{g:?}");
        assert!(near(g.fuel, 0.62));
        assert!(near(g.cost, 0.2468));
        assert!(near(g.temp, 0.60));
    }

    #[test]
    fn clamped_and_unknown() {
        let r = Readings {
            tokens_per_min: Some(1e9),
            fuel_remaining: Some(-0.3),
            cost_today_usd: None,
            context: Some((10, 0)),
        };
        let g = gauges(&r, &Scales::default());
        assert_eq!(g.tach, Some(1.0));
        assert_eq!(g.fuel, Some(0.0));
        assert_eq!(g.cost, None);
        assert_eq!(g.temp, None);
        assert_eq!(fraction(Some(5.0), 0.0), None);
        assert_eq!(fraction(Some(f64::NAN), 1.0), None);
        assert_eq!(fraction(Some(5.0), -1.0), None);
    }
}
