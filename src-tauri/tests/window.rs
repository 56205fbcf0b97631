//! The real app in a real window, on a virtual display (Xvfb): started straight into a
//! meeting on a separate `parlor-server` with its synthetic camera and microphone, while a
//! second participant (the engine `parlor-client` runs, as a library) sends its moving test
//! pattern. The participant decodes the app's video with no corrupt frame, and the app's
//! window shows the participant's picture: two screenshots a second apart differ inside the
//! remote tile, and the tile is not blank. Screenshots are kept in
//! `$CARGO_TARGET_TMPDIR/app-window/`.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use common::display::{changed, read_report, screenshot, spread, Display, Running};
use parlor_media::call;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The app on its own display, in a home of its own so nothing from an earlier run (or the
/// person's own settings) is found.
fn start_app(display: &Display, home: &Path, artifacts: &Path, args: &[&str]) -> Running {
    Running(
        Command::new(env!("CARGO_BIN_EXE_parlor-app"))
            .args(args)
            .arg("--report")
            .arg(artifacts.join("report.json"))
            .env("DISPLAY", display.name())
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env_remove("WAYLAND_DISPLAY")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(artifacts.join("app.log")).unwrap())
            .spawn()
            .unwrap(),
    )
}

fn fresh(dir: &str) -> std::path::PathBuf {
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join(dir);
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();
    artifacts
}

/// The report once it says something, polled until `ready` holds.
async fn report_when(
    app: &mut Running,
    path: &Path,
    what: &str,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(r) = read_report(path).filter(|r| ready(r)) {
            return r;
        }
        if let Ok(Some(status)) = app.0.try_wait() {
            panic!("the app exited early: {status}");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: {:?}",
            read_report(path)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until the window has drawn a good run of the other side's pictures, then checks in
/// two screenshots a second apart that the remote tile moves and is not blank. The other side
/// then leaves and must have decoded the app's camera cleanly.
async fn the_other_side_shows(
    app: &mut Running,
    display: &Display,
    artifacts: &Path,
    controls: tokio::sync::mpsc::UnboundedSender<call::Control>,
    other: tokio::task::JoinHandle<Result<call::stats::CallReport, call::CallError>>,
) {
    let report_path = artifacts.join("report.json");
    let page = report_when(app, &report_path, "the other side drawn", |r| {
        let tile = r["tiles"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["isSelf"] == false));
        let drawn = r["drawn"].as_object().is_some_and(|d| {
            d.iter()
                .any(|(id, c)| id != "local" && c["drawn"].as_u64().unwrap_or(0) >= 30)
        });
        tile && drawn
    })
    .await;
    let remote_tile = page["tiles"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["isSelf"] == false).cloned())
        .unwrap();
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
    let report = other.await.unwrap().unwrap();
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
}

/// The separate server hosts for a LAN (HTTPS with its own certificate), which the person
/// trusted on an earlier visit: the app accepts that certificate again without asking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_joins_a_meeting_and_shows_the_other_side() {
    let artifacts = fresh("app-window");
    let home = tempfile::tempdir().unwrap();
    let s = parlor_testkit::server::server_with(|c| {
        c.media_bind = Some("127.0.0.1".parse().unwrap());
        c.lan = true;
    })
    .await;
    // Plain HTTP is for this machine only; the meeting is made that way, joined over HTTPS.
    let room = parlor_testkit::http::host_meeting(&s.url, "Desktop").await;
    let server = format!("https://{}", s.addr);
    let fingerprint = parlor_media::tls::presented_certificate(&server)
        .await
        .unwrap()
        .fingerprint;
    let data = home.path().join("app-data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("known-servers.json"),
        serde_json::json!({ s.addr.to_string(): fingerprint }).to_string(),
    )
    .unwrap();
    let display = Display::start();
    let link = format!("{server}/m/{room}");
    let mut app = start_app(
        &display,
        home.path(),
        &artifacts,
        &[
            "--join",
            &link,
            "--name",
            "Desk",
            "--data-dir",
            data.to_str().unwrap(),
        ],
    );
    // The other participant: a stamped, moving test pattern and a tone.
    let (controls, other) =
        common::participant_trusting(&server, &room, "Native", 20, &fingerprint);
    the_other_side_shows(&mut app, &display, &artifacts, controls, other).await;
}

/// The app hosts for the LAN: its embedded server starts with a meeting and advertises it over
/// mDNS; a participant finds it by browsing and joins through the advertised address, trusting
/// the advertised fingerprint once it matches the presented certificate, and a browser tab
/// (Chromium) opens the link, clicking through the self-signed certificate as a person would.
/// Runs only in a network namespace of its own that looks like a machine on a LAN (mDNS
/// multicasts; nothing may reach a real network).
#[test]
fn the_app_hosts_a_meeting_and_shows_who_joins() {
    parlor_testkit::netns::run_on_lan("the_app_hosts_a_meeting_and_shows_who_joins", hosting);
}

async fn hosting() {
    let artifacts = fresh("app-host");
    let home = tempfile::tempdir().unwrap();
    let display = Display::start();
    let mut app = start_app(
        &display,
        home.path(),
        &artifacts,
        &["--host", "Desk meeting", "--name", "Desk"],
    );
    let page = report_when(
        &mut app,
        &artifacts.join("report.json"),
        "the hosted meeting",
        |r| r["meeting"].is_string() && r["server"].is_string(),
    )
    .await;
    let (server, code) = (
        page["server"].as_str().unwrap(),
        page["meeting"].as_str().unwrap(),
    );
    let lan = parlor_testkit::netns::LAN_ADDRESS;
    assert!(server.starts_with(&format!("https://{lan}:")), "{page}");

    // Found on the network, as "Nearby meetings" finds it.
    let found = tokio::task::spawn_blocking(|| {
        parlor_server::lan::browse([0, 0, 0, 0].into(), Duration::from_secs(3))
    })
    .await
    .unwrap()
    .unwrap();
    let nearby = found
        .iter()
        .find(|n| n.code.as_deref() == Some(code))
        .unwrap_or_else(|| panic!("the meeting among {found:?}"));
    assert_eq!(nearby.server, server, "{nearby:?}");
    assert_eq!(nearby.title.as_deref(), Some("Desk meeting"));
    assert_eq!(nearby.host.as_deref(), Some("Desk"));
    let fingerprint = nearby.fingerprint.clone().unwrap();
    let presented = parlor_media::tls::presented_certificate(&nearby.server)
        .await
        .unwrap();
    assert_eq!(
        presented.fingerprint, fingerprint,
        "the advert names the served certificate"
    );
    let (controls, other) =
        common::participant_trusting(&nearby.server, code, "Native", 40, &fingerprint);

    // A browser tab joins by the link the app shows, served by the app's own server, and
    // decodes both the app's and the participant's video.
    let ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui");
    let link = nearby.link();
    let tab = tokio::task::spawn_blocking({
        let artifacts = artifacts.clone();
        move || {
            Command::new("node")
                .arg("e2e/join.mjs")
                .current_dir(ui)
                .env("PARLOR_LINK", link)
                .env("PARLOR_NAME", "Tab")
                .env("PARLOR_VIDEOS", "2")
                .env("PARLOR_IGNORE_CERTIFICATE", "1")
                .env("PARLOR_ARTIFACTS", artifacts)
                .output()
                .expect("node runs the browser script")
        }
    })
    .await
    .unwrap();
    assert!(
        tab.status.success(),
        "the browser tab: {}",
        String::from_utf8_lossy(&tab.stderr)
    );
    eprintln!(
        "browser tab decoded: {}",
        String::from_utf8_lossy(&tab.stdout).trim()
    );
    the_other_side_shows(&mut app, &display, &artifacts, controls, other).await;
}
