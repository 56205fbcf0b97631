//! The app itself.

use crate::state::AppState;
use tauri::State;

/// Quits Parlor (after the page has left its call).
#[tauri::command]
#[specta::specta]
pub fn quit(state: State<'_, AppState>) {
    if let Some(hooks) = state.hooks.get() {
        (hooks.exit)();
    }
}
