//! Signaling with real WebSocket clients: seed 000's "Join and Call" sequence, chat, media
//! state, host controls, and authentication at the upgrade — on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use common::{Backend, TestServer};
use parlor_testkit::WsClient;
use serde_json::json;
use std::time::{Duration, SystemTime};

on_both_backends!(
    join_and_call_sequence,
    chat_with_history,
    media_state_broadcast,
    host_mutes_removes_and_ends,
    non_hosts_are_forbidden,
    upgrade_requires_a_valid_token,
    room_full,
);

async fn join_and_call_sequence(b: Backend) {
    let s = TestServer::start(b).await;
    let host = s.account("Host").await;
    let code = s.meeting(&host, "Call").await;

    // A: POST /auth/token {userId} → token → WS /ws/signal?token=… → join → joined {peers: []}
    let a_tok = guest_with_id(&s, "A", "client-a").await;
    let mut a = s.ws(&a_tok).await;
    a.send(json!({"type": "join", "roomId": code})).await;
    let a_joined = a.expect_next("joined").await;
    assert_eq!(a_joined["peers"], json!([]));
    assert_eq!(a_joined["role"], "participant");
    assert_eq!(a_joined["meeting"]["code"], code.as_str());
    assert_eq!(a_joined["meeting"]["status"], "active");
    let a_id = a_joined["participantId"].as_str().unwrap().to_owned();

    // B joins: B sees [A]; A sees peer_joined B.
    let b_tok = guest_with_id(&s, "B", "client-b").await;
    // The token may also travel in the Authorization header.
    let mut bws = WsClient::try_connect(&format!("ws://{}/ws/signal", s.addr), Some(&b_tok))
        .await
        .expect("bearer header accepted");
    bws.send(json!({"type": "join", "roomId": code})).await;
    let b_joined = bws.expect_next("joined").await;
    let b_id = b_joined["participantId"].as_str().unwrap().to_owned();
    assert_eq!(b_joined["peers"].as_array().unwrap().len(), 1);
    assert_eq!(b_joined["peers"][0]["peerId"], a_id.as_str());
    assert_eq!(b_joined["peers"][0]["displayName"], "A");
    let pj = a.expect_next("peer_joined").await;
    assert_eq!(pj["peerId"], b_id.as_str());
    assert_eq!(pj["displayName"], "B");

    // offer A→B, answer B→A, candidates both ways; peerId rewritten to the sender.
    a.send(json!({"type": "offer", "peerId": b_id, "sdp": "v=0 offer-from-a"}))
        .await;
    let offer = bws.expect_next("offer").await;
    assert_eq!(offer["peerId"], a_id.as_str());
    assert_eq!(offer["sdp"], "v=0 offer-from-a");
    bws.send(json!({"type": "answer", "peerId": a_id, "sdp": "v=0 answer-from-b"}))
        .await;
    let answer = a.expect_next("answer").await;
    assert_eq!(answer["peerId"], b_id.as_str());
    assert_eq!(answer["sdp"], "v=0 answer-from-b");
    let cand = json!({"candidate": "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host", "sdpMid": "0", "sdpMLineIndex": 0});
    a.send(json!({"type": "ice-candidate", "peerId": b_id, "candidate": cand}))
        .await;
    let got = bws.expect_next("ice-candidate").await;
    assert_eq!(got["peerId"], a_id.as_str());
    assert_eq!(got["candidate"], cand);
    bws.send(json!({"type": "ice-candidate", "peerId": a_id, "candidate": cand}))
        .await;
    let got = a.expect_next("ice-candidate").await;
    assert_eq!(got["peerId"], b_id.as_str());

    // leave → peer_left for the other; disconnect of a joined peer → peer_reconnecting.
    bws.send(json!({"type": "leave"})).await;
    bws.expect_next("left").await;
    let left = a.expect_next("peer_left").await;
    assert_eq!(left["peerId"], b_id.as_str());
    assert_eq!(left["reason"], "left");

    let (_, history) = s
        .get(&format!("/api/meetings/{code}/participants"), Some(&host))
        .await;
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert!(history.iter().all(|p| p["guest"] == true));
    let b_row = history
        .iter()
        .find(|p| p["participantId"] == b_id.as_str())
        .unwrap();
    assert!(b_row["leftAt"].as_i64().unwrap() >= b_row["joinedAt"].as_i64().unwrap());
}

/// Seed 000's form of `POST /auth/token`: the client names its user id.
async fn guest_with_id(s: &TestServer, name: &str, user_id: &str) -> String {
    let (status, body) = s
        .post(
            "/auth/token",
            None,
            json!({"userId": user_id, "displayName": name}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["userId"], user_id);
    body["token"].as_str().unwrap().to_owned()
}

async fn chat_with_history(b: Backend) {
    let s = TestServer::start(b).await;
    let host = s.account("Host").await;
    let code = s.meeting(&host, "Chatty").await;
    let (mut a, _) = s.join(&s.guest("A").await, &code).await;
    let (mut bws, _) = s.join(&s.guest("B").await, &code).await;
    a.expect("peer_joined").await;

    for text in ["hello", "  second  "] {
        a.send(json!({"type": "chat", "text": text})).await;
        let mine = a.expect("chat").await;
        let theirs = bws.expect("chat").await;
        assert_eq!(mine, theirs);
        assert_eq!(theirs["text"], text.trim());
        assert_eq!(theirs["displayName"], "A");
        assert!(theirs["id"].as_str().is_some_and(|i| !i.is_empty()));
        assert!(theirs["sentAt"].as_i64().unwrap() > 1_600_000_000_000);
    }
    a.send(json!({"type": "chat", "text": "   ", "requestId": "r1"}))
        .await;
    let e = a.expect_error("invalid_message").await;
    assert_eq!(e["requestId"], "r1");
    a.send(json!({"type": "chat", "text": "x".repeat(4001)}))
        .await;
    a.expect_error("invalid_message").await;

    // A late joiner receives the history, in order.
    let (_, joined) = s.join(&s.guest("C").await, &code).await;
    let texts: Vec<&str> = joined["chat"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["hello", "second"]);
}

async fn media_state_broadcast(b: Backend) {
    let s = TestServer::start(b).await;
    let host = s.account("Host").await;
    let code = s.meeting(&host, "m").await;
    let (mut a, a_joined) = s.join(&s.guest("A").await, &code).await;
    let (mut bws, _) = s.join(&s.guest("B").await, &code).await;
    a.expect("peer_joined").await;
    a.send(json!({"type": "media_state", "mic": false, "camera": true}))
        .await;
    let m = bws.expect_next("media_state").await;
    assert_eq!(m["peerId"], a_joined["participantId"]);
    assert_eq!(
        (m["mic"].as_bool(), m["camera"].as_bool()),
        (Some(false), Some(true))
    );
    // Someone joining later sees the current state.
    let (_, c_joined) = s.join(&s.guest("C").await, &code).await;
    let a_info = c_joined["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["peerId"] == a_joined["participantId"])
        .unwrap()
        .clone();
    assert_eq!(a_info["mic"], false);
    assert_eq!(a_info["camera"], true);
}

async fn host_mutes_removes_and_ends(b: Backend) {
    let s = TestServer::start(b).await;
    let host_tok = s.account("Host").await;
    let code = s.meeting(&host_tok, "Controlled").await;
    let (mut host, hj) = s.join(&host_tok, &code).await;
    assert_eq!(hj["role"], "host");
    let bea_tok = s.guest("Bea").await;
    let (mut bea, bj) = s.join(&bea_tok, &code).await;
    let (mut cy, _) = s.join(&s.guest("Cy").await, &code).await;
    let bea_id = bj["participantId"].as_str().unwrap().to_owned();
    host.expect("peer_joined").await;
    host.expect("peer_joined").await;

    host.send(json!({"type": "mute_participant", "peerId": bea_id}))
        .await;
    for ws in [&mut bea, &mut cy] {
        let m = ws.expect("muted").await;
        assert_eq!(m["peerId"], bea_id.as_str());
        assert_eq!(m["by"], hj["participantId"]);
    }
    host.send(json!({"type": "mute_participant", "peerId": "p_nobody"}))
        .await;
    host.expect_error("peer_not_found").await;

    host.send(json!({"type": "remove_participant", "peerId": bea_id}))
        .await;
    let removed = bea.expect("removed").await;
    assert_eq!(removed["by"], hj["participantId"]);
    assert_eq!(bea.closed().await, Some(4001));
    let left = cy.expect("peer_left").await;
    assert_eq!(
        (left["peerId"].as_str(), left["reason"].as_str()),
        (Some(bea_id.as_str()), Some("removed"))
    );
    // A removed user cannot come back.
    let mut again = s.ws(&bea_tok).await;
    again.send(json!({"type": "join", "roomId": code})).await;
    again.expect_error("forbidden").await;

    host.send(json!({"type": "end_meeting"})).await;
    for ws in [&mut host, &mut cy] {
        let ended = ws.expect("meeting_ended").await;
        assert_eq!(ended["reason"], "host_ended");
        assert_eq!(ended["roomId"], code.as_str());
    }
    let (_, meeting) = s
        .get(&format!("/api/meetings/{code}"), Some(&host_tok))
        .await;
    assert_eq!(meeting["status"], "ended");
    assert!(meeting["endedAt"].as_i64().is_some());
    // The connections stay usable after the meeting ends.
    cy.roundtrip().await;
    cy.send(json!({"type": "chat", "text": "anyone?"})).await;
    cy.expect_error("not_joined").await;
}

async fn non_hosts_are_forbidden(b: Backend) {
    let s = TestServer::start(b).await;
    let host_tok = s.account("Host").await;
    let code = s.meeting(&host_tok, "m").await;
    let (mut host, hj) = s.join(&host_tok, &code).await;
    // Another registered user, not the host.
    let (mut other, _) = s.join(&s.account("Other").await, &code).await;
    host.expect("peer_joined").await;
    let host_id = hj["participantId"].as_str().unwrap();
    for (msg, rid) in [
        (
            json!({"type": "mute_participant", "peerId": host_id, "requestId": "m1"}),
            "m1",
        ),
        (
            json!({"type": "remove_participant", "peerId": host_id, "requestId": "r1"}),
            "r1",
        ),
        (json!({"type": "end_meeting", "requestId": "e1"}), "e1"),
    ] {
        other.send(msg).await;
        let e = other.expect_error("forbidden").await;
        assert_eq!(e["requestId"], rid);
    }
    // Nothing happened to the meeting.
    host.send(json!({"type": "chat", "text": "still here"}))
        .await;
    other.expect("chat").await;
}

async fn upgrade_requires_a_valid_token(b: Backend) {
    let s = TestServer::start(b).await;
    let base = format!("ws://{}/ws/signal", s.addr);

    let refused = WsClient::try_connect(&base, None)
        .await
        .err()
        .expect("refused");
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (401, Some("unauthorized"))
    );

    let refused = WsClient::try_connect(&format!("{base}?token=abc.def.ghi"), None)
        .await
        .err()
        .expect("refused");
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (401, Some("invalid_token"))
    );

    // Signed with another secret.
    let other = parlor_server::auth::TokenService::new(&[7u8; 40], Duration::from_secs(3600));
    let identity = parlor_server::auth::Identity {
        user_id: "u_x".into(),
        display_name: "X".into(),
        guest: false,
    };
    let (forged, _) = other.issue(&identity);
    let refused = WsClient::try_connect(&format!("{base}?token={forged}"), None)
        .await
        .err()
        .expect("refused");
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (401, Some("invalid_token"))
    );

    // Signed with the server's own secret, but expired an hour ago.
    let secret = std::fs::read_to_string(s.config.data_dir.join("token_secret")).unwrap();
    let own =
        parlor_server::auth::TokenService::new(secret.trim().as_bytes(), Duration::from_secs(60));
    let (expired, _) = own.issue_at(&identity, SystemTime::now() - Duration::from_secs(3600));
    let refused = WsClient::try_connect(&format!("{base}?token={expired}"), Some(&expired))
        .await
        .err()
        .expect("refused");
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (401, Some("token_expired"))
    );
    // The same secret, still valid: accepted.
    let (fresh, _) = own.issue(&identity);
    let mut ok = WsClient::connect(&format!("{base}?token={fresh}")).await;
    ok.roundtrip().await;
}

async fn room_full(b: Backend) {
    let s = TestServer::start_with(b, |c| c.max_participants = 2).await;
    let host = s.account("Host").await;
    let code = s.meeting(&host, "Small").await;
    let _a = s.join(&s.guest("A").await, &code).await;
    let _b = s.join(&s.guest("B").await, &code).await;
    let mut c = s.ws(&s.guest("C").await).await;
    c.send(json!({"type": "join", "roomId": code, "requestId": "j"}))
        .await;
    let e = c.expect_error("room_full").await;
    assert_eq!(e["requestId"], "j");
}
