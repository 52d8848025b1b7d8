//! Closing the manager at shutdown: the last users of the store are waited for, briefly.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use clauderon_testkit::FakeBackend;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_waits_for_a_handle_dropped_a_moment_later() {
    let data = tempfile::tempdir().unwrap();
    let manager = clauderon_testkit::daemon::manager(data.path(), FakeBackend::new());
    // Like a server's connection task that says it is done and drops its clone just after.
    let late = manager.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(late);
    });
    manager.close().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn close_gives_up_with_a_clear_error_while_a_handle_lives_on() {
    let data = tempfile::tempdir().unwrap();
    let manager = clauderon_testkit::daemon::manager(data.path(), FakeBackend::new());
    let _kept = manager.clone();
    let err = manager.close().await.unwrap_err().to_string();
    assert!(err.contains("still in use") && err.contains("5s"), "{err}");
}
