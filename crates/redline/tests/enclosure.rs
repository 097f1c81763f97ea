//! The enclosure (`hardware/enclosure`): runs `hardware/enclosure/build` at draft quality
//! into a temporary directory, then checks what it wrote on its own, not trusting the
//! build's checks: every printable part has its STL and 3MF, the fit-check models, the
//! acrylic outlines (DXF and SVG) and the PNG previews exist and are not empty, and every
//! printable STL, read by a small ASCII STL parser here, is closed (each undirected edge
//! used by exactly two facets) and fits a 220 x 220 mm bed. The edge check is itself
//! tested on hand-made meshes, closed and open, so it can fail.
//!
//! Needs openscad and xvfb-run (Debian: `apt-get install openscad xvfb xauth`, which
//! `.ci/run` does). Without them the test skips with the reason; under `CI=true` it fails
//! instead.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What a printer bed holds, mm.
const BED: f64 = 220.0;

/// Every printable part the build must write, as `<part>.stl` and `<part>.3mf`.
const PARTS: [&str; 11] = [
    "bezel-left",
    "bezel-right",
    "faceplate-left",
    "faceplate-right",
    "dial-ring",
    "motor-mount",
    "lamp-box",
    "box-left",
    "box-right",
    "clip",
    "vesa-plate",
];

/// The fit-check models, as `<model>-model.stl`.
const MODELS: [&str; 9] = [
    "x27",
    "face",
    "needle",
    "window",
    "lamp-acrylic",
    "leds",
    "devkit",
    "perfboard",
    "driver",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()))
}

/// One corner of a facet: the coordinates' bits (with -0 made 0, as OpenSCAD may print
/// either), so that equal points compare equal.
type Vertex = [u64; 3];

fn key(p: [f64; 3]) -> Vertex {
    p.map(|c| {
        if c == 0.0 {
            0.0f64.to_bits()
        } else {
            c.to_bits()
        }
    })
}

/// A triangle mesh read from an ASCII STL.
struct Mesh {
    facets: Vec<[[f64; 3]; 3]>,
}

impl Mesh {
    fn parse(text: &str) -> Result<Mesh, String> {
        let mut facets = Vec::new();
        let mut corners: Vec<[f64; 3]> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let mut words = line.split_whitespace();
            match words.next() {
                Some("vertex") => {
                    let mut p = [0.0; 3];
                    for c in &mut p {
                        *c = words
                            .next()
                            .and_then(|w| w.parse().ok())
                            .ok_or_else(|| format!("line {}: bad vertex: {line}", n + 1))?;
                    }
                    corners.push(p);
                }
                Some("endloop") => {
                    let facet: [[f64; 3]; 3] = corners.as_slice().try_into().map_err(|_| {
                        format!("line {}: a facet with {} corners", n + 1, corners.len())
                    })?;
                    facets.push(facet);
                    corners.clear();
                }
                _ => {}
            }
        }
        if facets.is_empty() {
            return Err("no facets (empty, or not an ASCII STL)".into());
        }
        Ok(Mesh { facets })
    }

    /// Edges not shared by exactly two facets: (how many such edges, the worst count).
    fn open_edges(&self) -> (usize, u32) {
        let mut uses: HashMap<(Vertex, Vertex), u32> = HashMap::new();
        for f in &self.facets {
            for k in 0..3 {
                let (a, b) = (key(f[k]), key(f[(k + 1) % 3]));
                *uses.entry(if a < b { (a, b) } else { (b, a) }).or_default() += 1;
            }
        }
        let bad: Vec<u32> = uses.values().copied().filter(|&n| n != 2).collect();
        let worst = bad
            .iter()
            .copied()
            .max_by_key(|&n| n.abs_diff(2))
            .unwrap_or(2);
        (bad.len(), worst)
    }

    /// The bounding box: (lowest corner, highest corner).
    fn bounds(&self) -> ([f64; 3], [f64; 3]) {
        let mut lo = [f64::INFINITY; 3];
        let mut hi = [f64::NEG_INFINITY; 3];
        for p in self.facets.iter().flatten() {
            for i in 0..3 {
                lo[i] = lo[i].min(p[i]);
                hi[i] = hi[i].max(p[i]);
            }
        }
        (lo, hi)
    }
}

/// An ASCII STL of the given triangles.
fn stl(triangles: &[[[f64; 3]; 3]]) -> String {
    let mut s = String::from("solid test\n");
    for t in triangles {
        s.push_str("  facet normal 0 0 0\n    outer loop\n");
        for p in t {
            s.push_str(&format!("      vertex {} {} {}\n", p[0], p[1], p[2]));
        }
        s.push_str("    endloop\n  endfacet\n");
    }
    s.push_str("endsolid test\n");
    s
}

/// A closed tetrahedron, outward facing.
fn tetrahedron() -> Vec<[[f64; 3]; 3]> {
    let (o, x, y, z) = ([0.0; 3], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]);
    vec![[o, y, x], [o, x, z], [o, z, y], [x, y, z]]
}

#[test]
fn the_edge_check_passes_a_closed_mesh() {
    let mesh = Mesh::parse(&stl(&tetrahedron())).unwrap();
    assert_eq!(mesh.facets.len(), 4);
    assert_eq!(mesh.open_edges(), (0, 2));
    assert_eq!(mesh.bounds(), ([0.0; 3], [1.0; 3]));
}

#[test]
fn the_edge_check_fails_an_open_or_doubled_mesh() {
    // One facet missing: its three edges are used once.
    let mut open = tetrahedron();
    open.pop();
    assert_eq!(Mesh::parse(&stl(&open)).unwrap().open_edges(), (3, 1));
    // One facet twice: its three edges are used three times.
    let mut doubled = tetrahedron();
    doubled.push(doubled[0]);
    assert_eq!(Mesh::parse(&stl(&doubled)).unwrap().open_edges(), (3, 3));
    // -0 and 0 are the same point: this closed mesh stays closed.
    let mut signed = tetrahedron();
    signed[0][0] = [-0.0, 0.0, -0.0];
    assert_eq!(Mesh::parse(&stl(&signed)).unwrap().open_edges(), (0, 2));
    // Not an STL at all, or a facet with two corners.
    assert!(Mesh::parse("").is_err());
    assert!(Mesh::parse("outer loop\nvertex 0 0 0\nvertex 1 0 0\nendloop\n").is_err());
}

fn non_empty(path: &Path) -> Result<u64, String> {
    let len = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    if len == 0 {
        return Err(format!("{}: empty", path.display()));
    }
    Ok(len)
}

#[test]
fn the_enclosure_builds_closed_parts_that_fit_the_bed() {
    let missing: Vec<&str> = ["openscad", "xvfb-run"]
        .into_iter()
        .filter(|tool| !on_path(tool))
        .collect();
    if !missing.is_empty() {
        let why = format!(
            "{} not installed (apt-get install openscad xvfb xauth)",
            missing.join(" and ")
        );
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but {why}"
        );
        eprintln!("skipped: {why}");
        return;
    }

    let out = std::env::temp_dir().join(format!("redline-enclosure-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new(workspace().join("hardware/enclosure/build"))
        .env("OUT", &out)
        .env("QUALITY", "draft")
        .output()
        .expect("run hardware/enclosure/build");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.status.success(), "the build failed:\n{log}");

    let mut problems = Vec::new();
    for part in PARTS {
        let path = out.join(format!("{part}.stl"));
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                problems.push(format!("{part}.stl: {e}"));
                continue;
            }
        };
        match Mesh::parse(&text) {
            Err(e) => problems.push(format!("{part}.stl: {e}")),
            Ok(mesh) => {
                let (open, worst) = mesh.open_edges();
                if open > 0 {
                    problems.push(format!(
                        "{part}.stl: {open} edge(s) not shared by exactly two facets (one by {worst})"
                    ));
                }
                let (lo, hi) = mesh.bounds();
                let size = [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]];
                if size[0] > BED || size[1] > BED {
                    problems.push(format!(
                        "{part}.stl: {:.1} x {:.1} mm does not fit a {BED} x {BED} mm bed",
                        size[0], size[1]
                    ));
                }
                if lo[2].abs() > 1e-3 {
                    problems.push(format!("{part}.stl: lowest point at z = {}", lo[2]));
                }
            }
        }
        if let Err(e) = non_empty(&out.join(format!("{part}.3mf"))) {
            problems.push(e);
        }
    }
    for model in MODELS {
        if let Err(e) = non_empty(&out.join(format!("{model}-model.stl"))) {
            problems.push(e);
        }
    }
    for outline in ["acrylic-lamps", "acrylic-windows"] {
        for (ext, mark) in [("dxf", "ENTITIES"), ("svg", "<svg")] {
            let path = out.join(format!("{outline}.{ext}"));
            match std::fs::read_to_string(&path) {
                Ok(text) if text.contains(mark) => {}
                Ok(_) => problems.push(format!("{}: no {mark}", path.display())),
                Err(e) => problems.push(format!("{}: {e}", path.display())),
            }
        }
    }
    // A preview OpenSCAD could not draw is an empty file; a drawn one is a PNG of tens
    // of kilobytes.
    for preview in ["assembled", "exploded", "back"] {
        let path = out.join(format!("{preview}.png"));
        match std::fs::read(&path) {
            Ok(bytes) if bytes.len() > 10_000 && bytes.starts_with(b"\x89PNG\r\n\x1a\n") => {}
            Ok(bytes) => problems.push(format!(
                "{preview}.png: {} bytes, not a rendered PNG",
                bytes.len()
            )),
            Err(e) => problems.push(format!("{preview}.png: {e}")),
        }
    }
    assert!(
        problems.is_empty(),
        "{}\n\nbuild output:\n{log}",
        problems.join("\n")
    );
    // The build reports its time; keep the evidence only when something failed.
    eprintln!(
        "{}",
        log.lines().rev().take(2).collect::<Vec<_>>().join("\n")
    );
    let _ = std::fs::remove_dir_all(&out);
}
