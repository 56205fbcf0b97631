//! A call: signaling with `parlor-server`, the publish and subscribe transports to its SFU,
//! capture → encode → send, and receive → decode → measure.

mod peer;
mod receive;
mod send;
mod session;
pub mod signaling;
pub mod stats;
mod taps;

use crate::capture::CaptureError;
use crate::codec::CodecError;
use parlor_protocol::signal::{ClientMessage, ServerMessage, Target, TrackInfo, TransportKind};
use parlor_protocol::{ErrorBody, MeetingCode, ParticipantId};
pub use session::MediaSession;
use signaling::Signaling;
use stats::{CallReport, LocalTrackStats, RemoteTrack};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};
use webrtc::peer_connection::{
    PeerConnectionEventHandler, RTCIceGatheringState, RTCPeerConnectionState,
};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    #[error("signaling: {0}")]
    Signaling(String),
    #[error("the server refused: {0}")]
    Server(ErrorBody),
    #[error("WebRTC: {0}")]
    WebRtc(String),
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error("this call sends no {0}")]
    NotSending(&'static str),
}

/// Where a track's media comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Synthetic,
    Device(String),
}

/// The track id of the self view among [`CallEvent::Video`] pictures.
pub const LOCAL_TRACK: &str = "local";

#[derive(Clone, Debug)]
pub struct CallConfig {
    /// `http://host:port` of a `parlor-server`.
    pub server: String,
    /// Other addresses of the same Parlor (nodes of its cluster), tried in turn with `server`
    /// when getting back into the meeting after the server went away.
    pub fallback: Vec<String>,
    pub room: String,
    pub name: String,
    pub media: MediaConfig,
    /// How the server's certificate is trusted when it is reached over HTTPS.
    pub trust: crate::tls::Trust,
}

/// What to capture and how to encode it.
#[derive(Clone, Debug)]
pub struct MediaConfig {
    /// `None`: send no video.
    pub camera: Option<Source>,
    /// `None`: send no audio.
    pub mic: Option<Source>,
    pub width: usize,
    pub height: usize,
    pub fps: u32,
    pub video_bitrate_bps: u32,
    /// Local address the media sockets bind to.
    pub bind_ip: std::net::IpAddr,
    /// Send decoded pictures and audio as [`CallEvent::Video`] and [`CallEvent::Audio`] (for
    /// rendering and playback), and captured pictures as the self view; a headless client
    /// only measures them.
    pub deliver_media: bool,
}

/// What a running call reports.
#[derive(Clone, Debug)]
pub enum CallEvent {
    Joined {
        participant_id: String,
    },
    PeerJoined {
        peer_id: String,
        name: String,
    },
    PeerLeft {
        peer_id: String,
    },
    TrackAdded(TrackInfo),
    TrackRemoved(TrackInfo),
    ActiveSpeakers(Vec<String>),
    /// A decoded picture from `peer_id`'s video track (with `deliver_media`).
    Video {
        peer_id: String,
        track_id: String,
        picture: Arc<crate::frame::I420Frame>,
    },
    /// 20 ms of decoded audio from `peer_id` (with `deliver_media`).
    Audio {
        peer_id: String,
        frame: crate::frame::AudioFrame,
    },
    /// Once a second: everything measured so far.
    Stats(CallReport),
    Chat {
        from: String,
        text: String,
    },
    /// The host turned this participant's microphone off.
    MutedByHost {
        by: String,
    },
    Error(String),
    /// The call is over; `reason` as in [`CallReport::ended`].
    Ended {
        reason: String,
    },
}

/// What a running call can be told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    Mic(bool),
    Camera(bool),
    Chat(String),
    Leave,
}

/// State shared by the call's tasks and threads.
pub(crate) struct Shared {
    pub joined_at: Instant,
    pub remote: Mutex<HashMap<String, RemoteTrack>>,
    pub local: Mutex<HashMap<&'static str, LocalTrackStats>>,
    pub mic_on: AtomicBool,
    pub camera_on: AtomicBool,
    /// A camera or microphone chosen during the call, for its capture thread to take up.
    pub next_camera: Mutex<Option<Box<dyn crate::capture::VideoSource>>>,
    pub next_mic: Mutex<Option<Box<dyn crate::capture::AudioSource>>>,
    /// The microphone's loudness over its last 20 ms (RMS, 0 to 1, as `f32` bits), muted or
    /// not, for a level meter.
    pub mic_level: std::sync::atomic::AtomicU32,
    pub stopping: AtomicBool,
    /// Where decoded media goes, when the caller asked for it.
    pub media_sink: Option<mpsc::UnboundedSender<CallEvent>>,
    /// NACKs sent on the subscribe transport, by media SSRC.
    pub nacks: taps::NackCounts,
    pub cpu: stats::StageCpu,
}

impl Shared {
    pub fn report(&self, participant_id: &str, ended: Option<&str>) -> CallReport {
        let nacks = self.nacks.lock().map(|n| n.clone()).unwrap_or_default();
        let mut remote: Vec<_> = self
            .remote
            .lock()
            .map(|r| {
                r.values()
                    .map(|t| {
                        let mut s = t.snapshot();
                        s.nacks_sent = nacks.get(&t.ssrc).copied().unwrap_or(0);
                        s
                    })
                    .collect()
            })
            .unwrap_or_default();
        remote.sort_by(|a, b| (&a.peer_id, &a.kind).cmp(&(&b.peer_id, &b.kind)));
        let mut local: Vec<_> = self
            .local
            .lock()
            .map(|l| l.values().cloned().collect())
            .unwrap_or_default();
        local.sort_by(|a, b| a.kind.cmp(&b.kind));
        CallReport {
            participant_id: participant_id.to_owned(),
            duration_s: self.joined_at.elapsed().as_secs_f64(),
            remote,
            local,
            ended: ended.map(str::to_owned),
            cpu: self.cpu.report(),
            reconnects: 0,
            recovery_ms: Vec::new(),
            recovered_at_ms: Vec::new(),
        }
    }
}

#[derive(Default)]
pub(crate) struct Events {
    gathered: Notify,
    connected: Notify,
    failed: AtomicBool,
}

struct PublishHandler(Arc<Events>);

#[async_trait::async_trait]
impl PeerConnectionEventHandler for PublishHandler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.0.gathered.notify_one();
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        match state {
            RTCPeerConnectionState::Connected => self.0.connected.notify_one(),
            RTCPeerConnectionState::Failed => self.0.failed.store(true, Ordering::Relaxed),
            _ => {}
        }
    }
}

/// How long a call keeps trying to get back into its meeting after losing its server.
const RECONNECT_BUDGET: Duration = Duration::from_secs(30);

/// How one connection to the meeting ended.
enum Outcome {
    /// The call is over, for this reason (as in [`CallReport::ended`]).
    Over(String),
    /// The server went away (a dropped socket, a restart): join again and resume.
    Lost(String),
    Failed(CallError),
}

/// Connects and joins (resuming with `resume`), returning the socket and the `joined` parts
/// the call needs.
async fn join(
    config: &CallConfig,
    server: &str,
    token: &str,
    resume: Option<String>,
    names: &mut HashMap<String, String>,
) -> Result<(Signaling, ParticipantId, String), CallError> {
    let mut sig = Signaling::connect(server, token, &config.trust).await?;
    sig.send(&ClientMessage::Join {
        room_id: MeetingCode(config.room.clone()),
        resume_token: resume,
        request_id: None,
    })
    .await?;
    loop {
        match sig.recv().await {
            Some(Ok(ServerMessage::Joined {
                participant_id,
                peers,
                resume_token,
                ..
            })) => {
                names.extend(peers.into_iter().map(|p| (p.peer_id.0, p.display_name)));
                return Ok((sig, participant_id, resume_token));
            }
            Some(Ok(ServerMessage::Error(e))) => return Err(CallError::Server(e)),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e),
            None => return Err(CallError::Signaling("closed before joining".into())),
        }
    }
}

/// Runs a call until `duration` passes, the meeting ends or [`Control::Leave`] arrives. When
/// the server goes away mid-call (a node stopping or dying in a cluster), it joins again with
/// its resume token, for up to [`RECONNECT_BUDGET`], and media starts afresh.
pub async fn run(
    config: CallConfig,
    duration: Option<Duration>,
    mut controls: mpsc::UnboundedReceiver<Control>,
    events: mpsc::UnboundedSender<CallEvent>,
) -> Result<CallReport, CallError> {
    let token = signaling::guest_token(&config.server, &config.name, &config.trust).await?;
    let deadline = duration.map(|d| tokio::time::Instant::now() + d);
    let mut names: HashMap<String, String> = HashMap::new();
    let mut resume: Option<String> = None;
    let mut lost: Option<(tokio::time::Instant, String)> = None;
    let (mut reconnects, mut recovery_ms) = (0u32, Vec::new());
    let mut recovered_at_ms = Vec::new();
    let servers: Vec<&str> = std::iter::once(config.server.as_str())
        .chain(config.fallback.iter().map(String::as_str))
        .collect();
    let mut attempt = 0usize;
    loop {
        // After losing the server, every address is tried in turn.
        let server = servers[attempt % servers.len()];
        attempt += 1;
        let (mut sig, participant_id, resume_token) =
            match join(&config, server, &token.token, resume.clone(), &mut names).await {
                Ok(joined) => joined,
                Err(e) => match &lost {
                    Some((at, _)) if at.elapsed() < RECONNECT_BUDGET => {
                        tokio::time::sleep(Duration::from_millis(250)).await;
                        continue;
                    }
                    Some((_, why)) => {
                        return Err(CallError::Signaling(format!(
                            "lost the server ({why}) and could not join again: {e}"
                        )))
                    }
                    None => return Err(e),
                },
            };
        resume = Some(resume_token);
        attempt = 0;
        if lost.is_some() {
            reconnects += 1;
        }
        let _ = events.send(CallEvent::Joined {
            participant_id: participant_id.to_string(),
        });
        let (mut media, offer) = MediaSession::start(&config.media, events.clone()).await?;
        let outcome = match offer {
            Some(sdp) => sig
                .send(&ClientMessage::Offer {
                    peer_id: None,
                    target: Some(Target::Sfu),
                    transport: Some(TransportKind::Publish),
                    sdp,
                    request_id: None,
                })
                .await
                .err()
                .map(|e| Outcome::Lost(e.to_string())),
            None => None,
        };
        let outcome = match outcome {
            Some(o) => o,
            None => {
                let mut call = Connected {
                    sig: &mut sig,
                    media: &mut media,
                    participant_id: &participant_id,
                    names: &mut names,
                    events: &events,
                    lost: &mut lost,
                    recovery_ms: &mut recovery_ms,
                    recovered_at_ms: &mut recovered_at_ms,
                };
                call.run(&mut controls, deadline).await
            }
        };
        match outcome {
            Outcome::Over(reason) => {
                let mut report = media.finish(participant_id.as_str(), &reason).await;
                report.reconnects = reconnects;
                report.recovery_ms = recovery_ms;
                report.recovered_at_ms = recovered_at_ms;
                let _ = events.send(CallEvent::Ended { reason });
                return Ok(report);
            }
            Outcome::Lost(why) => {
                tracing::info!(reason = %why, "lost the server; joining again");
                media.close().await;
                lost = Some((tokio::time::Instant::now(), why));
            }
            Outcome::Failed(e) => {
                media.close().await;
                return Err(e);
            }
        }
    }
}

/// One connection's part of a call.
struct Connected<'a> {
    sig: &'a mut Signaling,
    media: &'a mut MediaSession,
    participant_id: &'a ParticipantId,
    names: &'a mut HashMap<String, String>,
    events: &'a mpsc::UnboundedSender<CallEvent>,
    /// Set while getting back after losing the server; cleared at the first picture decoded.
    lost: &'a mut Option<(tokio::time::Instant, String)>,
    recovery_ms: &'a mut Vec<u64>,
    recovered_at_ms: &'a mut Vec<u64>,
}

impl Connected<'_> {
    async fn run(
        &mut self,
        controls: &mut mpsc::UnboundedReceiver<Control>,
        deadline: Option<tokio::time::Instant>,
    ) -> Outcome {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut recovering = tokio::time::interval(Duration::from_millis(50));
        loop {
            tokio::select! {
                msg = self.sig.recv() => {
                    let msg = match msg {
                        Some(Ok(m)) => m,
                        Some(Err(e)) => return Outcome::Lost(e.to_string()),
                        None => return Outcome::Lost("the server closed the connection".into()),
                    };
                    if let Some(outcome) = self.on_message(msg).await {
                        return outcome;
                    }
                }
                control = controls.recv() => {
                    if let Some(outcome) = self.on_control(control).await {
                        return outcome;
                    }
                }
                _ = tick.tick() => {
                    let report = self.media.report(self.participant_id.as_str(), None);
                    let _ = self.events.send(CallEvent::Stats(report));
                }
                _ = recovering.tick(), if self.lost.is_some() => {
                    let report = self.media.report(self.participant_id.as_str(), None);
                    let decoding = report.remote.iter().any(|t| t.kind == "video" && t.frames_decoded > 0);
                    if decoding {
                        if let Some((at, _)) = self.lost.take() {
                            let ms = u64::try_from(at.elapsed().as_millis()).unwrap_or(u64::MAX);
                            tracing::info!(after_ms = ms, "back in the meeting, pictures flowing");
                            self.recovery_ms.push(ms);
                            let now = std::time::SystemTime::now()
                                .duration_since(std::time::UNIX_EPOCH)
                                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                            self.recovered_at_ms.push(now);
                        }
                    }
                }
                () = sleep_until(deadline) => {
                    let _ = self.sig.send(&ClientMessage::Leave { request_id: None }).await;
                    return Outcome::Over("left".to_owned());
                }
            }
        }
    }

    async fn send(&mut self, msg: &ClientMessage) -> Option<Outcome> {
        self.sig
            .send(msg)
            .await
            .err()
            .map(|e| Outcome::Lost(e.to_string()))
    }

    async fn on_message(&mut self, msg: ServerMessage) -> Option<Outcome> {
        let events = self.events;
        match msg {
            ServerMessage::Answer {
                target: Some(Target::Sfu),
                sdp,
                ..
            } => {
                if let Err(e) = self.media.publish_answer(sdp).await {
                    return Some(Outcome::Failed(e));
                }
            }
            ServerMessage::Offer {
                target: Some(Target::Sfu),
                sdp,
                ..
            } => {
                let sdp = match self.media.subscribe_offer(sdp).await {
                    Ok(sdp) => sdp,
                    Err(e) => return Some(Outcome::Failed(e)),
                };
                return self
                    .send(&ClientMessage::Answer {
                        peer_id: None,
                        target: Some(Target::Sfu),
                        transport: Some(TransportKind::Subscribe),
                        sdp,
                        request_id: None,
                    })
                    .await;
            }
            ServerMessage::PeerJoined {
                peer_id,
                display_name,
                ..
            } => {
                self.names.insert(peer_id.0.clone(), display_name.clone());
                let _ = events.send(CallEvent::PeerJoined {
                    peer_id: peer_id.0,
                    name: display_name,
                });
            }
            ServerMessage::PeerLeft { peer_id, .. } => {
                let _ = events.send(CallEvent::PeerLeft { peer_id: peer_id.0 });
            }
            ServerMessage::TrackPublished(t) => {
                let _ = events.send(CallEvent::TrackAdded(t));
            }
            ServerMessage::TrackUnpublished(t) => {
                let _ = events.send(CallEvent::TrackRemoved(t));
            }
            ServerMessage::ActiveSpeakers { peer_ids } => {
                let _ = events.send(CallEvent::ActiveSpeakers(
                    peer_ids.into_iter().map(|p| p.0).collect(),
                ));
            }
            ServerMessage::Chat(m) => {
                let _ = events.send(CallEvent::Chat {
                    from: m.display_name,
                    text: m.text,
                });
            }
            ServerMessage::Muted { peer_id, by } if &peer_id == self.participant_id => {
                // The server has already marked the microphone off for everyone.
                self.media.set_mic(false);
                let by = self.names.get(by.as_str()).cloned().unwrap_or(by.0);
                let _ = events.send(CallEvent::MutedByHost { by });
            }
            ServerMessage::Error(e) => {
                let _ = events.send(CallEvent::Error(e.to_string()));
            }
            ServerMessage::ServerShutdown { reconnect_after_ms } => {
                tokio::time::sleep(Duration::from_millis(reconnect_after_ms.min(5_000))).await;
                return Some(Outcome::Lost("the server is restarting".into()));
            }
            ServerMessage::MeetingEnded { reason, .. } => {
                return Some(Outcome::Over(format!("meeting_ended:{}", reason.as_str())))
            }
            ServerMessage::Removed { .. } => return Some(Outcome::Over("removed".to_owned())),
            _ => {}
        }
        None
    }

    async fn on_control(&mut self, control: Option<Control>) -> Option<Outcome> {
        match control {
            Some(c @ (Control::Mic(_) | Control::Camera(_))) => {
                match c {
                    Control::Mic(on) => self.media.set_mic(on),
                    _ => self.media.set_camera(c == Control::Camera(true)),
                }
                let state = ClientMessage::MediaState {
                    mic: self.media.mic_on(),
                    camera: self.media.camera_on(),
                    request_id: None,
                };
                self.send(&state).await
            }
            Some(Control::Chat(text)) => {
                self.send(&ClientMessage::Chat {
                    text,
                    request_id: None,
                })
                .await
            }
            Some(Control::Leave) | None => {
                let _ = self
                    .sig
                    .send(&ClientMessage::Leave { request_id: None })
                    .await;
                Some(Outcome::Over("left".to_owned()))
            }
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
