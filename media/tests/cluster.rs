//! Several `parlor-server` nodes sharing Redis and PostgreSQL, as behind a load balancer:
//! clients whose WebSockets land on different nodes join one meeting, end up in the same room
//! on the node Redis placed it on, and exchange media (`parlor-client`s decode each other's
//! video). Everything runs on loopback.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use common::{client, finished, server_with, Server};
use parlor_testkit::{eventually, Postgres, RedisServer};

const SECRET: &str = "a shared token secret for every node of this cluster";

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
            let video = me["remote"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["peerId"] == other["participantId"] && t["kind"] == "video")
                .unwrap_or_else(|| panic!("no video from {} in {me}", other["participantId"]));
            assert!(video["framesDecoded"].as_u64().unwrap() >= 30, "{video}");
            assert_eq!(video["framesCorrupt"], 0, "{video}");
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
    let redis = RedisServer::start();
    let ([mut a, b], _data) = parlor_testkit::server::two_nodes(&redis).await;
    let code = parlor_testkit::http::host_meeting(&b.url, "Failover").await;
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(format!("{n}.json"));
    let x = client(&b.url, &code, "X", Some(25), &path("x"), &[]);
    let y = client(&b.url, &code, "Y", Some(25), &path("y"), &[]);
    eventually("the room placed on node-a", || async {
        redis.cli(&["GET", &format!("parlor:room:{code}")]) == "node-a"
    })
    .await;
    // Media flows through node-a for a while, then it dies.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    a.kill();
    let killed_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    eventually("the meeting re-placed", || async {
        redis.cli(&["GET", &format!("parlor:room:{code}")]) == "node-b"
    })
    .await;

    let (xr, yr) = (
        finished(x, path("x")).await.0,
        finished(y, path("y")).await.0,
    );
    for (me, other) in [(&xr, &yr), (&yr, &xr)] {
        assert_eq!(me["reconnects"], 1, "{me}");
        let video = me["remote"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["peerId"] == other["participantId"] && t["kind"] == "video")
            .unwrap_or_else(|| panic!("no video from the other after recovering: {me}"));
        assert!(video["framesDecoded"].as_u64().unwrap() >= 30, "{video}");
        assert_eq!(video["framesCorrupt"], 0, "{video}");
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
