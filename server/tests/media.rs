//! Media through the SFU over real UDP: str0m clients negotiate over the real signaling
//! WebSocket (publish and subscribe transports), a publisher's video and audio reach every
//! subscriber, tracks go when their publisher leaves, and bad media signaling is refused
//! without disturbing the call.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use common::{Backend, TestServer};
use parlor_server::sfu::tcp::{frame, Deframer};
use parlor_testkit::WsClient;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive, TcpType};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// How a transport reaches the SFU: UDP, or ICE-TCP (an active candidate connecting to the
/// SFU's passive one, RFC 4571 framing).
enum Link {
    Udp(UdpSocket),
    Tcp {
        /// Bound before the offer so the candidate names the address connections come from.
        socket: Option<tokio::net::TcpSocket>,
        writer: Option<tokio::net::tcp::OwnedWriteHalf>,
        tx: mpsc::UnboundedSender<(SocketAddr, Vec<u8>)>,
        rx: mpsc::UnboundedReceiver<(SocketAddr, Vec<u8>)>,
    },
}

/// One WebRTC connection of a client.
struct Transport {
    rtc: Rtc,
    link: Link,
    local: SocketAddr,
    next: Instant,
}

impl Transport {
    async fn new(tcp: bool) -> Self {
        let mut rtc = Rtc::new(Instant::now());
        let (link, local) = if tcp {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let local = socket.local_addr().unwrap();
            let c = Candidate::builder()
                .tcp()
                .host(local)
                .tcptype(TcpType::Active)
                .build();
            rtc.add_local_candidate(c.unwrap());
            let (tx, rx) = mpsc::unbounded_channel();
            (
                Link::Tcp {
                    socket: Some(socket),
                    writer: None,
                    tx,
                    rx,
                },
                local,
            )
        } else {
            let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let local = socket.local_addr().unwrap();
            rtc.add_local_candidate(Candidate::host(local, "udp").unwrap());
            (Link::Udp(socket), local)
        };
        Self {
            rtc,
            link,
            local,
            next: Instant::now(),
        }
    }

    async fn send(&mut self, to: SocketAddr, data: &[u8]) {
        match &mut self.link {
            Link::Udp(socket) => {
                let _ = socket.send_to(data, to).await;
            }
            Link::Tcp {
                socket, writer, tx, ..
            } => {
                if writer.is_none() {
                    // The first packet opens the connection, from the candidate's address.
                    let Some(s) = socket.take() else { return };
                    let Ok(stream) = s.connect(to).await else {
                        return;
                    };
                    let (mut read, write) = stream.into_split();
                    *writer = Some(write);
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        let mut d = Deframer::default();
                        let mut buf = vec![0u8; 4096];
                        while let Ok(n) = read.read(&mut buf).await {
                            if n == 0 {
                                break;
                            }
                            d.push(&buf[..n]);
                            while let Some(p) = d.next_packet() {
                                let _ = tx.send((to, p));
                            }
                        }
                    });
                }
                if let (Some(w), Some(framed)) = (writer.as_mut(), frame(data)) {
                    let _ = w.write_all(&framed).await;
                }
            }
        }
    }

    async fn recv(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        match &mut self.link {
            Link::Udp(socket) => {
                let mut buf = vec![0u8; 2048];
                let (n, from) = socket.recv_from(&mut buf).await.ok()?;
                buf.truncate(n);
                Some((from, buf))
            }
            Link::Tcp { rx, .. } => rx.recv().await,
        }
    }

    fn proto(&self) -> Protocol {
        match self.link {
            Link::Udp(_) => Protocol::Udp,
            Link::Tcp { .. } => Protocol::Tcp,
        }
    }

    /// Sends what str0m wants sent and collects its events.
    async fn drain(&mut self, events: &mut Vec<Event>) {
        loop {
            match self.rtc.poll_output().unwrap() {
                Output::Transmit(t) => self.send(t.destination, &t.contents).await,
                Output::Event(e) => events.push(e),
                Output::Timeout(t) => {
                    self.next = t;
                    return;
                }
            }
        }
    }

    fn receive(&mut self, from: SocketAddr, data: &[u8]) {
        if let Ok(r) = Receive::new(self.proto(), from, self.local, data) {
            let _ = self.rtc.handle_input(Input::Receive(Instant::now(), r));
        }
    }
}

#[derive(Default, Debug)]
struct Seen {
    /// Video frames received: their frame numbers (last byte) and whether keyframes.
    video: Vec<(u8, bool)>,
    audio: usize,
    keyframe_requests: usize,
    messages: Vec<Value>,
    connected_publish: bool,
    connected_subscribe: bool,
}

enum Cmd {
    /// Offer audio and video on the publish transport and start sending.
    Publish,
    Send(Value),
    Stop,
}

/// A client as a task: signaling, a publish and a subscribe transport, a 30 fps sender.
struct Client {
    cmds: mpsc::UnboundedSender<Cmd>,
    seen: Arc<Mutex<Seen>>,
    id: String,
}

impl Client {
    async fn join(s: &TestServer, name: &str, code: &str) -> Self {
        Self::join_over(s, name, code, false).await
    }

    /// Joins with the publish transport over ICE-TCP (`tcp`) or UDP.
    async fn join_over(s: &TestServer, name: &str, code: &str, tcp: bool) -> Self {
        let token = s.guest(name).await;
        let (ws, joined) = s.join(&token, code).await;
        let id = joined["participantId"].as_str().unwrap().to_owned();
        let (cmds, rx) = mpsc::unbounded_channel();
        let seen = Arc::new(Mutex::new(Seen::default()));
        tokio::spawn(run(ws, rx, seen.clone(), tcp));
        Self { cmds, seen, id }
    }

    fn send(&self, cmd: Cmd) {
        self.cmds.send(cmd).unwrap();
    }

    async fn until(&self, what: &str, f: impl Fn(&Seen) -> bool) {
        common::eventually(what, || async { f(&self.seen.lock().unwrap()) }).await;
    }

    fn message(&self, kind: &str) -> Vec<Value> {
        let seen = self.seen.lock().unwrap();
        seen.messages
            .iter()
            .filter(|m| m["type"] == kind)
            .cloned()
            .collect()
    }
}

async fn run(
    mut ws: WsClient,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    seen: Arc<Mutex<Seen>>,
    tcp: bool,
) {
    let mut publish = Transport::new(tcp).await;
    let mut subscribe = Transport::new(false).await;
    let mut pending: Option<SdpPendingOffer> = None;
    let mut mids: Option<(Mid, Mid)> = None;
    let mut frame_no: u8 = 0;
    let mut want_key = true;
    let mut next_frame = Instant::now();
    loop {
        let now = Instant::now();
        let wake = publish.next.min(subscribe.next).min(next_frame).max(now);
        tokio::select! {
            msg = ws.next() => {
                let Some(msg) = msg else { return };
                match (msg["type"].as_str(), msg["transport"].as_str()) {
                    (Some("answer"), Some("publish")) => {
                        let answer = SdpAnswer::from_sdp_string(msg["sdp"].as_str().unwrap()).unwrap();
                        publish.rtc.sdp_api().accept_answer(pending.take().unwrap(), answer).unwrap();
                    }
                    (Some("offer"), Some("subscribe")) => {
                        let offer = SdpOffer::from_sdp_string(msg["sdp"].as_str().unwrap()).unwrap();
                        let answer = subscribe.rtc.sdp_api().accept_offer(offer).unwrap();
                        ws.send(json!({"type": "answer", "target": "sfu", "transport": "subscribe", "sdp": answer.to_sdp_string()})).await;
                    }
                    _ => {}
                }
                seen.lock().unwrap().messages.push(msg);
            }
            cmd = cmds.recv() => match cmd {
                Some(Cmd::Publish) => {
                    let mut change = publish.rtc.sdp_api();
                    let audio = change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
                    let video = change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
                    let (offer, p) = change.apply().unwrap();
                    pending = Some(p);
                    mids = Some((audio, video));
                    ws.send(json!({"type": "offer", "target": "sfu", "transport": "publish", "sdp": offer.to_sdp_string()})).await;
                }
                Some(Cmd::Send(v)) => ws.send(v).await,
                Some(Cmd::Stop) | None => return,
            },
            Some((from, data)) = publish.recv() => publish.receive(from, &data),
            Some((from, data)) = subscribe.recv() => subscribe.receive(from, &data),
            () = tokio::time::sleep_until(wake.into()) => {}
        }
        let now = Instant::now();
        for t in [&mut publish, &mut subscribe] {
            if t.next <= now {
                let _ = t.rtc.handle_input(Input::Timeout(now));
            }
        }
        // Send a frame every 33 ms (and audio with it) once the publish transport is up.
        if let Some((audio, video)) = mids {
            if publish.rtc.is_connected() && now >= next_frame {
                next_frame = now + Duration::from_millis(33);
                let key = want_key || frame_no.is_multiple_of(60);
                want_key = false;
                let t90 = MediaTime::from_90khz(u64::from(frame_no) * 3000);
                if let Some(w) = publish.rtc.writer(video) {
                    let pt = w
                        .payload_params()
                        .find(|p| p.spec().codec == Codec::H264)
                        .map(|p| p.pt());
                    if let Some(pt) = pt {
                        let _ = w.write(
                            pt,
                            now,
                            t90,
                            parlor_testkit::media::h264_access_unit(frame_no, key, 2500),
                        );
                    }
                }
                if let Some(w) = publish.rtc.writer(audio) {
                    let pt = w
                        .payload_params()
                        .find(|p| p.spec().codec == Codec::Opus)
                        .map(|p| p.pt());
                    if let Some(pt) = pt {
                        let t48 =
                            MediaTime::new(u64::from(frame_no) * 1584, Frequency::FORTY_EIGHT_KHZ);
                        let _ = w.audio_level(-25, true).write(
                            pt,
                            now,
                            t48,
                            vec![0xf8, frame_no, 1, 2],
                        );
                    }
                }
                frame_no = frame_no.wrapping_add(1);
            }
        }
        let mut events = Vec::new();
        publish.drain(&mut events).await;
        let mut sub_events = Vec::new();
        subscribe.drain(&mut sub_events).await;
        let mut seen = seen.lock().unwrap();
        for e in events {
            match e {
                Event::Connected => seen.connected_publish = true,
                Event::KeyframeRequest(_) => {
                    seen.keyframe_requests += 1;
                    want_key = true;
                }
                _ => {}
            }
        }
        for e in sub_events {
            match e {
                Event::Connected => seen.connected_subscribe = true,
                Event::MediaData(d) if d.params.spec().codec == Codec::H264 => {
                    seen.video.push((*d.data.last().unwrap(), d.is_keyframe()));
                }
                Event::MediaData(_) => seen.audio += 1,
                _ => {}
            }
        }
    }
}

/// A meeting where A publishes and B subscribes.
async fn call(s: &TestServer) -> (String, String, Client, Client) {
    let host = s.account("Host").await;
    let code = s.meeting(&host, "Media").await;
    let a = Client::join(s, "A", &code).await;
    let b = Client::join(s, "B", &code).await;
    a.send(Cmd::Publish);
    (host, code, a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publisher_reaches_every_subscriber_through_the_sfu() {
    let s = TestServer::start(Backend::Sqlite).await;
    let (_, code, a, b) = call(&s).await;
    a.until("A's publish transport connects", |s| s.connected_publish)
        .await;
    // Everyone hears about both tracks; the late joiner finds them in `joined`.
    b.until("B hears of A's tracks", |s| {
        s.messages
            .iter()
            .filter(|m| m["type"] == "track_published")
            .count()
            == 2
    })
    .await;
    let c_token = s.guest("C").await;
    let (c_ws, c_joined) = s.join(&c_token, &code).await;
    assert_eq!(
        c_joined["tracks"].as_array().unwrap().len(),
        2,
        "{c_joined}"
    );
    drop(c_ws);

    for sub in [&b] {
        sub.until("video frames from A", |s| s.video.len() >= 30)
            .await;
        sub.until("audio from A", |s| s.audio >= 20).await;
        let seen = sub.seen.lock().unwrap();
        assert!(seen.connected_subscribe);
        // The first frame a subscriber gets is a keyframe, and frames come in order.
        assert!(
            seen.video[0].1,
            "starts on a keyframe: {:?}",
            &seen.video[..3]
        );
        let numbers: Vec<u8> = seen.video.iter().map(|v| v.0).take(100).collect();
        assert!(
            numbers
                .windows(2)
                .all(|w| w[1] == w[0].wrapping_add(1) || w[1] > w[0]),
            "{numbers:?}"
        );
    }
    // A hears itself speaking.
    a.until("active speakers", |s| {
        s.messages
            .iter()
            .any(|m| m["type"] == "active_speakers" && m["peerIds"][0] == a.id.as_str())
    })
    .await;
    assert!(
        a.seen.lock().unwrap().keyframe_requests >= 1,
        "the SFU asked for a keyframe"
    );

    // A leaves: its tracks go, for everyone.
    a.send(Cmd::Send(json!({"type": "leave"})));
    b.until("A's tracks unpublished", |s| {
        s.messages
            .iter()
            .filter(|m| m["type"] == "track_unpublished")
            .count()
            == 2
    })
    .await;
    let gone: Vec<Value> = b.message("track_unpublished");
    assert!(gone.iter().all(|m| m["peerId"] == a.id.as_str()));
    a.send(Cmd::Stop);
    b.send(Cmd::Stop);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_media_signaling_is_refused_and_the_call_goes_on() {
    let s = TestServer::start(Backend::Sqlite).await;
    let (host, code, a, b) = call(&s).await;
    b.until("video flowing", |s| s.video.len() >= 10).await;

    let token = s.guest("Mallory").await;
    let (mut m, _) = s.join(&token, &code).await;
    let cases = [
        (
            json!({"type": "offer", "target": "sfu", "transport": "publish", "sdp": "v=0\r\ngarbage"}),
            "bad_sdp",
        ),
        (
            json!({"type": "offer", "target": "sfu", "transport": "subscribe", "sdp": "v=0"}),
            "invalid_message",
        ),
        (
            json!({"type": "offer", "target": "sfu", "sdp": "v=0"}),
            "invalid_message",
        ),
        (
            json!({"type": "answer", "target": "sfu", "transport": "subscribe", "sdp": "v=0"}),
            "bad_sdp",
        ),
        (
            json!({"type": "ice-candidate", "target": "sfu", "transport": "publish", "candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host"}}),
            "peer_not_found",
        ),
        (
            json!({"type": "subscribe", "trackId": "t_nope"}),
            "not_found",
        ),
    ];
    for (msg, code) in cases {
        m.send(msg.clone()).await;
        let e = m.expect("error").await;
        assert_eq!(e["code"], code, "{msg}: {e}");
    }
    // The call carried on meanwhile.
    let before = b.seen.lock().unwrap().video.len();
    b.until("more video", |s| s.video.len() > before + 10).await;

    // A peer-to-peer meeting has no SFU to talk to.
    let (_, p2p) = s
        .post(
            "/api/meetings",
            Some(&host),
            json!({"title": "Direct", "mediaMode": "p2p"}),
        )
        .await;
    let (mut d, _) = s
        .join(&s.guest("D").await, p2p["code"].as_str().unwrap())
        .await;
    d.send(json!({"type": "offer", "target": "sfu", "transport": "publish", "sdp": "v=0"}))
        .await;
    d.expect_error("invalid_message").await;
    a.send(Cmd::Stop);
    b.send(Cmd::Stop);
}

/// A publisher whose network allows only TCP reaches its subscribers through ICE-TCP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_over_ice_tcp() {
    let s = TestServer::start(Backend::Sqlite).await;
    let host = s.account("Host").await;
    let code = s.meeting(&host, "TCP").await;
    let a = Client::join_over(&s, "A", &code, true).await;
    let b = Client::join(&s, "B", &code).await;
    a.send(Cmd::Publish);
    a.until("A's publish transport connects over TCP", |s| {
        s.connected_publish
    })
    .await;
    b.until("B decodes A's video", |s| s.video.len() >= 20)
        .await;
    assert!(b.seen.lock().unwrap().video[0].1, "starts on a keyframe");
    a.send(Cmd::Stop);
    b.send(Cmd::Stop);
}
