//! Typed session events: published on the in-process bus, appended to the
//! store, streamed on `/ws/events`.

use crate::id::SessionId;
use crate::kinds::{AccessMode, AgentKind, BackendKind};
use crate::name::SessionName;
use crate::status::SessionStatus;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum EventKind {
    Created {
        backend: BackendKind,
        agent: AgentKind,
        access_mode: AccessMode,
    },
    StatusChanged {
        from: SessionStatus,
        to: SessionStatus,
    },
    Failed {
        from: SessionStatus,
        message: String,
    },
    AccessModeChanged {
        from: AccessMode,
        to: AccessMode,
    },
    /// The backend saw the session's process end on its own (`exited with code 3`).
    ProcessEnded {
        detail: String,
    },
    /// A host added to the session's egress allowlist.
    HostAllowed {
        host: String,
    },
    /// The session's model budget was set or changed (`None`: no bound of that kind).
    BudgetSet {
        tokens: Option<u64>,
        usd_cents: Option<u64>,
    },
    /// The session reached its budget: model calls are refused until it is raised.
    BudgetExceeded {
        used: String,
    },
    /// clauderon refused to open something the session planted in a place it writes (issue 11
    /// §4): a symlink (never followed), a FIFO, a hard link. `place` is `home` or `worktree`,
    /// `path` relative to it; what a link points at is never recorded.
    ContainmentRefused {
        /// What clauderon was doing: `start`, `reading messages`.
        during: String,
        place: String,
        path: String,
        /// `symlink`, `special-file`, `hard-link`, `folder`, `not-a-folder`.
        found: String,
    },
    /// The session branch was pushed to the repository's origin by `clauderon push` (through
    /// the proxy; the agent had no part in it). `remote` is the URL without any user part.
    Pushed {
        remote: String,
        branch: String,
        commit: String,
        forced: bool,
    },
    /// `clauderon commit` committed the worktree's uncommitted work on the session's branch.
    Committed {
        commit: String,
        files: usize,
    },
    /// `clauderon pr` opened a pull request for the session's branch.
    PullRequestOpened {
        number: u64,
        url: String,
    },
    /// The pull request's state, review decision or checks changed (read on a refresh).
    PullRequestChanged {
        number: u64,
        state: crate::ship::PrState,
        review: crate::ship::ReviewDecision,
        checks: crate::ship::CheckSummary,
    },
    Archived,
    Unarchived,
    Deleted,
}

impl EventKind {
    /// The event's `type` (its serde tag): stored beside the payload for queries, and what
    /// hooks match on.
    pub fn tag(&self) -> &'static str {
        match self {
            EventKind::Created { .. } => "created",
            EventKind::StatusChanged { .. } => "status-changed",
            EventKind::Failed { .. } => "failed",
            EventKind::AccessModeChanged { .. } => "access-mode-changed",
            EventKind::ProcessEnded { .. } => "process-ended",
            EventKind::HostAllowed { .. } => "host-allowed",
            EventKind::BudgetSet { .. } => "budget-set",
            EventKind::BudgetExceeded { .. } => "budget-exceeded",
            EventKind::ContainmentRefused { .. } => "containment-refused",
            EventKind::Pushed { .. } => "pushed",
            EventKind::Committed { .. } => "committed",
            EventKind::PullRequestOpened { .. } => "pull-request-opened",
            EventKind::PullRequestChanged { .. } => "pull-request-changed",
            EventKind::Archived => "archived",
            EventKind::Unarchived => "unarchived",
            EventKind::Deleted => "deleted",
        }
    }
}

/// One event about one session. `seq` is the store's order; it only grows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SessionEvent {
    pub seq: i64,
    pub session_id: SessionId,
    pub session_name: SessionName,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub kind: EventKind,
}
