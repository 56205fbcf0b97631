//! Serving a local network: HTTPS with a self-signed certificate kept in the data directory
//! ([`cert`]), TLS and plain HTTP told apart on one port ([`listener`]), and the mDNS/DNS-SD
//! advert that lets others on the network find the server or a meeting on it ([`mdns`]).
//!
//! `parlor-server --lan` turns all of it on; the desktop app's "Host on this computer" uses
//! the same parts.

pub mod cert;
pub mod listener;
pub mod mdns;

pub use cert::LanCertificate;
pub use listener::ServeListener;
pub use mdns::{browse, Advert, AdvertOptions, Nearby};

use crate::config::Config;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

/// A LAN server made known: where it is, its fingerprint, and its mDNS advert.
pub struct Announced {
    /// `https://address:port`, the address others reach.
    pub server: String,
    /// `http://localhost:port`, for a browser on this computer, when the server listens there.
    pub local: Option<String>,
    pub fingerprint: String,
    /// Withdrawn when dropped; `None` when mDNS could not start (`advert_error` says why).
    pub advert: Option<Advert>,
    pub advert_error: Option<String>,
}

impl Announced {
    /// For a `--lan` server bound at `bound`: makes or loads its certificate (the same one
    /// [`crate::serve`] presents) and advertises the server.
    pub fn start(config: &Config, bound: SocketAddr) -> Result<Self, String> {
        let certificate = LanCertificate::load_or_create(&config.data_dir, &config.lan_addresses())
            .map_err(|e| format!("LAN certificate in {}: {e}", config.data_dir.display()))?;
        let shown = SocketAddr::new(config.sfu().public_ip, bound.port());
        let ip = bound.ip();
        let options = AdvertOptions {
            listen: bound,
            fingerprint: certificate.fingerprint.clone(),
            host: crate::util::host_name(),
            meeting: None,
        };
        let (advert, advert_error) = match Advert::start(&options) {
            Ok(a) => (Some(a), None),
            Err(e) => (None, Some(e.to_string())),
        };
        Ok(Self {
            server: format!("https://{shown}"),
            local: (ip.is_unspecified() || ip.is_loopback())
                .then(|| format!("http://localhost:{}", bound.port())),
            fingerprint: certificate.fingerprint,
            advert,
            advert_error,
        })
    }
}

/// The address other machines reach this one at: the one the default route leaves from
/// (found without sending anything: a UDP socket is only pointed, never written to), or
/// loopback on a machine with no network.
pub fn network_address() -> IpAddr {
    UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
        .and_then(|s| {
            s.connect((Ipv4Addr::new(192, 0, 2, 1), 9))?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_unspecified())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}
