//! The seam between the request path and the credentials: which hosts are
//! intercepted, and what an intercepted request gets.

use async_trait::async_trait;
use http::HeaderMap;

/// Why a credential could not be put on a request. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InjectError(pub String);

#[async_trait]
pub trait Injector: Send + Sync + 'static {
    /// Must requests to this host be intercepted (TLS terminated by the proxy)?
    fn intercepts(&self, host: &str) -> bool;

    /// Put the real credential for `host` on these headers (replacing any
    /// placeholder). Returns the credential's name when one was injected.
    async fn inject(&self, host: &str, headers: &mut HeaderMap) -> Result<Option<String>, InjectError>;
}

/// Intercepts nothing, injects nothing.
#[derive(Debug, Default)]
pub struct NoInjection;

#[async_trait]
impl Injector for NoInjection {
    fn intercepts(&self, _: &str) -> bool {
        false
    }

    async fn inject(&self, _: &str, _: &mut HeaderMap) -> Result<Option<String>, InjectError> {
        Ok(None)
    }
}

/// Injection by the rule set, with values from the credential store: for a
/// host, the first candidate rule whose credential is configured wins (user
/// rules before built-ins; the Anthropic OAuth token before the API key).
pub struct RuleInjector {
    rules: crate::rules::RuleSet,
    credentials: std::sync::Arc<crate::credentials::CredentialStore>,
}

impl RuleInjector {
    pub fn new(
        rules: crate::rules::RuleSet,
        credentials: std::sync::Arc<crate::credentials::CredentialStore>,
    ) -> Self {
        RuleInjector { rules, credentials }
    }
}

#[async_trait]
impl Injector for RuleInjector {
    fn intercepts(&self, host: &str) -> bool {
        self.rules.needs_interception(host)
    }

    async fn inject(&self, host: &str, headers: &mut HeaderMap) -> Result<Option<String>, InjectError> {
        for rule in self.rules.candidates(host) {
            match self.credentials.resolve(&rule.credential).await {
                Ok(Some(secret)) => {
                    rule.apply(headers, &secret).map_err(|e| InjectError(e.to_string()))?;
                    return Ok(Some(rule.credential.clone()));
                }
                Ok(None) => continue,
                Err(e) => return Err(InjectError(format!("credential `{}`: {e}", rule.credential))),
            }
        }
        Ok(None)
    }
}
