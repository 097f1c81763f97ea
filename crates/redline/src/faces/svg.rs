//! A [`Drawing`] as SVG at 1:1: the root's width and height in millimetres, so a browser
//! or a printer that honours them prints the face at its real size. Every presentation is
//! an attribute (no stylesheet, no `id`), so the file renders on its own and several
//! faces can be inlined into one page.

use std::fmt::Write;

use super::draw::{Anchor, Drawing, Item, Paint, Seg, Shape};

/// The font the faces ask for: Helvetica Bold, or a metric twin.
pub const FONT: &str = "Helvetica, Arial, 'Liberation Sans', 'Nimbus Sans', sans-serif";

/// The SVG text of `d`.
pub fn render(d: &Drawing) -> String {
    let (x, y, w, h) = d.view;
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}mm" height="{}mm" viewBox="{} {} {} {}""#,
        num(w),
        num(h),
        num(x),
        num(y),
        num(w),
        num(h)
    );
    for (k, v) in &d.data {
        let _ = write!(out, r#" data-{k}="{}""#, escape(v));
    }
    out.push_str(">\n");
    for item in &d.items {
        element(&mut out, item);
    }
    out.push_str("</svg>\n");
    out
}

fn element(out: &mut String, item: &Item) {
    let tag = match &item.shape {
        Shape::Circle { cx, cy, r } => {
            let _ = write!(
                out,
                r#"<circle cx="{}" cy="{}" r="{}""#,
                num(*cx),
                num(*cy),
                num(*r)
            );
            "circle"
        }
        Shape::Line { x1, y1, x2, y2 } => {
            let _ = write!(
                out,
                r#"<line x1="{}" y1="{}" x2="{}" y2="{}""#,
                num(*x1),
                num(*y1),
                num(*x2),
                num(*y2)
            );
            "line"
        }
        Shape::Path(segs) => {
            let _ = write!(out, r#"<path d="{}""#, path_data(segs));
            "path"
        }
        Shape::Text {
            x, y, size, anchor, ..
        } => {
            let _ = write!(
                out,
                r#"<text x="{}" y="{}" font-size="{}" font-family="{FONT}" font-weight="bold""#,
                num(*x),
                num(*y),
                num(*size)
            );
            if *anchor == Anchor::Middle {
                out.push_str(r#" text-anchor="middle""#);
            }
            "text"
        }
    };
    paint(out, &item.paint, tag == "text" || tag == "line");
    if !item.class.is_empty() {
        let _ = write!(out, r#" class="{}""#, escape(&item.class));
    }
    for (k, v) in &item.data {
        let _ = write!(out, r#" data-{k}="{}""#, escape(v));
    }
    match &item.shape {
        Shape::Text { text, .. } => {
            let _ = writeln!(out, ">{}</text>", escape(text));
        }
        _ => out.push_str("/>\n"),
    }
}

fn paint(out: &mut String, p: &Paint, default_fill_black: bool) {
    match p.fill {
        Some(c) => {
            let _ = write!(out, r#" fill="{}""#, c.hex());
        }
        None if !default_fill_black => out.push_str(r#" fill="none""#),
        None => {}
    }
    if let Some((c, w)) = p.stroke {
        let _ = write!(out, r#" stroke="{}" stroke-width="{}""#, c.hex(), num(w));
    }
}

fn path_data(segs: &[Seg]) -> String {
    let mut d = String::new();
    for s in segs {
        if !d.is_empty() {
            d.push(' ');
        }
        let _ = match *s {
            Seg::Move(x, y) => write!(d, "M{} {}", num(x), num(y)),
            Seg::Line(x, y) => write!(d, "L{} {}", num(x), num(y)),
            Seg::Cubic(a, b, c, e, x, y) => write!(
                d,
                "C{} {} {} {} {} {}",
                num(a),
                num(b),
                num(c),
                num(e),
                num(x),
                num(y)
            ),
            Seg::Close => write!(d, "Z"),
        };
    }
    d
}

/// A coordinate to a thousandth of a millimetre, without trailing zeros.
pub fn num(v: f64) -> String {
    let s = format!("{:.3}", if v.abs() < 0.0005 { 0.0 } else { v });
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::super::draw::{Paint, Rgb};
    use super::*;

    #[test]
    fn numbers_are_short_and_text_is_escaped() {
        assert_eq!(num(1.0), "1");
        assert_eq!(num(-0.0001), "0");
        assert_eq!(num(2.5), "2.5");
        assert_eq!(num(-13.12345), "-13.123");
        let mut d = Drawing::new((-5.0, -5.0, 10.0, 10.0));
        d.data.push(("dial", "tach".into()));
        d.add(
            Shape::Text {
                x: 0.0,
                y: 1.0,
                size: 2.0,
                anchor: Anchor::Middle,
                text: "<$5 & up>".into(),
            },
            Paint::fill(Rgb(0, 0, 0)),
            "numeral",
        )
        .data
        .push(("value", "5".into()));
        let svg = render(&d);
        assert!(svg.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg" width="10mm" height="10mm" viewBox="-5 -5 10 10" data-dial="tach">"#), "{svg}");
        assert!(
            svg.contains(r#"class="numeral" data-value="5">&lt;$5 &amp; up&gt;</text>"#),
            "{svg}"
        );
    }
}
