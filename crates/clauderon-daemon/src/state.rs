use clauderon_core::{SessionIo, SessionManager, SessionReads};
use clauderon_proxy::credentials::CredentialStore;
use std::sync::Arc;
use tokio::sync::watch;

/// What every handler sees: a cheap clone.
#[derive(Clone)]
pub struct AppState {
    /// The single writer: lifecycle changes, access mode, budgets.
    pub manager: SessionManager,
    /// What sessions look like: list, detail, audit, events, messages, usage.
    pub reads: SessionReads,
    /// Sessions' processes: logs, environment, terminal, typed input.
    pub io: SessionIo,
    /// Becomes `true` when the daemon shuts down; long-lived streams end then.
    pub shutdown: watch::Receiver<bool>,
    /// Where credentials come from (names and sources only ever leave the daemon).
    pub credentials: Arc<CredentialStore>,
    /// clauderon's CA certificate (public), for `clauderon config ca-cert`.
    pub ca_pem: Arc<str>,
    /// The configured hooks, for `hooks test` (`None`: a state built without them, in tests).
    pub hooks: Option<crate::hooks::HookRunner>,
    /// Web Push (`None`: a state built without it, in tests, or its key could not be made).
    pub push: Option<Arc<crate::webpush::WebPush>>,
}

impl AppState {
    pub fn new(
        manager: SessionManager,
        shutdown: watch::Receiver<bool>,
        credentials: Arc<CredentialStore>,
        ca_pem: Arc<str>,
    ) -> Self {
        let (reads, io) = (SessionReads::new(&manager), SessionIo::new(&manager));
        AppState { manager, reads, io, shutdown, credentials, ca_pem, hooks: None, push: None }
    }

    pub fn with_hooks(mut self, hooks: crate::hooks::HookRunner) -> Self {
        self.hooks = Some(hooks);
        self
    }

    pub fn with_push(mut self, push: Option<Arc<crate::webpush::WebPush>>) -> Self {
        self.push = push;
        self
    }
}
