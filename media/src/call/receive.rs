//! Receiving: each remote track's RTP is reassembled into frames, decoded (video on a thread
//! of its own), checked and measured. A frame the decoder refuses, or a gap in the packets,
//! asks the sender for a keyframe.

use super::stats::{RemoteTrack, StageCpu};
use super::{CallEvent, Events, Shared};
use crate::codec::h264::H264Decoder;
use crate::codec::opus::OpusDecoder;
use crate::stamp;
use rtc::media::io::sample_builder::SampleBuilder;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp::codec::h264::H264Packet;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::{Duration, Instant, SystemTime};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{PeerConnectionEventHandler, RTCIceGatheringState};
use webrtc::runtime::Runtime;

/// Keyframe requests from this client are at most this frequent per track.
const PLI_INTERVAL: Duration = Duration::from_millis(500);
/// About a third of a second of 720p video, well past several NACK round trips on a LAN.
const MAX_LATE_PACKETS: u16 = 64;

pub struct SubscribeHandler {
    shared: Arc<Shared>,
    runtime: Arc<dyn Runtime>,
    events: Arc<Events>,
}

impl SubscribeHandler {
    pub(super) fn new(shared: Arc<Shared>, runtime: Arc<dyn Runtime>, events: Arc<Events>) -> Self {
        Self {
            shared,
            runtime,
            events,
        }
    }
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for SubscribeHandler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.events.gathered.notify_one();
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        // The SFU names each track's publisher in the msid stream and the track in its id.
        let peer_id = track.stream_id().await.to_string();
        let track_id = track.track_id().await.to_string();
        let kind = track.kind().await;
        let key = format!("{peer_id}/{track_id}");
        let label = if kind == RtpCodecKind::Video {
            "video"
        } else {
            "audio"
        };
        if let Ok(mut remote) = self.shared.remote.lock() {
            remote.insert(key.clone(), RemoteTrack::new(peer_id, track_id, label));
        }
        let shared = self.shared.clone();
        if kind == RtpCodecKind::Video {
            self.runtime.spawn(Box::pin(read_video(track, key, shared)));
        } else {
            self.runtime.spawn(Box::pin(read_audio(track, key, shared)));
        }
    }
}

fn with_track(shared: &Shared, key: &str, f: impl FnOnce(&mut RemoteTrack)) {
    if let Ok(mut remote) = shared.remote.lock() {
        if let Some(t) = remote.get_mut(key) {
            f(t);
        }
    }
}

/// Counts packets and losses from sequence numbers.
#[derive(Default)]
struct SeqTracker {
    last: Option<u16>,
}

impl SeqTracker {
    /// Packets lost before this one (0 for in-order, duplicates and late ones).
    fn next(&mut self, seq: u16) -> u64 {
        let lost = match self.last {
            Some(last) => {
                let gap = seq.wrapping_sub(last);
                if gap == 0 || gap > 0x8000 {
                    return 0;
                }
                u64::from(gap - 1)
            }
            None => 0,
        };
        self.last = Some(seq);
        lost
    }
}

/// The track's next RTP packet, counted (and its losses) in the track's stats; `None` when
/// the track ends or the call stops.
async fn next_packet(
    track: &Arc<dyn TrackRemote>,
    seq: &mut SeqTracker,
    shared: &Shared,
    key: &str,
) -> Option<rtc::rtp::Packet> {
    while !shared.stopping.load(Ordering::Relaxed) {
        match track.poll().await? {
            TrackRemoteEvent::OnRtpPacket(packet) => {
                let lost = seq.next(packet.header.sequence_number);
                with_track(shared, key, |t| {
                    t.stats.packets_received += 1;
                    t.stats.packets_lost += lost;
                });
                return Some(packet);
            }
            TrackRemoteEvent::OnEnded => return None,
            _ => {}
        }
    }
    None
}

async fn read_video(track: Arc<dyn TrackRemote>, key: String, shared: Arc<Shared>) {
    let media_ssrc = track.ssrcs().await.first().copied().unwrap_or_default();
    with_track(&shared, &key, |t| t.ssrc = media_ssrc);
    // A packet still missing after this many newer ones is given up (NACK and RTX have had
    // their chance): the frame is dropped and a keyframe requested, instead of stalling.
    let mut builder = SampleBuilder::new(MAX_LATE_PACKETS, H264Packet::default(), 90_000);
    let mut seq = SeqTracker::default();
    let wants_key = Arc::new(AtomicBool::new(true));
    let mut last_pli: Option<Instant> = None;
    // Access units for the decoder, each marked when frames were lost just before it.
    let (tx, rx) = std_mpsc::sync_channel::<(Vec<u8>, bool)>(8);
    let mut gap = false;
    spawn_decoder(rx, key.clone(), shared.clone(), wants_key.clone());
    while let Some(packet) = next_packet(&track, &mut seq, &shared, &key).await {
        let now = Instant::now();
        builder.push(now, packet);
        while let Some(sample) = builder.pop(now) {
            if sample.prev_dropped_packets > 0 {
                wants_key.store(true, Ordering::Relaxed);
                gap = true;
            }
            with_track(&shared, &key, |t| t.received(sample.data.len()));
            // A full queue means decoding fell behind: drop, and recover on a keyframe.
            match tx.try_send((sample.data.to_vec(), gap)) {
                Ok(()) => gap = false,
                Err(_) => {
                    wants_key.store(true, Ordering::Relaxed);
                    gap = true;
                }
            }
        }
        let due = last_pli.is_none_or(|t| t.elapsed() >= PLI_INTERVAL);
        if due && wants_key.swap(false, Ordering::Relaxed) {
            last_pli = Some(Instant::now());
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc,
            };
            if track.write_rtcp(vec![Box::new(pli)]).await.is_ok() {
                with_track(&shared, &key, |t| t.stats.keyframe_requests += 1);
            }
        }
    }
}

fn spawn_decoder(
    rx: std_mpsc::Receiver<(Vec<u8>, bool)>,
    key: String,
    shared: Arc<Shared>,
    wants_key: Arc<AtomicBool>,
) {
    let _ = std::thread::Builder::new()
        .name("parlor-video-out".into())
        .spawn(move || {
            let Ok(mut decoder) = H264Decoder::new() else {
                return;
            };
            // Until the first keyframe, and after frames were lost, deltas cannot be decoded
            // correctly: they are skipped (the picture freezes) until the next keyframe.
            let mut synced = false;
            while let Ok((au, after_gap)) = rx.recv() {
                if after_gap {
                    synced = false;
                }
                let keyframe = au_has_idr(&au);
                if !synced && !keyframe {
                    continue;
                }
                synced = true;
                match StageCpu::time(&shared.cpu.decode, || decoder.decode(&au)) {
                    Ok(Some(picture)) => {
                        let now = SystemTime::now();
                        let stamp = stamp::read(&picture).map(|s| (s.frame_number, s.age(now)));
                        with_track(&shared, &key, |t| t.decoded(shared.joined_at, stamp));
                        if let Some(sink) = &shared.media_sink {
                            let (peer_id, track_id) = key.split_once('/').unwrap_or((&key, ""));
                            let _ = sink.send(CallEvent::Video {
                                peer_id: peer_id.to_owned(),
                                track_id: track_id.to_owned(),
                                picture: Arc::new(picture),
                            });
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(
                            track = %key, error = %e, bytes = au.len(), nal_types = ?nal_types(&au),
                            "a video frame could not be decoded; asking for a keyframe"
                        );
                        with_track(&shared, &key, RemoteTrack::corrupt);
                        wants_key.store(true, Ordering::Relaxed);
                        synced = false;
                    }
                }
            }
        });
}

/// Whether an Annex-B access unit holds an IDR slice.
fn au_has_idr(au: &[u8]) -> bool {
    nal_types(au).contains(&5)
}

/// The NAL unit types in an Annex-B access unit, in order.
fn nal_types(au: &[u8]) -> Vec<u8> {
    au.windows(4)
        .filter(|w| w[..3] == [0, 0, 1])
        .map(|w| w[3] & 0x1f)
        .collect()
}

async fn read_audio(track: Arc<dyn TrackRemote>, key: String, shared: Arc<Shared>) {
    let Ok(mut decoder) = OpusDecoder::new() else {
        return;
    };
    let mut seq = SeqTracker::default();
    while let Some(packet) = next_packet(&track, &mut seq, &shared, &key).await {
        let decoded = StageCpu::time(&shared.cpu.decode, || decoder.decode(&packet.payload));
        let ok = decoded.is_ok();
        if let (Some(sink), Ok(frame)) = (&shared.media_sink, decoded) {
            let peer_id = key.split_once('/').map_or(key.as_str(), |(p, _)| p);
            let _ = sink.send(CallEvent::Audio {
                peer_id: peer_id.to_owned(),
                frame,
            });
        }
        with_track(&shared, &key, |t| {
            t.received(packet.payload.len());
            if ok {
                t.decoded(shared.joined_at, None);
            } else {
                t.corrupt();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_from_sequence_numbers() {
        let mut s = SeqTracker::default();
        assert_eq!(s.next(65534), 0);
        assert_eq!(s.next(65535), 0);
        assert_eq!(s.next(2), 2, "across the wrap, 0 and 1 lost");
        assert_eq!(s.next(1), 0, "late packet");
        assert_eq!(s.next(2), 0, "duplicate");
        assert!(au_has_idr(&[0, 0, 0, 1, 0x67, 1, 0, 0, 1, 0x65, 9]));
        assert!(!au_has_idr(&[0, 0, 0, 1, 0x41, 1]));
        assert_eq!(
            nal_types(&[0, 0, 0, 1, 0x67, 1, 0, 0, 1, 0x68, 0, 0, 1, 0x65]),
            [7, 8, 5]
        );
    }
}
