//! `parlor-app --report FILE`: once a second the page says what the window shows (the dialog
//! asking something, if any, with its buttons; in a meeting each tile, where it is and how
//! many pictures it has drawn) and what the call measured, and it is written to FILE as JSON.
//! For support, and for checking a running app from outside.

use crate::commands::media::{StageCpu, TrackStats};
use crate::error::AppError;
use crate::state::AppState;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use tauri::State;

/// Where something is, in CSS pixels within the window's page.
#[derive(Clone, Debug, Serialize, Deserialize, specta::Type)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// One participant's tile.
#[derive(Clone, Debug, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct TileReport {
    pub peer_id: String,
    pub name: String,
    pub is_self: bool,
    #[serde(flatten)]
    pub at: Rect,
}

/// Pictures a track's canvas received from the frame server and drew.
#[derive(Clone, Debug, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DrawnReport {
    pub received: u32,
    pub drawn: u32,
    /// `webgl` or `2d`.
    pub painter: Option<String>,
}

/// A button.
#[derive(Clone, Debug, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ButtonReport {
    pub label: String,
    pub enabled: bool,
    #[serde(flatten)]
    pub at: Rect,
}

/// A question the page is asking (an element with the dialog or alertdialog role).
#[derive(Clone, Debug, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DialogReport {
    pub title: String,
    /// All of its text.
    pub text: String,
    pub buttons: Vec<ButtonReport>,
}

/// What a meeting page adds: its tiles, what they drew, and the call's measures.
#[derive(Clone, Debug, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CallReport {
    pub tiles: Vec<TileReport>,
    /// By track id; the self view is `local`.
    pub drawn: HashMap<String, DrawnReport>,
    pub stats: Vec<TrackStats>,
    /// CPU per media stage (native), and time the page spent drawing pictures.
    pub cpu: StageCpu,
    pub draw_ms: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PageReport {
    /// The page's top-left corner in screen pixels, and its scale.
    pub page_x: f64,
    pub page_y: f64,
    pub scale: f64,
    /// The page's address within the app, e.g. `/m/abc-defg-hij`.
    pub path: String,
    /// The meeting open, by code.
    pub meeting: Option<String>,
    /// The server the page talks to.
    pub server: Option<String>,
    pub dialog: Option<DialogReport>,
    /// In a meeting.
    pub call: Option<CallReport>,
}

/// Whether the app was started with `--report`.
#[tauri::command]
#[specta::specta]
pub fn report_wanted(state: State<'_, AppState>) -> bool {
    state.report_path.is_some()
}

/// Writes the page's report to the `--report` file.
#[tauri::command]
#[specta::specta]
pub fn report(state: State<'_, AppState>, report: PageReport) -> Result<(), AppError> {
    let Some(path) = &state.report_path else {
        return Ok(());
    };
    let io = |e: std::io::Error| AppError::Report(e.to_string());
    let json = serde_json::to_vec_pretty(&report).map_err(|e| AppError::Report(e.to_string()))?;
    // Whole files only: write beside it, then rename over it.
    let partial = path.with_extension("partial");
    std::fs::write(&partial, json).map_err(io)?;
    std::fs::rename(&partial, path).map_err(io)
}
