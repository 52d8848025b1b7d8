use clauderon_core::SessionManager;
use tokio::sync::watch;

/// What every handler sees: a cheap clone.
#[derive(Clone)]
pub struct AppState {
    pub manager: SessionManager,
    /// Becomes `true` when the daemon shuts down; long-lived streams end then.
    pub shutdown: watch::Receiver<bool>,
}
