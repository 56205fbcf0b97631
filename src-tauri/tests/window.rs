//! The real app in a real window, on a virtual display (Xvfb), acted on as a person would
//! (the X protocol: moving the window, its close button, mouse clicks) with the app's
//! `--report` saying what the page shows:
//!
//! - started straight into a meeting on a separate `parlor-server` hosting for a LAN, it asks
//!   whether to trust the server's certificate, showing its fingerprint, and goes on when
//!   that is clicked; a `parlor-client` joins; the client decodes the app's video with no
//!   corrupt frame, and two screenshots a second apart differ inside the client's tile, which
//!   is not blank; during the call the app's tray icon docks in the system tray; closing the
//!   window asks first, and "Leave and quit" quits;
//! - hosting on the LAN: the meeting is found over mDNS, a `parlor-client` joins through the
//!   advertised address and a browser tab by the link, and the same checks hold;
//! - moved and resized, then closed and started again, the window comes back where it was.
//!
//! Screenshots are kept in `$CARGO_TARGET_TMPDIR/app-window/` and `app-host/`.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use common::display::{changed, read_report, screenshot, spread, Display, Running, SessionBus};
use common::x11::{Desk, Place};
use common::Client;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// What the other participant sends: width, height, frames per second.
const SMALL: (usize, usize, u32) = (320, 180, 15);

/// The tests with a call hold this while they run: two calls at once (each an app, a browser
/// or client, software video both ways) starve each other on a small machine until video
/// arrives seconds late.
fn one_call_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The app on its own display, in a home of its own so nothing from an earlier run (or the
/// person's own settings) is found.
fn start_app(
    display: &Display,
    bus: &SessionBus,
    home: &Path,
    artifacts: &Path,
    args: &[&str],
) -> Running {
    Running(
        Command::new(env!("CARGO_BIN_EXE_parlor-app"))
            .args(args)
            .arg("--report")
            .arg(artifacts.join("report.json"))
            .env("DISPLAY", display.name())
            .env("DBUS_SESSION_BUS_ADDRESS", bus.address())
            .env("NO_AT_BRIDGE", "1")
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

/// Waits up to `wait` for the app to quit by itself; true when it quit cleanly.
async fn quits(app: &mut Running, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    while tokio::time::Instant::now() < deadline {
        if let Some(status) = app.0.try_wait().unwrap() {
            return status.success();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// The dialog the page shows, once its title contains `title`.
async fn dialog(app: &mut Running, artifacts: &Path, title: &str) -> Value {
    let page = report_when(app, &artifacts.join("report.json"), title, |r| {
        r["dialog"]["title"]
            .as_str()
            .is_some_and(|t| t.contains(title))
    })
    .await;
    page["dialog"].clone()
}

/// Clicks the button labelled `label` in the page's dialog, as a person would with the mouse.
async fn press(desk: &Desk, app: &mut Running, artifacts: &Path, label: &str) {
    let page = report_when(app, &artifacts.join("report.json"), label, |r| {
        r["dialog"]["buttons"].as_array().is_some_and(|b| {
            b.iter()
                .any(|b| b["label"] == label && b["enabled"] == true)
        })
    })
    .await;
    let button = page["dialog"]["buttons"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["label"] == label).cloned())
        .unwrap();
    let scale = page["scale"].as_f64().unwrap_or(1.0);
    let at = |origin: &str, start: &str, size: &str| {
        let middle = button[start].as_f64().unwrap() + button[size].as_f64().unwrap() / 2.0;
        (page[origin].as_f64().unwrap() + middle * scale).round() as i32
    };
    desk.click(at("pageX", "x", "width"), at("pageY", "y", "height"));
}

/// Whether a reported tile is the other participant's (a browser tab that already left may
/// still have one, frozen).
fn is_other(tile: &Value, name: &str) -> bool {
    tile["isSelf"] == false && tile["name"].as_str().is_some_and(|n| n.contains(name))
}

/// Waits until the window has drawn a good run of the other side's pictures, then checks in
/// two screenshots a second apart that the remote tile moves and is not blank. The other side
/// then leaves and must have decoded the app's camera cleanly.
async fn the_other_side_shows(
    app: &mut Running,
    display: &Display,
    artifacts: &Path,
    other: Client,
) {
    let report_path = artifacts.join("report.json");
    let page = report_when(app, &report_path, "the other side drawn", |r| {
        let tile = r["call"]["tiles"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| is_other(t, other.name())));
        let drawn = r["call"]["drawn"].as_object().is_some_and(|d| {
            d.iter()
                .any(|(id, c)| id != "local" && c["drawn"].as_u64().unwrap_or(0) >= 30)
        });
        tile && drawn
    })
    .await;
    let call = &page["call"];
    let remote_tile = call["tiles"]
        .as_array()
        .and_then(|t| t.iter().find(|t| is_other(t, other.name())).cloned())
        .unwrap();
    // Screenshots a second apart: inside the remote tile, the picture is not blank and moves
    // (on a loaded machine the web view may draw seldom, so a few seconds are allowed).
    let name = display.name();
    let shoot = || {
        let name = name.clone();
        async move {
            tokio::task::spawn_blocking(move || screenshot(&name))
                .await
                .unwrap()
        }
    };
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
    let first = shoot().await;
    let a = first.region(region);
    let spread_a = spread(&a);
    let (mut second, mut moved, mut waited) = (None, 0.0, 0);
    while waited < 5 && moved <= 0.01 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        waited += 1;
        let shot = shoot().await;
        moved = changed(&a, &shot.region(region));
        second = Some(shot);
    }
    first.save(&artifacts.join("window-1.png"));
    if let Some(second) = second {
        second.save(&artifacts.join("window-2.png"));
    }
    eprintln!(
        "remote tile {region:?}: spread {spread_a:.1}, {:.1}% of samples changed after {waited} s; screenshots in {}",
        moved * 100.0,
        artifacts.display()
    );
    assert!(spread_a > 20.0, "the remote tile is not blank: {spread_a}");
    assert!(moved > 0.01, "the remote picture moves: {moved}");

    // The other side decoded the app's camera cleanly (its video among any others it had,
    // such as a browser tab's that came and went).
    let app_id = call["tiles"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["isSelf"] == true))
        .map(|t| t["peerId"].clone())
        .unwrap_or_else(|| panic!("the app's own tile: {call}"));
    let report = other.leave().await;
    let video = report["remote"]
        .as_array()
        .and_then(|r| {
            r.iter()
                .find(|t| t["kind"] == "video" && t["peerId"] == app_id)
                .cloned()
        })
        .unwrap_or_else(|| panic!("video from the app ({app_id}): {report}"));
    assert!(video["framesDecoded"].as_u64().unwrap() >= 30, "{video}");
    assert_eq!(video["framesCorrupt"], 0, "{video}");
    assert_eq!(video["framesMissing"], 0, "{video}");
    eprintln!(
        "the app drew {} of the other side's pictures ({}); parlor-client decoded {} of the app's, {} corrupt",
        call["drawn"], call["stats"], video["framesDecoded"], video["framesCorrupt"]
    );
}

/// The separate server hosts for a LAN (HTTPS with its own certificate), which the person has
/// not met before: the app shows its fingerprint and asks, and goes on once trusted.
#[test]
fn the_app_joins_a_meeting_and_shows_the_other_side() {
    let _alone = one_call_at_a_time();
    parlor_testkit::block_on(joining());
}

async fn joining() {
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
    let display = Display::start();
    let bus = SessionBus::start();
    // This display's system tray, where the app's icon docks during calls.
    let mut tray = Desk::open(&display.name()).tray();
    let link = format!("{server}/m/{room}");
    let mut app = start_app(
        &display,
        &bus,
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
    let desk = Desk::open(&display.name());

    // Trust on first use: the fingerprint is shown, and clicking on goes on to the meeting.
    let asked = dialog(&mut app, &artifacts, "Check this server").await;
    assert!(
        asked["text"].as_str().unwrap().contains(&fingerprint),
        "the fingerprint is shown: {asked}"
    );
    assert!(
        !tray.icon_shown(false, Duration::from_secs(2)),
        "no tray icon before a call"
    );
    press(
        &desk,
        &mut app,
        &artifacts,
        "They match: trust and continue",
    )
    .await;
    report_when(&mut app, &artifacts.join("report.json"), "the call", |r| {
        r["call"].is_object()
    })
    .await;
    let known = std::fs::read_to_string(data.join("known-servers.json")).unwrap();
    assert!(known.contains(&fingerprint), "remembered: {known}");

    // The other participant: a stamped, moving test pattern and a tone.
    let other = Client::join(
        &server,
        &room,
        "Native",
        Some(&fingerprint),
        SMALL,
        &artifacts,
    );
    the_other_side_shows(&mut app, &display, &artifacts, other).await;
    assert!(
        tray.icon_shown(true, Duration::from_secs(5)),
        "the tray icon during the call: {:?}",
        tray.docked
    );
    eprintln!("tray icons docked during the call: {:?}", tray.docked);

    // Closing the window during the call asks first; staying keeps the call, leaving quits.
    let window = desk.window("Parlor", Duration::from_secs(5));
    desk.close(window);
    let asked = dialog(&mut app, &artifacts, "Leave the call?").await;
    eprintln!("closing during the call asked: {}", asked["text"]);
    press(&desk, &mut app, &artifacts, "Stay in the call").await;
    report_when(&mut app, &artifacts.join("report.json"), "stayed", |r| {
        r["dialog"].is_null() && r["call"].is_object()
    })
    .await;
    desk.close(window);
    dialog(&mut app, &artifacts, "Leave the call?").await;
    press(&desk, &mut app, &artifacts, "Leave and quit").await;
    assert!(
        quits(&mut app, Duration::from_secs(15)).await,
        "the app quits cleanly after leaving"
    );
}

/// The app hosts for the LAN: its embedded server starts with a meeting and advertises it over
/// mDNS; a `parlor-client` finds it by browsing and joins through the advertised address,
/// trusting the advertised fingerprint once it matches the presented certificate, and a
/// browser tab (Chromium) opens the link, clicking through the self-signed certificate as a
/// person would. Runs only in a network namespace of its own that looks like a machine on a
/// LAN (mDNS multicasts; nothing may reach a real network).
#[test]
fn the_app_hosts_a_meeting_and_shows_who_joins() {
    let _alone = one_call_at_a_time();
    parlor_testkit::netns::run_on_lan("the_app_hosts_a_meeting_and_shows_who_joins", hosting);
}

async fn hosting() {
    let artifacts = fresh("app-host");
    let home = tempfile::tempdir().unwrap();
    let display = Display::start();
    let bus = SessionBus::start();
    let mut app = start_app(
        &display,
        &bus,
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
    let other = Client::join(
        &nearby.server,
        code,
        "Native",
        Some(&fingerprint),
        SMALL,
        &artifacts,
    );

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
    the_other_side_shows(&mut app, &display, &artifacts, other).await;
}

/// Moved and resized, closed (not in a call, so without asking) and started again, the window
/// comes back where it was and as big as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_comes_back_where_it_was() {
    let artifacts = fresh("app-place");
    let home = tempfile::tempdir().unwrap();
    let display = Display::start();
    let bus = SessionBus::start();
    let desk = Desk::open(&display.name());
    let report = artifacts.join("report.json");
    let mut app = start_app(&display, &bus, home.path(), &artifacts, &[]);
    report_when(&mut app, &report, "the home page", |r| r["path"] == "/").await;
    let window = desk.window("Parlor", Duration::from_secs(10));
    let first = desk.place(window);
    let moved = Place {
        x: 70,
        y: 30,
        width: 900,
        height: 640,
    };
    assert_ne!(first, moved);
    desk.put(window, moved);
    report_when(&mut app, &report, "the window moved", |r| {
        r["pageX"].as_f64() == Some(70.0) && r["pageY"].as_f64() == Some(30.0)
    })
    .await;
    assert_eq!(desk.place(window), moved);
    desk.close(window);
    assert!(
        quits(&mut app, Duration::from_secs(15)).await,
        "closing outside a call quits at once"
    );

    let _ = std::fs::remove_file(&report);
    let mut again = start_app(&display, &bus, home.path(), &artifacts, &[]);
    report_when(&mut again, &report, "the home page", |r| r["path"] == "/").await;
    let window = desk.window("Parlor", Duration::from_secs(10));
    let back = desk.place(window);
    eprintln!("first opened at {first:?}; put at {moved:?}; opened again at {back:?}");
    assert_eq!(back, moved, "the window comes back where it was");
}
