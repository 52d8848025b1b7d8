//! The daemon's HTTP side: [`router`] builds the app, [`launch()`] starts a
//! whole daemon (lock, store, manager, reconcile, listeners) and returns a
//! handle that shuts it down gracefully.

mod audit_writer;
mod batch_writer;
pub mod error;
pub mod hooks;
pub mod launch;
pub mod openapi;
pub mod routes;
pub mod security;
pub mod state;
pub mod status_reports;
pub mod usage_writer;
pub mod web;
pub mod webpush;
pub mod ws;

pub use launch::{DaemonError, LaunchOptions, RunningDaemon, launch};
pub use security::Guard;
pub use state::AppState;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{any, get, post, put};
use routes::{sessions, system};

/// Largest request body accepted.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The whole API for one listener, with that listener's security rules, and the web UI.
///
/// The guard is a `route_layer` of the API's routes (every `/api` and `/ws` path, unknown
/// ones included), so what it does not cover is structural: the sign-in route (the origin
/// rule only; it checks the token in its body) and the UI's static files (the fallback).
pub fn router(state: AppState, guard: Guard) -> Router {
    let sign_in = guard.clone();
    let sign_out = guard.clone();
    let auth = Router::new()
        .route(
            "/auth/session",
            post(move |body| web::sign_in(sign_in.clone(), body))
                .delete(move || web::sign_out(sign_out.clone())),
        )
        .route_layer(axum::middleware::from_fn_with_state(guard.clone(), security::enforce_origin));
    let api = Router::new()
        .route("/api/health", get(system::health))
        .route("/api/version", get(system::version))
        .route("/api/openapi.json", get(openapi::document))
        .route("/api/sessions", get(sessions::list).post(sessions::create))
        .route("/api/sessions/{name}", get(sessions::show).delete(sessions::delete))
        .route("/api/sessions/{name}/archive", post(sessions::archive))
        .route("/api/sessions/{name}/unarchive", post(sessions::unarchive))
        .route("/api/sessions/{name}/stop", post(sessions::stop))
        .route("/api/sessions/{name}/start", post(sessions::start))
        .route("/api/sessions/{name}/access-mode", put(sessions::set_access_mode))
        .route("/api/sessions/{name}/allowed-hosts", post(sessions::allow_host))
        .route("/api/sessions/{name}/budget", put(sessions::set_budget))
        .route("/api/sessions/{name}/requests", get(routes::proxy::session_requests))
        .route("/api/sessions/{name}/usage", get(routes::usage::session_usage))
        .route("/api/sessions/{name}/messages", get(routes::messages::session_messages))
        .route("/api/sessions/{name}/diff", get(routes::diff::session_diff))
        .route("/api/sessions/{name}/commit", post(routes::ship::commit))
        .route("/api/sessions/{name}/push", post(routes::ship::push))
        .route("/api/sessions/{name}/pr", post(routes::ship::pr))
        .route("/api/sessions/{name}/pr/refresh", post(routes::ship::refresh_pr))
        .route("/api/requests", get(routes::proxy::all_requests))
        .route("/api/repos/check", get(routes::repos::check))
        .route("/api/hooks/deliveries", get(routes::hooks::deliveries))
        .route("/api/hooks/{name}/test", post(routes::hooks::test))
        .route("/api/push/key", get(routes::push::key))
        .route("/api/push/subscriptions", post(routes::push::subscribe).delete(routes::push::unsubscribe))
        .route("/api/sessions/{name}/push-mute", get(routes::push::muted).put(routes::push::set_muted))
        .route("/api/repos/recent", get(routes::repos::recent))
        .route("/api/proxy/ca.pem", get(routes::proxy::ca_pem))
        .route("/api/credentials", get(routes::proxy::credentials))
        .route("/api/sessions/{name}/logs", get(routes::terminal::logs))
        .route("/api/sessions/{name}/env", get(routes::terminal::env))
        .route("/api/sessions/{name}/input", post(routes::terminal::send_input))
        .route("/ws/events", get(ws::events))
        .route("/ws/sessions/{name}/terminal", get(routes::terminal::terminal))
        .route("/api/{*rest}", any(api_not_found))
        .route("/ws/{*rest}", any(api_not_found))
        .route_layer(axum::middleware::from_fn_with_state(guard, security::enforce));
    api.merge(auth)
        .fallback(web::asset)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn api_not_found() -> error::ApiError {
    error::ApiError::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "no such API route: /api/openapi.json lists them",
    )
}
