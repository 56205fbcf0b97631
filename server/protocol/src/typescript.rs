//! The protocol as TypeScript, for `ui/`: one module declaring every message and body, generated
//! from these Rust types so the two cannot drift apart (a test compares the committed file with
//! what this renders).

use ts_rs::{Config, TS};

/// Where the generated module lives, relative to the workspace root.
pub const UI_PATH: &str = "ui/src/protocol.ts";

macro_rules! declare {
    ($out:ident, $cfg:ident: $($t:ty),* $(,)?) => {
        $(
            $out.push_str("export ");
            $out.push_str(&<$t as TS>::decl(&$cfg));
            $out.push_str("\n\n");
        )*
    };
}

/// Renders the module.
pub fn render() -> String {
    use crate::api::*;
    use crate::error::*;
    use crate::ids::*;
    use crate::signal::*;
    // Times are milliseconds since the epoch: well inside a JavaScript number.
    let cfg = Config::new().with_large_int("number");
    let mut out = String::from(
        "// Generated from the parlor-protocol crate; do not edit. Regenerate with\n\
         // `PARLOR_WRITE_TS=1 cargo test -p parlor-protocol --test typescript`.\n\n",
    );
    declare!(out, cfg:
        UserId, ParticipantId, TrackId, MeetingCode,
        ErrorCode, ErrorBody,
        GuestTokenRequest, TokenResponse, RegisterRequest, LoginRequest, User, Me,
        MediaMode, MeetingStatus, EndReason, CreateMeetingRequest, Meeting, ParticipantRecord,
        Readiness, DependencyCheck,
        Role, TransportKind, TrackKind, Target, TrackInfo, IceCandidate, PeerInfo, ChatMessage,
        LeaveReason, ClientMessage, ServerMessage,
    );
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}
