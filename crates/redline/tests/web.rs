//! The web page in a real browser: `tests/web/drive.mjs` drives Debian's Chromium through
//! playwright-core against the real daemon on a generated corpus (the daemon's printed
//! faces inlined as `/api/config` describes them, needles and lamps equal to `/usage`, a
//! settled needle at the face's zero angle + 315 degrees x its position, no word under a
//! resting needle, the cluster laid out and photographed at 390, 768, 1280 and 1920 px,
//! COST's figures dial-friendly, a dial without its face still working, every lamp driven
//! through its states, MODEL in three family colours, the daemon hanging, its loss and
//! its return with other needles, the tab's title through all that, the readout switch,
//! the needle sweep's switch, every chart of the stats view over 30 days, 7 days and all
//! history, the calibrate view against `/api/calibrate` and Apply writing a proposal the
//! daemon then runs with (and off under `serve --demo`), the character view against
//! `/api/character`, `/api/stats/thinking`, `/api/git` and `/api/correlate` at desk and
//! phone width, phone width) and saves a screenshot of each to `target/web-screenshots`.
//!
//! Needs node, Chromium (`REDLINE_CHROMIUM`, default `/usr/bin/chromium`) and
//! playwright-core (`REDLINE_PLAYWRIGHT`, default `target/ci-tools/node_modules/playwright-core`,
//! where `.ci/run` installs it). Without them the test skips with the reason; under
//! `CI=true` it fails instead.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Home;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tools() -> Result<(PathBuf, PathBuf), String> {
    let chromium = std::env::var_os("REDLINE_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if !chromium.is_file() {
        return Err(format!(
            "no Chromium at {} (apt-get install chromium)",
            chromium.display()
        ));
    }
    let playwright = std::env::var_os("REDLINE_PLAYWRIGHT")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/ci-tools/node_modules/playwright-core"));
    if !playwright.join("package.json").is_file() {
        return Err(format!(
            "no playwright-core at {} (npm install --prefix target/ci-tools playwright-core@1)",
            playwright.display()
        ));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Err("no node on PATH".into());
    }
    Ok((chromium, playwright))
}

/// The screenshots `drive.mjs` saves.
const SHOTS: [&str; 28] = [
    "lamp-idle-pulse.png",
    "lamp-model-sonnet.png",
    "lamp-model-haiku.png",
    "lamp-model-opus.png",
    "lamp-warn-on.png",
    "lamp-hot-on.png",
    "lamp-hot-blink.png",
    "lamp-warn-blink.png",
    "lamp-stall-on.png",
    "lamp-stall-blink.png",
    "cluster.png",
    "cluster-390.png",
    "cluster-768.png",
    "cluster-1280.png",
    "cluster-1920.png",
    "lost.png",
    "cluster-alt.png",
    "sweep.png",
    "stats.png",
    "stats-7d.png",
    "stats-all.png",
    "calibrate.png",
    "phone-calibrate.png",
    "character.png",
    "phone-character.png",
    "phone.png",
    "phone-stats-7d.png",
    "phone-stats-all.png",
];

#[test]
fn the_page_in_a_real_browser() {
    let (chromium, playwright) = match tools() {
        Ok(t) => t,
        Err(why) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but {why}"
            );
            eprintln!("skipped: {why}");
            return;
        }
    };
    let home = Home::new();
    let shots = workspace().join("target/web-screenshots");
    // Last run's pictures must not pass for this run's.
    let _ = std::fs::remove_dir_all(&shots);
    let out = Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web/drive.mjs"))
        .env("REDLINE_BIN", env!("CARGO_BIN_EXE_redline"))
        .env("CHROMIUM", chromium)
        .env("PLAYWRIGHT", playwright)
        .env("WORKDIR", &home.dir)
        .env("SCREENSHOTS", &shots)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // A photograph of each lamp state the test drove, and of each view. A blank or
    // failed capture is a few hundred bytes; the bezel's texture alone is far more.
    for shot in SHOTS {
        let len = std::fs::metadata(shots.join(shot)).map_or(0, |m| m.len());
        assert!(len > 10_000, "{shot}: {len} bytes");
    }
}
