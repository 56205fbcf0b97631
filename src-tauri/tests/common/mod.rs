//! What the app's tests (and its benchmark) share.

#![allow(dead_code)] // each test binary uses its own part

pub mod display;
pub mod x11;

use display::Running;
use parlor_media::call::{self, stats::CallReport, CallConfig, CallError, Control, MediaConfig};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
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
    participant_with(server, room, name, secs, (320, 180, 15), Default::default())
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
        fallback: Vec::new(),
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

/// A `parlor-client` process in the meeting, sending its stamped moving test pattern (of
/// `size`: width, height and frames per second) and a tone, trusting the server's own certificate by `fingerprint` when
/// given. What it prints goes to `NAME.log` in `artifacts`.
pub struct Client {
    process: Running,
    stats: PathBuf,
    name: String,
}

impl Client {
    pub fn join(
        server: &str,
        room: &str,
        name: &str,
        fingerprint: Option<&str>,
        (width, height, fps): (usize, usize, u32),
        artifacts: &Path,
    ) -> Self {
        let stats = artifacts.join(format!("{name}.json"));
        let bind = media_address(server).to_string();
        let process = Command::new(parlor_testkit::server::program("parlor-client"))
            .args(["join", "--server", server, "--room", room, "--name", name])
            .args([
                "--size",
                &format!("{width}x{height}"),
                "--fps",
                &fps.to_string(),
            ])
            .args(["--bitrate", if width > 320 { "800" } else { "300" }])
            .args(["--duration", "150s", "--bind", &bind])
            .args(fingerprint.iter().flat_map(|f| ["--fingerprint", f]))
            .arg("--stats-json")
            .arg(&stats)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(artifacts.join(format!("{name}.log"))).unwrap())
            .spawn()
            .unwrap();
        Self {
            process: Running(process),
            stats,
            name: name.to_owned(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Leaves (as Ctrl-C does) and returns the statistics it wrote.
    pub async fn leave(mut self) -> Value {
        let pid = self.process.0.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        tokio::task::spawn_blocking(move || {
            let status = self.process.0.wait().unwrap();
            assert!(status.success(), "parlor-client ended with {status}");
            serde_json::from_slice(&std::fs::read(&self.stats).unwrap()).unwrap()
        })
        .await
        .unwrap()
    }
}
