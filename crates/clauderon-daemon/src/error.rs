//! One error type for every route: a status and an [`ErrorBody`]. Internal
//! detail is logged, never sent.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use clauderon_core::CoreError;
use clauderon_types::api::ErrorBody;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into() }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match &e {
            CoreError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, "not-found", m.clone()),
            CoreError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m.clone()),
            CoreError::Invalid(m) => ApiError::new(StatusCode::BAD_REQUEST, "invalid", m.clone()),
            CoreError::Refused(m) => ApiError::new(StatusCode::CONFLICT, "containment-refused", m.clone()),
            CoreError::Unavailable(m) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m.clone())
            }
            CoreError::Git(_) | CoreError::Backend(_) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "failed", e.to_string())
            }
            CoreError::Config(_) | CoreError::Internal(_) => {
                tracing::error!(error = %e, "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error: the daemon log (<data dir>/logs) has the details",
                )
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = r.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::new(status, "too-large", "request body is too large (the limit is 1 MiB)");
        }
        let code =
            if status == StatusCode::UNSUPPORTED_MEDIA_TYPE { "unsupported-media-type" } else { "invalid" };
        ApiError::new(status, code, format!("invalid JSON body: {}", r.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid", r.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody { error: self.code.to_string(), message: self.message })).into_response()
    }
}
