//! Stopping a session's process and starting it again. A session's agent resumes its
//! conversation when it starts again (its launch script finds the transcript in the session's
//! HOME); a `--command` session runs its command again. Before it starts again, the agent's
//! settings files are brought up to this clauderon's.

use super::SessionManager;
use crate::error::CoreError;
use clauderon_backend::{AgentFiles, BackendError, BackendHandle, SessionBackend};
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
            if tokio::fs::symlink_metadata(&s.worktree_path).await.is_err() {
                return Err(CoreError::Conflict(format!(
                    "session `{}`'s worktree is gone (removed when its pull request merged, or by hand); its branch \
                     `{}` is kept: start a new session from it with `clauderon create --base {}`",
                    s.name, s.branch, s.branch
                )));
            }
            let handle = resource(&s)?;
            let backend = self.backend(s.backend)?;
            if let Err(BackendError::Refused(r)) = self.refresh_agent_files(&s, backend.as_ref()).await {
                // A link the session planted in its HOME: not followed, and not started over it.
                let then = format!("run `clauderon start {}` again", s.name);
                return Err(self.refused_locked(&s, "start", &r, &then).await);
            }
            backend.start(&handle).await.map_err(|e| {
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

    /// Bring the agent's settings files in the session's HOME up to this clauderon's (status
    /// hooks, workspace trust, telemetry off), merged over what the session changed in them,
    /// before its process starts again: a session created by an older clauderon gets what this
    /// one writes. The backend's `prepare_start` does it, as at create. A link the session
    /// planted on the way is returned ([`BackendError::Refused`]): the start is refused (see
    /// ARCHITECTURE.md, Containment). Any other failure is logged, and the process starts with
    /// the files as they are.
    async fn refresh_agent_files(
        &self,
        s: &Session,
        backend: &dyn SessionBackend,
    ) -> Result<(), BackendError> {
        let home = self.inner.layout.session_home(s.name.as_str());
        if !tokio::fs::metadata(&home).await.is_ok_and(|m| m.is_dir()) {
            return Ok(());
        }
        let files = AgentFiles {
            agent: s.agent,
            home,
            worktree: s.worktree_path.clone(),
            placeholders: self.inner.proxy.placeholders(),
        };
        match backend.prepare_start(&files).await {
            Err(e @ BackendError::Refused(_)) => Err(e),
            Err(e) => {
                tracing::warn!(session = %s.name, error = %e, "could not bring the agent's settings up to date; starting with them as they are");
                Ok(())
            }
            Ok(()) => Ok(()),
        }
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
