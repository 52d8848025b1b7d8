//! A session's token usage: totals per model and a time series.

use super::{ApiJson, ApiQuery};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, State};
use clauderon_types::api::ErrorBody;
use clauderon_types::usage::{UsageQuery, UsageReport};

#[utoipa::path(get, path = "/api/sessions/{name}/usage", tag = "sessions",
    params(("name" = String, Path), UsageQuery),
    responses((status = 200, body = UsageReport), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn session_usage(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<UsageQuery>,
) -> Result<ApiJson<UsageReport>, ApiError> {
    Ok(ApiJson(state.reads.usage_report(&name, q.bucket).await?))
}
