//! One audited proxy request (or tunnel). Never holds a secret: the
//! credential is named, query secrets are redacted before a record is made.

use crate::id::SessionId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What the proxy did with a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "decision", rename_all = "kebab-case")]
pub enum Decision {
    /// Intercepted and forwarded with a real credential.
    Injected,
    /// Intercepted (or plain HTTP) and forwarded without any credential.
    Forwarded,
    /// Passed through as an opaque TLS tunnel (no interception).
    Tunneled,
    /// Refused by the proxy; the reason says why.
    Denied { reason: String },
    /// The proxy could not complete it (upstream down, bad certificate…).
    Failed { reason: String },
    /// Answered by the proxy itself, never sent upstream (an agent's own OAuth token
    /// refresh gets placeholders); the reason says what was answered.
    Answered { reason: String },
}

impl Decision {
    pub fn label(&self) -> &'static str {
        match self {
            Decision::Injected => "injected",
            Decision::Forwarded => "forwarded",
            Decision::Tunneled => "tunneled",
            Decision::Denied { .. } => "denied",
            Decision::Failed { .. } => "failed",
            Decision::Answered { .. } => "answered",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Decision::Denied { reason } | Decision::Failed { reason } | Decision::Answered { reason } => {
                Some(reason)
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    /// The store's order (0 before it is stored).
    pub id: i64,
    pub at: DateTime<Utc>,
    pub session_id: Option<SessionId>,
    pub session_name: Option<String>,
    pub method: String,
    pub host: String,
    /// Path and query, with secret-looking query values replaced by `***`.
    pub path: String,
    pub status: Option<u16>,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub duration_ms: u64,
    /// The credential's name, never its value.
    pub credential: Option<String>,
    /// Something worth knowing about how the exchange went that the decision does not say
    /// (an upstream that closed without TLS close_notify to end a body).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(flatten)]
    pub decision: Decision,
}
