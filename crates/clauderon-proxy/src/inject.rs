//! The seam between the request path and the credentials: which hosts are
//! intercepted, what an intercepted request gets, and which requests the proxy
//! answers itself instead of forwarding (an agent's own OAuth token refresh).

use crate::local::{LocalEndpoint, LocalRoute};
use crate::scrub::KnownSecrets;
use async_trait::async_trait;
use base64::Engine as _;

use http::{HeaderMap, Method};
use std::sync::Arc;

/// Why a credential could not be put on a request. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InjectError(pub String);

#[async_trait]
pub trait Injector: Send + Sync + 'static {
    /// Must requests to this host be intercepted (TLS terminated by the proxy)?
    fn intercepts(&self, host: &str) -> bool;

    /// The endpoint that answers this intercepted request in the proxy, if one does; the
    /// request then never reaches the upstream. By default none does.
    fn local_endpoint(&self, _host: &str, _method: &Method, _path: &str) -> Option<Arc<dyn LocalEndpoint>> {
        None
    }

    /// Put the real credential for `host` on these headers (replacing any
    /// placeholder). Returns the credential's name when one was injected.
    async fn inject(&self, host: &str, headers: &mut HeaderMap) -> Result<Option<String>, InjectError>;
}

/// Injection by the rule set, with values from the credential store: for a
/// host, the first candidate rule whose credential is configured wins (user
/// rules before built-ins; the Anthropic OAuth token before the API key).
/// Hosts of its local routes are intercepted too, so those requests can be answered.
pub struct RuleInjector {
    rules: crate::rules::RuleSet,
    credentials: Arc<crate::credentials::CredentialStore>,
    local: Vec<LocalRoute>,
    /// Where injected secrets are remembered, so responses echoing them can be scrubbed.
    known: Option<Arc<KnownSecrets>>,
}

/// Remember a secret the proxy just put on a request, in every form it was sent in, with the
/// placeholder the session holds for it.
fn remember(known: &KnownSecrets, rule: &crate::rules::InjectionRule, secret: &crate::credentials::Secret) {
    // The raw value and its encoded form are remembered together: known once, nothing to do.
    if known.contains(secret.expose()) {
        return;
    }
    let placeholder = crate::credentials::builtin_credential(&rule.credential)
        .map(|c| c.placeholder.to_string())
        .unwrap_or_else(|| format!("clauderon-placeholder-{}", rule.credential));
    known.insert(secret.expose(), &placeholder);
    if let crate::rules::ValueEncoding::BasicAuth { username } = &rule.encoding {
        // The encoded placeholder, of the same length, decodes to the fitted placeholder.
        let fitted = crate::scrub::fit(&placeholder, secret.expose().len());
        let b64 = |v: &str| base64::engine::general_purpose::STANDARD.encode(format!("{username}:{v}"));
        known.insert(&b64(secret.expose()), &b64(&fitted));
    }
}

impl RuleInjector {
    pub fn new(rules: crate::rules::RuleSet, credentials: Arc<crate::credentials::CredentialStore>) -> Self {
        RuleInjector { rules, credentials, local: Vec::new(), known: None }
    }

    /// Remember each secret injected, for scrubbing responses.
    pub fn with_known_secrets(mut self, known: Arc<KnownSecrets>) -> Self {
        self.known = Some(known);
        self
    }

    /// Requests the proxy answers itself (see [`crate::oauth::agent_refresh_routes`]).
    pub fn with_local_routes(mut self, routes: Vec<LocalRoute>) -> Self {
        self.local.extend(routes);
        self
    }
}

#[async_trait]
impl Injector for RuleInjector {
    fn intercepts(&self, host: &str) -> bool {
        self.rules.needs_interception(host) || self.local.iter().any(|r| r.host == host)
    }

    fn local_endpoint(&self, host: &str, method: &Method, path: &str) -> Option<Arc<dyn LocalEndpoint>> {
        self.local
            .iter()
            .find(|r| r.host == host && r.method == method && r.path == path)
            .map(|r| r.endpoint.clone())
    }

    async fn inject(&self, host: &str, headers: &mut HeaderMap) -> Result<Option<String>, InjectError> {
        for rule in self.rules.candidates(host) {
            match self.credentials.resolve(&rule.credential).await {
                Ok(Some(secret)) => {
                    rule.apply(headers, &secret).map_err(|e| InjectError(e.to_string()))?;
                    if let Some(known) = &self.known {
                        remember(known, rule, &secret);
                    }
                    return Ok(Some(rule.credential.clone()));
                }
                Ok(None) => continue,
                Err(e) => return Err(InjectError(format!("credential `{}`: {e}", rule.credential))),
            }
        }
        Ok(None)
    }
}
