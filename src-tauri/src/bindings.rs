//! The commands and events the UI can use, and the TypeScript module generated from them
//! (`ui/src/native/bindings.ts`, checked for drift by a test).

use crate::commands;
use tauri::Runtime;
use tauri_specta::{collect_commands, collect_events};

/// Where the generated module lives, from the workspace root.
pub const UI_PATH: &str = "ui/src/native/bindings.ts";

/// Every command and event, for the invoke handler and for the TypeScript module alike.
pub fn builder<R: Runtime>() -> tauri_specta::Builder<R> {
    use crate::window::{CloseRequested, LeaveRequested};
    use commands::{app, devices, host, media, report, trust};
    tauri_specta::Builder::<R>::new()
        .events(collect_events![CloseRequested, LeaveRequested])
        .commands(collect_commands![
            app::quit,
            host::host_start,
            host::host_info,
            host::host_stop,
            devices::devices,
            media::media_start,
            media::media_publish_answer,
            media::media_subscribe_offer,
            media::media_set,
            media::media_use_device,
            media::media_stats,
            media::media_stop,
            media::media_levels,
            media::media_cpu,
            media::frame_endpoint,
            report::report_wanted,
            report::report,
            trust::server_certificate,
            trust::trust_server,
            trust::nearby_meetings,
        ])
}

/// Writes the TypeScript module to `path`.
pub fn export(path: &std::path::Path) -> Result<(), String> {
    builder::<tauri::Wry>()
        .export(
            specta_typescript::Typescript::default()
                .header("// Generated from src-tauri by `PARLOR_WRITE_TS=1 cargo test -p parlor-app --test bindings`; do not edit.\n"),
            path,
        )
        .map_err(|e| e.to_string())
}
