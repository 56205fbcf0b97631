//! Error codes: one list for the REST API (`{"code","message"}` bodies) and for signaling
//! (`error` frames). Codes are stable strings clients can switch on; messages are for people.

use serde::{Deserialize, Serialize};
use std::fmt;
use ts_rs::TS;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    // Requests that cannot be understood.
    BadJson,
    InvalidMessage,
    UnknownType,
    MessageTooLarge,
    ValidationFailed,
    /// An SDP offer or answer that cannot be parsed or accepted.
    BadSdp,
    // Identity and permission.
    Unauthorized,
    InvalidToken,
    TokenExpired,
    InvalidCredentials,
    Forbidden,
    GuestNotAllowed,
    // Things that are not there or not in the right state.
    NotFound,
    RoomNotFound,
    PeerNotFound,
    NotJoined,
    AlreadyJoined,
    RoomFull,
    MeetingEnded,
    EmailTaken,
    // Protection.
    RateLimited,
    SlowConsumer,
    PayloadTooLarge,
    // The server's own trouble.
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BadJson => "bad_json",
            Self::InvalidMessage => "invalid_message",
            Self::UnknownType => "unknown_type",
            Self::MessageTooLarge => "message_too_large",
            Self::ValidationFailed => "validation_failed",
            Self::BadSdp => "bad_sdp",
            Self::Unauthorized => "unauthorized",
            Self::InvalidToken => "invalid_token",
            Self::TokenExpired => "token_expired",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Forbidden => "forbidden",
            Self::GuestNotAllowed => "guest_not_allowed",
            Self::NotFound => "not_found",
            Self::RoomNotFound => "room_not_found",
            Self::PeerNotFound => "peer_not_found",
            Self::NotJoined => "not_joined",
            Self::AlreadyJoined => "already_joined",
            Self::RoomFull => "room_full",
            Self::MeetingEnded => "meeting_ended",
            Self::EmailTaken => "email_taken",
            Self::RateLimited => "rate_limited",
            Self::SlowConsumer => "slow_consumer",
            Self::PayloadTooLarge => "payload_too_large",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every REST error and the payload of every signaling `error` frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    /// Echoes the `requestId` of the client message that caused the error, when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            request_id: None,
        }
    }

    pub fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
    }
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ErrorBody {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_str_matches_serde() {
        for code in [
            ErrorCode::BadJson,
            ErrorCode::UnknownType,
            ErrorCode::PeerNotFound,
            ErrorCode::RateLimited,
            ErrorCode::MeetingEnded,
            ErrorCode::Unavailable,
        ] {
            let json = serde_json::to_string(&code).expect("serialize");
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }
}
