//! The read side of sessions: what the routes show (list, detail, audit, events, messages,
//! usage). Nothing here changes a session. The one thing a read can find that must be
//! recorded — a link the session planted in its HOME, refused — goes to the manager, the single
//! writer.

use super::{SessionManager, worktree};
use crate::error::CoreError;
use clauderon_agents::AgentsError;
use clauderon_agents::profile;
use clauderon_agents::transcript::Transcript;
use clauderon_types::api::{ListView, SessionDetail, WorktreeInfo};
use clauderon_types::diff::SessionDiff;
use clauderon_types::messages::MessagePage;
use clauderon_types::usage::{BucketWidth, UsageReport};
use clauderon_types::{Session, SessionEvent};

/// Reads over the manager's store and the sessions' files; a cheap clone.
#[derive(Clone)]
pub struct SessionReads {
    manager: SessionManager,
}

impl SessionReads {
    pub fn new(manager: &SessionManager) -> Self {
        SessionReads { manager: manager.clone() }
    }

    pub async fn list(&self, view: ListView) -> Result<Vec<Session>, CoreError> {
        self.manager.list(view).await
    }

    /// What each of `sessions` spent on priced model calls so far, in dollars, by name (from
    /// memory: no store read).
    pub fn costs(&self, sessions: &[Session]) -> std::collections::BTreeMap<String, f64> {
        sessions
            .iter()
            .filter_map(|s| {
                let usd = self.manager.inner.access.spent(s.id).usd;
                (usd > 0.0).then(|| (s.name.to_string(), usd))
            })
            .collect()
    }

    /// The hook delivery log: after `after` (oldest first), or the latest `limit`.
    pub async fn hook_deliveries(
        &self,
        after: Option<i64>,
        limit: Option<usize>,
    ) -> Result<Vec<clauderon_types::hooks::HookDelivery>, CoreError> {
        let limit = limit.unwrap_or(100).clamp(1, 10_000);
        self.manager.store(move |s| s.deliveries(after, limit)).await
    }

    /// Repositories of past sessions (deleted ones included while their rows last), most
    /// recently used first, at most `limit`.
    pub async fn recent_repos(&self, limit: usize) -> Result<Vec<String>, CoreError> {
        let mut sessions = self.manager.store(|s| s.list(clauderon_types::api::ListView::All)).await?;
        sessions.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        let mut repos: Vec<String> = Vec::new();
        for s in sessions {
            let repo = s.repo_path.display().to_string();
            if !repos.contains(&repo) {
                repos.push(repo);
                if repos.len() == limit {
                    break;
                }
            }
        }
        Ok(repos)
    }

    pub async fn get(&self, name: &str) -> Result<Session, CoreError> {
        self.manager.get(name).await
    }

    pub async fn detail(&self, name: &str) -> Result<SessionDetail, CoreError> {
        let session = self.get(name).await?;
        let id = session.id;
        let events = self.manager.store(move |s| s.events_for(id, 100)).await?;
        let path = session.worktree_path.clone();
        let disk_bytes = tokio::task::spawn_blocking(move || worktree::disk_usage(&path))
            .await
            .map_err(|e| CoreError::Internal(format!("disk usage task: {e}")))?;
        Ok(SessionDetail {
            session,
            worktree: WorktreeInfo { exists: disk_bytes.is_some(), disk_bytes },
            events,
        })
    }

    /// The session's work against its base: committed and uncommitted, untracked files
    /// included (see [`worktree::session_diff`]). Without `patch`, files and counts only.
    pub async fn diff(&self, name: &str, patch: bool) -> Result<SessionDiff, CoreError> {
        let session = self.get(name).await?;
        let session_git = worktree::session_git(&session.repo_path, &session.worktree_path)?;
        worktree::session_diff(&session_git, &session.branch, &session.base_commit, patch).await
    }

    /// Proxy requests, for one session (by name, deleted ones included) or all.
    pub async fn audit(
        &self,
        session: Option<String>,
        after: Option<i64>,
        limit: Option<usize>,
    ) -> Result<Vec<clauderon_types::audit::AuditEntry>, CoreError> {
        let limit = limit.unwrap_or(100).clamp(1, 10_000);
        self.manager
            .store(move |s| match after {
                Some(after) => s.audit(session.as_deref(), after, limit),
                None => s.audit_tail(session.as_deref(), limit),
            })
            .await
    }

    pub async fn events_since(&self, seq: i64, limit: usize) -> Result<Vec<SessionEvent>, CoreError> {
        self.manager.store(move |s| s.events_since(seq, limit)).await
    }

    /// The messages after the cursor `after` (a message index), at most `limit` of them.
    ///
    /// The transcript is the newest one the session's agent wrote under the session's HOME,
    /// whatever the working directory was (the worktree on the host, `/workspace` in a container). A session whose agent has
    /// written nothing yet has an empty history; lines that do not parse are in the page's notes.
    pub async fn messages(
        &self,
        name: &str,
        after: Option<usize>,
        limit: Option<usize>,
    ) -> Result<MessagePage, CoreError> {
        let session = self.get(name).await?;
        let name = session.name.as_str().to_owned();
        let agent = session.agent;
        let home = self.manager.inner.layout.session_home(&name);
        let read = tokio::task::spawn_blocking(move || {
            // Both through `clauderon-fs`: a link the session planted is refused, not followed.
            let Some(path) = profile::newest_transcript(agent, &home)? else {
                return Ok((None, Transcript::default()));
            };
            let read = profile::read_transcript(agent, &home, &path)?;
            Ok::<_, AgentsError>((Some(path.display().to_string()), read))
        })
        .await
        .map_err(|e| CoreError::Internal(format!("transcript task: {e}")))?;
        let (path, Transcript { messages, notes }) = match read {
            Ok(read) => read,
            Err(AgentsError::Refused(r)) => {
                let then = "read the messages again";
                return Err(self.manager.refused_once(&session, "reading messages", &r, then).await);
            }
            Err(e) => return Err(CoreError::Unavailable(e.to_string())),
        };
        Ok(MessagePage::slice(&name, path, messages, notes, after, limit))
    }

    /// Totals per provider and model, and a time series in `bucket`-wide steps.
    pub async fn usage_report(&self, name: &str, bucket: BucketWidth) -> Result<UsageReport, CoreError> {
        let session = self.get(name).await?;
        let id = session.id;
        let records = self.manager.store(move |s| s.usage_for(id)).await?;
        Ok(UsageReport::from_records(session.name.as_str(), &records, bucket))
    }
}
