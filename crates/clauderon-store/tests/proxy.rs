//! The proxy's tables: secrets that die with their session, and the audit.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use chrono::Utc;
use clauderon_store::Store;
use clauderon_types::audit::{AuditEntry, Decision};
use clauderon_types::{EventKind, Session, SessionId};

#[allow(dead_code)] // each test binary uses its own part of the fixture
mod fixture;

fn session(name: &str) -> Session {
    fixture::session(name, 0)
}

fn entry(name: &str, decision: Decision) -> AuditEntry {
    AuditEntry {
        id: 0,
        at: Utc::now(),
        session_id: Some(SessionId::new()),
        session_name: Some(name.into()),
        method: "POST".into(),
        host: "api.anthropic.com".into(),
        path: "/v1/messages?beta=true".into(),
        status: Some(200),
        bytes_up: 10,
        bytes_down: 2000,
        duration_ms: 7,
        credential: Some("anthropic_api_key".into()),
        note: None,
        decision,
    }
}

#[test]
fn proxy_secrets_live_and_die_with_their_session() {
    let store = Store::open_in_memory().unwrap();
    let s = session("sec");
    store.insert_session(&s, &EventKind::Archived, Utc::now()).unwrap();
    store.set_proxy_secret(s.id, "s3cret").unwrap();
    store.set_proxy_secret(s.id, "rotated").unwrap();
    assert_eq!(store.proxy_secret(s.id).unwrap().as_deref(), Some("rotated"));
    assert_eq!(store.proxy_secrets().unwrap(), vec![(s.id, s.name.clone(), "rotated".to_string())]);
    assert!(store.set_proxy_secret(SessionId::new(), "x").unwrap_err().is_not_found());
    store.remove_session(s.id, &EventKind::Deleted, Utc::now()).unwrap();
    assert!(store.proxy_secrets().unwrap().is_empty(), "the secret outlived its session");
    assert_eq!(store.proxy_secret(s.id).unwrap(), None);
}

/// The store maps decisions by label: a variant added to the domain type without a mapping
/// here would make every row holding it unreadable.
#[test]
fn every_decision_round_trips_through_its_label() {
    let store = Store::open_in_memory().unwrap();
    let decisions = [
        Decision::Injected,
        Decision::Forwarded,
        Decision::Tunneled,
        Decision::Denied { reason: "denied because".into() },
        Decision::Failed { reason: "failed because".into() },
        Decision::Answered { reason: "answered because".into() },
    ];
    let entries: Vec<AuditEntry> = decisions.iter().map(|d| entry("all", d.clone())).collect();
    store.append_audit(&entries).unwrap();
    let read: Vec<Decision> =
        store.audit(Some("all"), 0, 100).unwrap().into_iter().map(|e| e.decision).collect();
    assert_eq!(read, decisions);
}

#[test]
fn audit_round_trips_and_filters_by_session() {
    let store = Store::open_in_memory().unwrap();
    let a = entry("a", Decision::Injected);
    let b = entry("b", Decision::Denied { reason: "egress: evil.com is not allowed".into() });
    let c = entry("a", Decision::Failed { reason: "upstream down".into() });
    store.append_audit(&[a.clone(), b.clone(), c.clone()]).unwrap();
    let all = store.audit(None, 0, 100).unwrap();
    assert_eq!(all.len(), 3);
    assert!(all[0].id < all[1].id && all[1].id < all[2].id);
    let mut want = a.clone();
    want.id = all[0].id;
    assert_eq!(all[0], want);
    assert_eq!(all[1].decision, b.decision);
    let only_a = store.audit(Some("a"), 0, 100).unwrap();
    assert_eq!(only_a.iter().map(|e| e.decision.label()).collect::<Vec<_>>(), ["injected", "failed"]);
    assert_eq!(store.audit(None, all[1].id, 100).unwrap().len(), 1, "after an id");
    assert_eq!(store.audit_tail(Some("a"), 1).unwrap()[0].decision, c.decision);
}
