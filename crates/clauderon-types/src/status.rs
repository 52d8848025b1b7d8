//! Where a session is in its life: the status the lifecycle moves between.

use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SessionStatus {
    Creating,
    Running,
    Idle,
    WaitingForInput,
    Stopped,
    Failed,
    Deleting,
    Deleted,
}

impl SessionStatus {
    pub const ALL: &'static [SessionStatus] = &[
        SessionStatus::Creating,
        SessionStatus::Running,
        SessionStatus::Idle,
        SessionStatus::WaitingForInput,
        SessionStatus::Stopped,
        SessionStatus::Failed,
        SessionStatus::Deleting,
        SessionStatus::Deleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Creating => "creating",
            SessionStatus::Running => "running",
            SessionStatus::Idle => "idle",
            SessionStatus::WaitingForInput => "waiting-for-input",
            SessionStatus::Stopped => "stopped",
            SessionStatus::Failed => "failed",
            SessionStatus::Deleting => "deleting",
            SessionStatus::Deleted => "deleted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        SessionStatus::ALL.iter().copied().find(|st| st.as_str() == s)
    }

    /// The backend process is up (the agent may be working, idle or waiting).
    pub fn is_active(self) -> bool {
        matches!(self, SessionStatus::Running | SessionStatus::Idle | SessionStatus::WaitingForInput)
    }

    /// Settled states a user may archive or delete.
    pub(crate) fn is_settled(self) -> bool {
        self.is_active() || matches!(self, SessionStatus::Stopped | SessionStatus::Failed)
    }
}

impl fmt::Display for SessionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
