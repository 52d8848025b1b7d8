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
