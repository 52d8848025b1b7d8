//! The answers the proxy writes itself, as the session sees them: a short text (every
//! refusal and failure), a policy refusal, an empty body.

use crate::policy::Refusal;
use crate::upstream::ProxyBody;
use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full};

/// A plain-text answer from the proxy (marked `x-clauderon-proxy: 1`).
pub(crate) fn text(status: StatusCode, message: impl Into<String>) -> Response<ProxyBody> {
    let mut body = message.into();
    body.push('\n');
    let mut resp = Response::new(Full::new(Bytes::from(body)).map_err(|never| match never {}).boxed());
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    resp.headers_mut().insert(HeaderName::from_static("x-clauderon-proxy"), HeaderValue::from_static("1"));
    resp
}

/// A policy refusal as the session sees it.
pub(crate) fn refused(r: &Refusal) -> Response<ProxyBody> {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::FORBIDDEN);
    let mut resp = text(status, r.message.clone());
    resp.headers_mut()
        .insert(HeaderName::from_static("x-clauderon-refused"), HeaderValue::from_static("policy"));
    resp
}

pub(crate) fn empty() -> ProxyBody {
    Full::new(Bytes::new()).map_err(|never| match never {}).boxed()
}
