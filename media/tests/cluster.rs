//! Several `parlor-server` nodes sharing Redis and PostgreSQL, as behind a load balancer:
//! clients whose WebSockets land on different nodes join one meeting, end up in the same room
//! on the node Redis placed it on, and exchange media (`parlor-client`s decode each other's
//! video). Everything runs on loopback.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use common::{clean_video_from, client, finished, server_with, Server};
use parlor_testkit::{eventually, Postgres, RedisServer};

const SECRET: &str = "a shared token secret for every node of this cluster";

/// Waits until Redis has `code`'s room on `node`.
/// One call at a time: each runs several nodes and clients, and four at once on a 2-core
/// machine starve their media threads.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn node(id: &str, redis: &RedisServer, database: &str) -> Server {
    let (id, redis, database) = (id.to_owned(), redis.url(), database.to_owned());
    server_with(move |c| {
        c.node_id = Some(id);
        c.redis_url = Some(redis);
        c.database_url = Some(database);
        c.token_secret = Some(SECRET.into());
        c.media_bind = Some("127.0.0.1".parse().unwrap());
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_on_different_nodes_meet_in_one_room() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let redis = RedisServer::start();
    let database = Postgres::shared().create_database();
    let nodes = [
        node("n1", &redis, &database).await,
        node("n2", &redis, &database).await,
        node("n3", &redis, &database).await,
    ];
    eventually("three nodes registered", || async {
        ["n1", "n2", "n3"]
            .iter()
            .all(|n| redis.cli(&["EXISTS", &format!("parlor:node:{n}")]) == "1")
    })
    .await;
    let code = parlor_testkit::http::host_meeting(&nodes[1].url, "Cluster").await;

    // The first client lands on the third node, the others on the first and second.
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(format!("{n}.json"));
    let mut c = client(&nodes[2].url, &code, "C", Some(10), &path("c"), &[]);
    for _ in 0..100 {
        if !redis
            .cli(&["GET", &format!("parlor:room:{code}")])
            .is_empty()
        {
            break;
        }
        if c.try_wait().unwrap().is_some() {
            let out = c.wait_with_output().unwrap();
            panic!("C ended: {}", String::from_utf8_lossy(&out.stderr));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let a = client(&nodes[0].url, &code, "A", Some(8), &path("a"), &[]);
    let b = client(&nodes[1].url, &code, "B", Some(8), &path("b"), &[]);
    let host = redis.cli(&["GET", &format!("parlor:room:{code}")]);
    assert!(["n1", "n2", "n3"].contains(&host.as_str()), "{host:?}");

    let reports = [
        finished(a, path("a")).await.0,
        finished(b, path("b")).await.0,
        finished(c, path("c")).await.0,
    ];
    for me in &reports {
        for other in reports
            .iter()
            .filter(|o| o["participantId"] != me["participantId"])
        {
            clean_video_from(me, other, 30);
        }
    }
    eprintln!("the room ran on {host}; every client decoded every other's video");
}

/// `kill -9` of the node hosting a call's room, with both clients' sockets on another node:
/// that node notices once the dead node's heartbeat expires and closes their sockets as a
/// restart; the clients join again with their resume tokens, the meeting is placed on a live
/// node, and they decode each other's video again. The time from the kill to pictures
/// decoded again is printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_recover_when_their_rooms_node_is_killed() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let redis = RedisServer::start();
    let ([mut a, b], _data) = parlor_testkit::server::two_nodes(&redis).await;
    let code = parlor_testkit::http::host_meeting(&b.url, "Failover").await;
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(format!("{n}.json"));
    let x = client(&b.url, &code, "X", Some(25), &path("x"), &[]);
    let y = client(&b.url, &code, "Y", Some(25), &path("y"), &[]);
    redis.room_on(&code, "node-a").await;
    // Media flows through node-a for a while, then it dies.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    a.kill();
    let killed_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    redis.room_on(&code, "node-b").await;

    let (xr, yr) = (
        finished(x, path("x")).await.0,
        finished(y, path("y")).await.0,
    );
    for (me, other) in [(&xr, &yr), (&yr, &xr)] {
        assert_eq!(me["reconnects"], 1, "{me}");
        let video = clean_video_from(me, other, 30);
        let back = me["recoveredAtMs"][0].as_u64().unwrap();
        eprintln!(
            "node-a killed: pictures decoded again {} ms after the kill ({} ms after the client \
             lost its server); {} decoded since",
            back.saturating_sub(killed_at),
            me["recoveryMs"][0],
            video["framesDecoded"]
        );
    }
}

/// A node hosting a call is drained mid-call (`parlor-server --drain`; SIGTERM does the same):
/// it stops taking rooms, tells its clients to reconnect and leaves. The clients, which know the cluster's other
/// address, move there; the meeting goes on (it is not ended) and they decode each other's
/// video again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_nodes_clients_move_without_the_meeting_ending() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let redis = RedisServer::start();
    let database = Postgres::shared().create_database();
    let draining = node("n1", &redis, &database).await;
    let staying = node("n2", &redis, &database).await;
    eventually("two nodes registered", || async {
        redis.cli(&["EXISTS", "parlor:node:n1", "parlor:node:n2"]) == "2"
    })
    .await;
    let code = parlor_testkit::http::host_meeting(&staying.url, "Drain").await;
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(format!("{n}.json"));
    let also = ["--server", staying.url.as_str()];
    let x = client(&draining.url, &code, "X", Some(22), &path("x"), &also);
    let y = client(&draining.url, &code, "Y", Some(22), &path("y"), &also);
    redis.room_on(&code, "n1").await;
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let drained = parlor_testkit::server::drain(&redis, "n1").await;
    let said = String::from_utf8_lossy(&drained.stdout);
    assert!(
        drained.status.success() && said.contains("n1 has left the cluster"),
        "{said}"
    );
    redis.room_on(&code, "n2").await;

    let (xr, yr) = (
        finished(x, path("x")).await.0,
        finished(y, path("y")).await.0,
    );
    for (me, other) in [(&xr, &yr), (&yr, &xr)] {
        assert_eq!(me["reconnects"], 1, "{me}");
        assert_eq!(me["ended"], "left", "the meeting did not end: {me}");
        let video = clean_video_from(me, other, 30);
        eprintln!(
            "drained: pictures again {} ms after the client lost its node; {} decoded since",
            me["recoveryMs"][0], video["framesDecoded"]
        );
    }
    let meeting = parlor_testkit::http::meeting(&staying.url, &code).await;
    assert_eq!(meeting["code"], code.as_str(), "{meeting}");
    assert_eq!(meeting["status"], "active", "{meeting}");
}

/// Redis restarts mid-call: the call goes on (its media never passed Redis, and the relayed
/// participant keeps its place), readiness says Redis is down and then recovers by itself, a
/// new join meanwhile is told `unavailable`, and the meeting is still there afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_ride_out_a_redis_restart() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let mut redis = RedisServer::start();
    let database = Postgres::shared().create_database();
    let nodes = [
        node("n1", &redis, &database).await,
        node("n2", &redis, &database).await,
    ];
    eventually("two nodes registered", || async {
        redis.cli(&["EXISTS", "parlor:node:n1", "parlor:node:n2"]) == "2"
    })
    .await;
    let code = parlor_testkit::http::host_meeting(&nodes[0].url, "Outage").await;
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(format!("{n}.json"));
    let x = client(&nodes[0].url, &code, "X", Some(20), &path("x"), &[]);
    redis.room_on(&code, "n1").await;
    // Y's socket is on the other node: its signaling is relayed over Redis.
    let y = client(&nodes[1].url, &code, "Y", Some(18), &path("y"), &[]);
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;

    let ready = |url: String| async move {
        reqwest::get(format!("{url}/health/ready"))
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    redis.kill();
    eventually("readiness says Redis is down", || {
        ready(nodes[1].url.clone()).then_is(503)
    })
    .await;
    let body = reqwest::get(format!("{}/health/ready", nodes[1].url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("redis"), "{body}");
    let token = parlor_testkit::http::guest_token(&nodes[1].url, "Late").await;
    let mut late =
        parlor_testkit::WsClient::connect(&parlor_testkit::http::signal_url(&nodes[1].url, &token))
            .await;
    late.send(serde_json::json!({"type": "join", "roomId": code}))
        .await;
    late.expect_error("unavailable").await;

    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    redis.restart();
    let back = std::time::Instant::now();
    for n in &nodes {
        eventually("readiness recovers", || ready(n.url.clone()).then_is(200)).await;
    }
    redis.room_on(&code, "n1").await;
    eprintln!(
        "after Redis came back: ready and the room claimed again within {:?}",
        back.elapsed()
    );

    let (xr, yr) = (
        finished(x, path("x")).await.0,
        finished(y, path("y")).await.0,
    );
    for (me, other) in [(&xr, &yr), (&yr, &xr)] {
        assert_eq!(me["reconnects"], 0, "the call went on: {me}");
        // About 15 s of the other's 15 fps, the outage included.
        clean_video_from(me, other, 150);
    }
    let meeting = parlor_testkit::http::meeting(&nodes[1].url, &code).await;
    assert_eq!(meeting["status"], "active", "{meeting}");
}

/// `future.then_is(value)`: whether what it yields equals `value`.
trait ThenIs<T> {
    async fn then_is(self, value: T) -> bool;
}

impl<T: PartialEq, F: std::future::Future<Output = T>> ThenIs<T> for F {
    async fn then_is(self, value: T) -> bool {
        self.await == value
    }
}
