//! Servers with certificates nobody vouches for (a meeting hosted on someone's computer):
//! the page is shown the fingerprint the server presents, the person compares it with the one
//! the host sees and trusts it, and the app remembers it for that server. From then on the
//! app's web view accepts exactly that certificate there; a server that later presents another
//! one is asked about again, with a warning.

use crate::error::AppError;
use crate::state::AppState;
use parlor_media::tls;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tauri::State;

const KNOWN_FILE: &str = "known-servers.json";

/// What a server presents, beside what was trusted there before.
#[derive(Clone, Debug, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ServerCertificate {
    /// SHA-256 of the certificate the server presents now.
    pub fingerprint: String,
    /// The fingerprint trusted for this server before, if any.
    pub known: Option<String>,
}

/// Fingerprints trusted per `host:port`, kept in the app's data directory.
#[derive(Default, Serialize, Deserialize)]
struct KnownServers(BTreeMap<String, String>);

impl KnownServers {
    fn path(dir: &Path) -> PathBuf {
        dir.join(KNOWN_FILE)
    }

    fn load(dir: &Path) -> Self {
        std::fs::read(Self::path(dir))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    fn save(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        parlor_server::util::write_private(&Self::path(dir), &json)
    }
}

fn authority(server: &str) -> Result<(String, String), AppError> {
    let (host, port) = tls::https_authority(server).map_err(AppError::InvalidInput)?;
    Ok((format!("{host}:{port}"), host))
}

/// Lets the web view accept `pem` from `host` (nothing to do outside the real app).
pub fn allow_in_webview(state: &AppState, pem: &str, host: &str) -> Result<(), String> {
    match state.hooks.get() {
        // The web view's own thread does it; this one waits without holding up others.
        Some(hooks) => tokio::task::block_in_place(|| {
            (hooks.allow_certificate)(pem.to_owned(), host.to_owned())
        }),
        None => Ok(()),
    }
}

/// Connects to `server` (`https://…`) and reads its certificate, trusting nothing yet.
#[tauri::command]
#[specta::specta]
pub async fn server_certificate(
    state: State<'_, AppState>,
    server: String,
) -> Result<ServerCertificate, AppError> {
    let (key, _) = authority(&server)?;
    let presented = tls::presented_certificate(&server)
        .await
        .map_err(AppError::Unreachable)?;
    Ok(ServerCertificate {
        fingerprint: presented.fingerprint,
        known: KnownServers::load(&state.data_dir).0.get(&key).cloned(),
    })
}

/// Trusts the certificate with `fingerprint` at `server`, if that is still the one it
/// presents, and remembers it.
#[tauri::command]
#[specta::specta]
pub async fn trust_server(
    state: State<'_, AppState>,
    server: String,
    fingerprint: String,
) -> Result<(), AppError> {
    let (key, host) = authority(&server)?;
    let wanted = parlor_protocol::lan::normalize_fingerprint(&fingerprint)
        .ok_or_else(|| AppError::InvalidInput(format!("not a fingerprint: {fingerprint}")))?;
    let presented = tls::presented_certificate(&server)
        .await
        .map_err(AppError::Unreachable)?;
    if presented.fingerprint != wanted {
        return Err(AppError::CertificateChanged(format!(
            "{key} now presents a certificate with fingerprint {}",
            presented.fingerprint
        )));
    }
    let mut known = KnownServers::load(&state.data_dir);
    known.0.insert(key, wanted);
    known
        .save(&state.data_dir)
        .map_err(|e| AppError::InvalidInput(format!("remembering the server: {e}")))?;
    allow_in_webview(&state, &presented.pem(), &host).map_err(AppError::Unreachable)
}

/// A meeting or server found on the network.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct NearbyMeeting {
    pub name: String,
    pub server: String,
    pub link: String,
    pub fingerprint: Option<String>,
    pub code: Option<String>,
    pub title: Option<String>,
    pub host: Option<String>,
}

/// Meetings and servers advertised on the local network (mDNS), listening for about 1.5 s.
#[tauri::command]
#[specta::specta]
pub async fn nearby_meetings() -> Result<Vec<NearbyMeeting>, AppError> {
    let found = tokio::task::spawn_blocking(|| {
        parlor_server::lan::browse(
            std::net::Ipv4Addr::UNSPECIFIED.into(),
            std::time::Duration::from_millis(1500),
        )
    })
    .await
    .map_err(|e| AppError::Unreachable(e.to_string()))?
    .map_err(|e| AppError::Unreachable(format!("searching the network: {e}")))?;
    Ok(found
        .into_iter()
        .map(|n| NearbyMeeting {
            link: n.link(),
            name: n.name,
            server: n.server,
            fingerprint: n.fingerprint,
            code: n.code,
            title: n.title,
            host: n.host,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_fingerprints_are_kept_per_server() {
        let dir = tempfile::tempdir().unwrap();
        assert!(KnownServers::load(dir.path()).0.is_empty());
        let mut known = KnownServers::default();
        known.0.insert("10.0.0.5:8080".into(), "AB".into());
        known.save(dir.path()).unwrap();
        assert_eq!(
            KnownServers::load(dir.path())
                .0
                .get("10.0.0.5:8080")
                .map(String::as_str),
            Some("AB")
        );
        assert_eq!(
            authority("https://10.0.0.5:8080/m/x").unwrap().0,
            "10.0.0.5:8080"
        );
        assert!(authority("http://10.0.0.5:8080").is_err());
    }
}
