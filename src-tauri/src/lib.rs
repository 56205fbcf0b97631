//! Parlor's desktop app: the web UI in a native window, with camera, microphone, codecs and
//! drawing done natively by `parlor-media`. This file only wires the parts together.

pub mod bindings;
pub mod commands;
pub mod error;
pub mod frames;
pub mod launch;
pub mod state;

use tauri::Runtime;

/// The app's commands, state and start-up on any Tauri builder (the real one, or the mock
/// runtime's in tests).
pub fn setup<R: Runtime>(
    builder: tauri::Builder<R>,
    launch: &launch::Launch,
) -> std::io::Result<tauri::Builder<R>> {
    let specta = bindings::builder::<R>();
    let (frames, endpoint, server) = frames::bind()?;
    tauri::async_runtime::spawn(server.run());
    Ok(builder
        .manage(state::AppState::new(
            frames,
            endpoint,
            launch.report.clone(),
        ))
        .invoke_handler(specta.invoke_handler()))
}

/// Opens the window and runs until it closes.
pub fn run(launch: launch::Launch) {
    let result = setup(tauri::Builder::default(), &launch)
        .map_err(tauri::Error::from)
        .and_then(|b| {
            b.setup(move |app| {
                launch::open_window(app.handle(), &launch)?;
                Ok(())
            })
            .run(tauri::generate_context!())
        });
    if let Err(e) = result {
        eprintln!("Parlor could not start: {e}");
        std::process::exit(1);
    }
}
