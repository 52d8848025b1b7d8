//! The proxy's side of the API: the audit, the CA certificate, the credentials (names only).

use super::{ApiJson, ApiQuery};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use clauderon_types::api::{AuditList, AuditQuery, CredentialList, CredentialView, ErrorBody};

#[utoipa::path(get, path = "/api/sessions/{name}/requests", tag = "proxy",
    params(("name" = String, Path), AuditQuery),
    responses((status = 200, body = AuditList), (status = 404, body = ErrorBody)))]
pub async fn session_requests(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<ApiJson<AuditList>, ApiError> {
    if q.session.is_some() {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid",
            "`session` is not a filter here: the session is in the path",
        ));
    }
    let session = state.reads.get(&name).await?;
    let requests = state.reads.audit(Some(session.name.to_string()), q.after, q.limit).await?;
    Ok(ApiJson(AuditList { requests }))
}

#[utoipa::path(get, path = "/api/requests", tag = "proxy", params(AuditQuery),
    responses((status = 200, body = AuditList), (status = 400, body = ErrorBody)))]
pub async fn all_requests(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<ApiJson<AuditList>, ApiError> {
    if let Some(name) = &q.session {
        clauderon_types::SessionName::parse(name)
            .map_err(|e| ApiError::new(axum::http::StatusCode::BAD_REQUEST, "invalid", e.to_string()))?;
    }
    let requests = state.reads.audit(q.session, q.after, q.limit).await?;
    Ok(ApiJson(AuditList { requests }))
}

#[utoipa::path(get, path = "/api/proxy/ca.pem", tag = "proxy",
    responses((status = 200, description = "clauderon's CA certificate (PEM)", content_type = "application/x-pem-file")))]
pub async fn ca_pem(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/x-pem-file")], state.ca_pem.to_string())
}

#[utoipa::path(get, path = "/api/credentials", tag = "proxy", responses((status = 200, body = CredentialList)))]
pub async fn credentials(State(state): State<AppState>) -> ApiJson<CredentialList> {
    let credentials = state
        .credentials
        .describe()
        .into_iter()
        .map(|c| CredentialView {
            name: c.name,
            description: c.description,
            source: c.source,
            searched: c.searched,
            problem: c.problem,
        })
        .collect();
    ApiJson(CredentialList { credentials })
}
