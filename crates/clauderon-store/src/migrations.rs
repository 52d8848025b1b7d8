//! Versioned schema migrations, tracked with `PRAGMA user_version`.
//! Append only: a released migration is never edited.

use crate::StoreError;
use rusqlite::Connection;

pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "sessions",
        sql: "CREATE TABLE sessions (
            id TEXT PRIMARY KEY NOT NULL,
            name TEXT NOT NULL,
            repo_path TEXT NOT NULL,
            branch TEXT NOT NULL,
            base_commit TEXT NOT NULL,
            worktree_path TEXT NOT NULL,
            backend TEXT NOT NULL,
            agent TEXT NOT NULL,
            access_mode TEXT NOT NULL,
            prompt TEXT NOT NULL,
            status TEXT NOT NULL,
            archived INTEGER NOT NULL DEFAULT 0,
            backend_handle TEXT,
            error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );",
    },
    Migration {
        version: 2,
        name: "session events and unique names",
        sql: "CREATE TABLE session_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT NOT NULL,
            session_name TEXT NOT NULL,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL
        );
        CREATE INDEX session_events_by_session ON session_events(session_id, seq);
        CREATE UNIQUE INDEX sessions_by_name ON sessions(name);
        CREATE INDEX sessions_by_created ON sessions(created_at, name);
        CREATE TRIGGER session_events_no_update BEFORE UPDATE ON session_events
            BEGIN SELECT RAISE(ABORT, 'session_events is append-only'); END;
        CREATE TRIGGER session_events_no_delete BEFORE DELETE ON session_events
            BEGIN SELECT RAISE(ABORT, 'session_events is append-only'); END;",
    },
];

pub fn latest() -> u32 {
    MIGRATIONS.last().map(|m| m.version).unwrap_or(0)
}

pub fn current(conn: &Connection) -> Result<u32, StoreError> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Apply every migration newer than the database, each in its own transaction.
pub fn apply(conn: &mut Connection) -> Result<u32, StoreError> {
    let mut version = current(conn)?;
    if version > latest() {
        return Err(StoreError::Incompatible(format!(
            "this database was written by a newer clauderon (schema v{version}, this build knows up to v{}): upgrade clauderon",
            latest()
        )));
    }
    let from = version;
    for m in MIGRATIONS.iter().filter(|m| m.version > from) {
        let tx = conn.transaction()?;
        tx.execute_batch(m.sql)
            .map_err(|e| StoreError::Sqlite(format!("migration v{} ({}): {e}", m.version, m.name)))?;
        tx.pragma_update(None, "user_version", m.version)?;
        tx.commit()?;
        version = m.version;
    }
    Ok(version)
}
