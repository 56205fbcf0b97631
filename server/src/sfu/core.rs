//! The SFU's media plane without I/O: str0m peers, tracks and forwarding for the rooms of one
//! worker. Inputs come in with an explicit `Instant` (packets, commands, timeouts); outputs
//! are queued datagrams to send and events for the signaling layer, and the next instant to
//! be woken at. The worker owns the socket; tests drive this directly with str0m peers in
//! memory.
//!
//! Each participant has up to two transports: **publish** (the client offers, the SFU
//! receives its tracks) and **subscribe** (the SFU offers one send-only m-line per track it
//! forwards, and renegotiates as tracks come and go). Forwarding is at the RTP level: each
//! packet is written to every subscriber's own stream with the subscriber's SSRC and a
//! rewritten sequence number and timestamp ([`super::rewrite`]).

use super::rewrite::{h264_starts_keyframe, Rewriter};
use super::speakers::Speakers;
use super::{RoomKey, SfuCommand, SfuEvent, TrackInfo};
use parlor_protocol::signal::{TrackKind, TransportKind};
use parlor_protocol::{ErrorBody, ErrorCode, ParticipantId, TrackId};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::PayloadParams;
use str0m::media::{Direction, KeyframeRequestKind, MediaKind, Mid, Pt};
use str0m::net::{Protocol, Receive, TcpType};
use str0m::rtp::{RtpPacket, RtpWrite};
use str0m::{Candidate, Event, IceConnectionState, IceCreds, Input, Output, Rtc, RtcConfig};

/// Keyframe requests to one publisher's track are at most this frequent.
const KEYFRAME_THROTTLE: Duration = Duration::from_millis(500);
/// Longest sleep between timeouts, whatever the peers ask for.
const MAX_SLEEP: Duration = Duration::from_millis(100);
/// Largest SDP accepted from a client.
/// How many forwarded video packets each subscriber stream keeps for answering NACKs, and
/// for how long.
const RTX_CACHE_PACKETS: usize = 1000;
const RTX_CACHE_AGE: Duration = Duration::from_secs(3);
/// The share of a subscriber stream's bytes over the last second that may be resends before
/// queued resends are dropped. str0m's default, 15 %, is reached by two or three resends in a
/// second on a low-bitrate picture (60 kbit/s is about 7.5 KB/s), so a short burst of loss
/// went unrepaired; 40 % still stops a resend storm on a link that is losing most packets.
const RTX_RATIO_CAP: f32 = 0.4;
const MAX_SDP_BYTES: usize = 64 * 1024;

type PeerKey = (ParticipantId, TransportKind);

/// What an m-line for a track says: its kind, and the msid stream (the publisher) and track.
type OutMeta = (MediaKind, String, String);

/// A datagram to send.
#[derive(Debug)]
pub struct Transmit {
    pub proto: Protocol,
    pub destination: SocketAddr,
    pub contents: Vec<u8>,
}

/// One subscriber's copy of one track.
struct OutTrack {
    track: TrackId,
    state: OutState,
    rewriter: Rewriter,
    /// Video waits for a keyframe before the first packet is forwarded.
    waiting_keyframe: bool,
    /// The subscriber's payload type for the publisher's, learned on the first packet.
    pt: Option<(Pt, Pt)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OutState {
    ToOpen,
    Negotiating(Mid),
    Open(Mid),
    ToStop(Mid),
    NegotiatingStop(Mid),
}

struct Peer {
    room: RoomKey,
    rtc: Rtc,
    ufrag: String,
    next_timeout: Instant,
    /// Publish: the tracks this transport carries, by mid.
    published: HashMap<Mid, TrackId>,
    /// Subscribe: the tracks going out, and the offer awaiting an answer.
    outs: Vec<OutTrack>,
    pending: Option<SdpPendingOffer>,
    connected: bool,
    failed: Option<String>,
}

struct Track {
    info: TrackInfo,
    room: RoomKey,
    mid: Mid,
    last_keyframe_request: Option<Instant>,
    /// A request that the throttle held back; sent when it allows.
    keyframe_wanted: bool,
}

struct Participant {
    room: RoomKey,
    /// `None`: receives every track. `Some`: only these.
    chosen: Option<HashSet<TrackId>>,
}

pub struct SfuCore {
    /// The address put in candidates; packets handed in are addressed to it.
    candidate_addr: SocketAddr,
    participants: HashMap<ParticipantId, Participant>,
    peers: HashMap<PeerKey, Peer>,
    by_ufrag: HashMap<String, PeerKey>,
    by_addr: HashMap<(Protocol, SocketAddr), PeerKey>,
    tracks: HashMap<TrackId, Track>,
    speakers: Speakers,
    transmits: VecDeque<Transmit>,
    events: VecDeque<SfuEvent>,
    track_seq: u64,
}

impl SfuCore {
    pub fn new(candidate_addr: SocketAddr, now: Instant) -> Self {
        Self {
            candidate_addr,
            participants: HashMap::new(),
            peers: HashMap::new(),
            by_ufrag: HashMap::new(),
            by_addr: HashMap::new(),
            tracks: HashMap::new(),
            speakers: Speakers::new(now),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            track_seq: 0,
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<SfuEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    pub fn next_timeout(&self, now: Instant) -> Instant {
        self.peers
            .values()
            .map(|p| p.next_timeout)
            .chain(std::iter::once(self.speakers.next_tick()))
            .chain(self.next_keyframe_due())
            .min()
            .unwrap_or(now + MAX_SLEEP)
            .min(now + MAX_SLEEP)
    }

    pub fn has_participants(&self) -> bool {
        !self.participants.is_empty()
    }

    // ---- commands from signaling ----

    pub fn handle_command(&mut self, now: Instant, cmd: SfuCommand) {
        match cmd {
            SfuCommand::Join { room, peer } => {
                // Everyone receives every track already in the room, by default.
                let existing: Vec<TrackId> = self
                    .tracks
                    .iter()
                    .filter(|(_, t)| t.room == room)
                    .map(|(id, _)| id.clone())
                    .collect();
                self.participants
                    .insert(peer.clone(), Participant { room, chosen: None });
                for track in &existing {
                    if let Err(e) = self.add_out(now, &peer, track) {
                        self.error(&peer, e);
                    }
                }
                self.negotiate(now, &peer);
            }
            SfuCommand::Leave { peer } => self.remove_participant(now, &peer),
            other => {
                let (peer, result) = match other {
                    SfuCommand::Offer {
                        peer,
                        transport,
                        sdp,
                    } => {
                        let r = self.offer(now, &peer, transport, &sdp);
                        (peer, r)
                    }
                    SfuCommand::Answer {
                        peer,
                        transport,
                        sdp,
                    } => {
                        let r = self.answer(now, &peer, transport, &sdp);
                        (peer, r)
                    }
                    SfuCommand::Candidate {
                        peer,
                        transport,
                        candidate,
                    } => {
                        let r = self.remote_candidate(now, &peer, transport, &candidate);
                        (peer, r)
                    }
                    SfuCommand::Subscribe { peer, track, on } => {
                        let r = self.choose(now, &peer, track, on);
                        (peer, r)
                    }
                    SfuCommand::Join { .. } | SfuCommand::Leave { .. } => return,
                };
                if let Err(e) = result {
                    self.error(&peer, e);
                }
            }
        }
        self.reap(now);
    }

    fn error(&mut self, peer: &ParticipantId, e: ErrorBody) {
        if let Some(p) = self.participants.get(peer) {
            self.events.push_back(SfuEvent::Error {
                room: p.room.clone(),
                peer: peer.clone(),
                error: e,
            });
        }
    }

    fn room_of(&self, peer: &ParticipantId) -> Result<RoomKey, ErrorBody> {
        self.participants
            .get(peer)
            .map(|p| p.room.clone())
            .ok_or_else(|| ErrorBody::new(ErrorCode::PeerNotFound, "not in a media room"))
    }

    fn new_rtc(&self, now: Instant) -> (Rtc, String) {
        let ufrag = crate::util::random_token(16);
        let creds = IceCreds {
            ufrag: ufrag.clone(),
            pass: crate::util::random_token(24),
        };
        let mut config = RtcConfig::new()
            .set_ice_lite(true)
            .set_rtp_mode(true)
            .set_local_ice_credentials(creds)
            .clear_codecs()
            .enable_opus(true, false);
        // The room's video codec: H.264 constrained baseline, packetization-mode 1, with RTX.
        config
            .codec_config()
            .add_h264(108.into(), Some(109.into()), true, 0x42e01f);
        let mut rtc = config.build(now);
        if let Ok(c) = Candidate::host(self.candidate_addr, "udp") {
            rtc.add_local_candidate(c);
        }
        // ICE-TCP: the worker listens on the same port; clients connect to it (passive).
        let tcp = Candidate::builder()
            .tcp()
            .host(self.candidate_addr)
            .tcptype(TcpType::Passive)
            .build();
        if let Ok(c) = tcp {
            rtc.add_local_candidate(c);
        }
        (rtc, ufrag)
    }

    fn ensure_peer(
        &mut self,
        now: Instant,
        peer: &ParticipantId,
        transport: TransportKind,
    ) -> Result<(), ErrorBody> {
        let key = (peer.clone(), transport);
        if self.peers.contains_key(&key) {
            return Ok(());
        }
        let room = self.room_of(peer)?;
        let (rtc, ufrag) = self.new_rtc(now);
        self.by_ufrag.insert(ufrag.clone(), key.clone());
        self.peers.insert(
            key,
            Peer {
                room,
                rtc,
                ufrag,
                next_timeout: now,
                published: HashMap::new(),
                outs: Vec::new(),
                pending: None,
                connected: false,
                failed: None,
            },
        );
        Ok(())
    }

    /// A client's offer: on the publish transport it says what the client sends.
    fn offer(
        &mut self,
        now: Instant,
        peer: &ParticipantId,
        transport: TransportKind,
        sdp: &str,
    ) -> Result<(), ErrorBody> {
        if transport != TransportKind::Publish {
            return Err(ErrorBody::new(
                ErrorCode::InvalidMessage,
                "offers go on the publish transport; the server offers on subscribe",
            ));
        }
        let offer = parse_sdp(sdp, SdpOffer::from_sdp_string)?;
        self.ensure_peer(now, peer, transport)?;
        let key = (peer.clone(), transport);
        let answer = self
            .with_rtc(&key, |rtc| rtc.sdp_api().accept_offer(offer))
            .ok_or_else(internal)?
            .map_err(|e| ErrorBody::new(ErrorCode::BadSdp, format!("offer refused: {e}")))?;
        let room = self.room_of(peer)?;
        self.events.push_back(SfuEvent::Answer {
            room,
            peer: peer.clone(),
            sdp: answer.to_sdp_string(),
        });
        self.drain(now, &key);
        Ok(())
    }

    /// A client's answer to the server's subscribe offer.
    fn answer(
        &mut self,
        now: Instant,
        peer: &ParticipantId,
        transport: TransportKind,
        sdp: &str,
    ) -> Result<(), ErrorBody> {
        if transport != TransportKind::Subscribe {
            return Err(ErrorBody::new(
                ErrorCode::InvalidMessage,
                "answers go on the subscribe transport",
            ));
        }
        let answer = parse_sdp(sdp, SdpAnswer::from_sdp_string)?;
        let key = (peer.clone(), transport);
        let pending = self
            .peers
            .get_mut(&key)
            .and_then(|p| p.pending.take())
            .ok_or_else(|| {
                ErrorBody::new(
                    ErrorCode::InvalidMessage,
                    "no subscribe offer is waiting for an answer",
                )
            })?;
        self.with_rtc(&key, |rtc| rtc.sdp_api().accept_answer(pending, answer))
            .ok_or_else(internal)?
            .map_err(|e| ErrorBody::new(ErrorCode::BadSdp, format!("answer refused: {e}")))?;
        let mut opened = Vec::new();
        if let Some(p) = self.peers.get_mut(&key) {
            for out in &mut p.outs {
                if let OutState::Negotiating(mid) = out.state {
                    out.state = OutState::Open(mid);
                    opened.push((out.track.clone(), mid));
                }
            }
            p.outs
                .retain(|o| !matches!(o.state, OutState::NegotiatingStop(_)));
        }
        for (track, mid) in opened {
            if self.tracks.get(&track).map(|t| t.info.kind) == Some(TrackKind::Video) {
                self.with_rtc(&key, |rtc| {
                    if let Some(tx) = rtc.direct_api().stream_tx_by_mid(mid, None) {
                        tx.set_rtx_cache(RTX_CACHE_PACKETS, RTX_CACHE_AGE, Some(RTX_RATIO_CAP));
                    }
                });
            }
            // A new subscriber needs a keyframe to start from.
            self.request_keyframe(now, &track);
        }
        self.drain(now, &key);
        self.negotiate(now, peer);
        Ok(())
    }

    fn remote_candidate(
        &mut self,
        now: Instant,
        peer: &ParticipantId,
        transport: TransportKind,
        candidate: &str,
    ) -> Result<(), ErrorBody> {
        let key = (peer.clone(), transport);
        if !self.peers.contains_key(&key) {
            return Err(ErrorBody::new(
                ErrorCode::PeerNotFound,
                format!("no {} transport to add a candidate to", transport.as_str()),
            ));
        }
        // An empty candidate marks the end of gathering.
        let line = candidate.trim().trim_start_matches("a=");
        if line.is_empty() {
            return Ok(());
        }
        let c = Candidate::from_sdp_string(line).map_err(|e| {
            ErrorBody::new(ErrorCode::InvalidMessage, format!("bad ICE candidate: {e}"))
        })?;
        self.with_rtc(&key, |rtc| rtc.add_remote_candidate(c))
            .ok_or_else(internal)?;
        self.drain(now, &key);
        Ok(())
    }

    fn choose(
        &mut self,
        now: Instant,
        peer: &ParticipantId,
        track: TrackId,
        on: bool,
    ) -> Result<(), ErrorBody> {
        let room = self.room_of(peer)?;
        let Some(t) = self.tracks.get(&track).filter(|t| t.room == room) else {
            return Err(ErrorBody::new(
                ErrorCode::NotFound,
                format!("no track {track} in this room"),
            ));
        };
        if &t.info.peer_id == peer {
            return Err(ErrorBody::new(
                ErrorCode::InvalidMessage,
                "that is your own track",
            ));
        }
        let all: Vec<TrackId> = self
            .tracks
            .iter()
            .filter(|(_, t)| t.room == room && &t.info.peer_id != peer)
            .map(|(id, _)| id.clone())
            .collect();
        if let Some(p) = self.participants.get_mut(peer) {
            let chosen = p.chosen.get_or_insert_with(|| all.into_iter().collect());
            if on {
                chosen.insert(track.clone());
            } else {
                chosen.remove(&track);
            }
        }
        if on {
            self.add_out(now, peer, &track)?;
        } else {
            self.stop_out(peer, &track);
        }
        self.negotiate(now, peer);
        Ok(())
    }

    // ---- packets and time ----

    /// A datagram from the network, addressed to the candidate address.
    pub fn handle_receive(
        &mut self,
        now: Instant,
        proto: Protocol,
        source: SocketAddr,
        data: &[u8],
    ) {
        let Ok(receive) = Receive::new(proto, source, self.candidate_addr, data) else {
            return;
        };
        let key = self.route(proto, source, data);
        let Some(key) = key else {
            return;
        };
        let input = Input::Receive(now, receive);
        let accepted = self.peers.get(&key).is_some_and(|p| p.rtc.accepts(&input));
        if !accepted {
            return;
        }
        if self.with_rtc(&key, |rtc| rtc.handle_input(input)).is_some() {
            self.by_addr
                .entry((proto, source))
                .or_insert_with(|| key.clone());
        }
        self.drain(now, &key);
        self.reap(now);
    }

    /// Finds the peer a datagram is for: by source address once known, else by the ICE
    /// username in a STUN request.
    fn route(&self, proto: Protocol, source: SocketAddr, data: &[u8]) -> Option<PeerKey> {
        if let Some(k) = self.by_addr.get(&(proto, source)) {
            return Some(k.clone());
        }
        let stun = str0m::ice::StunMessage::parse(data).ok()?;
        let (local, _remote) = stun.split_username()?;
        self.by_ufrag.get(local).cloned()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<PeerKey> = self
            .peers
            .iter()
            .filter(|(_, p)| p.next_timeout <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            self.with_rtc(&key, |rtc| rtc.handle_input(Input::Timeout(now)));
            self.drain(now, &key);
        }
        self.send_due_keyframe_requests(now);
        if let Some(speakers) = self.speakers.tick(now) {
            for (room, peers) in speakers {
                self.events
                    .push_back(SfuEvent::ActiveSpeakers { room, peers });
            }
        }
        self.reap(now);
    }

    /// Runs `f` on a peer's `Rtc`; a panic inside str0m fails only that peer.
    fn with_rtc<T>(&mut self, key: &PeerKey, f: impl FnOnce(&mut Rtc) -> T) -> Option<T> {
        let peer = self.peers.get_mut(key)?;
        if peer.failed.is_some() {
            return None;
        }
        match catch_unwind(AssertUnwindSafe(|| f(&mut peer.rtc))) {
            Ok(v) => Some(v),
            Err(_) => {
                tracing::error!(peer = %key.0, "media peer panicked; closing it");
                peer.failed = Some("internal media error".into());
                None
            }
        }
    }

    /// Drains one peer's output: datagrams queued, events handled (which may write to other
    /// peers, which are drained in turn).
    fn drain(&mut self, now: Instant, key: &PeerKey) {
        let mut work = VecDeque::from([key.clone()]);
        while let Some(key) = work.pop_front() {
            let mut events = Vec::new();
            loop {
                let out = self.with_rtc(&key, |rtc| rtc.poll_output());
                match out {
                    Some(Ok(Output::Transmit(t))) => self.transmits.push_back(Transmit {
                        proto: t.proto,
                        destination: t.destination,
                        contents: t.contents.into(),
                    }),
                    Some(Ok(Output::Event(e))) => events.push(e),
                    Some(Ok(Output::Timeout(t))) => {
                        if let Some(p) = self.peers.get_mut(&key) {
                            p.next_timeout = t;
                        }
                        break;
                    }
                    Some(Err(e)) => {
                        if let Some(p) = self.peers.get_mut(&key) {
                            p.failed = Some(format!("media error: {e}"));
                        }
                        break;
                    }
                    None => break,
                }
            }
            for e in events {
                for touched in self.on_event(now, &key, e) {
                    if !work.contains(&touched) {
                        work.push_back(touched);
                    }
                }
            }
        }
    }

    /// Handles one event from a peer; returns the peers whose output needs draining.
    fn on_event(&mut self, now: Instant, key: &PeerKey, event: Event) -> Vec<PeerKey> {
        match event {
            Event::Connected => {
                let waiting: Vec<TrackId> = match self.peers.get_mut(key) {
                    Some(p) => {
                        p.connected = true;
                        p.outs
                            .iter()
                            .filter(|o| o.waiting_keyframe)
                            .map(|o| o.track.clone())
                            .collect()
                    }
                    None => Vec::new(),
                };
                tracing::debug!(peer = %key.0, transport = key.1.as_str(), "media connected");
                // Keyframes sent before this subscriber could receive them were lost to it.
                waiting
                    .iter()
                    .filter_map(|t| self.request_keyframe(now, t))
                    .collect()
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                if let Some(p) = self.peers.get_mut(key) {
                    p.failed = Some("media connection lost".into());
                }
                Vec::new()
            }
            Event::MediaAdded(m) if key.1 == TransportKind::Publish => {
                self.publish(now, key, m.mid, m.kind);
                Vec::new()
            }
            Event::MediaChanged(m) if key.1 == TransportKind::Publish => {
                if !m.direction.is_receiving() {
                    self.unpublish_mid(key, m.mid);
                }
                Vec::new()
            }
            Event::RtpPacket(pkt) if key.1 == TransportKind::Publish => self.forward(now, key, pkt),
            Event::KeyframeRequest(req) if key.1 == TransportKind::Subscribe => {
                let track = self.peers.get(key).and_then(|p| {
                    p.outs
                        .iter()
                        .find(|o| o.state == OutState::Open(req.mid))
                        .map(|o| o.track.clone())
                });
                track
                    .and_then(|t| self.request_keyframe(now, &t))
                    .into_iter()
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    // ---- tracks ----

    fn publish(&mut self, now: Instant, key: &PeerKey, mid: Mid, kind: MediaKind) {
        let Some(room) = self.peers.get(key).map(|p| p.room.clone()) else {
            return;
        };
        self.track_seq += 1;
        let id = TrackId(format!(
            "t{}_{}",
            self.track_seq,
            crate::util::random_token(6)
        ));
        let info = TrackInfo {
            peer_id: key.0.clone(),
            track_id: id.clone(),
            kind: match kind {
                MediaKind::Audio => TrackKind::Audio,
                MediaKind::Video => TrackKind::Video,
            },
        };
        if let Some(p) = self.peers.get_mut(key) {
            p.published.insert(mid, id.clone());
        }
        self.tracks.insert(
            id.clone(),
            Track {
                info: info.clone(),
                room: room.clone(),
                mid,
                last_keyframe_request: None,
                keyframe_wanted: false,
            },
        );
        tracing::info!(peer = %key.0, track = %id, kind = ?info.kind, "track published");
        self.events.push_back(SfuEvent::TrackPublished {
            room: room.clone(),
            track: info,
        });
        let subscribers: Vec<ParticipantId> = self
            .participants
            .iter()
            .filter(|(pid, p)| p.room == room && **pid != key.0)
            .filter(|(_, p)| p.chosen.as_ref().is_none_or(|c| c.contains(&id)))
            .map(|(pid, _)| pid.clone())
            .collect();
        for sub in subscribers {
            if self.add_out(now, &sub, &id).is_ok() {
                self.negotiate(now, &sub);
            }
        }
    }

    fn unpublish_mid(&mut self, key: &PeerKey, mid: Mid) {
        let track = self
            .peers
            .get_mut(key)
            .and_then(|p| p.published.remove(&mid));
        if let Some(track) = track {
            self.unpublish(&track);
        }
    }

    /// Removes a track everywhere; subscribers renegotiate its m-line away.
    fn unpublish(&mut self, track: &TrackId) {
        let Some(t) = self.tracks.remove(track) else {
            return;
        };
        self.speakers.forget(track);
        tracing::info!(track = %track, "track unpublished");
        self.events.push_back(SfuEvent::TrackUnpublished {
            room: t.room.clone(),
            track: t.info,
        });
        let subs: Vec<ParticipantId> = self
            .peers
            .iter()
            .filter(|(k, p)| {
                k.1 == TransportKind::Subscribe && p.outs.iter().any(|o| &o.track == track)
            })
            .map(|(k, _)| k.0.clone())
            .collect();
        for sub in subs {
            self.stop_out(&sub, track);
        }
    }

    /// Queues a track to be offered to a subscriber.
    fn add_out(
        &mut self,
        now: Instant,
        sub: &ParticipantId,
        track: &TrackId,
    ) -> Result<(), ErrorBody> {
        let video = self
            .tracks
            .get(track)
            .is_some_and(|t| t.info.kind == TrackKind::Video);
        self.ensure_peer(now, sub, TransportKind::Subscribe)?;
        let key = (sub.clone(), TransportKind::Subscribe);
        if let Some(p) = self.peers.get_mut(&key) {
            if !p.outs.iter().any(|o| {
                &o.track == track
                    && !matches!(o.state, OutState::ToStop(_) | OutState::NegotiatingStop(_))
            }) {
                p.outs.push(OutTrack {
                    track: track.clone(),
                    state: OutState::ToOpen,
                    rewriter: Rewriter::new(rand::random()),
                    waiting_keyframe: video,
                    pt: None,
                });
            }
        }
        Ok(())
    }

    fn stop_out(&mut self, sub: &ParticipantId, track: &TrackId) {
        let key = (sub.clone(), TransportKind::Subscribe);
        if let Some(p) = self.peers.get_mut(&key) {
            p.outs.retain_mut(|o| {
                if &o.track != track {
                    return true;
                }
                match o.state {
                    OutState::ToOpen => false,
                    // Its offer is out; stop it once that is answered.
                    OutState::Negotiating(m) | OutState::Open(m) => {
                        o.state = OutState::ToStop(m);
                        true
                    }
                    OutState::ToStop(_) | OutState::NegotiatingStop(_) => true,
                }
            });
        }
    }

    /// Sends the subscriber a new offer if its tracks changed and no offer is outstanding.
    fn negotiate(&mut self, now: Instant, sub: &ParticipantId) {
        let key = (sub.clone(), TransportKind::Subscribe);
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        if peer.pending.is_some() || peer.failed.is_some() {
            return;
        }
        let wanted: Vec<(usize, OutState, Option<OutMeta>)> = peer
            .outs
            .iter()
            .enumerate()
            .filter(|(_, o)| matches!(o.state, OutState::ToOpen | OutState::ToStop(_)))
            .map(|(i, o)| {
                let meta = self.tracks.get(&o.track).map(|t| {
                    (
                        match t.info.kind {
                            TrackKind::Audio => MediaKind::Audio,
                            TrackKind::Video => MediaKind::Video,
                        },
                        t.info.peer_id.to_string(),
                        t.info.track_id.to_string(),
                    )
                });
                (i, o.state, meta)
            })
            .collect();
        if wanted.is_empty() {
            return;
        }
        let result = catch_unwind(AssertUnwindSafe(|| {
            let mut change = peer.rtc.sdp_api();
            let mut states = Vec::new();
            for (i, state, meta) in &wanted {
                match (state, meta) {
                    (OutState::ToOpen, Some((kind, stream, track))) => {
                        let mid = change.add_media(
                            *kind,
                            Direction::SendOnly,
                            Some(stream.clone()),
                            Some(track.clone()),
                            None,
                        );
                        states.push((*i, OutState::Negotiating(mid)));
                    }
                    (OutState::ToStop(mid), _) => {
                        change.stop_media(*mid);
                        states.push((*i, OutState::NegotiatingStop(*mid)));
                    }
                    _ => {}
                }
            }
            (change.apply(), states)
        }));
        let Ok((applied, states)) = result else {
            peer.failed = Some("internal media error".into());
            return;
        };
        let Some((offer, pending)) = applied else {
            return;
        };
        for (i, s) in states {
            if let Some(o) = peer.outs.get_mut(i) {
                o.state = s;
            }
        }
        peer.pending = Some(pending);
        let room = peer.room.clone();
        self.events.push_back(SfuEvent::Offer {
            room,
            peer: sub.clone(),
            sdp: offer.to_sdp_string(),
        });
        self.drain(now, &key);
    }

    /// Forwards one RTP packet from a publisher to every open subscriber of its track.
    fn forward(&mut self, now: Instant, from: &PeerKey, pkt: RtpPacket) -> Vec<PeerKey> {
        let Some(pub_peer) = self.peers.get_mut(from) else {
            return Vec::new();
        };
        let mid = pub_peer
            .rtc
            .direct_api()
            .stream_rx(&pkt.header.ssrc)
            .map(|s| s.mid());
        let Some(track_id) = mid.and_then(|m| pub_peer.published.get(&m)).cloned() else {
            return Vec::new();
        };
        let source_params: Option<PayloadParams> = pub_peer
            .rtc
            .codec_config()
            .find(|p| p.pt() == pkt.header.payload_type)
            .copied();
        let Some(track) = self.tracks.get(&track_id) else {
            return Vec::new();
        };
        let kind = track.info.kind;
        let (room, publisher) = (track.room.clone(), track.info.peer_id.clone());
        if kind == TrackKind::Audio {
            if let Some(level) = pkt.header.ext_vals.audio_level {
                self.speakers
                    .observe(&room, &publisher, &track_id, level, now);
            }
        }
        let starts_keyframe = kind == TrackKind::Video && h264_starts_keyframe(&pkt.payload);
        if starts_keyframe {
            // Whatever was held back is answered by this keyframe.
            if let Some(t) = self.tracks.get_mut(&track_id) {
                t.keyframe_wanted = false;
            }
        }
        let mut touched = Vec::new();
        for (key, sub) in self.peers.iter_mut() {
            if key.1 != TransportKind::Subscribe || sub.failed.is_some() || !sub.connected {
                continue;
            }
            let Some(out) = sub.outs.iter_mut().find(|o| o.track == track_id) else {
                continue;
            };
            let OutState::Open(mid) = out.state else {
                continue;
            };
            if out.waiting_keyframe {
                if !starts_keyframe {
                    continue;
                }
                out.waiting_keyframe = false;
            }
            let pt = match out.pt {
                Some((src, dst)) if src == pkt.header.payload_type => dst,
                _ => {
                    let Some(dst) = source_params
                        .and_then(|p| sub.rtc.codec_config().match_params(p))
                        .map(|p| p.pt())
                    else {
                        continue;
                    };
                    out.pt = Some((pkt.header.payload_type, dst));
                    dst
                }
            };
            let Some((seq, ts)) = out.rewriter.rewrite(*pkt.seq_no, pkt.header.timestamp) else {
                continue;
            };
            let write = RtpWrite::new(pt, seq.into(), ts, pkt.timestamp, pkt.payload.clone())
                .marker(pkt.header.marker)
                .ext_vals(pkt.header.ext_vals.clone())
                .nackable(kind == TrackKind::Video);
            let written = catch_unwind(AssertUnwindSafe(|| {
                if let Some(tx) = sub.rtc.direct_api().stream_tx_by_mid(mid, None) {
                    tx.write_rtp(write);
                }
            }));
            if written.is_err() {
                sub.failed = Some("internal media error".into());
            }
            touched.push(key.clone());
        }
        touched
    }

    /// Asks the track's publisher for a keyframe, at most once per throttle interval; a
    /// request inside the interval is sent when it ends. Returns the publisher's peer, which
    /// then needs draining.
    fn request_keyframe(&mut self, now: Instant, track: &TrackId) -> Option<PeerKey> {
        let t = self.tracks.get_mut(track)?;
        if t.info.kind != TrackKind::Video {
            return None;
        }
        if t.last_keyframe_request
            .is_some_and(|last| now.saturating_duration_since(last) < KEYFRAME_THROTTLE)
        {
            t.keyframe_wanted = true;
            return None;
        }
        t.last_keyframe_request = Some(now);
        t.keyframe_wanted = false;
        let key = (t.info.peer_id.clone(), TransportKind::Publish);
        let mid = t.mid;
        self.with_rtc(&key, |rtc| {
            if let Some(rx) = rtc.direct_api().stream_rx_by_mid(mid, None) {
                rx.request_keyframe(KeyframeRequestKind::Pli);
            }
        })?;
        self.events.push_back(SfuEvent::KeyframeRequested {
            track: track.clone(),
        });
        Some(key)
    }

    /// When the earliest held-back keyframe request may go.
    fn next_keyframe_due(&self) -> Option<Instant> {
        self.tracks
            .values()
            .filter(|t| t.keyframe_wanted)
            .filter_map(|t| t.last_keyframe_request.map(|l| l + KEYFRAME_THROTTLE))
            .min()
    }

    fn send_due_keyframe_requests(&mut self, now: Instant) {
        let due: Vec<TrackId> = self
            .tracks
            .iter()
            .filter(|(_, t)| t.keyframe_wanted)
            .map(|(id, _)| id.clone())
            .collect();
        for track in due {
            if let Some(key) = self.request_keyframe(now, &track) {
                self.drain(now, &key);
            }
        }
    }

    // ---- teardown ----

    /// Removes everything of a participant: its transports and its tracks everywhere.
    fn remove_participant(&mut self, now: Instant, peer: &ParticipantId) {
        for transport in [TransportKind::Publish, TransportKind::Subscribe] {
            self.drop_peer(&(peer.clone(), transport));
        }
        self.participants.remove(peer);
        self.renegotiate_all(now);
    }

    fn drop_peer(&mut self, key: &PeerKey) {
        let Some(mut p) = self.peers.remove(key) else {
            return;
        };
        self.by_ufrag.remove(&p.ufrag);
        self.by_addr.retain(|_, k| k != key);
        let _ = catch_unwind(AssertUnwindSafe(|| p.rtc.disconnect()));
        for track in p.published.into_values() {
            self.unpublish(&track);
        }
    }

    /// Removes failed peers (telling their owners) and renegotiates what that changed.
    fn reap(&mut self, now: Instant) {
        let failed: Vec<(PeerKey, RoomKey, String)> =
            self.peers
                .iter()
                .filter_map(|(k, p)| {
                    let reason = p.failed.clone().or_else(|| {
                        (!p.rtc.is_alive()).then(|| "media connection closed".into())
                    })?;
                    Some((k.clone(), p.room.clone(), reason))
                })
                .collect();
        if failed.is_empty() {
            return;
        }
        for (key, room, reason) in failed {
            tracing::info!(peer = %key.0, transport = key.1.as_str(), %reason, "media transport closed");
            self.drop_peer(&key);
            self.events.push_back(SfuEvent::TransportClosed {
                room,
                peer: key.0.clone(),
                transport: key.1,
                reason,
            });
        }
        self.renegotiate_all(now);
    }

    fn renegotiate_all(&mut self, now: Instant) {
        let subs: Vec<ParticipantId> = self
            .peers
            .keys()
            .filter(|k| k.1 == TransportKind::Subscribe)
            .map(|k| k.0.clone())
            .collect();
        for sub in subs {
            self.negotiate(now, &sub);
        }
    }
}

fn parse_sdp<T>(
    sdp: &str,
    parse: impl FnOnce(&str) -> Result<T, str0m::error::SdpError>,
) -> Result<T, ErrorBody> {
    if sdp.len() > MAX_SDP_BYTES {
        return Err(ErrorBody::new(ErrorCode::BadSdp, "SDP too large"));
    }
    catch_unwind(AssertUnwindSafe(|| parse(sdp)))
        .map_err(|_| ErrorBody::new(ErrorCode::BadSdp, "SDP could not be parsed"))?
        .map_err(|e| ErrorBody::new(ErrorCode::BadSdp, format!("SDP could not be parsed: {e}")))
}

fn internal() -> ErrorBody {
    ErrorBody::new(ErrorCode::Internal, "the media engine failed for this peer")
}
