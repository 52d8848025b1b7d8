//! The fake backend passes the same contract suite the real backends must pass.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use clauderon_backend::SessionBackend;
use clauderon_testkit::FakeBackend;
use std::sync::Arc;

async fn make() -> Arc<dyn SessionBackend> {
    FakeBackend::new()
}

clauderon_backend::backend_contract_tests!(make);
