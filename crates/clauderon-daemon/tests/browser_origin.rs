//! Issue 11, item 5: a web page in the user's browser, served from another loopback origin (a
//! dev server a session started on another port), cannot drive the daemon's API — in real
//! Chromium, not a simulated client.
//!
//! The page (`tests/browser/cross_origin_attack.html`) comes from a tiny HTTP server of this
//! test on its own port. Its JavaScript opens the terminal and events WebSockets, reads the
//! session list and a session's environment, stops the session with a body-less no-cors POST
//! (no preflight), and creates sessions with a text/plain no-cors fetch and a form post. The
//! daemon must refuse every one: nothing opens, nothing is read, the session still runs, no
//! session appears, and nothing secret reaches the audit or the logs.
//!
//! Controls, so the test can fail: the same page opens a WebSocket to a plain echo server on a
//! third loopback port (Chromium really runs the page and reaches loopback across ports), every
//! attack is seen arriving at the daemon and answered, and the test process itself, with the
//! API token, gets through on the same endpoints with the same payloads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::{Html, Response};
use axum::routing::get;
use clauderon_testkit::browser::{self, PageRun};
use clauderon_testkit::daemon::test_config;
use clauderon_testkit::http::{Request as ApiRequest, unix};
use clauderon_testkit::{TestDaemon, TestRepo};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// A real credential the daemon holds: it must never reach the audit or the logs.
const SECRET: &str = "sk-ant-REAL-browser-7c3d9e";
const VICTIM: &str = "victim";

/// Everything the daemon logs while this test binary runs (nextest runs each test in its own
/// process; under `cargo test` the tests of this file share one subscriber).
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || LogSink(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buf
    })
    .clone()
}

struct LogSink(Arc<Mutex<Vec<u8>>>);

impl Write for LogSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// The attacker's dev server: one page.
async fn attacker_server() -> SocketAddr {
    let page = browser::page("cross_origin_attack.html");
    serve(Router::new().route("/attack.html", get(move || async move { Html(page) }))).await
}

/// A plain WebSocket echo server that takes any Origin: the control that the page's
/// WebSockets can reach another loopback port at all.
async fn echo_server() -> SocketAddr {
    async fn echo(ws: WebSocketUpgrade) -> Response {
        ws.on_upgrade(|mut socket: WebSocket| async move {
            while let Some(Ok(msg)) = socket.recv().await {
                if matches!(msg, Message::Text(_) | Message::Binary(_)) && socket.send(msg).await.is_err() {
                    break;
                }
            }
        })
    }
    serve(Router::new().route("/echo", get(echo))).await
}

async fn session_status(d: &TestDaemon, name: &str) -> Value {
    let reply = unix(d.socket(), ApiRequest::new("GET", &format!("/api/sessions/{name}"))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["session"]["status"].clone()
}

async fn session_names(d: &TestDaemon) -> Vec<String> {
    let reply = unix(d.socket(), ApiRequest::new("GET", "/api/sessions?view=all")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

/// The body the page's `create()` builds (`cross_origin_attack.html`), for the control.
fn create_body(repo: &TestRepo, name: &str) -> String {
    json!({"repo_path": repo.path(), "prompt": "pwned", "name": name, "access_mode": "read-write",
        "options": {"command": "echo pwned"}})
    .to_string()
}

fn context(run: &PageRun) -> String {
    format!(
        "page result: {:#}\nresponses: {:#}\nwebsockets: {:#}\nconsole: {:#}",
        run.result,
        Value::from(run.responses.clone()),
        Value::from(run.websockets.clone()),
        Value::from(run.console.clone())
    )
}

/// A WebSocket request with the API token, and an Origin when given.
fn ws_request(
    d: &TestDaemon,
    path: &str,
    origin: Option<&str>,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut req = d.ws_request(path);
    if let Some(origin) = origin {
        req.headers_mut().insert("origin", origin.parse().unwrap());
    }
    req
}

/// The URI of each request the daemon's guard refused, from its log lines
/// (`refused: ... uri=/path`).
fn refused_uris(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("refused"))
        .filter_map(|l| l.split(" uri=").nth(1))
        .map(|rest| rest.split_whitespace().next().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn a_page_on_another_loopback_port_cannot_drive_the_daemon() {
    browser::require_browser();
    let logs = logs();
    let env = HashMap::from([("ANTHROPIC_API_KEY".to_string(), SECRET.to_string())]);
    let d = TestDaemon::start_with(test_config(), env).await;
    let repo = TestRepo::new().unwrap();
    let body = json!({"repo_path": repo.path(), "prompt": "go", "name": VICTIM}).to_string();
    let reply = unix(d.socket(), ApiRequest::new("POST", "/api/sessions").json(body)).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(session_status(&d, VICTIM).await, "running");

    let page = attacker_server().await;
    let echo = echo_server().await;
    let api = d.http_addr();
    let url = url_for(page, api, echo, &repo);
    let run = browser::run_page(&url, Duration::from_secs(40)).await;
    let r = &run.result;
    let ctx = context(&run);

    // Controls: Chromium ran the page on its own origin, and a WebSocket to another loopback
    // port (the echo server) opened and echoed.
    assert_eq!(r["origin"], format!("http://{page}"), "{ctx}");
    assert_eq!(r["echo"]["opened"], true, "the control WebSocket did not open: {ctx}");
    assert_eq!(r["echo"]["received"], json!(["ping from the page"]), "{ctx}");

    // The attacks: no WebSocket opened, nothing read.
    for ws in ["terminal", "events"] {
        assert_eq!(r[ws]["opened"], false, "the {ws} WebSocket opened for a foreign page: {ctx}");
        assert_eq!(r[ws]["received"], json!([]), "the page read from the {ws} WebSocket: {ctx}");
    }
    for read in ["list", "env", "stop", "create_fetch"] {
        let body = r[read]["body"].as_str().unwrap_or("");
        assert!(body.is_empty(), "the page read the answer to `{read}`: {ctx}");
    }
    assert!(r["form"]["readable"].is_null(), "the page read the form post's answer: {ctx}");

    // The posts reached the daemon and were answered with a refusal (not left unsent by the
    // browser, which would prove nothing about the daemon). The page never sees the answers to
    // CORS-blocked GETs and refused WebSocket handshakes: the daemon's log shows those below.
    let daemon_url = format!("http://{api}");
    let answered = run.responses_from(&daemon_url);
    for (method, path) in
        [("POST", format!("/api/sessions/{VICTIM}/stop")), ("POST", "/api/sessions".to_string())]
    {
        let url = format!("{daemon_url}{path}");
        assert!(
            answered.iter().any(|(m, u, _)| m == method && *u == url),
            "the browser never got an answer to {method} {path}: {ctx}"
        );
    }
    for (method, url, status) in &answered {
        assert!(
            *status == 401 || *status == 403,
            "{method} {url} from a foreign page got {status}, not a refusal: {ctx}"
        );
    }
    let ws_prefix = format!("ws://{api}/");
    let sockets: Vec<&Value> = run
        .websockets
        .iter()
        .filter(|w| w["url"].as_str().is_some_and(|u| u.starts_with(&ws_prefix)))
        .collect();
    assert_eq!(sockets.len(), 2, "the page tried two WebSockets on the daemon: {ctx}");
    for ws in sockets {
        assert_ne!(ws["status"], 101, "a daemon WebSocket was accepted: {ctx}");
    }

    // What the daemon says, over its Unix socket: the session still runs, none was created.
    assert_eq!(session_status(&d, VICTIM).await, "running", "a foreign page stopped the session: {ctx}");
    assert_eq!(session_names(&d).await, vec![VICTIM.to_string()], "a foreign page created a session: {ctx}");

    // The daemon's log shows each attack arriving and refused (a CORS-blocked GET never shows
    // its answer to the page, and a refused WebSocket handshake may not either).
    let log = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    let refused = refused_uris(&log);
    for (path, times) in [
        (format!("/ws/sessions/{VICTIM}/terminal"), 1),
        ("/ws/events".to_string(), 1),
        (format!("/api/sessions/{VICTIM}/env"), 1),
        (format!("/api/sessions/{VICTIM}/stop"), 1),
        // the list, the text/plain fetch and the form post
        ("/api/sessions".to_string(), 3),
    ] {
        let seen = refused.iter().filter(|u| **u == path).count();
        assert!(seen >= times, "{seen} refusals of {path} in the daemon's log, expected {times}:\n{log}");
    }
    // Nothing secret in the log or the audit: not the credential the daemon holds, not the
    // API token.
    let audit = unix(d.socket(), ApiRequest::new("GET", "/api/requests")).await;
    assert_eq!(audit.status, 200, "{}", audit.body);
    for secret in [SECRET, d.api_token()] {
        assert!(!log.contains(secret), "a secret is in the daemon's log");
        assert!(!audit.body.contains(secret), "a secret is in the audit");
    }

    // The control for the daemon's side: the test process, with the token, gets through on the
    // same endpoints with the same payloads (and the daemon's own origin is welcome).
    let list = d.tcp(ApiRequest::new("GET", "/api/sessions")).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains(VICTIM), "{}", list.body);
    let (mut events, _) = tokio_tungstenite::connect_async(ws_request(&d, "/ws/events", None)).await.unwrap();
    let _ = events.close(None).await;
    let own = format!("http://{api}");
    let terminal = ws_request(&d, &format!("/ws/sessions/{VICTIM}/terminal"), Some(&own));
    let (mut terminal, _) = tokio_tungstenite::connect_async(terminal).await.unwrap();
    let first =
        tokio::time::timeout(Duration::from_secs(10), terminal.next()).await.unwrap().unwrap().unwrap();
    assert!(first.to_text().unwrap().contains("command"), "{first:?}");
    let create = d.tcp(ApiRequest::new("POST", "/api/sessions").json(create_body(&repo, "control"))).await;
    // (The page had to send it as text/plain, which the daemon would also refuse, with a 415:
    // a second wall this test does not lean on, the Origin refusal comes first.)
    assert_eq!(create.status, 201, "the page's create body, as JSON with the token: {}", create.body);
    let stop = d.tcp(ApiRequest::new("POST", &format!("/api/sessions/{VICTIM}/stop"))).await;
    assert_eq!(stop.status, 200, "{}", stop.body);
    assert_eq!(session_status(&d, VICTIM).await, "stopped");
    let mut names = session_names(&d).await;
    names.sort();
    assert_eq!(names, vec!["control".to_string(), VICTIM.to_string()]);

    // With the token, the attacker page's origin is still refused: the origin rule stands on
    // its own.
    let foreign = ws_request(&d, "/ws/events", Some(&format!("http://{page}")));
    match tokio_tungstenite::connect_async(foreign).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(reply)) => assert_eq!(reply.status(), 403),
        Err(other) => panic!("expected a 403 for the foreign origin, got {other}"),
        Ok(_) => panic!("the foreign origin got a WebSocket with the token"),
    }
}

fn url_for(page: SocketAddr, api: SocketAddr, echo: SocketAddr, repo: &TestRepo) -> String {
    let repo_path = repo.path().to_str().unwrap();
    let mut url = format!("http://{page}/attack.html?");
    let params = [
        ("api", api.to_string()),
        ("session", VICTIM.to_string()),
        ("repo", repo_path.to_string()),
        ("echo", format!("ws://{echo}/echo")),
    ];
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            url.push('&');
        }
        url.push_str(k);
        url.push('=');
        url.push_str(&percent_encode(v));
    }
    url
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
