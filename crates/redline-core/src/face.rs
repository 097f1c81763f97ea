//! What a dial face prints: its tick marks and numerals, from the same scales the needles
//! use ([`crate::gauges`]), so a printed face, the web page and the motor agree.
//!
//! Angles are degrees clockwise from 12 o'clock. The X27.168 sweeps 315 degrees between
//! its stops; the face puts the 45-degree gap at 6 o'clock, so the zero stop is at
//! [`ZERO_ANGLE`] (lower left) and full scale at `ZERO_ANGLE + SWEEP` (lower right).
//!
//! Figures fall on dial-friendly values: a major step of 1, 2, 2.5 or 5 x 10^n giving three
//! to eight intervals (never `$13` on a $50 dial), minor ticks between, the full scale
//! ticked even when it is not a major value, and TACH's redline always ticked. Letter
//! dials (FUEL E..F, TEMP C..H) print their letters and quarter ticks.

use core::fmt::Write;

use crate::gauges::{Dial, Scales, TACH_FULL_SCALE};

/// Degrees from the zero stop to full scale (the X27.168's sweep).
pub const SWEEP: f32 = 315.0;

/// Where the zero stop is: degrees clockwise from 12 o'clock (negative: to the left).
pub const ZERO_ANGLE: f32 = -SWEEP / 2.0;

/// The angle of needle position `position` (0 = zero stop, 1 = full scale), in degrees
/// clockwise from 12 o'clock.
pub fn angle(position: f32) -> f32 {
    ZERO_ANGLE + SWEEP * position
}

/// The most marks one face carries (majors, minors, the full scale and the redline).
pub const MAX_MARKS: usize = 48;

/// A short printed figure (`25`, `$2.5`, `½`, `100%`), kept without a heap.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Label {
    bytes: [u8; 12],
    len: u8,
}

impl Label {
    fn new(s: &str) -> Label {
        let mut l = Label {
            bytes: [0; 12],
            len: 0,
        };
        // Every label built here is short; a longer one is cut at a character boundary.
        let _ = l.write_str(s);
        l
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl Write for Label {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for c in s.chars() {
            let mut b = [0; 4];
            let c = c.encode_utf8(&mut b).as_bytes();
            let at = usize::from(self.len);
            if at + c.len() > self.bytes.len() {
                return Err(core::fmt::Error);
            }
            self.bytes[at..at + c.len()].copy_from_slice(c);
            self.len += c.len() as u8;
        }
        Ok(())
    }
}

impl core::fmt::Debug for Label {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl core::fmt::Display for Label {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One tick on a face.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mark {
    /// The scale value it stands for, in the reading's own unit (tokens/min, dollars, or a
    /// share 0..1 for FUEL, TEMP, BOOST, CONTEXT, WEEKLY).
    pub value: f64,
    /// Its needle position, 0 at the zero stop, 1 at full scale.
    pub position: f32,
    /// A long tick (a short one when false).
    pub major: bool,
    /// TACH's redline: where the red zone starts and HOT lights.
    pub redline: bool,
    /// The figure printed beside it, if any.
    pub label: Option<Label>,
}

impl Mark {
    /// Its angle in degrees clockwise from 12 o'clock.
    pub fn angle(&self) -> f32 {
        angle(self.position)
    }
}

/// The marks of one face, from the zero stop up, and the multiplier its figures need.
#[derive(Clone, Copy, Debug)]
pub struct FaceScale {
    marks: [Mark; MAX_MARKS],
    len: usize,
    /// Printed under the figures when they are shortened (`×1000`).
    pub multiplier: Option<&'static str>,
    /// The value at full scale, in the reading's unit.
    pub full_scale: f64,
}

impl FaceScale {
    /// The marks in position order.
    pub fn marks(&self) -> &[Mark] {
        &self.marks[..self.len]
    }

    fn empty(full_scale: f64) -> FaceScale {
        FaceScale {
            marks: [Mark {
                value: 0.0,
                position: 0.0,
                major: false,
                redline: false,
                label: None,
            }; MAX_MARKS],
            len: 0,
            multiplier: None,
            full_scale,
        }
    }

    fn push(&mut self, value: f64, major: bool, label: Option<Label>) {
        if self.len < MAX_MARKS {
            let position = (value / self.full_scale).clamp(0.0, 1.0) as f32;
            self.marks[self.len] = Mark {
                value,
                position,
                major,
                redline: false,
                label,
            };
            self.len += 1;
        }
    }

    fn sort(&mut self) {
        // Insertion sort: a few dozen marks, no heap.
        for i in 1..self.len {
            let mut j = i;
            while j > 0 && self.marks[j - 1].value > self.marks[j].value {
                self.marks.swap(j - 1, j);
                j -= 1;
            }
        }
    }
}

/// A dial-friendly major step for a scale from 0 to `full`: 1, 2, 2.5 or 5 x 10^n, giving
/// three to eight intervals, as near five as can be, preferring one that ends exactly on
/// `full`. Returns `(major, minor)`.
pub fn nice_step(full: f64) -> (f64, f64) {
    let mut best: Option<(f64, f64, f64)> = None; // (score, major, minor)
    if full.is_finite() && full > 0.0 {
        let top = log10_floor(full);
        for k in top - 2..=top + 1 {
            for (m, minor_div) in [(1.0, 5.0), (2.0, 4.0), (2.5, 5.0), (5.0, 5.0)] {
                let step = m * pow10(k);
                let n = full / step;
                if !(3.0 - 1e-9..=8.0 + 1e-9).contains(&n) {
                    continue;
                }
                let exact = (n - round(n)).abs() < 1e-6;
                let score = (n - 5.0).abs() + if exact { 0.0 } else { 1.0 };
                if best.is_none_or(|(s, _, _)| score < s - 1e-9) {
                    best = Some((score, step, step / minor_div));
                }
            }
        }
    }
    match best {
        Some((_, major, minor)) => (major, minor),
        None => (full / 5.0, full / 25.0),
    }
}

fn pow10(k: i32) -> f64 {
    let mut p = 1.0;
    for _ in 0..k.unsigned_abs() {
        p *= 10.0;
    }
    if k < 0 { 1.0 / p } else { p }
}

fn log10_floor(v: f64) -> i32 {
    let mut k = 0;
    let mut x = v;
    while x >= 10.0 {
        x /= 10.0;
        k += 1;
    }
    while x < 1.0 {
        x *= 10.0;
        k -= 1;
    }
    k
}

fn round(v: f64) -> f64 {
    // f64::round needs std; the values here are small and positive or near zero.
    let t = v as i64 as f64;
    if v - t >= 0.5 {
        t + 1.0
    } else if t - v > 0.5 {
        t - 1.0
    } else {
        t
    }
}

/// How many decimals `figure` needs (0, 1 or 2): `2.5`, `5`, `0.25`.
fn decimals(figure: f64) -> usize {
    (0..2)
        .find(|&d| {
            let s = figure * pow10(d as i32);
            (s - round(s)).abs() < 1e-6
        })
        .unwrap_or(2)
}

/// The marks `dial`'s face prints with these scales.
pub fn scale(dial: Dial, s: &Scales) -> FaceScale {
    let face = dial.face();
    match dial {
        Dial::Tach => figures(
            s.tach_redline * TACH_FULL_SCALE,
            1.0,
            "",
            Some(s.tach_redline),
        ),
        Dial::Cost => figures(s.cost_full_scale_usd, 1.0, "$", None),
        Dial::Boost => {
            let mut f = figures(1.0, 100.0, "", None);
            // The top figure says what the scale is in (`100%`).
            if let (Some(high), Some(last)) = (face.high, f.marks[..f.len].last_mut()) {
                last.label = Some(Label::new(high));
            }
            f
        }
        Dial::Fuel | Dial::Temp | Dial::Context | Dial::Weekly => {
            let mut f = FaceScale::empty(1.0);
            for i in 0..=8 {
                let v = f64::from(i) / 8.0;
                let label = match i {
                    0 => Some(Label::new(face.low)),
                    8 => face.high.map(Label::new),
                    4 if face.low == "E" => Some(Label::new("½")),
                    _ => None,
                };
                f.push(v, i % 2 == 0, label);
            }
            f
        }
    }
}

/// A scale of figures from 0 to `full` (in the reading's unit), printed as `value x
/// shown` with `prefix`, shortened by thousands when the figures grow past four digits.
fn figures(full: f64, shown: f64, prefix: &str, redline: Option<f64>) -> FaceScale {
    let mut f = FaceScale::empty(full);
    if !(full.is_finite() && full > 0.0) {
        return f;
    }
    let (major, minor) = nice_step(full * shown);
    let (mut divide, mut multiplier) = (1.0, None);
    if full * shown >= 10_000.0 {
        (divide, multiplier) = (1000.0, Some("×1000"));
    }
    if full * shown >= 10_000_000.0 {
        (divide, multiplier) = (1_000_000.0, Some("×1000000"));
    }
    f.multiplier = multiplier;
    let per_major = round(major / minor) as u64;
    let mut i: u64 = 0;
    loop {
        let printed = minor * i as f64; // in shown units
        if printed > full * shown * (1.0 + 1e-9) {
            break;
        }
        let value = printed / shown;
        if i.is_multiple_of(per_major) {
            let mut label = Label::new(prefix);
            let figure = printed / divide;
            let _ = write!(label, "{:.*}", decimals(figure), figure);
            f.push(value, true, Some(label));
        } else {
            f.push(value, false, None);
        }
        i += 1;
    }
    // Full scale between two ticks (TACH at 1.25 x a redline of 30,000) still gets its
    // tick, without a figure that would crowd the last one.
    let last = f.marks()[f.len - 1].value;
    if (full - last) / full > 1e-6 {
        f.push(full, true, None);
    }
    if let Some(red) = redline.filter(|r| r.is_finite() && *r > 0.0 && *r <= full) {
        let at = f.marks[..f.len]
            .iter()
            .position(|m| (m.value - red).abs() / full < 1e-6);
        let at = at.unwrap_or_else(|| {
            f.push(red, true, None);
            f.len - 1
        });
        f.marks[at].major = true;
        f.marks[at].redline = true;
        f.sort();
    }
    f
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::String;
    use std::vec::Vec;

    use super::*;

    fn labels(f: &FaceScale) -> Vec<String> {
        f.marks()
            .iter()
            .filter_map(|m| m.label.map(|l| String::from(l.as_str())))
            .collect()
    }

    #[test]
    fn steps_are_dial_friendly() {
        assert_eq!(nice_step(50.0), (10.0, 2.0));
        assert_eq!(nice_step(5.0), (1.0, 0.2));
        assert_eq!(nice_step(25_000.0), (5000.0, 1000.0));
        assert_eq!(nice_step(100.0), (20.0, 5.0));
        assert_eq!(nice_step(13.0).0, 2.5);
        assert_eq!(nice_step(37_500.0).0, 10_000.0);
        assert_eq!(nice_step(0.3), (0.05, 0.01));
        for full in [0.7, 3.0, 13.0, 50.0, 99.0, 120.0, 37_500.0, 1e6, 7.3e7] {
            let (major, _) = nice_step(full);
            let mantissa = major / pow10(log10_floor(major));
            assert!(
                [1.0, 2.0, 2.5, 5.0]
                    .iter()
                    .any(|m| (m - mantissa).abs() < 1e-9),
                "{full}: {major}"
            );
            let n = full / major;
            assert!((3.0 - 1e-9..=8.0 + 1e-9).contains(&n), "{full}: {n}");
        }
    }

    #[test]
    fn cost_figures_are_whole_dollars_on_a_50_dollar_dial() {
        let s = Scales::default();
        let f = scale(Dial::Cost, &s);
        assert_eq!(labels(&f), ["$0", "$10", "$20", "$30", "$40", "$50"]);
        let five = scale(
            Dial::Cost,
            &Scales {
                cost_full_scale_usd: 5.0,
                ..s
            },
        );
        assert_eq!(labels(&five), ["$0", "$1", "$2", "$3", "$4", "$5"]);
        let odd = scale(
            Dial::Cost,
            &Scales {
                cost_full_scale_usd: 13.0,
                ..s
            },
        );
        assert_eq!(labels(&odd), ["$0", "$2.5", "$5", "$7.5", "$10", "$12.5"]);
        // $13 is ticked (full scale) but not numbered.
        let last = odd.marks().last().unwrap();
        assert_eq!((last.value, last.position, last.label), (13.0, 1.0, None));
    }

    #[test]
    fn tach_is_in_thousands_with_its_redline_ticked() {
        let s = Scales::default();
        let f = scale(Dial::Tach, &s);
        assert_eq!(f.multiplier, Some("×1000"));
        assert_eq!(labels(&f), ["0", "5", "10", "15", "20", "25"]);
        let red: Vec<&Mark> = f.marks().iter().filter(|m| m.redline).collect();
        assert_eq!(red.len(), 1);
        assert_eq!(red[0].value, 20_000.0);
        assert!((red[0].angle() - (ZERO_ANGLE + 0.8 * SWEEP)).abs() < 1e-3);
        // A redline between figures gets a tick of its own, and the marks stay in order.
        let odd = scale(
            Dial::Tach,
            &Scales {
                tach_redline: 17_000.0,
                ..s
            },
        );
        let red = odd.marks().iter().find(|m| m.redline).unwrap();
        assert_eq!((red.value, red.major, red.label), (17_000.0, true, None));
        assert!((red.position - 0.8).abs() < 1e-6);
        assert!(odd.marks().windows(2).all(|w| w[0].value < w[1].value));
        assert_eq!(odd.marks().last().unwrap().value, 21_250.0);
    }

    #[test]
    fn letter_and_percent_dials() {
        let s = Scales::default();
        assert_eq!(labels(&scale(Dial::Fuel, &s)), ["E", "½", "F"]);
        assert_eq!(labels(&scale(Dial::Temp, &s)), ["C", "H"]);
        let boost = scale(Dial::Boost, &s);
        assert_eq!(labels(&boost), ["0", "20", "40", "60", "80", "100%"]);
        let sixty = boost
            .marks()
            .iter()
            .find(|m| m.label.is_some_and(|l| l.as_str() == "60"));
        assert!((sixty.unwrap().value - 0.6).abs() < 1e-9);
        assert_eq!(boost.marks().len(), 21);
        assert_eq!(boost.multiplier, None);
    }

    #[test]
    fn angles_span_the_sweep() {
        assert_eq!(angle(0.0), -157.5);
        assert_eq!(angle(1.0), 157.5);
        for d in Dial::ALL {
            let f = scale(d, &Scales::default());
            let m = f.marks();
            assert_eq!(m[0].position, 0.0, "{d:?}");
            assert_eq!(m[m.len() - 1].position, 1.0, "{d:?}");
            assert!(m[0].major && m[m.len() - 1].major, "{d:?}");
        }
    }

    #[test]
    fn labels_are_bounded() {
        let mut l = Label::new("");
        assert!(write!(l, "{}", "x".repeat(20)).is_err());
        assert!(l.as_str().len() <= 12);
        // A huge scale still prints short figures.
        let big = scale(
            Dial::Tach,
            &Scales {
                tach_redline: 4e8,
                ..Scales::default()
            },
        );
        assert_eq!(big.multiplier, Some("×1000000"));
        assert!(labels(&big).iter().all(|l| l.len() <= 4));
    }
}
