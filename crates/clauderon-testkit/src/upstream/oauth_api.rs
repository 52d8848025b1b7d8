//! A fake OAuth token endpoint in the shape of Claude's (`POST /v1/oauth/token`, JSON body),
//! answering refresh grants without any state, so a test knows what a refresh returns:
//!
//! - `refresh_token` R and any `client_id`: 200 with `access_token` = `R.access`,
//!   `refresh_token` = `R.next`, `expires_in` = [`FAKE_TOKEN_LIFETIME_SECS`], `scope` echoed;
//! - R containing `revoked`: 400 `{"error": "invalid_grant", ...}` (a dead refresh token);
//! - no `client_id`, another grant type, or no JSON: 400 `invalid_request`, like the real one.

use super::body::{self, RespBody};
use super::routes::Req;
use hyper::{Response, StatusCode};
use serde_json::{Value, json};

/// How long the access tokens this endpoint hands out last.
pub const FAKE_TOKEN_LIFETIME_SECS: u64 = 8 * 60 * 60;

/// The access token the fake endpoint gives for `refresh_token`.
pub fn refreshed_access_token(refresh_token: &str) -> String {
    format!("{refresh_token}.access")
}

/// The refresh token the fake endpoint rotates `refresh_token` to.
pub fn rotated_refresh_token(refresh_token: &str) -> String {
    format!("{refresh_token}.next")
}

fn invalid_request(message: &str) -> Response<RespBody> {
    body::json(StatusCode::BAD_REQUEST, &json!({"error": "invalid_request", "error_description": message}))
}

pub(crate) fn token(req: &Req) -> Response<RespBody> {
    let Ok(request) = serde_json::from_slice::<Value>(&req.body) else {
        return invalid_request("Invalid request format");
    };
    let field = |name: &str| request.get(name).and_then(Value::as_str).filter(|s| !s.is_empty());
    if field("grant_type") != Some("refresh_token") {
        return invalid_request("unsupported grant_type");
    }
    let (Some(refresh), Some(_client_id)) = (field("refresh_token"), field("client_id")) else {
        return invalid_request("Invalid request format");
    };
    if refresh.contains("revoked") {
        return body::json(
            StatusCode::BAD_REQUEST,
            &json!({"error": "invalid_grant", "error_description": "Refresh token not found or invalid"}),
        );
    }
    body::json(
        StatusCode::OK,
        &json!({
            "token_type": "Bearer",
            "access_token": refreshed_access_token(refresh),
            "refresh_token": rotated_refresh_token(refresh),
            "expires_in": FAKE_TOKEN_LIFETIME_SECS,
            "scope": field("scope").unwrap_or("user:inference"),
        }),
    )
}
