//! Opening, migrating, refusing and closing database files.

mod fixture;

use clauderon_store::{MIGRATIONS, Store, StoreError, latest_schema};
use clauderon_types::api::ListView;
use clauderon_types::{EventKind, SessionId};
use fixture::{TestResult, created, rows, session, t0};
use rusqlite::Connection;
use std::os::unix::fs::PermissionsExt;

#[test]
fn a_fresh_file_is_private_wal_and_at_the_latest_schema() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("clauderon.db");
    let store = Store::open(&path)?;
    assert_eq!(store.schema_version()?, latest_schema());
    assert!(latest_schema() >= 2);
    assert_eq!(std::fs::metadata(&path)?.permissions().mode() & 0o777, 0o600);
    let conn = Connection::open(&path)?;
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    assert_eq!(mode, "wal");
    let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    assert_eq!(version, latest_schema());
    Ok(())
}

#[test]
fn reopening_keeps_data_and_schema() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("clauderon.db");
    let s = session("kept", 0);
    Store::open(&path)?.insert_session(&s, &created(&s), t0())?;
    let store = Store::open(&path)?;
    assert_eq!(store.schema_version()?, latest_schema());
    assert_eq!(store.get(s.id)?, Some(s));
    Ok(())
}

#[test]
fn upgrades_a_v1_database_keeping_its_rows() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("clauderon.db");
    let s = session("old-one", 0);
    {
        // The database as the first schema left it: sessions only, no events table.
        let conn = Connection::open(&path)?;
        conn.execute_batch(MIGRATIONS[0].sql)?;
        conn.pragma_update(None, "user_version", 1)?;
        conn.execute(
            "INSERT INTO sessions VALUES (?1, 'old-one', ?2, 'clauderon/old-one', ?3, '/data/worktrees/old-one', \
             'docker', 'codex', 'read-only', ?4, 'creating', 0, NULL, NULL, ?5, ?5)",
            rusqlite::params![
                s.id.to_string(),
                s.repo_path.to_string_lossy(),
                s.base_commit,
                s.prompt,
                s.created_at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
            ],
        )?;
        let has_events: i64 =
            conn.query_row("SELECT COUNT(*) FROM sqlite_master WHERE name = 'session_events'", [], |r| {
                r.get(0)
            })?;
        assert_eq!(has_events, 0, "the v1 fixture must not have v2's table");
    }

    let store = Store::open(&path)?;
    assert_eq!(store.schema_version()?, latest_schema());
    let got = store.get(s.id)?.ok_or("the v1 row was lost")?;
    // v4 gave old rows empty options; everything else is as written.
    assert_eq!(got.options, Default::default());
    assert_eq!(got, clauderon_types::Session { options: Default::default(), ..s.clone() });

    // v2's events table works...
    let archived = clauderon_types::Session { archived: true, ..got };
    let evs = store.update_session(&archived, &[EventKind::Archived], t0())?;
    assert_eq!(store.events_for(s.id, 10)?, evs);
    // ...and v2's unique index now guards names.
    let again = clauderon_types::Session { id: SessionId::new(), ..session("old-one", 1) };
    assert!(store.insert_session(&again, &created(&again), t0()).is_err_and(|e| e.is_conflict()));
    Ok(())
}

#[test]
fn a_newer_schema_is_refused_with_advice_and_left_untouched() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("clauderon.db");
    let newer = latest_schema() + 7;
    Connection::open(&path)?.pragma_update(None, "user_version", newer)?;
    let err = Store::open(&path).err().ok_or("a newer schema was opened")?;
    assert!(matches!(err, StoreError::Incompatible(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "this database was written by a newer clauderon (schema v{newer}, this build knows up to v{}): \
             upgrade clauderon",
            latest_schema()
        )
    );
    let conn = Connection::open(&path)?;
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    assert_ne!(mode, "wal", "the refused file was switched to WAL");
    let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    assert_eq!(version, newer);
    Ok(())
}

#[test]
fn a_file_that_is_not_a_database_is_corrupt_and_named() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("clauderon.db");
    std::fs::write(
        &path,
        "this is not sqlite, just some text that is long enough to have a header".repeat(20),
    )?;
    match Store::open(&path) {
        Err(StoreError::Corrupt { what }) => {
            assert!(what.contains(&path.display().to_string()), "{what}");
            assert!(what.contains("move the file aside"), "{what}");
        }
        Err(other) => panic!("expected Corrupt, got {other:?}"),
        Ok(_) => panic!("a text file opened as a database"),
    }
    Ok(())
}

#[test]
fn an_unopenable_path_is_an_io_error_naming_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("missing-dir").join("clauderon.db");
    match Store::open(&path) {
        Err(err @ StoreError::Io { .. }) => assert!(err.to_string().contains("missing-dir"), "{err}"),
        Err(other) => panic!("expected Io, got {other:?}"),
        Ok(_) => panic!("opened a database in a missing directory"),
    }
    Ok(())
}

#[test]
fn close_checkpoints_the_wal_and_the_data_reopens() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("clauderon.db");
    let wal = dir.path().join("clauderon.db-wal");
    let store = Store::open(&path)?;
    let sessions: Vec<_> = (0..50).map(|i| session(&format!("s{i}"), i)).collect();
    store.insert_many(&sessions, t0())?;
    assert!(std::fs::metadata(&wal)?.len() > 0, "the writes should be in the WAL before close");
    store.close()?;
    assert!(!wal.exists() || std::fs::metadata(&wal)?.len() == 0, "WAL left with content");

    let store = Store::open(&path)?;
    assert_eq!(store.count()?, 50);
    assert_eq!(store.list(ListView::All)?, sessions);
    assert_eq!(rows(&path, "session_events")?, 50, "one created event per session");
    Ok(())
}
