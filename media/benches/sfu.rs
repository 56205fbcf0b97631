//! The SFU under load on loopback: a release `parlor-server` and release `parlor-client`s
//! (synthetic media). For each room shape it prints the server's CPU time per forwarded RTP
//! packet (process CPU time over packets the subscribers received), its memory per
//! participant, subscriber packet loss and glass-to-glass latency.
//! Run with `make bench`, which builds the release binaries first.

#![allow(clippy::unwrap_used)] // a benchmark: a panic is the failure report

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SECONDS: u64 = 20;

fn release_bin(name: &str) -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let bin = target.join("release").join(name);
    assert!(bin.exists(), "{} missing: run `make bench`", bin.display());
    bin
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn rss_kib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0.0)
}

async fn scenario(publishers: usize, subscribers: usize) {
    let data = tempfile::tempdir().unwrap();
    let port = parlor_testkit::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut server = Command::new(release_bin("parlor-server"))
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--media-port",
            "0",
        ])
        .arg("--data-dir")
        .arg(data.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client
            .get(format!("{url}/health/ready"))
            .send()
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let room = parlor_testkit::http::host_meeting(&url, "bench").await;
    let rss_base = rss_kib(server.id());
    let cpu_base = cpu_seconds(server.id());
    let spawn = |name: String, publish: bool, stats: PathBuf| -> Child {
        let mut c = Command::new(release_bin("parlor-client"));
        c.args(["join", "--server", &url, "--room", &room, "--name", &name])
            .args([
                "--duration",
                &format!("{SECONDS}s"),
                "--size",
                "640x360",
                "--fps",
                "30",
            ])
            .arg("--stats-json")
            .arg(&stats)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if !publish {
            c.args(["--camera", "none", "--mic", "none"]);
        }
        c.spawn().unwrap()
    };
    let mut clients = Vec::new();
    for i in 0..publishers {
        let stats = data.path().join(format!("pub{i}.json"));
        clients.push((spawn(format!("pub{i}"), true, stats.clone()), stats, true));
    }
    for i in 0..subscribers {
        let stats = data.path().join(format!("sub{i}.json"));
        clients.push((spawn(format!("sub{i}"), false, stats.clone()), stats, false));
    }
    let start = Instant::now();
    let mut rss_peak = rss_base;
    while start.elapsed() < Duration::from_secs(SECONDS - 2) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        rss_peak = rss_peak.max(rss_kib(server.id()));
    }
    let mut packets = 0u64;
    let mut lost = 0u64;
    let mut p50s = Vec::new();
    let mut p95s = Vec::new();
    for (mut child, stats, publisher) in clients {
        let _ = child.wait();
        let Ok(bytes) = std::fs::read(&stats) else {
            continue;
        };
        let report: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        for t in report["remote"].as_array().into_iter().flatten() {
            packets += t["packetsReceived"].as_u64().unwrap_or(0);
            lost += t["packetsLost"].as_u64().unwrap_or(0);
            if !publisher && t["kind"] == "video" {
                p50s.extend(t["latencyP50Ms"].as_f64());
                p95s.extend(t["latencyP95Ms"].as_f64());
            }
        }
    }
    let cpu = cpu_seconds(server.id()) - cpu_base;
    let _ = server.kill();
    let _ = server.wait();
    let participants = (publishers + subscribers) as f64;
    p50s.sort_by(f64::total_cmp);
    let median_p50 = p50s.get(p50s.len() / 2).copied().unwrap_or(f64::NAN);
    let worst_p95 = p95s.iter().copied().fold(f64::NAN, f64::max);
    println!(
        "  {publishers} publisher(s) x {subscribers} subscribers, {SECONDS} s: server CPU {:.2} us per forwarded packet ({packets} packets received, {:.2} s CPU), RSS {:.0} KiB per participant (base {:.0} KiB), subscriber loss {:.3} %, glass-to-glass p50 {median_p50:.1} ms / worst p95 {worst_p95:.1} ms",
        cpu * 1e6 / packets.max(1) as f64,
        cpu,
        (rss_peak - rss_base).max(0.0) / participants,
        rss_base,
        lost as f64 * 100.0 / (packets + lost).max(1) as f64,
    );
}

#[tokio::main]
async fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("sfu: loopback, {cores} cores, 640x360 @ 30 fps H.264 + Opus per publisher, release builds, clients on the same machine");
    scenario(1, 10).await;
    scenario(3, 6).await;
}
