//! The meeting lifecycle (seed 003): created → active → paused participants resume or time
//! out → ended; dead connections are noticed; meetings and history survive a restart; storage
//! outages answer 503; readiness names a failing Redis.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use common::{eventually, Backend, RedisServer, TestServer};
use parlor_server::config::Seconds;
use serde_json::{json, Value};
use std::time::Duration;

on_both_backends!(
    drop_and_resume,
    paused_participant_times_out,
    empty_meeting_ends_after_grace,
    survives_restart,
    a_meeting_nobody_comes_back_to_after_a_restart_ends,
    dead_connections_are_dropped,
);

async fn drop_and_resume(b: Backend) {
    let s =
        TestServer::start_with(b, |c| c.reconnect_grace = Seconds(Duration::from_secs(30))).await;
    let host = s.account("Host").await;
    let code = s.meeting(&host, "Flaky").await;
    let a_tok = s.guest("A").await;
    let (a, a_joined) = s.join(&a_tok, &code).await;
    let (mut bws, _) = s.join(&s.guest("B").await, &code).await;
    let a_id = a_joined["participantId"].as_str().unwrap().to_owned();
    let resume = a_joined["resumeToken"].as_str().unwrap().to_owned();

    drop(a); // the TCP connection just goes away
    let r = bws.expect_next("peer_reconnecting").await;
    assert_eq!(r["peerId"], a_id.as_str());

    // A wrong resume token (or someone else's) does not take A's place.
    let (_mallory, stranger) = {
        let mut ws = s.ws(&s.guest("Mallory").await).await;
        ws.send(json!({"type": "join", "roomId": code, "resumeToken": resume}))
            .await;
        let j = ws.expect_next("joined").await;
        (ws, j)
    };
    assert_ne!(stranger["participantId"], a_id.as_str());
    assert_eq!(stranger["resumed"], false);
    bws.expect_next("peer_joined").await;

    let mut a2 = s.ws(&a_tok).await;
    a2.send(json!({"type": "join", "roomId": code, "resumeToken": resume}))
        .await;
    let again = a2.expect_next("joined").await;
    assert_eq!(again["participantId"], a_id.as_str());
    assert_eq!(again["resumed"], true);
    let back = bws.expect_next("peer_joined").await;
    assert_eq!(back["peerId"], a_id.as_str());

    a2.send(json!({"type": "chat", "text": "I'm back"})).await;
    assert_eq!(bws.expect("chat").await["peerId"], a_id.as_str());
    // One stay in the history, still open: a resume is not a new join.
    let (_, history) = s
        .get(&format!("/api/meetings/{code}/participants"), Some(&host))
        .await;
    let a_rows: Vec<_> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["participantId"] == a_id.as_str())
        .collect();
    assert_eq!(a_rows.len(), 1);
    assert!(a_rows[0]["leftAt"].is_null());
}

async fn paused_participant_times_out(b: Backend) {
    let s = TestServer::start(b).await; // 2 s grace
    let host = s.account("Host").await;
    let code = s.meeting(&host, "m").await;
    let (a, a_joined) = s.join(&s.guest("A").await, &code).await;
    let (mut bws, _) = s.join(&s.guest("B").await, &code).await;
    drop(a);
    bws.expect_next("peer_reconnecting").await;
    let left = bws.expect_next("peer_left").await;
    assert_eq!(left["peerId"], a_joined["participantId"]);
    assert_eq!(left["reason"], "timed_out");
    let (_, m) = s.get(&format!("/api/meetings/{code}"), Some(&host)).await;
    assert_eq!(m["status"], "active", "B is still there");
}

/// The meeting `code` as its host sees it, once it has ended.
async fn once_ended(s: &TestServer, code: &str, host: &str) -> Value {
    eventually("the meeting to end", || async {
        let (_, m) = s.get(&format!("/api/meetings/{code}"), Some(host)).await;
        m["status"] == "ended"
    })
    .await;
    s.get(&format!("/api/meetings/{code}"), Some(host)).await.1
}

async fn empty_meeting_ends_after_grace(b: Backend) {
    let s = TestServer::start(b).await;
    let host = s.account("Host").await;
    let code = s.meeting(&host, "Short").await;
    let (_, m) = s.get(&format!("/api/meetings/{code}"), Some(&host)).await;
    assert_eq!(m["status"], "created");
    assert!(m["startedAt"].is_null());
    let (mut a, joined) = s.join(&s.guest("A").await, &code).await;
    assert_eq!(joined["meeting"]["status"], "active");
    assert!(joined["meeting"]["startedAt"].as_i64().is_some());
    a.send(json!({"type": "leave"})).await;
    a.expect_next("left").await;
    let m = once_ended(&s, &code, &host).await;
    assert_eq!(m["endReason"], "all_left");
    assert!(m["endedAt"].as_i64().unwrap() >= m["startedAt"].as_i64().unwrap());
    a.send(json!({"type": "join", "roomId": code})).await;
    a.expect_error("meeting_ended").await;
}

async fn survives_restart(b: Backend) {
    // Long enough a grace that the meeting, nobody in it for a moment, does not end meanwhile.
    let s =
        TestServer::start_with(b, |c| c.reconnect_grace = Seconds(Duration::from_secs(30))).await;
    let host = s.account("Host").await;
    let code = s.meeting(&host, "Durable").await;
    let (mut a, a_joined) = s.join(&host, &code).await;
    let (mut bws, _) = s.join(&s.guest("B").await, &code).await;
    a.send(json!({"type": "chat", "text": "remember me"})).await;
    bws.expect("chat").await;

    let s = s.restart().await;
    // Both were told before their connections closed.
    for ws in [&mut a, &mut bws] {
        let msg = ws.expect("server_shutdown").await;
        assert!(msg["reconnectAfterMs"].as_u64().is_some());
        assert_eq!(ws.closed().await, Some(1012));
    }

    // The token secret, the account, the meeting, its history and its chat survived.
    let (status, m) = s.get(&format!("/api/meetings/{code}"), Some(&host)).await;
    assert_eq!(status, 200, "{m}");
    assert_eq!(m["title"], "Durable");
    assert_eq!(m["status"], "active");
    let (_, history) = s
        .get(&format!("/api/meetings/{code}/participants"), Some(&host))
        .await;
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert!(
        history.iter().all(|p| p["leftAt"].as_i64().is_some()),
        "{history:?}"
    );
    // Someone else holding the host's resume token does not take up the host's stay.
    let mut other = s.ws(&s.guest("Mallory").await).await;
    other
        .send(json!({"type": "join", "roomId": code, "resumeToken": a_joined["resumeToken"]}))
        .await;
    let not_host = other.expect("joined").await;
    assert_eq!(not_host["resumed"], false, "{not_host}");
    assert_ne!(not_host["participantId"], a_joined["participantId"]);
    other.send(json!({"type": "leave"})).await;
    other.expect("left").await;

    // With its resume token the host takes up its stay again; without, B joins anew.
    let mut again = s.ws(&host).await;
    again
        .send(json!({"type": "join", "roomId": code, "resumeToken": a_joined["resumeToken"]}))
        .await;
    let rejoined = again.expect("joined").await;
    assert_eq!(rejoined["role"], "host");
    assert_eq!(rejoined["resumed"], true, "{rejoined}");
    assert_eq!(rejoined["participantId"], a_joined["participantId"]);
    assert_eq!(rejoined["chat"][0]["text"], "remember me");
    let (_, b_again) = s.join(&s.guest("B").await, &code).await;
    assert_eq!(b_again["resumed"], false);
    let (_, history) = s
        .get(&format!("/api/meetings/{code}/participants"), Some(&host))
        .await;
    let history = history.as_array().unwrap();
    assert_eq!(
        history.len(),
        4,
        "one stay for the host, two for B, Mallory's: {history:?}"
    );
    let host_stay = history
        .iter()
        .find(|p| p["participantId"] == a_joined["participantId"])
        .unwrap();
    assert!(
        host_stay.get("leftAt").is_none_or(Value::is_null),
        "{host_stay}"
    );

    // Nor does a token take up a stay its holder left.
    again.send(json!({"type": "leave"})).await;
    again.expect("left").await;
    let mut late = s.ws(&host).await;
    late.send(json!({"type": "join", "roomId": code, "resumeToken": a_joined["resumeToken"]}))
        .await;
    let fresh = late.expect("joined").await;
    assert_eq!(fresh["resumed"], false, "{fresh}");
    assert_ne!(fresh["participantId"], a_joined["participantId"]);
}

/// Restarted while a meeting was under way, and nobody came back: the meeting ends once the
/// grace has passed, its stays closed.
async fn a_meeting_nobody_comes_back_to_after_a_restart_ends(b: Backend) {
    let s = TestServer::start(b).await;
    let host = s.account("Host").await;
    let code = s.meeting(&host, "Abandoned").await;
    let (mut a, _) = s.join(&host, &code).await;
    let restarted = std::time::Instant::now();
    let s = s.restart().await;
    a.expect("server_shutdown").await;
    let m = once_ended(&s, &code, &host).await;
    assert_eq!(m["endReason"], "all_left", "{m}");
    // Not before the grace (2 s) had passed since the server was restarted.
    assert!(restarted.elapsed() >= Duration::from_secs(2), "{m}");
    let (_, history) = s
        .get(&format!("/api/meetings/{code}/participants"), Some(&host))
        .await;
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 1);
    assert!(history[0]["leftAt"].as_i64().is_some(), "{history:?}");
}

async fn dead_connections_are_dropped(b: Backend) {
    let s = TestServer::start_with(b, |c| {
        c.heartbeat_interval = Seconds(Duration::from_millis(100))
    })
    .await;
    let host = s.account("Host").await;
    let code = s.meeting(&host, "m").await;
    // A stops reading (so it never answers pings) but keeps its TCP connection open.
    let (silent, silent_joined) = s.join(&s.guest("Silent").await, &code).await;
    let (mut b_ws, _) = s.join(&s.guest("B").await, &code).await;
    let r = b_ws.expect("peer_reconnecting").await;
    assert_eq!(r["peerId"], silent_joined["participantId"]);
    eventually("the dead connection to be closed", || async {
        s.metric("parlor_ws_connections").await == 1.0
    })
    .await;
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_outage_answers_503_and_recovers() {
    let s = TestServer::start(Backend::Postgres).await;
    let host = s.account("Host").await;
    let code = s.meeting(&host, "m").await;
    let (mut a, _) = s.join(&host, &code).await;
    let db = s
        .config
        .database_url
        .as_deref()
        .and_then(|u| u.rsplit('/').next())
        .unwrap()
        .to_owned();
    let pg = parlor_testkit::Postgres::shared();
    pg.sql(
        "postgres",
        &format!("ALTER DATABASE {db} ALLOW_CONNECTIONS false"),
    )
    .unwrap();
    pg.sql(
        "postgres",
        &format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'"),
    )
    .unwrap();

    let (status, body) = s.get("/api/meetings", Some(&host)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("unavailable")),
        "{body}"
    );
    let (status, ready) = s.get("/health/ready", None).await;
    assert_eq!(status, 503);
    assert!(
        ready["status"].as_str().unwrap().contains("database"),
        "{ready}"
    );
    // Chat cannot be stored, so the sender is told; the call itself goes on.
    a.send(json!({"type": "chat", "text": "lost?"})).await;
    a.expect_error("unavailable").await;
    a.roundtrip().await;

    pg.sql(
        "postgres",
        &format!("ALTER DATABASE {db} ALLOW_CONNECTIONS true"),
    )
    .unwrap();
    eventually("storage to come back", || async {
        s.get("/health/ready", None).await.0 == 200
    })
    .await;
    let (status, _) = s.get("/api/meetings", Some(&host)).await;
    assert_eq!(status, 200);
    a.send(json!({"type": "chat", "text": "saved"})).await;
    assert_eq!(a.expect("chat").await["text"], "saved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_names_a_failing_redis() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    let s = TestServer::start_with(Backend::Sqlite, |c| c.redis_url = Some(url)).await;
    let (status, ready) = s.get("/health/ready", None).await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["checks"][1]["name"], "redis");

    redis.kill();
    let (status, ready) = s.get("/health/ready", None).await;
    assert_eq!(status, 503);
    assert!(
        ready["status"].as_str().unwrap().contains("redis"),
        "{ready}"
    );
    assert_eq!(ready["checks"][0]["ok"], true, "the database is fine");
    // The rest of the server keeps working.
    let host = s.account("Host").await;
    s.meeting(&host, "without redis").await;

    redis.restart();
    eventually("readiness to recover", || async {
        s.get("/health/ready", None).await.0 == 200
    })
    .await;
}
