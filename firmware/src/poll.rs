//! The poll loop: finds the daemon (the configured URL, or mDNS when there is none),
//! fetches `/usage/gauge` every `REDLINE_POLL_MS` and hands each body to the panel.
//!
//! Failed fetches are only counted and logged: the 5 s failure rule belongs to the
//! `Cluster`, which sees no body and applies it by itself. After a run of failures the
//! daemon is looked up again, since a restarted daemon or a new DHCP lease may have moved
//! it.

use core::net::Ipv4Addr;

use embassy_net::dns::DnsQueryType;
use embassy_net::{IpAddress, Stack};
use embassy_time::{Duration, Ticker, Timer};
use heapless::String;
use log::{error, info, warn};

use crate::discover::{self, DiscoverError};
use crate::http::{self, Endpoint, RESPONSE_MAX, Url};
use crate::{config, panel};

/// Consecutive failed fetches before the daemon is looked up again.
const RELOOK_AFTER: u32 = 10;
/// Waits between failed look-ups: from 2 s, doubling to 30 s.
const LOOKUP_BACKOFF_MIN: Duration = Duration::from_secs(2);
const LOOKUP_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Why the daemon's address is not known.
#[derive(Clone, Copy, Debug)]
enum LookupError {
    Mdns(DiscoverError),
    Dns,
}

/// The poll task.
#[embassy_executor::task]
pub async fn run(stack: Stack<'static>) {
    let url = match config::URL {
        "" => None,
        text => {
            let url = Url::parse(text);
            if url.is_none() {
                error!("poll: REDLINE_URL {text:?} is not http://host[:port][/path]; using mDNS");
            }
            url
        }
    };
    let mut response = [0u8; RESPONSE_MAX];
    let mut backoff = LOOKUP_BACKOFF_MIN;
    loop {
        stack.wait_config_up().await;
        let endpoint = match lookup(stack, url).await {
            Ok(endpoint) => endpoint,
            Err(e) => {
                match e {
                    LookupError::Mdns(e) => warn!(
                        "poll: no daemon found ({e}); is `redline serve --listen` running \
                         on this network? retrying in {} s",
                        backoff.as_secs()
                    ),
                    LookupError::Dns => warn!(
                        "poll: cannot resolve {:?}; retrying in {} s",
                        url.map(|u| u.host).unwrap_or(""),
                        backoff.as_secs()
                    ),
                }
                Timer::after(backoff).await;
                backoff = (backoff * 2).min(LOOKUP_BACKOFF_MAX);
                continue;
            }
        };
        backoff = LOOKUP_BACKOFF_MIN;
        info!("poll: GET {endpoint} every {} ms", config::POLL_MS);

        let mut ticker = Ticker::every(Duration::from_millis(config::POLL_MS));
        let mut failures = 0u32;
        let mut answered = false;
        while failures < RELOOK_AFTER {
            ticker.next().await;
            if !stack.is_config_up() {
                stack.wait_config_up().await;
            }
            match http::get(stack, &endpoint, &mut response).await {
                Ok(body) => {
                    if !answered || failures > 0 {
                        info!("poll: {} bytes from {endpoint}", body.as_slice().len());
                    }
                    answered = true;
                    failures = 0;
                    panel::deliver(body);
                }
                Err(e) => {
                    failures += 1;
                    if failures == 1 || failures == RELOOK_AFTER {
                        warn!("poll: GET {endpoint} failed: {e} ({failures} in a row)");
                    }
                }
            }
        }
        info!("poll: looking for the daemon again");
    }
}

/// Where to fetch from: the URL's host (an address, a `.local` name by mDNS, or a DNS
/// name), or the first `_redline._tcp` service mDNS finds.
async fn lookup(stack: Stack<'_>, url: Option<Url<'_>>) -> Result<Endpoint, LookupError> {
    let Some(url) = url else {
        info!("poll: looking for {} by mDNS", discover::SERVICE);
        let endpoint = discover::find_service(stack)
            .await
            .map_err(LookupError::Mdns)?;
        info!(
            "poll: found {} at {}:{}",
            endpoint.host, endpoint.addr, endpoint.port
        );
        return Ok(endpoint);
    };
    let addr = if let Ok(addr) = url.host.parse::<Ipv4Addr>() {
        addr
    } else if url.host.ends_with(".local") {
        discover::resolve_host(stack, url.host)
            .await
            .map_err(LookupError::Mdns)?
    } else {
        let found = stack
            .dns_query(url.host, DnsQueryType::A)
            .await
            .map_err(|_| LookupError::Dns)?;
        match found.first() {
            Some(IpAddress::Ipv4(addr)) => *addr,
            _ => return Err(LookupError::Dns),
        }
    };
    let (mut host, mut path) = (String::new(), String::new());
    // Url::parse caps both at 63 bytes, so they fit.
    let _ = host.push_str(url.host);
    let _ = path.push_str(url.path);
    Ok(Endpoint {
        addr,
        port: url.port,
        host,
        path,
    })
}
