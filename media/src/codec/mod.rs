//! Codecs: H.264 through openh264 ([`h264`]) and Opus through libopus ([`opus`]).

pub mod h264;
pub mod opus;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    #[error("H.264: {0}")]
    H264(String),
    #[error("Opus: {0}")]
    Opus(String),
}
