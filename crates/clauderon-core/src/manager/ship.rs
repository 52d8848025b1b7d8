//! Shipping a session's work on the user's command: `push` (the session branch to the
//! repository's origin, through the proxy) and `pr` (push, then a pull request on GitHub, then
//! its state tracked). The session's access mode is about what its agent may do; the person
//! decided to ship, so a read-only session can be pushed too. Every call runs on the host with
//! a short-lived proxy identity ([`super::access::SessionAccess::ship_pass`]) that reaches one
//! host only; the token stays in the proxy.

use super::SessionManager;
use crate::error::CoreError;
use crate::github::{self, GitHub};
use crate::worktree;
use chrono::Utc;
use clauderon_types::api::ListView;
use clauderon_types::ship::{
    CommitReport, CommitRequest, PrReport, PrRequest, PrState, PushReport, PushRequest,
};
use clauderon_types::{EventKind, Session, SessionStatus};

/// Longest title made from a prompt.
const TITLE_CHARS: usize = 72;

fn refuse_if_gone(session: &Session) -> Result<(), CoreError> {
    if matches!(session.status, SessionStatus::Deleting | SessionStatus::Deleted) {
        return Err(CoreError::Conflict(format!(
            "session `{}` is being deleted: there is nothing to ship",
            session.name
        )));
    }
    Ok(())
}

/// `e`, saying that the push before it went through (the pull request step failed alone).
/// The session's repository's origin, in the HTTPS form clauderon pushes to.
async fn origin(session: &Session) -> Result<worktree::HttpsRemote, CoreError> {
    worktree::https_remote(&worktree::origin_push_url(&session.repo_path).await?)
}

fn after_push(e: CoreError, push: &PushReport) -> CoreError {
    let note = format!(" (the branch `{}` is pushed to {}; nothing else changed)", push.branch, push.remote);
    match e {
        CoreError::NotFound(m) => CoreError::NotFound(m + &note),
        CoreError::Conflict(m) => CoreError::Conflict(m + &note),
        CoreError::Invalid(m) => CoreError::Invalid(m + &note),
        CoreError::Unavailable(m) => CoreError::Unavailable(m + &note),
        CoreError::Git(m) => CoreError::Git(m + &note),
        other => other,
    }
}

/// A title from the prompt's first line, or one from the session's name.
fn default_title(session: &Session) -> String {
    let line = session.prompt.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    if line.is_empty() {
        return format!("clauderon: {}", session.name);
    }
    let mut title: String = line.chars().take(TITLE_CHARS).collect();
    if line.chars().count() > TITLE_CHARS {
        title.push('…');
    }
    title
}

/// The prompt, then the branch's commits.
fn default_body(session: &Session, commits: &[clauderon_types::diff::DiffCommit], more: bool) -> String {
    let mut body = format!("{}\n\n", session.prompt.trim());
    if !commits.is_empty() {
        body.push_str("Commits:\n");
        for c in commits {
            body.push_str(&format!("- {} {}\n", c.id.get(..12).unwrap_or(&c.id), c.summary));
        }
        if more {
            body.push_str("- …\n");
        }
        body.push('\n');
    }
    body.push_str(&format!("Opened by clauderon for session `{}`.", session.name));
    body
}

impl SessionManager {
    /// Commit the worktree's uncommitted work on the session's branch, as the user. Under the
    /// session's lock, so no stop, start or delete runs beside it.
    pub async fn commit_work(&self, name: &str, req: CommitRequest) -> Result<CommitReport, CoreError> {
        let message = req.message.trim().to_string();
        if message.is_empty() {
            return Err(CoreError::Invalid(
                "a commit needs a message: clauderon commit NAME -m MESSAGE".into(),
            ));
        }
        let mut report = None;
        self.with_session(name, |mut s| {
            let report = &mut report;
            async move {
                refuse_if_gone(&s)?;
                let session_git = worktree::session_git(&s.repo_path, &s.worktree_path)?;
                let (commit, files) = worktree::commit_all(&session_git, &s.branch, &message).await?;
                s.updated_at = Utc::now();
                self.commit(&s, vec![EventKind::Committed { commit: commit.clone(), files }]).await?;
                *report = Some(CommitReport { branch: s.branch.clone(), commit, files });
                Ok(s)
            }
        })
        .await?;
        report.ok_or_else(|| CoreError::Internal("the commit made no report".into()))
    }

    /// Push the session's branch to its repository's origin.
    pub async fn push(&self, name: &str, req: PushRequest) -> Result<PushReport, CoreError> {
        let session = self.get(name).await?;
        refuse_if_gone(&session)?;
        let remote = origin(&session).await?;
        self.push_session(&session, remote, req.force).await
    }

    async fn push_session(
        &self,
        session: &Session,
        remote: worktree::HttpsRemote,
        force: bool,
    ) -> Result<PushReport, CoreError> {
        let session_git = worktree::session_git(&session.repo_path, &session.worktree_path)?;
        let pass = self.inner.access.ship_pass(session, &remote.host);
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
            force,
        )
        .await;
        drop(pass);
        let pushed = pushed?;
        let event = EventKind::Pushed {
            remote: remote.url.clone(),
            branch: session.branch.clone(),
            commit: pushed.commit.clone(),
            forced: force,
        };
        self.with_session(session.name.as_str(), |mut s| async move {
            s.updated_at = Utc::now();
            self.commit(&s, vec![event]).await?;
            Ok(s)
        })
        .await?;
        Ok(PushReport {
            remote: remote.url,
            branch: session.branch.clone(),
            commit: pushed.commit,
            outcome: pushed.outcome,
            note: remote.note,
        })
    }

    /// A GitHub client for `session` through the proxy; its identity lasts as long as the
    /// returned pass.
    fn github(&self, session: &Session) -> Result<(GitHub, super::access::ShipPass), CoreError> {
        let pass = self.inner.access.ship_pass(session, github::API_HOST);
        let client =
            GitHub::new(self.inner.proxy.port, &pass.user(), pass.secret(), &self.inner.proxy.ca_cert)?;
        Ok((client, pass))
    }

    /// Push the session's branch, then open a pull request for it on GitHub (or, when it has an
    /// open one already, read that one again: the push updated it).
    pub async fn pr(&self, name: &str, req: PrRequest) -> Result<PrReport, CoreError> {
        let session = self.get(name).await?;
        refuse_if_gone(&session)?;
        // Before anything is pushed: a pull request can only be opened on GitHub.
        let remote = origin(&session).await?;
        let repo = github::repo_of(&remote.url, &remote.host);
        let host = remote.host.clone();
        let push = self.push_session(&session, remote, false).await?;
        let Some(repo) = repo else {
            return Err(CoreError::Unavailable(format!(
                "pull requests are supported on github.com only, not yet on {}: the push is done ({} at {}); \
                 open the pull request on that forge for branch `{}`",
                host, push.branch, push.remote, push.branch
            )));
        };
        if let Some(open) = session.pull_request.as_ref().filter(|p| p.state == PrState::Open) {
            let number = open.number;
            let session = self.refresh_pr(name).await?;
            let pull_request = session.pull_request.filter(|p| p.number == number).ok_or_else(|| {
                CoreError::Internal(format!("pull request #{number} went missing from session `{name}`"))
            })?;
            return Ok(PrReport { push, pull_request });
        }
        let (gh, pass) = self.github(&session)?;
        let base = match req.base.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
            Some(base) => base.to_string(),
            None => gh.default_branch(&repo).await.map_err(|e| after_push(e, &push))?,
        };
        let title = req.title.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_string);
        let title = title.unwrap_or_else(|| default_title(&session));
        let body = match req.body {
            Some(body) => body,
            None => {
                let session_git = worktree::session_git(&session.repo_path, &session.worktree_path)?;
                let diff = worktree::session_diff(&session_git, &session.branch, &session.base_commit, false)
                    .await?;
                default_body(&session, &diff.commits, diff.commits_truncated)
            }
        };
        let opened = gh.create_pr(&repo, &session.branch, &base, &title, &body, req.draft).await;
        drop(pass);
        let pull_request = opened.map_err(|e| after_push(e, &push))?;
        let event =
            EventKind::PullRequestOpened { number: pull_request.number, url: pull_request.url.clone() };
        let stored = pull_request.clone();
        self.with_session(name, |mut s| async move {
            s.pull_request = Some(stored);
            s.updated_at = Utc::now();
            self.commit(&s, vec![event]).await?;
            Ok(s)
        })
        .await?;
        Ok(PrReport { push, pull_request })
    }

    /// Read the session's pull request from GitHub again; a change of state, review or checks
    /// is a `pull-request-changed` event.
    pub async fn refresh_pr(&self, name: &str) -> Result<Session, CoreError> {
        let session = self.get(name).await?;
        let Some(known) = session.pull_request.clone() else {
            return Err(CoreError::Invalid(format!(
                "session `{name}` has no pull request: `clauderon pr {name}` opens one"
            )));
        };
        let (gh, pass) = self.github(&session)?;
        let read = gh.read_pr(&known.repo, known.number).await;
        drop(pass);
        let now = read?;
        let merged_now = now.state == PrState::Merged && known.state != PrState::Merged;
        let session = self
            .with_session(name, |mut s| async move {
                let changed = s.pull_request.as_ref().is_none_or(|p| p.standing() != now.standing());
                let events = if changed {
                    vec![EventKind::PullRequestChanged {
                        number: now.number,
                        state: now.state,
                        review: now.review,
                        checks: now.checks,
                    }]
                } else {
                    Vec::new()
                };
                s.pull_request = Some(now);
                s.updated_at = Utc::now();
                self.commit(&s, events).await?;
                Ok(s)
            })
            .await?;
        if merged_now && self.inner.defaults.archive_on_merge {
            return self.archive_merged(session).await;
        }
        Ok(session)
    }

    /// `[sessions] archive_on_merge`: stop the session, archive it, and remove its worktree
    /// when it holds no uncommitted work (the branch stays). A step that fails is logged and
    /// leaves the session as the earlier steps left it.
    async fn archive_merged(&self, session: Session) -> Result<Session, CoreError> {
        let name = session.name.to_string();
        if session.status.is_active()
            && let Err(e) = self.stop(&name).await
        {
            tracing::warn!(session = %name, error = %e, "pull request merged: stopping the session failed");
            return Ok(session);
        }
        let session = match self.archive(&name).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(session = %name, error = %e, "pull request merged: archiving the session failed");
                return self.get(&name).await;
            }
        };
        let session_git = worktree::session_git(&session.repo_path, &session.worktree_path)?;
        if tokio::fs::symlink_metadata(&session.worktree_path).await.is_ok() {
            match worktree::has_uncommitted_work(&session_git).await {
                Ok(false) => {
                    if let Err(e) = worktree::remove(&session.repo_path, &session.worktree_path, false).await
                    {
                        tracing::warn!(session = %name, error = %e, "pull request merged: removing the worktree failed");
                    }
                }
                Ok(true) => {
                    tracing::info!(session = %name, "pull request merged: worktree kept, it holds uncommitted work")
                }
                Err(e) => {
                    tracing::warn!(session = %name, error = %e, "pull request merged: reading the worktree failed")
                }
            }
        }
        Ok(session)
    }

    /// Refresh every session whose pull request is open (the daemon's timer). Failures are
    /// logged and counted, never fatal: GitHub may be out of reach for a while.
    pub async fn refresh_open_prs(&self) -> Result<(usize, usize), CoreError> {
        let sessions = self.store(|s| s.list(ListView::All)).await?;
        let (mut refreshed, mut failed) = (0, 0);
        for s in sessions.iter().filter(|s| s.pull_request.as_ref().is_some_and(|p| p.state == PrState::Open))
        {
            match self.refresh_pr(s.name.as_str()).await {
                Ok(_) => refreshed += 1,
                Err(e) => {
                    failed += 1;
                    tracing::warn!(session = %s.name, error = %e, "refreshing the pull request failed");
                }
            }
        }
        Ok((refreshed, failed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_come_from_the_prompts_first_line() {
        let mut s = clauderon_testkit::session::sample("fix");
        s.prompt = "\n  Fix the login bug\nthen run the tests".into();
        assert_eq!(default_title(&s), "Fix the login bug");
        s.prompt = "x".repeat(100);
        assert_eq!(default_title(&s).chars().count(), TITLE_CHARS + 1);
        s.prompt = "   ".into();
        assert_eq!(default_title(&s), "clauderon: fix");
    }
}
