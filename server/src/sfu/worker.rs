//! One media worker: a thread with its own single-threaded runtime, one UDP socket shared by
//! every peer of its rooms, and the [`SfuCore`] those peers live in.

use super::core::SfuCore;
use super::tcp::{self, TcpEvent};
use super::{RoomKey, SfuCommand, SfuEvent};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
use str0m::net::Protocol;
use tokio::sync::mpsc;

pub enum WorkerMsg {
    Attach {
        room: RoomKey,
        events: mpsc::UnboundedSender<SfuEvent>,
    },
    Detach {
        room: RoomKey,
    },
    Command(SfuCommand),
    Stop,
}

#[derive(Clone)]
pub struct WorkerHandle {
    tx: mpsc::UnboundedSender<WorkerMsg>,
    rooms: Arc<AtomicUsize>,
    pub candidate: SocketAddr,
}

impl WorkerHandle {
    pub fn send(&self, msg: WorkerMsg) {
        if let WorkerMsg::Detach { .. } = msg {
            self.rooms.fetch_sub(1, Ordering::Relaxed);
        }
        // A stopped worker drops what it is sent; the server is shutting down then.
        let _ = self.tx.send(msg);
    }

    pub fn attach(&self, room: RoomKey, events: mpsc::UnboundedSender<SfuEvent>) {
        self.rooms.fetch_add(1, Ordering::Relaxed);
        let _ = self.tx.send(WorkerMsg::Attach { room, events });
    }

    pub fn rooms(&self) -> usize {
        self.rooms.load(Ordering::Relaxed)
    }
}

/// Largest datagram read; anything bigger is not WebRTC.
const RECV_BUF: usize = 2048;

pub fn spawn(
    index: usize,
    socket: std::net::UdpSocket,
    tcp: std::net::TcpListener,
    candidate: SocketAddr,
    keyframe_requests: Arc<AtomicUsize>,
) -> std::io::Result<WorkerHandle> {
    socket.set_nonblocking(true)?;
    tcp.set_nonblocking(true)?;
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = WorkerHandle {
        tx,
        rooms: Arc::new(AtomicUsize::new(0)),
        candidate,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name(format!("parlor-media-{index}"))
        .spawn(move || {
            runtime.block_on(async move {
                let sockets = tokio::net::UdpSocket::from_std(socket)
                    .and_then(|u| Ok((u, tokio::net::TcpListener::from_std(tcp)?)));
                match sockets {
                    Ok((udp, tcp)) => run(udp, tcp, candidate, rx, keyframe_requests).await,
                    Err(e) => tracing::error!(error = %e, "media worker cannot use its sockets"),
                }
            });
        })?;
    tracing::info!(worker = index, %candidate, "media worker started");
    Ok(handle)
}

async fn run(
    socket: tokio::net::UdpSocket,
    tcp: tokio::net::TcpListener,
    candidate: SocketAddr,
    mut rx: mpsc::UnboundedReceiver<WorkerMsg>,
    keyframe_requests: Arc<AtomicUsize>,
) {
    let mut core = SfuCore::new(candidate, Instant::now());
    let mut routes: HashMap<RoomKey, mpsc::UnboundedSender<SfuEvent>> = HashMap::new();
    let mut buf = vec![0u8; RECV_BUF];
    let (tcp_tx, mut tcp_rx) = mpsc::unbounded_channel();
    let tcp_task = tokio::spawn(tcp::serve(tcp, tcp_tx));
    let mut tcp_peers: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>> = HashMap::new();
    loop {
        let deadline = core.next_timeout(Instant::now());
        tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok((n, source)) => core.handle_receive(Instant::now(), Protocol::Udp, source, &buf[..n]),
                Err(e) => tracing::debug!(error = %e, "media socket receive failed"),
            },
            msg = rx.recv() => match msg {
                Some(WorkerMsg::Command(cmd)) => core.handle_command(Instant::now(), cmd),
                Some(WorkerMsg::Attach { room, events }) => {
                    routes.insert(room, events);
                }
                Some(WorkerMsg::Detach { room }) => {
                    routes.remove(&room);
                }
                Some(WorkerMsg::Stop) | None => break,
            },
            Some(event) = tcp_rx.recv() => match event {
                TcpEvent::Opened { peer, writer } => {
                    tcp_peers.insert(peer, writer);
                }
                TcpEvent::Packet { peer, data } => {
                    core.handle_receive(Instant::now(), Protocol::Tcp, peer, &data);
                }
                TcpEvent::Closed { peer } => {
                    tcp_peers.remove(&peer);
                }
            },
            () = tokio::time::sleep_until(deadline.into()) => core.handle_timeout(Instant::now()),
        }
        while let Some(t) = core.poll_transmit() {
            match t.proto {
                Protocol::Udp => {
                    if let Err(e) = socket.send_to(&t.contents, t.destination).await {
                        tracing::debug!(error = %e, to = %t.destination, "media send failed");
                    }
                }
                Protocol::Tcp => {
                    // A TCP peer that cannot keep up loses packets, as it would on UDP.
                    if let (Some(w), Some(framed)) =
                        (tcp_peers.get(&t.destination), tcp::frame(&t.contents))
                    {
                        let _ = w.try_send(framed);
                    }
                }
                _ => {}
            }
        }
        while let Some(event) = core.poll_event() {
            match event.room() {
                Some(room) => {
                    if let Some(route) = routes.get(room) {
                        let _ = route.send(event);
                    }
                }
                None => {
                    keyframe_requests.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    tcp_task.abort();
    tracing::debug!(%candidate, "media worker stopped");
}
