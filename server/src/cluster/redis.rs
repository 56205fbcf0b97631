//! The cluster's shared state in Redis.
//!
//! - `parlor:node:{id}`: the node's [`NodeLoad`] as JSON, set on every heartbeat with a time to
//!   live, so a node that stops (or is killed) drops out within [`NODE_TTL`];
//!   `parlor:nodes` is the set of ids ever seen, pruned as their keys expire.
//! - `parlor:room:{code}`: the id of the node hosting that meeting's room, claimed by a script
//!   that keeps a live holder and otherwise sets the chosen node, in one step.
//! - `parlor:presence:{code}`: who is in that meeting, participant id → `connected` or
//!   `reconnecting`, rewritten by the room's node on every heartbeat and expiring with it.
//! - `parlor:bus:{id}`: the node's pub/sub channel.
//! - `parlor:epoch`: a random value that tells nodes when Redis has lost all of the above
//!   (see [`EPOCH`]).
//!
//! Every command has a short time limit. A node's requests go through a circuit breaker: once
//! Redis fails to answer, they fail at once (`unavailable`) and only the heartbeat tries Redis,
//! once a second, closing the breaker when it answers. Meanwhile the node says so
//! ([`Cluster::connected`], `/health/ready`) and goes on with what it runs.

use super::{least_loaded, Cluster, ClusterError, LiveRoom, Node, NodeId, NodeLoad, Presence};
use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use parlor_protocol::{MeetingCode, ParticipantId};
use redis::aio::ConnectionManager;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How often a node refreshes its registry entry.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long an entry outlives its last refresh: a node silent this long is taken for dead.
pub const NODE_TTL: Duration = Duration::from_secs(3);
/// The longest any one Redis command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// Messages waiting for this node's relay before the bus drops more.
const INBOX: usize = 4096;

const NODES: &str = "parlor:nodes";

fn node_key(id: &str) -> String {
    format!("parlor:node:{id}")
}

fn room_key(code: &MeetingCode) -> String {
    format!("parlor:room:{code}")
}

fn presence_key(code: &MeetingCode) -> String {
    format!("parlor:presence:{code}")
}

const CONNECTED: &str = "connected";
const RECONNECTING: &str = "reconnecting";

fn bus(id: &str) -> String {
    format!("parlor:bus:{id}")
}

/// Keeps a live holder; otherwise the candidate (ARGV[1]) takes the room, unless there is
/// none (an empty ARGV[1]: no node takes rooms), when the answer is nil, or the shared state
/// is not the one the asking node knows (ARGV[3], the epoch: Redis lost it since), when the
/// answer is [`SETTLING`]. A candidate gone, taking no new rooms, or holding its `maxRooms`
/// already is refused: [`REFUSED`]. What a node holds is its [`held_key`] set (ARGV[4] and the
/// id): the rooms its heartbeat says run there and the rooms claimed for it in the last
/// [`HOLD`] (ARGV[5], ms), so rooms placed between two heartbeats count at once. The room is
/// also counted in the candidate's registry entry until its next heartbeat, to spread rooms.
const CLAIM: &str = r"
local owner = redis.call('GET', KEYS[1])
if owner and redis.call('EXISTS', ARGV[2] .. owner) == 1 then return owner end
if redis.call('GET', KEYS[2]) ~= ARGV[3] then return '!settling' end
if ARGV[1] == '' then return false end
local entry = redis.call('GET', ARGV[2] .. ARGV[1])
if not entry then return '!refused' end
local load = cjson.decode(entry)
if not load.accepting then return '!refused' end
local held = ARGV[4] .. ARGV[1]
local time = redis.call('TIME')
local now = time[1] * 1000 + math.floor(time[2] / 1000)
redis.call('ZREMRANGEBYSCORE', held, '-inf', now - ARGV[5])
if load.maxRooms and redis.call('ZCARD', held) >= load.maxRooms then return '!refused' end
redis.call('ZADD', held, now, KEYS[1])
redis.call('PEXPIRE', held, ARGV[5])
load.rooms = load.rooms + 1
redis.call('SET', ARGV[2] .. ARGV[1], cjson.encode(load), 'KEEPTTL')
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
";

/// The heartbeat's part of [`CLAIM`]'s count: the rooms running on this node (ARGV[2..], room
/// keys) are held as of now in its [`held_key`] set (KEYS[1]); what was neither running nor
/// claimed for it in the last [`HOLD`] (ARGV[1], ms) is let go.
const HOLD_RUNNING: &str = r"
local time = redis.call('TIME')
local now = time[1] * 1000 + math.floor(time[2] / 1000)
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], now, ARGV[i]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 0
";

/// How long a room claimed for a node counts against its `--max-rooms` before its heartbeat
/// says it runs there: far longer than a join takes to reach it.
const HOLD: Duration = Duration::from_secs(10);

const HELD_PREFIX: &str = "parlor:held:";

/// The rooms a node holds: a sorted set of room keys, scored by when last claimed or seen.
fn held_key(id: &str) -> String {
    format!("{HELD_PREFIX}{id}")
}

/// [`CLAIM`]'s answer while the cluster re-forms; node ids cannot start with `!`.
const SETTLING: &str = "!settling";
/// [`CLAIM`]'s answer when the candidate cannot take the room.
const REFUSED: &str = "!refused";

/// A random value set once in a Redis that has none. Redis losing its data (a restart without
/// persistence, a flush) loses it too, and nodes see a new one: that is how they know that the
/// rooms running on other nodes may not be claimed in Redis yet.
const EPOCH: &str = "parlor:epoch";

/// Deletes the room's entry and its presence only if this node (ARGV[1]) still holds it, and
/// takes it out of what the node holds (KEYS[3]).
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1], KEYS[2]) end
redis.call('ZREM', KEYS[3], KEYS[1])
return 0
";

pub struct RedisCluster {
    id: NodeId,
    client: redis::Client,
    conn: tokio::sync::Mutex<Option<ConnectionManager>>,
    /// `None` until the node first says how loaded it is; it joins the registry then. With it,
    /// the rooms this node hosts.
    load: Mutex<Option<(NodeLoad, Vec<LiveRoom>)>>,
    /// Wakes the heartbeat for the first load, so the node registers at once.
    loaded: tokio::sync::Notify,
    /// Held through each heartbeat, so that one taken from an older load cannot land after a
    /// newer one (a withdrawn node's entry must stay withdrawn).
    beating: tokio::sync::Mutex<()>,
    /// Whether Redis answered the last request ([`UNKNOWN`] before any); unless it did, the
    /// breaker is open.
    health: AtomicU8,
    /// A node of the cluster has a breaker (its heartbeat probes); an observer tries every
    /// request.
    breaker: bool,
    /// Set by [`Cluster::withdraw`]: whatever load is reported later, no new rooms come here
    /// and the node claims none of its rooms again.
    withdrawn: AtomicBool,
    /// The shared state's epoch as this node last saw it, and until when, after it changed,
    /// this node places no room anew (every node has claimed its rooms again by then).
    epoch: Mutex<(Option<String>, Option<tokio::time::Instant>)>,
    /// Rooms running here whose meeting the heartbeat found held by another node: this node
    /// was counted gone meanwhile (cut off from Redis for longer than its TTL).
    lost: Mutex<Vec<MeetingCode>>,
    claim: redis::Script,
    release: redis::Script,
}

/// What [`RedisCluster::health`] holds.
const UNKNOWN: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

fn settling() -> ClusterError {
    ClusterError::Unavailable("the cluster is re-forming after Redis lost its state".into())
}

fn unavailable(e: impl std::fmt::Display) -> ClusterError {
    ClusterError::Unavailable(e.to_string())
}

impl RedisCluster {
    /// Joins the cluster at `url` as `id`: starts the heartbeat and the bus subscriber, which
    /// keep trying while Redis is away, until `stop` is cancelled. Messages for this node
    /// arrive on the returned inbox.
    pub fn start(
        url: &str,
        id: NodeId,
        stop: CancellationToken,
    ) -> Result<(Arc<Self>, super::Inbox), String> {
        let cluster = Arc::new(Self {
            breaker: true,
            ..Self::observer(url, id)?
        });
        let (tx, inbox) = mpsc::channel(INBOX);
        tokio::spawn(cluster.clone().heartbeat(stop.clone()));
        tokio::spawn(cluster.clone().subscribe(tx, stop));
        Ok((cluster, inbox))
    }

    /// A view of the cluster at `url` that never joins it: no heartbeat, no bus of its own.
    /// It can list the nodes and send to them (as `parlor-server --drain` does).
    pub fn observer(url: &str, id: NodeId) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("bad redis_url: {e}"))?;
        Ok(Self {
            id,
            client,
            conn: tokio::sync::Mutex::new(None),
            load: Mutex::default(),
            loaded: tokio::sync::Notify::new(),
            beating: tokio::sync::Mutex::new(()),
            health: AtomicU8::new(UNKNOWN),
            breaker: false,
            withdrawn: AtomicBool::new(false),
            epoch: Mutex::default(),
            lost: Mutex::default(),
            claim: redis::Script::new(CLAIM),
            release: redis::Script::new(RELEASE),
        })
    }

    /// A connection, made when first needed (and again after Redis was away at start).
    async fn conn(&self) -> Result<ConnectionManager, ClusterError> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1);
        let made = tokio::time::timeout(
            COMMAND_TIMEOUT,
            self.client.get_connection_manager_with_config(config),
        )
        .await
        .map_err(|_| unavailable("timed out connecting"))?
        .map_err(unavailable)?;
        *slot = Some(made.clone());
        Ok(made)
    }

    /// Runs one request on a connection within the time limit, and notes whether Redis
    /// answered. While the breaker is open only a probe (the heartbeat) goes to Redis; every
    /// other request fails at once.
    async fn limited<T, F>(
        &self,
        probe: bool,
        request: impl FnOnce(ConnectionManager) -> F,
    ) -> Result<T, ClusterError>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        if self.breaker && !probe && !self.connected() {
            return Err(ClusterError::Unavailable(
                "Redis is not answering (tried again every second)".into(),
            ));
        }
        let result = async {
            let conn = self.conn().await?;
            tokio::time::timeout(COMMAND_TIMEOUT, request(conn))
                .await
                .map_err(|_| unavailable("timed out"))?
                .map_err(unavailable)
        }
        .await;
        let health = if result.is_ok() { UP } else { DOWN };
        self.health.store(health, Ordering::Relaxed);
        result
    }

    async fn run<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, ClusterError> {
        self.limited(false, |mut conn| async move {
            cmd.query_async::<T>(&mut conn).await
        })
        .await
    }

    async fn script<T: redis::FromRedisValue>(
        &self,
        script: &redis::Script,
        keys: &[&str],
        args: &[&str],
    ) -> Result<T, ClusterError> {
        let mut invocation = script.prepare_invoke();
        for k in keys {
            invocation.key(*k);
        }
        for a in args {
            invocation.arg(*a);
        }
        self.limited(false, |mut conn| async move {
            invocation.invoke_async::<T>(&mut conn).await
        })
        .await
    }

    async fn heartbeat(self: Arc<Self>, stop: CancellationToken) {
        let mut tick = tokio::time::interval(HEARTBEAT);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = tick.tick() => {}
                () = self.loaded.notified() => {}
            }
            self.beat().await;
        }
        // Leaving: others stop placing rooms here at once rather than after the TTL.
        let _ = self
            .run::<()>(redis::cmd("DEL").arg(node_key(&self.id)))
            .await;
    }

    /// Writes this node's registry entry (and claims its rooms) once.
    async fn beat(&self) {
        let _one_at_a_time = self.beating.lock().await;
        let Some((load, rooms)) = self.load.lock().ok().and_then(|l| l.clone()) else {
            return;
        };
        let Ok(json) = serde_json::to_string(&load) else {
            return;
        };
        let ttl = u64::try_from(NODE_TTL.as_millis()).unwrap_or(u64::MAX);
        let mut beat = redis::pipe();
        beat.atomic()
            .cmd("SET")
            .arg(EPOCH)
            .arg(crate::util::random_token(16))
            .arg("NX")
            .ignore()
            .cmd("GET")
            .arg(EPOCH)
            .cmd("SET")
            .arg(node_key(&self.id))
            .arg(json)
            .arg("PX")
            .arg(ttl)
            .ignore()
            .cmd("SADD")
            .arg(NODES)
            .arg(&self.id)
            .ignore();
        beat.cmd("EVAL")
            .arg(HOLD_RUNNING)
            .arg(1)
            .arg(held_key(&self.id))
            .arg(HOLD.as_millis().to_string());
        for (code, _) in &rooms {
            beat.arg(room_key(code));
        }
        beat.ignore();
        // A Redis that restarted has forgotten which rooms run here: claim them again (never
        // over another holder). Who is in each is written afresh.
        for (code, presence) in &rooms {
            beat.cmd("SET")
                .arg(room_key(code))
                .arg(&self.id)
                .arg("NX")
                .ignore()
                .cmd("GET")
                .arg(room_key(code));
            let key = presence_key(code);
            beat.cmd("DEL").arg(&key).ignore();
            if presence.count() > 0 {
                let fields = presence
                    .connected
                    .iter()
                    .map(|p| (p.as_str(), CONNECTED))
                    .chain(
                        presence
                            .reconnecting
                            .iter()
                            .map(|p| (p.as_str(), RECONNECTING)),
                    );
                beat.cmd("HSET").arg(&key);
                for (participant, state) in fields {
                    beat.arg(participant).arg(state);
                }
                beat.ignore().cmd("PEXPIRE").arg(&key).arg(ttl).ignore();
            }
        }
        let was = self.connected();
        let result = self
            .limited(true, |mut conn| async move {
                beat.query_async::<Vec<Option<String>>>(&mut conn).await
            })
            .await;
        match (&result, was) {
            (Err(e), true) => {
                tracing::warn!(error = %e, "lost Redis; new meetings wait until it is back")
            }
            (Ok(_), false) => tracing::info!(node = %self.id, "Redis reachable; in the cluster"),
            _ => {}
        }
        let Ok(answers) = result else { return };
        let mut answers = answers.into_iter();
        if let Some(Some(now)) = answers.next() {
            self.saw_epoch(now);
        }
        let lost = rooms
            .into_iter()
            .zip(answers)
            .filter(|(_, holder)| holder.as_ref().is_some_and(|h| *h != self.id))
            .map(|((code, _), _)| code);
        if let Ok(mut known) = self.lost.lock() {
            known.extend(lost);
        }
    }

    /// Notes the shared state's epoch; a change means Redis lost what it held, so new rooms
    /// wait until every node has had time to claim its running rooms again.
    fn saw_epoch(&self, now: String) {
        let Ok(mut epoch) = self.epoch.lock() else {
            return;
        };
        if epoch.0.as_ref().is_some_and(|before| *before != now) {
            tracing::warn!(
                settle_ms = u64::try_from(NODE_TTL.as_millis()).unwrap_or(u64::MAX),
                "Redis lost the cluster's state (restarted or flushed); new meetings wait while \
                 nodes claim their rooms again"
            );
            epoch.1 = Some(tokio::time::Instant::now() + NODE_TTL);
        }
        epoch.0 = Some(now);
    }

    /// The epoch to place rooms under, or why rooms cannot be placed now.
    async fn placing_epoch(&self) -> Result<String, ClusterError> {
        // Before its first heartbeat a node does not know the epoch yet; with the breaker
        // open, the heartbeat is already trying.
        if self.epoch.lock().map_err(unavailable)?.0.is_none() {
            if self.breaker && self.health.load(Ordering::Relaxed) == DOWN {
                return Err(unavailable(
                    "Redis is not answering (tried again every second)",
                ));
            }
            self.beat().await;
        }
        let epoch = self.epoch.lock().map_err(unavailable)?;
        if epoch
            .1
            .is_some_and(|until| tokio::time::Instant::now() < until)
        {
            return Err(settling());
        }
        Ok(epoch.0.clone().unwrap_or_default())
    }

    /// `code`'s live holder, or else `candidate` (none: an empty name), claimed atomically
    /// under `epoch` (see [`Self::placing_epoch`]); `None` when there is no candidate or it refused. A
    /// live room stays where it is, even on a node taking no new ones.
    async fn claim(
        &self,
        code: &MeetingCode,
        candidate: &str,
        epoch: &str,
    ) -> Result<Option<NodeId>, ClusterError> {
        let placed: Option<NodeId> = self
            .script(
                &self.claim,
                &[&room_key(code), EPOCH],
                &[
                    candidate,
                    "parlor:node:",
                    epoch,
                    HELD_PREFIX,
                    &HOLD.as_millis().to_string(),
                ],
            )
            .await?;
        match placed {
            Some(answer) if answer == SETTLING => Err(settling()),
            Some(answer) if answer == REFUSED => Ok(None),
            placed => Ok(placed),
        }
    }

    /// Listens on this node's channel, subscribing again whenever the connection drops.
    async fn subscribe(self: Arc<Self>, inbox: mpsc::Sender<Vec<u8>>, stop: CancellationToken) {
        let channel = bus(&self.id);
        while !stop.is_cancelled() {
            let attempt = async {
                let mut pubsub = self.client.get_async_pubsub().await?;
                pubsub.subscribe(&channel).await?;
                Ok::<_, redis::RedisError>(pubsub)
            };
            let pubsub = tokio::select! {
                () = stop.cancelled() => break,
                p = tokio::time::timeout(COMMAND_TIMEOUT, attempt) => p,
            };
            match pubsub {
                Ok(Ok(mut pubsub)) => {
                    tracing::debug!(node = %self.id, "listening on the cluster bus");
                    let mut messages = pubsub.on_message();
                    loop {
                        let message = tokio::select! {
                            () = stop.cancelled() => return,
                            m = messages.next() => m,
                        };
                        let Some(message) = message else { break };
                        if inbox
                            .try_send(message.get_payload_bytes().to_vec())
                            .is_err()
                        {
                            tracing::warn!("cluster inbox full; a message was dropped");
                        }
                    }
                    tracing::warn!(node = %self.id, "cluster bus connection lost; subscribing again");
                }
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "cannot subscribe to the cluster bus yet")
                }
                Err(_) => tracing::debug!("subscribing to the cluster bus timed out"),
            }
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
    }
}

impl Cluster for RedisCluster {
    fn node_id(&self) -> &str {
        &self.id
    }

    fn place<'a>(&'a self, code: &'a MeetingCode) -> BoxFuture<'a, Result<NodeId, ClusterError>> {
        Box::pin(async move {
            // Known first, so that this node's own first heartbeat is among the nodes.
            let epoch = self.placing_epoch().await?;
            let mut nodes = self.nodes().await?;
            // A node that filled up since its last heartbeat refuses: the next one is asked.
            loop {
                let candidate = least_loaded(&nodes).map_or(String::new(), |n| n.id.clone());
                match self.claim(code, &candidate, &epoch).await? {
                    Some(node) => return Ok(node),
                    None if candidate.is_empty() => return Err(ClusterError::Full),
                    None => nodes.retain(|n| n.id != candidate),
                }
            }
        })
    }

    fn adopt<'a>(&'a self, code: &'a MeetingCode) -> BoxFuture<'a, Result<bool, ClusterError>> {
        Box::pin(async move {
            let epoch = self.placing_epoch().await?;
            let holder = self.claim(code, &self.id, &epoch).await?;
            Ok(holder.as_deref() == Some(self.id.as_str()))
        })
    }

    fn holder<'a>(
        &'a self,
        code: &'a MeetingCode,
    ) -> BoxFuture<'a, Result<Option<NodeId>, ClusterError>> {
        Box::pin(async move {
            let owner: Option<String> = self.run(redis::cmd("GET").arg(room_key(code))).await?;
            let Some(owner) = owner else {
                return Ok(None);
            };
            let up: bool = self.run(redis::cmd("EXISTS").arg(node_key(&owner))).await?;
            Ok(up.then_some(owner))
        })
    }

    fn unheld(
        &self,
        codes: Vec<MeetingCode>,
    ) -> BoxFuture<'_, Result<Vec<MeetingCode>, ClusterError>> {
        Box::pin(async move {
            if codes.is_empty() {
                return Ok(codes);
            }
            // This node's own live rooms the caller knows: a claim naming this node without
            // one (its room failed to open, or this node restarted under the same id) counts
            // as unheld.
            let up: std::collections::HashSet<NodeId> = self
                .nodes()
                .await?
                .into_iter()
                .map(|n| n.id)
                .filter(|id| *id != self.id)
                .collect();
            let keys: Vec<String> = codes.iter().map(room_key).collect();
            let owners: Vec<Option<String>> = self.run(redis::cmd("MGET").arg(&keys)).await?;
            Ok(codes
                .into_iter()
                .zip(owners)
                .filter(|(_, owner)| owner.as_ref().is_none_or(|o| !up.contains(o)))
                .map(|(code, _)| code)
                .collect())
        })
    }

    fn lost_rooms(&self) -> Vec<MeetingCode> {
        self.lost
            .lock()
            .map(|mut lost| std::mem::take(&mut *lost))
            .unwrap_or_default()
    }

    fn release<'a>(&'a self, code: &'a MeetingCode) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            // Out of the rooms the heartbeat claims again first (after a heartbeat under way,
            // which may claim it once more, just before the release).
            {
                let _one_at_a_time = self.beating.lock().await;
                if let Ok(mut load) = self.load.lock() {
                    if let Some((_, rooms)) = load.as_mut() {
                        rooms.retain(|(running, _)| running != code);
                    }
                }
            }
            if let Err(e) = self
                .script::<i64>(
                    &self.release,
                    &[&room_key(code), &presence_key(code), &held_key(&self.id)],
                    &[&self.id],
                )
                .await
            {
                tracing::debug!(error = %e, room = %code, "could not release the room in Redis");
            }
        })
    }

    fn set_load(&self, mut load: NodeLoad, mut rooms: Vec<LiveRoom>) {
        // A withdrawn node is letting its rooms go: it claims none of them again.
        if self.withdrawn.load(Ordering::Relaxed) {
            load.accepting = false;
            rooms.clear();
        }
        if let Ok(mut l) = self.load.lock() {
            if l.replace((load, rooms)).is_none() {
                self.loaded.notify_one();
            }
        }
    }

    fn presence<'a>(
        &'a self,
        code: &'a MeetingCode,
    ) -> BoxFuture<'a, Result<Presence, ClusterError>> {
        Box::pin(async move {
            let all: Vec<(String, String)> = self
                .run(redis::cmd("HGETALL").arg(presence_key(code)))
                .await?;
            let mut presence = Presence::default();
            for (participant, state) in all {
                let participant = ParticipantId::from(participant);
                if state == RECONNECTING {
                    presence.reconnecting.push(participant);
                } else {
                    presence.connected.push(participant);
                }
            }
            Ok(presence)
        })
    }

    fn withdraw(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.withdrawn.store(true, Ordering::Relaxed);
            // The load last reported, set again so that it says what a withdrawn node says.
            let last = self.load.lock().ok().and_then(|l| l.clone());
            if let Some((load, rooms)) = last {
                self.set_load(load, rooms);
                self.beat().await;
            }
        })
    }

    fn nodes(&self) -> BoxFuture<'_, Result<Vec<Node>, ClusterError>> {
        Box::pin(async move {
            let ids: Vec<String> = self.run(redis::cmd("SMEMBERS").arg(NODES)).await?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let keys: Vec<String> = ids.iter().map(|id| node_key(id)).collect();
            let loads: Vec<Option<String>> = self.run(redis::cmd("MGET").arg(&keys)).await?;
            let mut up = Vec::new();
            let mut gone = Vec::new();
            for (id, load) in ids.into_iter().zip(loads) {
                match load.and_then(|l| serde_json::from_str::<NodeLoad>(&l).ok()) {
                    Some(load) => up.push(Node { id, load }),
                    None => gone.push(id),
                }
            }
            if !gone.is_empty() {
                let _ = self
                    .run::<i64>(redis::cmd("SREM").arg(NODES).arg(&gone))
                    .await;
            }
            Ok(up)
        })
    }

    fn send<'a>(
        &'a self,
        to: &'a str,
        message: &'a [u8],
    ) -> BoxFuture<'a, Result<(), ClusterError>> {
        Box::pin(async move {
            self.run::<i64>(redis::cmd("PUBLISH").arg(bus(to)).arg(message))
                .await
                .map(|_| ())
        })
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            // With the breaker open the heartbeat's last answer stands; before any, ask.
            let probe = self.health.load(Ordering::Relaxed) == UNKNOWN;
            self.limited(probe, |mut conn| async move {
                redis::cmd("PING").query_async::<String>(&mut conn).await
            })
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
        })
    }

    fn connected(&self) -> bool {
        self.health.load(Ordering::Relaxed) == UP
    }
}
