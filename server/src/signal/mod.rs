//! One signaling WebSocket session: authenticate before the upgrade, then read frames, guard
//! them (size, rate), parse them into protocol messages and hand them to the room.
//!
//! Each session is two tasks: this reader, and a writer that drains the session's bounded
//! outbound queue into the socket so that a client that does not read never blocks anyone.

pub mod ratelimit;

use crate::api::error::ApiError;
use crate::auth::Identity;
use crate::room::conn::{close_code, CloseSignal, ConnHandle, Outbound};
use crate::room::remote::RoomLink;
use crate::room::{RoomCommand, RoomError};
use crate::state::AppState;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures_util::stream::{SplitSink, StreamExt};
use futures_util::SinkExt;
use parlor_protocol::signal::{parse_client, ClientMessage, ServerMessage};
use parlor_protocol::{ErrorBody, ErrorCode, ParticipantId};
use ratelimit::{RateLimiter, Verdict};
use serde::Deserialize;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long a closing server waits for the client's half of the close handshake.
const CLOSE_LINGER: Duration = Duration::from_secs(1);

#[derive(Deserialize)]
pub struct SignalQuery {
    token: Option<String>,
}

/// `GET /ws/signal?token=…` (or `Authorization: Bearer …`). The token is checked before the
/// upgrade: a missing, forged or expired one gets a 401 and no WebSocket.
pub async fn upgrade(
    State(state): State<AppState>,
    Query(query): Query<SignalQuery>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let token = query.token.or_else(|| crate::api::auth::bearer(&headers));
    let identity = match token {
        None => {
            return ApiError::unauthorized("a token is required (?token= or Authorization: Bearer)")
                .into_response()
        }
        Some(t) => match state.tokens.verify(&t) {
            Ok(identity) => identity,
            Err(e) => {
                return ApiError::new(
                    axum::http::StatusCode::UNAUTHORIZED,
                    e.code(),
                    e.to_string(),
                )
                .into_response()
            }
        },
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => {
            return ApiError::new(
                rejection.status(),
                ErrorCode::InvalidMessage,
                format!("this endpoint speaks WebSocket: {}", rejection.body_text()),
            )
            .into_response()
        }
    };
    if state.shutdown.is_cancelled() {
        return ApiError::unavailable("the server is shutting down").into_response();
    }
    let tracker = state.tracker.clone();
    ws.max_message_size(crate::config::MAX_FRAME_BYTES)
        .max_frame_size(crate::config::MAX_FRAME_BYTES)
        .on_upgrade(move |socket| {
            let (session, outbound) = Session::new(state, identity);
            tracker.track_future(session.run(socket, outbound))
        })
}

struct Joined {
    room: RoomLink,
    participant: ParticipantId,
}

struct Session {
    state: AppState,
    identity: Identity,
    conn: ConnHandle,
    joined: Option<Joined>,
    limiter: RateLimiter,
    last_heard: Instant,
}

impl Session {
    fn new(state: AppState, identity: Identity) -> (Self, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(state.config.outbound_queue);
        let conn = ConnHandle {
            id: state.next_conn_id(),
            tx,
            close: CloseSignal::default(),
        };
        let limiter = RateLimiter::new(
            state.config.rate_limit_per_sec,
            state.config.rate_limit_burst,
            Instant::now(),
        );
        (
            Self {
                state,
                identity,
                conn,
                joined: None,
                limiter,
                last_heard: Instant::now(),
            },
            rx,
        )
    }
}

impl Session {
    async fn run(mut self, socket: WebSocket, rx: mpsc::Receiver<Outbound>) {
        let metrics = self.state.metrics.clone();
        metrics.connections.inc();
        tracing::debug!(conn = self.conn.id, user = %self.identity.user_id, "signaling connected");
        let (sink, mut stream) = socket.split();
        let writer = tokio::spawn(write_loop(sink, rx, self.conn.close.clone()));

        let interval = self.state.config.heartbeat_interval.0;
        let mut heartbeat =
            tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        let shutdown = self.state.shutdown.clone();
        loop {
            tokio::select! {
                biased;
                () = self.conn.close.closed() => break,
                () = shutdown.cancelled() => {
                    self.send(&ServerMessage::ServerShutdown { reconnect_after_ms: 1000 });
                    self.conn.close.close(close_code::RESTARTING, "server shutting down");
                    break;
                }
                frame = stream.next() => {
                    match frame {
                        Some(Ok(frame)) => {
                            self.last_heard = Instant::now();
                            if !self.on_frame(frame).await {
                                break;
                            }
                        }
                        Some(Err(e)) => {
                            tracing::debug!(conn = self.conn.id, error = %e, "websocket read failed");
                            if is_too_big(&e) {
                                metrics.error(ErrorCode::MessageTooLarge);
                                self.conn.close.close(close_code::TOO_BIG, "message too large");
                            }
                            break;
                        }
                        None => break,
                    }
                }
                _ = heartbeat.tick() => {
                    if self.last_heard.elapsed() > interval * 3 {
                        tracing::info!(conn = self.conn.id, "no sign of life from client; dropping");
                        self.conn.close.close(close_code::GOING_AWAY, "heartbeat timeout");
                        break;
                    }
                    let _ = self.conn.tx.try_send(Outbound::Ping);
                }
            }
        }

        if let Some(joined) = self.joined.take() {
            joined
                .room
                .send(RoomCommand::Disconnected {
                    from: joined.participant,
                    conn_id: self.conn.id,
                })
                .await;
        }
        let client_gone = !self.conn.close.is_closed();
        if client_gone {
            self.conn.close.close(close_code::NORMAL, "");
        } else {
            // The server is closing: keep reading (and dropping) what the client still sends
            // until it answers the close frame, so the close frame is not lost to a reset.
            let _ = tokio::time::timeout(CLOSE_LINGER, async {
                while let Some(Ok(frame)) = stream.next().await {
                    if matches!(frame, Message::Close(_)) {
                        break;
                    }
                }
            })
            .await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
        metrics.connections.dec();
        tracing::debug!(conn = self.conn.id, "signaling disconnected");
    }

    fn send(&self, msg: &ServerMessage) {
        self.conn.send(msg, &self.state.metrics);
    }

    fn send_error(&self, e: ErrorBody) {
        self.send(&ServerMessage::Error(e));
    }

    /// Handles one frame; false ends the session.
    async fn on_frame(&mut self, frame: Message) -> bool {
        let text = match frame {
            Message::Text(t) => Some(t),
            Message::Binary(_) => None,
            Message::Close(_) => return false,
            Message::Ping(_) | Message::Pong(_) => return true,
        };
        if self.limiter_refused() {
            return !self.conn.close.is_closed();
        }
        let Some(text) = text else {
            self.state
                .metrics
                .messages_in
                .with_label_values(&["binary"])
                .inc();
            self.send_error(ErrorBody::new(
                ErrorCode::InvalidMessage,
                "binary frames are not part of the signaling protocol; send JSON text",
            ));
            return true;
        };
        if text.len() > self.state.config.max_message_bytes {
            self.state
                .metrics
                .messages_in
                .with_label_values(&["oversized"])
                .inc();
            self.send_error(ErrorBody::new(
                ErrorCode::MessageTooLarge,
                format!(
                    "message is {} bytes; the limit is {}",
                    text.len(),
                    self.state.config.max_message_bytes
                ),
            ));
            return true;
        }
        match parse_client(text.as_str()) {
            Ok(msg) => {
                self.state
                    .metrics
                    .messages_in
                    .with_label_values(&[msg.type_name()])
                    .inc();
                self.dispatch(msg).await;
            }
            Err(e) => {
                self.state
                    .metrics
                    .messages_in
                    .with_label_values(&["invalid"])
                    .inc();
                self.send_error(e);
            }
        }
        true
    }

    /// Applies the rate limit; true when this message must be dropped.
    fn limiter_refused(&mut self) -> bool {
        match self.limiter.check(Instant::now()) {
            Verdict::Allow => false,
            Verdict::Limited => {
                let wait = self.limiter.retry_after();
                self.send_error(ErrorBody::new(
                    ErrorCode::RateLimited,
                    format!(
                        "too many messages; slow down (retry in {} ms)",
                        wait.as_millis().max(1)
                    ),
                ));
                true
            }
            Verdict::Abuse => {
                tracing::warn!(conn = self.conn.id, user = %self.identity.user_id, "rate limit abuse; disconnecting");
                self.state.metrics.error(ErrorCode::RateLimited);
                self.conn
                    .close
                    .close(close_code::POLICY, "rate limit exceeded");
                true
            }
        }
    }

    async fn dispatch(&mut self, msg: ClientMessage) {
        let request_id = msg.request_id().map(str::to_owned);
        match msg {
            ClientMessage::Ping { .. } => self.send(&ServerMessage::Pong),
            ClientMessage::Join {
                room_id,
                resume_token,
                ..
            } => {
                if self.joined.as_ref().is_some_and(|j| !j.room.is_closed()) {
                    self.send_error(
                        ErrorBody::new(
                            ErrorCode::AlreadyJoined,
                            "leave this meeting before joining another",
                        )
                        .with_request_id(request_id),
                    );
                    return;
                }
                let result = self
                    .state
                    .rooms
                    .join(
                        &room_id,
                        self.identity.clone(),
                        self.conn.clone(),
                        resume_token,
                    )
                    .await;
                match result {
                    Ok((room, participant)) => self.joined = Some(Joined { room, participant }),
                    Err(RoomError::Ended(meeting)) => {
                        self.send_error(
                            ErrorBody::new(ErrorCode::MeetingEnded, "this meeting has ended")
                                .with_request_id(request_id),
                        );
                        self.send(&ServerMessage::MeetingEnded {
                            room_id: meeting.code,
                            reason: meeting
                                .end_reason
                                .unwrap_or(parlor_protocol::api::EndReason::HostEnded),
                            ended_at: meeting.ended_at.unwrap_or_default(),
                        });
                    }
                    Err(RoomError::Refused(e)) => self.send_error(e.with_request_id(request_id)),
                }
            }
            msg => {
                let Some(joined) = self.joined.as_ref() else {
                    self.send_error(
                        ErrorBody::new(ErrorCode::NotJoined, "join a meeting first")
                            .with_request_id(request_id),
                    );
                    return;
                };
                let leaving = matches!(msg, ClientMessage::Leave { .. });
                let delivered = joined
                    .room
                    .send(RoomCommand::Message {
                        from: joined.participant.clone(),
                        conn_id: self.conn.id,
                        msg,
                    })
                    .await;
                if !delivered {
                    self.joined = None;
                    self.send_error(
                        ErrorBody::new(ErrorCode::NotJoined, "that meeting is over; join another")
                            .with_request_id(request_id),
                    );
                } else if leaving {
                    self.joined = None;
                }
            }
        }
    }
}

/// Drains the outbound queue into the socket until the connection is closed, then sends the
/// close frame. Every socket write races the close signal, so a client that stopped reading
/// cannot hold this task.
async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<Outbound>,
    close: CloseSignal,
) {
    loop {
        let next = tokio::select! {
            biased;
            () = close.closed() => break,
            next = rx.recv() => next,
        };
        let frame = match next {
            Some(Outbound::Text(text)) => Message::Text(text.as_ref().into()),
            Some(Outbound::Ping) => Message::Ping(Default::default()),
            None => break,
        };
        tokio::select! {
            biased;
            () = close.closed() => break,
            sent = sink.send(frame) => if sent.is_err() { return },
        }
    }
    // Whatever was queued before the close (a `removed`, a `server_shutdown`) goes out first.
    let flush = async {
        while let Ok(out) = rx.try_recv() {
            if let Outbound::Text(text) = out {
                if sink
                    .send(Message::Text(text.as_ref().into()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
        let (code, reason) = close.reason();
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
            .await;
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), flush).await;
}

fn is_too_big(e: &axum::Error) -> bool {
    let text = e.to_string();
    text.contains("too long") || text.contains("too big") || text.contains("Space limit")
}
