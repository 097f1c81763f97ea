//! Build-time configuration: reads the `REDLINE_*` environment variables, checks them and
//! writes `config.rs` (constants) and `pins.rs` (the `take_pins!` macro) into `OUT_DIR`.
//!
//! The chip has no settings storage worth a UI, so everything a builder changes (Wi-Fi,
//! daemon URL, poll interval, dimming, pins) is fixed when the image is built. Pins become
//! field accesses on `esp_hal::peripherals::Peripherals` (`p.GPIO18`), so a pin that the
//! chip lacks, that is used twice, that is sampled at reset or that carries the flash
//! fails the build here with a readable message, not on the desk. Needles are named by
//! position (N1 to N4, left to right) because the daemon, not the firmware, decides which
//! dial each one shows. Every variable and its default is listed in `hardware/README.md`.

use std::collections::BTreeMap;
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use redline_core::calibration::{CalPoint, Calibration};

/// The needle slots, left to right (`redline_core::poll::Needle::ALL`): motor A is N1.
const NEEDLES: usize = 4;

/// The pin variable of the lamp chain's data line (the suffix after `REDLINE_PIN_`).
const LAMPS: &str = "LAMPS";

/// What build.rs knows about one chip's board.
struct Chip {
    name: &'static str,
    /// The highest GPIO esp-hal exposes as a peripheral.
    max_gpio: u8,
    /// Pins sampled at reset. Nothing of the cluster goes there: a motor signal or the
    /// LED data line's pull-down can change how the chip boots, and whatever the boot ROM
    /// does with the pin would reach the driver or the LEDs.
    strapping: &'static [u8],
    /// Pins wired to the SPI flash inside the module: driving one crashes the chip.
    flash: &'static [u8],
    /// Pins the reference board leaves free (SPEC.md, REFERENCE.md); others warn.
    free: &'static [u8],
    /// Default pins: (variable suffix, GPIO), in the order the boot log lists them.
    quad_defaults: &'static [(&'static str, u8)],
    direct_defaults: &'static [(&'static str, u8)],
}

const ESP32C6: Chip = Chip {
    name: "esp32c6",
    max_gpio: 23,
    strapping: &[4, 5, 8, 9, 15],
    // The C6's flash pins (24-30) are above `max_gpio`, so they are refused already.
    flash: &[],
    free: &[0, 1, 2, 3, 6, 7, 10, 11, 18, 19, 20, 21, 22, 23],
    quad_defaults: &[
        ("N1_STEP", 0),
        ("N1_DIR", 1),
        ("N2_STEP", 2),
        ("N2_DIR", 3),
        ("N3_STEP", 6),
        ("N3_DIR", 7),
        ("N4_STEP", 10),
        ("N4_DIR", 11),
        (LAMPS, 18),
    ],
    direct_defaults: &[
        ("COIL1", 0),
        ("COIL2", 1),
        ("COIL3", 2),
        ("COIL4", 3),
        (LAMPS, 18),
    ],
};

const ESP32C3: Chip = Chip {
    name: "esp32c3",
    max_gpio: 21,
    strapping: &[2, 8, 9],
    flash: &[12, 13, 14, 15, 16, 17],
    // 18/19 are the USB pins and 20/21 UART0: a board flashed over a USB-UART bridge on
    // 20/21 (ESP32-C3-DevKitM-1) leaves 18/19 free.
    free: &[0, 1, 3, 4, 5, 6, 7, 10, 18, 19],
    quad_defaults: &[
        ("N1_STEP", 0),
        ("N1_DIR", 1),
        ("N2_STEP", 3),
        ("N2_DIR", 4),
        ("N3_STEP", 5),
        ("N3_DIR", 6),
        ("N4_STEP", 7),
        ("N4_DIR", 10),
        (LAMPS, 18),
    ],
    direct_defaults: &[
        ("COIL1", 0),
        ("COIL2", 1),
        ("COIL3", 3),
        ("COIL4", 4),
        (LAMPS, 18),
    ],
};

/// Variables of earlier builds and what replaced them. Set, they would be ignored in
/// silence and the image would drive pins the builder did not wire, so they fail.
const RETIRED: &[(&str, &str)] = &[
    (
        "REDLINE_PIN_TACH_STEP",
        "needles are named by position: the TACH, FUEL, COST and TEMP motors are now \
         REDLINE_PIN_N1_STEP / _DIR to REDLINE_PIN_N4_STEP / _DIR",
    ),
    ("REDLINE_PIN_TACH_DIR", "see REDLINE_PIN_N1_DIR"),
    ("REDLINE_PIN_FUEL_STEP", "see REDLINE_PIN_N2_STEP"),
    ("REDLINE_PIN_FUEL_DIR", "see REDLINE_PIN_N2_DIR"),
    ("REDLINE_PIN_COST_STEP", "see REDLINE_PIN_N3_STEP"),
    ("REDLINE_PIN_COST_DIR", "see REDLINE_PIN_N3_DIR"),
    ("REDLINE_PIN_TEMP_STEP", "see REDLINE_PIN_N4_STEP"),
    ("REDLINE_PIN_TEMP_DIR", "see REDLINE_PIN_N4_DIR"),
    (
        "REDLINE_PIN_LED_MODEL",
        "the five lamps are one chain of RGB LEDs on REDLINE_PIN_LAMPS",
    ),
    ("REDLINE_PIN_LED_REDLINE", "see REDLINE_PIN_LAMPS"),
    ("REDLINE_PIN_LED_FUEL", "see REDLINE_PIN_LAMPS"),
    ("REDLINE_PIN_LED_HOT", "see REDLINE_PIN_LAMPS"),
    ("REDLINE_PIN_LED_CHECK", "see REDLINE_PIN_LAMPS"),
    (
        "REDLINE_LED_ACTIVE_LOW",
        "the LED chain's data line is never on a strapping pin, so nothing is active-low",
    ),
];

fn main() {
    let chip = if env::var_os("CARGO_FEATURE_ESP32C3").is_some() {
        &ESP32C3
    } else {
        &ESP32C6
    };
    let direct = env::var_os("CARGO_FEATURE_DIRECT_DRIVE").is_some();
    let both = env::var_os("CARGO_FEATURE_ESP32C3").is_some()
        && env::var_os("CARGO_FEATURE_ESP32C6").is_some();
    if both {
        fail("choose one chip: --no-default-features --features esp32c3");
    }
    // The C3 has no atomic instructions: an imac image would fault on its first one.
    let target = env::var("TARGET").unwrap_or_default();
    if chip.name == "esp32c3" && target != "riscv32imc-unknown-none-elf" {
        fail("the esp32c3 build needs --target riscv32imc-unknown-none-elf");
    }
    for (var, instead) in RETIRED {
        if !text(var, "").is_empty() {
            fail(&format!("{var} is no longer read: {instead}"));
        }
    }

    let ssid = text("REDLINE_WIFI_SSID", "");
    let password = text("REDLINE_WIFI_PASSWORD", "");
    let url = text("REDLINE_URL", "");
    let poll_ms = number("REDLINE_POLL_MS", 1000, 100, 60_000);
    // Half on the square-law knob, a quarter of full current: an addressable LED at full
    // glares through a lamp window a metre from the eye, and draws up to 60 mA.
    let dim = number("REDLINE_DIM", 50, 1, 100);
    let invert_dir = number("REDLINE_INVERT_DIR", 0, 0, 1);
    let direct_text = text("REDLINE_DIRECT_NEEDLE", "");
    if direct_text.trim().parse::<u32>().is_err() && !direct_text.trim().is_empty() {
        fail(&format!(
            "REDLINE_DIRECT_NEEDLE={direct_text}: give the needle position 1 to 4; the \
             daemon's `needles` setting decides which dial each position shows"
        ));
    }
    let direct_needle = number("REDLINE_DIRECT_NEEDLE", 1, 1, NEEDLES as u32);

    if ssid.len() > 32 {
        fail("REDLINE_WIFI_SSID is longer than 32 bytes");
    }
    if password.len() > 64 || (!password.is_empty() && password.len() < 8) {
        fail("REDLINE_WIFI_PASSWORD must be empty (open network) or 8 to 64 bytes");
    }
    if !url.is_empty() && !url_is_valid(&url) {
        fail("REDLINE_URL must be http://host[:port][/path], e.g. http://192.168.1.20:7878");
    }

    let defaults = if direct {
        chip.direct_defaults
    } else {
        chip.quad_defaults
    };
    let mut pins: Vec<(&str, u8)> = Vec::new();
    let mut used: BTreeMap<u8, &str> = BTreeMap::new();
    for (suffix, default) in defaults {
        let var = format!("REDLINE_PIN_{suffix}");
        let gpio = number(&var, u32::from(*default), 0, u32::from(chip.max_gpio)) as u8;
        if let Some(other) = used.insert(gpio, suffix) {
            fail(&format!(
                "GPIO{gpio} is given to both REDLINE_PIN_{other} and {var}"
            ));
        }
        if chip.flash.contains(&gpio) {
            fail(&format!(
                "{var}=GPIO{gpio}: GPIO{}-{} of the {} carry its SPI flash; driving one \
                 crashes the chip",
                chip.flash[0],
                chip.flash[chip.flash.len() - 1],
                chip.name
            ));
        }
        if chip.strapping.contains(&gpio) {
            let what = if *suffix == LAMPS {
                "the LED data line's pull-down can change how the chip boots, and the boot \
                 ROM's use of the pin would reach the LEDs"
            } else {
                "a motor signal there can stop the chip from booting"
            };
            fail(&format!(
                "{var}=GPIO{gpio} is a strapping pin of the {} ({:?}): {what}; choose one \
                 of the free pins {:?}",
                chip.name, chip.strapping, chip.free
            ));
        }
        if !chip.free.contains(&gpio) {
            println!(
                "cargo:warning={var}=GPIO{gpio} is not among the {}'s free pins {:?}",
                chip.name, chip.free
            );
        }
        pins.push((suffix, gpio));
    }

    let mut config = String::new();
    let w = &mut config;
    writeln!(w, "/// The chip this image is built for.").unwrap();
    writeln!(w, "pub const CHIP: &str = {:?};", chip.name).unwrap();
    writeln!(w, "/// Wi-Fi network name; empty: not configured.").unwrap();
    writeln!(w, "pub const WIFI_SSID: &str = {ssid:?};").unwrap();
    writeln!(w, "/// Wi-Fi password; empty: an open network.").unwrap();
    writeln!(w, "pub const WIFI_PASSWORD: &str = {password:?};").unwrap();
    writeln!(w, "/// The daemon's gauge URL; empty: find it by mDNS.").unwrap();
    writeln!(w, "pub const URL: &str = {url:?};").unwrap();
    writeln!(
        w,
        "/// How often `/usage/gauge` is fetched, in milliseconds."
    )
    .unwrap();
    writeln!(w, "pub const POLL_MS: u64 = {poll_ms};").unwrap();
    writeln!(w, "/// Panel brightness in percent (square-law dimming).").unwrap();
    writeln!(w, "pub const DIM_PERCENT: u8 = {dim};").unwrap();
    // Each build gets only the constants it reads, so neither warns of dead code.
    if direct {
        writeln!(
            w,
            "/// The needle slot the direct-drive motor shows (0 is N1)."
        )
        .unwrap();
        writeln!(w, "pub const DIRECT_NEEDLE: usize = {};", direct_needle - 1).unwrap();
    } else {
        writeln!(
            w,
            "/// Swap the quad driver's DIR level (high = up when false)."
        )
        .unwrap();
        writeln!(w, "pub const INVERT_DIR: bool = {};", invert_dir == 1).unwrap();
    }
    let profile = if direct {
        redline_core::motion::DIRECT_DRIVE
    } else {
        redline_core::motion::QUAD_MICROSTEP
    };
    writeln!(
        w,
        "/// Each needle's calibration points (fraction, steps), N1 to N4; empty: linear."
    )
    .unwrap();
    write!(w, "pub const CALIBRATION: [&[(f32, u16)]; {NEEDLES}] = [").unwrap();
    for n in 1..=NEEDLES {
        let points = calibration(&format!("REDLINE_CAL_N{n}"), &profile);
        let list: Vec<String> = points
            .iter()
            .map(|p| format!("({:?}, {})", p.fraction, p.steps))
            .collect();
        write!(w, "&[{}], ", list.join(", ")).unwrap();
    }
    writeln!(w, "];").unwrap();
    writeln!(w, "/// The pin map, for the boot log.").unwrap();
    writeln!(
        w,
        "pub const PIN_SUMMARY: &str = {:?};",
        summary(&pins, direct.then_some(direct_needle))
    )
    .unwrap();

    let gpio = |key: &str| format!("$p.GPIO{}", pin(&pins, key).expect("a pin of this build"));
    let mut macro_text = String::new();
    let m = &mut macro_text;
    writeln!(m, "/// Takes this build's pins out of `Peripherals`.").unwrap();
    writeln!(m, "macro_rules! take_pins {{ ($p:ident) => {{").unwrap();
    if direct {
        writeln!(m, "crate::motors::DirectPins {{ coils: [").unwrap();
        for n in 1..=4 {
            writeln!(m, "{}.into(),", gpio(&format!("COIL{n}"))).unwrap();
        }
        writeln!(m, "],").unwrap();
    } else {
        writeln!(m, "crate::motors::QuadPins {{ step: [").unwrap();
        for n in 1..=NEEDLES {
            writeln!(m, "{}.into(),", gpio(&format!("N{n}_STEP"))).unwrap();
        }
        writeln!(m, "], dir: [").unwrap();
        for n in 1..=NEEDLES {
            writeln!(m, "{}.into(),", gpio(&format!("N{n}_DIR"))).unwrap();
        }
        writeln!(m, "],").unwrap();
    }
    writeln!(m, "lamps: {}.into() }}", gpio(LAMPS)).unwrap();
    writeln!(m, "}} }}").unwrap();

    let out = env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    write_if_changed(&Path::new(&out).join("config.rs"), &config);
    write_if_changed(&Path::new(&out).join("pins.rs"), &macro_text);
    println!("cargo:rerun-if-changed=build.rs");
}

/// The boot log's pin map, by position: `needle 1 step 0 dir 1, ..., lamps data 18` (quad)
/// or `needle 2 coils 0 1 2 3, lamps data 18` (direct drive, showing slot 2).
fn summary(pins: &[(&str, u8)], direct_needle: Option<u32>) -> String {
    let mut parts = Vec::new();
    let gpio = |key: &str| pin(pins, key).expect("a pin of this build");
    match direct_needle {
        Some(n) => parts.push(format!(
            "needle {n} coils {} {} {} {}",
            gpio("COIL1"),
            gpio("COIL2"),
            gpio("COIL3"),
            gpio("COIL4")
        )),
        None => {
            for n in 1..=NEEDLES {
                parts.push(format!(
                    "needle {n} step {} dir {}",
                    gpio(&format!("N{n}_STEP")),
                    gpio(&format!("N{n}_DIR"))
                ));
            }
        }
    }
    parts.push(format!("lamps data {}", gpio(LAMPS)));
    parts.join(", ")
}

/// The same shape `http::Url::parse` accepts on the chip, checked here so a typo fails
/// the build instead of falling back to mDNS on the desk.
fn url_is_valid(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, port_ok) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, port.parse::<u16>().is_ok_and(|p| p != 0)),
        None => (authority, true),
    };
    port_ok && !host.is_empty() && host.len() <= 63 && path.len() <= 63
}

/// The GPIO given to a pin variable suffix, if this build has it.
fn pin(pins: &[(&str, u8)], key: &str) -> Option<u8> {
    pins.iter().find(|(k, _)| *k == key).map(|(_, gpio)| *gpio)
}

/// A needle's calibration from `var`: `fraction:degrees` points separated by commas,
/// degrees counted from the needle's rest at 0 % (e.g. `0:0,0.5:150,1:312`), checked by
/// the same rules the firmware's table keeps (`redline_core::calibration`). Unset or
/// empty: none (the dial is linear over the profile's full scale).
fn calibration(var: &str, profile: &redline_core::motion::Profile) -> Vec<CalPoint> {
    let raw = text(var, "");
    let raw = raw.trim();
    if raw.is_empty() {
        return Vec::new();
    }
    let spd = f64::from(profile.steps_per_degree);
    let full = profile.full_scale();
    let mut points = Vec::new();
    for part in raw.split(',') {
        let parsed = part.split_once(':').and_then(|(f, d)| {
            let f: f32 = f.trim().parse().ok()?;
            let d: f64 = d.trim().parse().ok()?;
            (d.is_finite() && d >= 0.0).then_some((f, d))
        });
        let Some((fraction, degrees)) = parsed else {
            fail(&format!(
                "{var}={raw}: {part:?} is not fraction:degrees (e.g. 0.5:150)"
            ));
        };
        let steps = (degrees * spd).round();
        if steps > f64::from(full) {
            fail(&format!(
                "{var}={raw}: {degrees} degrees is beyond the {} profile's full scale ({:.1} degrees)",
                profile.name,
                f64::from(full) / spd
            ));
        }
        points.push(CalPoint {
            fraction,
            steps: steps as u16,
        });
    }
    if let Err(e) = Calibration::new(&points, full) {
        fail(&format!("{var}={raw}: {e}"));
    }
    points
}

/// A text variable, or its default when unset.
fn text(var: &str, default: &str) -> String {
    println!("cargo:rerun-if-env-changed={var}");
    env::var(var).unwrap_or_else(|_| default.to_owned())
}

/// A whole-number variable within `min..=max`, or its default when unset or empty.
fn number(var: &str, default: u32, min: u32, max: u32) -> u32 {
    let raw = text(var, "");
    let raw = raw.trim();
    if raw.is_empty() {
        return default;
    }
    match raw.parse::<u32>() {
        Ok(v) if (min..=max).contains(&v) => v,
        _ => fail(&format!(
            "{var}={raw}: expected a number from {min} to {max}"
        )),
    }
}

fn fail(message: &str) -> ! {
    eprintln!("redline-firmware configuration: {message}");
    std::process::exit(1);
}

fn write_if_changed(path: &Path, contents: &str) {
    if fs::read_to_string(path).ok().as_deref() != Some(contents) {
        fs::write(path, contents).expect("OUT_DIR is writable");
    }
}
