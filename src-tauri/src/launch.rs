//! How the app was started, and its window. `parlor-app --join LINK --name NAME` opens
//! straight into a meeting; `--server URL` picks the server the home page talks to.

use serde::Serialize;
use tauri::{AppHandle, Runtime, WebviewUrl, WebviewWindowBuilder};

#[derive(Clone, Debug, Default, Serialize, clap::Parser)]
#[serde(rename_all = "camelCase")]
#[command(name = "parlor-app", version, about = "Parlor: video meetings")]
pub struct Launch {
    /// The Parlor server to use, e.g. http://192.168.1.20:8080
    #[arg(long)]
    pub server: Option<String>,
    /// A meeting to open: its link (http://host:port/m/abc-defg-hij) or code
    #[arg(long)]
    pub join: Option<String>,
    /// Join the meeting under this name without asking
    #[arg(long)]
    pub name: Option<String>,
    /// Host a meeting with this title on this computer at start
    #[arg(long, value_name = "TITLE")]
    pub host: Option<String>,
    /// The address to host on [default: this machine's network address]
    #[arg(long, value_name = "IP")]
    pub host_address: Option<String>,
    /// Where the app keeps its files [default: the per-user data directory]
    #[arg(long, value_name = "DIR")]
    #[serde(skip)]
    pub data_dir: Option<std::path::PathBuf>,
    /// Write what the window shows and what the call measures to this file, once a second
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    pub report: Option<std::path::PathBuf>,
}

impl Launch {
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.data_dir.clone().unwrap_or_else(|| {
            dirs::data_dir()
                .unwrap_or_else(std::env::temp_dir)
                .join("parlor-app")
        })
    }
}

/// The script that hands the launch options to the page before it runs.
pub fn init_script(launch: &Launch) -> String {
    let json = serde_json::to_string(launch).unwrap_or_else(|_| "{}".into());
    format!("window.__PARLOR_LAUNCH__ = {json};")
}

pub fn open_window<R: Runtime>(app: &AppHandle<R>, launch: &Launch) -> tauri::Result<()> {
    WebviewWindowBuilder::new(app, "main", WebviewUrl::App("index.html".into()))
        .title("Parlor")
        .inner_size(1200.0, 800.0)
        .min_inner_size(360.0, 480.0)
        .initialization_script(init_script(launch))
        .build()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn launch_options_reach_the_page_as_json() {
        let launch = Launch::parse_from([
            "parlor-app",
            "--join",
            "http://127.0.0.1:8080/m/abc-defg-hij",
            "--name",
            "Ada \"A\" </script>",
        ]);
        let script = init_script(&launch);
        let json = script
            .strip_prefix("window.__PARLOR_LAUNCH__ = ")
            .and_then(|s| s.strip_suffix(';'))
            .expect("the script's shape");
        let back: serde_json::Value = serde_json::from_str(json).expect("valid JSON");
        assert_eq!(back["join"], "http://127.0.0.1:8080/m/abc-defg-hij");
        assert_eq!(back["name"], "Ada \"A\" </script>");
        assert!(back["server"].is_null());
    }
}
