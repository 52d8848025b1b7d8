//! The backend contract for Apple Container, against the test kit's stand-in `container`
//! program (not Apple Container: macOS 26 cannot run here; the stand-in records the calls and
//! emulates the lifecycle by running the session's command on the host).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use clauderon_apple::{AppleContainerBackend, AppleSettings};
use clauderon_backend::SessionBackend;
use std::sync::Arc;

async fn make() -> Arc<dyn SessionBackend> {
    let dir = tempfile::tempdir().unwrap().keep();
    let mut settings = AppleSettings::new(&dir.join("data"), |k| std::env::var(k).ok());
    settings.program = clauderon_testkit::stand_ins::install_container(&dir);
    settings.require_macos = false;
    Arc::new(AppleContainerBackend::new(settings))
}

clauderon_backend::backend_contract_tests!(make);
