//! One live meeting: its participants, chat, host controls and lifecycle, run by one task that
//! owns all of it. Commands arrive on a channel and are handled one at a time, so the room
//! needs no locks and every participant sees events in the same order.
//!
//! Lifecycle (seed 003): the meeting turns `active` on its first join. A participant whose
//! connection drops is paused for the grace period (others see `peer_reconnecting`) and either
//! resumes with its resume token (`peer_joined` again) or times out (`peer_left`). The meeting
//! ends when the host ends it, or when it has been empty for the grace period.

mod media;

pub(super) use media::Media;

use super::conn::{close_code, ConnHandle};
use super::{RoomContext, RoomError};
use crate::auth::Identity;
use crate::cluster::Presence;
use crate::sfu::SfuCommand;
use crate::util::{new_id, now_ms, random_token};
use parlor_protocol::api::{EndReason, Meeting, MeetingStatus};
use parlor_protocol::signal::{
    ChatMessage, ClientMessage, Destination, LeaveReason, PeerInfo, Role, ServerMessage,
};
use parlor_protocol::{ErrorBody, ErrorCode, ParticipantId, UserId};
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

/// Longest chat message, in characters.
const MAX_CHAT_CHARS: usize = 4000;
/// How soon to try again to end an empty meeting when the database refused.
const END_RETRY: Duration = Duration::from_secs(5);

pub enum RoomCommand {
    Join {
        identity: Identity,
        conn: ConnHandle,
        resume_token: Option<String>,
        reply: oneshot::Sender<Result<ParticipantId, RoomError>>,
    },
    /// A room-scoped message from a joined participant's connection.
    Message {
        from: ParticipantId,
        conn_id: u64,
        msg: ClientMessage,
    },
    Disconnected {
        from: ParticipantId,
        conn_id: u64,
    },
    /// End the meeting on behalf of its host (the REST API's `end`).
    End {
        reply: oneshot::Sender<Result<Meeting, RoomError>>,
    },
    /// The server is stopping: record everyone's leaving, let go of the meeting, tell
    /// everyone to reconnect, stop.
    Shutdown {
        done: oneshot::Sender<()>,
    },
    /// Another node holds the meeting now (this one was cut off from the cluster long enough
    /// to be counted gone): tell everyone to reconnect, which takes them there, and stop.
    /// Their stays are the other room's to record.
    Lost,
}

struct Participant {
    id: ParticipantId,
    identity: Identity,
    role: Role,
    mic: bool,
    camera: bool,
    /// `None` while paused: the connection dropped and the participant may still resume.
    conn: Option<ConnHandle>,
    paused_until: Option<Instant>,
    resume_token: String,
}

/// What storage keeps of a resume token: its SHA-256, in hex.
fn resume_hash(token: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Participant {
    fn info(&self) -> PeerInfo {
        PeerInfo {
            peer_id: self.id.clone(),
            display_name: self.identity.display_name.clone(),
            role: self.role,
            mic: self.mic,
            camera: self.camera,
            reconnecting: self.conn.is_none(),
        }
    }

    fn joined_event(&self) -> ServerMessage {
        ServerMessage::PeerJoined {
            peer_id: self.id.clone(),
            display_name: self.identity.display_name.clone(),
            role: self.role,
            mic: self.mic,
            camera: self.camera,
        }
    }
}

pub(super) struct Room {
    ctx: Arc<RoomContext>,
    meeting_id: String,
    meeting: Meeting,
    participants: Vec<Participant>,
    chat: VecDeque<ChatMessage>,
    chat_seq: i64,
    /// Users the host removed; they may not come back to this meeting.
    removed: HashSet<(bool, UserId)>,
    /// When an empty meeting ends unless someone joins.
    empty_until: Option<Instant>,
    finished: bool,
    /// The room's SFU line; `None` for peer-to-peer meetings.
    media: Option<media::Media>,
    /// Who is in the room, for anyone who asks (and, in a cluster, for Redis).
    present: watch::Sender<Presence>,
}

impl Room {
    pub(super) fn new(
        ctx: Arc<RoomContext>,
        meeting_id: String,
        meeting: Meeting,
        chat: Vec<ChatMessage>,
        chat_seq: i64,
        media: Option<media::Media>,
        present: watch::Sender<Presence>,
    ) -> Self {
        // A meeting under way whose room opens again (its node was lost, or the server
        // restarted) ends unless someone is back within the grace, like any emptied room.
        let empty_until =
            (meeting.status == MeetingStatus::Active).then(|| Instant::now() + ctx.reconnect_grace);
        Self {
            ctx,
            meeting_id,
            meeting,
            participants: Vec::new(),
            chat: chat.into(),
            chat_seq,
            removed: HashSet::new(),
            empty_until,
            finished: false,
            media,
            present,
        }
    }

    /// Updates who is in the room, when that changed.
    fn publish_presence(&self) {
        self.present.send_if_modified(|present| {
            let mut now = Presence::default();
            for p in &self.participants {
                let list = if p.conn.is_some() {
                    &mut now.connected
                } else {
                    &mut now.reconnecting
                };
                list.push(p.id.clone());
            }
            let changed = *present != now;
            *present = now;
            changed
        });
    }

    /// Runs the room until it ends or the server stops. A panic while handling one command
    /// is caught and logged; the room and its other participants go on.
    pub(super) async fn run(mut self, mut rx: mpsc::Receiver<RoomCommand>) {
        use futures_util::FutureExt;
        self.close_lost_stays().await;
        while !self.finished {
            let deadline = self.next_deadline();
            tokio::select! {
                cmd = rx.recv() => {
                    let Some(cmd) = cmd else { break };
                    let handled = std::panic::AssertUnwindSafe(self.handle(cmd)).catch_unwind().await;
                    if handled.is_err() {
                        self.ctx.metrics.error(ErrorCode::Internal);
                        tracing::error!(room = %self.meeting.code, "room command panicked; room continues");
                    }
                }
                () = sleep_until_opt(deadline), if deadline.is_some() => self.on_timer().await,
                Some(event) = media::next_event(&mut self.media) => self.on_media_event(event),
            }
            self.publish_presence();
        }
        self.publish_presence();
        // Commands that raced with the end get a clear answer instead of silence.
        rx.close();
        while let Some(cmd) = rx.recv().await {
            match cmd {
                RoomCommand::Join { reply, .. } => {
                    let _ = reply.send(Err(self.gone()));
                }
                RoomCommand::End { reply } => {
                    let _ = reply.send(Err(self.gone()));
                }
                RoomCommand::Shutdown { done } => {
                    let _ = done.send(());
                }
                RoomCommand::Message { .. }
                | RoomCommand::Disconnected { .. }
                | RoomCommand::Lost => {}
            }
        }
    }

    /// Before anyone joins: a stay of this meeting still open was left by its lost room,
    /// since only one room runs a meeting at a time. It is closed, and may be taken up
    /// within the grace by whoever holds its resume token.
    async fn close_lost_stays(&self) {
        if self.meeting.status != MeetingStatus::Active {
            return;
        }
        match self
            .ctx
            .store
            .close_open_stays(Some(&self.meeting_id), now_ms())
            .await
        {
            Ok(0) => {}
            Ok(closed) => {
                tracing::info!(room = %self.meeting.code, closed, "closed the stays of the meeting's lost room")
            }
            Err(e) => {
                tracing::warn!(room = %self.meeting.code, error = %e, "could not close the stays of the meeting's lost room")
            }
        }
    }

    fn gone(&self) -> RoomError {
        if self.meeting.status == MeetingStatus::Ended {
            RoomError::Ended(self.meeting.clone())
        } else {
            RoomError::Refused(ErrorBody::new(
                ErrorCode::Unavailable,
                "the meeting's room is closing; try again",
            ))
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.participants
            .iter()
            .filter_map(|p| p.paused_until)
            .chain(self.empty_until)
            .min()
    }

    async fn handle(&mut self, cmd: RoomCommand) {
        match cmd {
            RoomCommand::Join {
                identity,
                conn,
                resume_token,
                reply,
            } => {
                let result = self.join(identity, conn, resume_token).await;
                let _ = reply.send(result);
            }
            RoomCommand::Message { from, conn_id, msg } => {
                let Some(idx) = self.index_of_conn(&from, conn_id) else {
                    return;
                };
                let request_id = msg.request_id().map(str::to_owned);
                if let Err(e) = self.on_message(idx, msg).await {
                    if let Some(conn) = self.participants.get(idx).and_then(|p| p.conn.as_ref()) {
                        conn.send(
                            &ServerMessage::Error(e.with_request_id(request_id)),
                            &self.ctx.metrics,
                        );
                    }
                }
            }
            RoomCommand::Disconnected { from, conn_id } => {
                if let Some(idx) = self.index_of_conn(&from, conn_id) {
                    self.pause(idx);
                }
            }
            RoomCommand::End { reply } => {
                let result = self
                    .end(EndReason::HostEnded)
                    .await
                    .map(|()| self.meeting.clone())
                    .map_err(RoomError::Refused);
                let _ = reply.send(result);
            }
            RoomCommand::Shutdown { done } => {
                self.shutdown(true).await;
                let _ = done.send(());
            }
            RoomCommand::Lost => {
                tracing::warn!(room = %self.meeting.code, "another node holds this meeting now; its participants reconnect there");
                self.shutdown(false).await;
            }
        }
    }

    /// The participant `id` if `conn_id` is its current connection.
    fn index_of_conn(&self, id: &ParticipantId, conn_id: u64) -> Option<usize> {
        self.participants
            .iter()
            .position(|p| &p.id == id && p.conn.as_ref().is_some_and(|c| c.id == conn_id))
    }

    fn index_of(&self, id: &ParticipantId) -> Option<usize> {
        self.participants.iter().position(|p| &p.id == id)
    }

    // ---- sending ----

    fn send_to(&self, idx: usize, msg: &ServerMessage) {
        if let Some(conn) = self.participants.get(idx).and_then(|p| p.conn.as_ref()) {
            conn.send(msg, &self.ctx.metrics);
        }
    }

    /// Sends `msg` to every connected participant but `except`, encoding it once.
    fn broadcast(&self, msg: &ServerMessage, except: Option<&ParticipantId>) {
        let text: Arc<str> = msg.to_json().into();
        for p in &self.participants {
            if Some(&p.id) == except {
                continue;
            }
            if let Some(conn) = &p.conn {
                if conn.send_text(text.clone(), &self.ctx.metrics) {
                    self.ctx
                        .metrics
                        .messages_out
                        .with_label_values(&[msg.type_name()])
                        .inc();
                }
            }
        }
    }

    // ---- joining ----

    async fn join(
        &mut self,
        identity: Identity,
        conn: ConnHandle,
        resume_token: Option<String>,
    ) -> Result<ParticipantId, RoomError> {
        if self.meeting.status == MeetingStatus::Ended {
            return Err(RoomError::Ended(self.meeting.clone()));
        }
        if self
            .removed
            .contains(&(identity.guest, identity.user_id.clone()))
        {
            return Err(RoomError::Refused(ErrorBody::new(
                ErrorCode::Forbidden,
                "the host removed you from this meeting",
            )));
        }
        if let Some(token) = &resume_token {
            let found = self.participants.iter().position(|p| {
                p.resume_token == *token
                    && p.identity.user_id == identity.user_id
                    && p.identity.guest == identity.guest
            });
            if let Some(idx) = found {
                return Ok(self.resume(idx, conn));
            }
        }
        if self.participants.len() >= self.ctx.max_participants {
            return Err(RoomError::Refused(ErrorBody::new(
                ErrorCode::RoomFull,
                format!(
                    "this meeting is full ({} participants)",
                    self.ctx.max_participants
                ),
            )));
        }

        let now = now_ms();
        // A stay whose room was lost (its node stopped or died, the server restarted) is taken
        // up again by its token: same participant, told it resumed.
        if let Some(token) = resume_token {
            let grace = i64::try_from(self.ctx.reconnect_grace.as_millis()).unwrap_or(i64::MAX);
            let stay = self
                .ctx
                .store
                .take_up_stay(
                    &self.meeting_id,
                    &resume_hash(&token),
                    &identity.user_id,
                    identity.guest,
                    now.saturating_sub(grace),
                )
                .await
                .map_err(|e| unavailable(&e))?;
            if let Some(stay) = stay {
                tracing::info!(room = %self.meeting.code, participant = %stay.id, "taken up again after its room was lost");
                return Ok(self.admit(identity, conn, stay.id, token, true));
            }
        }

        let id = ParticipantId(new_id("p"));
        let token = random_token(32);
        self.ctx
            .store
            .insert_participant(crate::store::NewParticipant {
                id: &id,
                meeting_id: &self.meeting_id,
                user_id: &identity.user_id,
                display_name: &identity.display_name,
                guest: identity.guest,
                joined_at: now,
                resume_hash: &resume_hash(&token),
            })
            .await
            .map_err(|e| unavailable(&e))?;
        if self.meeting.status == MeetingStatus::Created {
            self.ctx
                .store
                .activate_meeting(&self.meeting_id, now)
                .await
                .map_err(|e| unavailable(&e))?;
            self.meeting.status = MeetingStatus::Active;
            self.meeting.started_at = Some(now);
        }
        Ok(self.admit(identity, conn, id, token, false))
    }

    /// Puts a participant (new, or taken up again) in the room and tells everyone.
    fn admit(
        &mut self,
        identity: Identity,
        conn: ConnHandle,
        id: ParticipantId,
        resume_token: String,
        resumed: bool,
    ) -> ParticipantId {
        let role = if !identity.guest && identity.user_id == self.meeting.host_id {
            Role::Host
        } else {
            Role::Participant
        };
        tracing::info!(room = %self.meeting.code, participant = %id, ?role, "joined");
        self.participants.push(Participant {
            id: id.clone(),
            identity,
            role,
            mic: true,
            camera: true,
            conn: Some(conn),
            paused_until: None,
            resume_token,
        });
        self.ctx.metrics.participants.inc();
        self.empty_until = None;
        self.media_join(&id);
        let idx = self.participants.len() - 1;
        self.send_joined(idx, resumed);
        self.broadcast(&self.participants[idx].joined_event(), Some(&id));
        id
    }

    fn resume(&mut self, idx: usize, conn: ConnHandle) -> ParticipantId {
        let p = &mut self.participants[idx];
        if let Some(old) = p.conn.replace(conn) {
            old.close
                .close(close_code::REPLACED, "resumed on another connection");
        }
        p.paused_until = None;
        let id = p.id.clone();
        tracing::info!(room = %self.meeting.code, participant = %id, "resumed");
        // Media left with the dropped connection; the client negotiates it afresh.
        self.media_leave(&id);
        self.media_join(&id);
        self.send_joined(idx, true);
        self.broadcast(&self.participants[idx].joined_event(), Some(&id));
        id
    }

    fn send_joined(&self, idx: usize, resumed: bool) {
        let me = &self.participants[idx];
        let msg = ServerMessage::Joined {
            participant_id: me.id.clone(),
            role: me.role,
            peers: self
                .participants
                .iter()
                .filter(|p| p.id != me.id)
                .map(Participant::info)
                .collect(),
            chat: self.chat.iter().cloned().collect(),
            tracks: self.media_tracks(),
            meeting: self.meeting.clone(),
            resume_token: me.resume_token.clone(),
            resumed,
        };
        self.send_to(idx, &msg);
    }

    // ---- messages from participants ----

    async fn on_message(&mut self, idx: usize, msg: ClientMessage) -> Result<(), ErrorBody> {
        let from = self.participants[idx].id.clone();
        match msg {
            ClientMessage::Leave { .. } => {
                self.send_to(
                    idx,
                    &ServerMessage::Left {
                        room_id: self.meeting.code.clone(),
                    },
                );
                self.remove(idx, LeaveReason::Left).await;
                Ok(())
            }
            ClientMessage::Offer {
                peer_id,
                target,
                transport,
                sdp,
                ..
            } => self.route_sdp(
                from,
                true,
                Destination::of(peer_id.as_ref(), target, transport)?,
                sdp,
            ),
            ClientMessage::Answer {
                peer_id,
                target,
                transport,
                sdp,
                ..
            } => self.route_sdp(
                from,
                false,
                Destination::of(peer_id.as_ref(), target, transport)?,
                sdp,
            ),
            ClientMessage::IceCandidate {
                peer_id,
                target,
                transport,
                candidate,
                ..
            } => match Destination::of(peer_id.as_ref(), target, transport)? {
                Destination::Peer(to) => self.relay(
                    &to,
                    ServerMessage::IceCandidate {
                        peer_id: from,
                        candidate,
                    },
                ),
                Destination::Sfu(transport) => self.to_sfu(SfuCommand::Candidate {
                    peer: from,
                    transport,
                    candidate: candidate.candidate,
                }),
            },
            ClientMessage::Subscribe { track_id, .. } => self.to_sfu(SfuCommand::Subscribe {
                peer: from,
                track: track_id,
                on: true,
            }),
            ClientMessage::Unsubscribe { track_id, .. } => self.to_sfu(SfuCommand::Subscribe {
                peer: from,
                track: track_id,
                on: false,
            }),
            ClientMessage::Chat { text, .. } => self.chat(idx, text).await,
            ClientMessage::MediaState { mic, camera, .. } => {
                let p = &mut self.participants[idx];
                p.mic = mic;
                p.camera = camera;
                self.broadcast(
                    &ServerMessage::MediaState {
                        peer_id: from.clone(),
                        mic,
                        camera,
                    },
                    Some(&from),
                );
                Ok(())
            }
            ClientMessage::MuteParticipant { peer_id, .. } => {
                self.require_host(idx)?;
                let target = self.peer(&peer_id)?;
                self.participants[target].mic = false;
                self.broadcast(&ServerMessage::Muted { peer_id, by: from }, None);
                Ok(())
            }
            ClientMessage::RemoveParticipant { peer_id, .. } => {
                self.require_host(idx)?;
                let target = self.peer(&peer_id)?;
                if target == idx {
                    return Err(ErrorBody::new(
                        ErrorCode::InvalidMessage,
                        "use leave or end_meeting to go yourself",
                    ));
                }
                self.send_to(target, &ServerMessage::Removed { by: from });
                let p = &self.participants[target];
                if let Some(conn) = &p.conn {
                    conn.close.close(close_code::REMOVED, "removed by the host");
                }
                self.removed
                    .insert((p.identity.guest, p.identity.user_id.clone()));
                self.remove(target, LeaveReason::Removed).await;
                Ok(())
            }
            ClientMessage::EndMeeting { .. } => {
                self.require_host(idx)?;
                self.end(EndReason::HostEnded).await
            }
            // The session answers these itself; they never reach a room.
            ClientMessage::Join { .. } | ClientMessage::Ping { .. } => Ok(()),
        }
    }

    fn require_host(&self, idx: usize) -> Result<(), ErrorBody> {
        if self.participants[idx].role == Role::Host {
            Ok(())
        } else {
            Err(ErrorBody::new(
                ErrorCode::Forbidden,
                "only the meeting's host can do that",
            ))
        }
    }

    fn peer(&self, id: &ParticipantId) -> Result<usize, ErrorBody> {
        self.index_of(id).ok_or_else(|| {
            ErrorBody::new(
                ErrorCode::PeerNotFound,
                format!("no participant {id} in this meeting"),
            )
        })
    }

    /// An offer or answer goes to the peer it names (with `peerId` rewritten to the sender)
    /// or to the SFU.
    fn route_sdp(
        &self,
        from: ParticipantId,
        offer: bool,
        to: Destination,
        sdp: String,
    ) -> Result<(), ErrorBody> {
        match to {
            Destination::Peer(to) => {
                let (peer_id, target, transport) = (Some(from), None, None);
                let msg = if offer {
                    ServerMessage::Offer {
                        peer_id,
                        target,
                        transport,
                        sdp,
                    }
                } else {
                    ServerMessage::Answer {
                        peer_id,
                        target,
                        transport,
                        sdp,
                    }
                };
                self.relay(&to, msg)
            }
            Destination::Sfu(transport) => self.to_sfu(if offer {
                SfuCommand::Offer {
                    peer: from,
                    transport,
                    sdp,
                }
            } else {
                SfuCommand::Answer {
                    peer: from,
                    transport,
                    sdp,
                }
            }),
        }
    }

    /// Delivers a P2P negotiation message to a connected peer of this room only.
    fn relay(&self, to: &ParticipantId, msg: ServerMessage) -> Result<(), ErrorBody> {
        let idx = self.peer(to)?;
        if self.participants[idx].conn.is_none() {
            return Err(ErrorBody::new(
                ErrorCode::PeerNotFound,
                format!("participant {to} is reconnecting; try again when it is back"),
            ));
        }
        self.send_to(idx, &msg);
        Ok(())
    }

    async fn chat(&mut self, idx: usize, text: String) -> Result<(), ErrorBody> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ErrorBody::new(
                ErrorCode::InvalidMessage,
                "chat text is empty",
            ));
        }
        if text.chars().count() > MAX_CHAT_CHARS {
            return Err(ErrorBody::new(
                ErrorCode::InvalidMessage,
                format!("chat text is longer than {MAX_CHAT_CHARS} characters"),
            ));
        }
        let p = &self.participants[idx];
        let msg = ChatMessage {
            id: new_id("c"),
            peer_id: p.id.clone(),
            display_name: p.identity.display_name.clone(),
            text: text.to_owned(),
            sent_at: now_ms(),
        };
        // Stored before it is shown, so nobody sees a message that a restart would lose.
        self.ctx
            .store
            .insert_chat(&self.meeting_id, &msg, self.chat_seq + 1)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "chat not stored");
                ErrorBody::new(
                    ErrorCode::Unavailable,
                    "your message could not be saved; please send it again",
                )
            })?;
        self.chat_seq += 1;
        self.chat.push_back(msg.clone());
        while self.chat.len() > self.ctx.chat_history {
            self.chat.pop_front();
        }
        self.broadcast(&ServerMessage::Chat(msg), None);
        Ok(())
    }

    // ---- leaving ----

    /// Takes a participant out for good: records it, tells the others, and starts the empty
    /// room's countdown if it was the last.
    async fn remove(&mut self, idx: usize, reason: LeaveReason) {
        let p = self.participants.remove(idx);
        self.ctx.metrics.participants.dec();
        self.media_leave(&p.id);
        if let Err(e) = self
            .ctx
            .store
            .participant_left(&p.id, now_ms(), reason)
            .await
        {
            // The stay stays open in the database; start-up closes such rows.
            tracing::warn!(error = %e, participant = %p.id, "could not record leaving");
        }
        tracing::info!(room = %self.meeting.code, participant = %p.id, reason = reason.as_str(), "left");
        self.broadcast(
            &ServerMessage::PeerLeft {
                peer_id: p.id,
                reason,
            },
            None,
        );
        if self.participants.is_empty() {
            self.empty_until = Some(Instant::now() + self.ctx.reconnect_grace);
        }
    }

    fn pause(&mut self, idx: usize) {
        let until = Instant::now() + self.ctx.reconnect_grace;
        let p = &mut self.participants[idx];
        p.conn = None;
        p.paused_until = Some(until);
        let id = p.id.clone();
        tracing::info!(room = %self.meeting.code, participant = %id, "connection lost; waiting for resume");
        self.media_leave(&id);
        self.broadcast(&ServerMessage::PeerReconnecting { peer_id: id }, None);
    }

    async fn on_timer(&mut self) {
        let now = Instant::now();
        while let Some(idx) = self
            .participants
            .iter()
            .position(|p| p.paused_until.is_some_and(|t| t <= now))
        {
            self.remove(idx, LeaveReason::TimedOut).await;
            if self.participants.is_empty() {
                // The last one already had its grace period: the meeting ends now.
                self.empty_until = Some(now);
            }
        }
        if self.participants.is_empty() && self.empty_until.is_some_and(|t| t <= now) {
            if let Err(e) = self.end(EndReason::AllLeft).await {
                tracing::warn!(room = %self.meeting.code, error = %e, "could not end empty meeting; retrying");
                self.empty_until = Some(now + END_RETRY);
            }
        }
    }

    /// Ends the meeting: recorded first, then everyone told.
    async fn end(&mut self, reason: EndReason) -> Result<(), ErrorBody> {
        let now = now_ms();
        self.ctx
            .store
            .end_meeting(&self.meeting_id, reason, now)
            .await
            .map_err(|e| unavailable(&e).into_body())?;
        self.meeting.status = MeetingStatus::Ended;
        self.meeting.end_reason = Some(reason);
        self.meeting.ended_at = Some(now);
        tracing::info!(room = %self.meeting.code, reason = reason.as_str(), "meeting ended");
        self.broadcast(
            &ServerMessage::MeetingEnded {
                room_id: self.meeting.code.clone(),
                reason,
                ended_at: now,
            },
            None,
        );
        self.close();
        Ok(())
    }

    /// Tells everyone to reconnect and stops; `stopping` (this node is) first records their
    /// leaving and lets go of the meeting, so that, told, they find it placed anew, and a stay
    /// taken up there is not closed after the fact.
    async fn shutdown(&mut self, stopping: bool) {
        if stopping {
            // This room's own stays only: were the meeting held elsewhere meanwhile, the
            // stays there are that room's.
            let ids: Vec<ParticipantId> = self.participants.iter().map(|p| p.id.clone()).collect();
            let closed = self
                .ctx
                .store
                .participants_left(&ids, now_ms(), LeaveReason::ServerShutdown)
                .await;
            if let Err(e) = closed {
                tracing::warn!(room = %self.meeting.code, error = %e, "could not record leaving at shutdown");
            }
            self.ctx.cluster.release(&self.meeting.code).await;
        }
        let msg = ServerMessage::ServerShutdown {
            reconnect_after_ms: 1000,
        };
        for conn in self.participants.iter().filter_map(|p| p.conn.as_ref()) {
            conn.send(&msg, &self.ctx.metrics);
            conn.close
                .close(close_code::RESTARTING, "server shutting down");
        }
        self.close();
    }
}

impl Room {
    /// Empties the room and stops it.
    fn close(&mut self) {
        self.media_close();
        self.ctx
            .metrics
            .participants
            .sub(i64::try_from(self.participants.len()).unwrap_or(0));
        self.participants.clear();
        self.finished = true;
    }
}

fn unavailable(e: &crate::store::StoreError) -> RoomError {
    tracing::warn!(error = %e, "storage failure in room");
    RoomError::Refused(ErrorBody::new(
        ErrorCode::Unavailable,
        "the meeting's storage is unavailable; try again shortly",
    ))
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
