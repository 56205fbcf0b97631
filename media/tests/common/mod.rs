//! What the end-to-end tests share: an in-process `parlor-server` and `parlor-client`
//! processes.

#![allow(dead_code, clippy::unwrap_used)] // each test binary uses its own part; a panic is the report

use parlor_server::config::{Config, Seconds};
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Server {
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _data: tempfile::TempDir,
}

pub async fn server() -> Server {
    server_with(|_| {}).await
}

pub async fn server_with(adjust: impl FnOnce(&mut Config)) -> Server {
    let data = tempfile::tempdir().unwrap();
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.path().to_owned(),
        media_port: 0,
        reconnect_grace: Seconds(Duration::from_secs(2)),
        ..Config::default()
    };
    adjust(&mut config);
    let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(parlor_server::run(config, listener, async {
        let _ = stopped.await;
    }));
    Server {
        url,
        stop: Some(stop),
        _data: data,
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
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
