//! Health, version, the OpenAPI document.

use super::ApiJson;
use crate::state::AppState;
use axum::extract::State;
use clauderon_types::api::{Health, VersionInfo};

pub const API_VERSION: u32 = 1;

#[utoipa::path(get, path = "/api/health", tag = "system", responses((status = 200, body = Health)))]
pub async fn health(State(state): State<AppState>) -> ApiJson<Health> {
    ApiJson(Health {
        status: "ok".into(),
        version: clauderon_types::VERSION.into(),
        backends: state.manager.available_backends(),
        reconcile: state.manager.last_reconcile(),
    })
}

#[utoipa::path(get, path = "/api/version", tag = "system", responses((status = 200, body = VersionInfo)))]
pub async fn version() -> ApiJson<VersionInfo> {
    ApiJson(VersionInfo { version: clauderon_types::VERSION.into(), api: API_VERSION })
}
