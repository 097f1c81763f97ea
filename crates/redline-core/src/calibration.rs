//! Calibration: where on its dial a gauge fraction puts the needle, as a piecewise-linear
//! table from fractions (0 to 1) to planner steps.
//!
//! A printed dial is rarely exactly linear over the motor's sweep, and some dials use only
//! part of it; a table of a few measured points per gauge absorbs both. The table is a
//! fixed-size array (no heap on the chip), checked once when built so mapping can never
//! fail afterwards.

/// The most points a calibration table holds.
pub const MAX_POINTS: usize = 12;

/// One calibration point: the needle stands at `steps` when the gauge reads `fraction`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CalPoint {
    /// The gauge value, 0 to 1.
    pub fraction: f32,
    /// The planner position, in steps from zero.
    pub steps: u16,
}

/// Why a calibration table was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CalibrationError {
    /// Fewer than two points, or more than [`MAX_POINTS`].
    PointCount(usize),
    /// The first point is not at fraction 0 or the last not at fraction 1.
    Ends,
    /// Point `n` does not lie after point `n - 1` in fraction (or is not a number).
    FractionOrder(usize),
    /// Point `n` is below point `n - 1` in steps: the needle would run backwards.
    StepOrder(usize),
    /// Point `n` lies beyond the planner's full scale.
    BeyondFullScale(usize),
}

impl core::fmt::Display for CalibrationError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CalibrationError::PointCount(n) => {
                write!(f, "{n} calibration points; 2 to {MAX_POINTS} are needed")
            }
            CalibrationError::Ends => f.write_str("calibration must start at 0 and end at 1"),
            CalibrationError::FractionOrder(n) => {
                write!(f, "calibration point {n} does not follow the one before it")
            }
            CalibrationError::StepOrder(n) => {
                write!(
                    f,
                    "calibration point {n} has fewer steps than the one before it"
                )
            }
            CalibrationError::BeyondFullScale(n) => {
                write!(f, "calibration point {n} lies beyond full scale")
            }
        }
    }
}

/// A validated calibration table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Calibration {
    points: [CalPoint; MAX_POINTS],
    len: usize,
}

impl Calibration {
    /// The straight line from 0 steps at 0 to `full_scale` steps at 1.
    pub const fn linear(full_scale: u16) -> Calibration {
        let mut points = [CalPoint {
            fraction: 0.0,
            steps: 0,
        }; MAX_POINTS];
        points[1] = CalPoint {
            fraction: 1.0,
            steps: full_scale,
        };
        Calibration { points, len: 2 }
    }

    /// A table through `points`: 2 to [`MAX_POINTS`] of them, the first at fraction 0 and
    /// the last at 1, fractions strictly rising, steps never falling and none beyond
    /// `full_scale`.
    pub fn new(points: &[CalPoint], full_scale: u16) -> Result<Calibration, CalibrationError> {
        if points.len() < 2 || points.len() > MAX_POINTS {
            return Err(CalibrationError::PointCount(points.len()));
        }
        if points[0].fraction != 0.0 || points[points.len() - 1].fraction != 1.0 {
            return Err(CalibrationError::Ends);
        }
        for (n, point) in points.iter().enumerate() {
            if point.steps > full_scale {
                return Err(CalibrationError::BeyondFullScale(n));
            }
            if n > 0 {
                let before = points[n - 1];
                // A NaN compares as None, which fails the check too.
                if point.fraction.partial_cmp(&before.fraction)
                    != Some(core::cmp::Ordering::Greater)
                {
                    return Err(CalibrationError::FractionOrder(n));
                }
                if point.steps < before.steps {
                    return Err(CalibrationError::StepOrder(n));
                }
            }
        }
        let mut table = [CalPoint::default(); MAX_POINTS];
        table[..points.len()].copy_from_slice(points);
        Ok(Calibration {
            points: table,
            len: points.len(),
        })
    }

    /// The points of the table.
    pub fn points(&self) -> &[CalPoint] {
        &self.points[..self.len]
    }

    /// The needle position for a gauge fraction. Values below 0, and NaN, map to the first
    /// point; values above 1 to the last.
    pub fn steps(&self, fraction: f32) -> u16 {
        let points = self.points();
        if fraction.is_nan() || fraction <= 0.0 {
            return points[0].steps;
        }
        for pair in points.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if fraction <= b.fraction {
                let t = (fraction - a.fraction) / (b.fraction - a.fraction);
                let steps = f32::from(a.steps) + t * (f32::from(b.steps) - f32::from(a.steps));
                // Round to the nearest step; the table's order keeps it within a..=b.
                return ((steps + 0.5) as u16).clamp(a.steps, b.steps);
            }
        }
        points[points.len() - 1].steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(fraction: f32, steps: u16) -> CalPoint {
        CalPoint { fraction, steps }
    }

    #[test]
    fn bad_tables_are_refused_with_the_point_at_fault() {
        let fs = 3756;
        assert_eq!(
            Calibration::new(&[p(0.0, 0)], fs),
            Err(CalibrationError::PointCount(1))
        );
        assert_eq!(
            Calibration::new(&[p(0.1, 0), p(1.0, 9)], fs),
            Err(CalibrationError::Ends)
        );
        assert_eq!(
            Calibration::new(&[p(0.0, 0), p(0.5, 9), p(0.5, 10), p(1.0, 20)], fs),
            Err(CalibrationError::FractionOrder(2))
        );
        assert_eq!(
            Calibration::new(&[p(0.0, 0), p(f32::NAN, 9), p(1.0, 20)], fs),
            Err(CalibrationError::FractionOrder(1))
        );
        assert_eq!(
            Calibration::new(&[p(0.0, 0), p(0.5, 30), p(1.0, 20)], fs),
            Err(CalibrationError::StepOrder(2))
        );
        assert_eq!(
            Calibration::new(&[p(0.0, 0), p(1.0, 4000)], fs),
            Err(CalibrationError::BeyondFullScale(1))
        );
    }

    #[test]
    fn a_table_maps_piecewise_linearly_and_clamps() {
        let cal = Calibration::new(&[p(0.0, 100), p(0.5, 2500), p(1.0, 3000)], 3756).unwrap();
        assert_eq!(cal.steps(0.0), 100);
        assert_eq!(cal.steps(0.25), 1300);
        assert_eq!(cal.steps(0.5), 2500);
        assert_eq!(cal.steps(0.75), 2750);
        assert_eq!(cal.steps(1.0), 3000);
        assert_eq!(cal.steps(-1.0), 100);
        assert_eq!(cal.steps(7.0), 3000);
        assert_eq!(cal.steps(f32::NAN), 100);
        assert_eq!(Calibration::linear(3756).steps(0.5), 1878);
    }
}
