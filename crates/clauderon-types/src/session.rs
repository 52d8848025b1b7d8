//! The session record.

pub use crate::id::SessionId;
use crate::kinds::{AccessMode, AgentKind, BackendKind};
use crate::lifecycle::Lifecycle;
use crate::name::SessionName;
use crate::options::SessionOptions;
use crate::status::SessionStatus;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Session {
    pub id: SessionId,
    pub name: SessionName,
    /// The user's repository (its top level).
    #[schema(value_type = String)]
    pub repo_path: PathBuf,
    /// The branch the session works on, created for it.
    pub branch: String,
    /// The commit the branch started from.
    pub base_commit: String,
    /// The session's own git worktree, under the data dir.
    #[schema(value_type = String)]
    pub worktree_path: PathBuf,
    pub backend: BackendKind,
    pub agent: AgentKind,
    pub access_mode: AccessMode,
    /// The initial prompt given to the agent.
    pub prompt: String,
    /// What the session was created with beyond the above (command, backend settings…).
    #[serde(default)]
    pub options: SessionOptions,
    pub status: SessionStatus,
    pub archived: bool,
    /// The backend's own handle: container id, zellij session name…
    pub backend_handle: Option<String>,
    /// Why the session failed, when it did.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The pull request `clauderon pr` opened for the session's branch, as last read.
    #[serde(default)]
    pub pull_request: Option<crate::ship::PullRequest>,
}

impl Session {
    pub fn lifecycle(&self) -> Lifecycle {
        Lifecycle { status: self.status, archived: self.archived }
    }

    pub fn set_lifecycle(&mut self, l: Lifecycle) {
        self.status = l.status;
        self.archived = l.archived;
    }
}
