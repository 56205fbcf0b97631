//! The UI's protocol types are the ones this crate renders: a change to a message that is not
//! carried into `ui/src/protocol.ts` fails here.

use parlor_protocol::typescript::{render, UI_PATH};
use std::path::PathBuf;

#[test]
fn ui_types_match_the_protocol() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(UI_PATH);
    let rendered = render();
    if std::env::var_os("PARLOR_WRITE_TS").is_some() {
        std::fs::write(&path, &rendered).expect("write the UI's protocol module");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == rendered,
        "{UI_PATH} differs from the protocol; regenerate it with \
         `PARLOR_WRITE_TS=1 cargo test -p parlor-protocol --test typescript`"
    );
}
