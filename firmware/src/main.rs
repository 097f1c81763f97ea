//! The redline cluster's firmware entry point: wiring only. It brings up the chip, hands
//! each peripheral and pin to the module that drives it and spawns the tasks; every
//! decision about needles and lamps is `redline-core`'s, every task lives in its module.
//!
//! Tasks: `wifi` (join and rejoin the network, run the IP stack), `poll` (find the daemon,
//! fetch `/usage/gauge`), `panel` (the `Cluster`, the LED chain on the RMT) on the
//! thread-mode executor, and `motors` (homing, then step pulses at each planner deadline)
//! on a higher-priority interrupt executor so Wi-Fi and HTTP work never delay a step.
#![no_std]
#![no_main]

mod config;
mod discover;
mod http;
mod lamps;
mod motors;
mod panel;
mod poll;
mod wifi;

use embassy_executor::Spawner;
use esp_backtrace as _;
use esp_hal::clock::CpuClock;
use esp_hal::interrupt::Priority;
use esp_hal::rng::Rng;
use esp_hal::timer::timg::TimerGroup;
use esp_rtos::embassy::InterruptExecutor;
use log::info;
use static_cell::StaticCell;

esp_bootloader_esp_idf::esp_app_desc!();

/// Runs the step task above every thread-mode task (Wi-Fi, TCP/IP, HTTP, the panel).
static STEP_EXECUTOR: StaticCell<InterruptExecutor<1>> = StaticCell::new();

#[esp_rtos::main]
async fn main(spawner: Spawner) {
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

    let timg0 = TimerGroup::new(p.TIMG0);
    esp_rtos::start(timg0.timer0, p.FROM_CPU_INTR0);

    let pins = config::take_pins!(p);
    let (driver, lamp_data) = motors::Driver::new(pins);
    let step_spawner = STEP_EXECUTOR
        .init(InterruptExecutor::new(p.FROM_CPU_INTR1))
        .start(Priority::Priority3);
    step_spawner.spawn(motors::run(driver).expect("motor task"));

    let lamps = lamps::Lamps::new(p.RMT, lamp_data);
    spawner.spawn(panel::run(lamps).expect("panel task"));

    let rng = Rng::new();
    let seed = u64::from(rng.random()) << 32 | u64::from(rng.random());
    if let Some(stack) = wifi::start(&spawner, p.WIFI, seed) {
        spawner.spawn(poll::run(stack).expect("poll task"));
    }
}
