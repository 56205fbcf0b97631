//! Opus at 48 kHz mono in 20 ms frames, with in-band FEC and DTX.

use super::CodecError;
use crate::frame::{AudioFrame, FRAME_SAMPLES, SAMPLE_RATE};
use opus::{Application, Bitrate, Channels, Decoder, Encoder};

/// Largest Opus packet produced (RFC 6716 allows 1275 bytes per frame).
const MAX_PACKET: usize = 1500;

fn opus_error(e: opus::Error) -> CodecError {
    CodecError::Opus(e.to_string())
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AudioEncoderConfig {
    pub bitrate_bps: i32,
    /// Expected loss, which sizes the in-band FEC.
    pub packet_loss_percent: i32,
    pub dtx: bool,
}

impl Default for AudioEncoderConfig {
    fn default() -> Self {
        Self {
            bitrate_bps: 32_000,
            packet_loss_percent: 10,
            dtx: true,
        }
    }
}

pub struct OpusEncoder {
    inner: Encoder,
    buf: Vec<u8>,
}

impl OpusEncoder {
    pub fn new(config: AudioEncoderConfig) -> Result<Self, CodecError> {
        let mut inner =
            Encoder::new(SAMPLE_RATE, Channels::Mono, Application::Voip).map_err(opus_error)?;
        inner
            .set_bitrate(Bitrate::Bits(config.bitrate_bps))
            .map_err(opus_error)?;
        inner.set_inband_fec(true).map_err(opus_error)?;
        inner
            .set_packet_loss_perc(config.packet_loss_percent)
            .map_err(opus_error)?;
        inner.set_dtx(config.dtx).map_err(opus_error)?;
        Ok(Self {
            inner,
            buf: vec![0; MAX_PACKET],
        })
    }

    /// One 20 ms frame in, one packet out. During silence with DTX the packets are tiny (one
    /// or two bytes) and may be left unsent.
    pub fn encode(&mut self, frame: &AudioFrame) -> Result<Vec<u8>, CodecError> {
        if frame.samples.len() != FRAME_SAMPLES {
            return Err(CodecError::Opus(format!(
                "a frame is {FRAME_SAMPLES} samples, not {}",
                frame.samples.len()
            )));
        }
        let n = self
            .inner
            .encode(&frame.samples, &mut self.buf)
            .map_err(opus_error)?;
        Ok(self.buf[..n].to_vec())
    }
}

pub struct OpusDecoder {
    inner: Decoder,
}

impl OpusDecoder {
    pub fn new() -> Result<Self, CodecError> {
        Ok(Self {
            inner: Decoder::new(SAMPLE_RATE, Channels::Mono).map_err(opus_error)?,
        })
    }

    pub fn decode(&mut self, packet: &[u8]) -> Result<AudioFrame, CodecError> {
        self.run(packet, false)
    }

    /// A frame that was lost: rebuilt from the FEC data in the packet after it when that has
    /// arrived, else concealed.
    pub fn recover(&mut self, next_packet: Option<&[u8]>) -> Result<AudioFrame, CodecError> {
        match next_packet {
            Some(p) => self.run(p, true),
            None => self.run(&[], false),
        }
    }

    fn run(&mut self, packet: &[u8], fec: bool) -> Result<AudioFrame, CodecError> {
        let mut samples = vec![0i16; FRAME_SAMPLES];
        let n = self
            .inner
            .decode(packet, &mut samples, fec)
            .map_err(opus_error)?;
        samples.truncate(n);
        samples.resize(FRAME_SAMPLES, 0);
        Ok(AudioFrame { samples })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::synthetic::{is_mark, Tone};
    use crate::capture::AudioSource;

    #[test]
    fn tone_and_marks_survive() {
        let mut tone = Tone::new(false);
        let mut enc = OpusEncoder::new(AudioEncoderConfig::default()).unwrap();
        let mut dec = OpusDecoder::new().unwrap();
        let mut marks = Vec::new();
        for i in 0..110 {
            let packet = enc.encode(&tone.next_frame().unwrap()).unwrap();
            assert!(packet.len() < 400, "about 32 kbit/s: {}", packet.len());
            let out = dec.decode(&packet).unwrap();
            if is_mark(&out.samples) {
                marks.push(i);
            }
        }
        // The codec delays by a few milliseconds: each mark shows in its frame or the next.
        assert_eq!(marks.len(), 3, "{marks:?}");
        for (got, want) in marks.iter().zip([0, 50, 100]) {
            assert!((want..=want + 1).contains(got), "{marks:?}");
        }
    }

    #[test]
    fn loss_is_concealed_or_recovered() {
        let mut tone = Tone::new(false);
        let mut enc = OpusEncoder::new(AudioEncoderConfig::default()).unwrap();
        let mut dec = OpusDecoder::new().unwrap();
        let packets: Vec<Vec<u8>> = (0..20)
            .map(|_| enc.encode(&tone.next_frame().unwrap()).unwrap())
            .collect();
        for p in &packets[..10] {
            dec.decode(p).unwrap();
        }
        // Packet 10 lost; 11 arrived: FEC rebuilds 10.
        let rebuilt = dec.recover(Some(&packets[11])).unwrap();
        assert_eq!(rebuilt.samples.len(), FRAME_SAMPLES);
        assert!(rebuilt.samples.iter().any(|&s| s != 0), "FEC carried audio");
        dec.decode(&packets[11]).unwrap();
        let concealed = dec.recover(None).unwrap();
        assert_eq!(concealed.samples.len(), FRAME_SAMPLES);
        // A damaged packet is refused or decoded, never a crash, and the decoder goes on.
        let _ = dec.decode(&[0xff; 3]);
        let after = dec.decode(&packets[12]).unwrap();
        assert_eq!(after.samples.len(), FRAME_SAMPLES);
        let wrong = enc.encode(&AudioFrame {
            samples: vec![0; 10],
        });
        assert!(wrong.is_err());
    }
}
