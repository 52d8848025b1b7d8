//! The store's one error type. SQLite's own errors are sorted into the cases a
//! caller decides on; only what is left stays a plain `Sqlite` message.

use rusqlite::ErrorCode;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such session.
    #[error("not found: {0}")]
    NotFound(String),
    /// A session with that name (or id) already exists.
    #[error("{0}")]
    Conflict(String),
    /// The database is from a newer clauderon.
    #[error("{0}")]
    Incompatible(String),
    /// A stored value does not parse, or the file is not a database at all:
    /// it was edited by hand or damaged.
    #[error("the database is damaged: {what}")]
    Corrupt { what: String },
    /// Another process holds the database longer than the busy timeout.
    #[error("the database is busy ({0}): another clauderon process may be using it; try again")]
    Busy(String),
    /// The database file could not be created or opened.
    #[error("cannot open the database file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An event could not be encoded as JSON.
    #[error("cannot encode an event: {0}")]
    Encode(String),
    /// Any other SQLite failure.
    #[error("sqlite: {0}")]
    Sqlite(String),
}

impl StoreError {
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict(_))
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::NotFound(_))
    }

    /// Worth trying the same call again a little later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Busy(_))
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy(e.to_string()),
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                StoreError::Corrupt { what: e.to_string() }
            }
            _ => StoreError::Sqlite(e.to_string()),
        }
    }
}

/// Which uniqueness rule an insert broke, if that is why it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Duplicate {
    Id,
    Name,
}

pub(crate) fn duplicate(e: &rusqlite::Error) -> Option<Duplicate> {
    match e.sqlite_error() {
        Some(f) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => Some(Duplicate::Id),
        Some(f) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE => Some(Duplicate::Name),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    fn failure(sql: &str) -> rusqlite::Error {
        let conn = Connection::open_in_memory().unwrap_or_else(|e| panic!("open: {e}"));
        conn.execute_batch(
            "CREATE TABLE t (id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL UNIQUE, n TEXT NOT NULL); \
             INSERT INTO t VALUES ('1', 'a', 'x');",
        )
        .unwrap_or_else(|e| panic!("setup: {e}"));
        match conn.execute_batch(sql) {
            Err(e) => e,
            Ok(()) => panic!("`{sql}` succeeded"),
        }
    }

    #[test]
    fn tells_a_duplicate_id_from_a_duplicate_name() {
        assert_eq!(duplicate(&failure("INSERT INTO t VALUES ('1', 'b', 'x')")), Some(Duplicate::Id));
        assert_eq!(duplicate(&failure("INSERT INTO t VALUES ('2', 'a', 'x')")), Some(Duplicate::Name));
        // Other constraints are not duplicates.
        assert_eq!(duplicate(&failure("INSERT INTO t VALUES ('3', 'c', NULL)")), None);
    }

    #[test]
    fn sorts_sqlite_failures_into_cases() {
        let err = StoreError::from(failure("SELECT nope FROM t"));
        assert!(matches!(err, StoreError::Sqlite(_)), "{err:?}");
        assert!(!err.is_retryable());
        let busy =
            rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY), None);
        assert!(StoreError::from(busy).is_retryable());
        let not_db =
            rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_NOTADB), None);
        assert!(matches!(StoreError::from(not_db), StoreError::Corrupt { .. }));
    }
}
