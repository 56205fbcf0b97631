//! What the end-to-end tests share: an in-process `parlor-server` and `parlor-client`
//! processes.

#![allow(dead_code, clippy::unwrap_used)] // each test binary uses its own part; a panic is the report

use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub use parlor_testkit::server::{server_with, Server};

pub async fn server() -> Server {
    server_with(|_| {}).await
}

/// A `parlor-client` with synthetic media at 320x180, 15 fps; it stays `secs`, or until the
/// meeting ends.
pub fn client(
    server: &str,
    room: &str,
    name: &str,
    secs: Option<u32>,
    stats: &Path,
    extra: &[&str],
) -> Child {
    let duration = secs.map(|s| format!("{s}s"));
    Command::new(env!("CARGO_BIN_EXE_parlor-client"))
        .args(["join", "--server", server, "--room", room, "--name", name])
        .args(["--size", "320x180", "--fps", "15", "--bitrate", "300"])
        .args(duration.iter().flat_map(|d| ["--duration", d.as_str()]))
        .arg("--stats-json")
        .arg(stats)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for a client to finish; returns its stats and what it printed on stderr.
pub fn finish(child: Child, stats: &Path) -> (Value, String) {
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "client failed: {stderr}");
    let report: Value = serde_json::from_slice(&std::fs::read(stats).unwrap()).unwrap();
    (report, stderr)
}

pub async fn finished(child: Child, stats: std::path::PathBuf) -> (Value, String) {
    tokio::task::spawn_blocking(move || finish(child, &stats))
        .await
        .unwrap()
}

/// The video `me` (a client's statistics) received from `other`, which must have decoded at
/// least `at_least` pictures and none corrupt.
pub fn clean_video_from<'a>(me: &'a Value, other: &Value, at_least: u64) -> &'a Value {
    let video = me["remote"]
        .as_array()
        .and_then(|r| {
            r.iter()
                .find(|t| t["peerId"] == other["participantId"] && t["kind"] == "video")
        })
        .unwrap_or_else(|| panic!("no video from {} in {me}", other["participantId"]));
    assert!(
        video["framesDecoded"].as_u64().unwrap_or(0) >= at_least,
        "{video}"
    );
    assert_eq!(video["framesCorrupt"], 0, "{video}");
    video
}
