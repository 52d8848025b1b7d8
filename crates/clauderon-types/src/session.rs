//! The session record.

use crate::kinds::{AccessMode, AgentKind, BackendKind};
use crate::lifecycle::{Lifecycle, SessionStatus};
use crate::name::SessionName;
use crate::options::SessionOptions;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use utoipa::ToSchema;
use uuid::Uuid;

/// A session's stable id. Names can be reused after a delete; ids never are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, format = Uuid)]
pub struct SessionId(pub Uuid);

impl SessionId {
    pub fn new() -> Self {
        SessionId(Uuid::new_v4())
    }

    /// The first eight hex digits: enough to tell sessions apart in a label or a log line.
    pub fn short(&self) -> String {
        self.0.simple().to_string()[..8].to_string()
    }
}

impl Default for SessionId {
    fn default() -> Self {
        SessionId::new()
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for SessionId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(SessionId)
    }
}

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
