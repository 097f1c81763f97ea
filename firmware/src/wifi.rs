//! Wi-Fi station and the IP stack: starts the radio from its own task once the panel has
//! run, joins the configured network, rejoins it with exponential backoff whenever the
//! link drops, and runs embassy-net (DHCP, DNS) on top.
//!
//! The radio starts after the panel's first frame, so the lamps and the watchdog are live
//! before any radio code runs. A start that fails is retried with backoff (the panel's
//! failure rule blinks STALL meanwhile); one that never returns starves the thread-mode
//! executor, and the panel then lets the watchdog reset the chip (`panel.rs`).
//!
//! With an empty `REDLINE_WIFI_SSID` nothing is started: the image still boots, homes its
//! needles and, with no answers coming, shows the failure rule (needles at zero, STALL
//! blinking), which is the honest display of a cluster that cannot reach its daemon.

use embassy_executor::Spawner;
use embassy_net::{Runner, Stack, StackResources};
use embassy_time::{Duration, Instant, Timer};
use esp_hal::peripherals::WIFI;
use esp_radio::wifi::sta::StationConfig;
use esp_radio::wifi::{AuthenticationMethodConfig, Config, Interface, WifiController};
use log::{error, info, warn};
use static_cell::StaticCell;

use crate::{config, panel, poll};

/// First retry after a failed radio start or join, or a link that dropped at once;
/// doubled on each failure up to [`BACKOFF_MAX`].
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// A link that lasted this long was a good one: the next drop rejoins at once and the
/// backoff starts again from [`BACKOFF_MIN`]. A shorter one (an access point that accepts
/// the station and drops it straight away) waits out the backoff first.
const STABLE_LINK: Duration = Duration::from_secs(30);

/// Sockets: DHCP, DNS, the HTTP connection and the mDNS query, plus one spare.
static RESOURCES: StaticCell<StackResources<5>> = StaticCell::new();

/// Starts the radio task, which brings up Wi-Fi, the IP stack and the poll; or logs that
/// Wi-Fi is not configured.
pub fn start(spawner: &Spawner, wifi: WIFI<'static>, seed: u64) {
    if config::WIFI_SSID.is_empty() {
        warn!(
            "wifi: not configured (REDLINE_WIFI_SSID was empty at build time); \
             STALL will blink"
        );
        return;
    }
    spawner.spawn(radio(*spawner, wifi, seed).expect("radio task"));
}

/// The next wait after `backoff`: doubled, capped.
fn next(backoff: Duration) -> Duration {
    (backoff * 2).min(BACKOFF_MAX)
}

/// Starts the radio (retrying with backoff until it starts), then the IP stack, the join
/// loop and the poll.
#[embassy_executor::task]
async fn radio(spawner: Spawner, wifi: WIFI<'static>, seed: u64) {
    panel::wait_running().await;
    let auth = if config::WIFI_PASSWORD.is_empty() {
        AuthenticationMethodConfig::Open
    } else {
        // WPA2 is the weakest mode accepted; WPA2/WPA3 mixed networks connect as WPA2.
        // build.rs checked the length, so this conversion cannot fail.
        match config::WIFI_PASSWORD.try_into() {
            Ok(password) => AuthenticationMethodConfig::Wpa2Personal(password),
            Err(_) => {
                error!("wifi: REDLINE_WIFI_PASSWORD does not fit; not starting the radio");
                return;
            }
        }
    };
    let Ok(ssid) = config::WIFI_SSID.try_into() else {
        error!("wifi: REDLINE_WIFI_SSID does not fit; not starting the radio");
        return;
    };
    let station = Config::Station(
        StationConfig::default()
            .with_ssid(ssid)
            .with_authentication(auth),
    );

    let mut backoff = BACKOFF_MIN;
    let mut attempt = 1u32;
    let controller = loop {
        info!("wifi: starting the radio (attempt {attempt})");
        let began = Instant::now();
        // SAFETY: one controller at a time owns the peripheral: a failed attempt's
        // controller (and its copy of WIFI) is dropped before the next attempt makes one.
        let device = unsafe { wifi.clone_unchecked() };
        let result = WifiController::new(device, Default::default()).and_then(|mut c| {
            c.set_config(&station)?;
            Ok(c)
        });
        match result {
            Ok(controller) => {
                info!("wifi: radio started in {} ms", began.elapsed().as_millis());
                break controller;
            }
            Err(e) => {
                error!(
                    "wifi: the radio did not start ({e:?}); retrying in {} s",
                    backoff.as_secs()
                );
                Timer::after(backoff).await;
                backoff = next(backoff);
                attempt += 1;
            }
        }
    };

    let (stack, runner) = embassy_net::new(
        Interface::station(),
        embassy_net::Config::dhcpv4(Default::default()),
        RESOURCES.init(StackResources::new()),
        seed,
    );
    spawner.spawn(connection(controller).expect("wifi task"));
    spawner.spawn(net(runner).expect("net task"));
    spawner.spawn(address(stack).expect("address task"));
    spawner.spawn(poll::run(stack).expect("poll task"));
}

/// Keeps the station joined: join, wait for the drop, join again. Failed joins and links
/// that drop within [`STABLE_LINK`] wait out an exponential backoff first.
#[embassy_executor::task]
async fn connection(mut controller: WifiController<'static>) {
    let mut backoff = BACKOFF_MIN;
    loop {
        info!("wifi: joining {:?}", config::WIFI_SSID);
        match controller.connect_async().await {
            Ok(joined) => {
                info!(
                    "wifi: joined {:?} on channel {}",
                    config::WIFI_SSID,
                    joined.channel
                );
                let up = Instant::now();
                let reason = controller.wait_for_disconnect_async().await;
                let lasted = up.elapsed();
                if lasted >= STABLE_LINK {
                    backoff = BACKOFF_MIN;
                    match reason {
                        Ok(lost) => warn!("wifi: link lost ({:?}); rejoining", lost.reason),
                        Err(e) => warn!("wifi: link state unknown ({e:?}); rejoining"),
                    }
                    continue;
                }
                match reason {
                    Ok(lost) => warn!(
                        "wifi: link lost ({:?}) after {} s; rejoining in {} s",
                        lost.reason,
                        lasted.as_secs(),
                        backoff.as_secs()
                    ),
                    Err(e) => warn!(
                        "wifi: link lost ({e:?}) after {} s; rejoining in {} s",
                        lasted.as_secs(),
                        backoff.as_secs()
                    ),
                }
            }
            Err(e) => {
                warn!(
                    "wifi: join failed ({e:?}); retrying in {} s",
                    backoff.as_secs()
                );
            }
        }
        Timer::after(backoff).await;
        backoff = next(backoff);
    }
}

/// Runs the IP stack (DHCP, ARP, TCP/UDP timers) for ever.
#[embassy_executor::task]
async fn net(mut runner: Runner<'static, Interface>) {
    runner.run().await
}

/// Logs each address DHCP gives, and its loss.
#[embassy_executor::task]
async fn address(stack: Stack<'static>) {
    loop {
        stack.wait_config_up().await;
        if let Some(v4) = stack.config_v4() {
            match v4.gateway {
                Some(gateway) => info!("net: address {} via {gateway}", v4.address),
                None => info!("net: address {}", v4.address),
            }
        }
        stack.wait_config_down().await;
        warn!("net: address lost");
    }
}
