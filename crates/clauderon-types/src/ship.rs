//! Shipping a session's work: what `POST /api/sessions/{name}/push` takes and answers, and what
//! `clauderon push NAME` prints.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/sessions/{name}/push`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PushRequest {
    /// Overwrite the remote branch even when it holds commits the session's branch does not
    /// (the agent rewrote its history). Default `false`.
    #[serde(default)]
    pub force: bool,
}

/// What the remote branch became.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PushOutcome {
    /// The branch did not exist on the remote.
    Created,
    /// Fast-forwarded.
    Updated,
    /// Overwritten (`force`).
    Forced,
    /// The remote already had this commit.
    UpToDate,
}

impl PushOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            PushOutcome::Created => "created",
            PushOutcome::Updated => "updated",
            PushOutcome::Forced => "forced",
            PushOutcome::UpToDate => "up-to-date",
        }
    }
}

/// The answer of a push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PushReport {
    /// The origin's URL as pushed to: HTTPS, without any user part.
    pub remote: String,
    /// The branch on the remote (the session's branch, `clauderon/<name>`).
    pub branch: String,
    /// The commit pushed.
    pub commit: String,
    pub outcome: PushOutcome,
    /// Set when the origin was not an HTTPS URL and clauderon pushed to its HTTPS form
    /// (`git@github.com:o/r.git` → `https://github.com/o/r.git`).
    pub note: Option<String>,
}

/// `POST /api/sessions/{name}/pr`: push the session's branch, then open a pull request for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PrRequest {
    /// Default: the first line of the session's prompt.
    pub title: Option<String>,
    /// Default: the session's prompt and the list of its commits.
    pub body: Option<String>,
    #[serde(default)]
    pub draft: bool,
    /// The branch to merge into. Default: the repository's default branch.
    pub base: Option<String>,
}

/// Where a pull request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PrState {
    Open,
    Merged,
    Closed,
}

impl PrState {
    pub fn as_str(self) -> &'static str {
        match self {
            PrState::Open => "open",
            PrState::Merged => "merged",
            PrState::Closed => "closed",
        }
    }
}

/// What the reviews say, from each reviewer's latest decisive review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ReviewDecision {
    /// No approval and no change request yet.
    None,
    Approved,
    ChangesRequested,
}

impl ReviewDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewDecision::None => "none",
            ReviewDecision::Approved => "approved",
            ReviewDecision::ChangesRequested => "changes-requested",
        }
    }
}

/// The check runs on the pull request's head commit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CheckSummary {
    pub total: u32,
    /// Completed with success, neutral or skipped.
    pub passed: u32,
    /// Completed with failure, timed out, cancelled or action required.
    pub failed: u32,
    /// Queued or in progress.
    pub pending: u32,
}

/// A session's pull request, as last read from GitHub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PullRequest {
    pub number: u64,
    /// Its page on GitHub.
    pub url: String,
    /// `owner/repo`.
    pub repo: String,
    pub base: String,
    pub state: PrState,
    pub draft: bool,
    pub review: ReviewDecision,
    pub checks: CheckSummary,
    /// When clauderon last read it.
    pub refreshed_at: chrono::DateTime<chrono::Utc>,
}

impl PullRequest {
    /// What a person follows: state, review, checks (not the time it was read).
    pub fn standing(&self) -> (PrState, bool, ReviewDecision, CheckSummary) {
        (self.state, self.draft, self.review, self.checks)
    }
}

/// The answer of `POST /api/sessions/{name}/pr`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PrReport {
    pub push: PushReport,
    pub pull_request: PullRequest,
}

/// `POST /api/sessions/{name}/commit`: commit the agent's uncommitted work.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CommitRequest {
    pub message: String,
}

/// The commit made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CommitReport {
    pub branch: String,
    pub commit: String,
    /// Files the commit changed.
    pub files: usize,
}
