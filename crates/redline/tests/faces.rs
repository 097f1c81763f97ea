//! `redline faces` and `/faces/<dial>.svg`: the printed faces, checked by machine. Each
//! tick's `data-angle` must equal its `data-value` over the scale times 315 degrees, its
//! drawn line must point there, the redline tick must sit where the daemon's gauge puts
//! the redline, figures must be dial-friendly (`$10`, never `$13`), and the faces must
//! follow the configuration (flags, variables and the config file) and equal what the
//! daemon serves.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{Daemon, Home};

/// One element of an SVG: its tag, attributes and text.
#[derive(Debug)]
struct El {
    tag: String,
    attrs: BTreeMap<String, String>,
    text: String,
}

impl El {
    fn attr(&self, k: &str) -> &str {
        self.attrs
            .get(k)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no {k} on {self:?}"))
    }
    fn num(&self, k: &str) -> f64 {
        self.attr(k)
            .parse()
            .unwrap_or_else(|_| panic!("{k} of {self:?}"))
    }
    fn has_class(&self, c: &str) -> bool {
        self.attrs
            .get("class")
            .is_some_and(|v| v.split(' ').any(|x| x == c))
    }
}

/// The elements of the flat SVG the faces are (one element per line, no nesting but the
/// root), parsed on their own: attributes in double quotes, entities decoded.
fn elements(svg: &str) -> Vec<El> {
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        if rest.starts_with('/') {
            continue;
        }
        let end = rest.find('>').expect("tag closes");
        let head = rest[..end].trim_end_matches('/');
        let (tag, mut attrs_text) = head.split_once(' ').unwrap_or((head, ""));
        let mut attrs = BTreeMap::new();
        while let Some(eq) = attrs_text.find("=\"") {
            let key = attrs_text[..eq].trim().to_owned();
            let after = &attrs_text[eq + 2..];
            let close = after.find('"').expect("attribute closes");
            attrs.insert(key, decode(&after[..close]));
            attrs_text = &after[close + 1..];
        }
        rest = &rest[end + 1..];
        let text = if tag == "text" {
            decode(&rest[..rest.find("</text>").expect("text closes")])
        } else {
            String::new()
        };
        out.push(El {
            tag: tag.to_owned(),
            attrs,
            text,
        });
    }
    out
}

fn decode(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

fn faces(home: &Home, out: &Path, args: &[&str]) -> String {
    let o = home
        .redline()
        .arg("faces")
        .arg("--out")
        .arg(out)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    stdout
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Checks every tick of a face against its scale and returns (value, angle, classes) of
/// each, in order.
fn ticks(svg: &str) -> Vec<(f64, f64, String)> {
    let els = elements(svg);
    let root = &els[0];
    assert_eq!(root.tag, "svg");
    assert_eq!(root.attr("data-sweep"), "315");
    assert_eq!(root.attr("data-zero-angle"), "-157.5");
    let full = root.num("data-full-scale");
    let d = root.num("data-diameter");
    assert_eq!(
        root.attr("width"),
        format!("{}mm", root.attr("data-diameter"))
    );
    assert_eq!(
        root.attr("viewBox"),
        format!("{} {} {d} {d}", -d / 2.0, -d / 2.0)
    );
    let mut out = Vec::new();
    for t in els.iter().filter(|e| e.has_class("tick")) {
        let value = t.num("data-value");
        let angle = t.num("data-angle");
        assert!(
            (angle - value / full * 315.0).abs() < 0.01,
            "angle {angle} for {value} of {full}"
        );
        // The line itself points there: from 12 o'clock clockwise, less the zero stop.
        let (x, y) = (t.num("x2"), t.num("y2"));
        let drawn = x.atan2(-y).to_degrees() + 157.5;
        let off = (drawn - angle).rem_euclid(360.0);
        assert!(off.min(360.0 - off) < 0.05, "{t:?}: drawn at {drawn}");
        out.push((value, angle, t.attr("class").to_owned()));
    }
    assert!(!out.is_empty());
    assert_eq!(out[0].1, 0.0, "the first tick is at the zero stop");
    assert_eq!(
        out[out.len() - 1].1,
        315.0,
        "the last tick is at full scale"
    );
    assert!(out.windows(2).all(|w| w[0].0 < w[1].0), "ticks in order");
    out
}

fn numerals(svg: &str) -> Vec<String> {
    elements(svg)
        .into_iter()
        .filter(|e| e.has_class("numeral"))
        .map(|e| e.text)
        .collect()
}

#[test]
fn faces_follow_the_scales_the_gauges_use() {
    let home = Home::new();
    let out = home.dir.join("faces");
    let said = faces(&home, &out, &[]);
    assert!(
        said.contains("faces for fuel, tach, temp, boost (52 mm"),
        "{said}"
    );
    for name in [
        "fuel.svg",
        "fuel.pdf",
        "tach.svg",
        "tach.pdf",
        "temp.svg",
        "temp.pdf",
        "boost.svg",
        "boost.pdf",
        "sheet-a4.svg",
        "sheet-a4.pdf",
        "sheet-letter.svg",
        "sheet-letter.pdf",
    ] {
        let bytes = std::fs::read(out.join(name)).unwrap();
        if name.ends_with(".pdf") {
            assert!(
                bytes.starts_with(b"%PDF-1.4") && bytes.ends_with(b"%%EOF\n"),
                "{name}"
            );
        }
    }
    assert!(!out.join("cost.svg").exists(), "only the mounted needles");

    // TACH: 0 to 1.25 x the redline (20,000), the redline ticked at 80 % of the sweep.
    let tach = read(&out.join("tach.svg"));
    let t = ticks(&tach);
    assert_eq!(t.last().unwrap().0, 25_000.0);
    let red: Vec<_> = t.iter().filter(|t| t.2.contains("redline")).collect();
    assert_eq!(red.len(), 1);
    assert_eq!((red[0].0, red[0].1), (20_000.0, 252.0));
    assert_eq!(numerals(&tach), ["0", "5", "10", "15", "20", "25"]);
    assert!(tach.contains(">×1000</text>"));
    // Its red zone starts at the redline.
    let zone = elements(&tach)
        .into_iter()
        .find(|e| e.has_class("zone"))
        .unwrap();
    assert_eq!((zone.attr("data-from"), zone.attr("data-to")), ("0.8", "1"));
    assert!(zone.has_class("red"));
    // FUEL prints its letters, TEMP its three bands.
    assert_eq!(numerals(&read(&out.join("fuel.svg"))), ["E", "½", "F"]);
    let temp = read(&out.join("temp.svg"));
    let bands: Vec<String> = elements(&temp)
        .into_iter()
        .filter(|e| e.has_class("zone"))
        .map(|e| e.attr("class").to_owned())
        .collect();
    assert_eq!(bands, ["zone blue", "zone white", "zone red"]);
    assert_eq!(
        numerals(&read(&out.join("boost.svg"))),
        ["0", "20", "40", "60", "80", "100%"]
    );

    // The sheet: four faces two by two, the lamp legend, the scale bar, on each paper.
    for (paper, w, h) in [("a4", "210mm", "297mm"), ("letter", "215.9mm", "279.4mm")] {
        let sheet = read(&out.join(format!("sheet-{paper}.svg")));
        let els = elements(&sheet);
        assert_eq!((els[0].attr("width"), els[0].attr("height")), (w, h));
        let faces: Vec<&str> = els
            .iter()
            .filter(|e| e.has_class("face"))
            .map(|e| e.attr("data-dial"))
            .collect();
        assert_eq!(faces, ["fuel", "tach", "temp", "boost"]);
        let lamps: Vec<&str> = els
            .iter()
            .filter(|e| e.has_class("lamp-label"))
            .map(|e| e.text.as_str())
            .collect();
        assert_eq!(lamps, ["MODEL", "HOT", "WARN", "STALL", "IDLE"]);
        let bar = els
            .iter()
            .find(|e| e.has_class("scale-bar") && e.attrs.contains_key("data-length-mm"))
            .unwrap();
        assert!((bar.num("x2") - bar.num("x1") - 10.0).abs() < 1e-6);
        // Every face on the sheet is the diameter asked for, and inside the paper.
        for f in els.iter().filter(|e| e.has_class("face")) {
            let (cx, cy, r) = (f.num("cx"), f.num("cy"), f.num("r"));
            assert_eq!(r, 26.0);
            let (pw, ph): (f64, f64) = (
                w.trim_end_matches("mm").parse().unwrap(),
                h.trim_end_matches("mm").parse().unwrap(),
            );
            assert!(cx - r > 5.0 && cx + r < pw - 5.0 && cy - r > 5.0 && cy + r < ph - 5.0);
        }
    }
}

#[test]
fn a_changed_configuration_draws_new_faces() {
    let home = Home::new();
    // The config file moves the redline and the zones; a flag picks the needles.
    let cfg = home.dir.join("config/redline");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(
        cfg.join("config.toml"),
        "tach_redline = 30000\ncost_full_scale = 13\n# where the faces are coloured\n[zones]\ntemp_cool = 0.3\ntemp_hot = 0.7\n",
    )
    .unwrap();
    let out = home.dir.join("faces");
    faces(
        &home,
        &out,
        &["--needles", "cost,tach,temp,context", "--diameter", "60"],
    );
    let tach = read(&out.join("tach.svg"));
    let t = ticks(&tach);
    // 1.25 x 30,000 = 37,500: majors every 10,000, the full scale ticked without a figure.
    assert_eq!(t.last().unwrap().0, 37_500.0);
    let red = t.iter().find(|t| t.2.contains("redline")).unwrap();
    assert_eq!((red.0, red.1), (30_000.0, 252.0));
    assert_eq!(numerals(&tach), ["0", "10", "20", "30"]);
    assert!(tach.contains(r#"width="60mm""#));

    // COST at $13: figures on a 2.5 step, none at $13.
    let cost = read(&out.join("cost.svg"));
    ticks(&cost);
    let figures = numerals(&cost);
    assert_eq!(figures, ["$0", "$2.5", "$5", "$7.5", "$10", "$12.5"]);
    for f in &figures {
        let v: f64 = f.trim_start_matches('$').parse().unwrap();
        assert!((v / 2.5 - (v / 2.5).round()).abs() < 1e-9, "{f}");
    }

    let temp = elements(&read(&out.join("temp.svg")));
    let white = temp.iter().find(|e| e.has_class("white")).unwrap();
    assert_eq!(
        (white.attr("data-from"), white.attr("data-to")),
        ("0.3", "0.7")
    );
    assert!(out.join("context.pdf").exists());
    let sheet = read(&out.join("sheet-a4.svg"));
    assert!(sheet.contains("N4 · CONTEXT"), "captions name the places");
    assert!(
        sheet.contains("COST full scale $13"),
        "the sheet says what it was drawn for"
    );

    // A variable beats the file, as for serve.
    let again = home.dir.join("faces2");
    let o = home
        .redline()
        .args(["faces", "--out"])
        .arg(&again)
        .env("REDLINE_TACH_REDLINE", "10000")
        .output()
        .unwrap();
    assert!(o.status.success());
    let t = ticks(&read(&again.join("tach.svg")));
    assert_eq!(t.last().unwrap().0, 12_500.0);
}

#[test]
fn the_daemon_serves_the_same_faces() {
    let home = Home::new();
    let out = home.dir.join("faces");
    faces(&home, &out, &["--all", "--cost-full-scale", "5"]);
    let d = Daemon::start(&home, &["--cost-full-scale", "5"]);
    for name in ["fuel", "tach", "temp", "boost", "cost", "context", "weekly"] {
        let r = d.get(&format!("/faces/{name}.svg"));
        assert_eq!(r.status, 200, "{name}");
        assert!(r.head.contains("content-type: image/svg+xml"), "{}", r.head);
        assert_eq!(r.body, read(&out.join(format!("{name}.svg"))), "{name}");
    }
    let cost = d.get("/faces/cost.svg").body;
    assert_eq!(numerals(&cost), ["$0", "$1", "$2", "$3", "$4", "$5"]);
    // No ids: four faces inline into one page without clashing.
    assert!(!cost.contains(" id="));
    let missing = d.get("/faces/oil.svg");
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("tach.svg"), "{}", missing.body);
}

#[test]
fn sizes_out_of_range_are_refused_with_the_reason() {
    let home = Home::new();
    for (args, says) in [
        (&["--diameter", "200"][..], "--diameter 200"),
        (&["--diameter", "52", "--hole", "20"][..], "--hole 20"),
        (&["--lamp-pitch", "2"][..], "--lamp-pitch 2"),
    ] {
        let o = home
            .redline()
            .args(["faces", "--out"])
            .arg(home.dir.join("x"))
            .args(args)
            .output()
            .unwrap();
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{err}");
    }
}
