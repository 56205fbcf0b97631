//! Points the embedded web UI at `ui/dist` by its canonical path, and rebuilds the server
//! when the UI is rebuilt.
//!
//! The canonical path matters for debug builds, which read the files from disk: the embedding
//! only serves files whose canonical path starts with the folder's, and a folder named through
//! `..` that did not exist yet when the server was compiled would never match.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let ui = manifest.join("../ui");
    let ui = ui.canonicalize().unwrap_or(ui);
    let dist = ui.join("dist");
    // Until the UI is first built, watch the folder it will appear in.
    let watch = if dist.exists() { &dist } else { &ui };
    println!("cargo::rerun-if-changed={}", watch.display());
    println!("cargo::rustc-env=PARLOR_UI_DIST={}", dist.display());
}
