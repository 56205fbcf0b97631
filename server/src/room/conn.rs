//! A room's view of one client connection: a bounded queue of outgoing text and a way to
//! close it. The room never blocks on a client: when the queue is full the client is too slow
//! and is disconnected, never the room.

use crate::metrics::Metrics;
use parlor_protocol::signal::ServerMessage;
use parlor_protocol::ErrorCode;
use std::sync::{Arc, OnceLock};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What the writer half of a connection sends.
#[derive(Debug)]
pub enum Outbound {
    Text(Arc<str>),
    Ping,
}

/// WebSocket close codes Parlor uses.
pub mod close_code {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
    pub const RESTARTING: u16 = 1012;
    /// The participant resumed on another connection.
    pub const REPLACED: u16 = 4000;
    /// The host removed the participant.
    pub const REMOVED: u16 = 4001;
    /// The client did not read its messages fast enough.
    pub const SLOW: u16 = 4002;
}

/// Asks a connection to close, once, with a code and reason for the close frame.
#[derive(Clone, Debug, Default)]
pub struct CloseSignal {
    token: CancellationToken,
    reason: Arc<OnceLock<(u16, String)>>,
}

impl CloseSignal {
    pub fn close(&self, code: u16, reason: &str) {
        let _ = self.reason.set((code, reason.to_owned()));
        self.token.cancel();
    }

    pub fn is_closed(&self) -> bool {
        self.token.is_cancelled()
    }

    pub async fn closed(&self) {
        self.token.cancelled().await;
    }

    pub fn reason(&self) -> (u16, String) {
        self.reason
            .get()
            .cloned()
            .unwrap_or((close_code::NORMAL, String::new()))
    }
}

#[derive(Clone, Debug)]
pub struct ConnHandle {
    /// Distinguishes a participant's connections, so news from a connection it has already
    /// replaced (by resuming) is ignored.
    pub id: u64,
    pub tx: mpsc::Sender<Outbound>,
    pub close: CloseSignal,
}

impl ConnHandle {
    /// Queues an already-encoded message; a full queue closes the connection as too slow.
    pub fn send_text(&self, text: Arc<str>, metrics: &Metrics) -> bool {
        if self.close.is_closed() {
            return false;
        }
        match self.tx.try_send(Outbound::Text(text)) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                metrics.error(ErrorCode::SlowConsumer);
                tracing::warn!(
                    conn = self.id,
                    "client too slow to read its messages; disconnecting"
                );
                self.close
                    .close(close_code::SLOW, "too slow: outbound queue full");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    pub fn send(&self, msg: &ServerMessage, metrics: &Metrics) -> bool {
        let sent = self.send_text(msg.to_json().into(), metrics);
        if sent {
            metrics
                .messages_out
                .with_label_values(&[msg.type_name()])
                .inc();
            if let ServerMessage::Error(e) = msg {
                metrics.error(e.code);
            }
        }
        sent
    }
}
