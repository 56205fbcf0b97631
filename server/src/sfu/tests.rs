//! The SFU core against real str0m client peers, all in memory: no sockets, synthetic time.
//! Clients use str0m's frame API (they packetize and depacketize H.264 and Opus); the core in
//! between forwards RTP, rewriting it per subscriber.

use super::core::SfuCore;
use super::{RoomKey, SfuCommand, SfuEvent};
use parlor_protocol::signal::{TrackKind, TransportKind};
use parlor_protocol::{ErrorCode, ParticipantId};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaData, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};

const SFU: &str = "10.0.0.1:5000";
const STEP: Duration = Duration::from_millis(5);

struct Client {
    id: ParticipantId,
    rtc: Rtc,
    addr: SocketAddr,
    pending: Option<SdpPendingOffer>,
    /// Media received: (mid, data).
    media: Vec<MediaData>,
    keyframe_requests: usize,
    next: Instant,
}

impl Client {
    fn new(id: &str, port: u16, now: Instant) -> Self {
        let addr: SocketAddr = format!("10.0.0.2:{port}").parse().unwrap();
        let mut rtc = RtcConfig::new().build(now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
        Self {
            id: ParticipantId::from(id),
            rtc,
            addr,
            pending: None,
            media: Vec::new(),
            keyframe_requests: 0,
            next: now,
        }
    }

    /// The payload type negotiated for `codec` on `mid`.
    fn pt(&mut self, mid: Mid, codec: Codec) -> str0m::media::Pt {
        self.rtc
            .writer(mid)
            .unwrap()
            .payload_params()
            .find(|p| p.spec().codec == codec)
            .map(|p| p.pt())
            .unwrap()
    }
}

struct Net {
    /// Drop every n-th large datagram (media, not handshakes) in each direction.
    loss_every: Option<usize>,
    sent: usize,
    dropped: usize,
    now: Instant,
    core: SfuCore,
    clients: Vec<Client>,
    events: Vec<SfuEvent>,
    room: RoomKey,
}

impl Net {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            loss_every: None,
            sent: 0,
            dropped: 0,
            now,
            core: SfuCore::new(SFU.parse().unwrap(), now),
            clients: Vec::new(),
            events: Vec::new(),
            room: RoomKey("room".into()),
        }
    }

    fn join(&mut self, id: &str) -> usize {
        let port = 6000 + self.clients.len() as u16;
        let c = Client::new(id, port, self.now);
        self.core.handle_command(
            self.now,
            SfuCommand::Join {
                room: self.room.clone(),
                peer: c.id.clone(),
            },
        );
        self.clients.push(c);
        self.clients.len() - 1
    }

    /// The client offers audio and video on its publish transport.
    fn publish(&mut self, i: usize) -> (Mid, Mid) {
        let c = &mut self.clients[i];
        let mut change = c.rtc.sdp_api();
        let audio = change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let video = change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
        let (offer, pending) = change.apply().unwrap();
        c.pending = Some(pending);
        let cmd = SfuCommand::Offer {
            peer: c.id.clone(),
            transport: TransportKind::Publish,
            sdp: offer.to_sdp_string(),
        };
        self.core.handle_command(self.now, cmd);
        self.pump();
        (audio, video)
    }

    /// Delivers everything in flight and advances time by one step.
    fn step(&mut self) {
        self.now += STEP;
        let now = self.now;
        for c in &mut self.clients {
            if c.next <= now {
                c.rtc.handle_input(Input::Timeout(now)).unwrap();
            }
        }
        self.core.handle_timeout(now);
        self.pump();
    }

    fn pump(&mut self) {
        let now = self.now;
        let sfu: SocketAddr = SFU.parse().unwrap();
        loop {
            let mut moved = false;
            for c in &mut self.clients {
                loop {
                    match c.rtc.poll_output().unwrap() {
                        Output::Transmit(t) => {
                            moved = true;
                            self.sent += 1;
                            let lost = t.contents.len() > 300
                                && self.loss_every.is_some_and(|n| self.sent.is_multiple_of(n));
                            if lost {
                                self.dropped += 1;
                            } else {
                                self.core
                                    .handle_receive(now, Protocol::Udp, c.addr, &t.contents);
                            }
                        }
                        Output::Event(Event::MediaData(d)) => c.media.push(d),
                        Output::Event(Event::KeyframeRequest(_)) => c.keyframe_requests += 1,
                        Output::Event(_) => {}
                        Output::Timeout(t) => {
                            c.next = t;
                            break;
                        }
                    }
                }
            }
            while let Some(t) = self.core.poll_transmit() {
                moved = true;
                self.sent += 1;
                if t.contents.len() > 300
                    && self.loss_every.is_some_and(|n| self.sent.is_multiple_of(n))
                {
                    self.dropped += 1;
                    continue;
                }
                if let Some(c) = self.clients.iter_mut().find(|c| c.addr == t.destination) {
                    let r = Receive::new(Protocol::Udp, sfu, c.addr, &t.contents).unwrap();
                    c.rtc.handle_input(Input::Receive(now, r)).unwrap();
                }
            }
            while let Some(e) = self.core.poll_event() {
                moved = true;
                self.signal(&e);
                self.events.push(e);
            }
            if !moved {
                break;
            }
        }
    }

    /// Plays the signaling layer: answers go to publishers, offers to subscribers.
    fn signal(&mut self, e: &SfuEvent) {
        match e {
            SfuEvent::Answer { peer, sdp, .. } => {
                let c = self.clients.iter_mut().find(|c| &c.id == peer).unwrap();
                let answer = SdpAnswer::from_sdp_string(sdp).unwrap();
                let pending = c.pending.take().unwrap();
                c.rtc.sdp_api().accept_answer(pending, answer).unwrap();
            }
            SfuEvent::Offer { peer, sdp, .. } => {
                let c = self.clients.iter_mut().find(|c| &c.id == peer).unwrap();
                let offer = SdpOffer::from_sdp_string(sdp).unwrap();
                // The subscribe transport is a second connection in a real client; one Rtc
                // per client here, as clients in these tests either publish or subscribe.
                let answer = c.rtc.sdp_api().accept_offer(offer).unwrap();
                let cmd = SfuCommand::Answer {
                    peer: peer.clone(),
                    transport: TransportKind::Subscribe,
                    sdp: answer.to_sdp_string(),
                };
                self.core.handle_command(self.now, cmd);
            }
            _ => {}
        }
    }

    fn run_until(&mut self, what: &str, mut done: impl FnMut(&Net) -> bool) {
        for _ in 0..4000 {
            if done(self) {
                return;
            }
            self.step();
        }
        panic!("never happened: {what}");
    }

    fn send_video(&mut self, i: usize, mid: Mid, n: u8, key: bool) {
        let now = self.now;
        let c = &mut self.clients[i];
        let pt = c.pt(mid, Codec::H264);
        let rtp_time = MediaTime::from_90khz(u64::from(n) * 3000);
        c.rtc
            .writer(mid)
            .unwrap()
            .write(
                pt,
                now,
                rtp_time,
                parlor_testkit::media::h264_access_unit(n, key, 1500),
            )
            .unwrap();
        self.pump();
    }

    fn send_audio(&mut self, i: usize, mid: Mid, n: u8) {
        let now = self.now;
        let c = &mut self.clients[i];
        let pt = c.pt(mid, Codec::Opus);
        let rtp_time = MediaTime::new(u64::from(n) * 960, str0m::media::Frequency::FORTY_EIGHT_KHZ);
        c.rtc
            .writer(mid)
            .unwrap()
            .audio_level(-20, true)
            .write(pt, now, rtp_time, vec![0xf8, n, n, n])
            .unwrap();
        self.pump();
    }

    /// `peer` chooses to receive A's video, or not.
    fn subscribe_video(&mut self, peer: &str, on: bool) {
        let cmd = SfuCommand::Subscribe {
            peer: ParticipantId::from(peer),
            track: track_id(self, TrackKind::Video),
            on,
        };
        self.core.handle_command(self.now, cmd);
    }

    fn published(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, SfuEvent::TrackPublished { .. }))
            .count()
    }

    fn video_frames(&self, i: usize) -> Vec<&MediaData> {
        self.clients[i]
            .media
            .iter()
            .filter(|d| d.params.spec().codec == Codec::H264)
            .collect()
    }

    fn audio_frames(&self, i: usize) -> usize {
        self.clients[i]
            .media
            .iter()
            .filter(|d| d.params.spec().codec == Codec::Opus)
            .count()
    }
}

/// Publisher A, subscribers B and C; A sends a keyframe then deltas, and audio.
fn call() -> (Net, Mid, Mid) {
    let mut net = Net::new();
    let a = net.join("a");
    net.join("b");
    net.join("c");
    let (audio, video) = net.publish(a);
    net.run_until("A's tracks published and everyone connected", |n| {
        n.published() == 2
            && n.clients.iter().all(|c| c.rtc.is_connected())
            && n.events
                .iter()
                .filter(|e| matches!(e, SfuEvent::Offer { .. }))
                .count()
                >= 2
    });
    // Let the subscribers' answers settle.
    for _ in 0..50 {
        net.step();
    }
    (net, audio, video)
}

#[test]
fn forwards_video_and_audio_to_every_subscriber() {
    let (mut net, audio, video) = call();
    let published: Vec<TrackKind> = net
        .events
        .iter()
        .filter_map(|e| match e {
            SfuEvent::TrackPublished { track, .. } => Some(track.kind),
            _ => None,
        })
        .collect();
    assert!(published.contains(&TrackKind::Audio) && published.contains(&TrackKind::Video));
    for n in 0..30u8 {
        net.send_video(0, video, n, n == 0);
        net.send_audio(0, audio, n);
        for _ in 0..4 {
            net.step();
        }
    }
    for _ in 0..100 {
        net.step();
    }
    for sub in [1, 2] {
        let frames = net.video_frames(sub);
        assert!(
            frames.len() >= 28,
            "subscriber {sub} decoded {} of 30 frames",
            frames.len()
        );
        // Frames arrive whole, in order, starting with the keyframe.
        assert!(frames[0].is_keyframe());
        let numbers: Vec<u8> = frames.iter().map(|d| *d.data.last().unwrap()).collect();
        assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
        // The subscriber's sequence numbers are the SFU's own, starting at 1.
        assert_eq!(**frames[0].seq_range.start(), 1);
        assert!(net.audio_frames(sub) >= 25, "subscriber {sub} audio");
    }
    // The publisher receives nothing of its own.
    assert!(net.clients[0].media.is_empty());
    // It spoke at -20 dBov: the SFU reports it as the active speaker.
    assert!(net.events.iter().any(|e| matches!(e,
        SfuEvent::ActiveSpeakers { peers, .. } if peers == &vec![ParticipantId::from("a")])));
}

#[test]
fn late_subscriber_gets_a_keyframe_first() {
    let (mut net, _audio, video) = call();
    net.send_video(0, video, 0, true);
    for n in 1..10u8 {
        net.send_video(0, video, n, false);
        net.step();
    }
    let before = net.clients[0].keyframe_requests;
    let late = net.join("d");
    net.subscribe_video("d", true);
    net.run_until("the late subscriber is connected", |n| {
        n.clients[late].rtc.is_connected()
    });
    net.run_until("the publisher is asked for a keyframe", |n| {
        n.clients[0].keyframe_requests > before
    });
    assert!(net
        .events
        .iter()
        .any(|e| matches!(e, SfuEvent::KeyframeRequested { .. })));
    // Deltas are not forwarded to it until the keyframe comes.
    for n in 10..15u8 {
        net.send_video(0, video, n, false);
        net.step();
    }
    assert!(net.video_frames(late).is_empty(), "no undecodable deltas");
    net.send_video(0, video, 15, true);
    for n in 16..20u8 {
        net.step();
        net.send_video(0, video, n, false);
    }
    for _ in 0..50 {
        net.step();
    }
    let frames = net.video_frames(late);
    assert!(frames.len() >= 4, "{}", frames.len());
    assert!(frames[0].is_keyframe());
    assert_eq!(*frames[0].data.last().unwrap(), 15);
}

fn track_id(net: &Net, kind: TrackKind) -> parlor_protocol::TrackId {
    net.events
        .iter()
        .find_map(|e| match e {
            SfuEvent::TrackPublished { track, .. } if track.kind == kind => {
                Some(track.track_id.clone())
            }
            _ => None,
        })
        .unwrap()
}

#[test]
fn leaving_unpublishes_and_renegotiates() {
    let (mut net, _audio, video) = call();
    net.send_video(0, video, 0, true);
    net.step();
    let offers_before = net
        .events
        .iter()
        .filter(|e| matches!(e, SfuEvent::Offer { .. }))
        .count();
    net.core.handle_command(
        net.now,
        SfuCommand::Leave {
            peer: ParticipantId::from("a"),
        },
    );
    net.pump();
    let unpublished: Vec<_> = net
        .events
        .iter()
        .filter(|e| matches!(e, SfuEvent::TrackUnpublished { .. }))
        .collect();
    assert_eq!(unpublished.len(), 2);
    net.run_until("subscribers offered the tracks' removal", |n| {
        n.events
            .iter()
            .filter(|e| matches!(e, SfuEvent::Offer { .. }))
            .count()
            >= offers_before + 2
    });
    // Commands for the one who left are refused, not crashes.
    net.core.handle_command(
        net.now,
        SfuCommand::Candidate {
            peer: ParticipantId::from("a"),
            transport: TransportKind::Publish,
            candidate: "candidate:1 1 udp 2130706431 10.0.0.2 6000 typ host".into(),
        },
    );
    net.core.handle_command(
        net.now,
        SfuCommand::Leave {
            peer: ParticipantId::from("a"),
        },
    );
    for _ in 0..20 {
        net.step();
    }
}

#[test]
fn bad_input_is_refused_per_peer() {
    let mut net = Net::new();
    let a = net.join("a");
    net.join("b");
    let bad: HashMap<&str, (SfuCommand, ErrorCode)> = HashMap::from([
        (
            "garbage SDP",
            (
                SfuCommand::Offer {
                    peer: "a".into(),
                    transport: TransportKind::Publish,
                    sdp: "v=0\r\nthis is not sdp".into(),
                },
                ErrorCode::BadSdp,
            ),
        ),
        (
            "offer on subscribe",
            (
                SfuCommand::Offer {
                    peer: "a".into(),
                    transport: TransportKind::Subscribe,
                    sdp: "v=0".into(),
                },
                ErrorCode::InvalidMessage,
            ),
        ),
        (
            "answer nobody asked for",
            (
                SfuCommand::Answer {
                    peer: "a".into(),
                    transport: TransportKind::Subscribe,
                    sdp: "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n".into(),
                },
                ErrorCode::InvalidMessage,
            ),
        ),
        (
            "candidate without transport",
            (
                SfuCommand::Candidate {
                    peer: "a".into(),
                    transport: TransportKind::Publish,
                    candidate: "candidate:1 1 udp 1 10.0.0.2 6000 typ host".into(),
                },
                ErrorCode::PeerNotFound,
            ),
        ),
    ]);
    for (case, (cmd, code)) in bad {
        net.core.handle_command(net.now, cmd);
        let err = net.core.poll_event();
        match err {
            Some(SfuEvent::Error { peer, error, .. }) => {
                assert_eq!(peer, ParticipantId::from("a"), "{case}");
                assert_eq!(error.code, code, "{case}: {}", error.message);
            }
            other => panic!("{case}: {other:?}"),
        }
    }
    // After all that, A can still publish and B still receives.
    let (_, video) = net.publish(a);
    net.run_until("connected", |n| {
        n.clients.iter().all(|c| c.rtc.is_connected()) && n.published() == 2
    });
    for _ in 0..50 {
        net.step();
    }
    for n in 0..5u8 {
        net.send_video(a, video, n, n == 0);
        net.step();
    }
    for _ in 0..50 {
        net.step();
    }
    assert!(!net.video_frames(1).is_empty());
}

/// 1 in 20 media datagrams lost on both legs, publisher → SFU and SFU → subscribers: NACK and
/// RTX on each leg repair them, and every frame arrives whole.
#[test]
fn nack_and_rtx_repair_loss_on_both_legs() {
    let (mut net, _audio, video) = call();
    net.loss_every = Some(20);
    for n in 0..40u8 {
        net.send_video(0, video, n, n == 0);
        for _ in 0..6 {
            net.step();
        }
    }
    for _ in 0..400 {
        net.step();
    }
    for sub in [1, 2] {
        let numbers: Vec<u8> = net
            .video_frames(sub)
            .iter()
            .map(|d| *d.data.last().unwrap())
            .collect();
        assert_eq!(numbers, (0..40).collect::<Vec<u8>>(), "subscriber {sub}");
    }
    assert!(
        net.dropped >= 10,
        "the link did lose packets: {}",
        net.dropped
    );
}

/// A subscriber that stops receiving a track gets it renegotiated away and no more of it; a
/// subscriber's own PLI reaches the publisher.
#[test]
fn unsubscribe_and_subscriber_keyframe_requests() {
    let (mut net, _audio, video) = call();
    net.send_video(0, video, 0, true);
    for _ in 0..20 {
        net.step();
    }
    assert!(!net.video_frames(1).is_empty());
    // B asks for a keyframe on its incoming video.
    let before = net.clients[0].keyframe_requests;
    let mid = net.video_frames(1)[0].mid;
    net.clients[1]
        .rtc
        .direct_api()
        .stream_rx_by_mid(mid, None)
        .unwrap()
        .request_keyframe(str0m::media::KeyframeRequestKind::Pli);
    net.run_until("B's PLI reaches A", |n| {
        n.clients[0].keyframe_requests > before
    });

    let offers = net
        .events
        .iter()
        .filter(|e| matches!(e, SfuEvent::Offer { .. }))
        .count();
    net.subscribe_video("b", false);
    net.run_until("B is offered the track's removal", |n| {
        n.events
            .iter()
            .filter(|e| matches!(e, SfuEvent::Offer { .. }))
            .count()
            > offers
    });
    for _ in 0..20 {
        net.step();
    }
    let (b_before, c_before) = (net.video_frames(1).len(), net.video_frames(2).len());
    for n in 1..10u8 {
        net.send_video(0, video, n, false);
        net.step();
    }
    for _ in 0..50 {
        net.step();
    }
    assert_eq!(net.video_frames(1).len(), b_before, "B gets no more of it");
    assert!(net.video_frames(2).len() > c_before, "C still does");
}
