//! The OAuth token endpoint, asked for a new access token with a refresh token. Reached
//! through the proxy's own upstream client, so the extra CAs and host overrides apply.

use super::OAuthSettings;
use crate::ProxyError;
use crate::secret::Secret;
use crate::upstream::{UpstreamClient, UpstreamSettings};
use async_trait::async_trait;
use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, USER_AGENT};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::{Value, json};
use std::time::Duration;

/// How long one refresh may take, answer included.
pub const REFRESH_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read from the token endpoint.
const MAX_ANSWER: usize = 64 * 1024;

/// What a successful refresh gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    pub access_token: Secret,
    /// `None` when the endpoint keeps the refresh token as it was.
    pub refresh_token: Option<Secret>,
    pub expires_in: Duration,
    /// The granted scopes, when the endpoint says.
    pub scopes: Option<Vec<String>>,
}

/// Why a refresh failed. Never holds a token: the endpoint's error code only, not its text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefreshError {
    /// The endpoint said no (revoked or expired refresh token, wrong client id, wrong URL).
    #[error("the token endpoint refused the refresh (HTTP {status}{})", code.as_deref().map(|c| format!(": {c}")).unwrap_or_default())]
    Refused { status: u16, code: Option<String> },
    /// The endpoint is overloaded or down (429, 5xx).
    #[error("the token endpoint is unavailable (HTTP {status})")]
    Unavailable { status: u16 },
    #[error("could not reach the token endpoint: {reason}")]
    Unreachable { reason: String },
    #[error("the token endpoint's answer is not usable: {reason}")]
    BadAnswer { reason: String },
}

impl RefreshError {
    /// Whether asking again later may succeed; a refused refresh token stays refused.
    pub fn is_retryable(&self) -> bool {
        matches!(self, RefreshError::Unavailable { .. } | RefreshError::Unreachable { .. })
    }
}

#[async_trait]
pub trait TokenEndpoint: Send + Sync + 'static {
    /// Trade `refresh_token` for a new access token, asking for `scopes` (none: the endpoint's choice).
    async fn refresh(&self, refresh_token: &Secret, scopes: &[String]) -> Result<TokenGrant, RefreshError>;
}

/// The real endpoint over HTTPS.
pub struct HttpTokenEndpoint {
    client: UpstreamClient,
    settings: OAuthSettings,
}

impl std::fmt::Debug for HttpTokenEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTokenEndpoint").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl HttpTokenEndpoint {
    pub fn new(settings: OAuthSettings, upstream: &UpstreamSettings) -> Result<Self, ProxyError> {
        let (client, _) = crate::upstream::client(upstream, true)?;
        Ok(HttpTokenEndpoint { client, settings })
    }

    async fn exchange(&self, body: Bytes) -> Result<TokenGrant, RefreshError> {
        let unreachable = |e: &dyn std::error::Error| RefreshError::Unreachable { reason: error_chain(e) };
        let request = Request::post(self.settings.token_url().clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, concat!("clauderon/", env!("CARGO_PKG_VERSION")))
            .body(Full::new(body).map_err(|never| match never {}).boxed())
            .map_err(|e| unreachable(&e))?;
        let response = self.client.request(request).await.map_err(|e| unreachable(&e))?;
        let status = response.status();
        let answer = Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| RefreshError::Unreachable { reason: format!("reading the answer: {e}") })?
            .to_bytes();
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Err(RefreshError::Unavailable { status: status.as_u16() });
        }
        if !status.is_success() {
            return Err(RefreshError::Refused { status: status.as_u16(), code: error_code(&answer) });
        }
        parse_grant(&answer)
    }
}

#[async_trait]
impl TokenEndpoint for HttpTokenEndpoint {
    async fn refresh(&self, refresh_token: &Secret, scopes: &[String]) -> Result<TokenGrant, RefreshError> {
        // Claude Code sends this JSON body (not a form), with its client id and the scopes it wants.
        let mut body = json!({
            "grant_type": "refresh_token",
            "refresh_token": refresh_token.expose(),
            "client_id": self.settings.client_id(),
        });
        if !scopes.is_empty() {
            body["scope"] = scopes.join(" ").into();
        }
        let body = Bytes::from(body.to_string());
        match tokio::time::timeout(REFRESH_TIMEOUT, self.exchange(body)).await {
            Ok(result) => result,
            Err(_) => Err(RefreshError::Unreachable {
                reason: format!("no answer within {}s", REFRESH_TIMEOUT.as_secs()),
            }),
        }
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        parts.push(e.to_string());
        cur = e.source();
    }
    parts.join(": ")
}

/// The OAuth `error` code of a refusal (`invalid_grant`), when it looks like one.
fn error_code(answer: &[u8]) -> Option<String> {
    let doc: Value = serde_json::from_slice(answer).ok()?;
    let code = doc.get("error")?;
    // Some servers nest it: {"error": {"type": "...", "message": "..."}}.
    let code = code.as_str().or_else(|| code.get("type").and_then(Value::as_str))?;
    let plain =
        !code.is_empty() && code.len() <= 64 && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    plain.then(|| code.to_string())
}

fn token(doc: &Value, field: &str) -> Result<Option<Secret>, RefreshError> {
    match doc.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| (0x21..0x7f).contains(&b)) => {
            Ok(Some(Secret::new(s.clone())))
        }
        Some(_) => Err(RefreshError::BadAnswer { reason: format!("`{field}` is not a token") }),
    }
}

pub(crate) fn parse_grant(answer: &[u8]) -> Result<TokenGrant, RefreshError> {
    let bad = |reason: &str| RefreshError::BadAnswer { reason: reason.to_string() };
    let doc: Value = serde_json::from_slice(answer).map_err(|_| bad("it is not JSON"))?;
    let access_token = token(&doc, "access_token")?.ok_or_else(|| bad("it has no `access_token`"))?;
    let refresh_token = token(&doc, "refresh_token")?;
    let expires_in = doc
        .get("expires_in")
        .and_then(|v| v.as_u64().or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)))
        .ok_or_else(|| bad("it has no `expires_in` number of seconds"))?;
    let scopes =
        doc.get("scope").and_then(Value::as_str).map(|s| s.split_whitespace().map(str::to_string).collect());
    Ok(TokenGrant { access_token, refresh_token, expires_in: Duration::from_secs(expires_in), scopes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_parses_and_bad_ones_say_why_without_the_token() {
        let grant = parse_grant(
            br#"{"token_type":"Bearer","access_token":"sk-ant-oat01-N","refresh_token":"sk-ant-ort01-N","expires_in":28800,"scope":"user:inference user:profile"}"#,
        )
        .unwrap();
        assert_eq!(grant.access_token.expose(), "sk-ant-oat01-N");
        assert_eq!(grant.refresh_token.map(|s| s.expose().to_string()).as_deref(), Some("sk-ant-ort01-N"));
        assert_eq!(grant.expires_in, Duration::from_secs(28800));
        assert_eq!(grant.scopes.unwrap(), ["user:inference", "user:profile"]);

        let kept = parse_grant(br#"{"access_token":"a","expires_in":60}"#).unwrap();
        assert_eq!(kept.refresh_token, None, "no refresh_token: the old one stays");

        for bad in [
            &br#"{"expires_in":60}"#[..],
            br#"{"access_token":"a"}"#,
            br#"{"access_token":"sk SECRET","expires_in":1}"#,
            b"<html>",
        ] {
            let err = parse_grant(bad).unwrap_err().to_string();
            assert!(!err.contains("SECRET"), "{err}");
        }
    }

    #[test]
    fn only_a_plain_error_code_is_kept_from_a_refusal() {
        assert_eq!(
            error_code(br#"{"error":"invalid_grant","error_description":"x"}"#).as_deref(),
            Some("invalid_grant")
        );
        assert_eq!(
            error_code(br#"{"error":{"type":"invalid_request_error","message":"m"}}"#).as_deref(),
            Some("invalid_request_error")
        );
        assert_eq!(error_code(br#"{"error":"sk-ant-ort01-SECRET"}"#), None);
        assert_eq!(error_code(b"nope"), None);
        let shown = RefreshError::Refused { status: 400, code: Some("invalid_grant".into()) }.to_string();
        assert_eq!(shown, "the token endpoint refused the refresh (HTTP 400: invalid_grant)");
    }
}
