//! End to end: a real `parlor-server` and real `parlor-client` processes with synthetic media
//! in one meeting. Everyone decodes everyone else's video in order with no corrupt frames and
//! receives their audio; a leaver's tracks go for the others; a late joiner starts on a
//! requested keyframe; a muted microphone sends no more audio.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use common::{client, finished, server, server_with};
use serde_json::Value;
use std::time::Duration;

/// A number from the stats of one of the client's own tracks.
fn local(report: &Value, kind: &str, field: &str) -> u64 {
    report["local"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == kind)
        .and_then(|t| t[field].as_u64())
        .unwrap_or_else(|| panic!("no {kind} {field} in {report}"))
}

fn remote<'a>(report: &'a Value, peer: &Value, kind: &str) -> Option<&'a Value> {
    report["remote"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["peerId"] == *peer && t["kind"] == kind)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_clients_and_a_late_joiner() {
    let s = server().await;
    let room = parlor_testkit::http::host_meeting(&s.url, "End to end").await;
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(format!("{n}.json"));

    let a = client(&s.url, &room, "A", Some(16), &path("a"), &[]);
    let b = client(
        &s.url,
        &room,
        "B",
        Some(16),
        &path("b"),
        &["--mute-after", "5s"],
    );
    let c = client(&s.url, &room, "C", Some(7), &path("c"), &[]);
    tokio::time::sleep(Duration::from_secs(9)).await;
    let d = client(&s.url, &room, "D", Some(6), &path("d"), &[]);

    let (c_report, _) = finished(c, path("c")).await;
    let (d_report, _) = finished(d, path("d")).await;
    let (a_report, a_log) = finished(a, path("a")).await;
    let (b_report, _) = finished(b, path("b")).await;
    let id = |r: &Value| r["participantId"].clone();

    // A, B and C were together: each decoded the other two's video, in order, uncorrupted,
    // and received their audio.
    for (me, others) in [
        (&a_report, [&b_report, &c_report]),
        (&b_report, [&a_report, &c_report]),
        (&c_report, [&a_report, &b_report]),
    ] {
        for other in others {
            let v = remote(me, &id(other), "video")
                .unwrap_or_else(|| panic!("{} has no video from {}: {me}", id(me), id(other)));
            assert!(v["framesDecoded"].as_u64().unwrap() >= 30, "{v}");
            assert_eq!(v["framesCorrupt"], 0, "{v}");
            assert_eq!(v["outOfOrder"], 0, "frame numbers strictly increase: {v}");
            let au = remote(me, &id(other), "audio").unwrap();
            assert!(au["framesDecoded"].as_u64().unwrap() >= 100, "{au}");
        }
    }

    // C left after 7 s: A saw both of C's tracks go.
    let c_id = id(&c_report);
    let gone = a_log
        .lines()
        .filter(|l| l.contains(&format!("from {} gone", c_id.as_str().unwrap())))
        .count();
    assert_eq!(gone, 2, "A saw C's tracks go: {a_log}");

    // D joined late: its first frames came after keyframe requests, decoded cleanly.
    for other in [&a_report, &b_report] {
        let v = remote(&d_report, &id(other), "video").unwrap();
        assert!(v["framesDecoded"].as_u64().unwrap() >= 20, "{v}");
        assert_eq!(v["framesCorrupt"], 0, "{v}");
        assert!(v["firstFrameMs"].as_f64().is_some(), "{v}");
    }
    let requested: u64 = [&a_report, &b_report]
        .iter()
        .map(|r| local(r, "video", "keyframeRequestsReceived"))
        .sum();
    assert!(
        requested >= 2,
        "publishers were asked for keyframes: {requested}"
    );

    // B muted after 5 s of its 16: it sent well under half the audio A did, and A received no
    // more of B's audio than B sent.
    let b_audio_sent = local(&b_report, "audio", "framesSent");
    let a_audio_sent = local(&a_report, "audio", "framesSent");
    let a_from_b = remote(&a_report, &id(&b_report), "audio").unwrap()["framesReceived"]
        .as_u64()
        .unwrap();
    assert!(
        a_from_b <= b_audio_sent,
        "nothing after muting: {a_from_b} > {b_audio_sent}"
    );
    assert!(
        b_audio_sent * 2 < a_audio_sent,
        "B stopped sending: {b_audio_sent} vs {a_audio_sent}"
    );
}

/// The engine as a library: decoded pictures and audio come out as events, with the sender's
/// stamps readable in the pictures and the tone's marks in the audio.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_delivers_decoded_pictures_and_audio() {
    use parlor_media::call::{self, CallConfig, CallEvent, MediaConfig, Source};
    use parlor_media::capture::synthetic::is_mark;
    let s = server().await;
    let room = parlor_testkit::http::host_meeting(&s.url, "End to end").await;
    let config = |name: &str, deliver: bool| CallConfig {
        server: s.url.clone(),
        fallback: Vec::new(),
        room: room.clone(),
        name: name.into(),
        media: MediaConfig {
            camera: (!deliver).then_some(Source::Synthetic),
            mic: (!deliver).then_some(Source::Synthetic),
            width: 320,
            height: 180,
            fps: 15,
            video_bitrate_bps: 300_000,
            bind_ip: "127.0.0.1".parse().unwrap(),
            deliver_media: deliver,
        },
        trust: Default::default(),
    };
    let (_keep_a, controls_a) = tokio::sync::mpsc::unbounded_channel();
    let (_keep_b, controls_b) = tokio::sync::mpsc::unbounded_channel();
    let (events_a, _) = tokio::sync::mpsc::unbounded_channel();
    let (events_b, mut received) = tokio::sync::mpsc::unbounded_channel();
    let sender = tokio::spawn(call::run(
        config("A", false),
        Some(Duration::from_secs(6)),
        controls_a,
        events_a,
    ));
    let receiver = tokio::spawn(call::run(
        config("B", true),
        Some(Duration::from_secs(6)),
        controls_b,
        events_b,
    ));
    let (mut stamped, mut marks, mut audio) = (Vec::new(), 0, 0);
    while let Some(e) = received.recv().await {
        match e {
            CallEvent::Video { picture, .. } => {
                assert_eq!((picture.width, picture.height), (320, 180));
                stamped.extend(parlor_media::stamp::read(&picture).map(|s| s.frame_number));
            }
            CallEvent::Audio { frame, .. } => {
                assert_eq!(frame.samples.len(), 960);
                audio += 1;
                marks += usize::from(is_mark(&frame.samples));
            }
            _ => {}
        }
    }
    sender.await.unwrap().unwrap();
    receiver.await.unwrap().unwrap();
    assert!(stamped.len() >= 30, "{}", stamped.len());
    assert!(stamped.windows(2).all(|w| w[0] < w[1]), "{stamped:?}");
    assert!(audio >= 100, "{audio}");
    assert!(
        marks >= 2,
        "the tone's once-a-second marks came through: {marks}"
    );
}

/// Packets lost on the way in and out of the SFU are asked for again and repaired: with 5 %
/// of RTP dropped in each direction, each client still decodes the other's video in order,
/// with no corrupt frames and no frame lost for good. `PARLOR_TEST_LOSS_UP` and
/// `PARLOR_TEST_LOSS_DOWN` (0.0–1.0) change the loss, for measuring.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_packets_are_repaired() {
    use parlor_testkit::lossy::{Loss, LossyRelay};
    use std::sync::atomic::Ordering::Relaxed;
    let share = |var: &str| std::env::var(var).map_or(0.05, |v| v.parse().unwrap());
    let loss = Loss {
        upstream: share("PARLOR_TEST_LOSS_UP"),
        downstream: share("PARLOR_TEST_LOSS_DOWN"),
        seed: 42,
    };
    // The relay takes a free port on 127.0.0.2; the SFU binds the same port on 127.0.0.1 and
    // names the relay's address in its candidates, so all media passes through the relay.
    let front = "127.0.0.2:0".parse().unwrap();
    let relay = LossyRelay::start(front, "127.0.0.1".parse().unwrap(), loss)
        .await
        .unwrap();
    let s = server_with(|c| {
        c.media_port = relay.addr.port();
        c.media_workers = 1;
        c.media_bind = Some("127.0.0.1".parse().unwrap());
        c.public_ip = Some(relay.addr.ip());
    })
    .await;
    let room = parlor_testkit::http::host_meeting(&s.url, "Lossy").await;
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(format!("{n}.json"));
    let a = client(&s.url, &room, "A", Some(12), &path("a"), &[]);
    let b = client(&s.url, &room, "B", Some(12), &path("b"), &[]);
    let (a_report, _) = finished(a, path("a")).await;
    let (b_report, _) = finished(b, path("b")).await;
    let counts = &relay.counts;
    eprintln!(
        "relay: RTP up {} (dropped {}), down {} (dropped {})",
        counts.rtp_up.load(Relaxed),
        counts.dropped_up.load(Relaxed),
        counts.rtp_down.load(Relaxed),
        counts.dropped_down.load(Relaxed)
    );
    for (me, other) in [(&a_report, &b_report), (&b_report, &a_report)] {
        let v = remote(me, &other["participantId"], "video").unwrap();
        eprintln!("{v}");
        assert!(v["framesDecoded"].as_u64().unwrap() >= 100, "{v}");
        assert_eq!(v["framesCorrupt"], 0, "{v}");
        assert_eq!(v["outOfOrder"], 0, "{v}");
        assert_eq!(v["framesMissing"], 0, "every lost packet was repaired: {v}");
    }
    assert!(counts.dropped_up.load(Relaxed) > 0 && counts.dropped_down.load(Relaxed) > 0);
}
