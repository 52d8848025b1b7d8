//! `/api/sessions`: list, create, show, delete, archive, stop and start, access mode.

use super::{ApiJson, ApiQuery};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use clauderon_types::Session;
use clauderon_types::api::{
    AllowHostRequest, CreateSessionRequest, DeleteQuery, ErrorBody, ListQuery, SessionDetail, SessionList,
    SetAccessModeRequest, SetBudgetRequest,
};

#[utoipa::path(get, path = "/api/sessions", tag = "sessions", params(ListQuery),
    responses((status = 200, body = SessionList), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<ApiJson<SessionList>, ApiError> {
    let sessions = state.reads.list(q.view).await?;
    let costs_usd = state.reads.costs(&sessions);
    Ok(ApiJson(SessionList { sessions, costs_usd }))
}

#[utoipa::path(post, path = "/api/sessions", tag = "sessions", request_body = CreateSessionRequest,
    responses((status = 201, body = Session), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CreateSessionRequest>,
) -> Result<(StatusCode, ApiJson<Session>), ApiError> {
    let session = state.manager.create(req).await?;
    tracing::info!(session = %session.name, backend = %session.backend, "session created");
    Ok((StatusCode::CREATED, ApiJson(session)))
}

#[utoipa::path(get, path = "/api/sessions/{name}", tag = "sessions", params(("name" = String, Path)),
    responses((status = 200, body = SessionDetail), (status = 404, body = ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<ApiJson<SessionDetail>, ApiError> {
    Ok(ApiJson(state.reads.detail(&name).await?))
}

#[utoipa::path(delete, path = "/api/sessions/{name}", tag = "sessions", params(("name" = String, Path), DeleteQuery),
    responses((status = 200, body = Session), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<DeleteQuery>,
) -> Result<ApiJson<Session>, ApiError> {
    let session = state.manager.delete(&name, q).await?;
    tracing::info!(session = %session.name, "session deleted");
    Ok(ApiJson(session))
}

#[utoipa::path(post, path = "/api/sessions/{name}/archive", tag = "sessions", params(("name" = String, Path)),
    responses((status = 200, body = Session), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn archive(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<ApiJson<Session>, ApiError> {
    Ok(ApiJson(state.manager.archive(&name).await?))
}

#[utoipa::path(post, path = "/api/sessions/{name}/unarchive", tag = "sessions", params(("name" = String, Path)),
    responses((status = 200, body = Session), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn unarchive(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<ApiJson<Session>, ApiError> {
    Ok(ApiJson(state.manager.unarchive(&name).await?))
}

#[utoipa::path(post, path = "/api/sessions/{name}/stop", tag = "sessions", params(("name" = String, Path)),
    responses((status = 200, body = Session), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn stop(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<ApiJson<Session>, ApiError> {
    let session = state.manager.stop(&name).await?;
    tracing::info!(session = %session.name, "session stopped");
    Ok(ApiJson(session))
}

/// Start a stopped session again; its agent resumes its conversation.
#[utoipa::path(post, path = "/api/sessions/{name}/start", tag = "sessions", params(("name" = String, Path)),
    responses((status = 200, body = Session), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn start(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<ApiJson<Session>, ApiError> {
    let session = state.manager.start(&name).await?;
    tracing::info!(session = %session.name, "session started again");
    Ok(ApiJson(session))
}

#[utoipa::path(put, path = "/api/sessions/{name}/access-mode", tag = "sessions", params(("name" = String, Path)),
    request_body = SetAccessModeRequest,
    responses((status = 200, body = Session), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_access_mode(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<SetAccessModeRequest>,
) -> Result<ApiJson<Session>, ApiError> {
    let session = state.manager.set_access_mode(&name, req.mode).await?;
    tracing::info!(session = %session.name, mode = %session.access_mode, "access mode set");
    Ok(ApiJson(session))
}

#[utoipa::path(post, path = "/api/sessions/{name}/allowed-hosts", tag = "sessions", params(("name" = String, Path)),
    request_body = AllowHostRequest,
    responses((status = 200, body = Session), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn allow_host(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<AllowHostRequest>,
) -> Result<ApiJson<Session>, ApiError> {
    let session = state.manager.allow_host(&name, &req.host).await?;
    tracing::info!(session = %session.name, host = %req.host, "host allowed");
    Ok(ApiJson(session))
}

#[utoipa::path(put, path = "/api/sessions/{name}/budget", tag = "sessions", params(("name" = String, Path)),
    request_body = SetBudgetRequest,
    responses((status = 200, body = Session), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_budget(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<SetBudgetRequest>,
) -> Result<ApiJson<Session>, ApiError> {
    let session = state.manager.set_budget(&name, req.tokens, req.usd_cents).await?;
    tracing::info!(session = %session.name, tokens = ?req.tokens, usd_cents = ?req.usd_cents, "budget set");
    Ok(ApiJson(session))
}
