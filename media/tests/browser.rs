//! The web UI end to end: two people in Debian's Chromium (fake camera and microphone, driven
//! by Playwright through `ui/e2e/meeting.mjs`) and one `parlor-client` in one meeting on a
//! `parlor-server` serving the built UI. Everyone decodes everyone else's video, chat goes
//! round, the host mutes and removes the guest, mutes the native client, and ends the meeting.
//!
//! A second test kills the node running a meeting's room under a browser tab that joined
//! through another node, and waits for the tab to decode video again.
//!
//! Where it may, each test runs in a network namespace of its own holding only a loopback
//! interface (`unshare --net`), so the browser can gather no candidate but 127.0.0.1 and no
//! packet can go anywhere else. Screenshots land in `$CARGO_TARGET_TMPDIR/browser-meeting`.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use serde_json::Value;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const CHROMIUM: &str = "/usr/bin/chromium";
const NATIVE: &str = "Native";

fn ui_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui")
}

/// What the run needs besides this crate, each with how to get it.
fn prerequisites() {
    let ui = ui_dir();
    for (path, fix) in [
        (ui.join("dist/index.html"), "build the UI: make ui"),
        (
            ui.join("node_modules/playwright-core/package.json"),
            "install the UI's packages: make ui",
        ),
        (
            PathBuf::from(CHROMIUM),
            "install Chromium: scripts/ensure-deps.sh test",
        ),
    ] {
        assert!(path.exists(), "{} is missing; {fix}", path.display());
    }
}

/// Starts one of `ui/e2e`'s scripts under Node.js with Debian's Chromium; what it prints,
/// line by line as JSON, arrives on the channel (and everything it prints goes to the log).
fn browser_script(
    command: &mut Command,
) -> (
    std::process::Child,
    tokio::sync::mpsc::UnboundedReceiver<Value>,
) {
    let mut node = command
        .current_dir(ui_dir())
        .env("PARLOR_CHROMIUM", CHROMIUM)
        .stdout(Stdio::piped())
        .spawn()
        .expect("node (Node.js) runs the browser script");
    let (lines_tx, lines) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let stdout = node.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            eprintln!("browser: {line}");
            if let Ok(v) = serde_json::from_str(&line) {
                let _ = lines_tx.send(v);
            }
        }
    });
    (node, lines)
}

/// One browser test at a time: each runs Chromium, servers and native clients, and two at
/// once on a 2-core machine starve their media threads.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs the browser test `name`, whose body is `test`: alone, inside a network namespace of
/// its own where it may.
fn browser_test<F: std::future::Future<Output = ()>>(name: &str, test: impl FnOnce() -> F) {
    let _alone = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    prerequisites();
    if let Some(status) = parlor_testkit::netns::rerun_isolated(name) {
        assert!(status.success(), "the isolated run failed: {status}");
        return;
    }
    parlor_testkit::block_on(test());
}

#[test]
fn a_meeting_in_the_browser() {
    browser_test("a_meeting_in_the_browser", meeting);
}

/// A browser tab in a meeting whose room runs on another node than the one its page and
/// WebSocket came from. That node is killed (SIGKILL): the tab's own node closes its socket as
/// a restart, the page reconnects with its resume token, the meeting is placed anew and the
/// tab decodes video again from the `parlor-client` that also came back.
#[test]
fn a_browser_tab_comes_back_when_its_meetings_node_is_killed() {
    browser_test(
        "a_browser_tab_comes_back_when_its_meetings_node_is_killed",
        failover,
    );
}

async fn failover() {
    let redis = parlor_testkit::RedisServer::start();
    let ([mut a, b], _data) = parlor_testkit::server::two_nodes(&redis).await;
    let code = parlor_testkit::http::host_meeting(&b.url, "Failover").await;
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-failover");
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();
    let stats = artifacts.join("x.json");

    // X joins through node-a, so the room runs there; it knows node-b too.
    let x = common::client(&a.url, &code, "X", Some(45), &stats, &["--server", &b.url]);
    redis.room_on(&code, "node-a").await;
    let (mut node, mut lines) = browser_script(
        Command::new("node")
            .arg("e2e/join.mjs")
            .env("PARLOR_LINK", format!("{}/m/{code}", b.url))
            .env("PARLOR_NAME", "Tab")
            .env("PARLOR_VIDEOS", "1")
            .env("PARLOR_AGAIN", "1")
            .env("PARLOR_ARTIFACTS", &artifacts),
    );

    let deadline = tokio::time::Instant::now() + Duration::from_secs(150);
    let mut killed = None;
    let mut again = None;
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, lines.recv()).await {
        match event["event"].as_str() {
            Some("frames") => {
                a.kill();
                killed = Some(std::time::Instant::now());
            }
            Some("again") => {
                again = killed.map(|k| k.elapsed());
                break;
            }
            _ => {}
        }
    }
    let status = tokio::task::spawn_blocking(move || node.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(
        killed.is_some(),
        "the tab never decoded X's video before the kill"
    );
    let again = again.expect("the tab decoded video again after the kill");
    assert!(status.success(), "the browser script failed: {status}");
    redis.room_on(&code, "node-b").await;
    let meeting = parlor_testkit::http::meeting(&b.url, &code).await;
    assert_eq!(meeting["status"], "active", "{meeting}");
    let (report, _) = common::finished(x, stats).await;
    assert_eq!(report["reconnects"], 1, "{report}");
    eprintln!(
        "node-a killed: the browser tab decoded video again {again:?} later; X recovered in {} ms",
        report["recoveryMs"][0]
    );
}

async fn meeting() {
    let s = common::server_with(|c| c.media_bind = Some("127.0.0.1".parse().unwrap())).await;
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-meeting");
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();
    let stats = artifacts.join("native.json");

    let (mut node, mut lines) = browser_script(
        Command::new("node")
            .arg("e2e/meeting.mjs")
            .env("PARLOR_URL", &s.url)
            .env("PARLOR_ARTIFACTS", &artifacts)
            .env("PARLOR_NATIVE", NATIVE),
    );

    // The host creates the meeting in the browser; the native client joins once it exists and
    // stays until the meeting ends.
    let mut native = None;
    let mut browser_frames = Value::Null;
    let mut names = Value::Null;
    let mut screenshot = None;
    let mut done = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, lines.recv()).await {
        match event["event"].as_str() {
            Some("code") => {
                let code = event["code"].as_str().unwrap();
                native = Some(common::client(
                    &s.url,
                    code,
                    NATIVE,
                    None,
                    &stats,
                    &["--say", &format!("Hello from {NATIVE}")],
                ));
            }
            Some("frames") => browser_frames = event["frames"].clone(),
            Some("people") => names = event["people"].clone(),
            Some("screenshot") => screenshot = event["path"].as_str().map(PathBuf::from),
            Some("done") => done = true,
            _ => {}
        }
    }
    let status = tokio::task::spawn_blocking(move || node.wait())
        .await
        .unwrap()
        .unwrap();
    let mut native = native.expect("the browser created a meeting");
    if !(status.success() && done) {
        let _ = native.kill();
        let out = native.wait_with_output().unwrap();
        panic!(
            "the browser script failed ({status}); the native client said:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (report, log) = common::finished(native, stats).await;

    // The native client saw the meeting end, had its microphone turned off by the host, and
    // read the chat of both browsers.
    assert_eq!(report["ended"], "meeting_ended:host_ended", "{report}");
    assert!(log.contains("Hana muted this microphone"), "{log}");
    for line in ["chat Hana: Hello from Hana", "chat Gus: Hi Hana, Gus here"] {
        assert!(log.contains(line), "native client missed {line:?}: {log}");
    }
    // It decoded both browsers' video with no corrupt frame, and received their audio.
    let remote = report["remote"].as_array().unwrap();
    let videos: Vec<&Value> = remote.iter().filter(|t| t["kind"] == "video").collect();
    assert_eq!(videos.len(), 2, "video from both browsers: {report}");
    let mut native_frames = Vec::new();
    for v in &videos {
        assert!(v["framesDecoded"].as_u64().unwrap() >= 30, "{v}");
        assert_eq!(v["framesCorrupt"], 0, "{v}");
        let from = names[v["peerId"].as_str().unwrap()].as_str().unwrap_or("?");
        native_frames.push(format!("{from}->{NATIVE} {}", v["framesDecoded"]));
    }
    let audio = remote.iter().filter(|t| t["kind"] == "audio");
    for a in audio {
        assert!(a["framesDecoded"].as_u64().unwrap() >= 50, "{a}");
        assert_eq!(a["framesCorrupt"], 0, "{a}");
    }

    let shot = screenshot.expect("a screenshot of the meeting");
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "{}",
        shot.display()
    );
    eprintln!(
        "frames decoded: {browser_frames} {}; screenshot {}",
        native_frames.join(", "),
        shot.display()
    );
}
