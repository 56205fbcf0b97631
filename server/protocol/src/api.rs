//! REST bodies. Requests reject unknown fields so a typo is an error, not a silent default.

use crate::ids::{MeetingCode, ParticipantId, UserId};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// `POST /auth/token`: a guest identity for someone without an account.
#[derive(Clone, Debug, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(optional_fields)]
pub struct GuestTokenRequest {
    pub display_name: String,
    #[serde(default)]
    pub user_id: Option<String>,
}

/// Answer to `POST /auth/token` and `POST /api/auth/login`.
#[derive(Clone, Debug, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    pub token: String,
    /// Milliseconds since the Unix epoch.
    pub expires_at: i64,
    pub user_id: UserId,
    pub display_name: String,
    pub guest: bool,
}

/// `POST /api/users`.
#[derive(Clone, Debug, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub email: String,
    pub password: String,
    pub name: String,
}

/// `POST /api/auth/login`.
#[derive(Clone, Debug, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// A registered account as the API shows it (never the password hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub created_at: i64,
}

/// `GET /api/me`: whoever the token names, account or guest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    pub user_id: UserId,
    pub display_name: String,
    pub guest: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// How a meeting's media travels: through the server's SFU, directly between two peers, or
/// chosen by the server by size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum MediaMode {
    Sfu,
    P2p,
    #[default]
    Auto,
}

impl MediaMode {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sfu => "sfu",
            Self::P2p => "p2p",
            Self::Auto => "auto",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sfu" => Some(Self::Sfu),
            "p2p" => Some(Self::P2p),
            "auto" => Some(Self::Auto),
            _ => None,
        }
    }
}

/// Where a meeting is in its life (seed 003): created → active on first join → ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum MeetingStatus {
    Created,
    Active,
    Ended,
}

impl MeetingStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Active => "active",
            Self::Ended => "ended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "created" => Some(Self::Created),
            "active" => Some(Self::Active),
            "ended" => Some(Self::Ended),
            _ => None,
        }
    }
}

/// Why a meeting ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The host ended it for everyone.
    HostEnded,
    /// Everyone left and nobody came back within the grace period.
    AllLeft,
}

impl EndReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::HostEnded => "host_ended",
            Self::AllLeft => "all_left",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "host_ended" => Some(Self::HostEnded),
            "all_left" => Some(Self::AllLeft),
            _ => None,
        }
    }
}

/// `POST /api/meetings`.
#[derive(Clone, Debug, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[ts(optional_fields)]
pub struct CreateMeetingRequest {
    pub title: String,
    #[serde(default)]
    pub media_mode: Option<MediaMode>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Meeting {
    pub code: MeetingCode,
    pub title: String,
    pub host_id: UserId,
    pub host_name: String,
    pub media_mode: MediaMode,
    pub status: MeetingStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<EndReason>,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<i64>,
    /// How many are in the meeting now, connected or about to resume; given when the meeting
    /// has not ended and it can be told (from the room, wherever in the cluster it runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub present: Option<u32>,
}

/// One stay of one participant in a meeting (`GET /api/meetings/{code}/participants`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantRecord {
    pub participant_id: ParticipantId,
    pub user_id: UserId,
    pub display_name: String,
    pub guest: bool,
    pub joined_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_at: Option<i64>,
}

/// `GET /health/ready`: each dependency probed, and the first failing one named.
#[derive(Clone, Debug, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Readiness {
    pub status: String,
    pub checks: Vec<DependencyCheck>,
}

#[derive(Clone, Debug, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DependencyCheck {
    pub name: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
