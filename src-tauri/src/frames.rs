//! Pictures for the web page: the self view and every decoded remote track, as raw I420 over
//! a WebSocket on loopback. Only a page that presents this session's token may connect. Each
//! connection gets the newest picture of each track; pictures it was too slow for are skipped,
//! never queued.
//!
//! One binary message per picture:
//! `[1 u8 version][n u8][n bytes track id, UTF-8][width u16 LE][height u16 LE][Y][U][V]`.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use parlor_media::frame::I420Frame;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::watch;

const VERSION: u8 = 1;

/// The newest picture of each track, numbered so a connection can tell what it has sent.
type Latest = HashMap<String, (u64, Bytes)>;

#[derive(Clone)]
pub struct Frames {
    latest: watch::Sender<Arc<Latest>>,
    counter: Arc<std::sync::atomic::AtomicU64>,
}

/// Where the page connects, and with what.
#[derive(Clone, Debug, serde::Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct FrameEndpoint {
    /// `ws://127.0.0.1:PORT/frames?token=…`
    pub url: String,
}

#[derive(Clone)]
struct Guard {
    token: Arc<str>,
    frames: Frames,
}

#[derive(serde::Deserialize)]
struct Params {
    token: String,
}

/// Encodes one picture in the wire format above.
pub fn encode(track_id: &str, picture: &I420Frame) -> Bytes {
    let id = &track_id.as_bytes()[..track_id.len().min(255)];
    let mut out =
        Vec::with_capacity(6 + id.len() + picture.y.len() + picture.u.len() + picture.v.len());
    out.push(VERSION);
    out.push(id.len() as u8);
    out.extend_from_slice(id);
    out.extend_from_slice(&(picture.width as u16).to_le_bytes());
    out.extend_from_slice(&(picture.height as u16).to_le_bytes());
    out.extend_from_slice(&picture.y);
    out.extend_from_slice(&picture.u);
    out.extend_from_slice(&picture.v);
    Bytes::from(out)
}

impl Frames {
    fn new() -> Self {
        Self {
            latest: watch::Sender::new(Arc::new(Latest::new())),
            counter: Arc::default(),
        }
    }

    /// Makes `picture` the newest of `track_id`.
    pub fn publish(&self, track_id: &str, picture: &I420Frame) {
        let data = encode(track_id, picture);
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.latest.send_modify(|latest| {
            Arc::make_mut(latest).insert(track_id.to_owned(), (n, data));
        });
    }

    /// Forgets a track that ended, and every track when the call is over (`None`).
    pub fn remove(&self, track_id: Option<&str>) {
        self.latest.send_modify(|latest| match track_id {
            Some(id) => {
                Arc::make_mut(latest).remove(id);
            }
            None => *latest = Arc::new(Latest::new()),
        });
    }
}

/// The bound, not yet serving, frame server.
pub struct FrameServer {
    listener: std::net::TcpListener,
    guard: Guard,
}

/// Binds a free loopback port and makes this session's token.
pub fn bind() -> std::io::Result<(Frames, FrameEndpoint, FrameServer)> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let token: Arc<str> = random_token().into();
    let frames = Frames::new();
    let url = format!("ws://127.0.0.1:{port}/frames?token={token}");
    let guard = Guard {
        token,
        frames: frames.clone(),
    };
    Ok((
        frames,
        FrameEndpoint { url },
        FrameServer { listener, guard },
    ))
}

impl FrameServer {
    /// Serves until the app exits.
    pub async fn run(self) {
        let app = axum::Router::new()
            .route("/frames", get(connect))
            .with_state(self.guard);
        let served = match tokio::net::TcpListener::from_std(self.listener) {
            Ok(listener) => axum::serve(listener, app).await,
            Err(e) => Err(e),
        };
        if let Err(e) = served {
            tracing::error!(error = %e, "the frame server stopped");
        }
    }
}

fn random_token() -> String {
    use std::fmt::Write;
    rand::random::<[u8; 24]>()
        .iter()
        .fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

async fn connect(
    State(guard): State<Guard>,
    Query(params): Query<Params>,
    ws: WebSocketUpgrade,
) -> Response {
    if !constant_time_eq(params.token.as_bytes(), guard.token.as_bytes()) {
        return (StatusCode::FORBIDDEN, "wrong token").into_response();
    }
    let rx = guard.frames.latest.subscribe();
    ws.on_upgrade(move |socket| stream(socket, rx))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Sends each track's newest picture whenever there is one this connection has not sent.
async fn stream(mut socket: WebSocket, mut rx: watch::Receiver<Arc<Latest>>) {
    let mut sent: HashMap<String, u64> = HashMap::new();
    loop {
        let latest = rx.borrow_and_update().clone();
        sent.retain(|id, _| latest.contains_key(id));
        for (id, (n, data)) in latest.iter() {
            if sent.get(id) == Some(n) {
                continue;
            }
            if socket.send(Message::Binary(data.clone())).await.is_err() {
                return;
            }
            sent.insert(id.clone(), *n);
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}
