//! Two small interceptors the call needs from the RTCP flowing through the chain:
//!
//! - [`keyframe_requests`] lets keyframe requests reach the application. The chain stops
//!   inbound RTCP before the application by default; PLI and FIR are what the encoder must act
//!   on, so compound packets carrying them are marked for delivery.
//! - [`nack_counter`] counts the NACKs this side sends, per media SSRC, for the call's
//!   statistics (the transport's own `nack_count` is not maintained).
//! - [`rtx_unwrap`] turns a received retransmission (RFC 4588) back into the packet it
//!   repairs before the NACK generator sees it. The crate unwraps RTX only at the application
//!   end of the chain, so the generator would never learn that a lost packet arrived: it kept
//!   asking for it (three times), and the extra resends pushed the SFU over its resend budget
//!   so later losses went unrepaired.

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
/// Wire-ward of the NACK generator (7 000), so arrivals reach it already unwrapped.
pub const RTX_SLOT: usize = 600;

/// NACK requests sent, by the SSRC of the stream they ask about.
pub type NackCounts = Arc<Mutex<HashMap<u32, u64>>>;

type Hook = Box<dyn FnMut(&mut TaggedPacket) + Send + Sync>;
/// Told of each remote stream as it is bound (`true`) and unbound (`false`).
type BindHook = Box<dyn FnMut(&StreamInfo, bool) + Send + Sync>;

/// An interceptor that passes everything through, letting a hook look at (and mark or
/// rewrite) packets on their way in or out.
pub struct Tap {
    on_read: Hook,
    on_write: Hook,
    on_bind_remote: BindHook,
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl Tap {
    fn new(on_read: Hook, on_write: Hook) -> Self {
        Self {
            on_read,
            on_write,
            on_bind_remote: Box::new(|_, _| {}),
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

/// Rewrites received RTX packets into the packets they carry: primary SSRC, primary payload
/// type, original sequence number (the first two payload bytes), payload without them.
pub fn rtx_unwrap() -> Tap {
    // RTX SSRC -> (primary SSRC, primary payload type), from the streams as they are bound.
    let repairs = Arc::new(Mutex::new(HashMap::<u32, (u32, u8)>::new()));
    let learn = repairs.clone();
    let mut tap = Tap::new(
        Box::new(move |p| {
            let Packet::Rtp(rtp) = &mut p.message.packet else {
                return;
            };
            let primary = repairs
                .lock()
                .ok()
                .and_then(|r| r.get(&rtp.header.ssrc).copied());
            if let Some((ssrc, payload_type)) = primary {
                unwrap_rtx(rtp, ssrc, payload_type);
            }
        }),
        Box::new(|_| {}),
    );
    tap.on_bind_remote = Box::new(move |info, bound| {
        let (Some(rtx), Ok(mut repairs)) = (info.ssrc_rtx, learn.lock()) else {
            return;
        };
        if bound {
            repairs.insert(rtx, (info.ssrc, info.payload_type));
        } else {
            repairs.remove(&rtx);
        }
    });
    tap
}

/// RFC 4588 section 4. A payload too short to carry the original sequence number (a padding
/// probe) is left alone; nothing downstream knows its SSRC, so it goes no further.
fn unwrap_rtx(rtp: &mut rtc::rtp::Packet, ssrc: u32, payload_type: u8) {
    let [hi, lo, ..] = rtp.payload[..] else {
        return;
    };
    rtp.header.ssrc = ssrc;
    rtp.header.payload_type = payload_type;
    rtp.header.sequence_number = u16::from_be_bytes([hi, lo]);
    rtp.header.padding = false;
    rtp.payload = rtp.payload.slice(2..);
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
    fn bind_remote_stream(&mut self, info: &StreamInfo) {
        (self.on_bind_remote)(info, true);
    }
    fn unbind_remote_stream(&mut self, info: &StreamInfo) {
        (self.on_bind_remote)(info, false);
    }
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

    fn rtp(ssrc: u32, payload_type: u8, seq: u16, payload: &'static [u8]) -> TaggedPacket {
        TaggedPacket {
            now: Instant::now(),
            transport: Default::default(),
            message: AttributedPacket::new(Packet::Rtp(rtc::rtp::Packet {
                header: rtc::rtp::header::Header {
                    version: 2,
                    ssrc,
                    payload_type,
                    sequence_number: seq,
                    ..Default::default()
                },
                payload: bytes::Bytes::from_static(payload),
            })),
        }
    }

    fn read_through(tap: &mut Tap, p: TaggedPacket) -> rtc::rtp::Packet {
        tap.handle_read(p).unwrap();
        match tap.poll_read().unwrap().message.packet {
            Packet::Rtp(r) => r,
            _ => unreachable!("an RTP packet went in"),
        }
    }

    #[test]
    fn retransmissions_are_unwrapped_for_bound_streams_only() {
        let mut tap = rtx_unwrap();
        let info = StreamInfo {
            ssrc: 1000,
            ssrc_rtx: Some(2000),
            payload_type: 108,
            payload_type_rtx: Some(109),
            ..Default::default()
        };
        // Before the stream is bound, an RTX packet is passed on as it is.
        let r = read_through(&mut tap, rtp(2000, 109, 7, &[0x01, 0x02, 0xaa]));
        assert_eq!((r.header.ssrc, r.header.sequence_number), (2000, 7));

        tap.bind_remote_stream(&info);
        let r = read_through(&mut tap, rtp(2000, 109, 8, &[0x01, 0x02, 0xaa, 0xbb]));
        assert_eq!(r.header.ssrc, 1000);
        assert_eq!(r.header.payload_type, 108);
        assert_eq!(
            r.header.sequence_number, 0x0102,
            "the original sequence number"
        );
        assert_eq!(&r.payload[..], &[0xaa, 0xbb]);
        // The primary stream and a padding probe without an original sequence number pass.
        let r = read_through(&mut tap, rtp(1000, 108, 9, &[0x05]));
        assert_eq!((r.header.ssrc, r.header.sequence_number), (1000, 9));
        let r = read_through(&mut tap, rtp(2000, 109, 9, &[0x05]));
        assert_eq!((r.header.ssrc, r.header.sequence_number), (2000, 9));

        tap.unbind_remote_stream(&info);
        let r = read_through(&mut tap, rtp(2000, 109, 10, &[0x01, 0x02]));
        assert_eq!(r.header.ssrc, 2000);
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
