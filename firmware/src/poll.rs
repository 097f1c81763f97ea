//! The poll task: finds the daemon (the configured URL, or mDNS when there is none),
//! fetches `/usage/gauge` every `REDLINE_POLL_MS` and hands each body to the panel.
//!
//! When to look up, when to fetch, how long each may take, when to look again and what
//! to log are `redline_core::schedule`'s, tested on the host in virtual time; this task
//! waits, runs each task under its deadline and reports back. Failed fetches are only
//! counted and logged: the 5 s failure rule belongs to the `Cluster`, which sees no body
//! and applies it by itself.

use core::net::Ipv4Addr;

use embassy_net::dns::DnsQueryType;
use embassy_net::{IpAddress, Stack};
use embassy_time::{Instant, Timer, with_deadline};
use log::{error, info, warn};
use redline_core::schedule::{Note, Schedule, ScheduleConfig, Task};

use crate::discover::{self, DiscoverError};
use crate::http::{self, Endpoint, RESPONSE_MAX, Url};
use crate::{config, panel};

/// Why the daemon's address is not known.
#[derive(Clone, Copy, Debug)]
enum LookupError {
    Mdns(DiscoverError),
    Dns,
    Timeout,
}

fn now_us() -> u64 {
    Instant::now().as_micros()
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
    let mut schedule = Schedule::new(ScheduleConfig::every(config::POLL_MS * 1000), now_us());
    let mut endpoint = None;
    loop {
        Timer::at(Instant::from_micros(schedule.due_at())).await;
        if !stack.is_config_up() {
            stack.wait_config_up().await;
        }
        let job = schedule.begin(now_us());
        let deadline = Instant::from_micros(job.deadline_us);
        match (job.task, &endpoint) {
            (Task::Fetch, Some(target)) => {
                let result = http::get(stack, target, &mut response, deadline).await;
                let note = schedule.fetched(result.as_ref().map(|_| ()).map_err(|e| *e), now_us());
                log_fetch(note, target);
                if let Ok(body) = result {
                    panel::deliver(body);
                }
            }
            _ => {
                let found = with_deadline(deadline, lookup(stack, url))
                    .await
                    .unwrap_or(Err(LookupError::Timeout));
                let note = schedule.looked_up(found.is_ok(), now_us());
                match (found, note) {
                    (Ok(target), _) => {
                        info!("poll: GET {target} every {} ms", config::POLL_MS);
                        endpoint = Some(target);
                    }
                    (Err(e), Note::LookupFailed { retry_in_us }) => {
                        log_lookup_failure(e, url, retry_in_us / 1_000_000);
                    }
                    (Err(_), _) => {}
                }
            }
        }
    }
}

fn log_fetch(note: Note, endpoint: &Endpoint) {
    match note {
        Note::Answered { after_failures: 0 } => info!("poll: first answer from {endpoint}"),
        Note::Answered { after_failures } => {
            info!("poll: {endpoint} answers again after {after_failures} failures")
        }
        Note::Failing(e) => warn!("poll: GET {endpoint} failed: {e}"),
        Note::Relook { error, failures } => warn!(
            "poll: GET {endpoint} failed: {error} ({failures} in a row); looking for the \
             daemon again"
        ),
        _ => {}
    }
}

fn log_lookup_failure(e: LookupError, url: Option<Url<'_>>, retry_s: u64) {
    let host = url.map(|u| u.host).unwrap_or("");
    match e {
        LookupError::Mdns(e) if url.is_none() => warn!(
            "poll: no daemon found ({e}); is `redline serve --listen` running on this \
             network? retrying in {retry_s} s"
        ),
        LookupError::Mdns(e) => {
            warn!("poll: cannot resolve {host:?} ({e}); retrying in {retry_s} s")
        }
        LookupError::Dns => warn!("poll: cannot resolve {host:?}; retrying in {retry_s} s"),
        LookupError::Timeout => warn!(
            "poll: looking for {} timed out; retrying in {retry_s} s",
            if host.is_empty() {
                discover::SERVICE
            } else {
                host
            }
        ),
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
        // No timeout of its own: the schedule's lookup deadline bounds it.
        let found = stack
            .dns_query(url.host, DnsQueryType::A)
            .await
            .map_err(|_| LookupError::Dns)?;
        match found.first() {
            Some(IpAddress::Ipv4(addr)) => *addr,
            _ => return Err(LookupError::Dns),
        }
    };
    Ok(url.endpoint(addr))
}
