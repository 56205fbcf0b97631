//! The real app in a real window, on a virtual display (Xvfb): started straight into a
//! meeting on a separate `parlor-server` with its synthetic camera and microphone, while a
//! second participant (the engine `parlor-client` runs, as a library) sends its moving test
//! pattern. The participant decodes the app's video with no corrupt frame, and the app's
//! window shows the participant's picture: two screenshots a second apart differ inside the
//! remote tile, and the tile is not blank. Screenshots are kept in
//! `$CARGO_TARGET_TMPDIR/app-window/`.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use parlor_media::call;
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A virtual X display, stopped on drop.
struct Display {
    number: u32,
    _server: Running,
}

impl Display {
    fn start() -> Self {
        // The first display number with no server and no lock file.
        let number = (90..400)
            .find(|n| {
                !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                    && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
            })
            .expect("a free display number");
        let server = Running(
            Command::new("Xvfb")
                .arg(format!(":{number}"))
                .args(["-screen", "0", "1280x800x24", "-nolisten", "tcp"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("Xvfb (scripts/ensure-deps.sh test installs it)"),
        );
        let socket = format!("/tmp/.X11-unix/X{number}");
        for _ in 0..100 {
            if Path::new(&socket).exists() {
                return Self {
                    number,
                    _server: server,
                };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("Xvfb :{number} did not start");
    }

    fn name(&self) -> String {
        format!(":{}", self.number)
    }
}

/// A screenshot of the whole display, as RGB rows.
struct Shot {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

fn be32(data: &[u8], field: usize) -> u32 {
    u32::from_be_bytes(data[field * 4..field * 4 + 4].try_into().unwrap())
}

/// Reads the root window with `xwd` (X Window Dump: a big-endian header, then pixels).
fn screenshot(display: &str) -> Shot {
    let out = Command::new("xwd")
        .args(["-root", "-silent", "-display", display])
        .output()
        .expect("xwd (x11-apps)");
    assert!(out.status.success(), "xwd failed");
    let d = out.stdout;
    let (header, format, width, height) = (be32(&d, 0), be32(&d, 2), be32(&d, 4), be32(&d, 5));
    let (byte_order, bits_per_pixel, bytes_per_line) = (be32(&d, 7), be32(&d, 11), be32(&d, 12));
    let (masks, colours) = ([be32(&d, 14), be32(&d, 15), be32(&d, 16)], be32(&d, 19));
    assert!(
        format == 2 && matches!(bits_per_pixel, 24 | 32),
        "a true-colour ZPixmap: format {format}, {bits_per_pixel} bits per pixel"
    );
    let bytes = bits_per_pixel as usize / 8;
    let start = header as usize + colours as usize * 12;
    let (width, height) = (width as usize, height as usize);
    let mut rgb = Vec::with_capacity(width * height * 3);
    for row in 0..height {
        for col in 0..width {
            let at = start + row * bytes_per_line as usize + col * bytes;
            let px = &d[at..at + bytes];
            let p = if byte_order == 0 {
                px.iter()
                    .rev()
                    .fold(0u32, |acc, &b| acc << 8 | u32::from(b))
            } else {
                px.iter().fold(0u32, |acc, &b| acc << 8 | u32::from(b))
            };
            for mask in masks {
                rgb.push(((p & mask) >> mask.trailing_zeros()) as u8);
            }
        }
    }
    Shot { width, height, rgb }
}

impl Shot {
    fn save(&self, path: &Path) {
        let file = std::fs::File::create(path).unwrap();
        let mut png = png::Encoder::new(file, self.width as u32, self.height as u32);
        png.set_color(png::ColorType::Rgb);
        png.set_depth(png::BitDepth::Eight);
        png.write_header()
            .unwrap()
            .write_image_data(&self.rgb)
            .unwrap();
    }

    /// The pixels of a rectangle, row by row.
    fn region(&self, (x, y, w, h): (usize, usize, usize, usize)) -> Vec<u8> {
        let mut out = Vec::with_capacity(w * h * 3);
        for row in y..(y + h).min(self.height) {
            let from = (row * self.width + x) * 3;
            out.extend_from_slice(&self.rgb[from..from + w.min(self.width - x) * 3]);
        }
        out
    }
}

/// Standard deviation of a region's samples: near 0 for a blank (one-colour) area.
fn spread(pixels: &[u8]) -> f64 {
    let n = pixels.len().max(1) as f64;
    let mean = pixels.iter().map(|&p| f64::from(p)).sum::<f64>() / n;
    (pixels
        .iter()
        .map(|&p| (f64::from(p) - mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt()
}

/// Share of samples that differ by more than a little between two captures of a region.
fn changed(a: &[u8], b: &[u8]) -> f64 {
    let moved = a
        .iter()
        .zip(b)
        .filter(|(x, y)| x.abs_diff(**y) > 24)
        .count();
    moved as f64 / a.len().max(1) as f64
}

/// A process stopped when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn read_report(path: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_joins_a_meeting_and_shows_the_other_side() {
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("app-window");
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();
    let home = tempfile::tempdir().unwrap();
    let report = artifacts.join("report.json");

    let s = parlor_testkit::server::server_with(|c| {
        c.media_bind = Some("127.0.0.1".parse().unwrap());
    })
    .await;
    let room = parlor_testkit::http::host_meeting(&s.url, "Desktop").await;
    let display = Display::start();

    // The app, in a home of its own so nothing from an earlier run (or the person's own
    // settings) is found.
    let mut app = Running(
        Command::new(env!("CARGO_BIN_EXE_parlor-app"))
            .args(["--join", &format!("{}/m/{room}", s.url), "--name", "Desk"])
            .arg("--report")
            .arg(&report)
            .env("DISPLAY", display.name())
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_CACHE_HOME", home.path().join("cache"))
            .env_remove("WAYLAND_DISPLAY")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(artifacts.join("app.log")).unwrap())
            .spawn()
            .unwrap(),
    );

    // The other participant: a stamped, moving test pattern and a tone.
    let (controls, native) = common::participant(&s.url, &room, "Native", 20);

    // Wait until the window has drawn a good run of the other side's pictures.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let (page, remote_tile) = loop {
        if let Some(r) = read_report(&report) {
            let tile = r["tiles"]
                .as_array()
                .and_then(|t| t.iter().find(|t| t["isSelf"] == false).cloned());
            let drawn_remote = r["drawn"]
                .as_object()
                .map(|d| {
                    d.iter()
                        .filter(|(id, _)| *id != "local")
                        .map(|(_, c)| c["drawn"].as_u64().unwrap_or(0))
                        .max()
                        .unwrap_or(0)
                })
                .unwrap_or(0);
            if let (Some(tile), true) = (tile, drawn_remote >= 30) {
                break (r, tile);
            }
        }
        if let Ok(Some(status)) = app.0.try_wait() {
            panic!("the app exited early: {status}");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the window never drew the other side: {:?}",
            read_report(&report)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };

    // Two screenshots a second apart: inside the remote tile, the picture moved and is not
    // blank.
    let name = display.name();
    let first = tokio::task::spawn_blocking({
        let name = name.clone();
        move || screenshot(&name)
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let second = tokio::task::spawn_blocking(move || screenshot(&name))
        .await
        .unwrap();
    first.save(&artifacts.join("window-1.png"));
    second.save(&artifacts.join("window-2.png"));
    let scale = page["scale"].as_f64().unwrap_or(1.0);
    let px = |v: &Value| (v.as_f64().unwrap() * scale).round() as usize;
    let inset = |v: usize| v + 8; // inside the rounded corners
    let region = (
        inset(page["pageX"].as_f64().unwrap() as usize + px(&remote_tile["x"])),
        inset(page["pageY"].as_f64().unwrap() as usize + px(&remote_tile["y"])),
        px(&remote_tile["width"]).saturating_sub(16),
        // Above the name strip along the bottom.
        px(&remote_tile["height"]).saturating_sub(48),
    );
    let (a, b) = (first.region(region), second.region(region));
    let (spread_a, moved) = (spread(&a), changed(&a, &b));
    eprintln!(
        "remote tile {region:?}: spread {spread_a:.1}, {:.1}% of samples changed in a second; screenshots in {}",
        moved * 100.0,
        artifacts.display()
    );
    assert!(spread_a > 20.0, "the remote tile is not blank: {spread_a}");
    assert!(moved > 0.01, "the remote picture moves: {moved}");

    // The other side decoded the app's camera cleanly.
    let _ = controls.send(call::Control::Leave);
    let report = native.await.unwrap().unwrap();
    let video = report
        .remote
        .iter()
        .find(|t| t.kind == "video")
        .expect("video from the app");
    assert!(video.frames_decoded >= 30, "{video:?}");
    assert_eq!(video.frames_corrupt, 0, "{video:?}");
    assert_eq!(video.frames_missing, 0, "{video:?}");
    let stats = &page["stats"];
    eprintln!(
        "the app drew {} of the other side's pictures ({}); the other side decoded {} of the app's, {} corrupt",
        page["drawn"],
        stats,
        video.frames_decoded,
        video.frames_corrupt
    );
    drop(app);
    drop(display);
}
