//! The redline cluster's firmware entry point: wiring only. It brings up the chip, hands
//! each peripheral and pin to the module that drives it and spawns the tasks; every
//! decision about needles and lamps is `redline-core`'s, every task lives in its module.
//!
//! Priorities, highest first:
//! - the step interrupt (`motors`, TIMG1 at priority 3, every 35 us): homing, then every
//!   planner's steps, so neither Wi-Fi nor HTTP work delays a step by more than a
//!   critical section;
//! - the panel (`panel`, an interrupt executor at priority 2): the `Cluster`, the LED
//!   chain on the RMT, the targets for the step interrupt, and the watchdog;
//! - the Wi-Fi MAC and esp-rtos's timer (priority 1);
//! - thread mode: `wifi` (start the radio once the panel runs, join and rejoin the
//!   network, run the IP stack), `poll` (find the daemon, fetch `/usage/gauge`) and
//!   `monitor` (the heartbeat the watchdog depends on, the one-minute report).
#![no_std]
#![no_main]

mod config;
mod discover;
mod http;
mod lamps;
mod monitor;
mod motors;
mod panel;
mod poll;
mod stack;
mod wifi;

use embassy_executor::Spawner;
use esp_backtrace as _;
use esp_hal::clock::CpuClock;
use esp_hal::interrupt::Priority;
use esp_hal::rng::Rng;
use esp_hal::rtc_cntl::{Rtc, RwdtStage};
use esp_hal::time::Duration;
use esp_hal::timer::timg::TimerGroup;
use esp_rtos::embassy::InterruptExecutor;
use log::info;
use static_cell::StaticCell;

esp_bootloader_esp_idf::esp_app_desc!();

/// The watchdog's timeout: the panel feeds it every 10 ms while the thread-mode tasks
/// are alive; five seconds without a feed resets the chip.
pub const WATCHDOG_TIMEOUT_S: u64 = 5;

/// Runs the panel above every thread-mode task (Wi-Fi, TCP/IP, HTTP).
static PANEL_EXECUTOR: StaticCell<InterruptExecutor<1>> = StaticCell::new();

#[esp_rtos::main]
async fn main(spawner: Spawner) {
    // First, before the stack grows: the monitor reports how much of it was ever used.
    stack::paint();
    let p = esp_hal::init(esp_hal::Config::default().with_cpu_clock(CpuClock::max()));
    esp_println::logger::init_logger(log::LevelFilter::Info);
    // Wi-Fi buffers and the RTOS's thread stacks come from the heap (esp-radio asks for
    // 64 KiB and more). The larger part lives in the RAM the bootloader used, which is free
    // once the app runs.
    esp_alloc::heap_allocator!(#[esp_hal::ram(reclaimed)] size: 64 * 1024);
    esp_alloc::heap_allocator!(size: 36 * 1024);

    info!(
        "redline-firmware {} on {} ({} build)",
        env!("CARGO_PKG_VERSION"),
        config::CHIP,
        motors::PROFILE.name
    );
    info!("pins: {}", config::PIN_SUMMARY);

    // esp-hal's init turned every watchdog off; the RTC watchdog comes back on here and the
    // panel feeds it from its first tick.
    let mut watchdog = Rtc::new(p.RTC_TIMER).rwdt;
    watchdog.set_timeout(RwdtStage::Stage0, Duration::from_secs(WATCHDOG_TIMEOUT_S));
    watchdog.enable();
    watchdog.feed();
    info!("watchdog: on, {WATCHDOG_TIMEOUT_S} s");

    let timg0 = TimerGroup::new(p.TIMG0);
    esp_rtos::start(timg0.timer0, p.FROM_CPU_INTR0);

    let pins = config::take_pins!(p);
    let (driver, lamp_data) = motors::Driver::new(pins);
    motors::start(driver, p.TIMG1);

    let panel_spawner = PANEL_EXECUTOR
        .init(InterruptExecutor::new(p.FROM_CPU_INTR1))
        .start(Priority::Priority2);
    panel_spawner.spawn(panel::run(p.RMT, lamp_data, watchdog).expect("panel task"));
    spawner.spawn(monitor::run().expect("monitor task"));

    let rng = Rng::new();
    let seed = u64::from(rng.random()) << 32 | u64::from(rng.random());
    // The radio task waits for the panel's first frame before it starts the radio.
    wifi::start(&spawner, p.WIFI, seed);
}
