//! Synthetic sources: what a camera and a microphone would give, generated.

use super::{AudioSource, CaptureError, DeviceInfo, DeviceKind, VideoSource};
use crate::frame::{AudioFrame, I420Frame, VideoFrame, FRAME_SAMPLES, SAMPLE_RATE};
use crate::stamp::{self, Stamp};
use std::time::{Duration, Instant, SystemTime};

pub const SYNTHETIC: &str = "synthetic";

pub fn devices() -> Vec<DeviceInfo> {
    [DeviceKind::Camera, DeviceKind::Microphone]
        .into_iter()
        .map(|kind| DeviceInfo {
            id: SYNTHETIC.into(),
            name: match kind {
                DeviceKind::Camera => "Test pattern".into(),
                _ => "Test tone".into(),
            },
            kind,
        })
        .collect()
}

/// A moving test pattern: colour bars scrolling sideways and a bright square sweeping across,
/// with the frame number and capture time stamped in the top rows.
pub struct TestPattern {
    width: usize,
    height: usize,
    interval: Duration,
    next_due: Option<Instant>,
    frame_number: u32,
}

impl TestPattern {
    pub fn new(width: usize, height: usize, fps: u32) -> Self {
        Self {
            width: width.max(32) & !1,
            height: height.max(32) & !1,
            interval: Duration::from_secs(1) / fps.max(1),
            next_due: None,
            frame_number: 0,
        }
    }

    /// Draws frame `n` without waiting.
    pub fn render(&self, n: u32, captured: SystemTime) -> I420Frame {
        let mut f = I420Frame::new(self.width, self.height);
        let (w, h) = (self.width, self.height);
        let shift = (n as usize * 4) % w;
        // Colour bars: eight hues, scrolling by four pixels a frame.
        const BARS: [(u8, u8, u8); 8] = [
            (235, 128, 128),
            (210, 16, 146),
            (170, 166, 16),
            (145, 54, 34),
            (106, 202, 222),
            (81, 90, 240),
            (41, 240, 110),
            (16, 128, 128),
        ];
        let bar = |x: usize| BARS[((x + shift) % w) * BARS.len() / w];
        for y in 0..h {
            for x in 0..w {
                f.y[y * w + x] = bar(x).0;
            }
        }
        let cw = w / 2;
        for y in 0..h / 2 {
            for x in 0..cw {
                let (_, u, v) = bar(x * 2);
                f.u[y * cw + x] = u;
                f.v[y * cw + x] = v;
            }
        }
        // A square sweeping left to right, on a diagonal through the lower part.
        let side = (h / 5).max(8);
        let travel = (w - side).max(1);
        let sx = (n as usize * 6) % travel;
        let top = stamp::height(w) + 4;
        let span = h.saturating_sub(top + side).max(1);
        let sy = top + (n as usize * 3) % span;
        for y in sy..(sy + side).min(h) {
            f.y[y * w + sx..y * w + (sx + side).min(w)].fill(250);
        }
        stamp::write(&mut f, Stamp::new(n, captured));
        f
    }
}

impl VideoSource for TestPattern {
    fn next_frame(&mut self) -> Result<VideoFrame, CaptureError> {
        // Paced like a camera: one frame per interval.
        let now = Instant::now();
        let due = *self.next_due.get_or_insert(now);
        if due > now {
            std::thread::sleep(due - now);
        }
        self.next_due = Some(due.max(now) + self.interval);
        let captured = SystemTime::now();
        let picture = self.render(self.frame_number, captured);
        self.frame_number = self.frame_number.wrapping_add(1);
        Ok(VideoFrame { picture, captured })
    }

    fn size(&self) -> (usize, usize) {
        (self.width, self.height)
    }
}

/// Frequency of the tone, and of the mark that replaces it for one frame each second.
pub const TONE_HZ: f32 = 440.0;
pub const MARK_HZ: f32 = 1760.0;
/// One frame in this many carries the mark.
pub const MARK_EVERY: u64 = 50;

/// A 440 Hz tone with a 20 ms 1760 Hz mark every second, so a listener can check audio is
/// continuous and in time.
pub struct Tone {
    sample: u64,
    next_due: Option<Instant>,
    paced: bool,
}

impl Tone {
    /// `paced`: deliver frames in real time, as a microphone would.
    pub fn new(paced: bool) -> Self {
        Self {
            sample: 0,
            next_due: None,
            paced,
        }
    }

    pub fn frame_index(&self) -> u64 {
        self.sample / FRAME_SAMPLES as u64
    }

    fn render(&mut self) -> AudioFrame {
        let index = self.frame_index();
        let hz = if index.is_multiple_of(MARK_EVERY) {
            MARK_HZ
        } else {
            TONE_HZ
        };
        let samples = (0..FRAME_SAMPLES)
            .map(|i| {
                let t = (self.sample + i as u64) as f32 / SAMPLE_RATE as f32;
                ((t * hz * std::f32::consts::TAU).sin() * 8000.0) as i16
            })
            .collect();
        self.sample += FRAME_SAMPLES as u64;
        AudioFrame { samples }
    }
}

impl AudioSource for Tone {
    fn next_frame(&mut self) -> Result<AudioFrame, CaptureError> {
        if self.paced {
            let now = Instant::now();
            let due = *self.next_due.get_or_insert(now);
            if due > now {
                std::thread::sleep(due - now);
            }
            self.next_due = Some(due.max(now) + Duration::from_millis(20));
        }
        Ok(self.render())
    }
}

/// The strength of `hz` in `samples` (Goertzel), normalised to the signal's energy: near 1
/// when the frame is that pure tone, near 0 when it is absent.
pub fn tone_strength(samples: &[i16], hz: f32) -> f32 {
    let k = 2.0 * (std::f32::consts::TAU * hz / SAMPLE_RATE as f32).cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    let mut energy = 0.0f32;
    for &x in samples {
        let x = f32::from(x);
        energy += x * x;
        let s0 = x + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - k * s1 * s2;
    if energy <= f32::EPSILON {
        0.0
    } else {
        power / (energy * samples.len() as f32 / 2.0)
    }
}

/// True if this frame carries the mark rather than the tone.
pub fn is_mark(samples: &[i16]) -> bool {
    tone_strength(samples, MARK_HZ) > tone_strength(samples, TONE_HZ)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_moves_and_is_stamped() {
        let p = TestPattern::new(320, 180, 30);
        let now = SystemTime::now();
        let (a, b) = (p.render(0, now), p.render(1, now));
        assert_ne!(a.y, b.y, "consecutive frames differ");
        assert_eq!(stamp::read(&a).map(|s| s.frame_number), Some(0));
        assert_eq!(stamp::read(&b).map(|s| s.frame_number), Some(1));
    }

    #[test]
    fn tone_has_marks_once_a_second() {
        let mut t = Tone::new(false);
        let marks: Vec<bool> = (0..120)
            .map(|_| is_mark(&t.next_frame().unwrap().samples))
            .collect();
        let at: Vec<usize> = marks
            .iter()
            .enumerate()
            .filter(|(_, m)| **m)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(at, vec![0, 50, 100]);
        assert_eq!(tone_strength(&[0; 960], TONE_HZ), 0.0);
    }
}
