//! Sessions follow their resources: each backend's status feed ([`SessionBackend::watch`],
//! Docker's events) is applied as it comes, with the same decisions reconcile makes at start,
//! so a container that exits makes its session `stopped` without anyone polling.

use super::SessionManager;
use super::reconcile::decide;
use clauderon_backend::{BackendStatus, StatusChange};
use clauderon_types::{BackendKind, EventKind, SessionStatus};
use tokio::sync::watch;
use tokio::task::JoinHandle;

impl SessionManager {
    /// One task per backend with a feed, until `stop` turns true. Await them before `close`.
    pub fn follow_backends(&self, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        let mut tasks = Vec::new();
        for (kind, backend) in self.backends() {
            let Some(mut feed) = backend.watch() else { continue };
            let (kind, manager, mut stop) = (*kind, self.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    tokio::select! {
                        change = feed.recv() => match change {
                            Some(c) => manager.apply_change(kind, c).await,
                            None => break,
                        },
                        _ = async { stop.wait_for(|s| *s).await.is_ok() } => break,
                    }
                }
            }));
        }
        tasks
    }

    async fn apply_change(&self, kind: BackendKind, change: StatusChange) {
        let handle = change.handle.as_str().to_string();
        let session = match self.store(move |s| s.get_by_handle(kind, &handle)).await {
            Ok(Some(s)) => s,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "could not apply a backend status change");
                return;
            }
        };
        // The manager itself is creating or deleting it: its own steps set the status.
        if matches!(session.status, SessionStatus::Creating | SessionStatus::Deleting) {
            return;
        }
        if let Some(t) = decide(&session, Some(change.status)) {
            let name = session.name.to_string();
            let stopped = change.status == BackendStatus::Stopped && !change.detail.is_empty();
            match self.apply_report(&name, t).await {
                Ok(after) => {
                    if stopped
                        && let Err(e) = self
                            .record_event(&name, EventKind::ProcessEnded { detail: change.detail.clone() })
                            .await
                    {
                        tracing::warn!(session = %name, error = %e, "could not record how the process ended");
                    }
                    tracing::info!(session = %name, status = %after.status, detail = %change.detail, "backend reported a change")
                }
                Err(e) => {
                    tracing::warn!(session = %name, error = %e, "could not apply a backend status change")
                }
            }
        }
    }
}
