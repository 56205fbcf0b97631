//! Signaling messages: JSON objects tagged by `"type"`.
//!
//! Any client message may carry a `requestId`; an `error` caused by it echoes that id.

use crate::api::{EndReason, Meeting};
use crate::error::{ErrorBody, ErrorCode};
use crate::ids::{MeetingCode, ParticipantId, TrackId};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A participant's role in a meeting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Host,
    Participant,
}

/// A participant's two media transports to the SFU: it offers on `publish` and answers the
/// server's offers on `subscribe`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    Publish,
    Subscribe,
}

impl TransportKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Publish => "publish",
            Self::Subscribe => "subscribe",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum TrackKind {
    Audio,
    Video,
}

/// Where a negotiation message goes: omitted for a peer (P2P, with `peerId`), `"sfu"` for the
/// server's SFU (with `transport`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Sfu,
}

/// Where a client's `offer`, `answer` or `ice-candidate` is addressed, once checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    Peer(ParticipantId),
    Sfu(TransportKind),
}

impl Destination {
    /// `peerId` alone addresses a peer; `target: "sfu"` with a `transport` the SFU.
    pub fn of(
        peer_id: Option<&ParticipantId>,
        target: Option<Target>,
        transport: Option<TransportKind>,
    ) -> Result<Self, ErrorBody> {
        match (peer_id, target, transport) {
            (Some(p), None, None) => Ok(Self::Peer(p.clone())),
            (None, Some(Target::Sfu), Some(t)) => Ok(Self::Sfu(t)),
            (None, Some(Target::Sfu), None) => Err(ErrorBody::new(
                ErrorCode::InvalidMessage,
                "a message for the SFU needs \"transport\": \"publish\" or \"subscribe\"",
            )),
            _ => Err(ErrorBody::new(
                ErrorCode::InvalidMessage,
                "address either a peer (\"peerId\") or the SFU (\"target\": \"sfu\" with \"transport\")",
            )),
        }
    }
}

/// A track in a room, as announced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TrackInfo {
    pub peer_id: ParticipantId,
    pub track_id: TrackId,
    pub kind: TrackKind,
}

/// An ICE candidate as the browser's `RTCIceCandidateInit` has it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct IceCandidate {
    pub candidate: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    #[serde(
        default,
        rename = "sdpMLineIndex",
        skip_serializing_if = "Option::is_none"
    )]
    pub sdp_m_line_index: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_fragment: Option<String>,
}

/// Messages a client sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
#[ts(optional_fields)]
pub enum ClientMessage {
    /// Enter a meeting. With the `resumeToken` from an earlier `joined`, take back that
    /// participant (same id, same place) after a dropped connection.
    Join {
        room_id: MeetingCode,
        #[serde(default)]
        resume_token: Option<String>,
        #[serde(default)]
        request_id: Option<String>,
    },
    Leave {
        #[serde(default)]
        request_id: Option<String>,
    },
    /// To a peer (P2P relay: delivered with `peerId` rewritten to the sender) or, with
    /// `target: "sfu"`, to the SFU on the `publish` transport.
    Offer {
        #[serde(default)]
        peer_id: Option<ParticipantId>,
        #[serde(default)]
        target: Option<Target>,
        #[serde(default)]
        transport: Option<TransportKind>,
        sdp: String,
        #[serde(default)]
        request_id: Option<String>,
    },
    /// To a peer, or to the SFU on the `subscribe` transport.
    Answer {
        #[serde(default)]
        peer_id: Option<ParticipantId>,
        #[serde(default)]
        target: Option<Target>,
        #[serde(default)]
        transport: Option<TransportKind>,
        sdp: String,
        #[serde(default)]
        request_id: Option<String>,
    },
    #[serde(rename = "ice-candidate")]
    IceCandidate {
        #[serde(default)]
        peer_id: Option<ParticipantId>,
        #[serde(default)]
        target: Option<Target>,
        #[serde(default)]
        transport: Option<TransportKind>,
        candidate: IceCandidate,
        #[serde(default)]
        request_id: Option<String>,
    },
    /// Receive this track (everyone receives every track until they choose).
    Subscribe {
        track_id: TrackId,
        #[serde(default)]
        request_id: Option<String>,
    },
    /// Stop receiving this track.
    Unsubscribe {
        track_id: TrackId,
        #[serde(default)]
        request_id: Option<String>,
    },
    Chat {
        text: String,
        #[serde(default)]
        request_id: Option<String>,
    },
    MediaState {
        mic: bool,
        camera: bool,
        #[serde(default)]
        request_id: Option<String>,
    },
    /// Host only.
    MuteParticipant {
        peer_id: ParticipantId,
        #[serde(default)]
        request_id: Option<String>,
    },
    /// Host only.
    RemoveParticipant {
        peer_id: ParticipantId,
        #[serde(default)]
        request_id: Option<String>,
    },
    /// Host only.
    EndMeeting {
        #[serde(default)]
        request_id: Option<String>,
    },
    Ping {
        #[serde(default)]
        request_id: Option<String>,
    },
}

impl ClientMessage {
    /// Every `type` a client may send, for telling an unknown type from a malformed message.
    pub const TYPES: &'static [&'static str] = &[
        "join",
        "leave",
        "offer",
        "answer",
        "ice-candidate",
        "subscribe",
        "unsubscribe",
        "chat",
        "media_state",
        "mute_participant",
        "remove_participant",
        "end_meeting",
        "ping",
    ];

    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Join { .. } => "join",
            Self::Leave { .. } => "leave",
            Self::Offer { .. } => "offer",
            Self::Answer { .. } => "answer",
            Self::IceCandidate { .. } => "ice-candidate",
            Self::Subscribe { .. } => "subscribe",
            Self::Unsubscribe { .. } => "unsubscribe",
            Self::Chat { .. } => "chat",
            Self::MediaState { .. } => "media_state",
            Self::MuteParticipant { .. } => "mute_participant",
            Self::RemoveParticipant { .. } => "remove_participant",
            Self::EndMeeting { .. } => "end_meeting",
            Self::Ping { .. } => "ping",
        }
    }

    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Join { request_id, .. }
            | Self::Leave { request_id }
            | Self::Offer { request_id, .. }
            | Self::Answer { request_id, .. }
            | Self::IceCandidate { request_id, .. }
            | Self::Subscribe { request_id, .. }
            | Self::Unsubscribe { request_id, .. }
            | Self::Chat { request_id, .. }
            | Self::MediaState { request_id, .. }
            | Self::MuteParticipant { request_id, .. }
            | Self::RemoveParticipant { request_id, .. }
            | Self::EndMeeting { request_id }
            | Self::Ping { request_id } => request_id.as_deref(),
        }
    }
}

/// A peer as `joined` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PeerInfo {
    pub peer_id: ParticipantId,
    pub display_name: String,
    pub role: Role,
    pub mic: bool,
    pub camera: bool,
    /// True while the peer's connection is lost and it may still resume.
    pub reconnecting: bool,
}

/// One chat message, as broadcast and as kept for late joiners.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessage {
    pub id: String,
    pub peer_id: ParticipantId,
    pub display_name: String,
    pub text: String,
    /// Server time, milliseconds since the Unix epoch.
    pub sent_at: i64,
}

/// Why a peer left the room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    Left,
    /// Its connection dropped and it did not resume within the grace period.
    TimedOut,
    Removed,
    MeetingEnded,
    ServerShutdown,
}

impl LeaveReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Left => "left",
            Self::TimedOut => "timed_out",
            Self::Removed => "removed",
            Self::MeetingEnded => "meeting_ended",
            Self::ServerShutdown => "server_shutdown",
        }
    }
}

/// Messages the server sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum ServerMessage {
    Joined {
        participant_id: ParticipantId,
        role: Role,
        peers: Vec<PeerInfo>,
        chat: Vec<ChatMessage>,
        /// Tracks already published in the room (SFU meetings).
        tracks: Vec<TrackInfo>,
        meeting: Meeting,
        /// Present this in a later `join` to take this participant back after a drop.
        resume_token: String,
        /// True when this `joined` resumed an earlier participant.
        resumed: bool,
    },
    PeerJoined {
        peer_id: ParticipantId,
        display_name: String,
        role: Role,
        mic: bool,
        camera: bool,
    },
    PeerLeft {
        peer_id: ParticipantId,
        reason: LeaveReason,
    },
    /// A peer's connection dropped; it has the grace period to resume.
    PeerReconnecting {
        peer_id: ParticipantId,
    },
    /// From a peer (`peerId`), or from the SFU (`target: "sfu"`, on `subscribe`).
    Offer {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer_id: Option<ParticipantId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<Target>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        transport: Option<TransportKind>,
        sdp: String,
    },
    /// From a peer, or from the SFU (on `publish`).
    Answer {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer_id: Option<ParticipantId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<Target>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        transport: Option<TransportKind>,
        sdp: String,
    },
    #[serde(rename = "ice-candidate")]
    IceCandidate {
        peer_id: ParticipantId,
        candidate: IceCandidate,
    },
    TrackPublished(TrackInfo),
    TrackUnpublished(TrackInfo),
    /// Who is speaking now, loudest first; empty when nobody is.
    ActiveSpeakers {
        peer_ids: Vec<ParticipantId>,
    },
    Chat(ChatMessage),
    MediaState {
        peer_id: ParticipantId,
        mic: bool,
        camera: bool,
    },
    /// The host muted `peerId`; sent to everyone, the muted peer included.
    Muted {
        peer_id: ParticipantId,
        by: ParticipantId,
    },
    /// Sent to a participant the host removed, just before its connection closes.
    Removed {
        by: ParticipantId,
    },
    MeetingEnded {
        room_id: MeetingCode,
        reason: EndReason,
        ended_at: i64,
    },
    /// The acknowledgement of `leave`.
    Left {
        room_id: MeetingCode,
    },
    Pong,
    /// The server is going away; reconnect (and resume) shortly.
    ServerShutdown {
        reconnect_after_ms: u64,
    },
    Error(ErrorBody),
}

impl ServerMessage {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Joined { .. } => "joined",
            Self::PeerJoined { .. } => "peer_joined",
            Self::PeerLeft { .. } => "peer_left",
            Self::PeerReconnecting { .. } => "peer_reconnecting",
            Self::Offer { .. } => "offer",
            Self::Answer { .. } => "answer",
            Self::IceCandidate { .. } => "ice-candidate",
            Self::TrackPublished(_) => "track_published",
            Self::TrackUnpublished(_) => "track_unpublished",
            Self::ActiveSpeakers { .. } => "active_speakers",
            Self::Chat(_) => "chat",
            Self::MediaState { .. } => "media_state",
            Self::Muted { .. } => "muted",
            Self::Removed { .. } => "removed",
            Self::MeetingEnded { .. } => "meeting_ended",
            Self::Left { .. } => "left",
            Self::Pong => "pong",
            Self::ServerShutdown { .. } => "server_shutdown",
            Self::Error(_) => "error",
        }
    }

    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Error(ErrorBody::new(code, message))
    }

    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail: every map key is a string and no value is a
        // non-finite float.
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(r#"{{"type":"error","code":"internal","message":"encode: {e}"}}"#)
        })
    }
}

/// Turns one text frame into a client message, or into the error to answer it with.
///
/// Distinguishes malformed JSON (`bad_json`), a `type` that does not exist (`unknown_type`)
/// and a known type with wrong fields (`invalid_message`), and keeps the `requestId` when it
/// can be read so the error can echo it.
pub fn parse_client(text: &str) -> Result<ClientMessage, ErrorBody> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ErrorBody::new(ErrorCode::BadJson, format!("not valid JSON: {e}")))?;
    let request_id = value
        .get("requestId")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let fail =
        |code, message: String| ErrorBody::new(code, message).with_request_id(request_id.clone());
    let Some(obj) = value.as_object() else {
        return Err(fail(
            ErrorCode::InvalidMessage,
            "a message must be a JSON object".into(),
        ));
    };
    let Some(kind) = obj.get("type").and_then(|t| t.as_str()) else {
        return Err(fail(
            ErrorCode::InvalidMessage,
            "a message needs a string \"type\"".into(),
        ));
    };
    if !ClientMessage::TYPES.contains(&kind) {
        return Err(fail(
            ErrorCode::UnknownType,
            format!("unknown message type {kind:?}"),
        ));
    }
    serde_json::from_value(value.clone()).map_err(|e| {
        fail(
            ErrorCode::InvalidMessage,
            format!("bad {kind:?} message: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_seed_messages() {
        let join = parse_client(r#"{"type":"join","roomId":"abc-defg-hij"}"#).expect("join");
        assert_eq!(
            join,
            ClientMessage::Join {
                room_id: "abc-defg-hij".into(),
                resume_token: None,
                request_id: None
            }
        );
        let ice = parse_client(
            r#"{"type":"ice-candidate","peerId":"p1","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}}"#,
        )
        .expect("ice");
        assert_eq!(ice.type_name(), "ice-candidate");
    }

    #[test]
    fn every_listed_type_is_a_variant() {
        for t in ClientMessage::TYPES {
            let err = parse_client(&json!({ "type": t, "zzz": 1 }).to_string())
                .expect_err("unknown field must fail");
            assert_eq!(err.code, ErrorCode::InvalidMessage, "{t}");
        }
    }

    #[test]
    fn classifies_bad_input() {
        assert_eq!(
            parse_client("{not json").unwrap_err().code,
            ErrorCode::BadJson
        );
        assert_eq!(
            parse_client("[1,2]").unwrap_err().code,
            ErrorCode::InvalidMessage
        );
        assert_eq!(
            parse_client(r#"{"type":5}"#).unwrap_err().code,
            ErrorCode::InvalidMessage
        );
        let unknown = parse_client(r#"{"type":"teleport","requestId":"r7"}"#).unwrap_err();
        assert_eq!(unknown.code, ErrorCode::UnknownType);
        assert_eq!(unknown.request_id.as_deref(), Some("r7"));
        let missing = parse_client(r#"{"type":"offer","peerId":"x"}"#).unwrap_err();
        assert_eq!(missing.code, ErrorCode::InvalidMessage);
    }

    #[test]
    fn server_messages_are_tagged() {
        let m = ServerMessage::PeerJoined {
            peer_id: "p2".into(),
            display_name: "Bea".into(),
            role: Role::Participant,
            mic: true,
            camera: false,
        };
        let v: serde_json::Value = serde_json::from_str(&m.to_json()).expect("json");
        assert_eq!(v["type"], "peer_joined");
        assert_eq!(v["peerId"], "p2");
        assert_eq!(v["displayName"], "Bea");
        let e = ServerMessage::error(ErrorCode::Forbidden, "no").to_json();
        let v: serde_json::Value = serde_json::from_str(&e).expect("json");
        assert_eq!(v["type"], "error");
        assert_eq!(v["code"], "forbidden");
        let ice = ServerMessage::IceCandidate {
            peer_id: "a".into(),
            candidate: IceCandidate {
                candidate: "c".into(),
                sdp_mid: Some("0".into()),
                sdp_m_line_index: Some(0),
                username_fragment: None,
            },
        };
        let v: serde_json::Value = serde_json::from_str(&ice.to_json()).expect("json");
        assert_eq!(v["type"], "ice-candidate");
        assert_eq!(v["candidate"]["sdpMLineIndex"], 0);
    }
}
