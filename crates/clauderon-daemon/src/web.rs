//! The web UI: the files `web/` builds (embedded in the binary by `rust-embed`; `build.rs`
//! runs Vite), served at `/` on the API's own origin, and the sign-in that turns the API
//! token into what a browser can carry (see [`crate::security`]).
//!
//! - `/assets/*`: Vite's content-hashed files, cached for a year.
//! - Any other path that is not `/api` or `/ws`: the file of that name when there is one
//!   (icons, manifest), else `index.html` (the app routes in the browser). Never cached.
//! - `POST /auth/session {"token"}` signs in; `DELETE /auth/session` signs out.

use crate::error::ApiError;
use crate::routes::ApiJson;
use crate::security::Guard;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

#[derive(rust_embed::Embed)]
#[folder = "../../web/dist"]
struct Assets;

/// No inline script, nothing from elsewhere, no framing. Inline styles are allowed: xterm.js
/// sizes the terminal's cells with a `<style>` element and style attributes it makes at run time
/// (blocked, the Terminal tab draws garbage). Styles cannot run script, React renders session
/// text as text (no markup of a session's reaches the page to carry a style), and `img-src`,
/// `font-src` and `connect-src` keep any style from loading anything from elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

fn security_headers(headers: &mut HeaderMap) {
    headers.insert("content-security-policy", HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
}

fn file(path: &str) -> Option<Response> {
    let found = Assets::get(path)?;
    let mime = found.metadata.mimetype();
    let cache = if path.starts_with("assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
    let mut resp = found.data.into_owned().into_response();
    let headers = resp.headers_mut();
    if let Ok(mime) = HeaderValue::from_str(mime) {
        headers.insert(CONTENT_TYPE, mime);
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    security_headers(headers);
    Some(resp)
}

/// The fallback of the whole router: a UI file, or the app's shell.
pub async fn asset(uri: Uri) -> Response {
    let path = uri.path();
    let api_like = ["/api", "/ws", "/auth"].iter().any(|p| path == *p || path.starts_with(&format!("{p}/")));
    if api_like {
        // The guarded routers answer their own paths; this is only reached for a prefix alone.
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "no such API route: /api/openapi.json lists them",
        )
        .into_response();
    }
    let path = path.trim_start_matches('/');
    if let Some(resp) = (!path.is_empty()).then(|| file(path)).flatten() {
        return resp;
    }
    if path.starts_with("assets/") {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    }
    file("index.html").unwrap_or_else(|| {
        (StatusCode::NOT_FOUND, "this clauderon was built without its web UI (web/dist was empty)")
            .into_response()
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    token: String,
}

/// What a signed-in page keeps: the key it sends with every request (not the token).
#[derive(Debug, Serialize)]
pub struct SignedIn {
    pub page_key: String,
}

fn cookie_header(name: &str, value: &str, max_age: Option<u32>) -> HeaderValue {
    let age = max_age.map(|s| format!("; Max-Age={s}")).unwrap_or_default();
    let cookie = format!("{name}={value}; HttpOnly; SameSite=Strict; Path=/{age}");
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `POST /auth/session`: the API token in, the cookie and the page key out.
pub async fn sign_in(guard: Guard, ApiJson(body): ApiJson<SignIn>) -> Result<Response, ApiError> {
    let Guard::Tcp(tcp) = guard else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "not-found", "the Unix socket needs no sign-in"));
    };
    if !tcp.is_token(body.token.trim()) {
        return Err(ApiError::unauthorized(
            "that is not this daemon's API token: `clauderon config api-token` on the daemon's machine prints it",
        ));
    }
    let keys = tcp.web_keys();
    // 30 days: the cookie is only half of what a request needs, and rotating the token ends it.
    let mut resp = ApiJson(SignedIn { page_key: keys.page_key.clone() }).into_response();
    resp.headers_mut()
        .insert(SET_COOKIE, cookie_header(&keys.cookie_name, &keys.cookie, Some(30 * 24 * 3600)));
    resp.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    tracing::info!("a browser signed in to the web UI");
    Ok(resp)
}

/// `DELETE /auth/session`: the cookie cleared (the page forgets its key itself).
pub async fn sign_out(guard: Guard) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    if let Guard::Tcp(tcp) = guard {
        resp.headers_mut().insert(SET_COOKIE, cookie_header(&tcp.web_keys().cookie_name, "", Some(0)));
    }
    resp
}
