//! A session's chat history, from its agent's transcript.

use super::{ApiJson, ApiQuery};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, State};
use clauderon_types::api::ErrorBody;
use clauderon_types::messages::{MessagePage, MessagesQuery};

/// Paged and incremental: pass a page's `next` as `after` to get only what came since.
#[utoipa::path(get, path = "/api/sessions/{name}/messages", tag = "sessions",
    params(("name" = String, Path), MessagesQuery),
    responses((status = 200, body = MessagePage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn session_messages(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<MessagesQuery>,
) -> Result<ApiJson<MessagePage>, ApiError> {
    Ok(ApiJson(state.reads.messages(&name, q.after, q.limit).await?))
}
