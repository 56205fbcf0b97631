//! The cluster's shared state in a real `redis-server`: nodes register and drop out, a room is
//! claimed by exactly one live node and re-placed when that node is gone, messages reach
//! another node's bus, and a node rides out Redis going away and coming back.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use parlor_protocol::MeetingCode;
use parlor_server::cluster::redis::{RedisCluster, HEARTBEAT};
use parlor_server::cluster::{Cluster, ClusterError, Inbox, NodeLoad, Presence};
use parlor_testkit::{eventually, RedisServer};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

fn load(rooms: u32) -> NodeLoad {
    NodeLoad {
        media: "127.0.0.1:9".into(),
        rooms,
        accepting: true,
        ..NodeLoad::default()
    }
}

fn node(redis: &RedisServer, id: &str) -> (Arc<RedisCluster>, Inbox, CancellationToken) {
    let stop = CancellationToken::new();
    let (cluster, inbox) = RedisCluster::start(&redis.url(), id.into(), stop.clone()).unwrap();
    cluster.set_load(load(0), Vec::new());
    (cluster, inbox, stop)
}

async fn up(cluster: &RedisCluster, n: usize) {
    eventually(&format!("{n} nodes up"), || async {
        cluster.nodes().await.is_ok_and(|nodes| nodes.len() == n)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_are_placed_once_and_move_when_their_node_is_gone() {
    let redis = RedisServer::start();
    let (a, _a_inbox, stop_a) = node(&redis, "node-a");
    let (b, mut b_inbox, _stop_b) = node(&redis, "node-b");
    up(&b, 2).await;

    // Both ask at once, many times: one node holds the room, the same for everyone.
    let code = MeetingCode::from("abc-defg-hij");
    let asks = (0..20).map(|i| {
        let (node, code) = (if i % 2 == 0 { a.clone() } else { b.clone() }, code.clone());
        tokio::spawn(async move { node.place(&code).await.unwrap() })
    });
    let mut holders = Vec::new();
    for ask in asks {
        holders.push(ask.await.unwrap());
    }
    assert!(holders.iter().all(|h| h == &holders[0]), "{holders:?}");
    assert_eq!(holders[0], "node-a", "the less loaded (then lower) id");

    // Load counts: a busier node-a sends the next meeting to node-b.
    a.set_load(load(5), Vec::new());
    eventually("node-a's load seen", || async {
        b.nodes()
            .await
            .unwrap()
            .iter()
            .any(|n| n.id == "node-a" && n.load.rooms == 5)
    })
    .await;
    assert_eq!(
        b.place(&MeetingCode::from("xyz-abcd-efg")).await.unwrap(),
        "node-b"
    );

    // Only the holder releases.
    b.release(&code).await;
    assert_eq!(redis.cli(&["GET", "parlor:room:abc-defg-hij"]), "node-a");

    // Messages reach the other node's bus.
    a.send("node-b", b"hello").await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), b_inbox.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, b"hello");

    // node-a stops: it leaves the registry, and its room goes to a live node.
    stop_a.cancel();
    up(&b, 1).await;
    assert_eq!(b.place(&code).await.unwrap(), "node-b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_stops_beating_loses_its_rooms_within_its_ttl() {
    let redis = RedisServer::start();
    let (b, _b_inbox, _stop_b) = node(&redis, "node-b");
    up(&b, 1).await;
    // node-a beat once, holds a room, then died without a word (kill -9): its entry is left
    // to expire.
    let ttl = parlor_server::cluster::redis::NODE_TTL;
    let entry = serde_json::to_string(&load(0)).unwrap();
    let ttl_ms = ttl.as_millis().to_string();
    redis.cli(&["SET", "parlor:node:node-a", &entry, "PX", &ttl_ms]);
    redis.cli(&["SADD", "parlor:nodes", "node-a"]);
    redis.cli(&["SET", "parlor:room:abc-defg-hij", "node-a"]);
    let died = Instant::now();
    let code = MeetingCode::from("abc-defg-hij");
    let never = MeetingCode::from("non-ever-run");
    let both = || vec![code.clone(), never.clone()];
    assert_eq!(
        b.unheld(both()).await.unwrap(),
        std::slice::from_ref(&never)
    );
    assert_eq!(b.place(&code).await.unwrap(), "node-a", "still beating");
    eventually("node-a's room no longer held", || async {
        b.unheld(both()).await.unwrap() == both()
    })
    .await;
    eventually("node-a's room re-placed", || async {
        b.place(&code).await.is_ok_and(|n| n == "node-b")
    })
    .await;
    let after = died.elapsed();
    eprintln!("a dead node's room was re-placed {after:?} after its last heartbeat");
    assert!(
        after >= ttl.saturating_sub(Duration::from_millis(100)),
        "{after:?}"
    );
    up(&b, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_going_away_and_back_is_ridden_out() {
    let mut redis = RedisServer::start();
    let (a, _a_inbox, _stop_a) = node(&redis, "node-a");
    up(&a, 1).await;
    assert!(a.check().await.is_ok());

    // A hung Redis (frozen: connections open, no answers): once the heartbeat has timed out,
    // the breaker is open and requests fail at once instead of each waiting out a timeout.
    redis.freeze(true);
    eventually("the node notices the hung Redis", || async {
        !a.connected()
    })
    .await;
    for refused in [
        a.place(&MeetingCode::from("abc-defg-hij"))
            .await
            .map(|_| ()),
        a.nodes().await.map(|_| ()),
        a.check().await.map_err(ClusterError::Unavailable),
    ] {
        assert!(
            matches!(&refused, Err(ClusterError::Unavailable(why)) if why.contains("not answering")),
            "{refused:?}"
        );
    }
    redis.freeze(false);
    eventually("the breaker closes", || async {
        a.connected() && a.nodes().await.is_ok()
    })
    .await;

    redis.kill();
    let down = a.place(&MeetingCode::from("abc-defg-hij")).await;
    assert!(
        matches!(down, Err(ClusterError::Unavailable(_))),
        "{down:?}"
    );
    assert!(a.check().await.is_err());
    eventually("the node notices", || async { !a.connected() }).await;

    redis.restart();
    let back = Instant::now();
    eventually("the node is back in the cluster", || async {
        a.connected() && a.nodes().await.is_ok_and(|n| n.len() == 1)
    })
    .await;
    let registered = back.elapsed();
    // The restarted Redis is empty: rooms are placed anew only once every node has had time
    // to claim its running rooms again.
    let code = MeetingCode::from("abc-defg-hij");
    let settling = a.place(&code).await;
    assert!(
        matches!(&settling, Err(ClusterError::Unavailable(why)) if why.contains("re-forming")),
        "{settling:?}"
    );
    eventually("rooms placed again", || async {
        a.place(&code).await.is_ok_and(|n| n == "node-a")
    })
    .await;
    eprintln!(
        "after Redis restarted: back in the cluster in {registered:?}, placing rooms in {:?}",
        back.elapsed()
    );
}

/// A participant whose socket is on node-b while the meeting's room runs on node-a. node-a is
/// killed: node-b notices once node-a's heartbeat expires and closes the socket as a restart;
/// the client comes back and resumes, and the meeting now runs on node-b.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nodes_meeting_resumes_on_another_node() {
    let redis = RedisServer::start();
    let ([mut a, b], _data) = parlor_testkit::server::two_nodes(&redis).await;
    let code = parlor_testkit::http::host_meeting(&b.url, "Failover").await;
    let token = parlor_testkit::http::guest_token(&b.url, "Bo").await;
    let ws = |url: &str| parlor_testkit::http::signal_url(url, &token);

    // Joined through node-b; the room runs on node-a (equally loaded, lower id).
    let mut bo = parlor_testkit::WsClient::connect(&ws(&b.url)).await;
    bo.send(serde_json::json!({"type": "join", "roomId": code}))
        .await;
    let joined = bo.expect("joined").await;
    assert_eq!(
        redis.cli(&["GET", &format!("parlor:room:{code}")]),
        "node-a"
    );
    bo.send(serde_json::json!({"type": "chat", "text": "before"}))
        .await;
    bo.expect("chat").await;

    a.kill();
    let killed = Instant::now();
    assert_eq!(bo.closed().await, Some(1012), "closed as a server restart");
    let told = killed.elapsed();

    let mut again = parlor_testkit::WsClient::connect(&ws(&b.url)).await;
    again
        .send(serde_json::json!({"type": "join", "roomId": code, "resumeToken": joined["resumeToken"]}))
        .await;
    let rejoined = again.expect("joined").await;
    let back = killed.elapsed();
    // The same participant, told it resumed: its stay was taken up from the database.
    assert_eq!(
        rejoined["participantId"], joined["participantId"],
        "{rejoined}"
    );
    assert_eq!(rejoined["resumed"], true, "{rejoined}");
    assert_eq!(
        redis.cli(&["GET", &format!("parlor:room:{code}")]),
        "node-b"
    );
    assert!(
        rejoined["chat"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["text"] == "before"),
        "the chat survived: {rejoined}"
    );
    // Only the participant back in the meeting is present: node-a's last report is gone.
    eventually("presence rewritten by node-b", || async {
        redis.cli(&["HGETALL", &format!("parlor:presence:{code}")])
            == format!("{}\nconnected", rejoined["participantId"].as_str().unwrap())
    })
    .await;
    eprintln!(
        "node-a killed: its client was told after {told:?} and was back in the meeting after {back:?}"
    );
}

/// node-a, running a meeting's room, is killed and nobody comes back: node-b opens the room
/// itself (as it does for any meeting under way that no node runs), closes the stay node-a
/// left open, and ends the meeting once the grace has passed with nobody in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nodes_meeting_that_nobody_rejoins_ends() {
    use parlor_testkit::http;
    let redis = RedisServer::start();
    let ([mut a, b], _data) =
        parlor_testkit::server::two_nodes_with(&redis, &["--reconnect-grace", "2s"]).await;
    let code = http::host_meeting(&a.url, "Abandoned").await;
    let host = http::host_token(&a.url).await;
    let mut ws = parlor_testkit::WsClient::connect(&http::signal_url(&a.url, &host)).await;
    ws.send(serde_json::json!({"type": "join", "roomId": code}))
        .await;
    ws.expect("joined").await;
    assert_eq!(
        redis.cli(&["GET", &format!("parlor:room:{code}")]),
        "node-a"
    );

    a.kill();
    let killed = Instant::now();
    eventually("the abandoned meeting to end", || async {
        http::meeting(&b.url, &code).await["status"] == "ended"
    })
    .await;
    let ended = killed.elapsed();
    let meeting = http::meeting(&b.url, &code).await;
    assert_eq!(meeting["endReason"], "all_left", "{meeting}");
    let history = http::as_host(
        &b.url,
        reqwest::Method::GET,
        &format!("/api/meetings/{code}/participants"),
    )
    .await;
    let stays = history.as_array().unwrap();
    assert_eq!(stays.len(), 1, "{history}");
    assert!(stays[0]["leftAt"].as_i64().is_some(), "closed: {history}");
    eventually("node-b to let the room go", || async {
        redis.cli(&["EXISTS", &format!("parlor:room:{code}")]) == "0"
    })
    .await;
    eprintln!("node-a killed with nobody coming back: the meeting ended after {ended:?}");
}

/// The host ends the meeting over the API of a node that does not run its room: the room's
/// node ends it, and everyone in it hears `meeting_ended`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meeting_ended_on_another_node_ends_for_everyone() {
    let redis = RedisServer::start();
    let ([a, b], _data) = parlor_testkit::server::two_nodes(&redis).await;
    let code = parlor_testkit::http::host_meeting(&b.url, "Ending").await;
    let token = parlor_testkit::http::guest_token(&a.url, "Guest").await;
    let mut guest =
        parlor_testkit::WsClient::connect(&parlor_testkit::http::signal_url(&a.url, &token)).await;
    guest
        .send(serde_json::json!({"type": "join", "roomId": code}))
        .await;
    guest.expect("joined").await;
    assert_eq!(
        redis.cli(&["GET", &format!("parlor:room:{code}")]),
        "node-a"
    );

    // The host signs in on node-b (the account host_meeting made) and ends the meeting there.
    let ended = parlor_testkit::http::as_host(
        &b.url,
        reqwest::Method::POST,
        &format!("/api/meetings/{code}/end"),
    )
    .await;
    assert_eq!(ended["status"], "ended", "{ended}");
    let told = guest.expect("meeting_ended").await;
    assert_eq!(told["reason"], "host_ended", "{told}");
}

/// A node running as many rooms as it may takes no new meeting; alone in its cluster, the
/// next meeting is refused as `unavailable` until a room closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_at_its_room_limit_takes_no_new_meetings() {
    let redis = RedisServer::start();
    let url = redis.url();
    let s = parlor_testkit::server::server_with(move |c| {
        c.redis_url = Some(url);
        c.node_id = Some("only".into());
        c.max_rooms = Some(1);
    })
    .await;
    let first = parlor_testkit::http::host_meeting(&s.url, "First").await;
    let second = parlor_testkit::http::host_meeting(&s.url, "Second").await;
    let token = parlor_testkit::http::guest_token(&s.url, "Guest").await;
    let ws = parlor_testkit::http::signal_url(&s.url, &token);
    let mut one = parlor_testkit::WsClient::connect(&ws).await;
    one.send(serde_json::json!({"type": "join", "roomId": first}))
        .await;
    one.expect("joined").await;
    eventually("the node says it is full", || async {
        redis
            .cli(&["GET", "parlor:node:only"])
            .contains("\"accepting\":false")
    })
    .await;
    let mut two = parlor_testkit::WsClient::connect(&ws).await;
    two.send(serde_json::json!({"type": "join", "roomId": second}))
        .await;
    let refused = two.expect_error("unavailable").await;
    assert!(
        refused["message"].as_str().unwrap().contains("full"),
        "{refused}"
    );
    // Joining the meeting it already runs is still fine.
    let mut three = parlor_testkit::WsClient::connect(&ws).await;
    three
        .send(serde_json::json!({"type": "join", "roomId": first}))
        .await;
    three.expect("joined").await;
}

/// A node's room limit holds while rooms are placed on it across its heartbeats, each of which
/// reports the one room it ran when its load was last sampled: a room claimed for a node
/// counts against its limit at once, and until its heartbeat says it runs there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_placed_on_a_node_keep_to_its_limit_across_heartbeats() {
    let redis = RedisServer::start();
    let (a, _a_inbox, stop_a) = node(&redis, "node-a");
    let (b, _b_inbox, stop_b) = node(&redis, "node-b");
    let running = MeetingCode::from("run-ning-now");
    a.set_load(
        NodeLoad {
            max_rooms: Some(3),
            ..load(1)
        },
        vec![(running, Presence::default())],
    );
    // node-b looks busier: node-a, with room for two more, is chosen while it takes rooms.
    b.set_load(
        NodeLoad {
            participants: 5,
            ..load(1)
        },
        Vec::new(),
    );
    up(&b, 2).await;
    eventually("node-a's limit in the registry", || async {
        redis
            .cli(&["GET", "parlor:node:node-a"])
            .contains("maxRooms")
    })
    .await;
    let mut placed = Vec::new();
    for i in 0..5 {
        let code = MeetingCode(format!("lim-itsa-{i:03}"));
        placed.push(b.place(&code).await.unwrap());
        // A heartbeat of each node between most placements, all well within the time a
        // claim counts before the node's heartbeat must confirm it.
        tokio::time::sleep(HEARTBEAT / 2 + Duration::from_millis(200)).await;
    }
    let on_a = placed.iter().filter(|n| *n == "node-a").count();
    assert_eq!(on_a, 2, "node-a takes two rooms, then no more: {placed:?}");
    stop_a.cancel();
    stop_b.cancel();
}

/// A participant's socket, its `joined` answer and its token.
type Joined = (parlor_testkit::WsClient, serde_json::Value, String);

/// Two participants of a meeting whose room runs on node-a: one with its socket on node-a, one
/// relayed from node-b. Both joined; their `joined` answers.
async fn meeting_on_node_a(
    a: &parlor_testkit::server::NodeProcess,
    b: &parlor_testkit::server::NodeProcess,
    redis: &RedisServer,
) -> (MeetingCode, [Joined; 2]) {
    let code = parlor_testkit::http::host_meeting(&b.url, "Moving").await;
    let mut joined = Vec::new();
    for (node, name) in [(a, "Ana"), (b, "Bo")] {
        let token = parlor_testkit::http::guest_token(&node.url, name).await;
        let mut ws =
            parlor_testkit::WsClient::connect(&parlor_testkit::http::signal_url(&node.url, &token))
                .await;
        ws.send(serde_json::json!({"type": "join", "roomId": code}))
            .await;
        let answer = ws.expect("joined").await;
        joined.push((ws, answer, token));
    }
    assert_eq!(
        redis.cli(&["GET", &format!("parlor:room:{code}")]),
        "node-a"
    );
    // Who is in it is kept in Redis by participant id only, so any node can tell.
    let ids: Vec<&str> = joined
        .iter()
        .map(|(_, j, _)| j["participantId"].as_str().unwrap())
        .collect();
    eventually("node-b counts the two in node-a's meeting", || async {
        parlor_testkit::http::meeting(&b.url, &code).await["present"] == 2
    })
    .await;
    // Relayed signaling shows in each node's metrics.
    let metrics = |url: String| async move {
        reqwest::get(format!("{url}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    eventually("relaying counted on both nodes", || async {
        let (on_a, on_b) = (metrics(a.url.clone()).await, metrics(b.url.clone()).await);
        on_b.contains("parlor_cluster_relayed{side=\"socket\"} 1")
            && on_b.contains("parlor_cluster_bus_messages_total{direction=\"out\",kind=\"join\"} 1")
            && on_b.contains("parlor_cluster_redis_up 1")
            && on_a.contains("parlor_cluster_relayed{side=\"room\"} 1")
            && on_a.contains("parlor_cluster_bus_messages_total{direction=\"in\",kind=\"join\"} 1")
            && on_a
                .contains("parlor_cluster_bus_messages_total{direction=\"out\",kind=\"deliver\"}")
    })
    .await;
    let kept = redis.cli(&["HGETALL", &format!("parlor:presence:{code}")]);
    let mut fields: Vec<&str> = kept.lines().collect();
    fields.sort_unstable();
    let mut expected = vec![ids[0], ids[1], "connected", "connected"];
    expected.sort_unstable();
    assert_eq!(fields, expected, "only ids and states: {kept}");
    joined[0]
        .0
        .send(serde_json::json!({"type": "chat", "text": "before the move"}))
        .await;
    joined[1].0.expect("chat").await;
    let joined: [_; 2] = joined.try_into().unwrap_or_else(|_| unreachable!());
    (MeetingCode::from(code.as_str()), joined)
}

/// Each participant is told `server_shutdown` and its socket closes as a restart; coming back
/// through node-b with its resume token, it is in the same meeting (its chat kept), which now
/// runs on node-b and has not ended.
async fn everyone_moves_to_node_b(
    b: &parlor_testkit::server::NodeProcess,
    redis: &RedisServer,
    code: &MeetingCode,
    joined: [Joined; 2],
) {
    for (mut ws, answer, token) in joined {
        let told = ws.expect("server_shutdown").await;
        assert!(told["reconnectAfterMs"].as_u64().is_some(), "{told}");
        assert_eq!(ws.closed().await, Some(1012), "closed as a server restart");
        let mut again =
            parlor_testkit::WsClient::connect(&parlor_testkit::http::signal_url(&b.url, &token))
                .await;
        again
            .send(serde_json::json!({
                "type": "join", "roomId": code, "resumeToken": answer["resumeToken"]
            }))
            .await;
        let rejoined = again.expect("joined").await;
        assert_eq!(
            rejoined["participantId"], answer["participantId"],
            "{rejoined}"
        );
        assert_eq!(rejoined["resumed"], true, "{rejoined}");
        assert!(
            rejoined["chat"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["text"] == "before the move"),
            "{rejoined}"
        );
    }
    assert_eq!(
        redis.cli(&["GET", &format!("parlor:room:{code}")]),
        "node-b"
    );
    let meeting = parlor_testkit::http::meeting(&b.url, code.as_str()).await;
    assert_eq!(meeting["status"], "active", "{meeting}");
    assert_eq!(meeting["present"], 2, "{meeting}");
}

/// node-a was cut off from Redis for longer than its TTL, and its meeting was taken over
/// meanwhile (here: the room's key rewritten to name node-b, as node-b claiming it would). Its
/// next heartbeat finds the meeting held elsewhere: node-a's room stops and tells its
/// participants to reconnect, which takes them to node-b as the same participants; node-a
/// runs on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_finding_its_meeting_held_elsewhere_sends_its_participants_there() {
    let redis = RedisServer::start();
    let ([a, b], _data) = parlor_testkit::server::two_nodes(&redis).await;
    let (code, joined) = meeting_on_node_a(&a, &b, &redis).await;
    redis.cli(&["SET", &format!("parlor:room:{code}"), "node-b"]);
    everyone_moves_to_node_b(&b, &redis, &code, joined).await;
    assert_eq!(redis.cli(&["EXISTS", "parlor:node:node-a"]), "1");
}

/// SIGTERM, as Kubernetes or systemd stop a node: it drains (no new rooms, its participants
/// told to reconnect) and exits cleanly; the meeting goes on on the other node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_stopped_with_sigterm_hands_its_meetings_over() {
    let redis = RedisServer::start();
    let ([mut a, b], _data) = parlor_testkit::server::two_nodes(&redis).await;
    let (code, joined) = meeting_on_node_a(&a, &b, &redis).await;
    let asked = Instant::now();
    a.terminate();
    everyone_moves_to_node_b(&b, &redis, &code, joined).await;
    let status = a.exited(Duration::from_secs(15)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "node-a ended: {status:?}"
    );
    eprintln!(
        "SIGTERM: node-a gone and its meeting moved within {:?}",
        asked.elapsed()
    );
}

/// `parlor-server --drain node-a`, run anywhere that reaches Redis: node-a drains and exits,
/// the command reports it and returns once node-a has left. Naming a node that is not up is an
/// error that lists the nodes that are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_moves_a_nodes_meetings_and_waits_for_it_to_leave() {
    let redis = RedisServer::start();
    let ([mut a, b], _data) = parlor_testkit::server::two_nodes(&redis).await;
    let (code, joined) = meeting_on_node_a(&a, &b, &redis).await;
    let drain = |node| parlor_testkit::server::drain(&redis, node);

    let wrong = drain("node-z").await;
    assert_eq!(wrong.status.code(), Some(1));
    let said = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        said.contains("no node node-z is up") && said.contains("node-a") && said.contains("node-b"),
        "{said}"
    );

    eventually("node-a's load counts the meeting", || async {
        redis
            .cli(&["GET", "parlor:node:node-a"])
            .contains("\"participants\":2")
    })
    .await;
    let asked = Instant::now();
    let (out, ()) = tokio::join!(
        drain("node-a"),
        everyone_moves_to_node_b(&b, &redis, &code, joined)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.starts_with("node-a: 1 room, 2 participants"), "{said}");
    assert!(said.contains("node-a has left the cluster"), "{said}");
    let status = a.exited(Duration::from_secs(15)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "node-a ended: {status:?}"
    );
    assert_eq!(redis.cli(&["EXISTS", "parlor:node:node-a"]), "0");
    eprintln!(
        "--drain: node-a gone and its meeting moved within {:?}\n{said}",
        asked.elapsed()
    );
}

/// Redis loses everything (a restart without persistence, or a flush) while node a runs a
/// room. Node b, asked for that meeting at once and again until it is answered, must not open
/// it a second time: new rooms wait until every node has had time to claim its own again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_room_is_not_placed_twice_after_redis_loses_its_state() {
    let redis = RedisServer::start();
    let (a, _inbox_a, _stop_a) = node(&redis, "a");
    // Half a heartbeat apart: after a's beat, b's comes first.
    tokio::time::sleep(HEARTBEAT / 2).await;
    let (b, _inbox_b, _stop_b) = node(&redis, "b");
    up(&a, 2).await;
    let code = MeetingCode::from("abc-defg-hij");
    assert_eq!(a.place(&code).await.unwrap(), "a");
    // a runs the room; b, with none, is the least loaded node.
    a.set_load(
        load(1),
        vec![(code.clone(), parlor_server::cluster::Presence::default())],
    );
    for round in 0..3 {
        // Just after a's heartbeat, so b announces itself to the emptied Redis before a
        // claims its room again.
        eventually("a's heartbeat", || async {
            redis
                .cli(&["PTTL", "parlor:node:a"])
                .parse::<u64>()
                .is_ok_and(|ttl| ttl > 2900)
        })
        .await;
        assert_eq!(redis.cli(&["FLUSHALL"]), "OK");
        let asked = Instant::now();
        let placed = loop {
            match b.place(&code).await {
                Ok(node) => break node,
                Err(ClusterError::Unavailable(_) | ClusterError::Full) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(
            placed, "a",
            "round {round}: the meeting is opened only where it runs"
        );
        eprintln!("round {round}: b answered after {:?}", asked.elapsed());
    }
}
