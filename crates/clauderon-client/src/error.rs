//! What can go wrong talking to the daemon, each case with a message a user can act on.

use crate::Endpoint;
use clauderon_types::InvalidName;
use clauderon_types::api::ErrorBody;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens where the daemon should be: no socket file, or the connection was refused.
    #[error("the clauderon daemon is not running ({reason}): start it with `clauderon daemon`")]
    DaemonNotRunning { endpoint: Endpoint, reason: String },
    /// Connecting failed for another reason: permissions, name resolution, a connect timeout.
    #[error("cannot reach the clauderon daemon at {endpoint}: {reason}")]
    Unreachable { endpoint: Endpoint, reason: String },
    /// The daemon refused the request; its message is written for the user.
    #[error("{}", body.message)]
    Api { status: u16, body: ErrorBody },
    /// The reply was not what this API promises (another program on the port, another version).
    #[error("unexpected reply from the daemon: {0}")]
    Protocol(String),
    #[error("the daemon did not answer within {0:?}")]
    Timeout(Duration),
    #[error("invalid daemon URL `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// Checked before sending, so a typo never turns into another route.
    #[error(transparent)]
    InvalidName(#[from] InvalidName),
}

impl ClientError {
    /// The HTTP status of an error the daemon returned.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The daemon's machine-readable error code (`not-found`, `conflict`, …).
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { body, .. } => Some(&body.error),
            _ => None,
        }
    }

    /// Worth trying again later, unchanged: the daemon was away, slow or busy.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::DaemonNotRunning { .. }
            | ClientError::Unreachable { .. }
            | ClientError::Timeout(_) => true,
            ClientError::Api { status, .. } => *status == 503,
            _ => false,
        }
    }
}
