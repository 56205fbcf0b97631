//! What a command can answer instead of its result: a typed error the UI matches on by `code`
//! and shows by `message`.

use serde::Serialize;

#[derive(Debug, thiserror::Error, Serialize, specta::Type)]
#[serde(tag = "code", content = "message", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AppError {
    /// Listing or opening a camera, microphone or speaker failed.
    #[error("devices: {0}")]
    Devices(String),
    /// Something the UI passed in was not acceptable.
    #[error("{0}")]
    InvalidInput(String),
    /// Media for a call could not be set up or negotiated.
    #[error("media: {0}")]
    Media(String),
    /// A call command arrived while no call is running.
    #[error("no call is running")]
    NoCall,
    /// Hosting a meeting on this computer failed.
    #[error("hosting: {0}")]
    Host(String),
    /// A server could not be reached (or its certificate read).
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// A server presents another certificate than the one the person was shown.
    #[error("certificate changed: {0}")]
    CertificateChanged(String),
    /// The `--report` file could not be written.
    #[error("report: {0}")]
    Report(String),
}
