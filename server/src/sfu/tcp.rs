//! ICE-TCP (RFC 6544) for clients whose networks block UDP: each worker also listens on TCP at
//! its media port, as a passive candidate. Packets on a TCP connection are framed as RFC 4571
//! says: a 16-bit big-endian length, then the packet.

use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// The largest packet a frame can carry.
pub const MAX_FRAME: usize = u16::MAX as usize;

/// Prefixes a packet with its RFC 4571 length; `None` if it cannot be framed.
pub fn frame(packet: &[u8]) -> Option<Vec<u8>> {
    let len = u16::try_from(packet.len()).ok()?;
    let mut out = Vec::with_capacity(packet.len() + 2);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(packet);
    Some(out)
}

/// Splits a byte stream into RFC 4571 frames.
#[derive(Default)]
pub struct Deframer {
    buf: Vec<u8>,
}

impl Deframer {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole packet, if one has arrived.
    pub fn next_packet(&mut self) -> Option<Vec<u8>> {
        if self.buf.len() < 2 {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([self.buf[0], self.buf[1]]));
        if self.buf.len() < 2 + len {
            return None;
        }
        let packet = self.buf[2..2 + len].to_vec();
        self.buf.drain(..2 + len);
        Some(packet)
    }
}

/// What the connections tell the worker.
pub enum TcpEvent {
    Opened {
        peer: SocketAddr,
        writer: mpsc::Sender<Vec<u8>>,
    },
    Packet {
        peer: SocketAddr,
        data: Vec<u8>,
    },
    Closed {
        peer: SocketAddr,
    },
}

/// Packets queued for one TCP peer before it is considered stuck and dropped.
const WRITE_QUEUE: usize = 256;

/// Accepts connections and runs each until it closes, reporting to `events`.
pub async fn serve(listener: TcpListener, events: mpsc::UnboundedSender<TcpEvent>) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let events = events.clone();
        tokio::spawn(connection(stream, peer, events));
    }
}

async fn connection(stream: TcpStream, peer: SocketAddr, events: mpsc::UnboundedSender<TcpEvent>) {
    let (mut reader, mut writer) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
    if events.send(TcpEvent::Opened { peer, writer: tx }).is_err() {
        return;
    }
    let write = tokio::spawn(async move {
        while let Some(framed) = rx.recv().await {
            if writer.write_all(&framed).await.is_err() {
                break;
            }
        }
    });
    let mut deframer = Deframer::default();
    let mut buf = vec![0u8; 8192];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                deframer.push(&buf[..n]);
                while let Some(data) = deframer.next_packet() {
                    if events.send(TcpEvent::Packet { peer, data }).is_err() {
                        break;
                    }
                }
            }
        }
    }
    write.abort();
    let _ = events.send(TcpEvent::Closed { peer });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_across_reads() {
        let a = frame(b"hello").unwrap();
        let b = frame(&[7u8; 300]).unwrap();
        let stream: Vec<u8> = a.iter().chain(b.iter()).copied().collect();
        let mut d = Deframer::default();
        d.push(&stream[..3]);
        assert_eq!(d.next_packet(), None);
        d.push(&stream[3..100]);
        assert_eq!(d.next_packet().as_deref(), Some(&b"hello"[..]));
        assert_eq!(d.next_packet(), None);
        d.push(&stream[100..]);
        assert_eq!(d.next_packet(), Some(vec![7u8; 300]));
        assert!(frame(&vec![0u8; MAX_FRAME + 1]).is_none());
    }
}
