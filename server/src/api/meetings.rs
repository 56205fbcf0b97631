//! Meetings (seed 003): create, list mine, look one up, end it, and its join/leave history.

use super::auth::Auth;
use super::error::ApiError;
use super::ApiJson;
use crate::state::AppState;
use crate::store::MeetingRow;
use crate::util::now_ms;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use parlor_protocol::api::{
    CreateMeetingRequest, EndReason, Meeting, MeetingStatus, ParticipantRecord,
};
use parlor_protocol::{ErrorCode, MeetingCode};

const MAX_TITLE_CHARS: usize = 200;

async fn find(state: &AppState, code: &str) -> Result<MeetingRow, ApiError> {
    let code = MeetingCode::from(code);
    if !code.is_well_formed() {
        return Err(ApiError::not_found(format!("there is no meeting {code}")));
    }
    state
        .store
        .meeting_by_code(&code)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("there is no meeting {code}")))
}

/// `POST /api/meetings`
pub async fn create(
    State(state): State<AppState>,
    Auth(who): Auth,
    ApiJson(req): ApiJson<CreateMeetingRequest>,
) -> Result<(StatusCode, Json<Meeting>), ApiError> {
    if who.guest {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::GuestNotAllowed,
            "guests can join meetings but not create them; sign in first",
        ));
    }
    let title = req.title.trim();
    if title.is_empty()
        || title.chars().count() > MAX_TITLE_CHARS
        || title.chars().any(char::is_control)
    {
        return Err(ApiError::invalid(format!(
            "a title needs 1 to {MAX_TITLE_CHARS} printable characters"
        )));
    }
    // The account may have been deleted since the token was issued.
    if state.store.user_by_id(&who.user_id).await?.is_none() {
        return Err(ApiError::unauthorized("this account no longer exists"));
    }
    let row = state
        .store
        .create_meeting(&who.user_id, title, req.media_mode.unwrap_or_default())
        .await?;
    tracing::info!(code = %row.meeting.code, host = %who.user_id, "meeting created");
    Ok((StatusCode::CREATED, Json(row.meeting)))
}

/// The meeting with how many are in it now, when it has not ended. Without an answer (the
/// cluster's shared state unreachable) the count is left out; the rest still stands.
async fn with_presence(state: &AppState, mut meeting: Meeting) -> Meeting {
    match meeting.status {
        MeetingStatus::Ended => {}
        // Nobody has joined yet (the first join starts it): nothing to look up.
        MeetingStatus::Created => meeting.present = Some(0),
        MeetingStatus::Active => match state.rooms.present(&meeting.code).await {
            Ok(p) => meeting.present = Some(u32::try_from(p.count()).unwrap_or(u32::MAX)),
            Err(e) => tracing::debug!(error = %e, room = %meeting.code, "presence unknown"),
        },
    }
    meeting
}

/// `GET /api/meetings`: the caller's meetings, hosted or joined, newest first, with how many
/// are in each that has not ended.
pub async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
) -> Result<Json<Vec<Meeting>>, ApiError> {
    let meetings = state.store.meetings_for_user(&who.user_id).await?;
    let mut out = Vec::with_capacity(meetings.len());
    for m in meetings {
        out.push(with_presence(&state, m).await);
    }
    Ok(Json(out))
}

/// `GET /api/meetings/{code}`: anyone signed in (guests too) may look a code up to join it.
pub async fn get(
    State(state): State<AppState>,
    Auth(_): Auth,
    Path(code): Path<String>,
) -> Result<Json<Meeting>, ApiError> {
    let meeting = find(&state, &code).await?.meeting;
    Ok(Json(with_presence(&state, meeting).await))
}

/// `POST /api/meetings/{code}/end`: host only.
pub async fn end(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(code): Path<String>,
) -> Result<Json<Meeting>, ApiError> {
    let row = find(&state, &code).await?;
    if who.guest || row.meeting.host_id != who.user_id {
        return Err(ApiError::forbidden("only the meeting's host can end it"));
    }
    if row.meeting.status == MeetingStatus::Ended {
        return Ok(Json(row.meeting));
    }
    // A live room ends through itself so everyone in it hears `meeting_ended`.
    match state.rooms.end_live(&row.meeting.code).await {
        Some(Ok(meeting)) => Ok(Json(meeting)),
        Some(Err(e)) => match e {
            crate::room::RoomError::Ended(meeting) => Ok(Json(meeting)),
            crate::room::RoomError::Refused(body) => Err(ApiError::from_body(body)),
        },
        None => {
            state
                .store
                .end_meeting(&row.id, EndReason::HostEnded, now_ms())
                .await?;
            Ok(Json(find(&state, &code).await?.meeting))
        }
    }
}

/// `GET /api/meetings/{code}/participants`: the join/leave history, for the host and for
/// anyone who took part.
pub async fn participants(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(code): Path<String>,
) -> Result<Json<Vec<ParticipantRecord>>, ApiError> {
    let row = find(&state, &code).await?;
    let history = state.store.participants_of(&row.id).await?;
    let is_host = !who.guest && row.meeting.host_id == who.user_id;
    let took_part = history
        .iter()
        .any(|p| p.user_id == who.user_id && p.guest == who.guest);
    if !is_host && !took_part {
        return Err(ApiError::forbidden(
            "only the host and those who took part can see who joined",
        ));
    }
    Ok(Json(history))
}
