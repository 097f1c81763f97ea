//! Lamp output: what duty each LED gets for a lamp state at a given time.
//!
//! Blinking is derived from the time passed in rather than from a per-lamp timer, so
//! every blinking lamp flashes in step with the others and the phase needs no state.
//! Brightness is one dimming level for the whole panel, given as a percentage and turned
//! into a PWM duty on a square-law curve, because the eye judges LED brightness far from
//! linearly: 50% on the knob should look about half as bright, not nearly full.

use crate::wire::{LampState, Lamps};

/// One blink cycle, in microseconds: lit for the first half, dark for the second.
pub const BLINK_PERIOD_US: u64 = 1_000_000;

/// Whether a lamp in `state` is lit at `now_us`.
pub const fn is_lit(state: LampState, now_us: u64) -> bool {
    match state {
        LampState::Off => false,
        LampState::On => true,
        LampState::Blink => now_us % BLINK_PERIOD_US < BLINK_PERIOD_US / 2,
    }
}

/// The PWM duty (0 to 255) for a dimming level in percent (0 to 100, higher clamped), on
/// a square-law curve; any level above 0 lights the LED at least a little.
pub const fn level_duty(percent: u8) -> u8 {
    let p = if percent > 100 { 100 } else { percent } as u32;
    let duty = (p * p * 255).div_ceil(100 * 100);
    duty as u8
}

/// The duty of one lamp at `now_us` with the panel dimmed to `percent`.
pub const fn duty(state: LampState, now_us: u64, percent: u8) -> u8 {
    if is_lit(state, now_us) {
        level_duty(percent)
    } else {
        0
    }
}

/// The duties of the five lamps in panel order: MODEL, REDLINE, FUEL, HOT, CHECK.
pub const fn duties(lamps: &Lamps, now_us: u64, percent: u8) -> [u8; 5] {
    [
        duty(lamps.model, now_us, percent),
        duty(lamps.redline, now_us, percent),
        duty(lamps.fuel, now_us, percent),
        duty(lamps.hot, now_us, percent),
        duty(lamps.check, now_us, percent),
    ]
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
        assert_eq!(duty(LampState::On, 600_000, 100), 255);
        assert_eq!(duty(LampState::Off, 0, 100), 0);
    }
}
