//! What the app keeps between commands.

use crate::frames::{FrameEndpoint, Frames};
use parlor_media::call::MediaSession;
use parlor_media::playback::Playback;

/// The call's playback, shared with the task that feeds it remote audio (a speaker chosen
/// during the call replaces it).
pub type PlaybackSlot = std::sync::Arc<std::sync::Mutex<Option<std::sync::Arc<Playback>>>>;

pub struct AppState {
    /// The call's media, while the page is in a meeting.
    pub media: tokio::sync::Mutex<Option<MediaSession>>,
    /// Where the call's remote audio plays, while there is a call.
    pub playback: PlaybackSlot,
    pub frames: Frames,
    pub frame_endpoint: FrameEndpoint,
    /// `--report FILE`.
    pub report_path: Option<std::path::PathBuf>,
    /// Where the app keeps its own files (the hosted server's among them).
    pub data_dir: std::path::PathBuf,
    /// The meeting hosted on this computer, while there is one.
    pub hosting: tokio::sync::Mutex<Option<crate::commands::host::Hosting>>,
    /// What commands may do to the running app; set once it runs (absent in tests).
    pub hooks: std::sync::OnceLock<Hooks>,
}

/// The running app's part in commands, kept free of its runtime type.
pub struct Hooks {
    /// Ends the app.
    pub exit: Box<dyn Fn() + Send + Sync>,
    /// A call started (`true`) or ended.
    pub in_call: Box<dyn Fn(bool) + Send + Sync>,
    /// Makes the web view accept a certificate (PEM) from a host; returns once it does.
    pub allow_certificate: Box<dyn Fn(String, String) -> Result<(), String> + Send + Sync>,
}

impl AppState {
    pub fn new(
        frames: Frames,
        frame_endpoint: FrameEndpoint,
        report_path: Option<std::path::PathBuf>,
        data_dir: std::path::PathBuf,
    ) -> Self {
        Self {
            media: tokio::sync::Mutex::default(),
            playback: PlaybackSlot::default(),
            frames,
            frame_endpoint,
            report_path,
            data_dir,
            hosting: tokio::sync::Mutex::default(),
            hooks: std::sync::OnceLock::new(),
        }
    }
}
