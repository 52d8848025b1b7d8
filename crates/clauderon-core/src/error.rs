//! The session manager's errors. Each variant maps to one kind of HTTP answer.

use clauderon_backend::BackendError;
use clauderon_store::StoreError;
use clauderon_types::IllegalTransition;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// No such session (or other named thing).
    #[error("{0}")]
    NotFound(String),
    /// The request clashes with the current state: a duplicate name, an illegal transition,
    /// uncommitted work in a worktree being deleted.
    #[error("{0}")]
    Conflict(String),
    /// The input is wrong; the message says how to fix it.
    #[error("{0}")]
    Invalid(String),
    /// Something needed is not available here (no backend, docker not running…).
    #[error("{0}")]
    Unavailable(String),
    /// A git command failed in a way the user should see.
    #[error("git: {0}")]
    Git(String),
    #[error("backend: {0}")]
    Backend(BackendError),
    #[error("configuration: {0}")]
    Config(String),
    /// A session planted a link (a FIFO, a hard link…) where clauderon reads or writes its
    /// files; refused, never followed, and recorded as a `containment-refused` event. The message
    /// names the path and how to remove it.
    #[error("{0}")]
    Refused(String),
    /// Failures of our own plumbing (store, IO). Logged in full; shown briefly.
    #[error("internal error: {0}")]
    Internal(String),
}

impl CoreError {
    pub fn is_retryable(&self) -> bool {
        match self {
            CoreError::Unavailable(_) => true,
            CoreError::Backend(e) => e.is_retryable(),
            _ => false,
        }
    }
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        if e.is_conflict() {
            CoreError::Conflict(e.to_string())
        } else if e.is_not_found() {
            CoreError::NotFound(e.to_string())
        } else {
            CoreError::Internal(format!("store: {e}"))
        }
    }
}

impl From<IllegalTransition> for CoreError {
    fn from(e: IllegalTransition) -> Self {
        CoreError::Conflict(e.to_string())
    }
}

impl From<BackendError> for CoreError {
    fn from(e: BackendError) -> Self {
        match e {
            BackendError::Unavailable { .. } => CoreError::Unavailable(e.to_string()),
            BackendError::NotFound { .. } => CoreError::NotFound(e.to_string()),
            BackendError::Failed { .. } => CoreError::Backend(e),
            BackendError::Unsupported { .. } => CoreError::Invalid(e.to_string()),
            BackendError::Refused(_) => CoreError::Refused(e.to_string()),
            BackendError::Files { .. } => CoreError::Backend(e),
        }
    }
}
