//! What the SFU changes in each forwarded RTP packet, per subscriber: the sequence number
//! (contiguous from the subscriber's first packet, whatever the publisher skipped before it)
//! and the timestamp (shifted by a per-subscriber offset). The SSRC is the subscriber
//! stream's own. Also: spotting the start of an H.264 keyframe, so a new subscriber starts
//! on one instead of on undecodable deltas.

/// Rewrites one publisher stream's sequence numbers and timestamps for one subscriber.
#[derive(Debug, Clone)]
pub struct Rewriter {
    /// `out = in + seq_offset`, fixed at the first forwarded packet.
    seq_offset: Option<i64>,
    ts_offset: u32,
    /// Highest sequence number sent, to report what the subscriber has seen.
    highest_out: u64,
}

impl Rewriter {
    /// `ts_offset` should be random per subscriber so that timestamps do not reveal the
    /// publisher's clock and stay continuous across a publisher switch.
    pub fn new(ts_offset: u32) -> Self {
        Self {
            seq_offset: None,
            ts_offset,
            highest_out: 0,
        }
    }

    pub fn started(&self) -> bool {
        self.seq_offset.is_some()
    }

    /// Maps an incoming (extended) sequence number and timestamp to outgoing ones. The first
    /// packet forwarded becomes sequence number 1, so the outgoing rollover counter starts at
    /// zero as SRTP expects. Packets from before the first one (late retransmissions) are
    /// dropped: `None`.
    pub fn rewrite(&mut self, seq_in: u64, ts_in: u32) -> Option<(u64, u32)> {
        let seq_in = i64::try_from(seq_in).ok()?;
        let offset = *self.seq_offset.get_or_insert(1 - seq_in);
        let out = seq_in + offset;
        if out < 1 {
            return None;
        }
        let out = out as u64;
        self.highest_out = self.highest_out.max(out);
        Some((out, ts_in.wrapping_add(self.ts_offset)))
    }
}

/// True if this H.264 RTP payload (RFC 6184, packetization-mode 1) begins a keyframe: an IDR
/// slice or the SPS/PPS that precede one, as a single NAL unit, inside a STAP-A, or as the
/// first fragment of an FU-A.
pub fn h264_starts_keyframe(payload: &[u8]) -> bool {
    const IDR: u8 = 5;
    const SPS: u8 = 7;
    const PPS: u8 = 8;
    const STAP_A: u8 = 24;
    const FU_A: u8 = 28;
    let is_key = |t: u8| matches!(t, IDR | SPS | PPS);
    let Some(&first) = payload.first() else {
        return false;
    };
    match first & 0x1f {
        STAP_A => {
            // Aggregated NAL units, each behind a 16-bit size.
            let mut rest = &payload[1..];
            while rest.len() > 2 {
                let size = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                let Some(nal) = rest.get(2..2 + size) else {
                    return false;
                };
                if nal.first().is_some_and(|h| is_key(h & 0x1f)) {
                    return true;
                }
                rest = &rest[2 + size..];
            }
            false
        }
        FU_A => payload
            .get(1)
            .is_some_and(|fu| fu & 0x80 != 0 && is_key(fu & 0x1f)),
        t => is_key(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_starts_at_one_and_follows_gaps() {
        let mut r = Rewriter::new(1000);
        assert_eq!(r.rewrite(70_000, 90_000), Some((1, 91_000)));
        assert_eq!(r.rewrite(70_001, 90_000), Some((2, 91_000)));
        // A gap upstream stays a gap (the subscriber's NACK may still be answered).
        assert_eq!(r.rewrite(70_004, 93_000), Some((5, 94_000)));
        // A late retransmission of a missing packet fills its place.
        assert_eq!(r.rewrite(70_002, 90_000), Some((3, 91_000)));
        // Older than the first forwarded packet: not for this subscriber.
        assert_eq!(r.rewrite(69_999, 87_000), None);
    }

    #[test]
    fn timestamps_wrap() {
        let mut r = Rewriter::new(u32::MAX - 10);
        assert_eq!(r.rewrite(5, 20), Some((1, 9)));
    }

    #[test]
    fn keyframe_detection() {
        assert!(h264_starts_keyframe(&[0x67, 0x42])); // SPS
        assert!(h264_starts_keyframe(&[0x65, 0x88])); // IDR
        assert!(!h264_starts_keyframe(&[0x41, 0x9a])); // non-IDR slice
                                                       // STAP-A holding SPS and PPS.
        assert!(h264_starts_keyframe(&[
            0x78, 0, 2, 0x67, 0x42, 0, 2, 0x68, 0xce
        ]));
        // STAP-A of two non-IDR units.
        assert!(!h264_starts_keyframe(&[0x78, 0, 1, 0x41, 0, 1, 0x41]));
        // FU-A: start of an IDR; middle of an IDR; start of a non-IDR.
        assert!(h264_starts_keyframe(&[0x7c, 0x85, 0]));
        assert!(!h264_starts_keyframe(&[0x7c, 0x05, 0]));
        assert!(!h264_starts_keyframe(&[0x7c, 0x81, 0]));
        // Malformed input is never a keyframe and never panics.
        assert!(!h264_starts_keyframe(&[]));
        assert!(!h264_starts_keyframe(&[0x78, 0, 9, 0x67]));
        assert!(!h264_starts_keyframe(&[0x7c]));
    }
}
