//! A session's work against its base, for review.

use super::{ApiJson, ApiQuery};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, State};
use clauderon_types::api::ErrorBody;
use clauderon_types::diff::{DiffQuery, SessionDiff};

/// Committed and uncommitted work alike (untracked files git would not ignore included),
/// against the merge base of the session's branch and its base commit. Hunks are bounded: a
/// file or an answer past its cap keeps its counts and says why its hunks are left out.
#[utoipa::path(get, path = "/api/sessions/{name}/diff", tag = "sessions",
    params(("name" = String, Path), DiffQuery),
    responses((status = 200, body = SessionDiff), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn session_diff(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<DiffQuery>,
) -> Result<ApiJson<SessionDiff>, ApiError> {
    Ok(ApiJson(state.reads.diff(&name, q.patch.unwrap_or(true)).await?))
}
