//! The backend contract against real zellij, every session in the `full` sandbox (real
//! bubblewrap, network namespace, relay).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use clauderon_backend::SessionBackend;
use std::sync::Arc;

async fn make() -> Arc<dyn SessionBackend> {
    support::backend(clauderon_types::SandboxLevel::Full)
}

clauderon_backend::backend_contract_tests!(make);
