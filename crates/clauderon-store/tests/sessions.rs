//! Sessions and their events through the public API.

mod fixture;

use chrono::Duration;
use clauderon_store::{Store, StoreError};
use clauderon_types::api::ListView;
use clauderon_types::{AccessMode, BackendKind, EventKind, Session, SessionId, SessionName, SessionStatus};
use fixture::{TestResult, created, rows, session, t0};
use rusqlite::Connection;
use std::sync::Arc;

fn file_store() -> Result<(tempfile::TempDir, std::path::PathBuf, Store), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("clauderon.db");
    let store = Store::open(&path)?;
    Ok((dir, path, store))
}

#[test]
fn insert_get_update_remove_round_trip_every_field() -> TestResult {
    let store = Store::open_in_memory()?;
    let mut s = session("round-trip", 0);
    let first = store.insert_session(&s, &created(&s), t0())?;
    assert_eq!(first.session_id, s.id);
    assert_eq!(first.session_name, s.name);
    assert_eq!(first.kind, created(&s));
    assert_eq!(first.at, t0());
    assert_eq!(store.get(s.id)?, Some(s.clone()));
    assert_eq!(store.get_by_name(&s.name)?, Some(s.clone()));

    s.status = SessionStatus::Failed;
    s.archived = true;
    s.access_mode = AccessMode::ReadWrite;
    s.backend_handle = Some("container-1".into());
    s.error = Some("the image would not pull".into());
    s.updated_at = t0() + Duration::seconds(3);
    let at = t0() + Duration::seconds(4);
    let evs = store.update_session(
        &s,
        &[
            EventKind::Failed { from: SessionStatus::Creating, message: "the image would not pull".into() },
            EventKind::AccessModeChanged { from: AccessMode::ReadOnly, to: AccessMode::ReadWrite },
            EventKind::Archived,
        ],
        at,
    )?;
    assert_eq!(store.get(s.id)?, Some(s.clone()));
    assert_eq!(store.get_by_handle(s.backend, "container-1")?, Some(s.clone()));
    assert_eq!(store.get_by_handle(s.backend, "container-2")?, None);
    let other = if s.backend == BackendKind::Docker { BackendKind::Zellij } else { BackendKind::Docker };
    assert_eq!(store.get_by_handle(other, "container-1")?, None, "a handle belongs to one backend");
    assert_eq!(evs.len(), 3);
    assert!(evs.iter().all(|e| e.at == at && e.session_id == s.id));

    // Clearing optional fields writes NULLs back.
    s.backend_handle = None;
    s.error = None;
    s.archived = false;
    store.update_session(&s, &[EventKind::Unarchived], at)?;
    assert_eq!(store.get(s.id)?, Some(s.clone()));

    let gone = store.remove_session(s.id, &EventKind::Deleted, at)?;
    assert_eq!((gone.kind, gone.session_name), (EventKind::Deleted, s.name.clone()));
    assert_eq!(store.get(s.id)?, None);
    assert_eq!(store.get_by_name(&s.name)?, None);
    assert_eq!(store.count()?, 0);
    Ok(())
}

#[test]
fn events_are_append_only_ordered_and_outlive_the_session() -> TestResult {
    let (_dir, path, store) = file_store()?;
    let s = session("append", 0);
    let mut seqs = vec![store.insert_session(&s, &created(&s), t0())?.seq];
    let running = Session { status: SessionStatus::Running, ..s.clone() };
    for e in store.update_session(
        &running,
        &[EventKind::StatusChanged { from: SessionStatus::Creating, to: SessionStatus::Running }],
        t0(),
    )? {
        seqs.push(e.seq);
    }
    seqs.push(store.remove_session(s.id, &EventKind::Deleted, t0())?.seq);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    let all = store.events_for(s.id, 100)?;
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), seqs, "events outlive the row");
    assert_eq!(all.last().map(|e| &e.kind), Some(&EventKind::Deleted));
    // The latest `limit`, oldest first.
    assert_eq!(store.events_for(s.id, 2)?.iter().map(|e| e.seq).collect::<Vec<_>>(), seqs[1..]);
    assert_eq!(store.events_for(SessionId::new(), 10)?, vec![]);

    // The table itself refuses to forget.
    let conn = Connection::open(&path)?;
    assert!(conn.execute("DELETE FROM session_events", []).is_err());
    assert!(conn.execute("UPDATE session_events SET kind = 'x'", []).is_err());
    assert_eq!(rows(&path, "session_events")?, 3);
    Ok(())
}

#[test]
fn events_since_reads_after_a_seq_across_sessions() -> TestResult {
    let store = Store::open_in_memory()?;
    let a = session("aaa", 0);
    let b = session("bbb", 1);
    let e1 = store.insert_session(&a, &created(&a), t0())?;
    let e2 = store.insert_session(&b, &created(&b), t0())?;
    let e3 = store.update_session(&Session { archived: true, ..a.clone() }, &[EventKind::Archived], t0())?;
    let all = [vec![e1.clone(), e2.clone()], e3].concat();

    assert_eq!(store.events_since(0, 100)?, all);
    assert_eq!(store.events_since(e1.seq, 100)?, all[1..]);
    assert_eq!(store.events_since(e1.seq, 1)?, all[1..2]);
    assert_eq!(store.events_since(all[2].seq, 100)?, vec![]);
    Ok(())
}

#[test]
fn a_duplicate_name_is_a_conflict_and_writes_nothing() -> TestResult {
    let (_dir, path, store) = file_store()?;
    let a = session("same", 0);
    store.insert_session(&a, &created(&a), t0())?;
    let b = session("same", 1);
    let err = store.insert_session(&b, &created(&b), t0()).err().ok_or("duplicate name accepted")?;
    assert!(err.is_conflict(), "{err:?}");
    assert_eq!(err.to_string(), "a session named `same` already exists");
    assert_eq!(store.count()?, 1);
    assert_eq!(rows(&path, "session_events")?, 1, "the refused insert left an event");
    assert_eq!(store.get_by_name(&a.name)?, Some(a));
    Ok(())
}

#[test]
fn a_duplicate_id_is_a_conflict_and_writes_nothing() -> TestResult {
    let (_dir, path, store) = file_store()?;
    let a = session("first", 0);
    store.insert_session(&a, &created(&a), t0())?;
    let b = Session { id: a.id, ..session("second", 1) };
    let err = store.insert_session(&b, &created(&b), t0()).err().ok_or("duplicate id accepted")?;
    assert!(err.is_conflict(), "{err:?}");
    assert!(err.to_string().contains("`second`"), "{err}");
    assert_eq!(store.count()?, 1);
    assert_eq!(rows(&path, "session_events")?, 1);
    Ok(())
}

#[test]
fn insert_many_is_all_or_nothing() -> TestResult {
    let store = Store::open_in_memory()?;
    let batch = vec![session("one", 0), session("two", 1), session("one", 2)];
    assert!(store.insert_many(&batch, t0()).is_err_and(|e| e.is_conflict()));
    assert_eq!(store.count()?, 0);
    assert_eq!(store.events_since(0, 10)?, vec![]);
    Ok(())
}

#[test]
fn an_unknown_session_is_not_found() -> TestResult {
    let store = Store::open_in_memory()?;
    let s = session("ghost", 0);
    let update = store.update_session(&s, &[EventKind::Archived], t0());
    assert!(update.is_err_and(|e| e.is_not_found()));
    let remove = store.remove_session(s.id, &EventKind::Deleted, t0());
    assert!(remove.is_err_and(|e| e.is_not_found()));
    assert_eq!(store.events_since(0, 10)?, vec![], "a refused call left an event");
    assert_eq!(store.get(s.id)?, None);
    assert_eq!(store.get_by_name(&SessionName::parse("ghost")?)?, None);
    Ok(())
}

#[test]
fn list_filters_archived_and_orders_by_creation_then_name() -> TestResult {
    let store = Store::open_in_memory()?;
    let b = session("bbb", 10);
    let a = session("aaa", 20);
    let c = session("ccc", 0);
    let tie = session("abc", 10); // created with `bbb`: the name decides
    for s in [&b, &a, &c, &tie] {
        store.insert_session(s, &created(s), t0())?;
    }
    store.update_session(&Session { archived: true, ..b.clone() }, &[EventKind::Archived], t0())?;
    let names = |v| -> Result<Vec<String>, StoreError> {
        Ok(store.list(v)?.into_iter().map(|s| s.name.to_string()).collect())
    };
    assert_eq!(names(ListView::All)?, ["ccc", "abc", "bbb", "aaa"]);
    assert_eq!(names(ListView::Active)?, ["ccc", "abc", "aaa"]);
    assert_eq!(names(ListView::Archived)?, ["bbb"]);
    assert_eq!(store.count()?, 4);
    Ok(())
}

#[test]
fn lists_ten_thousand_sessions_in_order() -> TestResult {
    // A sanity check for the benchmark path (no timing asserted; see clauderon-bench).
    let store = Store::open_in_memory()?;
    let mut sessions: Vec<_> = (0..10_000).map(|i| session(&format!("s-{i:05}"), 10_000 - i)).collect();
    store.insert_many(&sessions, t0())?;
    sessions.reverse();
    assert_eq!(store.count()?, 10_000);
    assert_eq!(store.list(ListView::All)?, sessions);
    assert_eq!(store.list(ListView::Archived)?.len(), 0);
    assert_eq!(store.events_since(0, usize::MAX)?.len(), 10_000);
    Ok(())
}

#[test]
fn a_corrupt_row_is_an_error_not_a_panic() -> TestResult {
    let (_dir, path, store) = file_store()?;
    let s = session("bad-status", 0);
    store.insert_session(&s, &created(&s), t0())?;
    let conn = Connection::open(&path)?;
    conn.execute("UPDATE sessions SET status = 'bogus'", [])?;
    let err = store.get(s.id).err().ok_or("a bogus status was read")?;
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("status `bogus`"), "{err}");
    assert!(err.to_string().contains(&s.id.to_string()), "the error should name the row: {err}");
    assert!(matches!(store.list(ListView::All), Err(StoreError::Corrupt { .. })));

    for (column, value) in [("status", "running"), ("created_at", "last tuesday")] {
        conn.execute(&format!("UPDATE sessions SET {column} = ?1"), [value])?;
    }
    assert!(matches!(store.get_by_name(&s.name), Err(StoreError::Corrupt { .. })));

    // An event appended by hand with a payload that does not parse.
    conn.execute(
        "INSERT INTO session_events (session_id, session_name, at, kind, payload) \
         VALUES (?1, 'bad-status', '2025-01-01T00:00:00.000000000Z', 'archived', '{oops')",
        [s.id.to_string()],
    )?;
    assert!(matches!(store.events_for(s.id, 10), Err(StoreError::Corrupt { .. })));
    assert!(matches!(store.events_since(0, 10), Err(StoreError::Corrupt { .. })));
    Ok(())
}

#[test]
fn the_store_is_shared_across_threads() -> TestResult {
    let store = Arc::new(Store::open_in_memory()?);
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || -> Result<(), StoreError> {
                for i in 0..25 {
                    let s = session(&format!("t{t}-{i}"), i);
                    store.insert_session(&s, &created(&s), t0())?;
                }
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| "a writer thread panicked")??;
    }
    assert_eq!(store.count()?, 100);
    let seqs: Vec<_> = store.events_since(0, 1000)?.into_iter().map(|e| e.seq).collect();
    assert_eq!(seqs.len(), 100);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    Ok(())
}
