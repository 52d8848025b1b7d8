//! Who may talk to the API.
//!
//! - Over the Unix socket: the socket file is 0600 in a 0700 data dir that no sandbox
//!   mounts, so the kernel already says the caller is the user. Nothing more is checked.
//! - Over TCP, loopback included: a session runs as the user's uid and may share the host's
//!   network (`fs` sandbox, no sandbox, Docker's open network), so a loopback peer proves
//!   nothing. Every request carries `Authorization: Bearer <token>`, compared in constant
//!   time; no route is exempt, not even `/api/health` (a session must never get a 2xx).
//! - A request that carries an Origin (a browser: every WebSocket upgrade, every POST, PUT and
//!   DELETE) must come from the daemon's own origin: `http://` + the request's Host, and that
//!   Host must name this daemon (a loopback name or its configured address). A page the agent
//!   serves on another loopback port is another origin, and so is `null`. Without an Origin
//!   (curl, the CLI) the token alone decides.
//! - The web UI (a browser cannot put a Bearer header on a WebSocket): signing in at
//!   `POST /auth/session` with the token sets an HttpOnly, SameSite=Strict cookie and hands the
//!   page a key. A request with **both** the cookie and the key (`X-Clauderon-Key`, or for a
//!   WebSocket the subprotocol `clauderon-key.<key>`) counts as carrying the token. Neither is
//!   the token: both are HMACs of it, so rotating the token signs every browser out. Why two:
//!   browsers send a host's cookies to *every port* of it, so a page an agent serves on another
//!   loopback port gets the cookie — and never the key, which lives in our origin's storage. An
//!   XSS that reads the key cannot read the HttpOnly cookie. ARCHITECTURE.md argues it.
//! - The UI's static files (`/`, `/assets/…`) hold no data and are served without any of this;
//!   every `/api` and `/ws` route is behind the guard ([`crate::router`]).

use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN, SEC_WEBSOCKET_PROTOCOL};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use clauderon_types::{ApiToken, is_loopback_host};
use std::net::SocketAddr;
use subtle::ConstantTimeEq;

/// The rules for one listener.
#[derive(Debug, Clone)]
pub enum Guard {
    /// The Unix socket: trusted by file permissions.
    Socket,
    /// A TCP listener: the token, and the daemon's own origin for browsers.
    Tcp(TcpGuard),
}

#[derive(Debug, Clone)]
pub struct TcpGuard {
    token: ApiToken,
    /// Where the listener is bound: a Host naming it (not only a loopback name) is ours too.
    bind: SocketAddr,
    /// What a signed-in browser holds, derived from the token.
    web: WebKeys,
}

/// The header a signed-in page sends its key in.
pub const KEY_HEADER: &str = "x-clauderon-key";
/// The WebSocket subprotocol a page names to carry its key (`clauderon-key.<key>`); the daemon
/// answers with [`WS_PROTOCOL`], which the page offers too.
pub const WS_KEY_PREFIX: &str = "clauderon-key.";
/// The subprotocol the daemon's WebSockets select when a page offers it.
pub const WS_PROTOCOL: &str = "clauderon";

/// The cookie and the page key of a signed-in browser: HMAC-SHA256 of two fixed labels under
/// the API token, hex. Stateless: they survive daemon restarts and die with the token.
#[derive(Clone)]
pub struct WebKeys {
    /// The cookie's name: it carries the port, because browsers share cookies across ports.
    pub cookie_name: String,
    pub cookie: String,
    pub page_key: String,
}

impl std::fmt::Debug for WebKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebKeys").field("cookie_name", &self.cookie_name).finish_non_exhaustive()
    }
}

fn derive(token: &ApiToken, label: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, token.expose().as_bytes());
    ring::hmac::sign(&key, label).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

impl WebKeys {
    fn new(token: &ApiToken, port: u16) -> WebKeys {
        WebKeys {
            cookie_name: format!("clauderon-{port}"),
            cookie: derive(token, b"clauderon web cookie v1"),
            page_key: derive(token, b"clauderon web page key v1"),
        }
    }
}

fn same(given: &str, expected: &str) -> bool {
    bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

impl Guard {
    /// A TCP listener bound to `bind` that requires `token`.
    pub fn tcp(token: ApiToken, bind: SocketAddr) -> Guard {
        let web = WebKeys::new(&token, bind.port());
        Guard::Tcp(TcpGuard { token, bind, web })
    }
}

/// The value of cookie `name` among the request's Cookie headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// The page key a request carries: the header, else a WebSocket subprotocol.
fn page_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(key) = header(headers, axum::http::HeaderName::from_static(KEY_HEADER)) {
        return Some(key);
    }
    headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().strip_prefix(WS_KEY_PREFIX))
}

fn header(headers: &HeaderMap, name: axum::http::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

impl TcpGuard {
    /// Does this Host header name this daemon? A loopback name, the bound address, or for a
    /// wildcard bind an IP literal on the bound port (never a DNS name: rebinding).
    fn names_us(&self, host: &str) -> bool {
        if is_loopback_host(host) {
            return true;
        }
        if host.eq_ignore_ascii_case(&self.bind.to_string()) {
            return true;
        }
        if self.bind.ip().is_unspecified() {
            return host.parse::<SocketAddr>().is_ok_and(|a| a.port() == self.bind.port());
        }
        false
    }

    fn check_origin(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(origin) = headers.get(ORIGIN) else { return Ok(()) };
        let origin = origin.to_str().unwrap_or("");
        let host = header(headers, HOST).unwrap_or("");
        let own = !host.is_empty()
            && self.names_us(host)
            && origin.strip_prefix("http://").is_some_and(|o| o.eq_ignore_ascii_case(host));
        if own {
            return Ok(());
        }
        Err(ApiError::forbidden(format!(
            "cross-origin request from `{origin}` refused: the clauderon API only answers pages of its own \
             origin (http://<its address>), not other sites or other local ports"
        )))
    }

    /// Is `given` the API token? (Constant time.)
    pub fn is_token(&self, given: &str) -> bool {
        same(given, self.token.expose())
    }

    pub fn web_keys(&self) -> &WebKeys {
        &self.web
    }

    /// A signed-in browser: the cookie and the page key, both right.
    fn signed_in(&self, headers: &HeaderMap) -> bool {
        let cookie_ok = cookie(headers, &self.web.cookie_name).is_some_and(|c| same(c, &self.web.cookie));
        let key_ok = page_key(headers).is_some_and(|k| same(k, &self.web.page_key));
        cookie_ok & key_ok
    }

    fn check_token(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let given = header(headers, AUTHORIZATION).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
        if self.is_token(given) || self.signed_in(headers) {
            return Ok(());
        }
        Err(ApiError::unauthorized(
            "missing or wrong API token: every request over TCP must send `Authorization: Bearer <token>`. \
             The token is CLAUDERON_API_TOKEN or daemon.api_token_file when set, else the file `api-token` in \
             the daemon's data dir (`clauderon config api-token` prints it); the CLI sends it by itself for a \
             loopback --url, or from CLAUDERON_API_TOKEN. The Unix socket needs no token; the web UI signs in \
             with it at /",
        ))
    }
}

impl Guard {
    pub fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Guard::Tcp(tcp) = self else { return Ok(()) };
        tcp.check_origin(headers)?;
        tcp.check_token(headers)
    }

    /// Only the origin rule: for the sign-in route, which takes the token in its body.
    pub fn check_origin(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Guard::Tcp(tcp) = self else { return Ok(()) };
        tcp.check_origin(headers)
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

/// The origin rule alone (the sign-in route).
pub async fn enforce_origin(State(guard): State<Guard>, req: Request, next: Next) -> Response {
    match guard.check_origin(req.headers()) {
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

    const TOKEN: &str = "0123456789abcdef0123";

    fn headers(pairs: &[(axum::http::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).unwrap_or_else(|e| panic!("{e}")));
        }
        h
    }

    fn guard(bind: &str) -> Guard {
        Guard::tcp(ApiToken::new(TOKEN), bind.parse().unwrap_or_else(|e| panic!("{e}")))
    }

    fn bearer() -> (axum::http::HeaderName, &'static str) {
        (AUTHORIZATION, "Bearer 0123456789abcdef0123")
    }

    #[test]
    fn loopback_without_the_token_is_refused() {
        let g = guard("127.0.0.1:3030");
        assert!(g.check(&headers(&[(HOST, "127.0.0.1:3030")])).is_err());
        assert!(g.check(&headers(&[(HOST, "127.0.0.1:3030"), (AUTHORIZATION, "Bearer wrong")])).is_err());
        let err = g.check(&headers(&[(HOST, "localhost:3030")])).err().map(|e| e.message).unwrap_or_default();
        assert!(!err.contains(TOKEN), "{err}");
        assert!(g.check(&headers(&[(HOST, "127.0.0.1:3030"), bearer()])).is_ok());
        assert!(g.check(&headers(&[bearer()])).is_ok(), "without an Origin the token alone decides");
    }

    #[test]
    fn only_the_daemons_own_origin_is_accepted() {
        let g = guard("127.0.0.1:3030");
        let with = |host: &str, origin: &str| headers(&[(HOST, host), (ORIGIN, origin), bearer()]);
        assert!(g.check(&with("127.0.0.1:3030", "http://127.0.0.1:3030")).is_ok());
        assert!(g.check(&with("localhost:3030", "http://LOCALHOST:3030")).is_ok());
        for (host, origin) in [
            ("127.0.0.1:3030", "http://127.0.0.1:5173"), // the agent's dev server
            ("127.0.0.1:3030", "http://localhost:3030"), // another origin, even if the same machine
            ("127.0.0.1:3030", "https://127.0.0.1:3030"),
            ("127.0.0.1:3030", "http://127.0.0.1:3030/"),
            ("127.0.0.1:3030", "null"),
            ("127.0.0.1:3030", "https://evil.com"),
            ("rebind.evil.com:3030", "http://rebind.evil.com:3030"), // DNS rebinding
            ("", "http://"),
        ] {
            assert!(g.check(&with(host, origin)).is_err(), "{host} / {origin}");
        }
        assert!(g.check(&headers(&[(ORIGIN, "http://127.0.0.1:3030"), bearer()])).is_err(), "no Host");
    }

    #[test]
    fn a_network_bind_accepts_its_own_address_as_origin() {
        let g = guard("192.168.1.5:3030");
        let with = |host: &str, origin: &str| headers(&[(HOST, host), (ORIGIN, origin), bearer()]);
        assert!(g.check(&with("192.168.1.5:3030", "http://192.168.1.5:3030")).is_ok());
        assert!(g.check(&with("192.168.1.6:3030", "http://192.168.1.6:3030")).is_err());
        assert!(g.check(&headers(&[(HOST, "192.168.1.5:3030")])).is_err(), "no token");
        let any = guard("0.0.0.0:3030");
        assert!(any.check(&with("10.0.0.7:3030", "http://10.0.0.7:3030")).is_ok());
        assert!(any.check(&with("10.0.0.7:3031", "http://10.0.0.7:3031")).is_err());
        assert!(any.check(&with("box.example:3030", "http://box.example:3030")).is_err());
    }

    /// The web UI's cookie counts only with the page key beside it (issue 13), and neither is
    /// the token.
    #[test]
    fn a_browser_needs_the_cookie_and_the_page_key() {
        let g = guard("127.0.0.1:3030");
        let Guard::Tcp(tcp) = &g else { panic!("a TCP guard") };
        let keys = tcp.web_keys().clone();
        assert_eq!(keys.cookie_name, "clauderon-3030");
        assert!(keys.cookie != TOKEN && keys.page_key != TOKEN && keys.cookie != keys.page_key);
        let cookie = format!("other=1; {}={}", keys.cookie_name, keys.cookie);
        let host = (HOST, "127.0.0.1:3030");
        let origin = (ORIGIN, "http://127.0.0.1:3030");
        let key = (axum::http::HeaderName::from_static(KEY_HEADER), keys.page_key.as_str());
        let protocol = format!("clauderon, {WS_KEY_PREFIX}{}", keys.page_key);
        let ws_key = (SEC_WEBSOCKET_PROTOCOL, protocol.as_str());
        assert!(g.check(&headers(&[host.clone(), (COOKIE, &cookie), key.clone()])).is_ok());
        assert!(
            g.check(&headers(&[host.clone(), origin.clone(), (COOKIE, &cookie), ws_key.clone()])).is_ok()
        );
        assert!(g.check(&headers(&[host.clone(), (COOKIE, &cookie)])).is_err(), "the cookie alone");
        assert!(g.check(&headers(&[host.clone(), key.clone()])).is_err(), "the key alone");
        let wrong = format!("{}={}0", keys.cookie_name, keys.cookie);
        assert!(g.check(&headers(&[host.clone(), (COOKIE, &wrong), key.clone()])).is_err());
        // Another port's cookie of the same value is another daemon's.
        let other_port = format!("clauderon-3031={}", keys.cookie);
        assert!(g.check(&headers(&[host.clone(), (COOKIE, &other_port), key.clone()])).is_err());
        // Both right, from a foreign origin: still refused.
        let foreign = (ORIGIN, "http://127.0.0.1:5173");
        assert!(g.check(&headers(&[host, foreign, (COOKIE, &cookie), key])).is_err());
        // Another token, other keys: rotating the token signs browsers out.
        let other = Guard::tcp(
            ApiToken::new("another-token-0123456789"),
            "127.0.0.1:3030".parse().unwrap_or_else(|e| panic!("{e}")),
        );
        let Guard::Tcp(other) = other else { panic!("a TCP guard") };
        assert_ne!(other.web_keys().cookie, keys.cookie);
    }

    #[test]
    fn socket_is_trusted() {
        assert!(Guard::Socket.check(&HeaderMap::new()).is_ok());
    }
}
