//! Web Push: the daemon's public key, browsers subscribing and unsubscribing, and muting a
//! session's notifications.

use super::ApiJson;
use crate::error::ApiError;
use crate::state::AppState;
use crate::webpush::{self, WebPush};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use clauderon_store::push::PushSubscription;
use clauderon_types::api::{ErrorBody, PushKey, PushMute, PushSubscribeRequest, PushUnsubscribeRequest};
use std::sync::Arc;

fn sender(state: &AppState) -> Result<Arc<WebPush>, ApiError> {
    state.push.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "web push is not running in this daemon",
        )
    })
}

/// The push store and the session's own name (404 when there is no such session).
async fn session_store(
    state: &AppState,
    name: &str,
) -> Result<(Arc<clauderon_store::Store>, String), ApiError> {
    let store = sender(state)?.store().clone();
    Ok((store, state.reads.get(name).await?.name.to_string()))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, clauderon_store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("store task: {e}"))
        })?
        .map_err(|e| match e {
            clauderon_store::StoreError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            other => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", other.to_string()),
        })
}

/// The daemon's VAPID public key, for `pushManager.subscribe({applicationServerKey})`.
#[utoipa::path(get, path = "/api/push/key", tag = "system",
    responses((status = 200, body = PushKey), (status = 503, body = ErrorBody)))]
pub async fn key(State(state): State<AppState>) -> Result<ApiJson<PushKey>, ApiError> {
    Ok(ApiJson(PushKey { public_key: sender(&state)?.public_key().to_string() }))
}

/// Subscribe a browser (the same endpoint again replaces its keys).
#[utoipa::path(post, path = "/api/push/subscriptions", tag = "system", request_body = PushSubscribeRequest,
    responses((status = 204, description = "subscribed"), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn subscribe(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<PushSubscribeRequest>,
) -> Result<StatusCode, ApiError> {
    let push = sender(&state)?;
    let sub = PushSubscription { endpoint: req.endpoint, p256dh: req.keys.p256dh, auth: req.keys.auth };
    webpush::validate(&sub).map_err(|why| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("not a push subscription clauderon can use: {why}"),
        )
    })?;
    let store = push.store().clone();
    blocking(move || store.add_push_subscription(&sub)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Forget a browser's subscription (fine when there is none).
#[utoipa::path(delete, path = "/api/push/subscriptions", tag = "system", request_body = PushUnsubscribeRequest,
    responses((status = 204, description = "forgotten"), (status = 503, body = ErrorBody)))]
pub async fn unsubscribe(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<PushUnsubscribeRequest>,
) -> Result<StatusCode, ApiError> {
    let store = sender(&state)?.store().clone();
    blocking(move || store.remove_push_subscription(&req.endpoint)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether the session's notifications are muted.
#[utoipa::path(get, path = "/api/sessions/{name}/push-mute", tag = "sessions", params(("name" = String, Path)),
    responses((status = 200, body = PushMute), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn muted(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<ApiJson<PushMute>, ApiError> {
    let (store, name) = session_store(&state, &name).await?;
    Ok(ApiJson(PushMute { muted: blocking(move || store.push_muted(&name)).await? }))
}

/// Mute or unmute the session's notifications (on this daemon, for every subscribed browser).
#[utoipa::path(put, path = "/api/sessions/{name}/push-mute", tag = "sessions", params(("name" = String, Path)),
    request_body = PushMute,
    responses((status = 200, body = PushMute), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn set_muted(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<PushMute>,
) -> Result<ApiJson<PushMute>, ApiError> {
    let (store, name) = session_store(&state, &name).await?;
    let muted = req.muted;
    blocking(move || store.set_push_muted(&name, muted)).await?;
    Ok(ApiJson(req))
}
