//! `ApiError`: every failed request answers `{"code", "message"}` with the right status and
//! nothing of the server's internals.

use crate::store::StoreError;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use parlor_protocol::{ErrorBody, ErrorCode};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody::new(code, message),
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ValidationFailed,
            message,
        )
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            message,
        )
    }

    /// Maps a signaling error code onto the HTTP status that means the same.
    pub fn from_body(body: ErrorBody) -> Self {
        let status = match body.code {
            ErrorCode::Unauthorized | ErrorCode::InvalidToken | ErrorCode::TokenExpired => {
                StatusCode::UNAUTHORIZED
            }
            ErrorCode::Forbidden | ErrorCode::GuestNotAllowed => StatusCode::FORBIDDEN,
            ErrorCode::NotFound | ErrorCode::RoomNotFound => StatusCode::NOT_FOUND,
            ErrorCode::MeetingEnded | ErrorCode::EmailTaken | ErrorCode::AlreadyJoined => {
                StatusCode::CONFLICT
            }
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::BAD_REQUEST,
        };
        Self { status, body }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::EmailTaken => Self::new(
                StatusCode::CONFLICT,
                ErrorCode::EmailTaken,
                "that email address already has an account",
            ),
            StoreError::Corrupt(detail) => {
                tracing::error!(%detail, "unexpected data in the database");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::Internal,
                    "the server hit an internal error",
                )
            }
            other => {
                tracing::warn!(error = %other, "storage unavailable");
                Self::unavailable("storage is unavailable right now; try again shortly")
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = r.status();
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
            StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::ValidationFailed,
            _ => ErrorCode::BadJson,
        };
        Self::new(status, code, r.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.body.code;
        let mut res = (self.status, Json(self.body)).into_response();
        // The metrics layer counts errors by code from here.
        res.extensions_mut().insert(code);
        res
    }
}
