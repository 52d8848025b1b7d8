//! The backend contract for Sprites, against the local STAND-IN of the Sprites API (see
//! `common`): not the real service.

mod common;

use clauderon_backend::SessionBackend;
use std::sync::Arc;

async fn make() -> Arc<dyn SessionBackend> {
    // The contract's sessions have no proxy (port 9, discard): the relay still has to come up.
    Arc::new(common::stood(9).await)
}

clauderon_backend::backend_contract_tests!(make);
