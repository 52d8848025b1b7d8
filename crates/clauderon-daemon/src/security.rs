//! Who may talk to the API.
//!
//! - Over the Unix socket: the socket file is 0600 in a 0700 data dir, so the
//!   kernel already says the caller is the user. Nothing more is checked.
//! - Over TCP without a token (loopback only): the Host header must name a
//!   loopback host (DNS rebinding gives a foreign name), and an Origin, when a
//!   browser sends one, must be a loopback origin (a page on another site must
//!   not drive the API).
//! - Over TCP with a token (required for non-loopback binds): every request
//!   carries `Authorization: Bearer <token>`, compared in constant time, and a
//!   foreign Origin is still refused.

use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, HOST, ORIGIN};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use clauderon_core::config::ApiToken;
use subtle::ConstantTimeEq;

/// The rules for one listener.
#[derive(Debug, Clone)]
pub enum Guard {
    /// The Unix socket: trusted by file permissions.
    Socket,
    /// A TCP listener.
    Tcp { token: Option<ApiToken> },
}

/// Is `host` (a Host header value or an Origin's host, port allowed) a loopback name?
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [::1]:3030
        match rest.split_once(']') {
            Some((inner, _)) => inner,
            None => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
            _ => host,
        }
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The host part of an Origin (`scheme://host[:port]`), or `None` for `null` and junk.
fn origin_host(origin: &str) -> Option<&str> {
    let (scheme, rest) = origin.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    Some(rest.split('/').next().unwrap_or(rest))
}

fn header(headers: &HeaderMap, name: axum::http::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

impl Guard {
    pub fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Guard::Tcp { token } = self else { return Ok(()) };
        let host = header(headers, HOST).unwrap_or("");
        if let Some(origin) = headers.get(ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            let allowed = match origin_host(origin) {
                Some(o) => is_loopback_host(o) || (token.is_some() && o.eq_ignore_ascii_case(host)),
                None => false,
            };
            if !allowed {
                return Err(ApiError::forbidden(format!(
                    "cross-origin request from `{origin}` refused: the clauderon API only answers its own web UI"
                )));
            }
        }
        match token {
            None => {
                if !is_loopback_host(host) {
                    return Err(ApiError::forbidden(format!(
                        "Host `{host}` refused: this daemon only answers requests addressed to localhost \
                         (set an API token to serve other hosts)"
                    )));
                }
            }
            Some(token) => {
                let given =
                    header(headers, AUTHORIZATION).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
                if !bool::from(given.as_bytes().ct_eq(token.expose().as_bytes())) {
                    return Err(ApiError::unauthorized(
                        "missing or wrong API token: send `Authorization: Bearer <token>` (CLAUDERON_API_TOKEN for the CLI)",
                    ));
                }
            }
        }
        Ok(())
    }
}

pub async fn enforce(State(guard): State<Guard>, req: Request, next: Next) -> Response {
    match guard.check(req.headers()) {
        Ok(()) => next.run(req).await,
        Err(e) => {
            tracing::warn!(status = %e.status, uri = %req.uri(), "refused: {}", e.message);
            e.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(axum::http::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn loopback_hosts() {
        for ok in [
            "localhost",
            "localhost:3030",
            "127.0.0.1:3030",
            "127.1.2.3",
            "[::1]:3030",
            "app.localhost:1",
            "LOCALHOST.",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "evil.com",
            "evil.com:3030",
            "127.0.0.1.evil.com",
            "localhost.evil.com",
            "[::2]:1",
            "10.0.0.1",
            "",
            "[::1",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }

    #[test]
    fn tcp_without_token_checks_host_and_origin() {
        let g = Guard::Tcp { token: None };
        assert!(g.check(&headers(&[(HOST, "127.0.0.1:3030")])).is_ok());
        assert!(g.check(&headers(&[(HOST, "localhost:3030"), (ORIGIN, "http://localhost:3030")])).is_ok());
        assert!(g.check(&headers(&[(HOST, "rebind.evil.com:3030")])).is_err());
        assert!(g.check(&headers(&[(HOST, "localhost:3030"), (ORIGIN, "https://evil.com")])).is_err());
        assert!(g.check(&headers(&[(HOST, "localhost:3030"), (ORIGIN, "null")])).is_err());
        assert!(g.check(&HeaderMap::new()).is_err(), "no Host at all is refused");
    }

    #[test]
    fn tcp_with_token_needs_the_token() {
        let token = clauderon_core::config::parse_api_token("0123456789abcdef0123", "test").unwrap();
        let g = Guard::Tcp { token: Some(token) };
        assert!(g.check(&headers(&[(HOST, "192.168.1.5:3030")])).is_err());
        assert!(g.check(&headers(&[(HOST, "192.168.1.5:3030"), (AUTHORIZATION, "Bearer wrong")])).is_err());
        let ok = headers(&[(HOST, "192.168.1.5:3030"), (AUTHORIZATION, "Bearer 0123456789abcdef0123")]);
        assert!(g.check(&ok).is_ok());
        let mut foreign = ok.clone();
        foreign.insert(ORIGIN, HeaderValue::from_static("https://evil.com"));
        assert!(g.check(&foreign).is_err());
        let mut same = ok;
        same.insert(ORIGIN, HeaderValue::from_static("http://192.168.1.5:3030"));
        assert!(g.check(&same).is_ok());
    }

    #[test]
    fn socket_is_trusted() {
        assert!(Guard::Socket.check(&HeaderMap::new()).is_ok());
    }
}
