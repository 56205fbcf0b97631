//! The signaling side of a call: a guest token over REST, then the WebSocket speaking
//! `parlor-protocol` messages.

use super::CallError;
use crate::tls::{self, Trust};
use futures_util::{SinkExt, StreamExt};
use parlor_protocol::api::{GuestTokenRequest, TokenResponse};
use parlor_protocol::signal::{ClientMessage, ServerMessage};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct Signaling {
    ws: Ws,
}

/// `http(s)://host:port` → a guest token for `name`.
pub async fn guest_token(
    server: &str,
    name: &str,
    trust: &Trust,
) -> Result<TokenResponse, CallError> {
    if matches!(trust, Trust::Pinned(_)) && !server.starts_with("https://") {
        return Err(CallError::Signaling(format!(
            "{server}: a certificate fingerprint is for https:// servers"
        )));
    }
    let url = format!("{}/auth/token", server.trim_end_matches('/'));
    let res = tls::http_client(trust)
        .map_err(CallError::Signaling)?
        .post(&url)
        .json(&GuestTokenRequest {
            display_name: name.to_owned(),
            user_id: None,
        })
        .send()
        .await
        .map_err(|e| CallError::Signaling(format!("{url}: {}", causes(&e))))?;
    if !res.status().is_success() {
        let body = res.text().await.unwrap_or_default();
        return Err(CallError::Signaling(format!("{url}: {body}")));
    }
    res.json()
        .await
        .map_err(|e| CallError::Signaling(format!("{url}: {e}")))
}

/// An error with its causes, which is where reqwest and rustls say what actually went wrong
/// (a refused connection, an untrusted certificate).
fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

impl Signaling {
    pub async fn connect(server: &str, token: &str, trust: &Trust) -> Result<Self, CallError> {
        let base = server.trim_end_matches('/');
        let ws_base = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            base.to_owned()
        };
        let url = format!("{ws_base}/ws/signal?token={token}");
        let connector = tokio_tungstenite::Connector::Rustls(tls::client_config(trust));
        let (ws, _) = tokio_tungstenite::connect_async_tls_with_config(
            url.as_str(),
            None,
            true,
            Some(connector),
        )
        .await
        .map_err(|e| CallError::Signaling(format!("{ws_base}/ws/signal: {e}")))?;
        Ok(Self { ws })
    }

    pub async fn send(&mut self, msg: &ClientMessage) -> Result<(), CallError> {
        let text = serde_json::to_string(msg).map_err(|e| CallError::Signaling(e.to_string()))?;
        self.ws
            .send(Message::text(text))
            .await
            .map_err(|e| CallError::Signaling(e.to_string()))
    }

    /// The next server message; `None` when the server closed the connection.
    pub async fn recv(&mut self) -> Option<Result<ServerMessage, CallError>> {
        loop {
            match self.ws.next().await? {
                Ok(Message::Text(t)) => {
                    return Some(
                        serde_json::from_str(t.as_str())
                            .map_err(|e| CallError::Signaling(format!("bad server message: {e}"))),
                    )
                }
                Ok(Message::Close(_)) => return None,
                Ok(_) => continue,
                Err(e) => return Some(Err(CallError::Signaling(e.to_string()))),
            }
        }
    }
}
