//! "Host on this computer": the embedded `parlor-server` in its LAN mode on this machine's
//! network address — HTTPS with the self-signed certificate it keeps (plain HTTP for this
//! computer's own browser at `localhost`) — a meeting on it with this app's person as host,
//! the link others join by with the certificate's fingerprint to check, and an mDNS advert
//! that lists the meeting under "Nearby meetings" on other computers. Stopping ends the
//! meeting for everyone, withdraws the advert, then stops the server.

use crate::error::AppError;
use crate::state::AppState;
use parlor_media::tls::{self, Trust};
use parlor_server::lan;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use tauri::State;

/// What to host.
#[derive(Clone, Debug, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct HostOptions {
    pub title: String,
    /// The host's display name.
    pub name: String,
    /// The address to host on; this machine's network address when absent.
    #[serde(default)]
    pub address: Option<String>,
}

/// The host's identity on the hosted server, as the page keeps it.
#[derive(Clone, Debug, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct HostSession {
    pub token: String,
    /// Milliseconds since the Unix epoch.
    pub expires_at: f64,
    pub user_id: String,
    pub display_name: String,
    pub guest: bool,
}

/// A meeting being hosted here.
#[derive(Clone, Debug, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct HostInfo {
    /// `https://address:port` of the embedded server.
    pub server: String,
    /// SHA-256 of the server's certificate, for those joining to check.
    pub fingerprint: String,
    pub code: String,
    /// What others open to join.
    pub link: String,
    /// The same meeting for a browser on this computer: `localhost` is a secure context, so
    /// the browser lets the page use the camera over plain HTTP there, with no certificate
    /// warning. The same as `link` when the server does not listen on loopback.
    pub local_link: String,
    pub session: HostSession,
}

/// The running embedded server.
pub struct Hosting {
    pub info: HostInfo,
    /// Withdrawn when hosting stops; absent when mDNS could not start.
    _advert: Option<lan::Advert>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

fn host_error(e: impl std::fmt::Display) -> AppError {
    AppError::Host(e.to_string())
}

async fn post(
    http: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Value,
) -> Result<Value, AppError> {
    let (status, body) = send(http, &url, token, body).await?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(AppError::Host(format!("{url}: {status} {body}")))
    }
}

/// A JSON POST's status and body, whatever the status.
async fn send(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: Value,
) -> Result<(reqwest::StatusCode, Value), AppError> {
    let mut req = http.post(url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.map_err(host_error)?;
    let status = res.status();
    Ok((status, res.json().await.unwrap_or(Value::Null)))
}

/// Starts the embedded server and a meeting on it; returns how to reach it. Hosting already
/// running is returned as it is.
#[tauri::command]
#[specta::specta]
pub async fn host_start(
    state: State<'_, AppState>,
    options: HostOptions,
) -> Result<HostInfo, AppError> {
    let mut hosting = state.hosting.lock().await;
    if let Some(h) = hosting.as_ref() {
        return Ok(h.info.clone());
    }
    // Without a chosen address: every interface, so this computer's own browser can use
    // localhost, and links name the network address.
    let (bind, address): (IpAddr, IpAddr) = match &options.address {
        Some(a) => {
            let ip = a
                .parse()
                .map_err(|_| AppError::InvalidInput(format!("not an address: {a}")))?;
            (ip, ip)
        }
        None => (IpAddr::V4(Ipv4Addr::UNSPECIFIED), lan::network_address()),
    };
    let data_dir = state.data_dir.join("host");
    std::fs::create_dir_all(&data_dir).map_err(host_error)?;
    // Port 8080 when it is free, so links stay the same from one meeting to the next.
    let listener = match tokio::net::TcpListener::bind((bind, 8080)).await {
        Ok(l) => l,
        Err(_) => tokio::net::TcpListener::bind((bind, 0))
            .await
            .map_err(host_error)?,
    };
    let port = listener.local_addr().map_err(host_error)?.port();
    let config = parlor_server::config::Config {
        listen: SocketAddr::new(bind, port),
        data_dir: data_dir.clone(),
        media_port: 0,
        media_bind: Some(bind),
        public_ip: Some(address),
        media_workers: 1,
        lan: true,
        ..parlor_server::config::Config::default()
    };
    // The certificate the server will present (made on the first hosting, kept after).
    let certificate = lan::LanCertificate::load_or_create(&data_dir, &config.lan_addresses())
        .map_err(host_error)?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        if let Err(e) = parlor_server::run(config, listener, shutdown).await {
            tracing::error!(error = %e, "the hosted server stopped");
        }
    });

    let server = format!("https://{}", SocketAddr::new(address, port));
    let http =
        tls::http_client(&Trust::Pinned(certificate.fingerprint.clone())).map_err(host_error)?;
    // This app's own page talks to the server over HTTPS like everyone else.
    crate::commands::trust::allow_in_webview(&state, &certificate.cert_pem, &address.to_string())
        .map_err(host_error)?;
    // The host account's password is made once and kept, owner-only, beside the server's data.
    let password = parlor_server::util::kept_secret(&data_dir.join("host-password"), 32, 48)
        .map_err(host_error)?;
    let account = json!({"email": "host@parlor.local", "password": password});
    let mut register = account.clone();
    register["name"] = options.name.clone().into();
    // Made on the first hosting; later ones find it there (409 Conflict), which is as good.
    let url = format!("{server}/api/users");
    let (status, body) = send(&http, &url, None, register).await?;
    if !status.is_success() && status != reqwest::StatusCode::CONFLICT {
        return Err(AppError::Host(format!("{url}: {status} {body}")));
    }
    let login = post(&http, format!("{server}/api/auth/login"), None, account).await?;
    let token = login["token"].as_str().unwrap_or_default().to_owned();
    let meeting = post(
        &http,
        format!("{server}/api/meetings"),
        Some(&token),
        json!({"title": options.title}),
    )
    .await?;
    let code = meeting["code"]
        .as_str()
        .ok_or_else(|| AppError::Host(format!("no meeting code in {meeting}")))?
        .to_owned();
    let link = format!("{server}/m/{code}");
    let advert = lan::Advert::start(&lan::AdvertOptions {
        listen: SocketAddr::new(bind, port),
        fingerprint: certificate.fingerprint.clone(),
        host: options.name.clone(),
        meeting: Some((code.clone(), options.title.clone())),
    })
    .map_err(|e| tracing::warn!(error = %e, "the meeting is not advertised over mDNS"))
    .ok();
    let info = HostInfo {
        local_link: if bind.is_unspecified() || bind.is_loopback() {
            format!("http://localhost:{port}/m/{code}")
        } else {
            link.clone()
        },
        link,
        fingerprint: certificate.fingerprint.clone(),
        server,
        code,
        session: HostSession {
            token,
            expires_at: login["expiresAt"].as_f64().unwrap_or_default(),
            user_id: login["userId"].as_str().unwrap_or_default().to_owned(),
            // The name given now, whatever the account was first made with.
            display_name: options.name,
            guest: false,
        },
    };
    *hosting = Some(Hosting {
        info: info.clone(),
        _advert: advert,
        stop,
        task,
    });
    Ok(info)
}

/// The meeting hosted here, if any.
#[tauri::command]
#[specta::specta]
pub async fn host_info(state: State<'_, AppState>) -> Result<Option<HostInfo>, AppError> {
    Ok(state.hosting.lock().await.as_ref().map(|h| h.info.clone()))
}

/// Ends the hosted meeting for everyone, then stops the server.
#[tauri::command]
#[specta::specta]
pub async fn host_stop(state: State<'_, AppState>) -> Result<(), AppError> {
    let Some(hosting) = state.hosting.lock().await.take() else {
        return Ok(());
    };
    let info = &hosting.info;
    let http = tls::http_client(&Trust::Pinned(info.fingerprint.clone())).map_err(host_error)?;
    let ended = post(
        &http,
        format!("{}/api/meetings/{}/end", info.server, info.code),
        Some(&info.session.token),
        json!({}),
    )
    .await;
    let _ = hosting.stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), hosting.task).await;
    ended.map(|_| ())
}
