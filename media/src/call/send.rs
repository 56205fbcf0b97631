//! Sending: capture and encode on threads of their own (both block), hand encoded frames to
//! async tasks that write them into the publish transport's tracks. Keyframe requests
//! (PLI/FIR) from the SFU reach the encoder; the congestion controller's estimate sets its
//! bitrate.

use super::peer::{h264_codec, opus_codec};
use super::stats::StageCpu;
use super::{CallError, CallEvent, MediaConfig, Shared, Source, LOCAL_TRACK};
use crate::capture::synthetic::{TestPattern, Tone};
use crate::capture::{AudioSource, VideoSource};
use crate::codec::h264::{H264Encoder, VideoEncoderConfig};
use crate::codec::opus::{AudioEncoderConfig, OpusEncoder};
use bytes::Bytes;
use rtc::media::Sample;
use rtc::media_stream::MediaStreamTrack;
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::statistics::StatsSelector;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::Track;
use webrtc::peer_connection::PeerConnection;
use webrtc::rtp_transceiver::RtpSender;

type Sent = (Arc<TrackLocalStaticSample>, Arc<dyn RtpSender>);

pub struct Tracks {
    video: Option<Sent>,
    audio: Option<Sent>,
}

impl Tracks {
    pub fn any(&self) -> bool {
        self.video.is_some() || self.audio.is_some()
    }
}

fn err(e: impl std::fmt::Display) -> CallError {
    CallError::WebRtc(e.to_string())
}

async fn add(
    pc: &Arc<dyn PeerConnection>,
    kind: RtpCodecKind,
    codec: rtc::rtp_transceiver::rtp_sender::RTCRtpCodec,
    name: &str,
) -> Result<Sent, CallError> {
    let track = Arc::new(
        TrackLocalStaticSample::new(
            Instant::now(),
            MediaStreamTrack::new(
                "parlor".into(),
                format!("parlor-{name}"),
                name.into(),
                kind,
                vec![RTCRtpEncodingParameters {
                    rtp_coding_parameters: RTCRtpCodingParameters {
                        ssrc: Some(rand_ssrc()),
                        ..Default::default()
                    },
                    codec,
                    ..Default::default()
                }],
            ),
        )
        .map_err(err)?,
    );
    let sender = pc
        .add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
        .await
        .map_err(err)?;
    Ok((track, sender))
}

fn rand_ssrc() -> u32 {
    // Any value but 0 will do; uniqueness within the session is what matters.
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (t.subsec_nanos() ^ (t.as_secs() as u32).rotate_left(16) ^ std::process::id()) | 1
}

pub async fn add_tracks(
    pc: &Arc<dyn PeerConnection>,
    config: &MediaConfig,
) -> Result<Tracks, CallError> {
    let video = match config.camera {
        Some(_) => Some(add(pc, RtpCodecKind::Video, h264_codec(), "video").await?),
        None => None,
    };
    let audio = match config.mic {
        Some(_) => Some(add(pc, RtpCodecKind::Audio, opus_codec(), "audio").await?),
        None => None,
    };
    Ok(Tracks { video, audio })
}

async fn negotiated(sent: &Sent) -> Result<(u32, u8), CallError> {
    let pt = sent
        .1
        .get_parameters()
        .await
        .map_err(err)?
        .rtp_parameters
        .codecs
        .first()
        .map(|c| c.payload_type)
        .ok_or_else(|| CallError::WebRtc("no codec negotiated".into()))?;
    let ssrc = *sent
        .0
        .ssrcs()
        .await
        .first()
        .ok_or_else(|| CallError::WebRtc("track has no SSRC".into()))?;
    Ok((ssrc, pt))
}

/// The opened camera and microphone with their encoders, before anything is sent.
pub struct Capture {
    video: Option<(Box<dyn VideoSource>, H264Encoder)>,
    audio: Option<(Box<dyn AudioSource>, OpusEncoder)>,
    bitrate_bps: u32,
    frame: Duration,
}

/// Opens a camera (or the test pattern) for pictures of `config`'s size and rate.
pub fn open_camera(
    source: &Source,
    config: &MediaConfig,
) -> Result<Box<dyn VideoSource>, CallError> {
    Ok(match source {
        Source::Synthetic => Box::new(TestPattern::new(config.width, config.height, config.fps)),
        #[cfg(feature = "camera")]
        Source::Device(id) => Box::new(crate::capture::camera::Camera::open(
            id,
            config.width as u32,
            config.height as u32,
            config.fps,
        )?),
        #[cfg(not(feature = "camera"))]
        Source::Device(_) => return Err(crate::capture::CaptureError::Unsupported("camera").into()),
    })
}

/// Opens a microphone (or the test tone).
pub fn open_mic(source: &Source) -> Result<Box<dyn AudioSource>, CallError> {
    Ok(match source {
        Source::Synthetic => Box::new(Tone::new(true)),
        #[cfg(feature = "microphone")]
        Source::Device(id) => Box::new(crate::capture::microphone::Microphone::open(Some(id))?),
        #[cfg(not(feature = "microphone"))]
        Source::Device(_) => {
            return Err(crate::capture::CaptureError::Unsupported("microphone").into())
        }
    })
}

/// Opens the sources and encoders `config` asks for, so a missing or busy device is reported
/// before the call connects.
pub fn open(config: &MediaConfig) -> Result<Capture, CallError> {
    let video = match &config.camera {
        None => None,
        Some(source) => {
            let encoder = H264Encoder::new(VideoEncoderConfig {
                bitrate_bps: config.video_bitrate_bps,
                fps: config.fps,
                ..VideoEncoderConfig::default()
            })?;
            Some((open_camera(source, config)?, encoder))
        }
    };
    let audio = match &config.mic {
        None => None,
        Some(source) => Some((
            open_mic(source)?,
            OpusEncoder::new(AudioEncoderConfig::default())?,
        )),
    };
    Ok(Capture {
        video,
        audio,
        bitrate_bps: config.video_bitrate_bps,
        frame: Duration::from_secs(1) / config.fps.max(1),
    })
}

/// Starts capture, encoding and sending for each track; they run until the call stops.
pub async fn start(
    tracks: &Tracks,
    capture: Capture,
    shared: Arc<Shared>,
    pc: Arc<dyn PeerConnection>,
) -> Result<(), CallError> {
    if let (Some(sent), Some((source, encoder))) = (&tracks.video, capture.video) {
        let (ssrc, pt) = negotiated(sent).await?;
        let keyframe = Arc::new(AtomicBool::new(false));
        let target_bps = Arc::new(AtomicU32::new(capture.bitrate_bps));
        let (tx, rx) = mpsc::channel(4);
        spawn_video_thread(
            source,
            encoder,
            tx,
            shared.clone(),
            keyframe.clone(),
            target_bps.clone(),
        );
        tokio::spawn(write_loop(
            sent.0.clone(),
            ssrc,
            pt,
            rx,
            capture.frame,
            shared.clone(),
            "video",
        ));
        tokio::spawn(keyframe_requests(sent.0.clone(), keyframe, shared.clone()));
        tokio::spawn(follow_bandwidth(pc, target_bps, shared.clone()));
    }
    if let (Some(sent), Some((source, encoder))) = (&tracks.audio, capture.audio) {
        let (ssrc, pt) = negotiated(sent).await?;
        let (tx, rx) = mpsc::channel(8);
        spawn_audio_thread(source, encoder, tx, shared.clone());
        tokio::spawn(write_loop(
            sent.0.clone(),
            ssrc,
            pt,
            rx,
            Duration::from_millis(20),
            shared,
            "audio",
        ));
    }
    Ok(())
}

/// An encoded frame on its way to the network.
struct Encoded {
    data: Vec<u8>,
    keyframe: bool,
}

fn spawn_video_thread(
    mut source: Box<dyn VideoSource>,
    mut encoder: H264Encoder,
    tx: mpsc::Sender<Encoded>,
    shared: Arc<Shared>,
    keyframe: Arc<AtomicBool>,
    target_bps: Arc<AtomicU32>,
) {
    let _ = std::thread::Builder::new()
        .name("parlor-video-in".into())
        .spawn(move || {
            while !shared.stopping.load(Ordering::Relaxed) {
                // Another camera chosen mid-call: the old one closes as it is dropped, and the
                // receivers get a keyframe to start the new picture from.
                if let Some(next) = shared.next_camera.lock().ok().and_then(|mut n| n.take()) {
                    source = next;
                    encoder.request_keyframe();
                }
                let Ok(frame) = StageCpu::time(&shared.cpu.capture, || source.next_frame()) else {
                    break;
                };
                if !shared.camera_on.load(Ordering::Relaxed) {
                    continue;
                }
                // The self view, when the caller renders pictures: the same picture, shared.
                let picture = Arc::new(frame.picture);
                if let Some(sink) = &shared.media_sink {
                    let _ = sink.send(CallEvent::Video {
                        peer_id: String::new(),
                        track_id: LOCAL_TRACK.to_owned(),
                        picture: picture.clone(),
                    });
                }
                if keyframe.swap(false, Ordering::Relaxed) {
                    encoder.request_keyframe();
                }
                let _ = encoder.set_bitrate(target_bps.load(Ordering::Relaxed));
                match StageCpu::time(&shared.cpu.encode, || encoder.encode(&picture)) {
                    Ok(Some(out)) => {
                        if tx
                            .blocking_send(Encoded {
                                data: out.data,
                                keyframe: out.keyframe,
                            })
                            .is_err()
                        {
                            break;
                        }
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "video encode failed"),
                }
            }
        });
}

fn spawn_audio_thread(
    mut source: Box<dyn AudioSource>,
    mut encoder: OpusEncoder,
    tx: mpsc::Sender<Encoded>,
    shared: Arc<Shared>,
) {
    let _ = std::thread::Builder::new()
        .name("parlor-audio-in".into())
        .spawn(move || {
            while !shared.stopping.load(Ordering::Relaxed) {
                if let Some(next) = shared.next_mic.lock().ok().and_then(|mut n| n.take()) {
                    source = next;
                }
                let Ok(frame) = StageCpu::time(&shared.cpu.capture, || source.next_frame()) else {
                    break;
                };
                shared
                    .mic_level
                    .store(rms(&frame.samples).to_bits(), Ordering::Relaxed);
                // Muted: nothing is encoded and no packet leaves.
                if !shared.mic_on.load(Ordering::Relaxed) {
                    continue;
                }
                match StageCpu::time(&shared.cpu.encode, || encoder.encode(&frame)) {
                    Ok(data) => {
                        if tx
                            .blocking_send(Encoded {
                                data,
                                keyframe: false,
                            })
                            .is_err()
                        {
                            break;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "audio encode failed"),
                }
            }
        });
}

/// Root mean square of 16-bit samples, scaled to 0..1.
fn rms(samples: &[i16]) -> f32 {
    let n = samples.len().max(1) as f64;
    let sum: f64 = samples.iter().map(|&s| f64::from(s).powi(2)).sum();
    ((sum / n).sqrt() / f64::from(i16::MAX)) as f32
}

async fn write_loop(
    track: Arc<TrackLocalStaticSample>,
    ssrc: u32,
    pt: u8,
    mut rx: mpsc::Receiver<Encoded>,
    duration: Duration,
    shared: Arc<Shared>,
    kind: &'static str,
) {
    while let Some(frame) = rx.recv().await {
        let bytes = frame.data.len() as u64;
        let sample = Sample {
            data: Bytes::from(frame.data),
            duration,
            ..Sample::new(Instant::now())
        };
        if let Err(e) = track.sample_writer(ssrc, pt).write_sample(&sample).await {
            tracing::debug!(error = %e, kind, "write_sample failed");
            continue;
        }
        if let Ok(mut local) = shared.local.lock() {
            let s = local.entry(kind).or_default();
            s.kind = kind.into();
            s.frames_sent += 1;
            s.bytes_sent += bytes;
            s.keyframes_sent += u64::from(frame.keyframe);
        }
    }
}

/// PLI and FIR from the SFU ask the encoder for a keyframe.
async fn keyframe_requests(
    track: Arc<TrackLocalStaticSample>,
    flag: Arc<AtomicBool>,
    shared: Arc<Shared>,
) {
    while let Some(TrackLocalEvent::OnRtcpPacket(packets)) = track.poll().await {
        let wants_key = packets.iter().any(|p| {
            p.as_any().is::<PictureLossIndication>() || p.as_any().is::<FullIntraRequest>()
        });
        if wants_key {
            flag.store(true, Ordering::Relaxed);
            if let Ok(mut local) = shared.local.lock() {
                local.entry("video").or_default().keyframe_requests_received += 1;
            }
        }
    }
}

/// Once a second, the congestion controller's target bitrate becomes the encoder's.
async fn follow_bandwidth(
    pc: Arc<dyn PeerConnection>,
    target: Arc<AtomicU32>,
    shared: Arc<Shared>,
) {
    while !shared.stopping.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let report = pc.get_stats(Instant::now(), StatsSelector::None).await;
        let video = report
            .outbound_rtp_streams()
            .find(|s| s.sent_rtp_stream_stats.rtp_stream_stats.kind == RtpCodecKind::Video)
            .map(|s| s.target_bitrate);
        if let Some(bps) = video.filter(|b| *b > 0.0) {
            // Leave headroom for audio and packet overhead.
            target.store((bps * 0.9) as u32, Ordering::Relaxed);
            if let Ok(mut local) = shared.local.lock() {
                local.entry("video").or_default().target_bitrate_kbps = bps / 1000.0;
            }
        }
    }
}

pub async fn fill_transport_stats(pc: &Arc<dyn PeerConnection>, shared: &Shared) {
    let report = pc.get_stats(Instant::now(), StatsSelector::None).await;
    if let Ok(mut local) = shared.local.lock() {
        for s in report.outbound_rtp_streams() {
            let kind = match s.sent_rtp_stream_stats.rtp_stream_stats.kind {
                RtpCodecKind::Video => "video",
                _ => "audio",
            };
            if let Some(l) = local.get_mut(kind) {
                if s.target_bitrate > 0.0 {
                    l.target_bitrate_kbps = s.target_bitrate / 1000.0;
                }
            }
        }
    }
}
