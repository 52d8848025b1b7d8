//! Mapping between rows and domain types, by hand: the domain types know
//! nothing of storage.

use crate::StoreError;
use chrono::{DateTime, SecondsFormat, Utc};
use clauderon_types::{EventKind, Session, SessionEvent, SessionName, SessionStatus};
use rusqlite::Row;
use std::path::PathBuf;

pub const SESSION_COLUMNS: &str = "id, name, repo_path, branch, base_commit, worktree_path, backend, agent, \
     access_mode, prompt, status, archived, backend_handle, error, created_at, updated_at, options, pull_request";

pub const EVENT_COLUMNS: &str = "seq, session_id, session_name, at, kind, payload";

/// The session's options as stored: JSON.
pub fn options_text(s: &Session) -> Result<String, StoreError> {
    serde_json::to_string(&s.options).map_err(|e| corrupt(format!("options of `{}`: {e}", s.name)))
}

/// The session's pull request as stored: JSON, or NULL.
pub fn pull_request_text(s: &Session) -> Result<Option<String>, StoreError> {
    s.pull_request
        .as_ref()
        .map(|pr| {
            serde_json::to_string(pr).map_err(|e| corrupt(format!("pull request of `{}`: {e}", s.name)))
        })
        .transpose()
}

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
/// `Corrupt` (naming the row), never a panic; text is borrowed from SQLite, not copied twice.
pub fn read_session(row: &Row<'_>) -> Result<Session, StoreError> {
    read_session_fields(row).map_err(|e| match e {
        StoreError::Corrupt { what } => {
            let id = row.get_ref(0).ok().and_then(|v| v.as_str().ok()).unwrap_or("?");
            corrupt(format!("session row {id}: {what}"))
        }
        other => other,
    })
}

fn read_session_fields(row: &Row<'_>) -> Result<Session, StoreError> {
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
        options: serde_json::from_str(text(16, "options")?)
            .map_err(|e| corrupt(format!("options are not valid: {e}")))?,
        pull_request: opt_text(17, "pull_request")?
            .map(|t| serde_json::from_str(&t))
            .transpose()
            .map_err(|e| corrupt(format!("pull request is not valid: {e}")))?,
    })
}

pub struct EventRow {
    seq: i64,
    session_id: String,
    session_name: String,
    at: String,
    kind: String,
    payload: String,
}

impl EventRow {
    pub fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(EventRow {
            seq: row.get(0)?,
            session_id: row.get(1)?,
            session_name: row.get(2)?,
            at: row.get(3)?,
            kind: row.get(4)?,
            payload: row.get(5)?,
        })
    }

    pub fn into_event(self) -> Result<SessionEvent, StoreError> {
        let seq = self.seq;
        let kind: EventKind =
            serde_json::from_str(&self.payload).map_err(|e| corrupt(format!("event {seq} payload: {e}")))?;
        if kind.tag() != self.kind {
            return Err(corrupt(format!(
                "event {seq} is stored as `{}` but its payload is `{}`",
                self.kind,
                kind.tag()
            )));
        }
        Ok(SessionEvent {
            seq,
            session_id: self.session_id.parse().map_err(|_| {
                corrupt(format!("event {seq} session id `{}` is not a uuid", self.session_id))
            })?,
            session_name: SessionName::parse(&self.session_name)
                .map_err(|e| corrupt(format!("event {seq} name: {e}")))?,
            at: parse_time(&self.at, "at").map_err(|e| corrupt(format!("event {seq}: {e}")))?,
            kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use clauderon_types::{AccessMode, AgentKind, BackendKind};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn one_of_each() -> Vec<EventKind> {
        vec![
            EventKind::Created {
                backend: BackendKind::Docker,
                agent: AgentKind::Claude,
                access_mode: AccessMode::ReadOnly,
            },
            EventKind::StatusChanged { from: SessionStatus::Creating, to: SessionStatus::Running },
            EventKind::Failed { from: SessionStatus::Running, message: "boom".into() },
            EventKind::AccessModeChanged { from: AccessMode::ReadOnly, to: AccessMode::ReadWrite },
            EventKind::ProcessEnded { detail: "exited with code 3".into() },
            EventKind::HostAllowed { host: "*.example.com".into() },
            EventKind::BudgetSet { tokens: Some(1000), usd_cents: None },
            EventKind::BudgetExceeded { used: "1000 of 1000 tokens".into() },
            EventKind::ContainmentRefused {
                during: "start".into(),
                place: "home".into(),
                path: ".claude".into(),
                found: "symlink".into(),
            },
            EventKind::Pushed {
                remote: "https://github.com/acme/widgets.git".into(),
                branch: "clauderon/fix".into(),
                commit: "0123abcd".into(),
                forced: false,
            },
            EventKind::Committed { commit: "0123abcd".into(), files: 3 },
            EventKind::PullRequestOpened { number: 7, url: "https://github.com/acme/widgets/pull/7".into() },
            EventKind::PullRequestChanged {
                number: 7,
                state: clauderon_types::ship::PrState::Merged,
                review: clauderon_types::ship::ReviewDecision::Approved,
                checks: clauderon_types::ship::CheckSummary { total: 2, passed: 2, failed: 0, pending: 0 },
            },
            EventKind::Archived,
            EventKind::Unarchived,
            EventKind::Deleted,
        ]
    }

    #[test]
    fn event_tag_is_the_serde_type_tag() -> TestResult {
        for kind in one_of_each() {
            let json: serde_json::Value = serde_json::to_value(&kind)?;
            assert_eq!(json["type"].as_str(), Some(kind.tag()), "{kind:?}");
        }
        Ok(())
    }

    #[test]
    fn time_text_sorts_like_time() -> TestResult {
        let whole = Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).single().ok_or("bad date")?;
        let later = whole + chrono::Duration::nanoseconds(1);
        let much_later = whole + chrono::Duration::days(400);
        let texts = [time_text(whole), time_text(later), time_text(much_later)];
        assert_eq!(texts[0], "2025-01-02T03:04:05.000000000Z", "whole seconds keep their fraction");
        assert!(texts[0] < texts[1] && texts[1] < texts[2], "{texts:?}");
        assert!(texts.iter().all(|t| t.len() == texts[0].len()));
        assert_eq!(parse_time(&texts[1], "at")?, later);
        Ok(())
    }

    fn event_row(kind: &str, payload: &str) -> EventRow {
        EventRow {
            seq: 7,
            session_id: "6f1c1b1e-8a4e-4a53-9a8f-2a7d1f0c9b11".into(),
            session_name: "some-name".into(),
            at: "2025-01-02T03:04:05.000000000Z".into(),
            kind: kind.into(),
            payload: payload.into(),
        }
    }

    #[test]
    fn event_rows_round_trip_and_refuse_damage() -> TestResult {
        let ok = event_row("archived", r#"{"type":"archived"}"#).into_event()?;
        assert_eq!(ok.kind, EventKind::Archived);
        assert_eq!(ok.seq, 7);

        let cases = [
            (event_row("archived", "{not json"), "payload"),
            (event_row("deleted", r#"{"type":"archived"}"#), "stored as `deleted`"),
            (
                EventRow { session_name: "../x".into(), ..event_row("archived", r#"{"type":"archived"}"#) },
                "name",
            ),
            (
                EventRow { at: "yesterday".into(), ..event_row("archived", r#"{"type":"archived"}"#) },
                "yesterday",
            ),
        ];
        for (row, needle) in cases {
            match row.into_event() {
                Err(StoreError::Corrupt { what }) => assert!(what.contains(needle), "{what}"),
                other => panic!("expected Corrupt mentioning {needle}, got {other:?}"),
            }
        }
        Ok(())
    }
}
