//! H.264 with openh264: constrained baseline (what `42e01f` negotiates), one Annex-B access
//! unit per picture, keyframes on request and every few seconds as a safety net.

use super::CodecError;
use crate::frame::I420Frame;
use openh264::decoder::Decoder;
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, Level,
    RateControlMode, UsageType,
};
use openh264::formats::YUVSource;
use openh264::OpenH264API;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VideoEncoderConfig {
    pub bitrate_bps: u32,
    pub fps: u32,
    /// Seconds between unrequested keyframes.
    pub keyframe_interval_secs: u32,
}

impl Default for VideoEncoderConfig {
    fn default() -> Self {
        Self {
            bitrate_bps: 800_000,
            fps: 30,
            keyframe_interval_secs: 3,
        }
    }
}

/// One encoded picture.
#[derive(Clone, Debug)]
pub struct EncodedVideo {
    /// Annex-B: NAL units behind start codes.
    pub data: Vec<u8>,
    pub keyframe: bool,
}

pub struct H264Encoder {
    inner: Encoder,
    config: VideoEncoderConfig,
}

fn h264_error(e: impl std::fmt::Display) -> CodecError {
    CodecError::H264(e.to_string())
}

impl H264Encoder {
    pub fn new(config: VideoEncoderConfig) -> Result<Self, CodecError> {
        Ok(Self {
            inner: build(&config)?,
            config,
        })
    }

    pub fn config(&self) -> VideoEncoderConfig {
        self.config
    }

    /// The next picture will be a keyframe (with SPS and PPS in front).
    pub fn request_keyframe(&mut self) {
        self.inner.force_intra_frame();
    }

    /// Changes the target bitrate. openh264 offers no safe way to do this in place, so the
    /// encoder is rebuilt (the next picture is then a keyframe); small changes are ignored.
    pub fn set_bitrate(&mut self, bps: u32) -> Result<(), CodecError> {
        let old = f64::from(self.config.bitrate_bps);
        if (f64::from(bps) - old).abs() < old * 0.15 {
            return Ok(());
        }
        self.config.bitrate_bps = bps;
        self.inner = build(&self.config)?;
        Ok(())
    }

    /// Encodes one picture; `None` when the rate control skipped it.
    pub fn encode(&mut self, picture: &I420Frame) -> Result<Option<EncodedVideo>, CodecError> {
        let bits = self.inner.encode(picture).map_err(h264_error)?;
        let keyframe = matches!(bits.frame_type(), FrameType::IDR | FrameType::I);
        if matches!(bits.frame_type(), FrameType::Skip | FrameType::Invalid) {
            return Ok(None);
        }
        let data = bits.to_vec();
        Ok((!data.is_empty()).then_some(EncodedVideo { data, keyframe }))
    }
}

fn build(config: &VideoEncoderConfig) -> Result<Encoder, CodecError> {
    let settings = EncoderConfig::new()
        .bitrate(BitRate::from_bps(config.bitrate_bps))
        .max_frame_rate(FrameRate::from_hz(config.fps as f32))
        .usage_type(UsageType::CameraVideoRealTime)
        .rate_control_mode(RateControlMode::Bitrate)
        .level(Level::Level_3_1)
        .intra_frame_period(IntraFramePeriod::from_num_frames(
            config.fps.max(1) * config.keyframe_interval_secs.max(1),
        ));
    Encoder::with_api_config(OpenH264API::from_source(), settings).map_err(h264_error)
}

pub struct H264Decoder {
    inner: Decoder,
}

impl H264Decoder {
    pub fn new() -> Result<Self, CodecError> {
        Ok(Self {
            inner: Decoder::new().map_err(h264_error)?,
        })
    }

    /// Decodes one Annex-B access unit. `Ok(None)`: the decoder needs more data. An error
    /// means the stream is damaged; ask the sender for a keyframe.
    pub fn decode(&mut self, access_unit: &[u8]) -> Result<Option<I420Frame>, CodecError> {
        let decoded = self.inner.decode(access_unit).map_err(h264_error)?;
        Ok(decoded.map(|yuv| {
            I420Frame::from_planes(yuv.dimensions(), (yuv.y(), yuv.u(), yuv.v()), yuv.strides())
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::synthetic::TestPattern;
    use crate::stamp;
    use std::time::SystemTime;

    #[test]
    fn stamps_survive_encode_and_decode() {
        let pattern = TestPattern::new(640, 360, 30);
        let mut enc = H264Encoder::new(VideoEncoderConfig::default()).unwrap();
        let mut dec = H264Decoder::new().unwrap();
        let mut keyframes = 0;
        let mut decoded = Vec::new();
        for n in 0..30 {
            if n == 20 {
                enc.request_keyframe();
            }
            let Some(out) = enc.encode(&pattern.render(n, SystemTime::now())).unwrap() else {
                continue;
            };
            if out.keyframe {
                keyframes += 1;
                // Annex-B with SPS up front.
                assert_eq!(&out.data[..4], &[0, 0, 0, 1]);
            }
            if let Some(picture) = dec.decode(&out.data).unwrap() {
                assert_eq!((picture.width, picture.height), (640, 360));
                decoded.push(stamp::read(&picture).map(|s| s.frame_number));
            }
        }
        assert!(
            keyframes >= 2,
            "first frame and the requested one: {keyframes}"
        );
        assert!(decoded.len() >= 25, "{}", decoded.len());
        let numbers: Vec<u32> = decoded.iter().map(|n| n.expect("stamp readable")).collect();
        assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
    }

    #[test]
    fn garbage_is_an_error_not_a_crash() {
        let mut dec = H264Decoder::new().unwrap();
        let junk: Vec<u8> = (0..500u32).map(|i| (i * 7919 % 251) as u8).collect();
        let mut au = vec![0, 0, 0, 1, 0x65];
        au.extend(junk);
        // Either refused or decoded to nothing; never a panic.
        let _ = dec.decode(&au);
        let _ = dec.decode(&[]);
    }
}
