//! Issue 11, items 3 and 5: a process on this machine that is not the user (a session's agent,
//! a page its dev server serves) cannot act on the daemon's TCP API, loopback or not.
//!
//! Each refusal is next to the same request with the token (and the daemon's own origin)
//! succeeding, so a test fails if the route is broken rather than guarded, and each checks
//! through the Unix socket that the refused request changed nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use clauderon_testkit::http::{Reply, Request, tcp, unix, ws_request};
use clauderon_testkit::{TestDaemon, TestRepo};
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::handshake::client::Request as WsRequest;

async fn create(d: &TestDaemon, repo: &TestRepo, name: &str) {
    let body = json!({"repo_path": repo.path(), "prompt": "go", "name": name}).to_string();
    let reply = unix(d.socket(), Request::new("POST", "/api/sessions").json(body)).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
}

/// The session as the user sees it, through the socket.
async fn session(d: &TestDaemon, name: &str) -> Value {
    let reply = unix(d.socket(), Request::new("GET", &format!("/api/sessions/{name}"))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["session"].clone()
}

async fn names(d: &TestDaemon) -> Vec<String> {
    let list = unix(d.socket(), Request::new("GET", "/api/sessions?view=all")).await.json();
    list["sessions"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_string()).collect()
}

/// A request the way an attacker on loopback sends it: no token, or `token`.
fn attack<'a>(method: &'a str, path: &'a str, body: Option<&Value>, token: Option<&str>) -> Request<'a> {
    let mut req = Request::new(method, path);
    if let Some(body) = body {
        req = req.json(body.to_string());
    }
    match token {
        Some(t) => req.bearer(t),
        None => req,
    }
}

/// Without a token and with a wrong one: 401, and the message says how to send one without
/// ever holding the token.
async fn refused_without_the_token(d: &TestDaemon, method: &str, path: &str, body: Option<&Value>) {
    for token in [None, Some("not-the-token-0123456789")] {
        let reply: Reply = tcp(d.http_addr(), attack(method, path, body, token)).await;
        assert_eq!(reply.status, 401, "{method} {path} with {token:?}: {}", reply.body);
        assert!(reply.body.contains("Authorization: Bearer"), "{}", reply.body);
        assert!(!reply.body.contains(d.api_token()), "the token is in a refusal: {}", reply.body);
    }
}

/// The handshake's HTTP status: 101 when the WebSocket opened.
async fn ws_status(request: WsRequest) -> u16 {
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("the WebSocket handshake failed without an answer: {e}"),
    }
}

#[tokio::test]
async fn every_tcp_route_needs_the_token_even_from_loopback() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    create(&d, &repo, "victim").await;

    // No exemption, not even health: a session must never get a 2xx.
    refused_without_the_token(&d, "GET", "/api/health", None).await;
    assert_eq!(d.tcp(Request::new("GET", "/api/health")).await.status, 200);

    refused_without_the_token(&d, "GET", "/api/sessions", None).await;
    let listed = d.tcp(Request::new("GET", "/api/sessions")).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.json()["sessions"][0]["name"], "victim");

    // Create an unsandboxed session on the host: refused, nothing made; with the token it is.
    let body = json!({"repo_path": repo.path(), "prompt": "x", "name": "escaped"});
    refused_without_the_token(&d, "POST", "/api/sessions", Some(&body)).await;
    assert_eq!(names(&d).await, ["victim"], "a refused create made a session");
    let made = d.tcp(Request::new("POST", "/api/sessions").json(body.to_string())).await;
    assert_eq!(made.status, 201, "{}", made.body);

    // Switch itself to read-write.
    let rw = json!({"mode": "read-write"});
    refused_without_the_token(&d, "PUT", "/api/sessions/victim/access-mode", Some(&rw)).await;
    assert_eq!(session(&d, "victim").await["access_mode"], "read-only");
    let switched = d.tcp(Request::new("PUT", "/api/sessions/victim/access-mode").json(rw.to_string())).await;
    assert_eq!(switched.status, 200, "{}", switched.body);
    assert_eq!(session(&d, "victim").await["access_mode"], "read-write");

    // Body-less POSTs (no preflight in a browser): stop and start.
    refused_without_the_token(&d, "POST", "/api/sessions/victim/stop", None).await;
    assert_eq!(session(&d, "victim").await["status"], "running");
    assert_eq!(d.tcp(Request::new("POST", "/api/sessions/victim/stop")).await.status, 200);
    assert_eq!(session(&d, "victim").await["status"], "stopped");
    refused_without_the_token(&d, "POST", "/api/sessions/victim/start", None).await;
    assert_eq!(session(&d, "victim").await["status"], "stopped");
    assert_eq!(d.tcp(Request::new("POST", "/api/sessions/victim/start")).await.status, 200);
    assert_eq!(session(&d, "victim").await["status"], "running");

    // The socket stays the trusted path: no token there.
    assert_eq!(unix(d.socket(), Request::new("GET", "/api/sessions")).await.status, 200);
    d.stop().await;
}

#[tokio::test]
async fn both_websockets_need_the_token() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    create(&d, &repo, "victim").await;
    let addr = d.http_addr();
    for path in ["/ws/events", "/ws/sessions/victim/terminal"] {
        assert_eq!(ws_status(ws_request(addr, path, None)).await, 401, "{path} without a token");
        assert_eq!(ws_status(ws_request(addr, path, Some("not-the-token-0123456789"))).await, 401, "{path}");
        assert_eq!(ws_status(d.ws_request(path)).await, 101, "{path} with the token");
    }
    d.stop().await;
}

/// A page the agent serves on another loopback port (its dev server) is another origin: with
/// the token (say it were leaked to the page) it still gets a 403 on a body-less POST and on
/// the terminal WebSocket; the daemon's own origin is accepted.
#[tokio::test]
async fn another_loopback_origin_is_refused_even_with_the_token() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    create(&d, &repo, "victim").await;
    let addr = d.http_addr();
    let own = format!("http://{addr}");
    let dev_server = format!("http://127.0.0.1:{}", addr.port().wrapping_add(1).max(1));
    for foreign in [dev_server.as_str(), "http://localhost:5173", "null", "https://evil.example"] {
        let stop = d.tcp(Request::new("POST", "/api/sessions/victim/stop").header("origin", foreign)).await;
        assert_eq!(stop.status, 403, "{foreign}: {}", stop.body);
        assert!(stop.body.contains("cross-origin"), "{}", stop.body);
        assert_eq!(session(&d, "victim").await["status"], "running", "a refused stop stopped it");

        let mut ws = d.ws_request("/ws/sessions/victim/terminal");
        ws.headers_mut().insert("origin", foreign.parse().unwrap());
        assert_eq!(ws_status(ws).await, 403, "terminal WebSocket from {foreign}");
    }

    let mut ws = d.ws_request("/ws/sessions/victim/terminal");
    ws.headers_mut().insert("origin", own.parse().unwrap());
    assert_eq!(ws_status(ws).await, 101, "the daemon's own origin");
    let stop = d.tcp(Request::new("POST", "/api/sessions/victim/stop").header("origin", own.as_str())).await;
    assert_eq!(stop.status, 200, "{}", stop.body);
    assert_eq!(session(&d, "victim").await["status"], "stopped");
    // The own origin does not replace the token.
    let bare =
        tcp(addr, Request::new("POST", "/api/sessions/victim/start").header("origin", own.as_str())).await;
    assert_eq!(bare.status, 401, "{}", bare.body);
    d.stop().await;
}

#[tokio::test]
async fn the_generated_token_file_is_private_and_kept_across_restarts() {
    let mut d = TestDaemon::start().await;
    let file = d.layout().api_token();
    let on_disk = std::fs::read_to_string(&file).unwrap();
    assert_eq!(on_disk.trim(), d.api_token(), "the daemon checks another token than the file's");
    assert!(d.api_token().len() >= 32, "a short token: {}", d.api_token().len());
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{file:?} is mode {mode:o}");
    let before = d.api_token().to_string();

    d.restart().await;
    assert_eq!(d.api_token(), before, "a restart made a new token");
    let reply = tcp(d.http_addr(), Request::new("GET", "/api/sessions").bearer(&before)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    // A token made readable by others is refused at start rather than used.
    d.stop().await;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let refused = clauderon_daemon::launch(clauderon_daemon::LaunchOptions {
        credential_env: Some(Default::default()),
        ..clauderon_daemon::LaunchOptions::new(d.layout(), clauderon_testkit::daemon::test_config())
    })
    .await;
    let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("chmod 600"), "{message}");
    assert!(!message.contains(&before), "the token is in an error: {message}");
}

/// A token the user chose (CLAUDERON_API_TOKEN, daemon.api_token_file) is the one checked, and no
/// other is generated beside it.
#[tokio::test]
async fn a_configured_token_replaces_the_generated_one() {
    let mut config = clauderon_testkit::daemon::test_config();
    config.daemon.api_token =
        Some(clauderon_core::config::parse_api_token("a-token-the-user-chose-42", "test").unwrap());
    let mut d = TestDaemon::start_with(config, Default::default()).await;
    assert_eq!(d.api_token(), "a-token-the-user-chose-42");
    assert!(!d.layout().api_token().exists(), "a token was generated beside the configured one");
    assert_eq!(d.tcp(Request::new("GET", "/api/sessions")).await.status, 200);
    refused_without_the_token(&d, "GET", "/api/sessions", None).await;
    d.stop().await;
}
