//! Raw media as it moves between capture, codecs and playback.

use std::time::SystemTime;

/// One picture in I420 (planar 4:2:0): a full-size luma plane, then quarter-size U and V.
/// Width and height are even.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct I420Frame {
    pub width: usize,
    pub height: usize,
    pub y: Vec<u8>,
    pub u: Vec<u8>,
    pub v: Vec<u8>,
}

impl I420Frame {
    /// A black frame.
    pub fn new(width: usize, height: usize) -> Self {
        let (w, h) = (width & !1, height & !1);
        Self {
            width: w,
            height: h,
            y: vec![16; w * h],
            u: vec![128; w * h / 4],
            v: vec![128; w * h / 4],
        }
    }

    pub fn chroma_width(&self) -> usize {
        self.width / 2
    }

    /// Copies planes with arbitrary strides into a tightly packed frame.
    pub fn from_planes(
        (width, height): (usize, usize),
        (y, u, v): (&[u8], &[u8], &[u8]),
        (sy, su, sv): (usize, usize, usize),
    ) -> Self {
        let mut f = Self::new(width, height);
        let cw = f.chroma_width();
        for row in 0..f.height {
            f.y[row * f.width..(row + 1) * f.width]
                .copy_from_slice(&y[row * sy..row * sy + f.width]);
        }
        for row in 0..f.height / 2 {
            f.u[row * cw..(row + 1) * cw].copy_from_slice(&u[row * su..row * su + cw]);
            f.v[row * cw..(row + 1) * cw].copy_from_slice(&v[row * sv..row * sv + cw]);
        }
        f
    }
}

impl openh264::formats::YUVSource for I420Frame {
    fn dimensions(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    fn strides(&self) -> (usize, usize, usize) {
        (self.width, self.width / 2, self.width / 2)
    }

    fn y(&self) -> &[u8] {
        &self.y
    }

    fn u(&self) -> &[u8] {
        &self.u
    }

    fn v(&self) -> &[u8] {
        &self.v
    }
}

/// A captured picture and when it was taken.
#[derive(Clone, Debug)]
pub struct VideoFrame {
    pub picture: I420Frame,
    pub captured: SystemTime,
}

/// Audio is 48 kHz mono, handled in 20 ms frames: Opus's frame, and the unit of playout.
pub const SAMPLE_RATE: u32 = 48_000;
pub const FRAME_SAMPLES: usize = 960;

/// 20 ms of 48 kHz mono audio.
#[derive(Clone, Debug, PartialEq)]
pub struct AudioFrame {
    pub samples: Vec<i16>,
}
