//! The HTTP routes. Handlers parse, call the session manager, and answer;
//! nothing here touches the store or a backend.

pub mod diff;
pub mod hooks;
pub mod messages;
pub mod proxy;
pub mod push;
pub mod repos;
pub mod sessions;
pub mod ship;
pub mod system;
pub mod terminal;
pub mod usage;

use crate::error::ApiError;
use axum::extract::{FromRequest, FromRequestParts};

/// `Json` whose rejections are [`ApiError`]s with a clear message.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for ApiJson<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// `Query` whose rejections are [`ApiError`]s.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);
