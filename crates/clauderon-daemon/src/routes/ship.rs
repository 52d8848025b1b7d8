//! Shipping a session's work on the user's command.

use super::ApiJson;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, State};
use clauderon_types::Session;
use clauderon_types::api::ErrorBody;
use clauderon_types::ship::{CommitReport, CommitRequest, PrReport, PrRequest, PushReport, PushRequest};

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

/// Push the session's branch, then open a pull request for it on GitHub through the proxy (or,
/// when it has an open one, read that one again). Title and body default to the session's
/// prompt and its commits; the base to the repository's default branch. Records the pull
/// request on the session, which then follows its state, review decision and checks.
#[utoipa::path(post, path = "/api/sessions/{name}/pr", tag = "sessions", params(("name" = String, Path)),
    request_body = PrRequest,
    responses((status = 200, body = PrReport), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn pr(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<PrRequest>,
) -> Result<ApiJson<PrReport>, ApiError> {
    let report = state.manager.pr(&name, req).await?;
    tracing::info!(session = %name, number = report.pull_request.number, url = %report.pull_request.url,
        "pull request");
    Ok(ApiJson(report))
}

/// Read the session's pull request from GitHub now (the daemon also does it on a timer).
#[utoipa::path(post, path = "/api/sessions/{name}/pr/refresh", tag = "sessions", params(("name" = String, Path)),
    responses((status = 200, body = Session), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 502, body = ErrorBody)))]
pub async fn refresh_pr(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<ApiJson<Session>, ApiError> {
    Ok(ApiJson(state.manager.refresh_pr(&name).await?))
}

/// Commit the worktree's uncommitted work (untracked files included) on the session's branch,
/// as the user's git identity, without hooks. 409 when there is nothing to commit, when another
/// branch is checked out, or when the user's config defines filter drivers (never run on a
/// session's files).
#[utoipa::path(post, path = "/api/sessions/{name}/commit", tag = "sessions", params(("name" = String, Path)),
    request_body = CommitRequest,
    responses((status = 200, body = CommitReport), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn commit(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<CommitRequest>,
) -> Result<ApiJson<CommitReport>, ApiError> {
    let report = state.manager.commit_work(&name, req).await?;
    tracing::info!(session = %name, commit = %report.commit, files = report.files, "committed");
    Ok(ApiJson(report))
}
