//! What the app keeps between commands.

use crate::frames::{FrameEndpoint, Frames};
use parlor_media::call::MediaSession;
use parlor_media::playback::Playback;

pub struct AppState {
    /// The call's media, while the page is in a meeting.
    pub media: tokio::sync::Mutex<Option<MediaSession>>,
    /// Where the call's remote audio plays, while there is a call.
    pub playback: std::sync::Mutex<Option<std::sync::Arc<Playback>>>,
    pub frames: Frames,
    pub frame_endpoint: FrameEndpoint,
    /// `--report FILE`.
    pub report_path: Option<std::path::PathBuf>,
}

impl AppState {
    pub fn new(
        frames: Frames,
        frame_endpoint: FrameEndpoint,
        report_path: Option<std::path::PathBuf>,
    ) -> Self {
        Self {
            media: tokio::sync::Mutex::default(),
            playback: std::sync::Mutex::default(),
            frames,
            frame_endpoint,
            report_path,
        }
    }
}
