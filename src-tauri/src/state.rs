//! What the app keeps between commands.

use crate::frames::{FrameEndpoint, Frames};
use parlor_media::call::MediaSession;

pub struct AppState {
    /// The call's media, while the page is in a meeting.
    pub media: tokio::sync::Mutex<Option<MediaSession>>,
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
            frames,
            frame_endpoint,
            report_path,
        }
    }
}
