//! The hooks' delivery log, and firing a sample event at one hook.

use super::{ApiJson, ApiQuery};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use clauderon_types::api::ErrorBody;
use clauderon_types::hooks::{DeliveryQuery, HookDelivery, HookDeliveryList};

/// Every hook run and webhook delivery: time, event, hook, target (a webhook's scheme and host
/// only), outcome, status, attempts, duration, the command's output (capped). `after` follows
/// the log; without it, the latest `limit` (default 100).
#[utoipa::path(get, path = "/api/hooks/deliveries", tag = "system", params(DeliveryQuery),
    responses((status = 200, body = HookDeliveryList)))]
pub async fn deliveries(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> Result<ApiJson<HookDeliveryList>, ApiError> {
    Ok(ApiJson(HookDeliveryList { deliveries: state.reads.hook_deliveries(q.after, q.limit).await? }))
}

/// Fire a sample event (a session `hook-test` starting to wait for input) at the hook `name`
/// now; answers its delivery, which is also in the log.
#[utoipa::path(post, path = "/api/hooks/{name}/test", tag = "system", params(("name" = String, Path)),
    responses((status = 200, body = HookDelivery), (status = 404, body = ErrorBody)))]
pub async fn test(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<ApiJson<HookDelivery>, ApiError> {
    if let Some(runner) = &state.hooks
        && let Some(delivery) = runner.test(&name).await
    {
        return Ok(ApiJson(delivery));
    }
    let known = state.hooks.as_ref().map(|r| r.names()).unwrap_or_default();
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "not-found",
        if known.is_empty() {
            format!(
                "no hook named `{name}`: no hook is configured (`clauderon config example` shows [[hooks]])"
            )
        } else {
            format!("no hook named `{name}`: the configured ones are {}", known.join(", "))
        },
    ))
}
