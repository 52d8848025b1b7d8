//! `clauderon hooks test NAME` and `clauderon hooks log [--json]`, the real binary against a test
//! daemon with one command hook.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use clauderon_core::config::hooks::{Hook, HookAction};
use clauderon_testkit::TestDaemon;
use std::collections::HashMap;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_test_fires_one_and_the_log_shows_it() {
    let mut config = clauderon_testkit::daemon::test_config();
    config.hooks = vec![Hook {
        name: "hello".into(),
        on: vec!["*".into()],
        session: None,
        action: HookAction::Command("echo hello from $CLAUDERON_SESSION".into()),
        timeout: Duration::from_secs(5),
    }];
    let d = TestDaemon::start_with(config, HashMap::new()).await;

    let (ok, empty, _) = common::run(&d, &["hooks", "log"]).await;
    assert!(ok && empty.contains("no hook deliveries yet"), "{empty}");
    let (ok, out, err) = common::run(&d, &["hooks", "test", "hello"]).await;
    assert!(ok, "{err}");
    assert!(
        out.contains("hello  test  hook-test  ok  0  1 attempt") && out.contains("hello from hook-test"),
        "{out}"
    );
    let (ok, _, err) = common::run(&d, &["hooks", "test", "nope"]).await;
    assert!(!ok && err.contains("no hook named `nope`") && err.contains("hello"), "{err}");
    let (ok, json, _) = common::run(&d, &["hooks", "log", "--json"]).await;
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["deliveries"][0]["event"], "test");
    assert_eq!(v["deliveries"][0]["detail"], "hello from hook-test");
}
