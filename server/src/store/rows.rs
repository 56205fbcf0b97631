//! Row decoding, kept apart from the queries.

use super::{Result, StoreError};
use parlor_protocol::api::{EndReason, MediaMode, Meeting, MeetingStatus, ParticipantRecord, User};
use parlor_protocol::signal::ChatMessage;
use parlor_protocol::{MeetingCode, ParticipantId, UserId};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A meeting with the internal id that other tables refer to.
#[derive(Clone, Debug)]
pub struct MeetingRow {
    pub id: String,
    pub meeting: Meeting,
}

pub(super) const MEETING_SELECT: &str =
    "SELECT m.id, m.code, m.title, m.host_id, u.name AS host_name, \
     m.media_mode, m.status, m.end_reason, m.created_at, m.started_at, m.ended_at \
     FROM meetings m JOIN users u ON u.id = m.host_id";

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("unknown {what} {value:?}"))
}

pub(super) fn user(r: &AnyRow) -> Result<User> {
    Ok(User {
        id: UserId(r.try_get("id")?),
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        created_at: r.try_get("created_at")?,
    })
}

pub(super) fn meeting(r: &AnyRow) -> Result<MeetingRow> {
    let mode: String = r.try_get("media_mode")?;
    let status: String = r.try_get("status")?;
    let reason: Option<String> = r.try_get("end_reason")?;
    Ok(MeetingRow {
        id: r.try_get("id")?,
        meeting: Meeting {
            code: MeetingCode(r.try_get("code")?),
            title: r.try_get("title")?,
            host_id: UserId(r.try_get("host_id")?),
            host_name: r.try_get("host_name")?,
            media_mode: MediaMode::parse(&mode).ok_or_else(|| corrupt("media mode", &mode))?,
            status: MeetingStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
            end_reason: reason
                .map(|s| EndReason::parse(&s).ok_or_else(|| corrupt("end reason", &s)))
                .transpose()?,
            created_at: r.try_get("created_at")?,
            started_at: r.try_get("started_at")?,
            ended_at: r.try_get("ended_at")?,
            // Live state, not stored: filled in where asked for.
            present: None,
        },
    })
}

pub(super) fn participant(r: &AnyRow) -> Result<ParticipantRecord> {
    Ok(ParticipantRecord {
        participant_id: ParticipantId(r.try_get("id")?),
        user_id: UserId(r.try_get("user_id")?),
        display_name: r.try_get("display_name")?,
        guest: r.try_get::<i64, _>("guest")? != 0,
        joined_at: r.try_get("joined_at")?,
        left_at: r.try_get("left_at")?,
    })
}

pub(super) fn chat(r: &AnyRow) -> Result<ChatMessage> {
    Ok(ChatMessage {
        id: r.try_get("id")?,
        peer_id: ParticipantId(r.try_get("participant_id")?),
        display_name: r.try_get("display_name")?,
        text: r.try_get("body")?,
        sent_at: r.try_get("sent_at")?,
    })
}
