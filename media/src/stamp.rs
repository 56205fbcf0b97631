//! A machine-readable block in the top rows of a picture: the frame number and capture time,
//! written as black and white cells large enough to survive H.264 compression, with a
//! checksum. A receiver reads it back to count missing frames, spot corrupt ones and measure
//! glass-to-glass latency on one host's clock.

use crate::frame::I420Frame;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What a stamp says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub frame_number: u32,
    /// Capture time in microseconds since the Unix epoch, modulo 2^48 (about 8.9 years).
    pub captured_us: u64,
}

const MAGIC: u8 = 0xa5;
/// magic (8) + frame number (32) + time (48) + CRC-16 (16).
const BITS: usize = 104;
const BLACK: u8 = 16;
const WHITE: u8 = 235;

impl Stamp {
    pub fn new(frame_number: u32, captured: SystemTime) -> Self {
        let us = captured
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros();
        Self {
            frame_number,
            captured_us: (us & ((1 << 48) - 1)) as u64,
        }
    }

    /// How long ago, by this host's clock, the stamped frame was captured.
    pub fn age(&self, now: SystemTime) -> Duration {
        let now = Self::new(0, now).captured_us;
        Duration::from_micros(now.wrapping_sub(self.captured_us) & ((1 << 48) - 1))
    }

    fn bits(&self) -> [bool; BITS] {
        let mut payload = [0u8; 11];
        payload[0] = MAGIC;
        payload[1..5].copy_from_slice(&self.frame_number.to_be_bytes());
        payload[5..11].copy_from_slice(&self.captured_us.to_be_bytes()[2..]);
        let crc = crc16(&payload);
        let mut bytes = [0u8; 13];
        bytes[..11].copy_from_slice(&payload);
        bytes[11..].copy_from_slice(&crc.to_be_bytes());
        let mut bits = [false; BITS];
        for (i, bit) in bits.iter_mut().enumerate() {
            *bit = bytes[i / 8] & (0x80 >> (i % 8)) != 0;
        }
        bits
    }

    fn from_bits(bits: &[bool; BITS]) -> Option<Self> {
        let mut bytes = [0u8; 13];
        for (i, &b) in bits.iter().enumerate() {
            if b {
                bytes[i / 8] |= 0x80 >> (i % 8);
            }
        }
        if bytes[0] != MAGIC || crc16(&bytes[..11]) != u16::from_be_bytes([bytes[11], bytes[12]]) {
            return None;
        }
        let mut time = [0u8; 8];
        time[2..].copy_from_slice(&bytes[5..11]);
        Some(Self {
            frame_number: u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]),
            captured_us: u64::from_be_bytes(time),
        })
    }
}

/// Cell size in pixels: at least 8 (one H.264 transform block is 4x4, a macroblock 16x16),
/// growing with the picture so the stamp stays a fixed share of its width.
fn cell(width: usize) -> usize {
    ((width / 40) & !7).max(8)
}

/// The rows (in pixels) at the top of a picture that the stamp covers.
pub fn height(width: usize) -> usize {
    let c = cell(width);
    let per_row = (width / c).max(1);
    BITS.div_ceil(per_row) * c
}

pub fn write(frame: &mut I420Frame, stamp: Stamp) {
    let c = cell(frame.width);
    let per_row = frame.width / c;
    if per_row == 0 || height(frame.width) > frame.height {
        return;
    }
    let bits = stamp.bits();
    let cw = frame.chroma_width();
    for (i, &bit) in bits.iter().enumerate() {
        let (x0, y0) = ((i % per_row) * c, (i / per_row) * c);
        let value = if bit { WHITE } else { BLACK };
        for y in y0..y0 + c {
            frame.y[y * frame.width + x0..y * frame.width + x0 + c].fill(value);
        }
        for y in y0 / 2..(y0 + c) / 2 {
            frame.u[y * cw + x0 / 2..y * cw + (x0 + c) / 2].fill(128);
            frame.v[y * cw + x0 / 2..y * cw + (x0 + c) / 2].fill(128);
        }
    }
}

/// Reads the stamp back; `None` when it is missing or does not check out (a corrupt picture).
pub fn read(frame: &I420Frame) -> Option<Stamp> {
    let c = cell(frame.width);
    let per_row = frame.width / c;
    if per_row == 0 || height(frame.width) > frame.height {
        return None;
    }
    let mut bits = [false; BITS];
    let margin = c / 4;
    for (i, bit) in bits.iter_mut().enumerate() {
        let (x0, y0) = ((i % per_row) * c, (i / per_row) * c);
        // The middle of the cell: edges blur into neighbours under compression.
        let mut sum = 0u32;
        let mut n = 0u32;
        for y in y0 + margin..y0 + c - margin {
            for x in x0 + margin..x0 + c - margin {
                sum += u32::from(frame.y[y * frame.width + x]);
                n += 1;
            }
        }
        *bit = sum / n.max(1) > u32::from((BLACK + WHITE) / 2);
    }
    Stamp::from_bits(&bits)
}

/// CRC-16/CCITT-FALSE.
fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xffff;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_at_common_sizes() {
        for (w, h) in [(320, 180), (640, 360), (1280, 720), (160, 120)] {
            let mut f = I420Frame::new(w, h);
            let s = Stamp::new(123_456, SystemTime::now());
            write(&mut f, s);
            assert_eq!(read(&f), Some(s), "{w}x{h}");
            if w >= 320 {
                assert!(height(w) <= h / 4, "stamp uses a small share of {w}x{h}");
            }
        }
    }

    #[test]
    fn damage_is_detected() {
        let mut f = I420Frame::new(640, 360);
        write(&mut f, Stamp::new(7, SystemTime::now()));
        // Flip one cell.
        let c = cell(640);
        let x = 20 * c;
        let v = if f.y[x + c / 2] > 128 { BLACK } else { WHITE };
        for y in 0..c {
            f.y[y * 640 + x..y * 640 + x + c].fill(v);
        }
        assert_eq!(read(&f), None);
        assert_eq!(read(&I420Frame::new(640, 360)), None, "no stamp at all");
    }

    #[test]
    fn age() {
        let t = SystemTime::now();
        let s = Stamp::new(1, t);
        assert_eq!(
            s.age(t + Duration::from_millis(40)),
            Duration::from_millis(40)
        );
        assert_eq!(crc16(b"123456789"), 0x29b1);
    }
}
