//! Versioned schema migrations, tracked with `PRAGMA user_version`.
//! Append only: a released migration is never edited.

use crate::StoreError;
use rusqlite::{Connection, TransactionBehavior};

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
    Migration {
        version: 3,
        name: "proxy identities and the request audit",
        sql: "CREATE TABLE session_proxy_secrets (
            session_id TEXT PRIMARY KEY NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            secret TEXT NOT NULL
        );
        CREATE TABLE proxy_requests (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            session_id TEXT,
            session_name TEXT,
            method TEXT NOT NULL,
            host TEXT NOT NULL,
            path TEXT NOT NULL,
            status INTEGER,
            bytes_up INTEGER NOT NULL,
            bytes_down INTEGER NOT NULL,
            duration_ms INTEGER NOT NULL,
            credential TEXT,
            decision TEXT NOT NULL,
            reason TEXT
        );
        CREATE INDEX proxy_requests_by_session ON proxy_requests(session_name, id);",
    },
    Migration {
        version: 4,
        name: "session options",
        sql: "ALTER TABLE sessions ADD COLUMN options TEXT NOT NULL DEFAULT '{}';",
    },
    Migration {
        version: 5,
        name: "token usage per model call",
        sql: "CREATE TABLE usage_records (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            session_name TEXT NOT NULL,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            cache_read_tokens INTEGER NOT NULL,
            cache_write_tokens INTEGER NOT NULL,
            cost_usd REAL
        );
        CREATE INDEX usage_records_by_session ON usage_records(session_id, at);",
    },
    Migration {
        version: 6,
        name: "a note on audit records",
        sql: "ALTER TABLE proxy_requests ADD COLUMN note TEXT;",
    },
    Migration {
        version: 7,
        name: "sessions found by their backend resource",
        sql: "CREATE INDEX sessions_by_handle ON sessions(backend, backend_handle);",
    },
    Migration {
        version: 8,
        name: "a session's pull request",
        sql: "ALTER TABLE sessions ADD COLUMN pull_request TEXT;",
    },
    Migration {
        version: 9,
        name: "the hook delivery log",
        sql: "CREATE TABLE hook_deliveries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            hook TEXT NOT NULL,
            event TEXT NOT NULL,
            session_name TEXT,
            seq INTEGER,
            target TEXT NOT NULL,
            outcome TEXT NOT NULL,
            status INTEGER,
            attempts INTEGER NOT NULL,
            duration_ms INTEGER NOT NULL,
            detail TEXT
        );",
    },
    Migration {
        version: 10,
        name: "web push subscriptions and per-session mutes",
        sql: "CREATE TABLE push_subscriptions (
            endpoint TEXT PRIMARY KEY,
            p256dh TEXT NOT NULL,
            auth TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE push_mutes (
            session_name TEXT PRIMARY KEY
        );",
    },
];

pub fn latest() -> u32 {
    MIGRATIONS.last().map(|m| m.version).unwrap_or(0)
}

pub fn current(conn: &Connection) -> Result<u32, StoreError> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Refuse a database written by a newer clauderon, before anything touches it.
pub fn check_compatible(conn: &Connection) -> Result<u32, StoreError> {
    check_version(current(conn)?, latest())
}

fn check_version(version: u32, known: u32) -> Result<u32, StoreError> {
    if version > known {
        return Err(StoreError::Incompatible(format!(
            "this database was written by a newer clauderon (schema v{version}, this build knows up to v{known}): \
             upgrade clauderon"
        )));
    }
    Ok(version)
}

/// Apply every migration newer than the database, each in its own transaction.
pub fn apply(conn: &mut Connection) -> Result<u32, StoreError> {
    apply_list(conn, MIGRATIONS)
}

fn apply_list(conn: &mut Connection, migrations: &[Migration]) -> Result<u32, StoreError> {
    let known = migrations.last().map(|m| m.version).unwrap_or(0);
    let mut version = check_version(current(conn)?, known)?;
    for m in migrations {
        if m.version <= version {
            continue;
        }
        // IMMEDIATE takes the write lock first, so the version read inside the
        // transaction is the one we build on, even if another process migrated meanwhile.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        version = check_version(current(&tx)?, known)?;
        if m.version <= version {
            continue;
        }
        tx.execute_batch(m.sql)
            .map_err(|e| StoreError::Sqlite(format!("migration v{} ({}): {e}", m.version, m.name)))?;
        tx.pragma_update(None, "user_version", m.version)?;
        tx.commit()?;
        version = m.version;
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn table_exists(conn: &Connection, name: &str) -> Result<bool, rusqlite::Error> {
        conn.query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", [name], |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| n > 0)
    }

    #[test]
    fn versions_start_at_one_and_have_no_gaps() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "migration `{}`", m.name);
        }
        assert_eq!(latest(), MIGRATIONS.len() as u32);
    }

    #[test]
    fn applies_all_then_nothing() -> TestResult {
        let mut conn = Connection::open_in_memory()?;
        assert_eq!(apply(&mut conn)?, latest());
        assert!(table_exists(&conn, "sessions")? && table_exists(&conn, "session_events")?);
        // A second run finds nothing to do (it would fail on CREATE TABLE otherwise).
        assert_eq!(apply(&mut conn)?, latest());
        Ok(())
    }

    #[test]
    fn a_failing_migration_leaves_the_previous_version_whole() -> TestResult {
        let list = [
            Migration { version: 1, name: "one", sql: "CREATE TABLE one (x INTEGER);" },
            Migration {
                version: 2,
                name: "two",
                sql: "CREATE TABLE two (x INTEGER); SELECT nope FROM missing;",
            },
        ];
        let mut conn = Connection::open_in_memory()?;
        let err = apply_list(&mut conn, &list).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("migration v2 (two)"), "{err}");
        assert_eq!(current(&conn)?, 1);
        assert!(table_exists(&conn, "one")?);
        assert!(!table_exists(&conn, "two")?, "half of migration 2 was kept");
        Ok(())
    }

    #[test]
    fn refuses_a_newer_schema() -> TestResult {
        let mut conn = Connection::open_in_memory()?;
        conn.pragma_update(None, "user_version", latest() + 1)?;
        assert!(matches!(check_compatible(&conn), Err(StoreError::Incompatible(_))));
        assert!(matches!(apply(&mut conn), Err(StoreError::Incompatible(_))));
        Ok(())
    }
}
