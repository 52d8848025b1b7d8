//! The API described as OpenAPI, served at `/api/openapi.json`.

use crate::routes::{
    ApiJson, diff, hooks, messages, proxy, push, repos, sessions, ship, system, terminal, usage,
};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "clauderon", description = "Sessions of AI coding agents that never hold a real credential."),
    paths(
        system::health,
        system::version,
        sessions::list,
        sessions::create,
        sessions::show,
        sessions::delete,
        sessions::archive,
        sessions::unarchive,
        sessions::stop,
        sessions::start,
        sessions::set_access_mode,
        sessions::allow_host,
        sessions::set_budget,
        proxy::session_requests,
        usage::session_usage,
        messages::session_messages,
        diff::session_diff,
        hooks::deliveries,
        hooks::test,
        push::key,
        push::subscribe,
        push::unsubscribe,
        push::muted,
        push::set_muted,
        repos::check,
        repos::recent,
        ship::commit,
        ship::push,
        ship::pr,
        ship::refresh_pr,
        terminal::logs,
        terminal::env,
        terminal::send_input,
        proxy::all_requests,
        proxy::ca_pem,
        proxy::credentials,
    ),
    // Schemas only named by a query parameter's `$ref` are listed here, or the reference dangles.
    components(schemas(
        clauderon_types::SessionEvent,
        clauderon_types::EventKind,
        clauderon_types::api::ListView,
        clauderon_types::usage::BucketWidth
    )),
    tags((name = "sessions"), (name = "proxy"), (name = "system"))
)]
pub struct ApiDoc;

/// `GET /api/openapi.json`: this document.
pub async fn document() -> ApiJson<utoipa::openapi::OpenApi> {
    ApiJson(ApiDoc::openapi())
}
