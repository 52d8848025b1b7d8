//! Stopping a session's process and starting it again. A session's agent resumes its
//! conversation when it starts again (its launch script finds the transcript in the session's
//! HOME); a `--command` session runs its command again.

use super::SessionManager;
use crate::error::CoreError;
use clauderon_backend::BackendHandle;
use clauderon_types::{Session, SessionStatus, Transition};

impl SessionManager {
    /// Stop the session's process; its worktree, HOME and resource stay for `start`.
    pub async fn stop(&self, name: &str) -> Result<Session, CoreError> {
        self.with_session(name, |mut s| async move {
            if !s.status.is_active() {
                let hint = match s.status {
                    SessionStatus::Stopped | SessionStatus::Failed => {
                        format!(" (`clauderon start {}` starts it again)", s.name)
                    }
                    _ => String::new(),
                };
                return Err(CoreError::Conflict(format!(
                    "session `{}` is {}: there is nothing to stop{hint}",
                    s.name, s.status
                )));
            }
            let handle = resource(&s)?;
            self.backend(s.backend)?.stop(&handle).await?;
            self.transition(&mut s, Transition::Stopped).await?;
            Ok(s)
        })
        .await
    }

    /// Start a stopped (or failed) session's process again, on the resource it had.
    pub async fn start(&self, name: &str) -> Result<Session, CoreError> {
        self.with_session(name, |mut s| async move {
            if !matches!(s.status, SessionStatus::Stopped | SessionStatus::Failed) {
                return Err(CoreError::Conflict(format!(
                    "session `{}` is {}: only a stopped or failed session can be started",
                    s.name, s.status
                )));
            }
            let handle = resource(&s)?;
            self.backend(s.backend)?.start(&handle).await.map_err(|e| {
                CoreError::Unavailable(format!(
                    "starting session `{}` failed: {e}; fix the cause and run `clauderon start {}` again, \
                     or `clauderon delete {}`",
                    s.name, s.name, s.name
                ))
            })?;
            s.error = None;
            self.transition(&mut s, Transition::Started).await?;
            Ok(s)
        })
        .await
    }
}

/// The session's backend resource; a session whose create never got one has nothing to run.
fn resource(s: &Session) -> Result<BackendHandle, CoreError> {
    s.backend_handle.clone().map(BackendHandle).ok_or_else(|| {
        CoreError::Conflict(format!(
            "session `{}` has no {} resource (its create did not get that far): delete it with `clauderon delete {}` and create it again",
            s.name, s.backend, s.name
        ))
    })
}
