//! The part of `GET /usage` the needles and lamps read, as fixed-size types.
//!
//! The daemon serializes [`Lamps`] into `/usage` (under `lamps`) and [`GaugeReport`],
//! alone, into `/usage/gauge`; the firmware parses `/usage/gauge` into the same types
//! without a heap. Keeping one definition is what keeps the two ends of the wire from
//! drifting apart.

use core::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// The version of `/usage` this crate speaks. Fields are added, never renamed, within it.
pub const USAGE_VERSION: u32 = 2;

/// A lamp's state on the wire: `off`, `on`, `blink` or `pulse`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LampState {
    /// Dark.
    #[default]
    Off,
    /// Lit steadily.
    On,
    /// Flashing at 1 Hz: the condition is worse than "on" (see SPEC.md's lamp table).
    Blink,
    /// Breathing slowly: IDLE's state, a calm "nothing is happening".
    Pulse,
}

impl LampState {
    /// The lowercase word used on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            LampState::Off => "off",
            LampState::On => "on",
            LampState::Blink => "blink",
            LampState::Pulse => "pulse",
        }
    }

    /// Whether the lamp is anything but dark (`/usage`'s flat `hot`, `warn`, `stall`).
    pub const fn is_lit(self) -> bool {
        !matches!(self, LampState::Off)
    }
}

/// The five annunciator lamps, in panel order (left to right).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lamp {
    /// The newest main-chain response's model family, in its colour.
    Model,
    /// The tach at or past the redline.
    Hot,
    /// The plan window running out, a usage limit, or a cold cache.
    Warn,
    /// A turn waiting on the model too long, a failing source, or API errors.
    Stall,
    /// Nothing happening.
    Idle,
}

impl Lamp {
    /// All five, in panel order (the order of `/usage/gauge`'s `lamps`).
    pub const ALL: [Lamp; 5] = [Lamp::Model, Lamp::Hot, Lamp::Warn, Lamp::Stall, Lamp::Idle];

    /// The lowercase name used on the wire and in the page's `data-lamp` hooks.
    pub const fn name(self) -> &'static str {
        match self {
            Lamp::Model => "model",
            Lamp::Hot => "hot",
            Lamp::Warn => "warn",
            Lamp::Stall => "stall",
            Lamp::Idle => "idle",
        }
    }

    /// The lamp with this wire name.
    pub fn from_name(name: &str) -> Option<Lamp> {
        Lamp::ALL.into_iter().find(|l| l.name() == name)
    }

    /// The lens colour of the lamp; MODEL's is its family's (see [`crate::ModelFamily`]).
    pub const fn color(self) -> Rgb {
        match self {
            Lamp::Model => Rgb::WHITE,
            Lamp::Hot => Rgb::new(0xe0, 0x30, 0x1e),
            Lamp::Warn => Rgb::new(0xff, 0xa0, 0x00),
            Lamp::Stall => Rgb::new(0x20, 0x60, 0xff),
            Lamp::Idle => Rgb::new(0x20, 0xd0, 0x40),
        }
    }
}

/// The five lamps' states, as `/usage`'s `lamps` object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lamps {
    /// MODEL: on while the newest main-chain response is fresh.
    pub model: LampState,
    /// HOT: on at the redline, blinking past full scale.
    pub hot: LampState,
    /// WARN: on at 80 % of the plan window or a cold cache, blinking at 95 % or a limit.
    pub warn: LampState,
    /// STALL: on while a turn waits on the model too long, blinking while something fails.
    pub stall: LampState,
    /// IDLE: pulsing when nothing has happened for a while and no turn is open.
    pub idle: LampState,
}

impl Lamps {
    /// The states in panel order (MODEL, HOT, WARN, STALL, IDLE).
    pub const fn in_order(&self) -> [LampState; 5] {
        [self.model, self.hot, self.warn, self.stall, self.idle]
    }

    /// The lamps from states in panel order.
    pub const fn from_order(s: [LampState; 5]) -> Lamps {
        Lamps {
            model: s[0],
            hot: s[1],
            warn: s[2],
            stall: s[3],
            idle: s[4],
        }
    }

    /// One lamp's state.
    pub const fn get(&self, lamp: Lamp) -> LampState {
        match lamp {
            Lamp::Model => self.model,
            Lamp::Hot => self.hot,
            Lamp::Warn => self.warn,
            Lamp::Stall => self.stall,
            Lamp::Idle => self.idle,
        }
    }
}

/// A colour, written `#rrggbb` on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rgb {
    /// Red, 0-255.
    pub r: u8,
    /// Green, 0-255.
    pub g: u8,
    /// Blue, 0-255.
    pub b: u8,
}

impl Rgb {
    /// Dark.
    pub const BLACK: Rgb = Rgb::new(0, 0, 0);
    /// Full white.
    pub const WHITE: Rgb = Rgb::new(0xff, 0xff, 0xff);

    /// A colour from its three channels.
    pub const fn new(r: u8, g: u8, b: u8) -> Rgb {
        Rgb { r, g, b }
    }

    /// Reads `#rrggbb` (either case).
    pub fn parse(text: &str) -> Option<Rgb> {
        let hex = text.strip_prefix('#')?.as_bytes();
        if hex.len() != 6 {
            return None;
        }
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        };
        let byte = |i: usize| Some(nibble(hex[i])? << 4 | nibble(hex[i + 1])?);
        Some(Rgb::new(byte(0)?, byte(2)?, byte(4)?))
    }

    /// `#rrggbb`, lowercase, in a fixed buffer (no heap).
    pub fn hex(self) -> [u8; 7] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [b'#'; 7];
        for (i, v) in [self.r, self.g, self.b].into_iter().enumerate() {
            out[1 + 2 * i] = DIGITS[usize::from(v >> 4)];
            out[2 + 2 * i] = DIGITS[usize::from(v & 15)];
        }
        out
    }
}

impl fmt::Display for Rgb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.hex();
        // Only ASCII was written.
        f.write_str(core::str::from_utf8(&hex).unwrap_or("#000000"))
    }
}

impl Serialize for Rgb {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let hex = self.hex();
        s.serialize_str(core::str::from_utf8(&hex).unwrap_or("#000000"))
    }
}

impl<'de> Deserialize<'de> for Rgb {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Rgb, D::Error> {
        struct Hex;
        impl Visitor<'_> for Hex {
            type Value = Rgb;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a colour as #rrggbb")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Rgb, E> {
                Rgb::parse(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_str(Hex)
    }
}

/// The body of `GET /usage/gauge`: what the firmware needs and nothing more, under 256
/// bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GaugeReport {
    /// Always [`USAGE_VERSION`] from a daemon that speaks this crate's version.
    pub version: u32,
    /// Needle positions from 0 to 1 in physical order, left to right; `None` (`null`)
    /// when the value is unknown, and the needle rests at its zero stop.
    pub needles: [Option<f32>; 4],
    /// Lamp states in panel order: MODEL, HOT, WARN, STALL, IDLE.
    pub lamps: [LampState; 5],
    /// MODEL's colour (its family's); `None` while no model is known.
    pub color: Option<Rgb>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_read_and_write_as_hex() {
        assert_eq!(Rgb::parse("#e0301e"), Some(Rgb::new(0xe0, 0x30, 0x1e)));
        assert_eq!(Rgb::parse("#E0301E"), Some(Rgb::new(0xe0, 0x30, 0x1e)));
        assert_eq!(Rgb::parse("e0301e"), None);
        assert_eq!(Rgb::parse("#e0301"), None);
        assert_eq!(Rgb::parse("#e0301g"), None);
        assert_eq!(&Rgb::new(0xe0, 0x30, 0x1e).hex(), b"#e0301e");
        assert_eq!(&Rgb::new(1, 2, 255).hex(), b"#0102ff");
    }

    #[test]
    fn lamps_keep_panel_order() {
        let l = Lamps::from_order([
            LampState::On,
            LampState::Off,
            LampState::Blink,
            LampState::Off,
            LampState::Pulse,
        ]);
        assert_eq!(l.warn, LampState::Blink);
        assert_eq!(l.get(Lamp::Idle), LampState::Pulse);
        assert_eq!(l.in_order()[0], LampState::On);
        assert_eq!(Lamp::from_name("stall"), Some(Lamp::Stall));
        assert!(LampState::Pulse.is_lit() && !LampState::Off.is_lit());
    }
}
