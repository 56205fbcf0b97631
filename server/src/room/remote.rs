//! Participants whose WebSocket landed on another node than their meeting's room.
//!
//! The node holding the socket (the *socket node*) keeps the session: authentication, size and
//! rate limits, parsing. What the session would hand to a local room it sends over the
//! cluster bus to the *room node* instead: `join`, each later message, and the socket closing.
//! The room node stands in for the socket with a [`ConnHandle`] of its own whose queue is
//! forwarded back (`deliver`), and whose closing closes the real socket (`close`). The room
//! cannot tell a relayed participant from a local one.

use super::conn::{close_code, CloseSignal, ConnHandle, Outbound};
use super::{RoomCommand, RoomError, RoomHandle, Rooms};
use crate::auth::Identity;
use crate::cluster::{Cluster, NodeId};
use crate::metrics::Metrics;
use parlor_protocol::api::Meeting;
use parlor_protocol::signal::ClientMessage;
use parlor_protocol::{ErrorBody, ErrorCode, MeetingCode, ParticipantId, UserId};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// How long a node waits for another to answer (a join, an end).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the registry must have been reachable before a node missing from it counts as
/// gone: every live node announces itself within this (heartbeats are a second apart).
const SETTLE: Duration = Duration::from_secs(3);

/// What nodes tell each other about relayed participants. Connections are named by the
/// socket node's id and its own connection id.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum Relay {
    /// Socket node → room node.
    Join {
        from: NodeId,
        conn: u64,
        code: MeetingCode,
        user_id: UserId,
        name: String,
        guest: bool,
        resume_token: Option<String>,
    },
    Message {
        from: NodeId,
        conn: u64,
        msg: ClientMessage,
    },
    Gone {
        from: NodeId,
        conn: u64,
    },
    /// Room node → socket node.
    Joined {
        conn: u64,
        outcome: JoinOutcome,
    },
    Deliver {
        conn: u64,
        text: String,
    },
    Close {
        conn: u64,
        code: u16,
        reason: String,
    },
    /// Any node → the room's node: end the meeting through its live room (the host ended it
    /// over the API on another node).
    End {
        from: NodeId,
        request: u64,
        code: MeetingCode,
    },
    EndAnswer {
        request: u64,
        outcome: EndOutcome,
    },
    /// Anyone → a node: stop taking rooms, move your participants elsewhere and leave
    /// (`parlor-server --drain`).
    Drain {
        from: NodeId,
    },
}

impl Relay {
    /// Its kind, as metrics label it.
    fn kind(&self) -> &'static str {
        match self {
            Self::Join { .. } => "join",
            Self::Message { .. } => "message",
            Self::Gone { .. } => "gone",
            Self::Joined { .. } => "joined",
            Self::Deliver { .. } => "deliver",
            Self::Close { .. } => "close",
            Self::End { .. } => "end",
            Self::EndAnswer { .. } => "end_answer",
            Self::Drain { .. } => "drain",
        }
    }
}

/// What asks `node` to drain, as sent on its bus by [`crate::drain`].
pub async fn ask_to_drain(
    cluster: &dyn Cluster,
    node: &str,
) -> Result<(), crate::cluster::ClusterError> {
    let relay = Relay::Drain {
        from: cluster.node_id().to_owned(),
    };
    let bytes = serde_json::to_vec(&relay)
        .map_err(|e| crate::cluster::ClusterError::Unavailable(e.to_string()))?;
    cluster.send(node, &bytes).await
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum EndOutcome {
    /// The room had already closed; the caller ends the meeting in storage.
    NotLive,
    Ended(Box<Meeting>),
    Refused(ErrorBody),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum JoinOutcome {
    Joined(ParticipantId),
    Refused(ErrorBody),
    Ended(Box<Meeting>),
}

/// A relayed participant, as its room node keeps it.
struct Proxy {
    room: RoomHandle,
    participant: ParticipantId,
    conn: ConnHandle,
}

impl Proxy {
    /// The socket it stands in for is gone: the room hears so, as from a local session.
    async fn disconnect(self, code: u16) {
        self.room
            .send(RoomCommand::Disconnected {
                from: self.participant,
                conn_id: self.conn.id,
            })
            .await;
        self.conn.close.close(code, "");
    }
}

/// Both ends of relaying, for one node.
pub struct Remote {
    cluster: Arc<dyn Cluster>,
    metrics: Metrics,
    outbound_queue: usize,
    /// Socket side: joins waiting for the room node's answer, and sessions joined elsewhere.
    pending: Mutex<HashMap<u64, oneshot::Sender<JoinOutcome>>>,
    /// Ends asked of other nodes, by request number.
    ends: Mutex<HashMap<u64, oneshot::Sender<EndOutcome>>>,
    requests: std::sync::atomic::AtomicU64,
    /// Sessions joined to a room on another node, with that node.
    sockets: Mutex<HashMap<u64, (NodeId, ConnHandle)>>,
    /// Room side: stand-ins for sockets on other nodes.
    proxies: Mutex<HashMap<(NodeId, u64), Proxy>>,
}

/// A session's way to its room, wherever the room runs.
#[derive(Clone)]
pub enum RoomLink {
    Here(RoomHandle),
    There {
        node: NodeId,
        conn: u64,
        remote: Arc<Remote>,
    },
}

impl RoomLink {
    /// Hands a session's command to the room; false when the room is gone.
    pub async fn send(&self, cmd: RoomCommand) -> bool {
        match self {
            Self::Here(room) => room.send(cmd).await,
            Self::There { node, conn, remote } => {
                let me = remote.cluster.node_id().to_owned();
                let relay = match cmd {
                    RoomCommand::Message { msg, .. } => Relay::Message {
                        from: me,
                        conn: *conn,
                        msg,
                    },
                    RoomCommand::Disconnected { .. } => {
                        remote.forget_socket(*conn);
                        Relay::Gone {
                            from: me,
                            conn: *conn,
                        }
                    }
                    // Only sessions' commands travel; the rest are this node's own business.
                    _ => return false,
                };
                if !remote.post(node, &relay).await {
                    // The bus is down (Redis away): the session stays in its meeting, whose
                    // media goes on; this message is refused.
                    remote.refuse(*conn);
                }
                remote.has_socket(*conn)
            }
        }
    }

    pub fn is_closed(&self) -> bool {
        match self {
            Self::Here(room) => room.is_closed(),
            Self::There { conn, remote, .. } => !remote.has_socket(*conn),
        }
    }
}

impl Remote {
    pub fn new(cluster: Arc<dyn Cluster>, metrics: Metrics, outbound_queue: usize) -> Self {
        Self {
            cluster,
            metrics,
            outbound_queue,
            pending: Mutex::default(),
            ends: Mutex::default(),
            requests: std::sync::atomic::AtomicU64::new(1),
            sockets: Mutex::default(),
            proxies: Mutex::default(),
        }
    }

    async fn post(&self, to: &str, relay: &Relay) -> bool {
        let Ok(bytes) = serde_json::to_vec(relay) else {
            return false;
        };
        match self.cluster.send(to, &bytes).await {
            Ok(()) => {
                self.metrics.bus("out", relay.kind(), bytes.len());
                true
            }
            Err(e) => {
                self.metrics.bus_failures.inc();
                tracing::warn!(error = %e, node = to, "cannot relay to the room's node");
                false
            }
        }
    }

    fn has_socket(&self, conn: u64) -> bool {
        self.socket(conn).is_some()
    }

    /// The relayed session on `conn`, if it is still here.
    fn socket(&self, conn: u64) -> Option<ConnHandle> {
        self.sockets
            .lock()
            .ok()
            .and_then(|s| s.get(&conn).map(|(_, c)| c.clone()))
    }

    /// Tells a relayed session its last message could not reach its meeting's node.
    fn refuse(&self, conn: u64) {
        if let Some(socket) = self.socket(conn) {
            let error = parlor_protocol::signal::ServerMessage::Error(ErrorBody::new(
                ErrorCode::Unavailable,
                "the meeting's server cannot be reached right now; try again shortly",
            ));
            socket.send(&error, &self.metrics);
        }
    }

    fn forget_socket(&self, conn: u64) {
        if let Ok(mut s) = self.sockets.lock() {
            s.remove(&conn);
        }
    }

    /// Sends `relay` to `node` and waits (a while) for the answer filed under `key` in
    /// `waiting`; `None` when the bus is down or no answer came.
    async fn ask<T>(
        &self,
        node: &str,
        relay: &Relay,
        waiting: &Mutex<HashMap<u64, oneshot::Sender<T>>>,
        key: u64,
    ) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        if let Ok(mut w) = waiting.lock() {
            w.insert(key, reply);
        }
        let outcome = if self.post(node, relay).await {
            tokio::time::timeout(ANSWER_TIMEOUT, answer)
                .await
                .ok()
                .and_then(Result::ok)
        } else {
            None
        };
        if let Ok(mut w) = waiting.lock() {
            w.remove(&key);
        }
        outcome
    }

    /// Joins the room `node` hosts for the session on `conn`.
    pub async fn join(
        self: &Arc<Self>,
        node: NodeId,
        code: &MeetingCode,
        identity: Identity,
        conn: ConnHandle,
        resume_token: Option<String>,
    ) -> Result<(RoomLink, ParticipantId), RoomError> {
        // Registered before asking, so nothing the room sends right after `joined` is lost.
        if let Ok(mut s) = self.sockets.lock() {
            s.insert(conn.id, (node.clone(), conn.clone()));
        }
        let join = Relay::Join {
            from: self.cluster.node_id().to_owned(),
            conn: conn.id,
            code: code.clone(),
            user_id: identity.user_id,
            name: identity.display_name,
            guest: identity.guest,
            resume_token,
        };
        let outcome = self.ask(&node, &join, &self.pending, conn.id).await;
        match outcome {
            Some(JoinOutcome::Joined(participant)) => Ok((
                RoomLink::There {
                    node,
                    conn: conn.id,
                    remote: self.clone(),
                },
                participant,
            )),
            other => {
                self.forget_socket(conn.id);
                Err(match other {
                    Some(JoinOutcome::Refused(e)) => RoomError::Refused(e),
                    Some(JoinOutcome::Ended(meeting)) => RoomError::Ended(*meeting),
                    _ => RoomError::Refused(ErrorBody::new(
                        ErrorCode::Unavailable,
                        "the server hosting this meeting did not answer; try again",
                    )),
                })
            }
        }
    }

    /// Ends `code` through its live room on `node`; `None` when that room is not live there.
    pub async fn end(&self, node: &str, code: &MeetingCode) -> Option<Result<Meeting, RoomError>> {
        let request = self
            .requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let asked = Relay::End {
            from: self.cluster.node_id().to_owned(),
            request,
            code: code.clone(),
        };
        let outcome = self.ask(node, &asked, &self.ends, request).await;
        match outcome {
            Some(EndOutcome::Ended(meeting)) => Some(Ok(*meeting)),
            Some(EndOutcome::Refused(e)) => Some(Err(RoomError::Refused(e))),
            Some(EndOutcome::NotLive) => None,
            None => Some(Err(RoomError::Refused(ErrorBody::new(
                ErrorCode::Unavailable,
                "the server hosting this meeting did not answer; try again",
            )))),
        }
    }

    /// Handles what arrives on this node's bus until it closes, and looks after the relayed
    /// participants of nodes that stop. A request to drain cancels `draining`.
    pub async fn run(
        self: Arc<Self>,
        rooms: Arc<Rooms>,
        mut inbox: mpsc::Receiver<Vec<u8>>,
        draining: CancellationToken,
    ) {
        let watching = tokio::spawn(self.clone().watch());
        while let Some(bytes) = inbox.recv().await {
            let relay = serde_json::from_slice::<Relay>(&bytes);
            if let Ok(r) = &relay {
                self.metrics.bus("in", r.kind(), bytes.len());
            }
            match relay {
                Ok(Relay::Drain { from }) => {
                    tracing::info!(by = %from, "asked to drain: moving participants and leaving");
                    draining.cancel();
                }
                Ok(relay) => self.clone().handle(&rooms, relay).await,
                Err(e) => tracing::warn!(error = %e, "unreadable message on the cluster bus"),
            }
        }
        watching.abort();
    }

    /// Once a second, compares the relayed participants with the nodes that are up. A session
    /// whose room's node has stopped is closed as a restart, so its client reconnects and
    /// resumes where the meeting is placed next; a participant whose socket's node has stopped
    /// is disconnected from its room (which waits for it to resume, as for any lost socket).
    async fn watch(self: Arc<Self>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut reachable_since: Option<tokio::time::Instant> = None;
        loop {
            tick.tick().await;
            let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
            let sockets = self.sockets.lock().map(|s| s.len()).unwrap_or(0);
            let proxies = self.proxies.lock().map(|p| p.len()).unwrap_or(0);
            self.metrics
                .relayed
                .with_label_values(&["socket"])
                .set(count(sockets));
            self.metrics
                .relayed
                .with_label_values(&["room"])
                .set(count(proxies));
            self.metrics
                .redis_up
                .set(i64::from(self.cluster.connected()));
            // Without the registry nothing can be told about other nodes: wait.
            let Ok(nodes) = self.cluster.nodes().await else {
                reachable_since = None;
                continue;
            };
            // Right after the shared state comes back (a restarted Redis is empty), live nodes
            // may not have announced themselves again yet.
            let since = *reachable_since.get_or_insert_with(tokio::time::Instant::now);
            if since.elapsed() < SETTLE {
                continue;
            }
            let up = |id: &str| nodes.iter().any(|n| n.id == id);
            let orphans: Vec<ConnHandle> = self
                .sockets
                .lock()
                .map(|mut s| {
                    let gone: Vec<u64> = s
                        .iter()
                        .filter(|(_, (node, _))| !up(node))
                        .map(|(id, _)| *id)
                        .collect();
                    gone.iter()
                        .filter_map(|id| s.remove(id))
                        .map(|(_, c)| c)
                        .collect()
                })
                .unwrap_or_default();
            for socket in orphans {
                tracing::info!(
                    conn = socket.id,
                    "the meeting's server stopped; asking the client to reconnect"
                );
                socket.close.close(
                    close_code::RESTARTING,
                    "the meeting's server stopped; reconnect to resume",
                );
            }
            let stranded: Vec<Proxy> = self
                .proxies
                .lock()
                .map(|mut p| {
                    let gone: Vec<(NodeId, u64)> =
                        p.keys().filter(|(node, _)| !up(node)).cloned().collect();
                    gone.iter().filter_map(|k| p.remove(k)).collect()
                })
                .unwrap_or_default();
            for proxy in stranded {
                proxy.disconnect(close_code::GOING_AWAY).await;
            }
        }
    }

    async fn handle(self: Arc<Self>, rooms: &Arc<Rooms>, relay: Relay) {
        match relay {
            Relay::Join {
                from,
                conn,
                code,
                user_id,
                name,
                guest,
                resume_token,
            } => {
                // Joining waits on the room; the bus goes on meanwhile.
                let rooms = rooms.clone();
                let identity = Identity {
                    user_id,
                    display_name: name,
                    guest,
                };
                tokio::spawn(async move {
                    self.admit(&rooms, from, conn, code, identity, resume_token)
                        .await;
                });
            }
            Relay::Message { from, conn, msg } => {
                let target = self.proxies.lock().ok().and_then(|p| {
                    p.get(&(from, conn))
                        .map(|x| (x.room.clone(), x.participant.clone(), x.conn.id))
                });
                if let Some((room, from, conn_id)) = target {
                    room.send(RoomCommand::Message { from, conn_id, msg }).await;
                }
            }
            Relay::Gone { from, conn } => {
                let proxy = self
                    .proxies
                    .lock()
                    .ok()
                    .and_then(|mut p| p.remove(&(from, conn)));
                if let Some(proxy) = proxy {
                    proxy.disconnect(close_code::NORMAL).await;
                }
            }
            Relay::Joined { conn, outcome } => {
                if let Some(reply) = self.pending.lock().ok().and_then(|mut p| p.remove(&conn)) {
                    let _ = reply.send(outcome);
                }
            }
            Relay::Deliver { conn, text } => {
                if let Some(socket) = self.socket(conn) {
                    socket.send_text(text.into(), &self.metrics);
                }
            }
            Relay::End {
                from,
                request,
                code,
            } => {
                let rooms = rooms.clone();
                tokio::spawn(async move {
                    let outcome = match rooms.end_here(&code).await {
                        None => EndOutcome::NotLive,
                        Some(Ok(meeting)) | Some(Err(RoomError::Ended(meeting))) => {
                            EndOutcome::Ended(Box::new(meeting))
                        }
                        Some(Err(RoomError::Refused(e))) => EndOutcome::Refused(e),
                    };
                    self.post(&from, &Relay::EndAnswer { request, outcome })
                        .await;
                });
            }
            Relay::EndAnswer { request, outcome } => {
                if let Some(reply) = self.ends.lock().ok().and_then(|mut e| e.remove(&request)) {
                    let _ = reply.send(outcome);
                }
            }
            // Handled by `run`, which owns the node's draining.
            Relay::Drain { .. } => {}
            Relay::Close { conn, code, reason } => {
                let socket = self.sockets.lock().ok().and_then(|mut s| s.remove(&conn));
                if let Some((_, socket)) = socket {
                    socket.close.close(code, &reason);
                }
            }
        }
    }

    /// The room side of a relayed join: a stand-in connection whose queue goes back over the
    /// bus, joined to the local room like any other.
    async fn admit(
        self: Arc<Self>,
        rooms: &Rooms,
        from: NodeId,
        conn: u64,
        code: MeetingCode,
        identity: Identity,
        resume_token: Option<String>,
    ) {
        let (tx, rx) = mpsc::channel(self.outbound_queue);
        let stand_in = ConnHandle {
            id: rooms.next_conn_id(),
            tx,
            close: CloseSignal::default(),
        };
        let outcome = match rooms
            .join_here(&code, identity, stand_in.clone(), resume_token)
            .await
        {
            Ok((room, participant)) => {
                if let Ok(mut p) = self.proxies.lock() {
                    p.insert(
                        (from.clone(), conn),
                        Proxy {
                            room,
                            participant: participant.clone(),
                            conn: stand_in.clone(),
                        },
                    );
                }
                JoinOutcome::Joined(participant)
            }
            Err(RoomError::Refused(e)) => JoinOutcome::Refused(e),
            Err(RoomError::Ended(m)) => JoinOutcome::Ended(Box::new(m)),
        };
        let joined = matches!(outcome, JoinOutcome::Joined(_));
        // The answer goes first, then what the room queued (its `joined` among it).
        self.post(&from, &Relay::Joined { conn, outcome }).await;
        if joined {
            tokio::spawn(self.forward(from, conn, rx, stand_in.close));
        }
    }

    /// Sends a stand-in's queue to the socket node until the room closes it, then closes the
    /// socket with the same code.
    async fn forward(
        self: Arc<Self>,
        to: NodeId,
        conn: u64,
        mut rx: mpsc::Receiver<Outbound>,
        close: CloseSignal,
    ) {
        loop {
            let next = tokio::select! {
                biased;
                () = close.closed() => break,
                next = rx.recv() => next,
            };
            match next {
                Some(Outbound::Text(text)) => {
                    let relay = Relay::Deliver {
                        conn,
                        text: text.to_string(),
                    };
                    self.post(&to, &relay).await;
                }
                // The socket node keeps its own heartbeat.
                Some(Outbound::Ping) => {}
                None => break,
            }
        }
        while let Ok(Outbound::Text(text)) = rx.try_recv() {
            self.post(
                &to,
                &Relay::Deliver {
                    conn,
                    text: text.to_string(),
                },
            )
            .await;
        }
        let (code, reason) = close.reason();
        if let Ok(mut p) = self.proxies.lock() {
            p.remove(&(to.clone(), conn));
        }
        self.post(&to, &Relay::Close { conn, code, reason }).await;
    }
}
