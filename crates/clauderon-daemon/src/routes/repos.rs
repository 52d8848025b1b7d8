//! Repositories as the create form sees them: a path checked as it is typed, and the ones used
//! before.

use super::{ApiJson, ApiQuery};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::State;
use clauderon_types::api::{ErrorBody, RecentRepos, RepoCheck, RepoCheckQuery};
use std::path::Path;

/// Most repositories `recent` lists.
const RECENT: usize = 20;

/// What `create` would make of a path: a git checkout with commits (its top level, branch,
/// local branches, whether tracked files have changes), or why not, in `create`'s words. Runs
/// git with clauderon's hardened settings; always 200 for a path given.
#[utoipa::path(get, path = "/api/repos/check", tag = "sessions", params(RepoCheckQuery),
    responses((status = 200, body = RepoCheck), (status = 400, body = ErrorBody)))]
pub async fn check(ApiQuery(q): ApiQuery<RepoCheckQuery>) -> Result<ApiJson<RepoCheck>, ApiError> {
    Ok(ApiJson(clauderon_core::worktree::check_repo(Path::new(q.path.trim())).await))
}

/// Repositories of past sessions, most recent first.
#[utoipa::path(get, path = "/api/repos/recent", tag = "sessions",
    responses((status = 200, body = RecentRepos)))]
pub async fn recent(State(state): State<AppState>) -> Result<ApiJson<RecentRepos>, ApiError> {
    Ok(ApiJson(RecentRepos { repos: state.reads.recent_repos(RECENT).await? }))
}
