//! Requests the proxy answers itself: nothing is sent upstream (an agent's own OAuth token
//! refresh). The injector routes them; the OAuth module makes the endpoints.

use bytes::Bytes;
use http::{Method, StatusCode};
use std::sync::Arc;

/// The largest request body a [`LocalEndpoint`] is given; a larger one is refused.
pub const MAX_LOCAL_BODY: usize = 64 * 1024;

/// What the proxy sends back for a request it answers itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAnswer {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Bytes,
    /// What was answered, for the audit. Never a secret.
    pub note: String,
}

/// A request the proxy answers itself: nothing is sent upstream.
pub trait LocalEndpoint: Send + Sync + 'static {
    /// The answer to one request, given its body (at most [`MAX_LOCAL_BODY`] bytes).
    fn answer(&self, body: &[u8]) -> LocalAnswer;
}

/// Where a [`LocalEndpoint`] is: a host (lower-case, exact), a method and a path (query ignored).
#[derive(Clone)]
pub struct LocalRoute {
    pub host: String,
    pub method: Method,
    pub path: String,
    pub endpoint: Arc<dyn LocalEndpoint>,
}

impl std::fmt::Debug for LocalRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LocalRoute({} https://{}{})", self.method, self.host, self.path)
    }
}
