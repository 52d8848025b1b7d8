//! Shipping a session's work on the user's command.

use super::ApiJson;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, State};
use clauderon_types::api::ErrorBody;
use clauderon_types::ship::{PushReport, PushRequest};

/// Push the session's branch to the repository's origin (HTTPS; an SSH origin is pushed to its
/// HTTPS form), by the daemon through its own proxy: the token is put on the request there and
/// nowhere else. Works for read-only sessions too: the user, not the agent, decided to ship.
#[utoipa::path(post, path = "/api/sessions/{name}/push", tag = "sessions", params(("name" = String, Path)),
    request_body = PushRequest,
    responses((status = 200, body = PushReport), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn push(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<PushRequest>,
) -> Result<ApiJson<PushReport>, ApiError> {
    let report = state.manager.push(&name, req).await?;
    tracing::info!(session = %name, remote = %report.remote, commit = %report.commit,
        outcome = report.outcome.as_str(), "pushed");
    Ok(ApiJson(report))
}
