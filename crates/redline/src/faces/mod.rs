//! The dial faces: drawn once, from the scales the daemon uses (`redline_core::face` for
//! ticks and figures, `redline_core::gauges::zones` for the coloured arcs), as a
//! [`Drawing`] in millimetres that [`svg`] and [`pdf`] render. `redline faces` writes them
//! for printing; the daemon serves the same SVG to the web page (`/faces/<dial>.svg`).
//!
//! Layout of a face of radius R (the needle's shaft at the centre): the tick ring from
//! 0.78 R to 0.92 R with the zones under its outer part, figures at 0.63 R, the title and
//! legend above the hub (the needle rests at its zero stop, lower left, and never lies on
//! them at rest), the multiplier in the 45-degree gap at 6 o'clock, and, for print only,
//! the cut circle, the shaft hole, a registration mark at the zero stop and a 10 mm scale
//! bar in the gap.

pub mod draw;
pub mod pdf;
pub mod svg;

use redline_core::face::{self, SWEEP, ZERO_ANGLE};
use redline_core::gauges::{Dial, Scales, ZoneColor, zones};

use draw::{Anchor, Drawing, Paint, Rgb, Shape, arc, band, polar, text_width};

/// The face's cream.
pub const CREAM: Rgb = Rgb(243, 234, 211);
/// Ticks and figures.
pub const INK: Rgb = Rgb(22, 22, 22);
/// Red zones and the redline.
pub const RED: Rgb = Rgb(200, 38, 28);
/// TEMP's cool band.
pub const BLUE: Rgb = Rgb(34, 90, 170);
/// TEMP's middle band.
pub const WHITE: Rgb = Rgb(255, 255, 255);
/// Cut lines and print notes.
pub const GREY: Rgb = Rgb(140, 140, 140);

/// The faces' default diameter in mm: the enclosure's face pocket
/// (`hardware/enclosure`).
pub const DEFAULT_DIAMETER: f64 = 52.0;
/// The shaft hole's default diameter in mm: clears the X27.168's 1 mm shaft with room
/// to centre the face by eye (the enclosure's faceplate holds the bushing below it).
pub const DEFAULT_HOLE: f64 = 3.0;
/// The lamp pitch of the annunciator strip, mm (the enclosure's lamp window).
pub const DEFAULT_LAMP_PITCH: f64 = 16.0;

/// What size to draw at.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaceSize {
    /// Face diameter, mm.
    pub diameter: f64,
    /// Centre hole diameter, mm.
    pub hole: f64,
}

impl Default for FaceSize {
    fn default() -> Self {
        FaceSize {
            diameter: DEFAULT_DIAMETER,
            hole: DEFAULT_HOLE,
        }
    }
}

/// A scale value as the `data-value` attributes carry it: plain decimal, no trailing
/// zeros.
pub fn value_text(v: f64) -> String {
    let s = format!("{v:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// `dial`'s face, centred on (0, 0), in a view box one diameter wide.
pub fn face(dial: Dial, scales: &Scales, size: FaceSize) -> Drawing {
    let r = size.diameter / 2.0;
    let scale = face::scale(dial, scales);
    let labels = dial.face();
    let mut d = Drawing::new((-r, -r, 2.0 * r, 2.0 * r));
    d.data = vec![
        ("dial", dial.name().to_owned()),
        ("diameter", value_text(size.diameter)),
        ("sweep", value_text(f64::from(SWEEP))),
        ("zero-angle", value_text(f64::from(ZERO_ANGLE))),
        ("full-scale", value_text(scale.full_scale)),
    ];
    d.add(
        Shape::Circle {
            cx: 0.0,
            cy: 0.0,
            r,
        },
        Paint::fill(CREAM),
        "face",
    );

    // Zones under the outer part of the tick ring.
    for z in zones(dial, scales).into_iter().flatten() {
        let (color, class) = match z.color {
            ZoneColor::Red => (RED, "zone red"),
            ZoneColor::Blue => (BLUE, "zone blue"),
            ZoneColor::White => (WHITE, "zone white"),
        };
        let mut paint = Paint::fill(color);
        if z.color == ZoneColor::White {
            // White on cream needs an edge to be seen.
            paint.stroke = Some((GREY, 0.004 * r));
        }
        let from = f64::from(face::angle(z.from));
        let to = f64::from(face::angle(z.to));
        d.add(
            Shape::Path(band(0.85 * r, 0.92 * r, from, to)),
            paint,
            class,
        )
        .data
        .extend([
            ("from", svg::num(f64::from(z.from))),
            ("to", svg::num(f64::from(z.to))),
        ]);
    }

    // The sweep's edge, then the ticks.
    d.add(
        Shape::Path(arc(
            0.92 * r,
            f64::from(ZERO_ANGLE),
            f64::from(ZERO_ANGLE + SWEEP),
            false,
        )),
        Paint::stroke(INK, 0.012 * r),
        "sweep",
    );
    for m in scale.marks() {
        let deg = f64::from(m.angle());
        let (inner, outer, width, color) = match (m.redline, m.major) {
            (true, _) => (0.72 * r, 0.94 * r, 0.034 * r, RED),
            (false, true) => (0.78 * r, 0.92 * r, 0.026 * r, INK),
            (false, false) => (0.85 * r, 0.92 * r, 0.013 * r, INK),
        };
        let (x1, y1) = polar(inner, deg);
        let (x2, y2) = polar(outer, deg);
        let class = match (m.redline, m.major) {
            (true, _) => "tick major redline",
            (false, true) => "tick major",
            (false, false) => "tick minor",
        };
        d.add(
            Shape::Line { x1, y1, x2, y2 },
            Paint::stroke(color, width),
            class,
        )
        .data
        .extend([
            ("value", value_text(m.value)),
            ("angle", svg::num(f64::from(m.position) * f64::from(SWEEP))),
        ]);
    }

    // Figures: letters big; numbers as big as their spacing allows.
    let labelled: Vec<(f64, String, f64)> = scale
        .marks()
        .iter()
        .filter_map(|m| {
            m.label
                .map(|l| (f64::from(m.angle()), l.as_str().to_owned(), m.value))
        })
        .collect();
    let letters = labelled
        .iter()
        .all(|(_, t, _)| t.chars().all(|c| c.is_ascii_uppercase() || c == '½'));
    let radius = if letters { 0.60 * r } else { 0.63 * r };
    let size_for = |labelled: &[(f64, String, f64)]| {
        if letters {
            0.2 * r
        } else {
            figure_size(labelled, radius, r)
        }
    };
    // The figures at the stops move into the sweep, clear of the needle resting there;
    // sized again, since they moved nearer their neighbours.
    let mut labelled = labelled;
    let first = size_for(&labelled);
    clear_the_stops(&mut labelled, radius, first, r);
    let fig = size_for(&labelled);
    for (deg, text, value) in &labelled {
        let (x, y) = polar(radius, *deg);
        d.add(
            Shape::Text {
                x,
                y: y + 0.36 * fig,
                size: fig,
                anchor: Anchor::Middle,
                text: text.clone(),
            },
            Paint::fill(INK),
            "numeral",
        )
        .data
        .push(("value", value_text(*value)));
    }

    // Title and legend above the hub; the legend shrinks to fit.
    let title = 0.12 * r;
    d.add(
        Shape::Text {
            x: 0.0,
            y: -0.30 * r,
            size: title,
            anchor: Anchor::Middle,
            text: labels.title.to_owned(),
        },
        Paint::fill(INK),
        "title",
    );
    let legend = (0.058 * r).min(0.8 * r / text_width(labels.legend, 1.0).max(1e-9));
    d.add(
        Shape::Text {
            x: 0.0,
            y: -0.205 * r,
            size: legend,
            anchor: Anchor::Middle,
            text: labels.legend.to_owned(),
        },
        Paint::fill(INK),
        "legend",
    );
    if let Some(mult) = scale.multiplier {
        d.add(
            Shape::Text {
                x: 0.0,
                y: 0.45 * r,
                size: 0.07 * r,
                anchor: Anchor::Middle,
                text: mult.to_owned(),
            },
            Paint::fill(INK),
            "mult",
        );
    }
    print_marks(&mut d, r, size.hole / 2.0);
    d
}

/// Half the width of a needle where it passes the figures, and the gap kept from it, as
/// shares of the radius (the X27.168's pointers and the page's are about 1.5 mm wide
/// there on a 52 mm face).
const NEEDLE_HALF: f64 = 0.03;
const NEEDLE_GAP: f64 = 0.035;

/// Turns the figures that sit on a stop (FUEL's E and F, TACH's 0 and 25, ...) into the
/// sweep until their box, at font size `size`, clears the needle resting on that stop.
fn clear_the_stops(labelled: &mut [(f64, String, f64)], radius: f64, size: f64, r: f64) {
    let stops = [f64::from(ZERO_ANGLE), f64::from(ZERO_ANGLE + SWEEP)];
    for (deg, text, _) in labelled.iter_mut() {
        let Some(inward) = stops
            .iter()
            .position(|s| (*deg - s).abs() < 1e-6)
            .map(|i| if i == 0 { 1.0 } else { -1.0 })
        else {
            continue;
        };
        let a = deg.to_radians();
        // The box's half extent across the needle's line.
        let across = 0.5 * text_width(text, size) * a.cos().abs() + 0.36 * size * a.sin().abs();
        let clear = (across + (NEEDLE_HALF + NEEDLE_GAP) * r) / radius;
        *deg += inward * clear.min(1.0).asin().to_degrees();
    }
}

/// The figures' font size: at most 0.13 R, and small enough that neighbours keep a gap
/// and no figure reaches the tick ring.
fn figure_size(labelled: &[(f64, String, f64)], radius: f64, r: f64) -> f64 {
    let mut size = 0.13 * r;
    for w in labelled.windows(2) {
        let chord = 2.0 * radius * ((w[1].0 - w[0].0).abs() / 2.0).to_radians().sin();
        let widths = (text_width(&w[0].1, 1.0) + text_width(&w[1].1, 1.0)) / 2.0;
        size = size.min(chord / (widths + 0.3));
    }
    for (deg, text, _) in labelled {
        let a = deg.to_radians();
        let reach = 0.5 * text_width(text, 1.0) * a.sin().abs() + 0.4 * a.cos().abs();
        size = size.min((0.76 * r - radius) / reach.max(1e-9));
    }
    size.max(0.06 * r)
}

/// The print furniture, class `print-only` (the page hides it): the cut circle, the shaft
/// hole with its cross, a registration triangle at the zero stop, a 10 mm scale bar.
fn print_marks(d: &mut Drawing, r: f64, hole: f64) {
    let thin = Paint::stroke(GREY, 0.1);
    d.add(
        Shape::Circle {
            cx: 0.0,
            cy: 0.0,
            r,
        },
        thin,
        "print-only cut",
    );
    d.add(
        Shape::Circle {
            cx: 0.0,
            cy: 0.0,
            r: hole,
        },
        Paint::stroke(INK, 0.15),
        "print-only shaft-hole",
    );
    let arm = hole + 1.2;
    for (x1, y1, x2, y2) in [(-arm, 0.0, arm, 0.0), (0.0, -arm, 0.0, arm)] {
        d.add(
            Shape::Line { x1, y1, x2, y2 },
            Paint::stroke(INK, 0.08),
            "print-only shaft-hole",
        );
    }
    // A triangle at the rim pointing at the zero stop's tick.
    let z = f64::from(ZERO_ANGLE);
    let (tx, ty) = polar(0.935 * r, z);
    let (ax, ay) = polar(0.995 * r, z - 2.2);
    let (bx, by) = polar(0.995 * r, z + 2.2);
    d.add(
        Shape::Path(vec![
            draw::Seg::Move(tx, ty),
            draw::Seg::Line(ax, ay),
            draw::Seg::Line(bx, by),
            draw::Seg::Close,
        ]),
        Paint::fill(INK),
        "print-only registration",
    )
    .data
    .push(("angle", "0".to_owned()));
    scale_bar(d, 0.0, 0.74 * r, "print-only scale-bar");
}

/// A 10 mm bar centred on (`x`, `y`) with end ticks and its length written under it.
fn scale_bar(d: &mut Drawing, x: f64, y: f64, class: &str) {
    let p = Paint::stroke(INK, 0.2);
    d.add(
        Shape::Line {
            x1: x - 5.0,
            y1: y,
            x2: x + 5.0,
            y2: y,
        },
        p,
        class,
    )
    .data
    .push(("length-mm", "10".to_owned()));
    for end in [x - 5.0, x + 5.0] {
        d.add(
            Shape::Line {
                x1: end,
                y1: y - 0.8,
                x2: end,
                y2: y + 0.8,
            },
            p,
            class,
        );
    }
    d.add(
        Shape::Text {
            x,
            y: y + 2.4,
            size: 1.5,
            anchor: Anchor::Middle,
            text: "10 mm".to_owned(),
        },
        Paint::fill(INK),
        class,
    );
}

/// A sheet of paper the faces are printed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paper {
    /// 210 x 297 mm.
    A4,
    /// US Letter, 8.5 x 11 in.
    Letter,
}

impl Paper {
    /// Width and height in mm.
    pub fn size(self) -> (f64, f64) {
        match self {
            Paper::A4 => (210.0, 297.0),
            Paper::Letter => (215.9, 279.4),
        }
    }

    /// The file name's part (`a4`, `letter`).
    pub fn name(self) -> &'static str {
        match self {
            Paper::A4 => "a4",
            Paper::Letter => "letter",
        }
    }
}

/// The largest face diameter a sheet holds two by two with the lamp strip, in mm.
pub const MAX_DIAMETER: f64 = 75.0;
/// The smallest face drawn: below it the figures would not be legible.
pub const MIN_DIAMETER: f64 = 30.0;

/// Everything a sheet says beside the faces: what they were drawn for.
pub struct SheetNotes<'a> {
    /// One line on the scales (`TACH redline 20,000 tokens/min · COST $50`).
    pub scales: &'a str,
}

/// The four mounted faces two by two, with their places (N1..N4), the annunciator
/// legend strip, a scale bar and the instruction to print at 100 %.
pub fn sheet(
    needles: &[Dial; 4],
    scales: &Scales,
    size: FaceSize,
    lamp_pitch: f64,
    paper: Paper,
    notes: &SheetNotes<'_>,
) -> Drawing {
    let (w, h) = paper.size();
    let mut d = Drawing::new((0.0, 0.0, w, h));
    d.data = vec![
        ("paper", paper.name().to_owned()),
        ("diameter", value_text(size.diameter)),
    ];
    let margin = 14.0;
    let text = |d: &mut Drawing, x: f64, y: f64, size: f64, anchor, t: &str, class: &str| {
        d.add(
            Shape::Text {
                x,
                y,
                size,
                anchor,
                text: t.to_owned(),
            },
            Paint::fill(INK),
            class,
        );
    };
    text(
        &mut d,
        margin,
        margin + 4.0,
        6.0,
        Anchor::Start,
        "REDLINE DIAL FACES",
        "heading",
    );
    text(
        &mut d,
        margin,
        margin + 10.0,
        2.8,
        Anchor::Start,
        notes.scales,
        "note",
    );

    let cell_w = (w - 2.0 * margin) / 2.0;
    let cell_h = size.diameter + 16.0;
    let top = margin + 18.0;
    for (i, &dial) in needles.iter().enumerate() {
        let cx = margin + cell_w * (i % 2) as f64 + cell_w / 2.0;
        let cy = top + cell_h * (i / 2) as f64 + size.diameter / 2.0;
        let mut f = face(dial, scales, size);
        for item in &mut f.items {
            item.data.push(("dial", dial.name().to_owned()));
        }
        d.place(&f, cx, cy);
        let caption = format!("N{} · {}", i + 1, dial.face().title);
        text(
            &mut d,
            cx,
            cy + size.diameter / 2.0 + 6.0,
            3.0,
            Anchor::Middle,
            &caption,
            "caption",
        );
    }

    // The annunciator legend: a black strip, the names knocked out so the lamps shine
    // through them when it is printed on film.
    let strip_h = 10.0;
    let strip_w = lamp_pitch * 5.0;
    let sy = top + 2.0 * cell_h + 6.0;
    let sx = (w - strip_w) / 2.0;
    d.add(
        Shape::Path(vec![
            draw::Seg::Move(sx, sy),
            draw::Seg::Line(sx + strip_w, sy),
            draw::Seg::Line(sx + strip_w, sy + strip_h),
            draw::Seg::Line(sx, sy + strip_h),
            draw::Seg::Close,
        ]),
        Paint {
            fill: Some(Rgb(12, 12, 12)),
            stroke: Some((GREY, 0.1)),
        },
        "lamp-strip",
    )
    .data
    .push(("pitch", value_text(lamp_pitch)));
    let label = (0.3 * strip_h).min(0.8 * lamp_pitch / text_width("STALL", 1.0));
    for (i, name) in ["MODEL", "HOT", "WARN", "STALL", "IDLE"].iter().enumerate() {
        let x = sx + lamp_pitch * (i as f64 + 0.5);
        d.add(
            Shape::Text {
                x,
                y: sy + strip_h / 2.0 + 0.36 * label,
                size: label,
                anchor: Anchor::Middle,
                text: (*name).to_owned(),
            },
            Paint::fill(WHITE),
            "lamp-label",
        )
        .data
        .push(("lamp", name.to_ascii_lowercase()));
        if i > 0 {
            let x = sx + lamp_pitch * i as f64;
            d.add(
                Shape::Line {
                    x1: x,
                    y1: sy + 1.5,
                    x2: x,
                    y2: sy + strip_h - 1.5,
                },
                Paint::stroke(Rgb(70, 70, 70), 0.2),
                "lamp-divider",
            );
        }
    }
    text(
        &mut d,
        w / 2.0,
        sy + strip_h + 5.0,
        2.6,
        Anchor::Middle,
        "ANNUNCIATOR LEGEND - print on film or thin paper; it sits behind the smoked acrylic",
        "caption",
    );

    let by = (sy + strip_h + 18.0).min(h - margin - 8.0);
    scale_bar(&mut d, margin + 5.0, by, "scale-bar");
    text(
        &mut d,
        margin + 14.0,
        by + 1.0,
        2.8,
        Anchor::Start,
        "Print at 100 % (actual size, no fit-to-page): this bar must measure 10 mm.",
        "note",
    );
    text(
        &mut d,
        margin + 14.0,
        by + 5.5,
        2.8,
        Anchor::Start,
        "Cut on the grey circles; line the triangle up with the needle at its zero stop.",
        "note",
    );
    d
}

/// The one line a sheet prints about the scales it was drawn for.
pub fn scales_note(needles: &[Dial; 4], s: &Scales) -> String {
    let mut parts = Vec::new();
    for d in needles {
        match d {
            Dial::Tach => parts.push(format!(
                "TACH redline {} tokens/min",
                crate::table::thousands(s.tach_redline.round() as u64)
            )),
            Dial::Cost => parts.push(format!(
                "COST full scale ${}",
                value_text(s.cost_full_scale_usd)
            )),
            Dial::Temp => parts.push(format!(
                "TEMP blue < {} < white < {} < red",
                value_text(s.temp_cool),
                value_text(s.temp_hot)
            )),
            Dial::Boost => parts.push(format!(
                "BOOST red below {} %",
                value_text(s.cache_floor * 100.0)
            )),
            Dial::Fuel | Dial::Weekly => parts.push(format!(
                "{} red from {} % used",
                d.face().title,
                value_text(s.fuel_red_used * 100.0)
            )),
            Dial::Context => parts.push(format!(
                "CONTEXT red from {} %",
                value_text(s.context_red * 100.0)
            )),
        }
    }
    parts.join(" · ")
}

/// Every dial's face as SVG at the default size, by dial name: what the daemon serves
/// at `/faces/<name>.svg`.
pub fn web_faces(scales: &Scales) -> Vec<(&'static str, String)> {
    Dial::ALL
        .iter()
        .map(|&d| (d.name(), svg::render(&face(d, scales, FaceSize::default()))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every numeral's box, as (centre x, centre y, half width, half height).
    fn numeral_boxes(d: &Drawing) -> Vec<(String, f64, f64, f64, f64)> {
        d.items
            .iter()
            .filter(|i| i.class == "numeral")
            .map(|i| match &i.shape {
                Shape::Text {
                    x, y, size, text, ..
                } => (
                    text.clone(),
                    *x,
                    y - 0.36 * size,
                    text_width(text, *size) / 2.0,
                    0.36 * size,
                ),
                _ => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn no_figure_lies_under_a_needle_resting_on_a_stop() {
        let odd = Scales {
            tach_redline: 17_000.0,
            cost_full_scale_usd: 250.0,
            ..Scales::default()
        };
        for scales in [Scales::default(), odd] {
            for dial in Dial::ALL {
                let size = FaceSize::default();
                let r = size.diameter / 2.0;
                let d = face(dial, &scales, size);
                for stop in [f64::from(ZERO_ANGLE), f64::from(ZERO_ANGLE + SWEEP)] {
                    let (ux, uy) = polar(1.0, stop);
                    for (text, cx, cy, hw, hh) in numeral_boxes(&d) {
                        // Points over the box; none may be on the needle (centre to tip).
                        for i in 0..=10 {
                            for j in 0..=4 {
                                let px = cx - hw + 2.0 * hw * f64::from(i) / 10.0;
                                let py = cy - hh + 2.0 * hh * f64::from(j) / 4.0;
                                let along = px * ux + py * uy;
                                let across = (px * uy - py * ux).abs();
                                assert!(
                                    !(0.0..=0.9 * r).contains(&along) || across > NEEDLE_HALF * r,
                                    "{dial:?} {text:?} under the needle at {stop}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn figures_keep_apart_and_inside_the_ticks() {
        let scales = Scales {
            cost_full_scale_usd: 250.0,
            ..Scales::default()
        };
        for dial in Dial::ALL {
            let r = DEFAULT_DIAMETER / 2.0;
            let boxes = numeral_boxes(&face(dial, &scales, FaceSize::default()));
            for (i, a) in boxes.iter().enumerate() {
                // Inside the major ticks' inner ends.
                let far = ((a.1.abs() + a.3).powi(2) + (a.2.abs() + a.4).powi(2)).sqrt();
                assert!(far < 0.8 * r, "{dial:?} {}: reaches {far}", a.0);
                for b in &boxes[i + 1..] {
                    let apart = (a.1 - b.1).abs() > a.3 + b.3 || (a.2 - b.2).abs() > a.4 + b.4;
                    assert!(apart, "{dial:?}: {} and {} overlap", a.0, b.0);
                }
            }
        }
    }
}
