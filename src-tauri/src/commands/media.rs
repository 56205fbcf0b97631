//! The call's media, driven by the meeting page: it does the signaling and hands the SFU's
//! offers and answers here; capture, encoding, decoding and drawing happen natively.

use crate::commands::devices::DeviceKind;
use crate::error::AppError;
use crate::frames::FrameEndpoint;
use crate::state::AppState;
use parlor_media::call::{CallError, CallEvent, MediaConfig, MediaSession, Source};
use parlor_media::playback::{Playback, PlaybackStats};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};
use std::sync::Arc;
use tauri::State;

/// What to capture: a device id from `devices`, `"synthetic"`, or nothing.
#[derive(Clone, Debug, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct MediaOptions {
    /// The Parlor server the call is on (`http(s)://host:port`), to pick the local address
    /// media goes out from.
    pub server: String,
    pub camera: Option<String>,
    pub microphone: Option<String>,
    /// A speaker's id from `devices`; the default one when absent.
    #[serde(default)]
    pub speaker: Option<String>,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
}

/// One remote track as received, for the page's statistics.
#[derive(Clone, Debug, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct TrackStats {
    pub track_id: String,
    pub peer_id: String,
    pub kind: String,
    pub frames_decoded: u32,
    pub frames_corrupt: u32,
    pub packets_received: u32,
    pub packets_lost: u32,
}

fn source(id: String) -> Source {
    match id.as_str() {
        parlor_media::capture::synthetic::SYNTHETIC => Source::Synthetic,
        _ => Source::Device(id),
    }
}

/// Loopback for a server on this machine (nothing else can reach it), every interface
/// otherwise.
fn bind_ip(server: &str) -> Result<IpAddr, AppError> {
    let bad = || AppError::InvalidInput(format!("not a server address: {server}"));
    let rest = server.split_once("://").map_or(server, |(_, r)| r);
    let authority = rest.split('/').next().ok_or_else(bad)?;
    let with_port = if authority.contains(':') && !authority.ends_with(']') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let addrs: Vec<_> = with_port.to_socket_addrs().map_err(|_| bad())?.collect();
    Ok(
        if !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()) {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        },
    )
}

fn media_error(e: impl std::fmt::Display) -> AppError {
    AppError::Media(e.to_string())
}

/// Opens camera and microphone and prepares both transports; returns the publish offer for
/// the SFU, if there is anything to send. A call already running is closed first.
#[tauri::command]
#[specta::specta]
pub async fn media_start(
    state: State<'_, AppState>,
    options: MediaOptions,
) -> Result<Option<String>, AppError> {
    let mut media = state.media.lock().await;
    if let Some(old) = media.take() {
        old.close().await;
    }
    state.frames.remove(None);
    let config = MediaConfig {
        camera: options.camera.map(source),
        mic: options.microphone.map(source),
        width: options.width.clamp(160, 1920) as usize & !1,
        height: options.height.clamp(120, 1080) as usize & !1,
        fps: options.fps.clamp(1, 60),
        video_bitrate_bps: 800_000,
        bind_ip: bind_ip(&options.server)?,
        deliver_media: true,
    };
    let (events, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (session, offer) = MediaSession::start(&config, events)
        .await
        .map_err(media_error)?;
    let frames = state.frames.clone();
    let playback = state.playback.clone();
    if let Ok(mut slot) = playback.lock() {
        *slot = Some(Arc::new(Playback::start(options.speaker.as_deref())));
    }
    tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            match event {
                CallEvent::Video {
                    track_id, picture, ..
                } => frames.publish(&track_id, picture),
                CallEvent::Audio { peer_id, frame } => {
                    let now = playback.lock().ok().and_then(|p| p.clone());
                    if let Some(p) = now {
                        p.push(&peer_id, frame);
                    }
                }
                CallEvent::Error(e) => tracing::warn!(error = %e, "media"),
                _ => {}
            }
        }
    });
    *media = Some(session);
    if let Some(hooks) = state.hooks.get() {
        (hooks.in_call)(true);
    }
    Ok(offer)
}

async fn with_session<T>(
    state: &AppState,
    f: impl AsyncFnOnce(&mut MediaSession) -> Result<T, AppError>,
) -> Result<T, AppError> {
    let mut media = state.media.lock().await;
    let session = media.as_mut().ok_or(AppError::NoCall)?;
    f(session).await
}

/// The SFU's answer to the publish offer.
#[tauri::command]
#[specta::specta]
pub async fn media_publish_answer(state: State<'_, AppState>, sdp: String) -> Result<(), AppError> {
    with_session(&state, async |s| {
        s.publish_answer(sdp).await.map_err(media_error)
    })
    .await
}

/// An offer from the SFU on the subscribe transport; returns the answer.
#[tauri::command]
#[specta::specta]
pub async fn media_subscribe_offer(
    state: State<'_, AppState>,
    sdp: String,
) -> Result<String, AppError> {
    with_session(&state, async |s| {
        s.subscribe_offer(sdp).await.map_err(media_error)
    })
    .await
}

/// Turns sending audio and video on or off.
#[tauri::command]
#[specta::specta]
pub async fn media_set(
    state: State<'_, AppState>,
    mic: Option<bool>,
    camera: Option<bool>,
) -> Result<(), AppError> {
    let frames = state.frames.clone();
    with_session(&state, async |s| {
        if let Some(on) = mic {
            s.set_mic(on);
        }
        if let Some(on) = camera {
            s.set_camera(on);
            if !on {
                frames.remove(Some(parlor_media::call::LOCAL_TRACK));
            }
        }
        Ok(())
    })
    .await
}

/// What each remote track has delivered so far.
#[tauri::command]
#[specta::specta]
pub async fn media_stats(state: State<'_, AppState>) -> Result<Vec<TrackStats>, AppError> {
    let count = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    with_session(&state, async |s| {
        Ok(s.report("", None)
            .remote
            .into_iter()
            .map(|t| TrackStats {
                track_id: t.track_id,
                peer_id: t.peer_id,
                kind: t.kind,
                frames_decoded: count(t.frames_decoded),
                frames_corrupt: count(t.frames_corrupt),
                packets_received: count(t.packets_received),
                packets_lost: count(t.packets_lost),
            })
            .collect())
    })
    .await
}

/// Changes camera, microphone or speaker during a call. The new device is opened before the
/// old one is let go, so a device that cannot be opened is reported (`devices`) and the call
/// goes on as it was. A kind the call does not send (it started with the camera off for good)
/// has nothing to change: the page remembers the choice for the next call.
#[tauri::command]
#[specta::specta]
pub async fn media_use_device(
    state: State<'_, AppState>,
    kind: DeviceKind,
    id: String,
) -> Result<(), AppError> {
    match kind {
        DeviceKind::Camera => {
            with_session(&state, async |s| switched(s.use_camera(source(id)))).await
        }
        DeviceKind::Microphone => {
            with_session(&state, async |s| switched(s.use_mic(source(id)))).await
        }
        DeviceKind::Speaker => {
            with_session(&state, async |_| Ok(())).await?;
            // Opening a speaker waits for its thread to start.
            let playback = tokio::task::spawn_blocking(move || Playback::start(Some(&id)))
                .await
                .map_err(media_error)?;
            if let Ok(mut slot) = state.playback.lock() {
                *slot = Some(Arc::new(playback));
            }
            Ok(())
        }
    }
}

fn switched(outcome: Result<(), CallError>) -> Result<(), AppError> {
    match outcome {
        Ok(()) | Err(CallError::NotSending(_)) => Ok(()),
        Err(e @ CallError::Capture(_)) => Err(AppError::Devices(e.to_string())),
        Err(e) => Err(media_error(e)),
    }
}

/// Ends the call's media: capture stops and both transports close.
#[tauri::command]
#[specta::specta]
pub async fn media_stop(state: State<'_, AppState>) -> Result<(), AppError> {
    if let Some(session) = state.media.lock().await.take() {
        session.close().await;
    }
    if let Ok(mut playback) = state.playback.lock() {
        playback.take();
    }
    state.frames.remove(None);
    if let Some(hooks) = state.hooks.get() {
        (hooks.in_call)(false);
    }
    Ok(())
}

/// Loudness and playback, for the level meter and for diagnosis.
#[derive(Clone, Debug, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Levels {
    /// The microphone's loudness over the last 20 ms (RMS, 0 to 1), muted or not.
    pub input: f32,
    /// Where remote audio plays (a device id, or `null`).
    pub output: String,
    pub frames_played: u32,
    pub underruns: u32,
    /// Remote audio tracks being mixed.
    pub tracks: u32,
}

/// CPU time the call's media stages have used, in milliseconds.
#[derive(Clone, Debug, Default, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct StageCpu {
    pub capture_ms: f64,
    pub encode_ms: f64,
    pub decode_ms: f64,
}

/// How much CPU capture, encoding and decoding have taken so far in this call.
#[tauri::command]
#[specta::specta]
pub async fn media_cpu(state: State<'_, AppState>) -> Result<StageCpu, AppError> {
    with_session(&state, async |s| {
        let cpu = s.report("", None).cpu;
        Ok(StageCpu {
            capture_ms: cpu.capture_ms,
            encode_ms: cpu.encode_ms,
            decode_ms: cpu.decode_ms,
        })
    })
    .await
}

/// The microphone's level now, and how playback is going.
#[tauri::command]
#[specta::specta]
pub async fn media_levels(state: State<'_, AppState>) -> Result<Levels, AppError> {
    let input = with_session(&state, async |s| Ok(s.mic_level())).await?;
    let played: PlaybackStats = state
        .playback
        .lock()
        .ok()
        .and_then(|p| p.as_ref().map(|p| p.stats()))
        .unwrap_or_default();
    let count = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(Levels {
        input,
        output: played.output,
        frames_played: count(played.frames_played),
        underruns: count(played.underruns),
        tracks: count(played.tracks as u64),
    })
}

/// Where the page gets pictures from.
#[tauri::command]
#[specta::specta]
pub fn frame_endpoint(state: State<'_, AppState>) -> FrameEndpoint {
    state.frame_endpoint.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_goes_out_on_loopback_only_for_a_local_server() {
        let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        assert_eq!(bind_ip("http://127.0.0.1:8080").ok(), Some(local));
        assert_eq!(bind_ip("http://localhost:8080/m/abc").ok(), Some(local));
        assert_eq!(bind_ip("https://192.0.2.7:8443").ok(), Some(any));
        assert!(bind_ip("http://").is_err());
    }
}
