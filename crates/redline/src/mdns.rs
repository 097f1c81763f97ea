//! Advertising the daemon on the LAN by mDNS (`_redline._tcp`), so the ESP32 finds it
//! without a configured address. Only when bound beyond loopback: a daemon nothing else
//! can reach has nothing to announce.
//!
//! The service instance is `redline on <host>`; its TXT record says where the firmware's
//! document is (`path=/usage/gauge`) and which `/usage` version it speaks.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use mdns_sd::{ServiceDaemon, ServiceInfo};

/// The DNS-SD service type the firmware browses for.
pub const SERVICE_TYPE: &str = "_redline._tcp.local.";

/// A running advertisement; withdrawn when dropped.
pub struct Advert {
    daemon: ServiceDaemon,
    fullname: String,
}

impl Drop for Advert {
    fn drop(&mut self) {
        let _ = self.daemon.unregister(&self.fullname);
        let _ = self.daemon.shutdown();
    }
}

/// Starts advertising `listen` (the address actually bound, with its real port). `None` on
/// loopback.
pub fn advertise(listen: SocketAddr) -> Result<Option<Advert>> {
    if crate::config::is_loopback(listen.ip()) {
        return Ok(None);
    }
    let host = host_label();
    let daemon = ServiceDaemon::new().context("cannot start mDNS")?;
    let version = redline_core::wire::USAGE_VERSION.to_string();
    let props = [("path", "/usage/gauge"), ("version", version.as_str())];
    // Bound to every address: announce each interface's own; else the one bound.
    let addrs = if listen.ip().is_unspecified() {
        String::new()
    } else {
        listen.ip().to_string()
    };
    let mut info = ServiceInfo::new(
        SERVICE_TYPE,
        &format!("redline on {host}"),
        &format!("{host}.local."),
        addrs.as_str(),
        listen.port(),
        &props[..],
    )
    .context("cannot describe the mDNS service")?;
    if listen.ip().is_unspecified() {
        info = info.enable_addr_auto();
    }
    let fullname = info.get_fullname().to_owned();
    daemon
        .register(info)
        .context("cannot register the mDNS service")?;
    Ok(Some(Advert { daemon, fullname }))
}

/// This machine's name as an mDNS label (`<label>.local` is the name advertised);
/// `redline` when it is not one.
pub fn host_label() -> String {
    crate::config::host_name()
        .filter(|h| h.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or_else(|| "redline".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_advertised_on_loopback_written_any_way() {
        for a in ["127.0.0.1:7878", "[::1]:7878", "[::ffff:127.0.0.1]:7878"] {
            assert!(advertise(a.parse().unwrap()).unwrap().is_none(), "{a}");
        }
    }
}
