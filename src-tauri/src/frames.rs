//! Pictures for the web page: the self view and every decoded remote track, as raw I420 over
//! a WebSocket on loopback. Only a page that presents this session's token may connect. Each
//! connection gets the newest picture of each track; pictures it was too slow for are skipped,
//! never queued.
//!
//! One binary message per picture:
//! `[1 u8 version][n u8][n bytes track id, UTF-8][width u16 LE][height u16 LE][Y][U][V]`.
//!
//! The page may say how large it shows a track, as a text message
//! `{"track": "...", "width": W, "height": H}` (device pixels); pictures larger than that are
//! scaled down before they are sent, so no more pixels cross than can be seen.

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
type Latest = HashMap<String, (u64, Arc<I420Frame>)>;

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

/// How large the page shows a track.
#[derive(serde::Deserialize)]
struct Shown {
    track: String,
    width: usize,
    height: usize,
}

/// `picture` no larger than `width` x `height` (keeping its shape; even sides), by picking
/// the nearest source sample: cheap, and the page smooths when it draws. Smaller pictures are
/// left as they are.
pub fn fit(picture: &I420Frame, width: usize, height: usize) -> Option<I420Frame> {
    let scale = (width as f64 / picture.width as f64).min(height as f64 / picture.height as f64);
    if scale >= 1.0 || width == 0 || height == 0 {
        return None;
    }
    let w = ((picture.width as f64 * scale) as usize & !1).max(2);
    let h = ((picture.height as f64 * scale) as usize & !1).max(2);
    let mut out = I420Frame::new(w, h);
    let plane = |src: &[u8], sw: usize, sh: usize, dst: &mut [u8], dw: usize, dh: usize| {
        for y in 0..dh {
            let sy = y * sh / dh;
            for x in 0..dw {
                dst[y * dw + x] = src[sy * sw + x * sw / dw];
            }
        }
    };
    let (sw, sh) = (picture.width, picture.height);
    plane(&picture.y, sw, sh, &mut out.y, w, h);
    plane(&picture.u, sw / 2, sh / 2, &mut out.u, w / 2, h / 2);
    plane(&picture.v, sw / 2, sh / 2, &mut out.v, w / 2, h / 2);
    Some(out)
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
    pub fn publish(&self, track_id: &str, picture: Arc<I420Frame>) {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.latest.send_modify(|latest| {
            Arc::make_mut(latest).insert(track_id.to_owned(), (n, picture));
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
    // 32 alphanumeric characters: about 190 bits.
    let token: Arc<str> = parlor_server::util::random_token(32).into();
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

/// Sends each track's newest picture whenever there is one this connection has not sent,
/// fitted to the size the page shows it at.
async fn stream(socket: WebSocket, mut rx: watch::Receiver<Arc<Latest>>) {
    use futures_util::{SinkExt, StreamExt};
    let (mut out, mut incoming) = socket.split();
    let mut sent: HashMap<String, u64> = HashMap::new();
    let mut shown: HashMap<String, (usize, usize)> = HashMap::new();
    loop {
        let latest = rx.borrow_and_update().clone();
        sent.retain(|id, _| latest.contains_key(id));
        for (id, (n, picture)) in latest.iter() {
            if sent.get(id) == Some(n) {
                continue;
            }
            let fitted = shown.get(id).and_then(|&(w, h)| fit(picture, w, h));
            let data = encode(id, fitted.as_ref().unwrap_or(picture));
            if out.send(Message::Binary(data)).await.is_err() {
                return;
            }
            sent.insert(id.clone(), *n);
        }
        tokio::select! {
            changed = rx.changed() => if changed.is_err() { return },
            message = incoming.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    if let Ok(s) = serde_json::from_str::<Shown>(&text) {
                        shown.insert(s.track, (s.width, s.height));
                    }
                }
                Some(Ok(_)) => {}
                _ => return,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_are_fitted_to_the_shown_size_keeping_their_shape() {
        let mut p = I420Frame::new(640, 360);
        for (i, v) in p.y.iter_mut().enumerate() {
            *v = (i % 640 / 3) as u8;
        }
        let small = fit(&p, 320, 320).expect("smaller");
        assert_eq!((small.width, small.height), (320, 180));
        assert_eq!(small.y.len(), 320 * 180);
        assert_eq!(small.u.len(), 160 * 90);
        // Column 100 of the small picture samples column 200 of the large one.
        assert_eq!(small.y[100], p.y[200]);
        assert!(fit(&p, 1280, 720).is_none(), "never enlarged");
        assert!(fit(&p, 0, 0).is_none());
    }
}
