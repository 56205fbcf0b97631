//! A signaling client for tests: a real WebSocket exchanging JSON values.

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub struct WsClient {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The close code the server sent, once it has.
    pub close_code: Option<u16>,
}

/// How a connection attempt ended when the server refused the upgrade.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub body: Value,
}

impl WsClient {
    /// Connects to `url` (a `ws://…` URL), panicking if the upgrade is refused.
    pub async fn connect(url: &str) -> Self {
        match Self::try_connect(url, None).await {
            Ok(c) => c,
            Err(r) => panic!("websocket refused: {r:?}"),
        }
    }

    /// Connects, optionally with an `Authorization: Bearer` header; a refused upgrade returns
    /// the HTTP status and JSON body.
    pub async fn try_connect(url: &str, bearer: Option<&str>) -> Result<Self, Refused> {
        let mut req = url.into_client_request().expect("valid websocket URL");
        if let Some(token) = bearer {
            req.headers_mut().insert(
                "authorization",
                format!("Bearer {token}").parse().expect("header value"),
            );
        }
        match tokio_tungstenite::connect_async(req).await {
            Ok((stream, _)) => Ok(Self {
                stream,
                close_code: None,
            }),
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
                let status = res.status().as_u16();
                let body = res
                    .body()
                    .as_ref()
                    .and_then(|b| serde_json::from_slice(b).ok())
                    .unwrap_or(Value::Null);
                Err(Refused { status, body })
            }
            Err(e) => panic!("websocket connect to {url} failed: {e}"),
        }
    }

    /// Connects with a tiny socket receive buffer, to play a client that reads slowly:
    /// what it does not read backs up into the server quickly.
    pub async fn connect_slow_reader(url: &str) -> Self {
        let req = url.into_client_request().expect("valid websocket URL");
        let host = req.uri().host().expect("host").to_owned();
        let port = req.uri().port_u16().expect("port");
        let addr = tokio::net::lookup_host((host.as_str(), port))
            .await
            .expect("resolve")
            .next()
            .expect("an address");
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let tcp = socket.connect(addr).await.expect("connect");
        let (stream, _) = tokio_tungstenite::client_async(req, MaybeTlsStream::Plain(tcp))
            .await
            .expect("websocket handshake");
        Self {
            stream,
            close_code: None,
        }
    }

    pub async fn send(&mut self, v: Value) {
        self.send_text(&v.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.stream
            .send(Message::text(text))
            .await
            .expect("websocket send");
    }

    /// Sends, tolerating a server that closes the connection mid-send.
    pub async fn try_send_text(&mut self, text: &str) -> bool {
        self.stream.send(Message::text(text)).await.is_ok()
    }

    pub async fn send_binary(&mut self, data: Vec<u8>) {
        self.stream
            .send(Message::binary(data))
            .await
            .expect("websocket send");
    }

    /// The next JSON message, or `None` once the connection is closed.
    pub async fn next(&mut self) -> Option<Value> {
        // One deadline for the message, however many pings arrive meanwhile.
        let deadline = tokio::time::Instant::now() + super::WAIT;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .expect("timed out waiting for a message")?;
            match frame {
                Ok(Message::Text(t)) => {
                    return Some(serde_json::from_str(t.as_str()).expect("server sent JSON"))
                }
                Ok(Message::Close(frame)) => {
                    self.close_code = frame.map(|f| u16::from(f.code));
                    return None;
                }
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }

    /// The next message of type `kind`, skipping others; panics if the connection closes.
    pub async fn expect(&mut self, kind: &str) -> Value {
        loop {
            match self.next().await {
                Some(v) if v["type"] == kind => return v,
                Some(_) => continue,
                None => panic!("connection closed while waiting for {kind:?}"),
            }
        }
    }

    /// The next message, which must be of type `kind`.
    pub async fn expect_next(&mut self, kind: &str) -> Value {
        let v = self.next().await.expect("connection closed");
        assert_eq!(v["type"], kind, "unexpected message: {v}");
        v
    }

    /// The next `error`, whose code must be `code`.
    pub async fn expect_error(&mut self, code: &str) -> Value {
        let v = self.expect("error").await;
        assert_eq!(v["code"], code, "unexpected error: {v}");
        v
    }

    /// Reads until the server closes the connection; returns the close code.
    pub async fn closed(&mut self) -> Option<u16> {
        while self.next().await.is_some() {}
        self.close_code
    }

    /// A ping/pong round trip: proves the server still serves this connection.
    pub async fn roundtrip(&mut self) {
        self.send(serde_json::json!({"type": "ping"})).await;
        self.expect("pong").await;
    }
}
