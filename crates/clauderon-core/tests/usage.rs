//! The manager's side of usage metering: the report of a session's stored usage, and the
//! spending loaded into the proxy's budget counters at start.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use chrono::{TimeZone, Utc};
use clauderon_core::{ManagerParts, ProxyEndpoint, SessionAccess, SessionManager, SessionReads};
use clauderon_proxy::policy::{SessionPolicies, Spent};
use clauderon_store::Store;
use clauderon_types::usage::{BucketWidth, TokenUsage, UsageRecord};
use clauderon_types::{DataLayout, EventKind, Session};
use std::sync::Arc;

fn record(s: &Session, input: u64, cost: Option<f64>) -> UsageRecord {
    UsageRecord {
        at: Utc.with_ymd_and_hms(2026, 1, 1, 10, 0, 0).unwrap(),
        session_id: s.id,
        session_name: s.name.to_string(),
        usage: TokenUsage {
            provider: "gemini".into(),
            model: "gemini-2.5-pro".into(),
            input_tokens: input,
            output_tokens: 10,
            cache_read_tokens: 5,
            cache_write_tokens: 0,
        },
        cost_usd: cost,
    }
}

#[tokio::test]
async fn spending_is_loaded_and_usage_reported_from_the_store() {
    let data = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open_in_memory().unwrap());
    let (a, b) = (clauderon_testkit::session::sample("spent"), clauderon_testkit::session::sample("idle"));
    for s in [&a, &b] {
        store.insert_session(s, &EventKind::Archived, Utc::now()).unwrap();
    }
    store.append_usage(&[record(&a, 100, Some(0.5)), record(&a, 20, None)]).unwrap();
    let policies = Arc::new(SessionPolicies::new());
    let manager = SessionManager::new(ManagerParts {
        store,
        backends: Vec::new(),
        layout: DataLayout::new(data.path()),
        defaults: clauderon_testkit::daemon::test_config().sessions,
        access: SessionAccess::new(Default::default(), policies.clone()),
        proxy: ProxyEndpoint { port: 9, ca_cert: data.path().join("ca.pem"), credentials: None },
    });

    let restored = manager.restore_access().await.unwrap();
    assert_eq!(restored.spending, 1, "only sessions with usage");
    assert_eq!(policies.spent(a.id), Spent { tokens: 120 + 2 * 15, usd: 0.5 });
    assert_eq!(policies.spent(b.id), Spent::default());

    let report = SessionReads::new(&manager).usage_report("spent", BucketWidth::Day).await.unwrap();
    assert_eq!(report.totals.len(), 1);
    assert_eq!((report.totals[0].requests, report.totals[0].input_tokens), (2, 120));
    assert_eq!(report.total_cost_usd, Some(0.5));
    assert_eq!(report.series.iter().map(|b| b.width_seconds).collect::<Vec<_>>(), vec![86_400]);
    let none = SessionReads::new(&manager).usage_report("idle", BucketWidth::Hour).await.unwrap();
    assert_eq!((none.total_tokens, none.totals.len()), (0, 0));
    assert!(
        SessionReads::new(&manager)
            .usage_report("nobody", BucketWidth::Hour)
            .await
            .unwrap_err()
            .to_string()
            .contains("nobody")
    );
}
