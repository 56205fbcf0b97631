//! `parlor-app --report FILE`: once a second the meeting page says what the window shows
//! (each tile, where it is, how many pictures it has drawn) and what the call measured, and
//! it is written to FILE as JSON. For support, and for checking a running app from outside.

use crate::commands::media::{StageCpu, TrackStats};
use crate::error::AppError;
use crate::state::AppState;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use tauri::State;

/// One participant's tile, in CSS pixels within the window's page.
#[derive(Clone, Debug, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct TileReport {
    pub peer_id: String,
    pub name: String,
    pub is_self: bool,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
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

#[derive(Clone, Debug, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PageReport {
    /// The page's top-left corner in screen pixels, and its scale.
    pub page_x: f64,
    pub page_y: f64,
    pub scale: f64,
    pub meeting: Option<String>,
    /// The server the page talks to.
    pub server: Option<String>,
    pub tiles: Vec<TileReport>,
    /// By track id; the self view is `local`.
    pub drawn: HashMap<String, DrawnReport>,
    pub stats: Vec<TrackStats>,
    /// CPU per media stage (native), and time the page spent drawing pictures.
    pub cpu: StageCpu,
    pub draw_ms: f64,
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
