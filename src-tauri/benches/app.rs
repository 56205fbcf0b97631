//! The desktop app's cost in a 4-person call: the release app on a virtual display with its
//! synthetic camera (640x360, 30 fps) and tone, and three `parlor-client` processes sending
//! 640x360 at 30 fps each. Measured over a steady window: CPU of the app process and of its web
//! view's processes (in % of one core), their memory, and the CPU spent in capture, encoding and decoding (per thread, by the engine) and in
//! drawing (the page's own count, and the web process as a whole).
//!
//! `make bench` runs it; it needs Xvfb (scripts/ensure-deps.sh test).

#![allow(clippy::unwrap_used)] // a benchmark: a panic is the failure report

#[path = "../tests/common/mod.rs"]
mod common;

use common::display::{read_report, Display, Running};
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MEASURE: Duration = Duration::from_secs(15);

/// A process and everything it started, recursively.
fn family(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let p = all[i];
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) {
            for t in tasks.flatten() {
                let children =
                    std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
                all.extend(
                    children
                        .split_whitespace()
                        .filter_map(|c| c.parse::<u32>().ok()),
                );
            }
        }
        i += 1;
    }
    all.sort_unstable();
    all.dedup();
    all
}

/// CPU seconds (user + system) a process has used, and its resident memory in KiB.
fn usage(pid: u32) -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    Some((ticks / clock_ticks(), rss))
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn name(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// CPU seconds and memory of the app process, and of its helpers (the web view) together.
fn sample(app: u32) -> ((f64, u64), (f64, u64)) {
    let mut helpers = (0.0, 0);
    for pid in family(app).into_iter().filter(|&p| p != app) {
        if let Some((cpu, rss)) = usage(pid) {
            helpers.0 += cpu;
            helpers.1 += rss;
        }
    }
    (usage(app).unwrap_or_default(), helpers)
}

fn ms(report: &Value, key: &str) -> f64 {
    report["call"]["cpu"][key].as_f64().unwrap_or(0.0)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench());
}

async fn bench() {
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("report.json");
    let s = parlor_testkit::server::server_with(|c| {
        c.media_bind = Some("127.0.0.1".parse().unwrap());
    })
    .await;
    let room = parlor_testkit::http::host_meeting(&s.url, "Bench").await;
    let display = Display::start();
    let app = Running(
        Command::new(env!("CARGO_BIN_EXE_parlor-app"))
            .args(["--join", &format!("{}/m/{room}", s.url), "--name", "Desk"])
            .arg("--report")
            .arg(&report_path)
            .env("DISPLAY", display.name())
            .env("HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("XDG_CACHE_HOME", dir.path().join("cache"))
            .env_remove("WAYLAND_DISPLAY")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = app.0.id();
    let others: Vec<_> = ["Ana", "Ben", "Cleo"]
        .iter()
        .map(|n| common::Client::join(&s.url, &room, n, None, (640, 360, 30), dir.path()))
        .collect();

    // Steady state: all three remote pictures are being drawn.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let drawing = read_report(&report_path).is_some_and(|r| {
            r["call"]["drawn"].as_object().is_some_and(|d| {
                d.iter()
                    .filter(|(id, c)| *id != "local" && c["drawn"].as_u64().unwrap_or(0) >= 60)
                    .count()
                    >= 3
            })
        });
        if drawing {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the app never drew all three others"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (r0, (a0, h0)) = (read_report(&report_path).unwrap(), sample(pid));
    let t0 = Instant::now();
    tokio::time::sleep(MEASURE).await;
    let (r1, (a1, h1)) = (read_report(&report_path).unwrap(), sample(pid));
    let secs = t0.elapsed().as_secs_f64();

    let pct = |cpu_s: f64| cpu_s / secs * 100.0;
    let (app_cpu, web_cpu) = (a1.0 - a0.0, h1.0 - h0.0);
    let stage = |k: &str| (ms(&r1, k) - ms(&r0, k)) / 1000.0;
    let (capture, encode, decode) = (stage("captureMs"), stage("encodeMs"), stage("decodeMs"));
    let draw = (r1["call"]["drawMs"].as_f64().unwrap_or(0.0)
        - r0["call"]["drawMs"].as_f64().unwrap_or(0.0))
        / 1000.0;
    let total = app_cpu + web_cpu;
    let frames = |r: &Value| -> u64 {
        r["call"]["drawn"]
            .as_object()
            .map(|d| d.values().map(|c| c["drawn"].as_u64().unwrap_or(0)).sum())
            .unwrap_or(0)
    };
    let helpers: Vec<String> = family(pid)
        .into_iter()
        .filter(|&p| p != pid)
        .map(name)
        .collect();
    println!("app in a 4-person call, 640x360 at 30 fps each way, {secs:.1} s on this machine ({} cores):", std::thread::available_parallelism().map_or(0, |n| n.get()));
    println!(
        "  app process      {:5.1} % of a core, {:6} KiB resident",
        pct(app_cpu),
        a1.1
    );
    println!(
        "  web view ({})  {:5.1} % of a core, {:6} KiB resident",
        helpers.join(", "),
        pct(web_cpu),
        h1.1
    );
    println!(
        "  capture          {:5.1} % ({:4.1} % of all the app's CPU)",
        pct(capture),
        capture / total * 100.0
    );
    println!(
        "  encode           {:5.1} % ({:4.1} %)",
        pct(encode),
        encode / total * 100.0
    );
    println!(
        "  decode (3 video, 3 audio) {:5.1} % ({:4.1} %)",
        pct(decode),
        decode / total * 100.0
    );
    println!(
        "  drawing, page's own time  {:5.1} % ({:4.1} %); the web view process as a whole {:4.1} %",
        pct(draw),
        draw / total * 100.0,
        web_cpu / total * 100.0
    );
    println!(
        "  pictures drawn   {:.1} per second (self view and 3 others)",
        (frames(&r1) - frames(&r0)) as f64 / secs
    );
    for other in others {
        other.leave().await;
    }
    drop(app);
    drop(display);
}
