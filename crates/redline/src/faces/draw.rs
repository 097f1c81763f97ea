//! A drawing in millimetres, made of the few shapes a dial face needs, that the SVG and PDF
//! writers both render: one geometry, two formats, so a printed PDF and the SVG the web
//! page inlines cannot drift apart. Arcs are cubic Béziers here already, so neither writer
//! approximates them its own way.

use std::f64::consts::PI;

/// A colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// `#rrggbb`.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// One step of a path.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Seg {
    /// Start a subpath.
    Move(f64, f64),
    /// A straight line to.
    Line(f64, f64),
    /// A cubic Bézier: two control points, then the end.
    Cubic(f64, f64, f64, f64, f64, f64),
    /// Back to the subpath's start.
    Close,
}

/// How a text is placed on its point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    /// The point is the text's left end.
    Start,
    /// The point is its middle.
    Middle,
}

/// What is drawn.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// A circle.
    Circle {
        /// Centre.
        cx: f64,
        /// Centre.
        cy: f64,
        /// Radius.
        r: f64,
    },
    /// A line.
    Line {
        /// From.
        x1: f64,
        /// From.
        y1: f64,
        /// To.
        x2: f64,
        /// To.
        y2: f64,
    },
    /// A path.
    Path(Vec<Seg>),
    /// One line of text; `y` is its baseline, `size` the font size (an em) in mm.
    Text {
        /// Anchor point.
        x: f64,
        /// Baseline.
        y: f64,
        /// Font size in mm.
        size: f64,
        /// Where the point is on the text.
        anchor: Anchor,
        /// The text (printable; the PDF writer has glyphs for Latin-1).
        text: String,
    },
}

/// How a shape is painted.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Paint {
    /// Fill colour.
    pub fill: Option<Rgb>,
    /// Stroke colour and width in mm.
    pub stroke: Option<(Rgb, f64)>,
}

impl Paint {
    /// Filled, no outline.
    pub fn fill(c: Rgb) -> Paint {
        Paint {
            fill: Some(c),
            stroke: None,
        }
    }

    /// Outlined, not filled.
    pub fn stroke(c: Rgb, width: f64) -> Paint {
        Paint {
            fill: None,
            stroke: Some((c, width)),
        }
    }
}

/// A shape with its paint, its class (what it is, for the page's CSS and for tests) and
/// `data-*` attributes (the values a machine checks: a tick's scale value and angle).
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// The shape.
    pub shape: Shape,
    /// Its paint.
    pub paint: Paint,
    /// Space-separated classes (`tick major`).
    pub class: String,
    /// `data-<name>` attributes, in order.
    pub data: Vec<(&'static str, String)>,
}

/// A drawing: a view box in millimetres (min x, min y, width, height), attributes for the
/// root, and the items from back to front.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Drawing {
    /// Min x, min y, width, height (mm).
    pub view: (f64, f64, f64, f64),
    /// `data-*` attributes of the whole drawing.
    pub data: Vec<(&'static str, String)>,
    /// Back to front.
    pub items: Vec<Item>,
}

impl Drawing {
    /// An empty drawing over this view box.
    pub fn new(view: (f64, f64, f64, f64)) -> Drawing {
        Drawing {
            view,
            ..Drawing::default()
        }
    }

    /// Adds a shape; returns it for `data` to be added.
    pub fn add(&mut self, shape: Shape, paint: Paint, class: &str) -> &mut Item {
        self.items.push(Item {
            shape,
            paint,
            class: class.to_owned(),
            data: Vec::new(),
        });
        self.items.last_mut().expect("just pushed")
    }

    /// Adds another drawing's items moved by `(dx, dy)`.
    pub fn place(&mut self, other: &Drawing, dx: f64, dy: f64) {
        for item in &other.items {
            let mut item = item.clone();
            item.shape = shifted(&item.shape, dx, dy);
            self.items.push(item);
        }
    }
}

fn shifted(s: &Shape, dx: f64, dy: f64) -> Shape {
    match s {
        Shape::Circle { cx, cy, r } => Shape::Circle {
            cx: cx + dx,
            cy: cy + dy,
            r: *r,
        },
        Shape::Line { x1, y1, x2, y2 } => Shape::Line {
            x1: x1 + dx,
            y1: y1 + dy,
            x2: x2 + dx,
            y2: y2 + dy,
        },
        Shape::Path(segs) => Shape::Path(
            segs.iter()
                .map(|s| match *s {
                    Seg::Move(x, y) => Seg::Move(x + dx, y + dy),
                    Seg::Line(x, y) => Seg::Line(x + dx, y + dy),
                    Seg::Cubic(a, b, c, d, x, y) => {
                        Seg::Cubic(a + dx, b + dy, c + dx, d + dy, x + dx, y + dy)
                    }
                    Seg::Close => Seg::Close,
                })
                .collect(),
        ),
        Shape::Text {
            x,
            y,
            size,
            anchor,
            text,
        } => Shape::Text {
            x: x + dx,
            y: y + dy,
            size: *size,
            anchor: *anchor,
            text: text.clone(),
        },
    }
}

/// The point at radius `r` and `deg` degrees clockwise from 12 o'clock, around (0, 0)
/// with y down (as in SVG).
pub fn polar(r: f64, deg: f64) -> (f64, f64) {
    let a = deg * PI / 180.0;
    (r * a.sin(), -r * a.cos())
}

/// An arc at radius `r` from `from` to `to` degrees (clockwise from 12 o'clock, `to` >
/// `from`), as Béziers of at most 45 degrees each (error under 0.003 % of the radius). The
/// first segment is a `Line` to the start when `join` is set, else a `Move`.
pub fn arc(r: f64, from: f64, to: f64, join: bool) -> Vec<Seg> {
    let pieces = ((to - from).abs() / 45.0).ceil().max(1.0) as usize;
    let step = (to - from) / pieces as f64;
    let (x0, y0) = polar(r, from);
    let mut out = vec![if join {
        Seg::Line(x0, y0)
    } else {
        Seg::Move(x0, y0)
    }];
    // The control points lie along the tangents at k = 4/3 tan(θ/4) of the radius.
    let k = 4.0 / 3.0 * (step * PI / 180.0 / 4.0).tan();
    for i in 0..pieces {
        let a = from + step * i as f64;
        let b = a + step;
        let (ax, ay) = polar(r, a);
        let (bx, by) = polar(r, b);
        // Tangent of the clockwise direction at angle t: d/dt of (sin t, -cos t).
        let tan = |deg: f64| {
            let t = deg * PI / 180.0;
            (t.cos(), t.sin())
        };
        let (tax, tay) = tan(a);
        let (tbx, tby) = tan(b);
        out.push(Seg::Cubic(
            ax + k * r * tax,
            ay + k * r * tay,
            bx - k * r * tbx,
            by - k * r * tby,
            bx,
            by,
        ));
    }
    out
}

/// A band between radii `r1 < r2` from `from` to `to` degrees: a printed zone.
pub fn band(r1: f64, r2: f64, from: f64, to: f64) -> Vec<Seg> {
    let mut p = arc(r2, from, to, false);
    let mut back = arc(r1, from, to, false);
    // The inner arc, reversed, joined by lines.
    let (ix, iy) = polar(r1, to);
    p.push(Seg::Line(ix, iy));
    let mut rev = Vec::new();
    for w in back.windows(2).rev() {
        let Seg::Cubic(c1x, c1y, c2x, c2y, _, _) = w[1] else {
            continue;
        };
        let (sx, sy) = match w[0] {
            Seg::Move(x, y) | Seg::Line(x, y) | Seg::Cubic(_, _, _, _, x, y) => (x, y),
            Seg::Close => continue,
        };
        rev.push(Seg::Cubic(c2x, c2y, c1x, c1y, sx, sy));
    }
    back.clear();
    p.extend(rev);
    p.push(Seg::Close);
    p
}

/// A circle's outline as four Béziers (for the PDF, which has no circle operator).
pub fn circle_path(cx: f64, cy: f64, r: f64) -> Vec<Seg> {
    arc(r, 0.0, 360.0, false)
        .into_iter()
        .map(|s| match s {
            Seg::Move(x, y) => Seg::Move(x + cx, y + cy),
            Seg::Cubic(a, b, c, d, x, y) => {
                Seg::Cubic(a + cx, b + cy, c + cx, d + cy, x + cx, y + cy)
            }
            other => other,
        })
        .chain([Seg::Close])
        .collect()
}

/// The advance width of `c` in Helvetica Bold, in thousandths of an em (the PDF's
/// standard font; the SVG asks for Helvetica or its metric twins Arial and Liberation
/// Sans). From the font's published AFM metrics; unknown characters count as a digit.
pub fn char_width(c: char) -> u32 {
    const UPPER: [u32; 26] = [
        722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722,
        667, 611, 722, 667, 944, 667, 667, 611,
    ];
    const LOWER: [u32; 26] = [
        556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, 611, 611, 389,
        556, 333, 611, 556, 778, 556, 556, 500,
    ];
    match c {
        'A'..='Z' => UPPER[c as usize - 'A' as usize],
        'a'..='z' => LOWER[c as usize - 'a' as usize],
        ' ' | '.' | ',' | '/' => 278,
        '-' | ':' | '(' | ')' | '!' | ';' => 333,
        '%' => 889,
        '×' | '+' | '=' => 584,
        '½' => 834,
        '·' => 278,
        '\'' => 238,
        '&' => 722,
        _ => 556,
    }
}

/// The width of `text` at font size `size` (same unit as `size`).
pub fn text_width(text: &str, size: f64) -> f64 {
    text.chars().map(char_width).sum::<u32>() as f64 * size / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arcs_stay_on_their_circle() {
        for (from, to) in [(-157.5, 157.5), (0.0, 10.0), (-90.0, 200.0)] {
            let segs = arc(20.0, from, to, false);
            // Sample each Bézier at its middle: it must lie on the circle.
            let mut last = match segs[0] {
                Seg::Move(x, y) => (x, y),
                _ => unreachable!(),
            };
            for s in &segs[1..] {
                let Seg::Cubic(ax, ay, bx, by, x, y) = *s else {
                    panic!("{s:?}")
                };
                let mid = |p0: f64, p1: f64, p2: f64, p3: f64| {
                    0.125 * p0 + 0.375 * p1 + 0.375 * p2 + 0.125 * p3
                };
                let (mx, my) = (mid(last.0, ax, bx, x), mid(last.1, ay, by, y));
                assert!(
                    ((mx * mx + my * my).sqrt() - 20.0).abs() < 0.001,
                    "{from}..{to}"
                );
                assert!(((x * x + y * y).sqrt() - 20.0).abs() < 1e-9);
                last = (x, y);
            }
            let (ex, ey) = polar(20.0, to);
            assert!((last.0 - ex).abs() < 1e-9 && (last.1 - ey).abs() < 1e-9);
        }
    }

    #[test]
    fn twelve_oclock_is_up_and_clockwise_is_right() {
        let (x, y) = polar(10.0, 0.0);
        assert!(x.abs() < 1e-12 && (y + 10.0).abs() < 1e-12);
        let (x, y) = polar(10.0, 90.0);
        assert!((x - 10.0).abs() < 1e-12 && y.abs() < 1e-12);
    }

    #[test]
    fn a_band_is_closed_and_runs_back_along_the_inner_arc() {
        let b = band(10.0, 12.0, 0.0, 90.0);
        assert_eq!(b.last(), Some(&Seg::Close));
        let Seg::Cubic(_, _, _, _, x, y) = b[b.len() - 2] else {
            panic!()
        };
        let (sx, sy) = polar(10.0, 0.0);
        assert!((x - sx).abs() < 1e-9 && (y - sy).abs() < 1e-9);
    }

    #[test]
    fn widths_follow_the_font() {
        assert_eq!(text_width("25", 1000.0), 1112.0);
        assert!(text_width("WWW", 1.0) > text_width("III", 1.0) * 3.0);
    }
}
