#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report
use chrono::{Duration, Utc};
use clauderon_store::{Store, StoreError, latest_schema};
use clauderon_types::api::ListView;
use clauderon_types::{
    AccessMode, AgentKind, BackendKind, EventKind, Session, SessionId, SessionName, SessionStatus,
};
use rusqlite::Connection;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

fn session(name: &str, offset_ms: i64) -> Session {
    let at = Utc::now() + Duration::milliseconds(offset_ms);
    Session {
        id: SessionId::new(),
        name: SessionName::parse(name).unwrap(),
        repo_path: PathBuf::from("/repo"),
        branch: format!("clauderon/{name}"),
        base_commit: "abc123".into(),
        worktree_path: PathBuf::from(format!("/data/worktrees/{name}")),
        backend: BackendKind::Docker,
        agent: AgentKind::Codex,
        access_mode: AccessMode::ReadOnly,
        prompt: "fix the bug\nplease".into(),
        status: SessionStatus::Creating,
        archived: false,
        backend_handle: None,
        error: None,
        created_at: at,
        updated_at: at,
    }
}

fn created(s: &Session) -> EventKind {
    EventKind::Created { backend: s.backend, agent: s.agent, access_mode: s.access_mode }
}

fn event_rows(path: &std::path::Path) -> i64 {
    let conn = Connection::open(path).unwrap();
    conn.query_row("SELECT COUNT(*) FROM session_events", [], |r| r.get(0)).unwrap()
}

#[test]
fn fresh_file_is_private_wal_and_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), latest_schema());
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let conn = Connection::open(&path).unwrap();
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn upgrades_a_v1_database_keeping_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let s = session("old-one", 0);
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(clauderon_store::MIGRATIONS[0].sql).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO sessions VALUES (?1, 'old-one', '/repo', 'clauderon/old-one', 'abc123', '/data/worktrees/old-one', \
             'docker', 'codex', 'read-only', 'fix the bug\nplease', 'creating', 0, NULL, NULL, ?2, ?2)",
            rusqlite::params![s.id.to_string(), s.created_at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)],
        )
        .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 2);
    let got = store.get(s.id).unwrap().expect("row kept");
    assert_eq!(got, s);
    // v2's events table works, and v2's unique name index now guards names.
    let mut again = session("old-one", 1);
    again.id = SessionId::new();
    assert!(store.insert_session(&again, &created(&again), Utc::now()).unwrap_err().is_conflict());
    store.update_session(&got, &[EventKind::Archived], Utc::now()).unwrap();
    assert_eq!(store.events_for(s.id, 10).unwrap().len(), 1);
}

#[test]
fn newer_schema_is_refused_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
    let err = Store::open(&path).err().expect("refused").to_string();
    assert!(err.contains("newer clauderon (schema v99"), "{err}");
    assert!(err.contains("upgrade clauderon"), "{err}");
}

#[test]
fn round_trips_every_field_and_orders_events() {
    let store = Store::open_in_memory().unwrap();
    let mut s = session("round-trip", 0);
    let first = store.insert_session(&s, &created(&s), Utc::now()).unwrap();
    assert_eq!(store.get_by_name(&s.name).unwrap(), Some(s.clone()));

    s.status = SessionStatus::Running;
    s.archived = true;
    s.access_mode = AccessMode::ReadWrite;
    s.backend_handle = Some("container-1".into());
    s.error = Some("was bad once".into());
    s.updated_at = Utc::now();
    let evs = store
        .update_session(
            &s,
            &[
                EventKind::StatusChanged { from: SessionStatus::Creating, to: SessionStatus::Running },
                EventKind::Archived,
            ],
            Utc::now(),
        )
        .unwrap();
    assert_eq!(store.get(s.id).unwrap(), Some(s.clone()));
    assert!(evs[0].seq > first.seq && evs[1].seq > evs[0].seq);

    let all = store.events_for(s.id, 100).unwrap();
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![first.seq, evs[0].seq, evs[1].seq]);
    assert_eq!(
        store.events_for(s.id, 2).unwrap().iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![evs[0].seq, evs[1].seq]
    );
    assert_eq!(store.events_since(first.seq, 10).unwrap().len(), 2);

    let gone = store.remove_session(s.id, &EventKind::Deleted, Utc::now()).unwrap();
    assert_eq!(store.get(s.id).unwrap(), None);
    let after = store.events_for(s.id, 100).unwrap();
    assert_eq!(after.len(), 4, "events outlive the session row");
    assert_eq!(after.last().map(|e| e.seq), Some(gone.seq));
}

#[test]
fn duplicate_name_is_a_conflict_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let store = Store::open(&path).unwrap();
    let a = session("same", 0);
    store.insert_session(&a, &created(&a), Utc::now()).unwrap();
    let b = session("same", 1);
    let err = store.insert_session(&b, &created(&b), Utc::now()).unwrap_err();
    assert!(err.is_conflict());
    assert_eq!(err.to_string(), "a session named `same` already exists");
    assert_eq!(store.count().unwrap(), 1);
    assert_eq!(event_rows(&path), 1, "the refused insert left no event");
}

#[test]
fn unknown_session_is_not_found() {
    let store = Store::open_in_memory().unwrap();
    let s = session("ghost", 0);
    assert!(store.update_session(&s, &[], Utc::now()).unwrap_err().is_not_found());
    assert!(store.remove_session(s.id, &EventKind::Deleted, Utc::now()).unwrap_err().is_not_found());
}

#[test]
fn list_filters_archived_and_keeps_creation_order() {
    let store = Store::open_in_memory().unwrap();
    let mut b = session("bbb", 10);
    let a = session("aaa", 20);
    let c = session("ccc", 0);
    for s in [&b, &a, &c] {
        store.insert_session(s, &created(s), Utc::now()).unwrap();
    }
    b.archived = true;
    store.update_session(&b, &[EventKind::Archived], Utc::now()).unwrap();
    let names = |v| store.list(v).unwrap().into_iter().map(|s| s.name.to_string()).collect::<Vec<_>>();
    assert_eq!(names(ListView::All), ["ccc", "bbb", "aaa"]);
    assert_eq!(names(ListView::Active), ["ccc", "aaa"]);
    assert_eq!(names(ListView::Archived), ["bbb"]);
}

#[test]
fn events_table_refuses_updates_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let store = Store::open(&path).unwrap();
    let s = session("append", 0);
    store.insert_session(&s, &created(&s), Utc::now()).unwrap();
    let conn = Connection::open(&path).unwrap();
    assert!(conn.execute("DELETE FROM session_events", []).is_err());
    assert!(conn.execute("UPDATE session_events SET kind = 'x'", []).is_err());
}

#[test]
fn corrupt_row_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let store = Store::open(&path).unwrap();
    let s = session("bad-status", 0);
    store.insert_session(&s, &created(&s), Utc::now()).unwrap();
    Connection::open(&path).unwrap().execute("UPDATE sessions SET status = 'bogus'", []).unwrap();
    let err = store.get(s.id).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("status `bogus`"), "{err}");
    assert!(store.list(ListView::All).is_err());
}

#[test]
fn close_checkpoints_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let store = Store::open(&path).unwrap();
    let sessions: Vec<_> = (0..50).map(|i| session(&format!("s{i}"), i)).collect();
    store.insert_many(&sessions, Utc::now()).unwrap();
    store.close().unwrap();
    let wal = dir.path().join("db-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0, "WAL left with content");
    assert_eq!(Store::open(&path).unwrap().count().unwrap(), 50);
}
