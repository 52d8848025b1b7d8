//! A session's own token refresh. Claude Code in a session holds placeholder tokens; when it
//! thinks its access token expired it POSTs its (placeholder) refresh token to the token
//! endpoint. The proxy answers that itself with placeholders in the endpoint's shape, so the
//! agent keeps going, the real refresh token is never used or rotated from a session, and
//! nothing about the real login reaches it. Its requests keep getting the real access token
//! from the injection rule.

use super::{LEGACY_TOKEN_URL, OAuthSettings};
use crate::local::{LocalAnswer, LocalEndpoint, LocalRoute};
use bytes::Bytes;
use http::{Method, StatusCode, Uri};
use serde_json::{Value, json};
use std::sync::Arc;

/// The access and refresh token a session gets from its own refresh.
pub const PLACEHOLDER_TOKEN: &str = "clauderon-placeholder";
/// How long the placeholder access token is said to last: the agent will not ask again before.
pub const PLACEHOLDER_LIFETIME_SECS: u64 = 24 * 60 * 60;
/// The scopes granted when the request names none: what Claude Code asks for.
const DEFAULT_SCOPES: &str =
    "user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload";

/// Answers `POST <token endpoint>` from a session.
#[derive(Debug, Default)]
pub struct AgentTokenRefresh;

fn json_answer(status: StatusCode, body: &Value, note: &str) -> LocalAnswer {
    LocalAnswer {
        status,
        content_type: "application/json",
        body: Bytes::from(body.to_string()),
        note: note.to_string(),
    }
}

impl LocalEndpoint for AgentTokenRefresh {
    fn answer(&self, body: &[u8]) -> LocalAnswer {
        let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let grant = request.get("grant_type").and_then(Value::as_str).unwrap_or("");
        if grant != "refresh_token" {
            return json_answer(
                StatusCode::BAD_REQUEST,
                &json!({
                    "error": "unsupported_grant_type",
                    "error_description": "clauderon: a session cannot sign in to Claude; the daemon holds the login \
                                          (run `claude login` on the host)",
                }),
                "an agent's OAuth sign-in, refused: the daemon holds the login",
            );
        }
        // Echo the scopes asked for: Claude Code takes a grant without them as having none.
        let scope = request.get("scope").and_then(Value::as_str).filter(|s| !s.trim().is_empty());
        json_answer(
            StatusCode::OK,
            &json!({
                "token_type": "Bearer",
                "access_token": PLACEHOLDER_TOKEN,
                "refresh_token": PLACEHOLDER_TOKEN,
                "expires_in": PLACEHOLDER_LIFETIME_SECS,
                "scope": scope.unwrap_or(DEFAULT_SCOPES),
            }),
            "an agent's own OAuth token refresh, answered with placeholders",
        )
    }
}

/// Where sessions' refreshes are answered: the configured token endpoint, the one current
/// Claude Code uses, and the one older versions used.
pub fn agent_refresh_routes(settings: &OAuthSettings) -> Vec<LocalRoute> {
    let endpoint: Arc<dyn LocalEndpoint> = Arc::new(AgentTokenRefresh);
    let mut routes: Vec<LocalRoute> = Vec::new();
    let urls = [settings.token_url().clone(), super::default_token_url(), Uri::from_static(LEGACY_TOKEN_URL)];
    for url in urls {
        let Some(host) = url.host().map(str::to_ascii_lowercase) else { continue };
        let path = url.path().to_string();
        if !routes.iter().any(|r| r.host == host && r.path == path) {
            routes.push(LocalRoute { host, method: Method::POST, path, endpoint: endpoint.clone() });
        }
    }
    routes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_gets_placeholders_in_the_endpoints_shape() {
        let answer = AgentTokenRefresh.answer(
            br#"{"grant_type":"refresh_token","refresh_token":"whatever-the-agent-holds","client_id":"c","scope":"user:inference user:profile"}"#,
        );
        assert_eq!(answer.status, StatusCode::OK);
        let doc: Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(doc["access_token"], PLACEHOLDER_TOKEN);
        assert_eq!(doc["refresh_token"], PLACEHOLDER_TOKEN);
        assert_eq!(doc["expires_in"], PLACEHOLDER_LIFETIME_SECS);
        assert_eq!(doc["scope"], "user:inference user:profile");
        assert!(!answer.body.windows(8).any(|w| w == b"whatever"), "the request must not be echoed");
    }

    #[test]
    fn a_sign_in_is_refused_and_a_refresh_without_scopes_gets_claude_codes() {
        let answer = AgentTokenRefresh.answer(br#"{"grant_type":"authorization_code","code":"c"}"#);
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert!(String::from_utf8_lossy(&answer.body).contains("claude login"));
        let answer = AgentTokenRefresh.answer(br#"{"grant_type":"refresh_token","refresh_token":"p"}"#);
        let doc: Value = serde_json::from_slice(&answer.body).unwrap();
        assert!(doc["scope"].as_str().unwrap().contains("user:inference"));
    }

    #[test]
    fn routes_cover_current_and_older_claude_code_and_the_configured_endpoint() {
        let custom =
            OAuthSettings::new("https://gw.corp.example/oauth/token", super::super::DEFAULT_CLIENT_ID)
                .unwrap();
        let routes = agent_refresh_routes(&custom);
        let at: Vec<String> = routes.iter().map(|r| format!("{} {}{}", r.method, r.host, r.path)).collect();
        assert_eq!(
            at,
            [
                "POST gw.corp.example/oauth/token",
                "POST platform.claude.com/v1/oauth/token",
                "POST console.anthropic.com/v1/oauth/token"
            ]
        );
        assert_eq!(
            agent_refresh_routes(&OAuthSettings::default()).len(),
            2,
            "the default is not listed twice"
        );
    }
}
