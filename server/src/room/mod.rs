//! Rooms: the live side of meetings. No sockets here — a room talks to its participants
//! through [`conn::ConnHandle`] queues, and persists through the store.
//!
//! [`Rooms`] opens a room on the first join (loading the meeting and its recent chat) and
//! forgets it when it ends. Each room is one task ([`actor`]); media (the SFU) will attach per
//! room beside the participants.

mod actor;
pub mod conn;
pub mod remote;

use crate::auth::Identity;
use crate::cluster::{Cluster, ClusterError, LiveRoom, Presence};
use crate::metrics::Metrics;
use crate::store::Store;
use actor::Room;
pub use actor::RoomCommand;
use conn::ConnHandle;
use parlor_protocol::api::{Meeting, MeetingStatus};
use parlor_protocol::{ErrorBody, ErrorCode, MeetingCode, ParticipantId};
use remote::{Remote, RoomLink};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// Commands queued for one room before senders wait.
const ROOM_QUEUE: usize = 1024;

/// Why a room turned a request down.
#[derive(Debug, Clone)]
pub enum RoomError {
    Refused(ErrorBody),
    /// The meeting has ended; here it is as it ended.
    Ended(Meeting),
}

impl RoomError {
    pub fn into_body(self) -> ErrorBody {
        match self {
            Self::Refused(e) => e,
            Self::Ended(_) => ErrorBody::new(ErrorCode::MeetingEnded, "this meeting has ended"),
        }
    }
}

/// What every room shares: storage, metrics and the limits from the configuration.
pub struct RoomContext {
    pub store: Store,
    pub metrics: Metrics,
    pub max_participants: usize,
    pub reconnect_grace: Duration,
    pub chat_history: usize,
    pub sfu: Arc<crate::sfu::Sfu>,
    /// Which node hosts which room.
    pub cluster: Arc<dyn Cluster>,
    /// Outgoing messages queued per connection (for participants relayed from other nodes).
    pub outbound_queue: usize,
    /// The node's draining (see [`crate::state::Inner::draining`]): once cancelled, no room
    /// opens here any more.
    pub draining: tokio_util::sync::CancellationToken,
}

#[derive(Clone)]
pub struct RoomHandle {
    /// Tells this room apart from a later room for the same meeting code.
    generation: u64,
    tx: mpsc::Sender<RoomCommand>,
    present: watch::Receiver<Presence>,
}

impl RoomHandle {
    /// Hands a command to the room; false when the room has already stopped.
    pub async fn send(&self, cmd: RoomCommand) -> bool {
        self.tx.send(cmd).await.is_ok()
    }

    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

pub struct Rooms {
    ctx: Arc<RoomContext>,
    live: Arc<Mutex<HashMap<MeetingCode, RoomHandle>>>,
    generation: AtomicU64,
    conn_ids: AtomicU64,
    /// Participants relayed to and from other nodes.
    pub remote: Arc<Remote>,
}

impl Rooms {
    pub fn new(ctx: RoomContext) -> Self {
        let remote = Arc::new(Remote::new(
            ctx.cluster.clone(),
            ctx.metrics.clone(),
            ctx.outbound_queue,
        ));
        Self {
            ctx: Arc::new(ctx),
            live: Arc::default(),
            generation: AtomicU64::new(0),
            conn_ids: AtomicU64::new(1),
            remote,
        }
    }

    /// A new connection's id, unique on this node.
    pub fn next_conn_id(&self) -> u64 {
        self.conn_ids.fetch_add(1, Ordering::Relaxed)
    }

    /// The meetings whose rooms run on this node, with who is in each.
    pub fn live_rooms(&self) -> Vec<LiveRoom> {
        self.live
            .lock()
            .map(|l| {
                l.iter()
                    .map(|(code, h)| (code.clone(), h.present.borrow().clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Who is in `code`'s meeting now: from its room when it runs here, otherwise as the
    /// room's node last told the cluster.
    pub async fn present(&self, code: &MeetingCode) -> Result<Presence, ClusterError> {
        if let Some(h) = self.lookup(code) {
            return Ok(h.present.borrow().clone());
        }
        self.ctx.cluster.presence(code).await
    }

    fn lookup(&self, code: &MeetingCode) -> Option<RoomHandle> {
        self.live
            .lock()
            .ok()?
            .get(code)
            .filter(|h| !h.is_closed())
            .cloned()
    }

    /// The live room for `code`, opening it from the database if needed.
    async fn open(&self, code: &MeetingCode) -> Result<RoomHandle, RoomError> {
        if let Some(h) = self.lookup(code) {
            return Ok(h);
        }
        let not_found = || {
            RoomError::Refused(ErrorBody::new(
                ErrorCode::RoomNotFound,
                format!("there is no meeting {code}"),
            ))
        };
        if !code.is_well_formed() {
            return Err(not_found());
        }
        let stopping = || {
            RoomError::Refused(ErrorBody::new(
                ErrorCode::Unavailable,
                "this server is stopping; reconnect to continue the meeting elsewhere",
            ))
        };
        if self.ctx.draining.is_cancelled() {
            return Err(stopping());
        }
        let storage = |e: crate::store::StoreError| {
            tracing::warn!(error = %e, "storage failure opening room");
            RoomError::Refused(ErrorBody::new(
                ErrorCode::Unavailable,
                "meetings are unavailable right now; try again shortly",
            ))
        };
        let row = self
            .ctx
            .store
            .meeting_by_code(code)
            .await
            .map_err(storage)?
            .ok_or_else(not_found)?;
        if row.meeting.status == MeetingStatus::Ended {
            return Err(RoomError::Ended(row.meeting));
        }
        let (chat, seq) = self
            .ctx
            .store
            .recent_chat(&row.id, self.ctx.chat_history)
            .await
            .map_err(storage)?;

        let mut live = self.live.lock().map_err(|_| {
            RoomError::Refused(ErrorBody::new(
                ErrorCode::Internal,
                "room registry poisoned",
            ))
        })?;
        if let Some(h) = live.get(code).filter(|h| !h.is_closed()) {
            return Ok(h.clone());
        }
        // Checked again under the lock: a room opened after the rooms were told to stop
        // would be missed.
        if self.ctx.draining.is_cancelled() {
            return Err(stopping());
        }
        let (tx, rx) = mpsc::channel(ROOM_QUEUE);
        let (present_tx, present) = watch::channel(Presence::default());
        let handle = RoomHandle {
            generation: self.generation.fetch_add(1, Ordering::Relaxed),
            tx,
            present,
        };
        live.insert(code.clone(), handle.clone());
        self.ctx.metrics.rooms.set(gauge(live.len()));
        drop(live);

        // Every meeting but a peer-to-peer one has its media routed by the SFU.
        let media = (row.meeting.media_mode != parlor_protocol::api::MediaMode::P2p)
            .then(|| actor::Media::attach(&self.ctx.sfu, code));
        let room = Room::new(
            self.ctx.clone(),
            row.id,
            row.meeting,
            chat,
            seq,
            media,
            present_tx,
        );
        let registry = self.live.clone();
        let metrics = self.ctx.metrics.clone();
        let cluster = self.ctx.cluster.clone();
        let (code, generation) = (code.clone(), handle.generation);
        tokio::spawn(async move {
            room.run(rx).await;
            let mut released = false;
            if let Ok(mut live) = registry.lock() {
                if live.get(&code).is_some_and(|h| h.generation == generation) {
                    live.remove(&code);
                    released = true;
                }
                metrics.rooms.set(gauge(live.len()));
            }
            if released {
                cluster.release(&code).await;
            }
        });
        Ok(handle)
    }

    /// Opens here the rooms of meetings under way that no node runs: no node has said it runs
    /// the room since `since` (see [`Self::mark_seen`]), and no live node holds it. Their node
    /// was lost, or this server restarted, and nobody has come back yet. Each closes the stays
    /// its lost room left open and ends the meeting unless someone is back within the grace.
    /// Returns how many it opened.
    pub async fn adopt_orphans(&self, since: i64) -> Result<usize, String> {
        let mut codes = self
            .ctx
            .store
            .unseen_meetings(since)
            .await
            .map_err(|e| e.to_string())?;
        codes.retain(|code| self.lookup(code).is_none());
        let codes = self
            .ctx
            .cluster
            .unheld(codes)
            .await
            .map_err(|e| e.to_string())?;
        let mut adopted = 0;
        for code in codes {
            if self.ctx.draining.is_cancelled() {
                break;
            }
            let ours = self
                .ctx
                .cluster
                .adopt(&code)
                .await
                .map_err(|e| e.to_string())?;
            if !ours {
                continue;
            }
            match self.open(&code).await {
                Ok(_) => {
                    tracing::info!(room = %code, "opened the room of a meeting nobody's server runs");
                    adopted += 1;
                }
                // Not left claimed for a room that is not here.
                Err(_) => self.ctx.cluster.release(&code).await,
            }
        }
        Ok(adopted)
    }

    /// Records in the database that this node runs its rooms, as of `now`.
    pub async fn mark_seen(&self, now: i64) -> Result<(), String> {
        let codes: Vec<MeetingCode> = self
            .live
            .lock()
            .map(|l| l.keys().cloned().collect())
            .unwrap_or_default();
        if codes.is_empty() {
            return Ok(());
        }
        self.ctx
            .store
            .rooms_seen(&codes, now)
            .await
            .map_err(|e| e.to_string())
    }

    /// Joins (or, with a resume token, rejoins) `code`, on whichever node hosts its room (this
    /// one, unless a cluster placed it elsewhere). The room sends `joined` itself, so that it
    /// is ordered before every later event.
    pub async fn join(
        &self,
        code: &MeetingCode,
        identity: Identity,
        conn: ConnHandle,
        resume_token: Option<String>,
    ) -> Result<(RoomLink, ParticipantId), RoomError> {
        if !code.is_well_formed() {
            return Err(RoomError::Refused(ErrorBody::new(
                ErrorCode::RoomNotFound,
                format!("there is no meeting {code}"),
            )));
        }
        let node = self.ctx.cluster.place(code).await.map_err(|e| {
            tracing::warn!(error = %e, room = %code, "cannot place the meeting's room");
            RoomError::Refused(ErrorBody::new(
                ErrorCode::Unavailable,
                match e {
                    ClusterError::Full => "every server is full; try again shortly",
                    _ => "meetings are unavailable right now; try again shortly",
                },
            ))
        })?;
        if node == self.ctx.cluster.node_id() {
            let (room, participant) = self.join_here(code, identity, conn, resume_token).await?;
            return Ok((RoomLink::Here(room), participant));
        }
        self.remote
            .join(node, code, identity, conn, resume_token)
            .await
    }

    /// Joins `code`'s room on this node.
    async fn join_here(
        &self,
        code: &MeetingCode,
        identity: Identity,
        conn: ConnHandle,
        resume_token: Option<String>,
    ) -> Result<(RoomHandle, ParticipantId), RoomError> {
        // A room that stops between lookup and delivery is reopened once.
        for _ in 0..2 {
            let handle = self.open(code).await?;
            let (reply, answer) = oneshot::channel();
            let cmd = RoomCommand::Join {
                identity: identity.clone(),
                conn: conn.clone(),
                resume_token: resume_token.clone(),
                reply,
            };
            if !handle.send(cmd).await {
                continue;
            }
            if let Ok(result) = answer.await {
                return result.map(|id| (handle, id));
            }
        }
        Err(RoomError::Refused(ErrorBody::new(
            ErrorCode::Unavailable,
            "the meeting's room is restarting; try again",
        )))
    }

    /// Ends a meeting through its live room, on this node or another, so everyone in it is
    /// told. Returns `None` when no room is live for `code`.
    pub async fn end_live(&self, code: &MeetingCode) -> Option<Result<Meeting, RoomError>> {
        if let Some(ended) = self.end_here(code).await {
            return Some(ended);
        }
        match self.ctx.cluster.holder(code).await {
            Ok(Some(node)) if node != self.ctx.cluster.node_id() => {
                self.remote.end(&node, code).await
            }
            Ok(_) => None,
            Err(e) => Some(Err(RoomError::Refused(ErrorBody::new(
                ErrorCode::Unavailable,
                format!("cannot tell where the meeting runs: {e}"),
            )))),
        }
    }

    /// [`Self::end_live`] for a room on this node.
    async fn end_here(&self, code: &MeetingCode) -> Option<Result<Meeting, RoomError>> {
        let handle = self.lookup(code)?;
        let (reply, answer) = oneshot::channel();
        if !handle.send(RoomCommand::End { reply }).await {
            return None;
        }
        answer.await.ok()
    }

    /// Tells every room the server is stopping and waits until each has recorded it. Called
    /// once the node is draining, so no room opens meanwhile.
    pub async fn shutdown_all(&self) {
        let rooms: Vec<RoomHandle> = self
            .live
            .lock()
            .map(|l| l.values().cloned().collect())
            .unwrap_or_default();
        // All at once: each may wait on the database.
        futures_util::future::join_all(rooms.into_iter().map(|h| async move {
            let (done, finished) = oneshot::channel();
            if h.send(RoomCommand::Shutdown { done }).await {
                let _ = finished.await;
            }
        }))
        .await;
    }

    /// Stops `code`'s room here, its participants told to reconnect, when another node holds
    /// the meeting now.
    pub async fn lost(&self, code: &MeetingCode) {
        if let Some(h) = self.lookup(code) {
            h.send(RoomCommand::Lost).await;
        }
    }
}

fn gauge(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
