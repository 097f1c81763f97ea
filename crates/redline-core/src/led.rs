//! Lamp output: what colour each addressable LED shows for a lamp state at a given time.
//!
//! The five lamps are RGB LEDs on one data line (WS2812B/SK6812 class), so every lamp's
//! colour, brightness, blinking and pulsing is decided here and the firmware only shifts
//! the bytes out. Blinking and pulsing are derived from the time passed in rather than
//! from a per-lamp timer, so every blinking lamp flashes in step with the others and the
//! phase needs no state. Brightness is one dimming level for the whole panel, given as a
//! percentage and applied on a square-law curve, because the eye judges LED brightness
//! far from linearly: 50 % on the knob should look about half as bright, not nearly full.

use crate::wire::{Lamp, LampState, Lamps, Rgb};

/// One blink cycle, in microseconds: lit for the first half, dark for the second.
pub const BLINK_PERIOD_US: u64 = 1_000_000;
/// One pulse (IDLE's slow breath), in microseconds.
pub const PULSE_PERIOD_US: u64 = 4_000_000;
/// The dimmest point of a pulse, as a share of full brightness in 1/255ths.
pub const PULSE_FLOOR: u8 = 20;

/// Whether a lamp in `state` is lit at `now_us` (a pulsing lamp always is, more or less).
pub const fn is_lit(state: LampState, now_us: u64) -> bool {
    match state {
        LampState::Off => false,
        LampState::On | LampState::Pulse => true,
        LampState::Blink => now_us % BLINK_PERIOD_US < BLINK_PERIOD_US / 2,
    }
}

/// The brightness (0 to 255) for a dimming level in percent (0 to 100, higher clamped),
/// on a square-law curve; any level above 0 lights the LED at least a little.
pub const fn level_duty(percent: u8) -> u8 {
    let p = if percent > 100 { 100 } else { percent } as u32;
    let duty = (p * p * 255).div_ceil(100 * 100);
    duty as u8
}

/// How far through its breath a pulsing lamp is at `now_us`, 0 to 255: a triangle wave
/// squared, so it lingers dim and swells smoothly, from [`PULSE_FLOOR`] to full.
pub const fn pulse_level(now_us: u64) -> u8 {
    let phase = now_us % PULSE_PERIOD_US;
    let half = PULSE_PERIOD_US / 2;
    // 0 at the start of the period, 1000 at its middle, 0 again at its end.
    let tri = if phase < half {
        phase * 1000 / half
    } else {
        (PULSE_PERIOD_US - phase) * 1000 / half
    };
    let eased = tri * tri / 1000; // 0..=1000
    let floor = PULSE_FLOOR as u64;
    (floor + (255 - floor) * eased / 1000) as u8
}

/// How bright (0 to 255) a lamp in `state` is at `now_us` with the panel dimmed to
/// `percent`.
pub const fn brightness(state: LampState, now_us: u64, percent: u8) -> u8 {
    let full = level_duty(percent) as u32;
    match state {
        LampState::Pulse => (full * pulse_level(now_us) as u32 / 255) as u8,
        s if is_lit(s, now_us) => full as u8,
        _ => 0,
    }
}

/// `color` at `level` (0 to 255).
pub const fn scale(color: Rgb, level: u8) -> Rgb {
    let l = level as u16;
    Rgb::new(
        ((color.r as u16 * l + 127) / 255) as u8,
        ((color.g as u16 * l + 127) / 255) as u8,
        ((color.b as u16 * l + 127) / 255) as u8,
    )
}

/// The five LEDs' colours in panel order (MODEL, HOT, WARN, STALL, IDLE) at `now_us`:
/// each lamp's own colour (MODEL's is `model_color`, white when unknown) at the
/// brightness its state and the dimming level give.
pub fn frame(lamps: &Lamps, model_color: Option<Rgb>, now_us: u64, percent: u8) -> [Rgb; 5] {
    let states = lamps.in_order();
    Lamp::ALL.map(|lamp| {
        let color = match lamp {
            Lamp::Model => model_color.unwrap_or(Rgb::WHITE),
            other => other.color(),
        };
        let state = states[lamp as usize];
        scale(color, brightness(state, now_us, percent))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimming_follows_a_square_law() {
        assert_eq!(level_duty(0), 0);
        assert_eq!(level_duty(1), 1);
        assert_eq!(level_duty(50), 64);
        assert_eq!(level_duty(100), 255);
        assert_eq!(level_duty(200), 255);
    }

    #[test]
    fn blinking_is_half_on_from_the_clock() {
        assert!(is_lit(LampState::Blink, 0));
        assert!(is_lit(LampState::Blink, 499_999));
        assert!(!is_lit(LampState::Blink, 500_000));
        assert!(is_lit(LampState::Blink, 1_000_000));
        assert_eq!(brightness(LampState::On, 600_000, 100), 255);
        assert_eq!(brightness(LampState::Off, 0, 100), 0);
    }

    #[test]
    fn a_pulse_breathes_from_its_floor_to_full_and_back() {
        assert_eq!(pulse_level(0), PULSE_FLOOR);
        assert_eq!(pulse_level(PULSE_PERIOD_US / 2), 255);
        assert_eq!(pulse_level(PULSE_PERIOD_US), PULSE_FLOOR);
        // Rising through the first half, falling through the second, never dark.
        let mut last = 0;
        for i in 0..=20 {
            let l = pulse_level(i * PULSE_PERIOD_US / 40);
            assert!(l >= last && l >= PULSE_FLOOR, "{i}: {l}");
            last = l;
        }
        assert!(pulse_level(PULSE_PERIOD_US * 3 / 4) < 255);
        assert_eq!(brightness(LampState::Pulse, PULSE_PERIOD_US / 2, 50), 64);
    }

    #[test]
    fn a_frame_colours_each_lamp() {
        let lamps = Lamps {
            model: LampState::On,
            hot: LampState::Blink,
            warn: LampState::Off,
            stall: LampState::On,
            idle: LampState::Pulse,
        };
        let opus = Rgb::new(0xe0, 0x30, 0x1e);
        let f = frame(&lamps, Some(opus), 0, 100);
        assert_eq!(f[0], opus);
        assert_eq!(f[1], Lamp::Hot.color());
        assert_eq!(f[2], Rgb::BLACK);
        assert_eq!(f[3], Lamp::Stall.color());
        assert_eq!(f[4], scale(Lamp::Idle.color(), PULSE_FLOOR));
        let dark = frame(&lamps, None, 600_000, 100);
        assert_eq!(dark[1], Rgb::BLACK, "blink's dark half");
        let dim = frame(&lamps, None, 0, 50);
        assert_eq!(dim[0], scale(Rgb::WHITE, 64), "no colour known: white");
    }
}
