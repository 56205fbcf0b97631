//! The media plane: Parlor's SFU on str0m. It knows rooms, peers and tracks — never meetings
//! or users.
//!
//! - [`core`]: the sans-I/O engine for the rooms of one worker.
//! - [`worker`]: one thread per worker owning a UDP socket and driving a core.
//! - [`rewrite`], [`speakers`]: per-subscriber RTP rewriting; active-speaker detection.
//!
//! A room is pinned to one worker (the least loaded when it attaches); the signaling layer
//! sends it [`SfuCommand`]s and receives [`SfuEvent`]s on the channel it attached with.

pub mod core;
pub mod rewrite;
mod speakers;
pub mod tcp;
#[cfg(test)]
mod tests;
mod worker;

use parlor_protocol::signal::TransportKind;
use parlor_protocol::{ErrorBody, ParticipantId, TrackId};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Names a room inside the SFU.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomKey(pub String);

pub use parlor_protocol::signal::TrackInfo;

/// What signaling asks of the SFU.
#[derive(Debug)]
pub enum SfuCommand {
    Join {
        room: RoomKey,
        peer: ParticipantId,
    },
    Leave {
        peer: ParticipantId,
    },
    Offer {
        peer: ParticipantId,
        transport: TransportKind,
        sdp: String,
    },
    Answer {
        peer: ParticipantId,
        transport: TransportKind,
        sdp: String,
    },
    Candidate {
        peer: ParticipantId,
        transport: TransportKind,
        candidate: String,
    },
    Subscribe {
        peer: ParticipantId,
        track: TrackId,
        on: bool,
    },
}

/// What the SFU tells signaling.
#[derive(Debug, Clone, PartialEq)]
pub enum SfuEvent {
    /// The answer to a participant's publish offer.
    Answer {
        room: RoomKey,
        peer: ParticipantId,
        sdp: String,
    },
    /// A (re)offer on a participant's subscribe transport.
    Offer {
        room: RoomKey,
        peer: ParticipantId,
        sdp: String,
    },
    TrackPublished {
        room: RoomKey,
        track: TrackInfo,
    },
    TrackUnpublished {
        room: RoomKey,
        track: TrackInfo,
    },
    ActiveSpeakers {
        room: RoomKey,
        peers: Vec<ParticipantId>,
    },
    /// A participant's transport failed or closed; it may publish or be offered again.
    TransportClosed {
        room: RoomKey,
        peer: ParticipantId,
        transport: TransportKind,
        reason: String,
    },
    /// A request of this participant's was refused.
    Error {
        room: RoomKey,
        peer: ParticipantId,
        error: ErrorBody,
    },
    /// The SFU asked a publisher for a keyframe (counted, not forwarded).
    KeyframeRequested {
        track: TrackId,
    },
}

impl SfuEvent {
    pub fn room(&self) -> Option<&RoomKey> {
        match self {
            Self::Answer { room, .. }
            | Self::Offer { room, .. }
            | Self::TrackPublished { room, .. }
            | Self::TrackUnpublished { room, .. }
            | Self::ActiveSpeakers { room, .. }
            | Self::TransportClosed { room, .. }
            | Self::Error { room, .. } => Some(room),
            Self::KeyframeRequested { .. } => None,
        }
    }
}

/// Where the SFU listens and what address it puts in its candidates.
#[derive(Clone, Debug)]
pub struct SfuConfig {
    pub bind: std::net::IpAddr,
    /// First UDP port; worker `i` uses `port + i`. 0 picks free ports.
    pub port: u16,
    /// The address clients reach the media ports at.
    pub public_ip: std::net::IpAddr,
    pub workers: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("media port {port}: {source}")]
pub struct SfuStartError {
    port: u16,
    source: std::io::Error,
}

/// A UDP socket and a TCP listener (for ICE-TCP) on the same port. With port 0 the system
/// picks a free UDP port, whose number may be taken on TCP; a few tries find one free for both.
fn bind_pair(
    ip: std::net::IpAddr,
    port: u16,
) -> std::io::Result<(std::net::UdpSocket, std::net::TcpListener, SocketAddr)> {
    let mut last = None;
    for _ in 0..if port == 0 { 16 } else { 1 } {
        let udp = std::net::UdpSocket::bind((ip, port))?;
        let local = udp.local_addr()?;
        match std::net::TcpListener::bind((ip, local.port())) {
            Ok(tcp) => return Ok((udp, tcp, local)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free media port")))
}

/// The media workers.
pub struct Sfu {
    workers: Vec<worker::WorkerHandle>,
    keyframe_requests: Arc<AtomicUsize>,
}

/// A room's line to its worker; dropping it detaches the room.
pub struct SfuRoom {
    room: RoomKey,
    worker: worker::WorkerHandle,
}

impl SfuRoom {
    pub fn send(&self, cmd: SfuCommand) {
        self.worker.send(worker::WorkerMsg::Command(cmd));
    }
}

impl Drop for SfuRoom {
    fn drop(&mut self) {
        self.worker.send(worker::WorkerMsg::Detach {
            room: self.room.clone(),
        });
    }
}

impl Sfu {
    pub fn start(config: &SfuConfig) -> Result<Self, SfuStartError> {
        let keyframe_requests = Arc::new(AtomicUsize::new(0));
        let mut workers = Vec::new();
        for i in 0..config.workers.max(1) {
            let port = if config.port == 0 {
                0
            } else {
                config
                    .port
                    .saturating_add(u16::try_from(i).unwrap_or(u16::MAX))
            };
            let (socket, tcp, local) =
                bind_pair(config.bind, port).map_err(|source| SfuStartError { port, source })?;
            let candidate = SocketAddr::new(config.public_ip, local.port());
            workers.push(
                worker::spawn(i, socket, tcp, candidate, keyframe_requests.clone())
                    .map_err(|source| SfuStartError { port, source })?,
            );
        }
        Ok(Self {
            workers,
            keyframe_requests,
        })
    }

    /// Pins a room to the least loaded worker; its events arrive on the returned receiver.
    pub fn attach(&self, room: RoomKey) -> (SfuRoom, mpsc::UnboundedReceiver<SfuEvent>) {
        // `start` made at least one worker.
        let idx = (0..self.workers.len())
            .min_by_key(|&i| self.workers[i].rooms())
            .unwrap_or(0);
        let worker = self.workers[idx].clone();
        let (tx, rx) = mpsc::unbounded_channel();
        worker.attach(room.clone(), tx);
        (SfuRoom { room, worker }, rx)
    }

    /// The UDP addresses of the workers, as put in candidates.
    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.workers.iter().map(|w| w.candidate).collect()
    }

    pub fn keyframe_requests(&self) -> usize {
        self.keyframe_requests.load(Ordering::Relaxed)
    }

    pub fn shutdown(&self) {
        for w in &self.workers {
            w.send(worker::WorkerMsg::Stop);
        }
    }
}

impl Drop for Sfu {
    fn drop(&mut self) {
        self.shutdown();
    }
}
