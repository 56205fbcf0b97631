//! Bad input over signaling, as a table: each case is answered with its error code, and the
//! server keeps serving the offender (where that makes sense) and everyone else.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use common::{Backend, TestServer};
use parlor_testkit::WsClient;
use serde_json::{json, Value};

on_both_backends!(error_table, flood_is_limited_then_cut_off, oversized_frames);

/// A bystander pair in their own meeting, proving the server still serves others.
struct Bystanders {
    a: WsClient,
    b: WsClient,
}

impl Bystanders {
    async fn new(s: &TestServer) -> Self {
        let host = s.account("Bystander").await;
        let code = s.meeting(&host, "Elsewhere").await;
        let (a, _) = s.join(&s.guest("A").await, &code).await;
        let (mut b, _) = s.join(&s.guest("B").await, &code).await;
        b.roundtrip().await;
        Self { a, b }
    }

    async fn still_served(&mut self, case: &str) {
        self.a.send(json!({"type": "chat", "text": case})).await;
        let got = self.b.expect("chat").await;
        assert_eq!(got["text"], case);
        self.a.expect("chat").await;
    }
}

async fn error_table(b: Backend) {
    let s = TestServer::start(b).await;
    let mut others = Bystanders::new(&s).await;
    let host = s.account("Host").await;
    let code = s.meeting(&host, "Main").await;
    let ended = s.meeting(&host, "Over").await;
    let (status, _) = s
        .post(
            &format!("/api/meetings/{ended}/end"),
            Some(&host),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    // A peer in another meeting, for the cross-room relay case.
    let other_host = s.account("Other").await;
    let other_code = s.meeting(&other_host, "Other room").await;
    let (_, outsider) = s.join(&s.guest("Outsider").await, &other_code).await;
    let outsider_id = outsider["participantId"].as_str().unwrap().to_owned();

    let mut c = s.ws(&s.guest("Tester").await).await;
    let before_join: [(&str, String, &str); 5] = [
        ("malformed JSON", "{\"type\": \"join\",".into(), "bad_json"),
        ("not an object", "[\"join\"]".into(), "invalid_message"),
        (
            "unknown type",
            json!({"type": "teleport"}).to_string(),
            "unknown_type",
        ),
        (
            "missing field",
            json!({"type": "join"}).to_string(),
            "invalid_message",
        ),
        (
            "before join",
            json!({"type": "chat", "text": "hi"}).to_string(),
            "not_joined",
        ),
    ];
    for (case, text, code) in before_join {
        c.send_text(&text).await;
        c.expect_error(code).await;
        c.roundtrip().await;
        others.still_served(case).await;
    }

    c.send_binary(vec![1, 2, 3]).await;
    c.expect_error("invalid_message").await;
    c.roundtrip().await;

    let rooms: [(&str, Value, &str); 3] = [
        (
            "unknown room",
            json!({"type": "join", "roomId": "zzz-zzzz-zzz"}),
            "room_not_found",
        ),
        (
            "malformed room",
            json!({"type": "join", "roomId": "../etc"}),
            "room_not_found",
        ),
        (
            "ended meeting",
            json!({"type": "join", "roomId": ended}),
            "meeting_ended",
        ),
    ];
    for (case, msg, code) in rooms {
        c.send(msg).await;
        c.expect_error(code).await;
        others.still_served(case).await;
    }
    let ended_event = c.expect_next("meeting_ended").await;
    assert_eq!(ended_event["roomId"], ended.as_str());

    c.send(json!({"type": "join", "roomId": code})).await;
    c.expect_next("joined").await;
    let in_room: [(&str, Value, &str); 4] = [
        (
            "join twice",
            json!({"type": "join", "roomId": code}),
            "already_joined",
        ),
        (
            "relay to a peer in another room",
            json!({"type": "offer", "peerId": outsider_id, "sdp": "v=0"}),
            "peer_not_found",
        ),
        (
            "relay to nobody",
            json!({"type": "ice-candidate", "peerId": "p_gone", "candidate": {"candidate": ""}}),
            "peer_not_found",
        ),
        (
            "wrong field type",
            json!({"type": "media_state", "mic": "yes", "camera": true}),
            "invalid_message",
        ),
    ];
    for (case, msg, code) in in_room {
        c.send(msg).await;
        c.expect_error(code).await;
        others.still_served(case).await;
    }
    // Still in the room and working.
    c.send(json!({"type": "chat", "text": "still here"})).await;
    assert_eq!(c.expect("chat").await["text"], "still here");
}

async fn flood_is_limited_then_cut_off(b: Backend) {
    let s = TestServer::start_with(b, |c| {
        c.rate_limit_per_sec = 5;
        c.rate_limit_burst = 10;
    })
    .await;
    let mut others = Bystanders::new(&s).await;
    let mut flooder = s.ws(&s.guest("Flood").await).await;
    for _ in 0..200 {
        // The server may cut the connection before all 200 are written.
        if !flooder.try_send_text(r#"{"type":"ping"}"#).await {
            break;
        }
    }
    let mut pongs = 0;
    let mut limited = 0;
    while let Some(msg) = flooder.next().await {
        match msg["type"].as_str() {
            Some("pong") => pongs += 1,
            Some("error") => {
                assert_eq!(msg["code"], "rate_limited", "{msg}");
                limited += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        flooder.close_code,
        Some(1008),
        "abuse ends in a policy close"
    );
    assert!(
        (10..200).contains(&pongs),
        "burst served, flood not: {pongs}"
    );
    assert!(limited >= 1, "told it was rate limited");
    others.still_served("after the flood").await;
    assert!(s.metric("parlor_errors_total{code=\"rate_limited\"}").await >= 1.0);
}

async fn oversized_frames(b: Backend) {
    let s = TestServer::start(b).await;
    let mut others = Bystanders::new(&s).await;
    let mut c = s.ws(&s.guest("Big").await).await;
    // Over the message limit (64 KiB): answered, connection kept.
    let big = json!({"type": "chat", "text": "x".repeat(100_000)}).to_string();
    c.send_text(&big).await;
    let e = c.expect_error("message_too_large").await;
    assert!(e["message"].as_str().unwrap().contains("65536"));
    c.roundtrip().await;
    others.still_served("after a big message").await;
    // Over the frame limit (16 MiB): the connection is closed with 1009, others unaffected.
    let huge = "y".repeat(17 * 1024 * 1024);
    let _ = c.try_send_text(&huge).await;
    let code = c.closed().await;
    assert_eq!(code, Some(1009), "closed as too big");
    others.still_served("after a huge frame").await;
}

/// A client that stops reading is disconnected once its queue fills; the room and the
/// sender carry on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_reader_is_cut_off_not_the_room() {
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        c.outbound_queue = 8;
        c.rate_limit_per_sec = 100_000;
        c.rate_limit_burst = 100_000;
    })
    .await;
    let host = s.account("Host").await;
    let code = s.meeting(&host, "Busy").await;
    let slow_tok = s.guest("Slow").await;
    let mut slow = WsClient::connect_slow_reader(&s.ws_url(&slow_tok)).await;
    slow.send(json!({"type": "join", "roomId": code})).await;
    let slow_id = slow.expect_next("joined").await["participantId"].clone();
    let (mut talker, _) = s.join(&s.guest("Talker").await, &code).await;

    let text = "z".repeat(3_900);
    let mut cut_off_after = None;
    'sending: for n in 1..=5_000 {
        talker.send(json!({"type": "chat", "text": text})).await;
        loop {
            let msg = talker.next().await.expect("talker stays connected");
            match msg["type"].as_str() {
                Some("chat") => break,
                Some("peer_reconnecting") if msg["peerId"] == slow_id => {
                    cut_off_after = Some(n);
                    break 'sending;
                }
                _ => {}
            }
        }
    }
    let n = cut_off_after.expect("the slow reader was disconnected");
    assert!(n > 8, "not before its queue could fill ({n})");
    // The slow client finds its connection gone once it catches up.
    slow.closed().await;
    assert!(
        s.metric("parlor_errors_total{code=\"slow_consumer\"}")
            .await
            >= 1.0
    );
    talker
        .send(json!({"type": "chat", "text": "still fine"}))
        .await;
    // (The echo of the last big message may still be ahead of it.)
    while talker.expect("chat").await["text"] != "still fine" {}
}
