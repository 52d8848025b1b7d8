//! The backend contract suite against the real Docker engine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use clauderon_backend::SessionBackend;
use std::sync::Arc;

async fn make() -> Arc<dyn SessionBackend> {
    support::backend().await
}

clauderon_backend::backend_contract_tests!(make);
