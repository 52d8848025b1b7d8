//! Mapping between rows and domain types, by hand: the domain types know
//! nothing of storage.

use crate::StoreError;
use chrono::{DateTime, SecondsFormat, Utc};
use clauderon_types::{EventKind, Session, SessionEvent, SessionName, SessionStatus};
use rusqlite::Row;
use std::path::PathBuf;

pub const SESSION_COLUMNS: &str = "id, name, repo_path, branch, base_commit, worktree_path, backend, agent, \
     access_mode, prompt, status, archived, backend_handle, error, created_at, updated_at";

pub const EVENT_COLUMNS: &str = "seq, session_id, session_name, at, payload";

/// Fixed-width RFC 3339 (nanoseconds, `Z`) so text order is time order.
pub fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Corrupt { what: what.into() }
}

fn parse_time(text: &str, column: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| corrupt(format!("{column} `{text}` is not a timestamp")))
}

fn parse_kind<T: std::str::FromStr>(text: &str, column: &str) -> Result<T, StoreError> {
    text.parse().map_err(|_| corrupt(format!("{column} `{text}` is not known")))
}

/// Read a session straight from its row. A value that does not parse is
/// `Corrupt`, never a panic; text is borrowed from SQLite, not copied twice.
pub fn read_session(row: &Row<'_>) -> Result<Session, StoreError> {
    let text = |i: usize, column: &str| -> Result<&str, StoreError> {
        row.get_ref(i)
            .map_err(StoreError::from)?
            .as_str()
            .map_err(|_| corrupt(format!("{column} is not text")))
    };
    let opt_text = |i: usize, column: &str| -> Result<Option<String>, StoreError> {
        row.get_ref(i)
            .map_err(StoreError::from)?
            .as_str_or_null()
            .map(|o| o.map(str::to_string))
            .map_err(|_| corrupt(format!("{column} is not text")))
    };
    let id = text(0, "id")?;
    let status = text(10, "status")?;
    Ok(Session {
        id: id.parse().map_err(|_| corrupt(format!("id `{id}` is not a uuid")))?,
        name: SessionName::parse(text(1, "name")?).map_err(|e| corrupt(format!("name: {e}")))?,
        repo_path: PathBuf::from(text(2, "repo_path")?),
        branch: text(3, "branch")?.to_string(),
        base_commit: text(4, "base_commit")?.to_string(),
        worktree_path: PathBuf::from(text(5, "worktree_path")?),
        backend: parse_kind(text(6, "backend")?, "backend")?,
        agent: parse_kind(text(7, "agent")?, "agent")?,
        access_mode: parse_kind(text(8, "access_mode")?, "access_mode")?,
        prompt: text(9, "prompt")?.to_string(),
        status: SessionStatus::parse(status)
            .ok_or_else(|| corrupt(format!("status `{status}` is not known")))?,
        archived: row.get::<_, i64>(11)? != 0,
        backend_handle: opt_text(12, "backend_handle")?,
        error: opt_text(13, "error")?,
        created_at: parse_time(text(14, "created_at")?, "created_at")?,
        updated_at: parse_time(text(15, "updated_at")?, "updated_at")?,
    })
}

pub struct EventRow {
    seq: i64,
    session_id: String,
    session_name: String,
    at: String,
    payload: String,
}

impl EventRow {
    pub fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(EventRow {
            seq: row.get(0)?,
            session_id: row.get(1)?,
            session_name: row.get(2)?,
            at: row.get(3)?,
            payload: row.get(4)?,
        })
    }

    pub fn into_event(self) -> Result<SessionEvent, StoreError> {
        let kind: EventKind = serde_json::from_str(&self.payload)
            .map_err(|e| corrupt(format!("event {} payload: {e}", self.seq)))?;
        Ok(SessionEvent {
            seq: self.seq,
            session_id: self
                .session_id
                .parse()
                .map_err(|_| corrupt(format!("event {} session id", self.seq)))?,
            session_name: SessionName::parse(&self.session_name)
                .map_err(|e| corrupt(format!("event {} name: {e}", self.seq)))?,
            at: parse_time(&self.at, "at")?,
            kind,
        })
    }
}

/// The `type` tag of an event, stored beside the payload for queries.
pub fn event_tag(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::Created { .. } => "created",
        EventKind::StatusChanged { .. } => "status-changed",
        EventKind::Failed { .. } => "failed",
        EventKind::AccessModeChanged { .. } => "access-mode-changed",
        EventKind::Archived => "archived",
        EventKind::Unarchived => "unarchived",
        EventKind::Deleted => "deleted",
    }
}
