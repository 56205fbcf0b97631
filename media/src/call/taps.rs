//! Two small interceptors the call needs from the RTCP flowing through the chain:
//!
//! - [`keyframe_requests`] lets keyframe requests reach the application. The chain stops
//!   inbound RTCP before the application by default; PLI and FIR are what the encoder must act
//!   on, so compound packets carrying them are marked for delivery.
//! - [`nack_counter`] counts the NACKs this side sends, per media SSRC, for the call's
//!   statistics (the transport's own `nack_count` is not maintained).

use rtc::interceptor::{Attribute, Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::sansio::Protocol;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Just before the application end of the chain, after every built-in interceptor.
pub const SLOT: usize = 20_000;
/// Closest to the wire, so it sees every NACK the generator emits on its way out.
pub const NACK_SLOT: usize = 500;

/// NACK requests sent, by the SSRC of the stream they ask about.
pub type NackCounts = Arc<Mutex<HashMap<u32, u64>>>;

type Hook = Box<dyn FnMut(&mut TaggedPacket) + Send + Sync>;

/// An interceptor that passes everything through, letting a hook look at (and mark) packets
/// on their way in or out.
pub struct Tap {
    on_read: Hook,
    on_write: Hook,
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl Tap {
    fn new(on_read: Hook, on_write: Hook) -> Self {
        Self {
            on_read,
            on_write,
            read: VecDeque::new(),
            write: VecDeque::new(),
        }
    }
}

fn rtcp(p: &TaggedPacket) -> &[Box<dyn rtc::rtcp::Packet>] {
    match &p.message.packet {
        Packet::Rtcp(packets) => packets,
        _ => &[],
    }
}

/// Marks inbound PLI and FIR for delivery to the application.
pub fn keyframe_requests() -> Tap {
    Tap::new(
        Box::new(|p| {
            let wanted = rtcp(p).iter().any(|p| {
                p.as_any().is::<PictureLossIndication>() || p.as_any().is::<FullIntraRequest>()
            });
            if wanted && !p.message.has(&Attribute::DeliverToApplication) {
                p.message.add(Attribute::DeliverToApplication);
            }
        }),
        Box::new(|_| {}),
    )
}

/// Counts outbound NACKs per media SSRC into `counts`.
pub fn nack_counter(counts: NackCounts) -> Tap {
    Tap::new(
        Box::new(|_| {}),
        Box::new(move |p| {
            for nack in rtcp(p)
                .iter()
                .filter_map(|p| p.as_any().downcast_ref::<TransportLayerNack>())
            {
                if let Ok(mut counts) = counts.lock() {
                    *counts.entry(nack.media_ssrc).or_default() += 1;
                }
            }
        }),
    )
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for Tap {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        (self.on_read)(&mut msg);
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        (self.on_write)(&mut msg);
        self.write.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write.pop_front()
    }
}

impl Interceptor for Tap {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::interceptor::AttributedPacket;
    use rtc::rtcp::transport_feedbacks::transport_layer_nack::NackPair;

    fn packet(p: Box<dyn rtc::rtcp::Packet>) -> TaggedPacket {
        TaggedPacket {
            now: Instant::now(),
            transport: Default::default(),
            message: AttributedPacket::new(Packet::Rtcp(vec![p])),
        }
    }

    #[test]
    fn keyframe_requests_are_delivered() {
        let mut k = keyframe_requests();
        k.handle_read(packet(Box::new(PictureLossIndication {
            sender_ssrc: 1,
            media_ssrc: 2,
        })))
        .unwrap();
        assert!(k
            .poll_read()
            .unwrap()
            .message
            .has(&Attribute::DeliverToApplication));
        let nack = TransportLayerNack {
            sender_ssrc: 1,
            media_ssrc: 2,
            nacks: vec![],
        };
        k.handle_read(packet(Box::new(nack))).unwrap();
        assert!(!k
            .poll_read()
            .unwrap()
            .message
            .has(&Attribute::DeliverToApplication));
    }

    #[test]
    fn nacks_are_counted_per_stream() {
        let counts = NackCounts::default();
        let mut c = nack_counter(counts.clone());
        for ssrc in [7, 7, 9] {
            let nack = TransportLayerNack {
                sender_ssrc: 1,
                media_ssrc: ssrc,
                nacks: vec![NackPair {
                    packet_id: 10,
                    lost_packets: Default::default(),
                }],
            };
            c.handle_write(packet(Box::new(nack))).unwrap();
            assert!(c.poll_write().is_some(), "passed on");
        }
        let counts = counts.lock().unwrap();
        assert_eq!(counts.get(&7), Some(&2));
        assert_eq!(counts.get(&9), Some(&1));
    }
}
