//! Wi-Fi station and the IP stack: joins the configured network, rejoins it with
//! exponential backoff whenever the link drops, and runs embassy-net (DHCP, DNS) on top.
//!
//! With an empty `REDLINE_WIFI_SSID` nothing is started: the image still boots, homes its
//! needles and, with no answers coming, shows the failure rule (needles at zero, STALL
//! blinking), which is the honest display of a cluster that cannot reach its daemon.

use embassy_executor::Spawner;
use embassy_net::{Runner, Stack, StackResources};
use embassy_time::{Duration, Timer};
use esp_hal::peripherals::WIFI;
use esp_radio::wifi::sta::StationConfig;
use esp_radio::wifi::{AuthenticationMethodConfig, Config, Interface, WifiController};
use log::{error, info, warn};
use static_cell::StaticCell;

use crate::config;

/// First retry after a failed join; doubled on each failure up to [`BACKOFF_MAX`].
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// Sockets: DHCP, DNS, the HTTP connection and the mDNS query, plus one spare.
static RESOURCES: StaticCell<StackResources<5>> = StaticCell::new();

/// Starts Wi-Fi and the IP stack and returns the stack, or `None` when Wi-Fi is not
/// configured or the radio cannot start (both logged).
pub fn start(spawner: &Spawner, wifi: WIFI<'static>, seed: u64) -> Option<Stack<'static>> {
    if config::WIFI_SSID.is_empty() {
        warn!(
            "wifi: not configured (REDLINE_WIFI_SSID was empty at build time); \
             STALL will blink"
        );
        return None;
    }
    let auth = if config::WIFI_PASSWORD.is_empty() {
        AuthenticationMethodConfig::Open
    } else {
        // WPA2 is the weakest mode accepted; WPA2/WPA3 mixed networks connect as WPA2.
        AuthenticationMethodConfig::Wpa2Personal(config::WIFI_PASSWORD.try_into().ok()?)
    };
    let station = Config::Station(
        StationConfig::default()
            .with_ssid(config::WIFI_SSID.try_into().ok()?)
            .with_authentication(auth),
    );
    let mut controller = match WifiController::new(wifi, Default::default()) {
        Ok(controller) => controller,
        Err(e) => {
            error!("wifi: the radio did not start: {e:?}");
            return None;
        }
    };
    if let Err(e) = controller.set_config(&station) {
        error!("wifi: station configuration refused: {e:?}");
        return None;
    }

    let (stack, runner) = embassy_net::new(
        Interface::station(),
        embassy_net::Config::dhcpv4(Default::default()),
        RESOURCES.init(StackResources::new()),
        seed,
    );
    spawner.spawn(connection(controller).expect("wifi task"));
    spawner.spawn(net(runner).expect("net task"));
    spawner.spawn(address(stack).expect("address task"));
    Some(stack)
}

/// Keeps the station joined: join, wait for the drop, join again, backing off on failure.
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
                backoff = BACKOFF_MIN;
                match controller.wait_for_disconnect_async().await {
                    Ok(lost) => warn!("wifi: link lost ({:?}); rejoining", lost.reason),
                    Err(e) => warn!("wifi: link state unknown ({e:?}); rejoining"),
                }
            }
            Err(e) => {
                warn!(
                    "wifi: join failed ({e:?}); retrying in {} s",
                    backoff.as_secs()
                );
                Timer::after(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
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
