//! What people expect of the window: it comes back where it was (size and position), closing
//! it during a call asks first, and while in a call Parlor sits in the tray.

use crate::state::AppState;
use serde::{Deserialize, Serialize};
use tauri::menu::{Menu, MenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Runtime, WindowEvent};
use tauri_specta::Event;

/// The window's close button was pressed during a call; the page asks whether to leave.
#[derive(Clone, Debug, Serialize, Deserialize, specta::Type, Event)]
pub struct CloseRequested;

/// The tray's "Leave the call" was chosen.
#[derive(Clone, Debug, Serialize, Deserialize, specta::Type, Event)]
pub struct LeaveRequested;

/// Whether a call's media is running.
pub fn in_call<R: Runtime>(app: &AppHandle<R>) -> bool {
    app.try_state::<AppState>()
        .is_some_and(|s| s.media.try_lock().map_or(true, |m| m.is_some()))
}

/// Closing during a call is held back and handed to the page to confirm.
pub fn on_window_event<R: Runtime>(window: &tauri::Window<R>, event: &WindowEvent) {
    if let WindowEvent::CloseRequested { api, .. } = event {
        if in_call(window.app_handle()) {
            api.prevent_close();
            let _ = CloseRequested.emit(window.app_handle());
        }
    }
}

/// The tray icon, hidden until a call starts.
pub fn tray<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<TrayIcon<R>> {
    let show = MenuItem::with_id(app, "show", "Show Parlor", true, None::<&str>)?;
    let leave = MenuItem::with_id(app, "leave", "Leave the call", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit Parlor", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&show, &leave, &quit])?;
    let mut builder = TrayIconBuilder::with_id("call")
        .tooltip("Parlor: in a call")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "show" => {
                if let Some(w) = app.get_webview_window("main") {
                    let _ = w.unminimize();
                    let _ = w.show();
                    let _ = w.set_focus();
                }
            }
            "leave" => {
                let _ = LeaveRequested.emit(app);
            }
            "quit" => app.exit(0),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    let tray = builder.build(app)?;
    tray.set_visible(false)?;
    Ok(tray)
}

/// Shows the tray icon during calls.
pub fn show_in_tray<R: Runtime>(app: &AppHandle<R>, in_call: bool) {
    if let Some(tray) = app.tray_by_id("call") {
        let _ = tray.set_visible(in_call);
    }
}

/// Makes the main window's web view accept the certificate `pem` from `host` (WebKitGTK keeps
/// such exceptions per host for the life of the app), and waits until it has.
pub fn allow_certificate<R: Runtime>(
    app: &AppHandle<R>,
    pem: &str,
    host: &str,
) -> Result<(), String> {
    let window = app
        .get_webview_window("main")
        .ok_or("the window is not open")?;
    let (pem, host) = (pem.to_owned(), host.to_owned());
    let (done, allowed) = std::sync::mpsc::channel::<Result<(), String>>();
    window
        .with_webview(move |webview| {
            #[cfg(target_os = "linux")]
            let outcome = {
                use webkit2gtk::{WebContextExt, WebViewExt};
                match (
                    gio::TlsCertificate::from_pem(&pem),
                    webview.inner().context(),
                ) {
                    (Ok(certificate), Some(context)) => {
                        context.allow_tls_certificate_for_host(&certificate, &host);
                        Ok(())
                    }
                    (Err(e), _) => Err(format!("unreadable certificate: {e}")),
                    (_, None) => Err("the web view has no context".to_owned()),
                }
            };
            #[cfg(not(target_os = "linux"))]
            let outcome = {
                let _ = (webview, &pem, &host);
                Err("trusting a server's own certificate is only built for Linux".to_owned())
            };
            let _ = done.send(outcome);
        })
        .map_err(|e| e.to_string())?;
    allowed
        .recv_timeout(std::time::Duration::from_secs(5))
        .map_err(|_| "the web view did not answer".to_owned())?
}
