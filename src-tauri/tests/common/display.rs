//! A virtual display for the real app, screenshots of it, and the app's `--report` file.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A virtual X display, stopped on drop.
pub struct Display {
    number: u32,
    _server: Running,
}

impl Display {
    pub fn start() -> Self {
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

    pub fn name(&self) -> String {
        format!(":{}", self.number)
    }
}

/// A D-Bus session bus of the test's own, as a desktop session has (the tray icon registers
/// through it). It starts nothing on demand, so nothing outlives the test.
pub struct SessionBus {
    address: String,
    _dir: tempfile::TempDir,
    _daemon: Running,
}

impl SessionBus {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("bus");
        let config = dir.path().join("session.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                socket.display()
            ),
        )
        .unwrap();
        let daemon = Running(
            Command::new("dbus-daemon")
                .arg("--nofork")
                .arg(format!("--config-file={}", config.display()))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("dbus-daemon (scripts/ensure-deps.sh test installs it)"),
        );
        for _ in 0..100 {
            if socket.exists() {
                return Self {
                    address: format!("unix:path={}", socket.display()),
                    _dir: dir,
                    _daemon: daemon,
                };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("dbus-daemon did not start");
    }

    pub fn address(&self) -> &str {
        &self.address
    }
}

/// A screenshot of the whole display, as RGB rows.
pub struct Shot {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
}

fn be32(data: &[u8], field: usize) -> u32 {
    u32::from_be_bytes(data[field * 4..field * 4 + 4].try_into().unwrap())
}

/// Reads the root window with `xwd` (X Window Dump: a big-endian header, then pixels).
pub fn screenshot(display: &str) -> Shot {
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
    pub fn save(&self, path: &Path) {
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
    pub fn region(&self, (x, y, w, h): (usize, usize, usize, usize)) -> Vec<u8> {
        let mut out = Vec::with_capacity(w * h * 3);
        for row in y..(y + h).min(self.height) {
            let from = (row * self.width + x) * 3;
            out.extend_from_slice(&self.rgb[from..from + w.min(self.width - x) * 3]);
        }
        out
    }
}

/// Standard deviation of a region's samples: near 0 for a blank (one-colour) area.
pub fn spread(pixels: &[u8]) -> f64 {
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
pub fn changed(a: &[u8], b: &[u8]) -> f64 {
    let moved = a
        .iter()
        .zip(b)
        .filter(|(x, y)| x.abs_diff(**y) > 24)
        .count();
    moved as f64 / a.len().max(1) as f64
}

/// A process stopped when the test ends, however it ends.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn read_report(path: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}
