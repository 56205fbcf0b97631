//! What the app's tests (and its benchmark) share.

#![allow(dead_code)] // each test binary uses its own part

pub mod display;

use parlor_media::call::{self, stats::CallReport, CallConfig, CallError, Control, MediaConfig};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

/// Another participant in `room`: the call engine `parlor-client` runs, as a library, sending
/// a stamped moving test pattern (320x180, 15 fps) and a tone for at most `secs`.
pub fn participant(
    server: &str,
    room: &str,
    name: &str,
    secs: u64,
) -> (
    UnboundedSender<Control>,
    JoinHandle<Result<CallReport, CallError>>,
) {
    participant_sized(server, room, name, secs, (320, 180, 15))
}

/// [`participant`] on a server with its own certificate, trusted by `fingerprint`.
pub fn participant_trusting(
    server: &str,
    room: &str,
    name: &str,
    secs: u64,
    fingerprint: &str,
) -> (
    UnboundedSender<Control>,
    JoinHandle<Result<CallReport, CallError>>,
) {
    let trust = parlor_media::tls::Trust::pinned(fingerprint).expect("a fingerprint");
    participant_with(server, room, name, secs, (320, 180, 15), trust)
}

/// [`participant`] with the picture's width, height and frame rate.
pub fn participant_sized(
    server: &str,
    room: &str,
    name: &str,
    secs: u64,
    size: (usize, usize, u32),
) -> (
    UnboundedSender<Control>,
    JoinHandle<Result<CallReport, CallError>>,
) {
    participant_with(server, room, name, secs, size, Default::default())
}

/// Where the participant's media sockets go: the server's own address when it names one (a
/// LAN address in a test's namespace), loopback otherwise.
fn media_address(server: &str) -> std::net::IpAddr {
    server
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|authority| authority.parse::<std::net::SocketAddr>().ok())
        .map_or([127, 0, 0, 1].into(), |a| a.ip())
}

fn participant_with(
    server: &str,
    room: &str,
    name: &str,
    secs: u64,
    (width, height, fps): (usize, usize, u32),
    trust: parlor_media::tls::Trust,
) -> (
    UnboundedSender<Control>,
    JoinHandle<Result<CallReport, CallError>>,
) {
    let config = CallConfig {
        server: server.to_owned(),
        room: room.to_owned(),
        name: name.to_owned(),
        media: MediaConfig {
            camera: Some(call::Source::Synthetic),
            mic: Some(call::Source::Synthetic),
            width,
            height,
            fps,
            video_bitrate_bps: if width > 320 { 800_000 } else { 300_000 },
            bind_ip: media_address(server),
            deliver_media: false,
        },
        trust,
    };
    let (controls, control_rx) = tokio::sync::mpsc::unbounded_channel();
    let (events, mut drain) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move { while drain.recv().await.is_some() {} });
    let running = tokio::spawn(call::run(
        config,
        Some(Duration::from_secs(secs)),
        control_rx,
        events,
    ));
    (controls, running)
}
