//! `redline calibrate --plot FILE.svg`: one histogram per key, of the values its rule
//! reads, with the value in force (dashed, grey) and the proposal (solid, red) marked.
//! Hand-written SVG, every presentation an attribute (as `faces/svg.rs` writes faces),
//! so the file renders anywhere on its own.

use std::fmt::Write;

use redline_engine::calibrate::{BudgetValue, Calibration, percentile};

use super::Read;
use crate::faces::svg::FONT;

/// Panels per row.
const COLUMNS: usize = 2;
const PANEL_W: f64 = 390.0;
const PANEL_H: f64 = 220.0;
const GAP: f64 = 14.0;
const TOP: f64 = 58.0;
const BINS: usize = 24;
const NOW: &str = "#555555";
const PROPOSED: &str = "#c0392b";
const MEASURED: &str = "#1f6fb2";

/// A mark on a panel's axis.
struct MarkAt {
    value: f64,
    color: &'static str,
    dashed: bool,
    label: String,
}

/// One panel.
struct Panel {
    title: String,
    what: String,
    samples: Vec<f64>,
    /// The axis runs from 0 to this, when fixed (shares).
    fixed_max: Option<f64>,
    marks: Vec<MarkAt>,
    format: fn(f64) -> String,
}

fn short(v: f64) -> String {
    let a = v.abs();
    let (x, unit) = if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let t = format!("{x:.2}");
    let t = t.trim_end_matches('0').trim_end_matches('.');
    format!("{t}{unit}")
}

fn seconds(v: f64) -> String {
    format!("{} s", short(v))
}

fn now_mark(value: f64, label: String) -> MarkAt {
    MarkAt {
        value,
        color: NOW,
        dashed: true,
        label,
    }
}

fn proposed_mark(value: f64, label: String) -> MarkAt {
    MarkAt {
        value,
        color: PROPOSED,
        dashed: false,
        label,
    }
}

fn panels(cal: &Calibration) -> Vec<Panel> {
    let mut out = Vec::new();
    let r = &cal.tach_redline;
    let mut marks = vec![now_mark(
        r.current as f64,
        format!("now {}", short(r.current as f64)),
    )];
    marks.extend(
        r.proposed
            .map(|p| proposed_mark(p as f64, format!("proposed {}", short(p as f64)))),
    );
    out.push(Panel {
        title: "tach_redline (tokens/min)".into(),
        what: format!(
            "the tach's peak in each active minute, {} s window (n = {})",
            r.figures.window_s,
            r.samples.len()
        ),
        samples: r.samples.clone(),
        fixed_max: None,
        marks,
        format: short,
    });

    let b = &cal.block_budget;
    let mut marks = Vec::new();
    if let Some(now) = b.figures.current_tokens {
        let label = match b.current {
            BudgetValue::Max(_) => format!("now max {}", short(now as f64)),
            BudgetValue::Tokens(_) => format!("now {}", short(now as f64)),
        };
        marks.push(now_mark(now as f64, label));
    }
    if let Some(m) = b.figures.measured_budget {
        marks.push(MarkAt {
            value: m as f64,
            color: MEASURED,
            dashed: true,
            label: format!("measured {}", short(m as f64)),
        });
    }
    marks.extend(
        b.proposed
            .map(|p| proposed_mark(p as f64, format!("proposed {}", short(p as f64)))),
    );
    out.push(Panel {
        title: "block_budget (tokens)".into(),
        what: format!("completed 5-hour blocks' totals (n = {})", b.samples.len()),
        samples: b.samples.clone(),
        fixed_max: None,
        marks,
        format: short,
    });

    let w = &cal.tach_window;
    let mut marks = vec![now_mark(w.current as f64, format!("now {} s", w.current))];
    marks.extend(
        w.proposed
            .map(|p| proposed_mark(p as f64, format!("proposed {p} s"))),
    );
    out.push(Panel {
        title: "tach_window (s)".into(),
        what: format!(
            "gaps between responses inside turns (n = {})",
            w.samples.len()
        ),
        samples: w.samples.clone(),
        fixed_max: None,
        marks,
        format: seconds,
    });

    let s = &cal.stall_after;
    let mut marks = vec![now_mark(s.current as f64, format!("now {} s", s.current))];
    marks.extend(
        s.proposed
            .map(|p| proposed_mark(p as f64, format!("proposed {p} s"))),
    );
    out.push(Panel {
        title: "stall_after (s)".into(),
        what: format!("waits for the model's answer (n = {})", s.samples.len()),
        samples: s.samples.clone(),
        fixed_max: None,
        marks,
        format: seconds,
    });

    let c = &cal.cache_floor;
    let mut marks = vec![now_mark(c.current, format!("now {}", c.current))];
    marks.extend(
        c.proposed
            .map(|p| proposed_mark(p, format!("proposed {p}"))),
    );
    out.push(Panel {
        title: "cache_floor (hit rate)".into(),
        what: format!(
            "cache hit rate at active minutes with enough prompt (n = {})",
            c.samples.len()
        ),
        samples: c.samples.clone(),
        fixed_max: Some(1.0),
        marks,
        format: short,
    });

    let z = &cal.temp_zones;
    let mut marks = vec![
        now_mark(z.current.temp_cool, format!("now {}", z.current.temp_cool)),
        now_mark(z.current.temp_hot, format!("now {}", z.current.temp_hot)),
    ];
    if let Some(p) = z.proposed {
        marks.push(proposed_mark(p.temp_cool, format!("cool {}", p.temp_cool)));
        marks.push(proposed_mark(p.temp_hot, format!("hot {}", p.temp_hot)));
    }
    out.push(Panel {
        title: "temp_cool, temp_hot (thinking ratio)".into(),
        what: format!(
            "thinking / output at active minutes (n = {})",
            z.samples.len()
        ),
        samples: z.samples.clone(),
        fixed_max: Some(1.0),
        marks,
        format: short,
    });
    out
}

/// A step for about four ticks up to `max`: 1, 2, 2.5 or 5 x 10^n.
fn tick_step(max: f64) -> f64 {
    let raw = max / 4.0;
    let decade = 10f64.powi(raw.log10().floor() as i32);
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * decade)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * decade)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn text(out: &mut String, x: f64, y: f64, size: f64, anchor: &str, fill: &str, body: &str) {
    let _ = writeln!(
        out,
        r#"<text x="{x:.1}" y="{y:.1}" font-family="{FONT}" font-size="{size}" text-anchor="{anchor}" fill="{fill}">{}</text>"#,
        escape(body)
    );
}

fn panel(out: &mut String, p: &Panel, x0: f64, y0: f64) {
    let _ = writeln!(
        out,
        r##"<rect x="{x0:.1}" y="{y0:.1}" width="{PANEL_W}" height="{PANEL_H}" fill="#ffffff" stroke="#cccccc"/>"##
    );
    text(
        out,
        x0 + 10.0,
        y0 + 18.0,
        13.0,
        "start",
        "#111111",
        &p.title,
    );
    text(out, x0 + 10.0, y0 + 33.0, 10.0, "start", "#666666", &p.what);
    let (left, right) = (x0 + 42.0, x0 + PANEL_W - 14.0);
    let (top, bottom) = (y0 + 62.0, y0 + PANEL_H - 28.0);
    let mut sorted = p.samples.clone();
    sorted.sort_by(f64::total_cmp);
    let mark_max = p.marks.iter().map(|m| m.value).fold(0.0, f64::max);
    let max = p.fixed_max.unwrap_or_else(|| {
        let data = match (sorted.last(), percentile(&sorted, 990)) {
            (Some(&top), Some(p99)) => top.min(p99 * 1.5),
            _ => 0.0,
        };
        (data.max(mark_max) * 1.1).max(1.0)
    });
    let sx = |v: f64| left + (v / max).clamp(0.0, 1.0) * (right - left);
    let mut counts = [0usize; BINS];
    let mut beyond = 0usize;
    for &v in &sorted {
        if v > max {
            beyond += 1;
        }
        let bin = ((v / max * BINS as f64).floor().max(0.0) as usize).min(BINS - 1);
        counts[bin] += 1;
    }
    let highest = counts.iter().copied().max().unwrap_or(0);
    if highest == 0 {
        text(
            out,
            (left + right) / 2.0,
            (top + bottom) / 2.0,
            12.0,
            "middle",
            "#999999",
            "no data in these days",
        );
    }
    let bw = (right - left) / BINS as f64;
    for (i, &n) in counts.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let h = n as f64 / highest as f64 * (bottom - top);
        let _ = writeln!(
            out,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="#b8c4d0"/>"##,
            left + i as f64 * bw + 0.5,
            bottom - h,
            (bw - 1.0).max(0.5)
        );
    }
    let _ = writeln!(
        out,
        r##"<line x1="{left:.1}" y1="{bottom:.1}" x2="{right:.1}" y2="{bottom:.1}" stroke="#333333"/>"##
    );
    if highest > 0 {
        text(
            out,
            left - 4.0,
            top + 8.0,
            9.0,
            "end",
            "#666666",
            &highest.to_string(),
        );
        text(out, left - 4.0, bottom, 9.0, "end", "#666666", "0");
    }
    let step = tick_step(max);
    let mut t = 0.0;
    while t <= max * 1.0001 {
        let x = sx(t);
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" y1="{bottom:.1}" x2="{x:.1}" y2="{:.1}" stroke="#333333"/>"##,
            bottom + 4.0
        );
        text(
            out,
            x,
            bottom + 15.0,
            9.0,
            "middle",
            "#333333",
            &(p.format)(t),
        );
        t += step;
    }
    if beyond > 0 {
        text(
            out,
            x0 + PANEL_W - 10.0,
            y0 + 18.0,
            9.0,
            "end",
            "#666666",
            &format!("{beyond} beyond the axis, in the last bar"),
        );
    }
    // Marks, their labels stacked so that close ones do not overlap.
    for (i, m) in p.marks.iter().enumerate() {
        let x = sx(m.value);
        let dash = if m.dashed {
            r#" stroke-dasharray="4 3""#
        } else {
            ""
        };
        let _ = writeln!(
            out,
            r#"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{bottom:.1}" stroke="{}" stroke-width="1.6"{dash}/>"#,
            top - 10.0,
            m.color
        );
        let anchor = if x > (left + right) / 2.0 {
            "end"
        } else {
            "start"
        };
        let dx = if anchor == "end" { -3.0 } else { 3.0 };
        text(
            out,
            x + dx,
            top - 12.0 + 10.0 * i as f64 - 8.0,
            9.0,
            anchor,
            m.color,
            &m.label,
        );
    }
}

/// The plot: a panel per key.
pub fn svg(cal: &Calibration, read: &Read) -> String {
    let ps = panels(cal);
    let rows = ps.len().div_ceil(COLUMNS);
    let width = GAP + COLUMNS as f64 * (PANEL_W + GAP);
    let height = TOP + rows as f64 * (PANEL_H + GAP);
    let mut out = String::with_capacity(32 * 1024);
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">"#
    );
    let _ = writeln!(
        out,
        r##"<rect x="0" y="0" width="{width}" height="{height}" fill="#f4f4f2"/>"##
    );
    text(
        &mut out,
        GAP,
        24.0,
        16.0,
        "start",
        "#111111",
        &format!(
            "redline calibrate: {} to {} ({}), {} responses",
            read.since, read.until, read.time_zone, read.responses
        ),
    );
    text(
        &mut out,
        GAP,
        44.0,
        11.0,
        "start",
        NOW,
        "dashed grey: the value in force",
    );
    text(
        &mut out,
        GAP + 190.0,
        44.0,
        11.0,
        "start",
        PROPOSED,
        "red: the proposal",
    );
    text(
        &mut out,
        GAP + 310.0,
        44.0,
        11.0,
        "start",
        MEASURED,
        "dashed blue: the plan measured from statusLine readings",
    );
    // One group per key (the panels come in `Calibration::KEYS`' order), its frame first:
    // the page cuts the plot into one histogram per key by them.
    for (i, (p, key)) in ps.iter().zip(Calibration::KEYS).enumerate() {
        let x = GAP + (i % COLUMNS) as f64 * (PANEL_W + GAP);
        let y = TOP + (i / COLUMNS) as f64 * (PANEL_H + GAP);
        let _ = writeln!(out, r#"<g data-key="{key}">"#);
        panel(&mut out, p, x, y);
        out.push_str("</g>\n");
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_and_numbers() {
        assert_eq!(tick_step(1.0), 0.25);
        assert_eq!(tick_step(26_000.0), 10_000.0);
        assert_eq!(tick_step(650.0), 200.0);
        assert_eq!(short(15_000.0), "15k");
        assert_eq!(short(6_020_000.0), "6.02M");
        assert_eq!(short(0.45), "0.45");
        assert_eq!(short(45.0), "45");
    }
}
