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

/// The raw text of a session row, read without interpretation so that a bad
/// value becomes `Corrupt`, not a SQLite type error.
pub struct SessionRow {
    cols: [Option<String>; 16],
    archived: i64,
}

impl SessionRow {
    pub fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        let mut cols: [Option<String>; 16] = Default::default();
        for (i, col) in cols.iter_mut().enumerate() {
            if i != 11 {
                *col = row.get(i)?;
            }
        }
        Ok(SessionRow { cols, archived: row.get(11)? })
    }

    fn text(&self, i: usize, column: &str) -> Result<&str, StoreError> {
        self.cols[i].as_deref().ok_or_else(|| corrupt(format!("{column} is empty")))
    }

    pub fn into_session(self) -> Result<Session, StoreError> {
        let id = self.text(0, "id")?;
        let name = self.text(1, "name")?;
        let status = self.text(10, "status")?;
        Ok(Session {
            id: id.parse().map_err(|_| corrupt(format!("id `{id}` is not a uuid")))?,
            name: SessionName::parse(name).map_err(|e| corrupt(format!("name: {e}")))?,
            repo_path: PathBuf::from(self.text(2, "repo_path")?),
            branch: self.text(3, "branch")?.to_string(),
            base_commit: self.text(4, "base_commit")?.to_string(),
            worktree_path: PathBuf::from(self.text(5, "worktree_path")?),
            backend: parse_kind(self.text(6, "backend")?, "backend")?,
            agent: parse_kind(self.text(7, "agent")?, "agent")?,
            access_mode: parse_kind(self.text(8, "access_mode")?, "access_mode")?,
            prompt: self.text(9, "prompt")?.to_string(),
            status: SessionStatus::parse(status)
                .ok_or_else(|| corrupt(format!("status `{status}` is not known")))?,
            archived: self.archived != 0,
            backend_handle: self.cols[12].clone(),
            error: self.cols[13].clone(),
            created_at: parse_time(self.text(14, "created_at")?, "created_at")?,
            updated_at: parse_time(self.text(15, "updated_at")?, "updated_at")?,
        })
    }
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
