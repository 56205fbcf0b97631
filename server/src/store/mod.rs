//! Durable data through sqlx's `Any` driver: SQLite by default, PostgreSQL when configured.
//! One set of migrations (`server/migrations`) and one set of queries serve both, so the SQL
//! here sticks to what the two share: text ids, `BIGINT` millisecond times, `$n` parameters.

mod rows;

use crate::util::{new_id, now_ms};
use parlor_protocol::api::{EndReason, MediaMode, Meeting, MeetingStatus, ParticipantRecord, User};
use parlor_protocol::signal::{ChatMessage, LeaveReason};
use parlor_protocol::{MeetingCode, ParticipantId, UserId};
use rand::Rng;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::time::Duration;

pub use rows::MeetingRow;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("that email address already has an account")]
    EmailTaken,
    #[error("the database is unavailable: {0}")]
    Unavailable(#[from] sqlx::Error),
    #[error("the database could not be prepared: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unexpected data in the database: {0}")]
    Corrupt(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A participant's stay, as written when it joins.
pub struct NewParticipant<'a> {
    pub id: &'a ParticipantId,
    pub meeting_id: &'a str,
    pub user_id: &'a UserId,
    pub display_name: &'a str,
    pub guest: bool,
    pub joined_at: i64,
    /// SHA-256 (hex) of the stay's resume token.
    pub resume_hash: &'a str,
}

/// A stay that may be taken up again: the room holding it was lost, not left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumableStay {
    pub id: ParticipantId,
    pub display_name: String,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: &'static str,
}

impl Store {
    /// Connects, creating a SQLite file (and its directory) when needed, and migrates.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        if sqlite {
            if let Some(dir) = sqlite_path(url).and_then(|p| p.parent().map(|d| d.to_owned())) {
                std::fs::create_dir_all(&dir).map_err(sqlx::Error::Io)?;
            }
        }
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 4 } else { 16 })
            .acquire_timeout(Duration::from_secs(3))
            .connect(url)
            .await?;
        if sqlite {
            // WAL lets readers proceed while a meeting writes; the setting stays with the file.
            sqlx::query("PRAGMA journal_mode=WAL")
                .execute(&pool)
                .await?;
        }
        MIGRATOR.run(&pool).await?;
        Ok(Self {
            pool,
            backend: if sqlite { "sqlite" } else { "postgres" },
        })
    }

    pub fn backend(&self) -> &'static str {
        self.backend
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    // ---- users ----

    pub async fn create_user(&self, email: &str, password_hash: &str, name: &str) -> Result<User> {
        let now = now_ms();
        let user = User {
            id: UserId(new_id("u")),
            email: email.to_owned(),
            name: name.to_owned(),
            created_at: now,
        };
        let res = sqlx::query(
            "INSERT INTO users (id, email, password_hash, name, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(user.id.as_str())
        .bind(email)
        .bind(password_hash)
        .bind(name)
        .bind(now)
        .execute(&self.pool)
        .await;
        match res {
            Ok(_) => Ok(user),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::EmailTaken),
            Err(e) => Err(e.into()),
        }
    }

    /// The account with this email and its password hash.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<(User, String)>> {
        let row = sqlx::query(
            "SELECT id, email, name, created_at, password_hash FROM users WHERE email = $1",
        )
        .bind(email)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((rows::user(&r)?, r.try_get("password_hash")?)))
            .transpose()
    }

    pub async fn user_by_id(&self, id: &UserId) -> Result<Option<User>> {
        let row = sqlx::query("SELECT id, email, name, created_at FROM users WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::user).transpose()
    }

    // ---- meetings ----

    pub async fn create_meeting(
        &self,
        host: &UserId,
        title: &str,
        media_mode: MediaMode,
    ) -> Result<MeetingRow> {
        let now = now_ms();
        // Codes are random (26^10 ≈ 1.4e14); a collision with the unique index just retries.
        for _ in 0..8 {
            let code = MeetingCode(random_code());
            let id = new_id("m");
            let res = sqlx::query(
                "INSERT INTO meetings (id, code, title, host_id, media_mode, status, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&id)
            .bind(code.as_str())
            .bind(title)
            .bind(host.as_str())
            .bind(media_mode.as_str())
            .bind(MeetingStatus::Created.as_str())
            .bind(now)
            .execute(&self.pool)
            .await;
            match res {
                Ok(_) => {
                    return self
                        .meeting_by_code(&code)
                        .await?
                        .ok_or_else(|| StoreError::Corrupt("meeting vanished after insert".into()))
                }
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Corrupt(
            "could not find a free meeting code".into(),
        ))
    }

    pub async fn meeting_by_code(&self, code: &MeetingCode) -> Result<Option<MeetingRow>> {
        let row = sqlx::query(&format!("{} WHERE m.code = $1", rows::MEETING_SELECT))
            .bind(code.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::meeting).transpose()
    }

    /// Meetings the user hosts or has joined, newest first.
    pub async fn meetings_for_user(&self, user: &UserId) -> Result<Vec<Meeting>> {
        let rows = sqlx::query(&format!(
            "{} WHERE m.host_id = $1 OR m.id IN \
             (SELECT meeting_id FROM participants WHERE user_id = $1) \
             ORDER BY m.created_at DESC LIMIT 500",
            rows::MEETING_SELECT
        ))
        .bind(user.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| rows::meeting(r).map(|m| m.meeting))
            .collect()
    }

    /// Marks a meeting active on its first join; later calls keep the first start time.
    pub async fn activate_meeting(&self, meeting_id: &str, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE meetings SET status = $1, started_at = COALESCE(started_at, $2) \
             WHERE id = $3 AND status <> $4",
        )
        .bind(MeetingStatus::Active.as_str())
        .bind(now)
        .bind(meeting_id)
        .bind(MeetingStatus::Ended.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ends a meeting and closes every open stay in it. Returns false when it had already
    /// ended.
    pub async fn end_meeting(&self, meeting_id: &str, reason: EndReason, now: i64) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE meetings SET status = $1, end_reason = $2, ended_at = $3 \
             WHERE id = $4 AND status <> $1",
        )
        .bind(MeetingStatus::Ended.as_str())
        .bind(reason.as_str())
        .bind(now)
        .bind(meeting_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "UPDATE participants SET left_at = $1, leave_reason = $2 \
             WHERE meeting_id = $3 AND left_at IS NULL",
        )
        .bind(now)
        .bind(LeaveReason::MeetingEnded.as_str())
        .bind(meeting_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(updated > 0)
    }

    // ---- participants ----

    pub async fn insert_participant(&self, p: NewParticipant<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO participants \
             (id, meeting_id, user_id, display_name, guest, joined_at, resume_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(p.id.as_str())
        .bind(p.meeting_id)
        .bind(p.user_id.as_str())
        .bind(p.display_name)
        .bind(i64::from(p.guest))
        .bind(p.joined_at)
        .bind(p.resume_hash)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The stay in `meeting_id` whose resume token hashes to `resume_hash`, held by this user,
    /// if its room was lost rather than left: still open (its node died), or closed by a
    /// server stopping at `since` or later. It is reopened (one stay, not two, in the history).
    pub async fn take_up_stay(
        &self,
        meeting_id: &str,
        resume_hash: &str,
        user_id: &UserId,
        guest: bool,
        since: i64,
    ) -> Result<Option<ResumableStay>> {
        let row = sqlx::query(
            "UPDATE participants SET left_at = NULL, leave_reason = NULL \
             WHERE meeting_id = $1 AND resume_hash = $2 AND user_id = $3 AND guest = $4 \
             AND (left_at IS NULL OR (leave_reason = $5 AND left_at >= $6)) \
             RETURNING id, display_name",
        )
        .bind(meeting_id)
        .bind(resume_hash)
        .bind(user_id.as_str())
        .bind(i64::from(guest))
        .bind(LeaveReason::ServerShutdown.as_str())
        .bind(since)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(ResumableStay {
                id: ParticipantId(r.try_get("id")?),
                display_name: r.try_get("display_name")?,
            })
        })
        .transpose()
    }

    pub async fn participant_left(
        &self,
        id: &ParticipantId,
        now: i64,
        reason: LeaveReason,
    ) -> Result<()> {
        self.participants_left(std::slice::from_ref(id), now, reason)
            .await
    }

    /// Closes the open stays in `meeting_id`, or in every meeting, as ended by a server
    /// stopping (so they may still be taken up within the reconnect grace): those of a room
    /// that is stopping, or that was lost without recording them (its process stopped or its
    /// node died).
    pub async fn close_open_stays(&self, meeting_id: Option<&str>, now: i64) -> Result<u64> {
        let sql = match meeting_id {
            Some(_) => {
                "UPDATE participants SET left_at = $1, leave_reason = $2 \
                        WHERE left_at IS NULL AND meeting_id = $3"
            }
            None => "UPDATE participants SET left_at = $1, leave_reason = $2 WHERE left_at IS NULL",
        };
        let mut query = sqlx::query(sql)
            .bind(now)
            .bind(LeaveReason::ServerShutdown.as_str());
        if let Some(id) = meeting_id {
            query = query.bind(id);
        }
        Ok(query.execute(&self.pool).await?.rows_affected())
    }

    /// Runs `update`, whose last condition is `column IN (…)`, for `values` in chunks: `$1`
    /// and `$2` are `first` and `second`, the values follow.
    async fn update_where_in(
        &self,
        update: &str,
        first: i64,
        second: Option<&str>,
        values: &[&str],
    ) -> Result<()> {
        let start = if second.is_some() { 3 } else { 2 };
        for chunk in values.chunks(500) {
            let marks: Vec<String> = (0..chunk.len())
                .map(|i| format!("${}", i + start))
                .collect();
            let sql = format!("{update} IN ({})", marks.join(", "));
            let mut query = sqlx::query(&sql).bind(first);
            if let Some(second) = second {
                query = query.bind(second);
            }
            for value in chunk {
                query = query.bind(*value);
            }
            query.execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Records that the rooms of `codes` run at `now`.
    pub async fn rooms_seen(&self, codes: &[MeetingCode], now: i64) -> Result<()> {
        let codes: Vec<&str> = codes.iter().map(MeetingCode::as_str).collect();
        self.update_where_in(
            "UPDATE meetings SET room_seen_at = $1 WHERE code",
            now,
            None,
            &codes,
        )
        .await
    }

    /// Closes the open stays of `ids` at `now` for `reason`, in one statement.
    pub async fn participants_left(
        &self,
        ids: &[ParticipantId],
        now: i64,
        reason: LeaveReason,
    ) -> Result<()> {
        let ids: Vec<&str> = ids.iter().map(ParticipantId::as_str).collect();
        self.update_where_in(
            "UPDATE participants SET left_at = $1, leave_reason = $2 WHERE left_at IS NULL AND id",
            now,
            Some(reason.as_str()),
            &ids,
        )
        .await
    }

    /// The codes of the meetings that have started and not ended, and whose room no node has
    /// said it runs since `since`.
    pub async fn unseen_meetings(&self, since: i64) -> Result<Vec<MeetingCode>> {
        let rows = sqlx::query(
            "SELECT code FROM meetings WHERE status = $1 \
             AND (room_seen_at IS NULL OR room_seen_at < $2)",
        )
        .bind(MeetingStatus::Active.as_str())
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok(MeetingCode(r.try_get("code")?)))
            .collect()
    }

    pub async fn participants_of(&self, meeting_id: &str) -> Result<Vec<ParticipantRecord>> {
        let rows = sqlx::query(
            "SELECT id, user_id, display_name, guest, joined_at, left_at FROM participants \
             WHERE meeting_id = $1 ORDER BY joined_at, id",
        )
        .bind(meeting_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rows::participant).collect()
    }

    // ---- chat ----

    pub async fn insert_chat(&self, meeting_id: &str, msg: &ChatMessage, seq: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO chat_messages (id, meeting_id, participant_id, display_name, body, sent_at, seq) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&msg.id)
        .bind(meeting_id)
        .bind(msg.peer_id.as_str())
        .bind(&msg.display_name)
        .bind(&msg.text)
        .bind(msg.sent_at)
        .bind(seq)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The last `limit` chat messages in order, and the highest sequence number used so far.
    pub async fn recent_chat(
        &self,
        meeting_id: &str,
        limit: usize,
    ) -> Result<(Vec<ChatMessage>, i64)> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<AnyRow> = sqlx::query(
            "SELECT id, participant_id, display_name, body, sent_at, seq FROM chat_messages \
             WHERE meeting_id = $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(meeting_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let max_seq: Option<i64> =
            sqlx::query_scalar("SELECT MAX(seq) FROM chat_messages WHERE meeting_id = $1")
                .bind(meeting_id)
                .fetch_one(&self.pool)
                .await?;
        let mut msgs = rows.iter().map(rows::chat).collect::<Result<Vec<_>>>()?;
        msgs.reverse();
        Ok((msgs, max_seq.unwrap_or(0)))
    }
}

fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| path.into())
}

/// `abc-defg-hij`: three groups of lowercase letters.
fn random_code() -> String {
    let mut rng = rand::rng();
    let mut group = |n: usize| -> String {
        (0..n)
            .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
            .collect()
    };
    format!("{}-{}-{}", group(3), group(4), group(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_well_formed() {
        for _ in 0..100 {
            assert!(MeetingCode(random_code()).is_well_formed());
        }
    }

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            sqlite_path("sqlite:///tmp/x/p.db?mode=rwc"),
            Some("/tmp/x/p.db".into())
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }
}
