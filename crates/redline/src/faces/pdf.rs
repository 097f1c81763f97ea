//! A [`Drawing`] as a one-page PDF at 1:1 (the page is the view box; 1 mm = 72/25.4 pt).
//!
//! Written directly: the faces need paths, fills, strokes and one font, and PDF's
//! standard Helvetica-Bold (one of the 14 fonts every reader has) needs no embedding, so
//! the text stays text and the file stays a few kilobytes. No time or random identifier
//! goes in: the same drawing gives the same bytes.

use std::fmt::Write as _;
use std::io::Write as _;

use super::draw::{Anchor, Drawing, Paint, Seg, Shape, circle_path, text_width};

/// Points per millimetre.
const PT: f64 = 72.0 / 25.4;

/// The PDF bytes of `d`, titled `title`.
pub fn render(d: &Drawing, title: &str) -> Vec<u8> {
    let (vx, vy, vw, vh) = d.view;
    let (w, h) = (vw * PT, vh * PT);
    // Drawing units (mm, y down) to PDF user space (pt, y up), once for the page.
    let mut c = String::with_capacity(32 * 1024);
    let _ = writeln!(
        c,
        "{} 0 0 {} {} {} cm 0 J 0 j",
        n(PT),
        n(-PT),
        n(-vx * PT),
        n(h + vy * PT)
    );
    for item in &d.items {
        match &item.shape {
            Shape::Text {
                x,
                y,
                size,
                anchor,
                text,
            } => {
                let x = match anchor {
                    Anchor::Start => *x,
                    Anchor::Middle => x - text_width(text, *size) / 2.0,
                };
                let fill = item.paint.fill.unwrap_or(super::draw::Rgb(0, 0, 0));
                // The text matrix flips y back, so the glyphs stand upright.
                let _ = writeln!(
                    c,
                    "{} rg BT /F1 {} Tf 1 0 0 -1 {} {} Tm ({}) Tj ET",
                    rgb(fill),
                    n(*size),
                    n(x),
                    n(*y),
                    pdf_string(text)
                );
            }
            Shape::Line { x1, y1, x2, y2 } => {
                if let Some((col, width)) = item.paint.stroke {
                    let _ = writeln!(
                        c,
                        "{} RG {} w {} {} m {} {} l S",
                        rgb(col),
                        n(width),
                        n(*x1),
                        n(*y1),
                        n(*x2),
                        n(*y2)
                    );
                }
            }
            Shape::Circle { cx, cy, r } => path(&mut c, &circle_path(*cx, *cy, *r), &item.paint),
            Shape::Path(segs) => path(&mut c, segs, &item.paint),
        }
    }

    let mut stream = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let _ = stream.write_all(c.as_bytes());
    let stream = stream.finish().unwrap_or_default();

    let mut out: Vec<u8> = Vec::with_capacity(stream.len() + 1024);
    let mut offsets = Vec::new();
    out.extend_from_slice(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n");
    let mut obj = |out: &mut Vec<u8>, body: &[u8]| {
        offsets.push(out.len());
        let _ = writeln!(out, "{} 0 obj", offsets.len());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    };
    obj(&mut out, b"<< /Type /Catalog /Pages 2 0 R >>");
    obj(&mut out, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
    let page = format!(
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {} {}] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        n(w),
        n(h)
    );
    obj(&mut out, page.as_bytes());
    let mut content = format!(
        "<< /Length {} /Filter /FlateDecode >>\nstream\n",
        stream.len()
    )
    .into_bytes();
    content.extend_from_slice(&stream);
    content.extend_from_slice(b"\nendstream");
    obj(&mut out, &content);
    obj(
        &mut out,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
    );
    let info = format!(
        "<< /Title ({}) /Producer (redline faces) >>",
        pdf_string(title)
    );
    obj(&mut out, info.as_bytes());
    let xref = out.len();
    let _ = write!(out, "xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1);
    for o in &offsets {
        let _ = writeln!(out, "{o:010} 00000 n ");
    }
    let _ = write!(
        out,
        "trailer\n<< /Size {} /Root 1 0 R /Info 6 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        offsets.len() + 1
    );
    out
}

fn path(c: &mut String, segs: &[Seg], p: &Paint) {
    for s in segs {
        let _ = match *s {
            Seg::Move(x, y) => write!(c, "{} {} m ", n(x), n(y)),
            Seg::Line(x, y) => write!(c, "{} {} l ", n(x), n(y)),
            Seg::Cubic(a, b, d, e, x, y) => {
                write!(
                    c,
                    "{} {} {} {} {} {} c ",
                    n(a),
                    n(b),
                    n(d),
                    n(e),
                    n(x),
                    n(y)
                )
            }
            Seg::Close => write!(c, "h "),
        };
    }
    if let Some(f) = p.fill {
        let _ = write!(c, "{} rg ", rgb(f));
    }
    if let Some((s, w)) = p.stroke {
        let _ = write!(c, "{} RG {} w ", rgb(s), n(w));
    }
    let op = match (p.fill.is_some(), p.stroke.is_some()) {
        (true, true) => "B",
        (true, false) => "f",
        (false, true) => "S",
        (false, false) => "n",
    };
    let _ = writeln!(c, "{op}");
}

fn rgb(c: super::draw::Rgb) -> String {
    format!(
        "{} {} {}",
        n(f64::from(c.0) / 255.0),
        n(f64::from(c.1) / 255.0),
        n(f64::from(c.2) / 255.0)
    )
}

/// A number as PDF writes it: four places at most, no exponent.
fn n(v: f64) -> String {
    let s = format!("{:.4}", if v.abs() < 0.00005 { 0.0 } else { v });
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A literal string in WinAnsiEncoding: `(`, `)` and `\` escaped, Latin-1 as octal,
/// anything else as `?`.
fn pdf_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '(' | ')' | '\\' => {
                out.push('\\');
                out.push(ch);
            }
            ' '..='~' => out.push(ch),
            '\u{a0}'..='\u{ff}' => {
                let _ = write!(out, "\\{:03o}", ch as u32);
            }
            '—' => out.push_str("\\227"),
            '–' => out.push_str("\\226"),
            _ => out.push('?'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::draw::{Paint, Rgb};
    use super::*;
    use std::io::Read;

    #[test]
    fn the_cross_reference_table_points_at_each_object() {
        let mut d = Drawing::new((0.0, 0.0, 210.0, 297.0));
        d.add(
            Shape::Circle {
                cx: 50.0,
                cy: 50.0,
                r: 26.0,
            },
            Paint::fill(Rgb(243, 234, 211)),
            "face",
        );
        d.add(
            Shape::Text {
                x: 50.0,
                y: 50.0,
                size: 4.0,
                anchor: Anchor::Middle,
                text: "×1000 ½ (a)".into(),
            },
            Paint::fill(Rgb(0, 0, 0)),
            "",
        );
        let pdf = render(&d, "test");
        let find = |what: &str, from: usize| {
            pdf[from..]
                .windows(what.len())
                .position(|w| w == what.as_bytes())
                .map(|p| p + from)
        };
        let at = |i: usize, what: &str| pdf[i..].starts_with(what.as_bytes());
        assert!(at(0, "%PDF-1.4"));
        assert!(
            find("/MediaBox [0 0 595.2756 841.8898]", 0).is_some(),
            "A4 in points"
        );
        let tail = find("startxref\n", 0).unwrap() + 10;
        let digits: Vec<u8> = pdf[tail..]
            .iter()
            .copied()
            .take_while(u8::is_ascii_digit)
            .collect();
        let xref_at: usize = String::from_utf8(digits).unwrap().parse().unwrap();
        assert!(at(xref_at, "xref\n0 7\n"));
        for i in 1..=6 {
            let row = xref_at + "xref\n0 7\n".len() + 20 * i;
            let offset: usize = std::str::from_utf8(&pdf[row..row + 10])
                .unwrap()
                .parse()
                .unwrap();
            assert!(at(offset, &format!("{i} 0 obj")), "object {i}");
        }
        // The content stream inflates to the drawing: the circle, then the text centred.
        let start = find("stream\n", 0).unwrap() + 7;
        let end = find("\nendstream", start).unwrap();
        let mut plain = String::new();
        flate2::read::ZlibDecoder::new(&pdf[start..end])
            .read_to_string(&mut plain)
            .unwrap();
        assert!(plain.contains(" c ") && plain.contains("f\n"), "{plain}");
        assert!(plain.contains(r"(\3271000 \275 \(a\)) Tj"), "{plain}");
        assert_eq!(
            render(&d, "test"),
            pdf,
            "the same drawing gives the same bytes"
        );
    }
}
