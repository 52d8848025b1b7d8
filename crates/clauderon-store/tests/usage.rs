//! Token usage records: written in batches, read per session, summed for budgets, and
//! deleted with their session.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use chrono::Duration;
use clauderon_store::Store;
use clauderon_types::usage::{TokenUsage, UsageRecord};
use clauderon_types::{EventKind, Session, SessionId};

#[allow(dead_code)] // each test binary uses its own part of the fixture
mod fixture;

fn stored(store: &Store, name: &str) -> Session {
    let s = fixture::session(name, 0);
    store.insert_session(&s, &EventKind::Archived, fixture::t0()).unwrap();
    s
}

fn record(s: &Session, minutes: i64, model: &str, input: u64, cost: Option<f64>) -> UsageRecord {
    UsageRecord {
        at: fixture::t0() + Duration::minutes(minutes),
        session_id: s.id,
        session_name: s.name.to_string(),
        usage: TokenUsage {
            provider: "anthropic".into(),
            model: model.into(),
            input_tokens: input,
            output_tokens: 7,
            cache_read_tokens: 3,
            cache_write_tokens: u64::from(u32::MAX) * 4,
        },
        cost_usd: cost,
    }
}

#[test]
fn usage_round_trips_in_time_order_per_session() {
    let store = Store::open_in_memory().unwrap();
    let (a, b) = (stored(&store, "a"), stored(&store, "b"));
    let late = record(&a, 5, "claude-sonnet-4-5", 100, Some(0.125));
    let early = record(&a, 1, "claude-haiku-4-5", 10, None);
    let other = record(&b, 2, "gpt-5", 1, Some(1.0));
    store.append_usage(&[late.clone(), other.clone()]).unwrap();
    store.append_usage(std::slice::from_ref(&early)).unwrap();
    assert_eq!(store.usage_for(a.id).unwrap(), vec![early, late]);
    assert_eq!(store.usage_for(b.id).unwrap(), vec![other]);
    assert!(store.usage_for(SessionId::new()).unwrap().is_empty());
}

#[test]
fn totals_sum_every_token_kind_and_known_costs() {
    let store = Store::open_in_memory().unwrap();
    let (a, b) = (stored(&store, "a"), stored(&store, "b"));
    let big = u64::from(u32::MAX) * 4;
    store
        .append_usage(&[
            record(&a, 0, "m", 100, Some(0.5)),
            record(&a, 1, "unpriced", 10, None),
            record(&b, 0, "m", 1, Some(0.25)),
        ])
        .unwrap();
    let mut totals = store.usage_totals().unwrap();
    totals.sort_by_key(|(id, _, _)| if *id == a.id { 0 } else { 1 });
    assert_eq!(totals, vec![(a.id, 110 + 2 * (7 + 3 + big), 0.5), (b.id, 1 + 7 + 3 + big, 0.25)]);
}

#[test]
fn usage_dies_with_its_session_and_late_records_are_skipped() {
    let store = Store::open_in_memory().unwrap();
    let (a, b) = (stored(&store, "a"), stored(&store, "b"));
    store.append_usage(&[record(&a, 0, "m", 1, None), record(&b, 0, "m", 1, None)]).unwrap();
    store.remove_session(a.id, &EventKind::Deleted, fixture::t0()).unwrap();
    assert!(store.usage_for(a.id).unwrap().is_empty(), "the usage outlived its session");
    // A record queued before the delete arrives after it: skipped, the batch still lands.
    store.append_usage(&[record(&a, 1, "m", 1, None), record(&b, 1, "m", 2, None)]).unwrap();
    assert!(store.usage_for(a.id).unwrap().is_empty());
    assert_eq!(store.usage_for(b.id).unwrap().len(), 2);
    assert_eq!(store.usage_totals().unwrap().len(), 1);
}
