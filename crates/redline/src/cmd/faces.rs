//! `redline faces`: the dial faces at 1:1 for printing, from the configuration as `serve`
//! resolves it. One SVG and one PDF per mounted needle (`fuel.svg`, `tach.pdf`, ...; all
//! seven with `--all`), and a sheet per paper size with the four faces two by two, the
//! annunciator legend strip and a 10 mm scale bar (`sheet-a4.pdf`, `sheet-letter.svg`).

use std::path::Path;

use anyhow::{Context, Result, bail};
use clap::parser::ValueSource;
use redline_core::Dial;
use redline_engine::roots::RootEnv;

use crate::cli::{FacesArgs, PaperArg};
use crate::config;
use crate::faces::{self, FaceSize, MAX_DIAMETER, MIN_DIAMETER, Paper, SheetNotes, pdf, svg};

/// Space around a face on its own PDF page, mm: printers do not print to the edge.
const PAGE_MARGIN: f64 = 10.0;

/// Writes the files and lists them.
pub fn run(
    args: &FacesArgs,
    source: &dyn Fn(&str) -> Option<ValueSource>,
    env: &RootEnv,
) -> Result<()> {
    let cfg = config::resolve(&args.daemon, source, env)?;
    let size = FaceSize {
        diameter: args.diameter,
        hole: args.hole,
    };
    check(size, args.lamp_pitch)?;
    let needles = cfg.settings.needles;
    let scales = cfg.settings.scales;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot make {}", args.out.display()))?;

    let dials: Vec<Dial> = if args.all {
        Dial::ALL.to_vec()
    } else {
        needles.to_vec()
    };
    let mut written = Vec::new();
    for dial in dials {
        let face = faces::face(dial, &scales, size);
        let name = dial.name();
        write(
            &args.out,
            &format!("{name}.svg"),
            svg::render(&face).as_bytes(),
            &mut written,
        )?;
        let side = size.diameter + 2.0 * PAGE_MARGIN;
        let mut page = faces::draw::Drawing::new((0.0, 0.0, side, side));
        page.place(&face, side / 2.0, side / 2.0);
        let title = format!("redline {} face", dial.face().title);
        write(
            &args.out,
            &format!("{name}.pdf"),
            &pdf::render(&page, &title),
            &mut written,
        )?;
    }
    let papers: &[Paper] = match args.paper {
        PaperArg::A4 => &[Paper::A4],
        PaperArg::Letter => &[Paper::Letter],
        PaperArg::Both => &[Paper::A4, Paper::Letter],
    };
    let note = faces::scales_note(&needles, &scales);
    for &paper in papers {
        let sheet = faces::sheet(
            &needles,
            &scales,
            size,
            args.lamp_pitch,
            paper,
            &SheetNotes { scales: &note },
        );
        let stem = format!("sheet-{}", paper.name());
        write(
            &args.out,
            &format!("{stem}.svg"),
            svg::render(&sheet).as_bytes(),
            &mut written,
        )?;
        write(
            &args.out,
            &format!("{stem}.pdf"),
            &pdf::render(&sheet, "redline dial faces"),
            &mut written,
        )?;
    }
    let needles: Vec<&str> = needles.iter().map(|d| d.name()).collect();
    println!(
        "faces for {} ({} mm, {note}):",
        needles.join(", "),
        faces::value_text(size.diameter)
    );
    for w in written {
        println!("  {w}");
    }
    println!("print the PDFs at 100 % (actual size) and check the 10 mm scale bar");
    Ok(())
}

fn check(size: FaceSize, pitch: f64) -> Result<()> {
    if !(MIN_DIAMETER..=MAX_DIAMETER).contains(&size.diameter) {
        bail!(
            "--diameter {}: faces are drawn from {MIN_DIAMETER} to {MAX_DIAMETER} mm (four must fit a sheet, and the figures stay legible)",
            size.diameter
        );
    }
    if !(size.hole > 0.0 && size.hole <= size.diameter / 4.0) {
        bail!(
            "--hole {}: the shaft hole must be more than 0 and at most a quarter of the diameter ({} mm)",
            size.hole,
            size.diameter / 4.0
        );
    }
    if !(8.0..=36.0).contains(&pitch) {
        bail!("--lamp-pitch {pitch}: the lamps' spacing must be 8 to 36 mm");
    }
    Ok(())
}

fn write(dir: &Path, name: &str, bytes: &[u8], written: &mut Vec<String>) -> Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    written.push(path.display().to_string());
    Ok(())
}
