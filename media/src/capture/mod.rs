//! Where media comes from: cameras and microphones, and synthetic sources beside them — a
//! moving test pattern that carries a [`crate::stamp`], and a tone with marks. Both kinds
//! sit behind the same traits so everything downstream is exercised without hardware.

pub mod synthetic;

#[cfg(feature = "camera")]
pub mod camera;
#[cfg(feature = "microphone")]
pub mod microphone;

use crate::frame::{AudioFrame, VideoFrame};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    #[error("no such device: {0}")]
    NoDevice(String),
    #[error("device {device}: {message}")]
    Device { device: String, message: String },
    #[error("{0} support is not part of this build")]
    Unsupported(&'static str),
}

/// Pictures, one per call.
pub trait VideoSource: Send {
    /// The next picture, waiting for it if the device paces capture.
    fn next_frame(&mut self) -> Result<VideoFrame, CaptureError>;
    /// The size pictures come in.
    fn size(&self) -> (usize, usize);
}

/// Audio in 20 ms frames.
pub trait AudioSource: Send {
    fn next_frame(&mut self) -> Result<AudioFrame, CaptureError>;
}

/// A capture or playback device as offered to the person choosing one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfo {
    /// What to pass back to open it.
    pub id: String,
    pub name: String,
    pub kind: DeviceKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    Camera,
    Microphone,
    Speaker,
}

/// Every device this machine offers, real ones first, the synthetic ones last. An empty list
/// of real devices is a valid answer; failing to ask is an error.
pub fn devices() -> Result<Vec<DeviceInfo>, CaptureError> {
    let mut all = Vec::new();
    #[cfg(feature = "camera")]
    all.extend(camera::list()?);
    #[cfg(feature = "microphone")]
    all.extend(microphone::list()?);
    all.extend(synthetic::devices());
    Ok(all)
}
