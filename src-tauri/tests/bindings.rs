//! The UI's bindings to the app's commands are the ones the app registers: a command or type
//! changed without regenerating `ui/src/native/bindings.ts` fails here.

use parlor_app::bindings::{export, UI_PATH};
use std::path::PathBuf;

#[test]
fn ui_bindings_match_the_commands() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(UI_PATH);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let fresh = dir.path().join("bindings.ts");
    export(&fresh).expect("export the bindings");
    let rendered = std::fs::read_to_string(&fresh).expect("read the export");
    if std::env::var_os("PARLOR_WRITE_TS").is_some() {
        std::fs::write(&path, &rendered).expect("write the UI's bindings");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == rendered,
        "{UI_PATH} differs from the app's commands; regenerate it with \
         `PARLOR_WRITE_TS=1 cargo test -p parlor-app --test bindings`"
    );
}
