//! Shipping a session's work on the user's command: `push` (the session branch to the
//! repository's origin, through the proxy). The session's access mode is about what its agent
//! may do; the person decided to ship, so a read-only session can be pushed too. The push runs
//! on the host with a one-push proxy identity ([`super::access::SessionAccess::ship_pass`]) that
//! reaches the origin's host only; the token stays in the proxy.

use super::SessionManager;
use crate::error::CoreError;
use crate::worktree;
use chrono::Utc;
use clauderon_types::ship::{PushReport, PushRequest};
use clauderon_types::{EventKind, SessionStatus};

impl SessionManager {
    /// Push the session's branch to its repository's origin.
    pub async fn push(&self, name: &str, req: PushRequest) -> Result<PushReport, CoreError> {
        let session = self.get(name).await?;
        if matches!(session.status, SessionStatus::Deleting | SessionStatus::Deleted) {
            return Err(CoreError::Conflict(format!(
                "session `{name}` is being deleted: there is nothing to push"
            )));
        }
        let session_git = worktree::session_git(&session.repo_path, &session.worktree_path)?;
        let raw = worktree::origin_push_url(&session.repo_path).await?;
        let remote = worktree::https_remote(&raw)?;
        let pass = self.inner.access.ship_pass(&session, &remote.host);
        let proxy = worktree::PushProxy {
            url: format!("http://{}:{}@127.0.0.1:{}", pass.user(), pass.secret(), self.inner.proxy.port),
            secret: pass.secret().to_string(),
            ca_cert: self.inner.proxy.ca_cert.clone(),
        };
        let pushed = worktree::push_branch(
            &session.repo_path,
            session_git.common_dir(),
            &session.branch,
            &remote,
            &proxy,
            req.force,
        )
        .await;
        drop(pass);
        let pushed = pushed?;
        let event = EventKind::Pushed {
            remote: remote.url.clone(),
            branch: session.branch.clone(),
            commit: pushed.commit.clone(),
            forced: req.force,
        };
        self.with_session(name, |mut s| async move {
            s.updated_at = Utc::now();
            self.commit(&s, vec![event]).await?;
            Ok(s)
        })
        .await?;
        Ok(PushReport {
            remote: remote.url,
            branch: session.branch,
            commit: pushed.commit,
            outcome: pushed.outcome,
            note: remote.note,
        })
    }
}
