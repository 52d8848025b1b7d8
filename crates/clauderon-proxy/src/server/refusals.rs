//! The answers the listener gives when it refuses on its own account (identity, the address
//! wall), as opposed to policy's refusals: one sentence saying why and what to do.

use super::text;
use crate::policy::Refusal;
use crate::upstream::ProxyBody;
use crate::wall::Walled;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

/// No identity, or a wrong one, on the proxy's own listener.
pub(super) fn identity_required() -> Response<ProxyBody> {
    let mut resp = text(
        StatusCode::PROXY_AUTHENTICATION_REQUIRED,
        "clauderon proxy: missing or wrong session identity; use the proxy URL your session was given",
    );
    resp.headers_mut()
        .insert(header::PROXY_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"clauderon\""));
    resp
}

/// A request on a connection whose session was deleted after the connection was opened.
pub(super) fn identity_revoked() -> Response<ProxyBody> {
    let mut resp = text(
        StatusCode::PROXY_AUTHENTICATION_REQUIRED,
        "clauderon proxy: this connection's session no longer exists; nothing more goes through it",
    );
    resp.headers_mut()
        .insert(header::PROXY_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"clauderon\""));
    resp
}

/// What the session and the audit are told when the address wall refuses a connection.
pub(super) fn wall_refusal(session_name: &str, w: &Walled) -> Refusal {
    let message = if w.allowable {
        format!(
            "clauderon: {} was refused because {}, and the proxy never carries a session to the host or a \
             private network; to allow this one address, name its exact IP in `allow_hosts` in the config's \
             [policy] section (or run `clauderon allow-host {session_name} {}`) and use that IP.",
            w.target, w.why, w.addr
        )
    } else {
        format!("clauderon: {} was refused because {}.", w.target, w.why)
    };
    Refusal { status: 403, message, reason: format!("address wall: {} ({})", w.target, w.why) }
}
