use clauderon_core::SessionManager;
use clauderon_proxy::credentials::CredentialStore;
use std::sync::Arc;
use tokio::sync::watch;

/// What every handler sees: a cheap clone.
#[derive(Clone)]
pub struct AppState {
    pub manager: SessionManager,
    /// Becomes `true` when the daemon shuts down; long-lived streams end then.
    pub shutdown: watch::Receiver<bool>,
    /// Where credentials come from (names and sources only ever leave the daemon).
    pub credentials: Arc<CredentialStore>,
    /// clauderon's CA certificate (public), for `clauderon config ca-cert`.
    pub ca_pem: Arc<str>,
}
