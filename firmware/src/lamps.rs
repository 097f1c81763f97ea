//! The five annunciator lamps: addressable RGB LEDs (WS2812B / SK6812 class, GRB byte
//! order, 800 kHz) chained on one data pin and shifted out by the RMT peripheral through
//! `esp-hal-smartled`. It owns the chain and shows whatever colours it is handed; which
//! colour each lamp has, and its blinking, pulsing and dimming, are `redline_core::led`'s.
//!
//! One RMT channel replaces the five LEDC channels of the earlier single-colour lamps:
//! LEDC's six channels cannot drive an RGB MODEL lamp plus four others. The channel gets
//! three of the RMT's 48-code memory blocks, so a whole frame (5 x 24 bits, the latch
//! pause and the end marker: 122 codes) sits in RMT memory at once. The peripheral then
//! sends the frame on its own; with one block it would need a refill every 30 us, and a
//! late refill (the executor busy with Wi-Fi) would garble a frame.

use esp_hal::Async;
use esp_hal::gpio::AnyPin;
use esp_hal::peripherals::RMT;
use esp_hal::rmt::Rmt;
use esp_hal::time::Rate;
use esp_hal_smartled::{RmtSmartLeds, Timing, buffer_size, color_order};
use log::{info, warn};
use redline_core::wire::Rgb;
use smart_leds_trait::{RGB8, SmartLedsWriteAsync};

/// How many LEDs the chain has (MODEL, HOT, WARN, STALL, IDLE, in that order from the pin).
const LEDS: usize = 5;

/// RMT memory blocks for the channel: 3 x 48 codes hold one whole frame.
const MEMORY_BLOCKS: u8 = 3;

/// The RMT tick: 80 MHz (12.5 ns) resolves every edge of the timing below exactly.
const RMT_MHZ: u32 = 80;

/// Bit timing inside the datasheet windows of both families, so either part can be fitted:
/// a 0 is 350 ns high and 900 ns low (current WS2812B: 220-380 / 580-1000 ns, SK6812:
/// 150-450 / 750-1050 ns), a 1 is 700 ns high and 600 ns low (WS2812B: 580-1000 /
/// 580-1000 ns, SK6812: 450-750 / 450-750 ns); about 800 kHz. The latch pause of 300 us
/// covers the WS2812B's 280 us (the SK6812 needs 80 us).
const TIMING: Timing = Timing {
    time_0_high: 350,
    time_0_low: 900,
    time_1_high: 700,
    time_1_low: 600,
    reset_us: 300,
};

type Chain = RmtSmartLeds<'static, { buffer_size::<RGB8>(LEDS) }, Async, RGB8, color_order::Grb>;

/// The LED chain and the frame it last showed.
pub struct Lamps {
    chain: Chain,
    /// `None` until a frame went out whole, so the first frame (and one after a failed
    /// write) is always sent: LEDs can power up showing noise.
    shown: Option<[Rgb; LEDS]>,
    /// Whether the last write failed, so a lasting fault is logged once, not every tick.
    failing: bool,
}

impl Lamps {
    /// Claims the RMT and its first channel for the chain on `data`.
    pub fn new(rmt: RMT<'static>, data: AnyPin<'static>) -> Lamps {
        let rmt = Rmt::new(rmt, Rate::from_mhz(RMT_MHZ))
            .expect("RMT: 80 MHz is reachable on the C3 and C6")
            .into_async();
        let chain = Chain::new_with_memsize(
            TIMING,
            rmt.channel0,
            data,
            MEMORY_BLOCKS,
            Rate::from_mhz(RMT_MHZ),
        )
        .expect("RMT channel 0: the blocks are free and the timing fits 80 MHz");
        Lamps {
            chain,
            shown: None,
            failing: false,
        }
    }

    /// Shows one frame (panel order) unless it is the frame already showing. Takes about
    /// 450 us (some 150 us of bits, then the 300 us latch pause), during which the task
    /// yields.
    pub async fn show(&mut self, frame: [Rgb; LEDS]) {
        if self.shown == Some(frame) {
            return;
        }
        let pixels = frame.map(|c| RGB8::new(c.r, c.g, c.b));
        match self.chain.write(pixels).await {
            Ok(()) => {
                if self.failing {
                    info!("lamps: frames go out again");
                    self.failing = false;
                }
                self.shown = Some(frame);
            }
            Err(e) => {
                // The next tick sends the frame again.
                if !self.failing {
                    warn!("lamps: frame not sent: {e:?}; retrying every tick");
                    self.failing = true;
                }
                self.shown = None;
            }
        }
    }
}
