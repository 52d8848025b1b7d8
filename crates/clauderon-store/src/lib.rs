//! clauderon's SQLite store: the sessions table, the append-only
//! `session_events` table beside it, versioned migrations applied at open.
//!
//! The API is synchronous; async callers wrap calls in `spawn_blocking`.

mod error;
mod hooks;
mod migrations;
mod proxy;
pub mod push;
mod rows;
mod usage;

pub use error::StoreError;
pub use migrations::{MIGRATIONS, Migration, latest as latest_schema};

use chrono::{DateTime, Utc};
use clauderon_types::api::ListView;
use clauderon_types::{BackendKind, EventKind, Session, SessionEvent, SessionId, SessionName};
use error::Duplicate;
use rows::{
    EVENT_COLUMNS, EventRow, SESSION_COLUMNS, options_text, pull_request_text, read_session, time_text,
};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// clauderon's session store. Cheap to share behind an `Arc`; every call takes
/// the one connection's lock for its duration.
pub struct Store {
    conn: Mutex<Connection>,
}

// The daemon shares one store across its async tasks.
const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<Store>();
};

/// SQLite's LIMIT takes an i64; anything larger means "no limit" anyway.
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn append_event(
    tx: &Transaction<'_>,
    id: SessionId,
    name: &SessionName,
    kind: &EventKind,
    at: DateTime<Utc>,
) -> Result<SessionEvent, StoreError> {
    let payload = serde_json::to_string(kind).map_err(|e| StoreError::Encode(e.to_string()))?;
    tx.prepare_cached(
        "INSERT INTO session_events (session_id, session_name, at, kind, payload) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![id.to_string(), name.as_str(), time_text(at), kind.tag(), payload])?;
    Ok(SessionEvent {
        seq: tx.last_insert_rowid(),
        session_id: id,
        session_name: name.clone(),
        at,
        kind: kind.clone(),
    })
}

fn insert_row(tx: &Transaction<'_>, s: &Session) -> Result<(), StoreError> {
    tx.prepare_cached(&format!(
        "INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
    ))?
    .execute(params![
        s.id.to_string(),
        s.name.as_str(),
        s.repo_path.to_string_lossy(),
        s.branch,
        s.base_commit,
        s.worktree_path.to_string_lossy(),
        s.backend.as_str(),
        s.agent.as_str(),
        s.access_mode.as_str(),
        s.prompt,
        s.status.as_str(),
        s.archived,
        s.backend_handle,
        s.error,
        time_text(s.created_at),
        time_text(s.updated_at),
        options_text(s)?,
        pull_request_text(s)?,
    ])
    .map_err(|e| match error::duplicate(&e) {
        Some(Duplicate::Name) => StoreError::Conflict(format!("a session named `{}` already exists", s.name)),
        Some(Duplicate::Id) => {
            StoreError::Conflict(format!("a session with id {} already exists (inserting `{}`)", s.id, s.name))
        }
        None => e.into(),
    })?;
    Ok(())
}

impl Store {
    /// Open (creating it 0600 if new) and migrate the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(|source| StoreError::Io { path: path.to_path_buf(), source })?;
        Connection::open(path).map_err(StoreError::from).and_then(Store::setup).map_err(|e| match e {
            StoreError::Corrupt { what } => StoreError::Corrupt {
                what: format!("{}: {what}; move the file aside to start afresh", path.display()),
            },
            other => other,
        })
    }

    /// A private database that lives as long as the store: for tests.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        Store::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<Store, StoreError> {
        conn.busy_timeout(Duration::from_secs(5))?;
        // Before anything writes: WAL mode is stored in the file itself.
        migrations::check_compatible(&conn)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.set_prepared_statement_cache_capacity(32);
        migrations::apply(&mut conn)?;
        Ok(Store { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (transactions roll back).
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn schema_version(&self) -> Result<u32, StoreError> {
        migrations::current(&self.conn())
    }

    /// Insert a new session and its first event, in one transaction.
    pub fn insert_session(
        &self,
        s: &Session,
        event: &EventKind,
        at: DateTime<Utc>,
    ) -> Result<SessionEvent, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        insert_row(&tx, s)?;
        let e = append_event(&tx, s.id, &s.name, event, at)?;
        tx.commit()?;
        Ok(e)
    }

    /// Insert many sessions (each with a `created` event) in one transaction.
    pub fn insert_many(&self, sessions: &[Session], at: DateTime<Utc>) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for s in sessions {
            insert_row(&tx, s)?;
            let created =
                EventKind::Created { backend: s.backend, agent: s.agent, access_mode: s.access_mode };
            append_event(&tx, s.id, &s.name, &created, at)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Write every mutable field of the session and append `events`, in one transaction.
    pub fn update_session(
        &self,
        s: &Session,
        events: &[EventKind],
        at: DateTime<Utc>,
    ) -> Result<Vec<SessionEvent>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let changed = tx
            .prepare_cached(
                "UPDATE sessions SET status = ?2, archived = ?3, access_mode = ?4, backend_handle = ?5, error = ?6, \
                 updated_at = ?7, options = ?8, pull_request = ?9 WHERE id = ?1",
            )?
            .execute(params![
                s.id.to_string(),
                s.status.as_str(),
                s.archived,
                s.access_mode.as_str(),
                s.backend_handle,
                s.error,
                time_text(s.updated_at),
                options_text(s)?,
                pull_request_text(s)?,
            ])?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!("session `{}`", s.name)));
        }
        let out =
            events.iter().map(|k| append_event(&tx, s.id, &s.name, k, at)).collect::<Result<Vec<_>, _>>()?;
        tx.commit()?;
        Ok(out)
    }

    /// Delete the session's row and append its last event. Its events stay.
    pub fn remove_session(
        &self,
        id: SessionId,
        event: &EventKind,
        at: DateTime<Utc>,
    ) -> Result<SessionEvent, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let name: Option<String> = tx
            .prepare_cached("SELECT name FROM sessions WHERE id = ?1")?
            .query_row([id.to_string()], |r| r.get(0))
            .optional()?;
        let name = name.ok_or_else(|| StoreError::NotFound(format!("session {id}")))?;
        let name = SessionName::parse(&name).map_err(|e| StoreError::Corrupt { what: e.to_string() })?;
        tx.prepare_cached("DELETE FROM sessions WHERE id = ?1")?.execute([id.to_string()])?;
        let e = append_event(&tx, id, &name, event, at)?;
        tx.commit()?;
        Ok(e)
    }

    fn one(&self, filter: &str, key: &str) -> Result<Option<Session>, StoreError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE {filter} = ?1"))?;
        let mut rows = stmt.query([key])?;
        rows.next()?.map(read_session).transpose()
    }

    pub fn get(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
        self.one("id", &id.to_string())
    }

    pub fn get_by_name(&self, name: &SessionName) -> Result<Option<Session>, StoreError> {
        self.one("name", name.as_str())
    }

    /// The session whose resource on `backend` is `handle` (a container id, a zellij session),
    /// if any: how a backend's status feed finds its session without reading them all.
    pub fn get_by_handle(&self, backend: BackendKind, handle: &str) -> Result<Option<Session>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE backend = ?1 AND backend_handle = ?2"
        ))?;
        let mut rows = stmt.query([backend.as_str(), handle])?;
        rows.next()?.map(read_session).transpose()
    }

    /// Sessions in creation order.
    pub fn list(&self, view: ListView) -> Result<Vec<Session>, StoreError> {
        let filter = match view {
            ListView::Active => "WHERE archived = 0",
            ListView::Archived => "WHERE archived = 1",
            ListView::All => "",
        };
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions {filter} ORDER BY created_at, name"
        ))?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(read_session(row)?);
        }
        Ok(out)
    }

    pub fn count(&self) -> Result<u64, StoreError> {
        Ok(self.conn().prepare_cached("SELECT COUNT(*) FROM sessions")?.query_row([], |r| r.get(0))?)
    }

    /// The session's latest `limit` events, oldest first.
    pub fn events_for(&self, id: SessionId, limit: usize) -> Result<Vec<SessionEvent>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM (SELECT * FROM session_events WHERE session_id = ?1 ORDER BY seq DESC LIMIT ?2) \
             ORDER BY seq"
        ))?;
        let rows = stmt.query_map(params![id.to_string(), sql_limit(limit)], EventRow::read)?;
        rows.map(|r| r.map_err(StoreError::from).and_then(EventRow::into_event)).collect()
    }

    /// Events after `seq`, in order, at most `limit`.
    pub fn events_since(&self, seq: i64, limit: usize) -> Result<Vec<SessionEvent>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM session_events WHERE seq > ?1 ORDER BY seq LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![seq, sql_limit(limit)], EventRow::read)?;
        rows.map(|r| r.map_err(StoreError::from).and_then(EventRow::into_event)).collect()
    }

    /// Checkpoint the WAL into the database file and close the connection.
    pub fn close(self) -> Result<(), StoreError> {
        let conn = self.conn.into_inner().unwrap_or_else(|p| p.into_inner());
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        conn.close().map_err(|(_, e)| StoreError::from(e))
    }
}
