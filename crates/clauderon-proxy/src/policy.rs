//! The place in the request path where policy decides (access modes, egress,
//! budgets arrive with the policy issue). Today: everything is allowed.

use crate::identity::SessionIdentity;

/// What policy sees of a request.
#[derive(Debug, Clone)]
pub struct PolicyRequest<'a> {
    pub session: &'a SessionIdentity,
    /// `CONNECT` for a tunnel or interception decision, else the HTTP method.
    pub method: &'a str,
    pub host: &'a str,
    /// `None` for CONNECT.
    pub path: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyDecision {
    Allow,
    /// Refused: the message is shown to the session (403) and audited.
    Deny(String),
}

pub trait RequestPolicy: Send + Sync + 'static {
    fn check(&self, request: &PolicyRequest<'_>) -> PolicyDecision;
}

#[derive(Debug, Default)]
pub struct AllowAll;

impl RequestPolicy for AllowAll {
    fn check(&self, _: &PolicyRequest<'_>) -> PolicyDecision {
        PolicyDecision::Allow
    }
}
