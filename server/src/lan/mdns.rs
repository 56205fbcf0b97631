//! The mDNS/DNS-SD advert of a server or meeting hosted here, and browsing for them.
//!
//! An advert is sent only on the interface the server listens on, or on every interface when
//! it listens on all of them; a server on loopback is advertised on loopback alone.

use parlor_protocol::lan::{txt, SERVICE_TYPE};
use serde::Serialize;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

pub use mdns_sd::Error as MdnsError;
use mdns_sd::{IfKind, ServiceDaemon, ServiceEvent, ServiceInfo};

/// What to advertise.
#[derive(Clone, Debug)]
pub struct AdvertOptions {
    /// Where the server listens.
    pub listen: SocketAddr,
    /// The certificate's fingerprint.
    pub fingerprint: String,
    /// Who hosts: a person's name, or this machine's.
    pub host: String,
    /// The meeting being hosted, `(code, title)`; `None` advertises the server itself.
    pub meeting: Option<(String, String)>,
}

/// A registered advert; dropping it withdraws it (a goodbye packet on the network).
pub struct Advert {
    daemon: ServiceDaemon,
    fullname: String,
}

/// The daemon restricted to the interfaces `ip` implies.
fn daemon_for(ip: IpAddr) -> Result<ServiceDaemon, MdnsError> {
    let daemon = ServiceDaemon::new()?;
    if !ip.is_unspecified() {
        daemon.disable_interface(IfKind::All)?;
        daemon.enable_interface(IfKind::Addr(ip))?;
    }
    Ok(daemon)
}

impl Advert {
    pub fn start(options: &AdvertOptions) -> Result<Self, MdnsError> {
        let ip = options.listen.ip();
        let daemon = daemon_for(ip)?;
        let machine = crate::util::host_name();
        let instance = match &options.meeting {
            Some((code, title)) => {
                format!("{} ({code})", title.chars().take(40).collect::<String>())
            }
            None => format!("Parlor on {machine}"),
        };
        let mut props: HashMap<String, String> = HashMap::from([
            (txt::VERSION.to_owned(), "1".to_owned()),
            (txt::SCHEME.to_owned(), "https".to_owned()),
            (
                txt::FINGERPRINT.to_owned(),
                options.fingerprint.replace(':', ""),
            ),
            (
                txt::HOST.to_owned(),
                options.host.chars().take(60).collect(),
            ),
        ]);
        if let Some((code, title)) = &options.meeting {
            props.insert(txt::CODE.to_owned(), code.clone());
            props.insert(txt::TITLE.to_owned(), fit(title, 200).to_owned());
        }
        let host_name = format!("{machine}.local.");
        let info = if ip.is_unspecified() {
            ServiceInfo::new(
                SERVICE_TYPE,
                &instance,
                &host_name,
                "",
                options.listen.port(),
                props,
            )?
            .enable_addr_auto()
        } else {
            ServiceInfo::new(
                SERVICE_TYPE,
                &instance,
                &host_name,
                ip,
                options.listen.port(),
                props,
            )?
        };
        let fullname = info.get_fullname().to_owned();
        daemon.register(info)?;
        tracing::info!(%fullname, "advertising over mDNS");
        Ok(Self { daemon, fullname })
    }
}

/// The longest start of `text` that fits in `bytes` bytes, cut between characters.
fn fit(text: &str, bytes: usize) -> &str {
    let mut end = text.len().min(bytes);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl Drop for Advert {
    fn drop(&mut self) {
        if let Ok(done) = self.daemon.unregister(&self.fullname) {
            let _ = done.recv_timeout(Duration::from_secs(1));
        }
        let _ = self.daemon.shutdown();
    }
}

/// A server or meeting found on the network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Nearby {
    /// The advert's instance name, e.g. "Team call (abc-defg-hij)".
    pub name: String,
    /// `https://address:port`.
    pub server: String,
    /// The certificate fingerprint the server claims; checked against the one it presents.
    pub fingerprint: Option<String>,
    pub code: Option<String>,
    pub title: Option<String>,
    pub host: Option<String>,
}

impl Nearby {
    /// What to open: the meeting's page, or the server's home.
    pub fn link(&self) -> String {
        match &self.code {
            Some(code) => format!("{}/m/{code}", self.server),
            None => format!("{}/", self.server),
        }
    }
}

/// Everything that answers within `wait`, searching on the interfaces `on` implies (every
/// interface when it is unspecified).
pub fn browse(on: IpAddr, wait: Duration) -> Result<Vec<Nearby>, MdnsError> {
    let daemon = daemon_for(on)?;
    let events = daemon.browse(SERVICE_TYPE)?;
    let deadline = Instant::now() + wait;
    // Each with whether its address is loopback.
    let mut found: Vec<(Nearby, bool)> = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(event) = events.recv_timeout(left) else {
            break;
        };
        let ServiceEvent::ServiceResolved(service) = event else {
            continue;
        };
        let mut addresses: Vec<IpAddr> = service
            .get_addresses_v4()
            .into_iter()
            .map(IpAddr::V4)
            .collect();
        addresses.sort_by_key(|a| (a.is_loopback(), *a));
        let Some(address) = addresses.first() else {
            continue;
        };
        let prop = |k: &str| service.get_property_val_str(k).map(str::to_owned);
        // Only HTTPS: an advert can be forged, and a plain-HTTP server would skip the
        // fingerprint check.
        if prop(txt::SCHEME).is_some_and(|s| s != "https") {
            continue;
        }
        let nearby = Nearby {
            name: service
                .fullname
                .strip_suffix(&format!(".{SERVICE_TYPE}"))
                .unwrap_or(&service.fullname)
                .replace("\\", ""),
            server: format!("https://{}", SocketAddr::new(*address, service.port)),
            fingerprint: prop(txt::FINGERPRINT)
                .and_then(|f| parlor_protocol::lan::normalize_fingerprint(&f)),
            code: prop(txt::CODE),
            title: prop(txt::TITLE),
            host: prop(txt::HOST),
        };
        heard(&mut found, nearby, address.is_loopback());
    }
    let _ = daemon.stop_browse(SERVICE_TYPE);
    let _ = daemon.shutdown();
    let mut found: Vec<Nearby> = found.into_iter().map(|(n, _)| n).collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// Adds what one resolution of an advert says to `found`. The same advert resolves once per
/// interface it is heard on: an address another machine can reach wins over loopback,
/// whichever was heard last; otherwise the latest wins.
fn heard(found: &mut Vec<(Nearby, bool)>, nearby: Nearby, loopback: bool) {
    match found.iter_mut().find(|(n, _)| n.name == nearby.name) {
        Some(same) if loopback && !same.1 => {}
        Some(same) => *same = (nearby, loopback),
        None => found.push((nearby, loopback)),
    }
}

#[cfg(test)]
mod tests {
    use super::{fit, heard, Nearby};

    #[test]
    fn a_reachable_address_wins_over_loopback() {
        let at = |server: &str| Nearby {
            name: "Team (abc-defg-hij)".into(),
            server: server.into(),
            fingerprint: None,
            code: Some("abc-defg-hij".into()),
            title: Some("Team".into()),
            host: None,
        };
        let mut found = Vec::new();
        heard(&mut found, at("https://127.0.0.1:8080"), true);
        heard(&mut found, at("https://10.0.0.5:8080"), false);
        heard(&mut found, at("https://127.0.0.1:8080"), true);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0.server, "https://10.0.0.5:8080");
        heard(&mut found, at("https://10.0.0.5:9090"), false);
        assert_eq!(
            found[0].0.server, "https://10.0.0.5:9090",
            "a newer advert replaces"
        );
    }

    #[test]
    fn names_are_cut_to_dns_sizes_between_characters() {
        assert_eq!(fit("Team call", 63), "Team call");
        assert_eq!(fit("ééé", 5), "éé");
        assert_eq!(fit(&"ü".repeat(100), 48).len(), 48);
    }
}
