//! A UDP relay that loses RTP packets on purpose, for testing repair where `tc netem` is not
//! available. It sits on one loopback address in front of a media server on another: each
//! client address gets its own upstream socket, so the server sees one distinct peer per client.
//!
//! Only RTP media packets are dropped (RFC 7983 demultiplexing: first byte 128–191, and not an
//! RTCP packet type); STUN, DTLS and RTCP always pass, so connections establish and feedback
//! flows. Drops are drawn from a seeded generator, so a run is repeatable in what it drops.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::task::{JoinHandle, JoinSet};

/// Loss probability per RTP packet in each direction, 0.0–1.0.
#[derive(Clone, Copy, Debug)]
pub struct Loss {
    /// Client to server.
    pub upstream: f64,
    /// Server to client.
    pub downstream: f64,
    pub seed: u64,
}

/// What the relay has forwarded and dropped.
#[derive(Debug, Default)]
pub struct RelayCounts {
    pub rtp_up: AtomicU64,
    pub rtp_down: AtomicU64,
    pub dropped_up: AtomicU64,
    pub dropped_down: AtomicU64,
}

pub struct LossyRelay {
    pub addr: SocketAddr,
    pub counts: Arc<RelayCounts>,
    task: JoinHandle<()>,
}

impl Drop for LossyRelay {
    /// Stops the relay; its per-client tasks live in a `JoinSet` inside it and go with it.
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whether a datagram is an RTP (not RTCP) packet.
pub fn is_rtp_media(datagram: &[u8]) -> bool {
    match datagram {
        [first, second, ..] => (128..=191).contains(first) && !(192..=223).contains(second),
        _ => false,
    }
}

/// splitmix64: a small, good-enough generator with a fixed seed.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, p: f64) -> bool {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // 53 random bits as a fraction in [0, 1).
        ((z >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// Whether `datagram` goes on: anything but RTP always does, RTP with probability
    /// `1 - p`. Counts the RTP seen and dropped.
    fn passes(&mut self, datagram: &[u8], p: f64, seen: &AtomicU64, dropped: &AtomicU64) -> bool {
        if !is_rtp_media(datagram) {
            return true;
        }
        seen.fetch_add(1, Ordering::Relaxed);
        let lost = self.roll(p);
        if lost {
            dropped.fetch_add(1, Ordering::Relaxed);
        }
        !lost
    }
}

impl LossyRelay {
    /// Relays datagrams arriving at `listen` to the same port on `target`, losing RTP as
    /// `loss` says. With port 0 in `listen`, a free port is taken and the server behind is then
    /// started on it (see [`LossyRelay::addr`]).
    pub async fn start(listen: SocketAddr, target: IpAddr, loss: Loss) -> std::io::Result<Self> {
        let front = Arc::new(UdpSocket::bind(listen).await?);
        let addr = front.local_addr()?;
        let target = SocketAddr::new(target, addr.port());
        let counts = Arc::new(RelayCounts::default());
        let task = tokio::spawn(relay(front, target, loss, counts.clone()));
        Ok(Self { addr, counts, task })
    }
}

async fn relay(front: Arc<UdpSocket>, target: SocketAddr, loss: Loss, counts: Arc<RelayCounts>) {
    let mut upstreams: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
    let mut clients = JoinSet::new();
    let mut dice = Dice(loss.seed);
    let mut buf = vec![0u8; 65536];
    while let Ok((n, from)) = front.recv_from(&mut buf).await {
        let upstream = match upstreams.get(&from) {
            Some(u) => u.clone(),
            None => {
                let Ok(u) = bind_towards(target).await else {
                    continue;
                };
                let u = Arc::new(u);
                upstreams.insert(from, u.clone());
                clients.spawn(downstream(
                    u.clone(),
                    front.clone(),
                    from,
                    loss,
                    counts.clone(),
                ));
                u
            }
        };
        let datagram = &buf[..n];
        if dice.passes(datagram, loss.upstream, &counts.rtp_up, &counts.dropped_up) {
            let _ = upstream.send(datagram).await;
        }
    }
}

async fn bind_towards(target: SocketAddr) -> std::io::Result<UdpSocket> {
    let loopback = if target.is_ipv4() {
        IpAddr::from(Ipv4Addr::LOCALHOST)
    } else {
        IpAddr::from(Ipv6Addr::LOCALHOST)
    };
    let socket = UdpSocket::bind((loopback, 0)).await?;
    socket.connect(target).await?;
    Ok(socket)
}

async fn downstream(
    upstream: Arc<UdpSocket>,
    front: Arc<UdpSocket>,
    client: SocketAddr,
    loss: Loss,
    counts: Arc<RelayCounts>,
) {
    let mut dice = Dice(loss.seed ^ u64::from(client.port()));
    let mut buf = vec![0u8; 65536];
    while let Ok(n) = upstream.recv(&mut buf).await {
        let datagram = &buf[..n];
        if dice.passes(
            datagram,
            loss.downstream,
            &counts.rtp_down,
            &counts.dropped_down,
        ) {
            let _ = front.send_to(datagram, client).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_rtp_and_rtcp() {
        // RTP, payload type 102, marker clear.
        assert!(is_rtp_media(&[0x80, 102, 0, 1]));
        // RTP with the marker bit on payload type 111.
        assert!(is_rtp_media(&[0x80, 0x80 | 111, 0, 1]));
        // RTCP receiver report (201) and transport feedback (205).
        assert!(!is_rtp_media(&[0x81, 201, 0, 7]));
        assert!(!is_rtp_media(&[0x81, 205, 0, 3]));
        // STUN (first byte 0–3) and DTLS (20–63).
        assert!(!is_rtp_media(&[0x00, 0x01, 0, 0]));
        assert!(!is_rtp_media(&[22, 0xfe, 0xfd]));
        assert!(!is_rtp_media(&[0x80]));
    }

    #[test]
    fn dice_lose_about_the_share_asked() {
        let mut dice = Dice(7);
        let lost = (0..100_000).filter(|_| dice.roll(0.05)).count();
        assert!((4_000..6_000).contains(&lost), "{lost}");
        let mut never = Dice(7);
        assert!((0..1000).all(|_| !never.roll(0.0)));
    }

    #[tokio::test]
    async fn relays_both_ways_and_drops_only_rtp() {
        let loss = Loss {
            upstream: 1.0,
            downstream: 0.0,
            seed: 1,
        };
        let front = "127.0.0.2:0".parse().unwrap();
        let relay = LossyRelay::start(front, "127.0.0.1".parse().unwrap(), loss)
            .await
            .unwrap();
        let server = UdpSocket::bind(("127.0.0.1", relay.addr.port()))
            .await
            .unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.connect(relay.addr).await.unwrap();
        client.send(&[0x80, 102, 0, 1]).await.unwrap(); // RTP: always lost upstream
        client.send(&[0x81, 201, 0, 7]).await.unwrap(); // RTCP: passes
        let mut buf = [0u8; 16];
        let (n, from) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], &[0x81, 201, 0, 7]);
        server.send_to(&[0x80, 102, 0, 2], from).await.unwrap();
        let n = client.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], &[0x80, 102, 0, 2]);
        assert_eq!(relay.counts.dropped_up.load(Ordering::Relaxed), 1);
        assert_eq!(relay.counts.rtp_down.load(Ordering::Relaxed), 1);
    }
}
