//! The five annunciator LEDs on LEDC PWM channels: one 8-bit, 20 kHz timer shared by all
//! of them, a channel per lamp, duties as `redline_core::led` computes them.
//!
//! 20 kHz is far above visible flicker (and above what a phone camera's rolling shutter
//! turns into bands). LEDs on strapping pins are wired from 3.3 V to the pin, so their
//! output is inverted in the GPIO matrix: the duty still means "how lit", whichever way
//! an LED is wired.

use esp_hal::gpio::DriveMode;
use esp_hal::ledc::channel::{self, ChannelHW, ChannelIFace};
use esp_hal::ledc::timer::{self, TimerIFace};
use esp_hal::ledc::{LSGlobalClkSource, Ledc, LowSpeed};
use esp_hal::peripherals::LEDC;
use esp_hal::time::Rate;
use static_cell::StaticCell;

use crate::config;
use crate::motors::LampPins;

/// The LEDC timer the channels borrow for as long as the firmware runs.
static TIMER: StaticCell<timer::Timer<'static, LowSpeed>> = StaticCell::new();

const CHANNELS: [channel::Number; 5] = [
    channel::Number::Channel0,
    channel::Number::Channel1,
    channel::Number::Channel2,
    channel::Number::Channel3,
    channel::Number::Channel4,
];

/// The lamp LEDs, in panel order (MODEL, REDLINE, FUEL, HOT, CHECK).
pub struct Lamps {
    _ledc: Ledc<'static>,
    channels: [Option<channel::Channel<'static, LowSpeed>>; 5],
    shown: [Option<u8>; 5],
}

impl Lamps {
    /// Sets up LEDC and one dark channel per LED pin.
    pub fn new(ledc: LEDC<'static>, pins: LampPins) -> Lamps {
        let mut ledc = Ledc::new(ledc);
        ledc.set_global_slow_clock(LSGlobalClkSource::APBClk);
        let timer = TIMER.init(ledc.timer::<LowSpeed>(timer::Number::Timer0));
        timer
            .configure(timer::config::Config {
                duty: timer::config::Duty::Duty8Bit,
                clock_source: timer::LSClockSource::APBClk,
                frequency: Rate::from_khz(20),
            })
            .expect("LEDC timer: 8 bits at 20 kHz fit the APB clock");
        let timer: &'static timer::Timer<'static, LowSpeed> = timer;

        let mut channels = [const { None }; 5];
        for (i, pin) in pins.into_iter().enumerate() {
            let Some(pin) = pin else { continue };
            let signal = pin
                .into_output_signal()
                .with_output_inverter(config::LED_ACTIVE_LOW[i]);
            let mut ch = ledc.channel(CHANNELS[i], signal);
            ch.configure(channel::config::Config {
                timer,
                duty_pct: 0,
                drive_mode: DriveMode::PushPull,
            })
            .expect("LEDC channel");
            channels[i] = Some(ch);
        }
        Lamps {
            _ledc: ledc,
            channels,
            shown: [None; 5],
        }
    }

    /// Shows duties 0 (dark) to 255 (full), panel order; lamps without an LED are skipped.
    pub fn show(&mut self, duties: &[u8; 5]) {
        for ((ch, shown), &duty) in self.channels.iter().zip(&mut self.shown).zip(duties) {
            let Some(ch) = ch else { continue };
            if *shown == Some(duty) {
                continue;
            }
            // 8-bit LEDC counts 0..=256, where 256 is always on: scale 255 to 256.
            ch.set_duty_hw((u32::from(duty) * 256 + 127) / 255);
            *shown = Some(duty);
        }
    }
}
