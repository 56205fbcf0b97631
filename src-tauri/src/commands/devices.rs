//! Cameras, microphones and speakers, the synthetic sources among them.

use crate::error::AppError;
use parlor_media::capture::{self, DeviceKind as MediaKind};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    Camera,
    Microphone,
    Speaker,
}

/// A device as offered to the person choosing one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    /// What to pass back to use it.
    pub id: String,
    pub label: String,
    pub kind: DeviceKind,
    /// A generated test pattern or tone rather than hardware.
    pub synthetic: bool,
}

/// Every camera, microphone and speaker, real ones first and the synthetic sources last.
#[tauri::command]
#[specta::specta]
pub async fn devices() -> Result<Vec<Device>, AppError> {
    let list = tokio::task::spawn_blocking(capture::devices)
        .await
        .map_err(|e| AppError::Devices(e.to_string()))?
        .map_err(|e| AppError::Devices(e.to_string()))?;
    Ok(list
        .into_iter()
        .map(|d| Device {
            synthetic: d.id == capture::synthetic::SYNTHETIC,
            id: d.id,
            label: d.name,
            kind: match d.kind {
                MediaKind::Camera => DeviceKind::Camera,
                MediaKind::Microphone => DeviceKind::Microphone,
                MediaKind::Speaker => DeviceKind::Speaker,
            },
        })
        .collect())
}
