//! The app's commands on Tauri's mock runtime, in a real call: the test plays the meeting
//! page (signaling over a WebSocket to an in-process `parlor-server`) and drives the media
//! commands as the page does, while a second participant (the call engine as a library)
//! sends a synthetic stamped picture. The app decodes it and hands it to the frame server,
//! where a WebSocket client with the session's token reads it back, stamp intact.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use futures_util::StreamExt;
use parlor_media::call;
use parlor_testkit::WsClient;
use serde_json::{json, Value};
use std::time::Duration;
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::WebviewWindow;

type MockApp = (
    tauri::App<tauri::test::MockRuntime>,
    WebviewWindow<tauri::test::MockRuntime>,
);

fn app() -> MockApp {
    app_with(&Default::default())
}

fn app_with(launch: &parlor_app::launch::Launch) -> MockApp {
    let app = parlor_app::setup(mock_builder(), launch)
        .unwrap()
        .0
        .build(mock_context(noop_assets()))
        .unwrap();
    let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    (app, webview)
}

/// Invokes `cmd` as the page would; `Err` carries the command's error value.
async fn invoke(
    webview: &WebviewWindow<tauri::test::MockRuntime>,
    cmd: &str,
    args: Value,
) -> Result<Value, Value> {
    let webview = webview.clone();
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: tauri::ipc::CallbackFn(0),
        error: tauri::ipc::CallbackFn(1),
        url: "tauri://localhost".parse().unwrap(),
        body: tauri::ipc::InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    tokio::task::spawn_blocking(move || {
        get_ipc_response(&webview, request).map(|b| b.deserialize::<Value>().unwrap())
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_include_the_synthetic_sources_and_errors_are_typed() {
    let (_app, webview) = app();
    let devices = invoke(&webview, "devices", json!({})).await.unwrap();
    let synthetic: Vec<&str> = devices
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["synthetic"] == true)
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(synthetic, ["camera", "microphone"], "{devices}");

    // No call yet: a typed error, not a crash.
    let err = invoke(&webview, "media_stats", json!({}))
        .await
        .unwrap_err();
    assert_eq!(err, json!({"code": "no_call"}));
    let err = invoke(&webview, "media_subscribe_offer", json!({"sdp": "v=0"}))
        .await
        .unwrap_err();
    assert_eq!(err["code"], "no_call");
    // A bad server address is refused before anything opens.
    let options = json!({"server": "http://", "camera": null, "microphone": null,
        "width": 320, "height": 180, "fps": 15});
    let err = invoke(&webview, "media_start", json!({ "options": options }))
        .await
        .unwrap_err();
    assert_eq!(err["code"], "invalid_input", "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_through_the_commands_draws_the_remote_picture() {
    let s = parlor_testkit::server::server_with(|c| {
        c.media_bind = Some("127.0.0.1".parse().unwrap());
    })
    .await;
    let room = parlor_testkit::http::host_meeting(&s.url, "App").await;
    let (_app, webview) = app();

    // The page: a guest token, the signaling socket, `join`.
    let token = parlor_testkit::http::guest_token(&s.url, "App").await;
    let ws_url = format!("{}/ws/signal?token={token}", s.url.replace("http", "ws"));
    let mut page = WsClient::connect(&ws_url).await;
    page.send(json!({"type": "join", "roomId": room})).await;
    page.expect("joined").await;

    // Media through the commands: the publish offer goes to the SFU, its answer comes back.
    let options = json!({"server": s.url, "camera": "synthetic", "microphone": "synthetic",
        "width": 320, "height": 180, "fps": 15});
    let offer = invoke(&webview, "media_start", json!({ "options": options }))
        .await
        .unwrap();
    page.send(json!({"type": "offer", "target": "sfu", "transport": "publish", "sdp": offer}))
        .await;
    let answer = page.expect("answer").await;
    invoke(
        &webview,
        "media_publish_answer",
        json!({"sdp": answer["sdp"]}),
    )
    .await
    .unwrap();

    // Another participant sends a stamped test pattern.
    let (_controls, other) = common::participant(&s.url, &room, "Other", 8);

    // The SFU offers the other's tracks on the subscribe transport, renegotiating as they
    // come; the app answers each offer, as the page does.
    let answering = tokio::spawn({
        let webview = webview.clone();
        async move {
            while let Some(offer) = page.next().await {
                if offer["type"] != "offer" || offer["transport"] != "subscribe" {
                    continue;
                }
                let answer = invoke(
                    &webview,
                    "media_subscribe_offer",
                    json!({"sdp": offer["sdp"]}),
                )
                .await
                .unwrap();
                page.send(json!({"type": "answer", "target": "sfu", "transport": "subscribe", "sdp": answer}))
                    .await;
            }
        }
    });

    // The frame server refuses a wrong token, and streams pictures to the right one.
    let endpoint = invoke(&webview, "frame_endpoint", json!({})).await.unwrap();
    let url = endpoint["url"].as_str().unwrap();
    assert!(url.starts_with("ws://127.0.0.1:"), "{url}");
    let forged = url.split("token=").next().unwrap().to_owned() + "token=forged";
    assert!(tokio_tungstenite::connect_async(&forged).await.is_err());
    let (mut frames, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let (mut remote, mut local) = (Vec::new(), Vec::new());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while remote.len() < 10 || local.is_empty() {
        let msg = tokio::time::timeout_at(deadline, frames.next())
            .await
            .expect("pictures from the frame server")
            .unwrap()
            .unwrap();
        let data = msg.into_data();
        let (track, picture) = decode(&data);
        let stamp = parlor_media::stamp::read(&picture).expect("the sender's stamp survives");
        if track == call::LOCAL_TRACK {
            local.push(stamp.frame_number);
            continue;
        }
        assert_eq!((picture.width, picture.height), (320, 180));
        remote.push(stamp.frame_number);
    }
    assert!(remote.windows(2).all(|w| w[0] < w[1]), "{remote:?}");

    // Another camera during the call: one that cannot be opened is reported and changes
    // nothing; a test pattern opened afresh takes over (its stamps count from the start).
    let missing = invoke(
        &webview,
        "media_use_device",
        json!({"kind": "camera", "id": "/dev/video-absent"}),
    )
    .await
    .unwrap_err();
    assert_eq!(missing["code"], "devices", "{missing}");
    invoke(
        &webview,
        "media_use_device",
        json!({"kind": "camera", "id": "synthetic"}),
    )
    .await
    .unwrap();
    let before = *local.last().unwrap();
    let restarted = loop {
        let msg = tokio::time::timeout_at(deadline + Duration::from_secs(10), frames.next())
            .await
            .expect("the new camera's pictures")
            .unwrap()
            .unwrap();
        let (track, picture) = decode(&msg.into_data());
        if track == call::LOCAL_TRACK {
            let n = parlor_media::stamp::read(&picture).unwrap().frame_number;
            if n < before {
                break n;
            }
        }
    };
    eprintln!("self view: frame {before} from the first camera, then {restarted} from the second");
    // Speaker and microphone too: the null sink, and the tone opened afresh.
    for (kind, id) in [("speaker", "null"), ("microphone", "synthetic")] {
        invoke(
            &webview,
            "media_use_device",
            json!({"kind": kind, "id": id}),
        )
        .await
        .unwrap();
    }
    let bad_kind = invoke(
        &webview,
        "media_use_device",
        json!({"kind": "printer", "id": "synthetic"}),
    )
    .await;
    assert!(bad_kind.is_err(), "{bad_kind:?}");

    let stats = invoke(&webview, "media_stats", json!({})).await.unwrap();
    let video = stats
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "video")
        .unwrap_or_else(|| panic!("{stats}"));
    assert!(video["framesDecoded"].as_u64().unwrap() >= 10, "{video}");
    assert_eq!(video["framesCorrupt"], 0, "{video}");

    // The microphone (a tone) shows on the meter; the other side's audio is being played.
    // The speaker chosen last plays: give it half a second of the other side's audio.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let levels = invoke(&webview, "media_levels", json!({})).await.unwrap();
    let input = levels["input"].as_f64().unwrap();
    assert!((0.05..0.5).contains(&input), "{levels}");
    assert!(levels["framesPlayed"].as_u64().unwrap() > 10, "{levels}");
    assert_eq!(levels["output"], "null", "{levels}");
    assert_eq!(levels["tracks"], 1, "{levels}");
    eprintln!("levels: {levels}");

    invoke(&webview, "media_stop", json!({})).await.unwrap();
    answering.abort();
    let err = invoke(&webview, "media_stats", json!({}))
        .await
        .unwrap_err();
    assert_eq!(err["code"], "no_call");
    other.abort();
}

/// The frame server's message: track id and an I420 picture.
fn decode(data: &[u8]) -> (String, parlor_media::frame::I420Frame) {
    assert_eq!(data[0], 1, "version");
    let n = usize::from(data[1]);
    let track = String::from_utf8(data[2..2 + n].to_vec()).unwrap();
    let at = 2 + n;
    let width = usize::from(u16::from_le_bytes([data[at], data[at + 1]]));
    let height = usize::from(u16::from_le_bytes([data[at + 2], data[at + 3]]));
    let (luma, chroma) = (width * height, width * height / 4);
    let planes = &data[at + 4..];
    assert_eq!(planes.len(), luma + 2 * chroma);
    let picture = parlor_media::frame::I420Frame {
        width,
        height,
        y: planes[..luma].to_vec(),
        u: planes[luma..luma + chroma].to_vec(),
        v: planes[luma + chroma..].to_vec(),
    };
    (track, picture)
}

/// Hosting on this computer: the embedded server starts in its LAN mode (HTTPS with its own
/// certificate) with a meeting whose host is this app's person; someone joins by the link,
/// trusting the fingerprint; the certificate commands show and remember it; stopping ends the
/// meeting for them, then the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosting_a_meeting_and_stopping_it_ends_it_for_everyone() {
    let data = tempfile::tempdir().unwrap();
    let launch = parlor_app::launch::Launch {
        data_dir: Some(data.path().to_owned()),
        ..Default::default()
    };
    let (_app, webview) = app_with(&launch);
    let options = json!({"title": "Hosted", "name": "Desk", "address": "127.0.0.1"});
    let info = invoke(&webview, "host_start", json!({ "options": options }))
        .await
        .unwrap();
    let (server, code) = (
        info["server"].as_str().unwrap(),
        info["code"].as_str().unwrap(),
    );
    assert!(server.starts_with("https://127.0.0.1:"), "{info}");
    let fingerprint = info["fingerprint"].as_str().unwrap().to_owned();
    assert_eq!(fingerprint.len(), 95, "{info}");
    assert_eq!(info["link"], format!("{server}/m/{code}"));
    let port = server.rsplit(':').next().unwrap();
    assert_eq!(
        info["localLink"],
        format!("http://localhost:{port}/m/{code}")
    );
    assert_eq!(info["session"]["guest"], false);
    // Asking again while hosting gives the same meeting.
    let again = invoke(&webview, "host_start", json!({ "options": options }))
        .await
        .unwrap();
    assert_eq!(again["code"], info["code"]);

    // Someone joins through the link's server; the host token sees them in the meeting.
    let (_controls, guest) = common::participant_trusting(server, code, "Guest", 60, &fingerprint);
    let http =
        parlor_media::tls::http_client(&parlor_media::tls::Trust::Pinned(fingerprint.clone()))
            .unwrap();
    let token = info["session"]["token"].as_str().unwrap().to_owned();
    parlor_testkit::eventually("the guest in the hosted meeting", || {
        let req = http
            .get(format!("{server}/api/meetings/{code}/participants"))
            .bearer_auth(&token)
            .send();
        async move {
            let Ok(res) = req.await else { return false };
            let list: Value = res.json().await.unwrap_or_default();
            list.as_array()
                .is_some_and(|l| l.iter().any(|p| p["displayName"] == "Guest"))
        }
    })
    .await;

    // The certificate as the page is shown it: not trusted before; a fingerprint other than
    // the presented one is refused; the right one is remembered for this server.
    let presented = invoke(&webview, "server_certificate", json!({ "server": server }))
        .await
        .unwrap();
    assert_eq!(
        presented,
        json!({"fingerprint": fingerprint, "known": null})
    );
    let other = parlor_protocol::lan::fingerprint(b"someone else");
    let refused = invoke(
        &webview,
        "trust_server",
        json!({ "server": server, "fingerprint": other }),
    )
    .await
    .unwrap_err();
    assert_eq!(refused["code"], "certificate_changed", "{refused}");
    invoke(
        &webview,
        "trust_server",
        json!({ "server": server, "fingerprint": fingerprint }),
    )
    .await
    .unwrap();
    let known = invoke(&webview, "server_certificate", json!({ "server": server }))
        .await
        .unwrap();
    assert_eq!(known["known"], fingerprint.as_str());
    let bad = invoke(
        &webview,
        "server_certificate",
        json!({ "server": "http://127.0.0.1:1" }),
    )
    .await
    .unwrap_err();
    assert_eq!(bad["code"], "invalid_input", "{bad}");

    // Stopping ends the meeting for the guest, then the server goes.
    invoke(&webview, "host_stop", json!({})).await.unwrap();
    let report = tokio::time::timeout(Duration::from_secs(15), guest)
        .await
        .expect("the guest's call ended")
        .unwrap()
        .unwrap();
    assert_eq!(report.ended.as_deref(), Some("meeting_ended:host_ended"));
    assert!(http
        .get(format!("{server}/health/live"))
        .send()
        .await
        .is_err());
    let none = invoke(&webview, "host_info", json!({})).await.unwrap();
    assert!(none.is_null());
}
