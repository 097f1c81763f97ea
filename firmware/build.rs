//! Build-time configuration: reads the `REDLINE_*` environment variables, checks them and
//! writes `config.rs` (constants) and `pins.rs` (the `take_pins!` macro) into `OUT_DIR`.
//!
//! The chip has no settings storage worth a UI, so everything a builder changes (Wi-Fi,
//! daemon URL, poll interval, pins) is fixed when the image is built. Pins become field
//! accesses on `esp_hal::peripherals::Peripherals` (`p.GPIO18`), so a pin that the chip
//! lacks or that is used twice fails the build here with a readable message, not on the
//! desk. Every variable and its default is listed in `hardware/README.md`.

use std::collections::BTreeMap;
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

/// The lamps in panel order (the order of `redline_core::led::duties`).
const LAMPS: [&str; 5] = ["model", "redline", "fuel", "hot", "check"];
/// The needles in panel order (the order of `redline_core::poll::Needle::ALL`).
const NEEDLES: [&str; 4] = ["tach", "fuel", "cost", "temp"];

/// What build.rs knows about one chip's board.
struct Chip {
    name: &'static str,
    /// The highest GPIO esp-hal exposes as a peripheral.
    max_gpio: u8,
    /// Pins sampled at reset: an LED there is wired active-low so it never pulls the pin
    /// low during boot, and a motor signal there is refused.
    strapping: &'static [u8],
    /// Pins the reference board leaves free (SPEC.md, REFERENCE.md); others warn.
    free: &'static [u8],
    /// Default pins: (variable suffix, GPIO).
    quad_defaults: &'static [(&'static str, u8)],
    direct_defaults: &'static [(&'static str, u8)],
}

const ESP32C6: Chip = Chip {
    name: "esp32c6",
    max_gpio: 23,
    strapping: &[4, 5, 8, 9, 15],
    free: &[0, 1, 2, 3, 6, 7, 10, 11, 18, 19, 20, 21, 22, 23],
    quad_defaults: &[
        ("TACH_STEP", 0),
        ("TACH_DIR", 1),
        ("FUEL_STEP", 2),
        ("FUEL_DIR", 3),
        ("COST_STEP", 6),
        ("COST_DIR", 7),
        ("TEMP_STEP", 10),
        ("TEMP_DIR", 11),
        ("LED_MODEL", 18),
        ("LED_REDLINE", 19),
        ("LED_FUEL", 20),
        ("LED_HOT", 21),
        ("LED_CHECK", 22),
    ],
    direct_defaults: &[
        ("COIL1", 0),
        ("COIL2", 1),
        ("COIL3", 2),
        ("COIL4", 3),
        ("LED_MODEL", 18),
    ],
};

const ESP32C3: Chip = Chip {
    name: "esp32c3",
    max_gpio: 21,
    strapping: &[2, 8, 9],
    // 18/19 are the USB pins and 20/21 UART0: a board flashed over a USB-UART bridge on
    // 20/21 (ESP32-C3-DevKitM-1) leaves 18/19 free.
    free: &[0, 1, 3, 4, 5, 6, 7, 10, 18, 19],
    quad_defaults: &[
        ("TACH_STEP", 0),
        ("TACH_DIR", 1),
        ("FUEL_STEP", 3),
        ("FUEL_DIR", 4),
        ("COST_STEP", 5),
        ("COST_DIR", 6),
        ("TEMP_STEP", 7),
        ("TEMP_DIR", 10),
        ("LED_MODEL", 18),
        ("LED_REDLINE", 19),
        ("LED_FUEL", 2),
        ("LED_HOT", 8),
        ("LED_CHECK", 9),
    ],
    direct_defaults: &[
        ("COIL1", 0),
        ("COIL2", 1),
        ("COIL3", 3),
        ("COIL4", 4),
        ("LED_MODEL", 18),
    ],
};

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

    let ssid = text("REDLINE_WIFI_SSID", "");
    let password = text("REDLINE_WIFI_PASSWORD", "");
    let url = text("REDLINE_URL", "");
    let poll_ms = number("REDLINE_POLL_MS", 1000, 100, 60_000);
    let dim = number("REDLINE_DIM", 100, 1, 100);
    let invert_dir = number("REDLINE_INVERT_DIR", 0, 0, 1);
    let direct_needle = text("REDLINE_DIRECT_NEEDLE", "tach");

    if ssid.len() > 32 {
        fail("REDLINE_WIFI_SSID is longer than 32 bytes");
    }
    if password.len() > 64 || (!password.is_empty() && password.len() < 8) {
        fail("REDLINE_WIFI_PASSWORD must be empty (open network) or 8 to 64 bytes");
    }
    if !url.is_empty() && !url_is_valid(&url) {
        fail("REDLINE_URL must be http://host[:port][/path], e.g. http://192.168.1.20:7878");
    }
    let Some(direct_index) = NEEDLES.iter().position(|n| *n == direct_needle) else {
        fail("REDLINE_DIRECT_NEEDLE must be one of tach, fuel, cost, temp");
    };

    let defaults = if direct {
        chip.direct_defaults
    } else {
        chip.quad_defaults
    };
    // In the defaults' order (panel order), so the boot log lists them as wired.
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
        let is_led = suffix.starts_with("LED_");
        if chip.strapping.contains(&gpio) && !is_led {
            fail(&format!(
                "{var}=GPIO{gpio} is a strapping pin of the {}: a motor signal there can stop \
                 the chip from booting; only LEDs (wired active-low) may use it",
                chip.name
            ));
        }
        if !chip.free.contains(&gpio) && !chip.strapping.contains(&gpio) {
            println!(
                "cargo:warning={var}=GPIO{gpio} is not among the {}'s free pins {:?}",
                chip.name, chip.free
            );
        }
        pins.push((suffix, gpio));
    }

    // An LED on a strapping pin is wired from 3.3 V to the pin (active-low), so the LED and
    // its resistor act as a pull-up during reset; elsewhere LEDs go from the pin to ground.
    let active_low_default: Vec<&str> = LAMPS
        .iter()
        .copied()
        .filter(|lamp| {
            pin(&pins, &led_key(lamp)).is_some_and(|gpio| chip.strapping.contains(&gpio))
        })
        .collect();
    let active_low_text = text("REDLINE_LED_ACTIVE_LOW", &active_low_default.join(","));
    let mut active_low = [false; 5];
    for name in active_low_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != "none")
    {
        match LAMPS.iter().position(|l| *l == name) {
            Some(i) => active_low[i] = true,
            None => fail("REDLINE_LED_ACTIVE_LOW lists lamps: model,redline,fuel,hot,check"),
        }
    }
    for (i, lamp) in LAMPS.iter().enumerate() {
        if let Some(gpio) = pin(&pins, &led_key(lamp))
            && chip.strapping.contains(&gpio)
            && !active_low[i]
        {
            println!(
                "cargo:warning=the {lamp} LED is on strapping pin GPIO{gpio} but not active-low"
            );
        }
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
            "/// The needle the direct-drive motor shows (panel index)."
        )
        .unwrap();
        writeln!(w, "pub const DIRECT_NEEDLE: usize = {direct_index};").unwrap();
    } else {
        writeln!(
            w,
            "/// Swap the quad driver's DIR level (high = up when false)."
        )
        .unwrap();
        writeln!(w, "pub const INVERT_DIR: bool = {};", invert_dir == 1).unwrap();
    }
    writeln!(w, "/// Lamps (panel order) wired from 3.3 V to the pin.").unwrap();
    writeln!(w, "pub const LED_ACTIVE_LOW: [bool; 5] = {active_low:?};").unwrap();
    let summary: Vec<String> = pins
        .iter()
        .map(|(key, gpio)| {
            let low = LAMPS
                .iter()
                .position(|lamp| led_key(lamp) == *key)
                .is_some_and(|i| active_low[i]);
            let mark = if low { " (active-low)" } else { "" };
            format!("{}={gpio}{mark}", key.to_lowercase())
        })
        .collect();
    writeln!(w, "/// The pin map, for the boot log.").unwrap();
    writeln!(w, "pub const PIN_SUMMARY: &str = {:?};", summary.join(", ")).unwrap();

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
        writeln!(m, "], led_model: {}.into() }}", gpio("LED_MODEL")).unwrap();
    } else {
        writeln!(m, "crate::motors::QuadPins {{ step: [").unwrap();
        for needle in NEEDLES {
            let key = format!("{}_STEP", needle.to_uppercase());
            writeln!(m, "{}.into(),", gpio(&key)).unwrap();
        }
        writeln!(m, "], dir: [").unwrap();
        for needle in NEEDLES {
            let key = format!("{}_DIR", needle.to_uppercase());
            writeln!(m, "{}.into(),", gpio(&key)).unwrap();
        }
        writeln!(m, "], leds: [").unwrap();
        for lamp in LAMPS {
            writeln!(m, "{}.into(),", gpio(&led_key(lamp))).unwrap();
        }
        writeln!(m, "] }}").unwrap();
    }
    writeln!(m, "}} }}").unwrap();

    let out = env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    write_if_changed(&Path::new(&out).join("config.rs"), &config);
    write_if_changed(&Path::new(&out).join("pins.rs"), &macro_text);
    println!("cargo:rerun-if-changed=build.rs");
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

/// The pin variable suffix of a lamp's LED.
fn led_key(lamp: &str) -> String {
    format!("LED_{}", lamp.to_uppercase())
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
