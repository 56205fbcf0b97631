//! Parlor's desktop app: the web UI in a native window, with camera, microphone, codecs and
//! drawing done natively by `parlor-media`. This file only wires the parts together.

pub mod bindings;
pub mod commands;
pub mod error;
pub mod frames;
pub mod launch;
pub mod state;
pub mod window;

use tauri::{Manager, Runtime};

/// The app's commands, state and events on any Tauri builder (the real one, or the mock
/// runtime's in tests).
pub fn setup<R: Runtime>(
    builder: tauri::Builder<R>,
    launch: &launch::Launch,
) -> std::io::Result<(tauri::Builder<R>, tauri_specta::Builder<R>)> {
    let specta = bindings::builder::<R>();
    let (frames, endpoint, server) = frames::bind()?;
    tauri::async_runtime::spawn(server.run());
    let builder = builder
        .manage(state::AppState::new(
            frames,
            endpoint,
            launch.report.clone(),
            launch.data_dir(),
        ))
        .invoke_handler(specta.invoke_handler());
    Ok((builder, specta))
}

/// Opens the window and runs until it closes.
pub fn run(launch: launch::Launch) {
    let result = setup(tauri::Builder::default(), &launch)
        .map_err(tauri::Error::from)
        .and_then(|(builder, specta)| {
            builder
                .plugin(tauri_plugin_window_state::Builder::default().build())
                .on_window_event(window::on_window_event)
                .setup(move |app| {
                    specta.mount_events(app);
                    let (quit, tray) = (app.handle().clone(), app.handle().clone());
                    let webview = app.handle().clone();
                    let _ = app.state::<state::AppState>().hooks.set(state::Hooks {
                        exit: Box::new(move || quit.exit(0)),
                        in_call: Box::new(move |on| window::show_in_tray(&tray, on)),
                        allow_certificate: Box::new(move |pem, host| {
                            window::allow_certificate(&webview, &pem, &host)
                        }),
                    });
                    window::tray(app.handle())?;
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
