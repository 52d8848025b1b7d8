//! Issue 13: the web UI the daemon serves at `/`, in real Chromium (Debian's, driven by
//! playwright-core through `tests/browser/drive.mjs`), against a real in-process daemon with
//! the test kit's fake backend (the sessions' processes are fake; the API, the event stream,
//! the store, the worktrees and the browser are real).
//!
//! - Sign-in with the token; sessions created, stopped and restarted through the API after the
//!   page loaded show up and change live; a session page's details, access-mode toggle, refused
//!   delete (with the API's sentence) and delete.
//! - What a session writes in its chat is text: planted markup never runs.
//! - Without the cookie *and* the page key, every `/api` and `/ws` route refuses (401) while
//!   `/` serves the shell; the cookie a page on another loopback port receives (browsers share
//!   cookies across ports) is useless there and from anywhere else.
//! - The Proxy tab follows the session's audit live (a request made through the proxy with the
//!   session's identity appears, a refusal with its reason) and its usage; a path carrying
//!   markup is text.
//! - The daemon going away shows "reconnecting…"; back on the same port, the page recovers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::Router;
use axum::http::HeaderMap;
use axum::response::Html;
use axum::routing::get;
use clauderon_testkit::browser::Driver;
use clauderon_testkit::http::{Request as ApiRequest, unix};
use clauderon_testkit::{TestDaemon, TestRepo};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const STEP: Duration = Duration::from_secs(15);

async fn create(d: &TestDaemon, repo: &TestRepo, name: &str) {
    let body = json!({"repo_path": repo.path(), "prompt": "go", "name": name, "agent": "claude"}).to_string();
    let reply = unix(d.socket(), ApiRequest::new("POST", "/api/sessions").json(body)).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
}

async fn post(d: &TestDaemon, path: &str) {
    let reply = unix(d.socket(), ApiRequest::new("POST", path)).await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.body);
}

async fn session(d: &TestDaemon, name: &str) -> (u16, Value) {
    let reply = unix(d.socket(), ApiRequest::new("GET", &format!("/api/sessions/{name}"))).await;
    (reply.status, serde_json::from_str(&reply.body).unwrap_or(Value::Null))
}

/// Loads the UI and signs in with the daemon's token (a wrong one first: refused, said so).
async fn sign_in(b: &mut Driver, d: &TestDaemon) {
    b.goto(&d.base_url()).await;
    b.wait_for("form.signin", None).await;
    b.fill("#token", "not-the-token").await;
    b.click("form.signin button[type=submit]").await;
    b.wait_for("form.signin [role=alert]", Some("not this daemon's API token")).await;
    b.sign_in(&d.base_url(), d.api_token()).await;
    b.wait_for("[data-testid=connection]", Some("live")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_signs_in_follows_sessions_live_and_controls_them() {
    let d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    let mut b = Driver::open(STEP).await;
    sign_in(&mut b, &d).await;
    b.wait_for("[data-testid=empty]", Some("No sessions yet")).await;

    // The token is nowhere the page can read: not in a cookie it sees, its storage or its URL.
    let visible = b
        .eval("JSON.stringify({cookie: document.cookie, local: {...localStorage}, session: {...sessionStorage}, url: location.href})")
        .await;
    let visible = visible.as_str().unwrap();
    assert!(!visible.contains(d.api_token()), "the token is readable by the page: {visible}");
    assert!(visible.contains("\"cookie\":\"\""), "the cookie is not HttpOnly: {visible}");

    // Created after the page loaded: it appears without a reload, and follows stop and start.
    create(&d, &repo, "live-one").await;
    b.wait_for("li[data-session='live-one'][data-status='running']", None).await;
    assert!(b.text("li[data-session='live-one']").await.contains(&repo.path().display().to_string()));
    // Its spending so far (none yet: the fake backend runs no agent).
    assert_eq!(b.text("li[data-session='live-one'] [data-field=cost]").await.trim(), "$0.00");
    post(&d, "/api/sessions/live-one/stop").await;
    b.wait_for("li[data-session='live-one'][data-status='stopped']", None).await;
    post(&d, "/api/sessions/live-one/start").await;
    b.wait_for("li[data-session='live-one'][data-status='running']", None).await;
    assert!(b.text("li[data-session='live-one']").await.contains("working"));

    // At phone size (390×844): no horizontal scroll, and every control is a 44 px target.
    b.viewport(390, 844).await;
    b.assert_fits_a_phone().await;
    b.viewport(1280, 800).await;

    // Keyboard: `/` focuses the search; a search that matches nothing empties the list.
    b.press("/").await;
    assert_eq!(b.eval("document.activeElement && document.activeElement.type").await, "search");
    b.fill("input[type=search]", "no-such-thing").await;
    b.wait_for("[data-testid=empty]", Some("No session matches")).await;
    b.fill("input[type=search]", "live").await;

    // The session page: details, then the controls.
    b.click("li[data-session='live-one'] a").await;
    b.wait_for("h1", Some("live-one")).await;
    b.click_text("[role=tab]", "details").await;
    b.wait_for("dd", Some("clauderon/live-one")).await;
    b.click_text("[role=tab]", "controls").await;
    b.viewport(390, 844).await;
    b.assert_fits_a_phone().await;
    b.viewport(1280, 800).await;
    b.click_text("button", "Make it read-write").await;
    b.wait_for("[data-testid=access-mode]", Some("read-write")).await;
    let (_, api) = session(&d, "live-one").await;
    assert_eq!(api["session"]["access_mode"], "read-write", "{api}");

    // A refused delete shows the API's own sentence; the session stays.
    let worktree = api["session"]["worktree_path"].as_str().unwrap().to_string();
    std::fs::write(std::path::Path::new(&worktree).join("README.md"), "changed\n").unwrap();
    b.click_text("button", "Delete…").await;
    b.click_text("button", "for good").await;
    b.wait_for("[data-control=delete]", Some("uncommitted work")).await;
    assert_eq!(session(&d, "live-one").await.0, 200);
    // Forced, with its branch: gone from the API and from the list, live.
    b.click_text("label", "Force").await;
    b.click_text("label", "Delete its branch").await;
    b.click_text("button", "for good").await;
    b.wait_for("h1", Some("Sessions")).await;
    b.wait_gone("li[data-session='live-one']").await;
    assert_eq!(session(&d, "live-one").await.0, 404);
    assert!(!repo.branches().unwrap().iter().any(|br| br.contains("live-one")));

    // An unknown session's URL says so and links home.
    b.goto(&format!("{}/sessions/nobody-here", d.base_url())).await;
    b.wait_for("[data-testid=missing]", Some("No session named")).await;
    b.click_text("a", "Back to the sessions").await;
    b.wait_for("h1", Some("Sessions")).await;

    // Sign-out: the cookie is cleared and the sign-in page is back.
    b.click_text("button", "Sign out").await;
    b.wait_for("form.signin", None).await;
    let status = b.eval("fetch('/api/sessions').then(r => r.status)").await;
    assert_eq!(status, 401);
    b.close().await;
}

/// Controls: a host allowed, a budget set and notifications muted from the page reach the session
/// at once; bad input is refused beside its box, in the API's words or the page's own, and
/// changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controls_allow_a_host_and_set_a_budget() {
    let d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    create(&d, &repo, "limits").await;
    let mut b = Driver::open(STEP).await;
    sign_in(&mut b, &d).await;
    b.goto(&format!("{}/sessions/limits", d.base_url())).await;
    b.click_text("[role=tab]", "controls").await;
    b.wait_for("[data-testid=allowed-hosts]", Some("Only the configured allowlist")).await;
    b.wait_for("[data-testid=budget-now]", Some("No budget")).await;

    b.fill("#allow-host", "not a host!").await;
    b.click_text("button", "Allow").await;
    b.wait_for("[data-control=hosts]", None).await;
    assert_eq!(session(&d, "limits").await.1["session"]["options"]["allow_hosts"], Value::Null);
    b.fill("#allow-host", "*.docs.example.com").await;
    b.click_text("button", "Allow").await;
    b.wait_for("[data-testid=allowed-hosts]", Some("*.docs.example.com")).await;
    let (_, api) = session(&d, "limits").await;
    assert_eq!(api["session"]["options"]["allow_hosts"], json!(["*.docs.example.com"]), "{api}");

    b.fill("#budget-usd", "2.505").await;
    b.click_text("button", "Set budget").await;
    b.wait_for("[data-control=budget]", Some("dollars like 2.50")).await;
    assert_eq!(session(&d, "limits").await.1["session"]["options"]["budget_usd_cents"], Value::Null);
    b.fill("#budget-usd", "$2.50").await;
    b.fill("#budget-tokens", "200000").await;
    b.click_text("button", "Set budget").await;
    b.wait_for("[data-testid=budget-now]", Some("$2.50 or 200,000 tokens")).await;
    let (_, api) = session(&d, "limits").await;
    let o = &api["session"]["options"];
    assert_eq!(
        (o["budget_usd_cents"].as_i64(), o["budget_tokens"].as_i64()),
        (Some(250), Some(200_000)),
        "{api}"
    );

    // Push notifications for this session: muted from the page, as the API then says.
    b.wait_for("[data-testid=push-mute]", Some("on for this session")).await;
    b.click_text("button", "Mute notifications").await;
    b.wait_for("[data-testid=push-mute]", Some("Muted")).await;
    let mute = unix(d.socket(), ApiRequest::new("GET", "/api/sessions/limits/push-mute")).await;
    assert_eq!(mute.json()["muted"], true, "{}", mute.body);
    b.viewport(390, 844).await;
    b.assert_fits_a_phone().await;
    b.close().await;
}

/// Lines in Claude Code's transcript shape whose text is markup meant to run.
const PLANTED_IMG: &str = "<img src=x onerror=window.__pwned=1>";
const PLANTED_SCRIPT: &str = "</script><script>window.__pwned=2</script>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_in_a_sessions_chat_is_shown_as_text_and_never_runs() {
    let d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    create(&d, &repo, "planted").await;
    let dir = d.layout().session_home("planted").join(".claude/projects/-workspace");
    std::fs::create_dir_all(&dir).unwrap();
    let line = |role: &str, content: Value| {
        json!({"type": role, "message": {"role": role, "content": content}, "timestamp": "2026-12-01T08:00:00.000Z"})
            .to_string()
    };
    let transcript = [
        line("user", json!(PLANTED_IMG)),
        line(
            "assistant",
            json!([{"type": "text", "text": PLANTED_SCRIPT},
                   {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": PLANTED_IMG}}]),
        ),
    ]
    .join("\n");
    std::fs::write(dir.join("5d7c3a8e-1f2b-4c6d-9e0a-3b4c5d6e7f80.jsonl"), format!("{transcript}\n"))
        .unwrap();

    let mut b = Driver::open(STEP).await;
    sign_in(&mut b, &d).await;
    b.goto(&format!("{}/sessions/planted", d.base_url())).await;
    b.wait_for(".msg-user .text", Some(PLANTED_IMG)).await;
    b.wait_for(".msg-assistant .text", Some(PLANTED_SCRIPT)).await;
    // The tool call is one collapsed line that still shows its command as text.
    b.wait_for(".tool summary", Some(PLANTED_IMG)).await;
    assert_eq!(b.eval("document.querySelector('.tool').open").await, false);
    // Nothing ran, and no element came out of the text.
    assert_eq!(b.eval("typeof window.__pwned").await, "undefined");
    assert_eq!(b.count("main img").await, 0);
    assert_eq!(b.count("main script").await, 0);
    // The follow-up box reaches the session (the fake backend records what it was typed).
    b.fill("#follow-up", "now run the tests").await;
    b.click_text("button", "Send").await;
    b.wait_gone("form.send [role=alert]").await;
    let typed = tokio::time::timeout(STEP, async {
        loop {
            let typed = d.fake.typed("planted");
            if !typed.is_empty() {
                return typed;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(typed, vec!["now run the tests".to_string()]);
    assert_eq!(b.eval("typeof window.__pwned").await, "undefined");
    b.close().await;
}

/// Every `/api` path of the OpenAPI document with its methods, `{name}` filled in.
fn api_routes() -> Vec<(String, String)> {
    use utoipa::OpenApi;
    let doc = serde_json::to_value(clauderon_daemon::openapi::ApiDoc::openapi()).unwrap();
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            routes.push((method.to_uppercase(), path.replace("{name}", "victim")));
        }
    }
    routes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_cookie_and_key_every_data_route_refuses_while_the_shell_is_served() {
    let d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    create(&d, &repo, "victim").await;
    let addr = d.http_addr();
    let own = format!("http://{addr}");
    let sign_in = |origin: Option<&str>, token: &str| {
        let mut req = ApiRequest::new("POST", "/auth/session").json(json!({"token": token}).to_string());
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req
    };

    // The shell and its files, without anything: HTML with the policy, hashed assets cached.
    let shell = clauderon_testkit::http::tcp(addr, ApiRequest::new("GET", "/")).await;
    assert_eq!(shell.status, 200, "{}", shell.body);
    assert!(shell.body.contains("<div id=\"root\">"), "{}", shell.body);
    let csp = shell.header("content-security-policy").unwrap_or_default();
    let script_src = csp.split(';').find(|d| d.trim().starts_with("script-src")).unwrap_or_default();
    assert_eq!(script_src.trim(), "script-src 'self'", "{csp}");
    assert!(!csp.contains("unsafe-eval") && csp.contains("default-src 'self'"), "{csp}");
    assert_eq!(shell.header("cache-control").as_deref(), Some("no-cache"));
    let asset = shell.body.split("src=\"").nth(1).and_then(|s| s.split('"').next()).unwrap().to_string();
    assert!(asset.starts_with("/assets/"), "{asset}");
    let js = clauderon_testkit::http::tcp(addr, ApiRequest::new("GET", &asset)).await;
    assert_eq!(js.status, 200);
    assert!(js.header("cache-control").unwrap_or_default().contains("immutable"));
    let deep = clauderon_testkit::http::tcp(addr, ApiRequest::new("GET", "/sessions/victim")).await;
    assert_eq!((deep.status, deep.body == shell.body), (200, true), "the app's routes get the shell");
    let missing = clauderon_testkit::http::tcp(addr, ApiRequest::new("GET", "/assets/nope.js")).await;
    assert_eq!(missing.status, 404);

    // Signing in: the token only, from no foreign origin.
    let wrong = clauderon_testkit::http::tcp(addr, sign_in(Some(&own), "wrong")).await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    let foreign =
        clauderon_testkit::http::tcp(addr, sign_in(Some("http://127.0.0.1:1"), d.api_token())).await;
    assert_eq!(foreign.status, 403, "{}", foreign.body);
    let ok = clauderon_testkit::http::tcp(addr, sign_in(Some(&own), d.api_token())).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let set_cookie = ok.header("set-cookie").unwrap();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(part), "{set_cookie}");
    }
    assert!(
        !set_cookie.contains(d.api_token()) && !ok.body.contains(d.api_token()),
        "the token itself went out"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let key: Value = serde_json::from_str(&ok.body).unwrap();
    let key = key["page_key"].as_str().unwrap().to_string();

    // Every API route, and both WebSockets: 401 with nothing, with the cookie alone, with the
    // key alone; the cookie and the key together pass the guard.
    let mut routes = api_routes();
    assert!(routes.len() >= 20, "{routes:?}");
    routes.push(("GET".into(), "/api/no-such-route".into()));
    routes.push(("GET".into(), "/ws/events".into()));
    routes.push(("GET".into(), "/ws/sessions/victim/terminal".into()));
    for (method, path) in &routes {
        for (label, cookie, key) in
            [("nothing", None, None), ("cookie only", Some(&cookie), None), ("key only", None, Some(&key))]
        {
            let mut req = ApiRequest::new(method, path);
            if let Some(c) = cookie {
                req = req.header("cookie", c);
            }
            if let Some(k) = key {
                req = req.header("x-clauderon-key", k);
            }
            let reply = clauderon_testkit::http::tcp(addr, req).await;
            assert_eq!(reply.status, 401, "{method} {path} with {label}: {}", reply.body);
        }
    }
    let both =
        ApiRequest::new("GET", "/api/sessions").header("cookie", &cookie).header("x-clauderon-key", &key);
    let both = clauderon_testkit::http::tcp(addr, both).await;
    assert_eq!(both.status, 200, "{}", both.body);
    assert!(both.body.contains("victim"));
    // The WebSocket carries the key as a subprotocol, and gets `clauderon` back.
    let mut ws = clauderon_testkit::http::ws_request(addr, "/ws/events", None);
    let headers = ws.headers_mut();
    headers.insert("cookie", cookie.parse().unwrap());
    headers.insert("origin", own.parse().unwrap());
    headers.insert("sec-websocket-protocol", format!("clauderon, clauderon-key.{key}").parse().unwrap());
    let (mut socket, reply) = tokio_tungstenite::connect_async(ws).await.unwrap();
    assert_eq!(reply.headers().get("sec-websocket-protocol").unwrap(), "clauderon");
    let _ = socket.close(None).await;
    // Still a wrong origin with both: refused.
    let foreign = ApiRequest::new("POST", "/api/sessions/victim/stop")
        .header("cookie", &cookie)
        .header("x-clauderon-key", &key)
        .header("origin", "http://127.0.0.1:1");
    assert_eq!(clauderon_testkit::http::tcp(addr, foreign).await.status, 403);
    assert_eq!(session(&d, "victim").await.1["session"]["status"], "running");
}

/// The page an agent could serve on another loopback port, and the Cookie headers its server
/// received.
async fn other_port_server(daemon: SocketAddr) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let page = format!(
        r#"<!doctype html><title>dev server</title><script>
        window.attack = (async () => {{
          const out = {{}};
          try {{
            const r = await fetch('http://{daemon}/api/sessions', {{credentials: 'include'}});
            out.list = await r.text();
          }} catch (e) {{ out.list_error = String(e); }}
          out.ws = await new Promise((resolve) => {{
            const ws = new WebSocket('ws://{daemon}/ws/events', ['clauderon']);
            ws.onopen = () => resolve('opened');
            ws.onerror = () => resolve('refused');
            setTimeout(() => resolve('timeout'), 5000);
          }});
          return out;
        }})();
        </script>"#
    );
    let app = Router::new().route(
        "/",
        get(move |headers: HeaderMap| {
            let page = page.clone();
            let record = record.clone();
            async move {
                if let Some(c) = headers.get("cookie").and_then(|v| v.to_str().ok()) {
                    record.lock().unwrap().push(c.to_string());
                }
                Html(page)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_another_loopback_port_gets_nothing_from_a_signed_in_browser() {
    let d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    create(&d, &repo, "victim").await;
    let (other, seen) = other_port_server(d.http_addr()).await;
    let mut b = Driver::open(STEP).await;
    sign_in(&mut b, &d).await;

    b.goto(&format!("http://{other}/")).await;
    let result = b.eval("window.attack").await;
    // The page read nothing, and no WebSocket opened.
    assert!(result.get("list").is_none(), "the other port's page read the API: {result}");
    assert_eq!(result["ws"], "refused", "{result}");

    // Browsers send a host's cookies to all its ports: the other server got the cookie...
    let cookies = seen.lock().unwrap().clone();
    let leaked =
        cookies.iter().flat_map(|c| c.split("; ")).find(|c| c.starts_with("clauderon-")).map(str::to_string);
    let leaked = leaked
        .unwrap_or_else(|| panic!("the control failed: no cookie reached the other port ({cookies:?})"));
    // ...and it is worth nothing without the page key, even replayed with our own origin.
    let addr = d.http_addr();
    let replay =
        ApiRequest::new("GET", "/api/sessions").header("cookie", &leaked).header("origin", d.base_url());
    let replay = clauderon_testkit::http::tcp(addr, replay).await;
    assert_eq!(replay.status, 401, "{}", replay.body);
    let stop = ApiRequest::new("POST", "/api/sessions/victim/stop").header("cookie", &leaked);
    assert_eq!(clauderon_testkit::http::tcp(addr, stop).await.status, 401);
    assert_eq!(session(&d, "victim").await.1["session"]["status"], "running");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_says_reconnecting_while_the_daemon_is_away_and_recovers_by_itself() {
    let mut d = TestDaemon::start().await;
    // The same port after the restart, as a real daemon's configured one.
    d.config.daemon.bind = d.http_addr();
    let repo = TestRepo::new().unwrap();
    let mut b = Driver::open(STEP).await;
    sign_in(&mut b, &d).await;

    d.stop().await;
    b.wait_for("[data-testid=connection]", Some("reconnecting…")).await;
    d.restart().await;
    b.wait_for("[data-testid=connection]", Some("live")).await;
    // The feed really is back (the derived cookie and key outlive the restart): a session
    // created now shows up without a reload.
    create(&d, &repo, "after-restart").await;
    b.wait_for("li[data-session='after-restart']", None).await;
    assert_eq!(b.text("h1").await, "Sessions");
    b.close().await;
}

/// A request through the proxy with the `agent` session's identity, as its agent would make
/// it (curl, the test kit's TLS upstream behind the real host names). Returns curl's output.
async fn through_proxy(fx: &common::ProxyFixture, method: &str, url: &str, body: Option<&str>) -> String {
    let mut cmd = common::curl();
    cmd.args(["-sS", "--path-as-is", "-X", method, "--proxy", &fx.proxy_url(), "--cacert"])
        .arg(fx.d.ca_cert())
        .args(["-H", "content-type: application/json", "-H", "x-api-key: placeholder"]);
    if let Some(b) = body {
        cmd.args(["-d", b]);
    }
    cmd.arg(url);
    let out = common::run(cmd).await;
    assert!(out.status.success(), "curl {url}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Markup a session can put in a request's path. The proxy's HTTP parsers refuse a raw `<`
/// (and quotes) in a request target, so the payload travels percent-encoded; the page must show
/// it exactly as the audit holds it, as text.
const PATH_IMG: &str = "/repos/o/r/%3Cimg%20src=x%20onerror=window.__pwned=1%3E";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_tab_follows_the_audit_live_and_shows_paths_as_text() {
    let fx = common::fixture().await;
    let d = &fx.d;
    let mut b = Driver::open(STEP).await;
    sign_in(&mut b, d).await;
    b.goto(&format!("{}/sessions/agent", d.base_url())).await;
    b.click_text("[role=tab]", "proxy").await;
    b.wait_for("[data-testid=no-requests]", None).await;
    b.wait_for("[data-testid=budget]", Some("No budget set")).await;

    // Made after the tab opened: the rows appear without a reload, with the credential named.
    fx.up.set_model_reply(clauderon_testkit::ModelReply {
        text: "metered".into(),
        input_tokens: 1200,
        output_tokens: 34,
        question: None,
    });
    let call =
        json!({"model": "claude-ui-test", "max_tokens": 9, "messages": [{"role": "user", "content": "hi"}]});
    through_proxy(&fx, "POST", "https://api.anthropic.com/v1/messages", Some(&call.to_string())).await;
    through_proxy(&fx, "GET", &format!("https://api.github.com{PATH_IMG}"), None).await;
    b.wait_for(".audit-row[data-decision=injected] .path", Some("/v1/messages")).await;
    b.wait_for(".audit-row .path", Some(PATH_IMG)).await;
    let row = b.text(".audit-row:has(.path:text('/v1/messages'))").await;
    assert!(row.contains("POST") && row.contains("api.anthropic.com"), "{row}");
    assert!(row.contains("credential") && row.contains("injected"), "{row}");
    // The usage table counts the metered call.
    b.wait_for("[data-testid=usage] td", Some("claude-ui-test")).await;
    assert!(b.text("[data-testid=usage]").await.contains("1,200"));

    // Read-only now: a write is refused, and the row says why.
    common::set_mode(&fx, "read-only").await;
    through_proxy(&fx, "POST", "https://api.github.com/status/200", Some("{}")).await;
    b.wait_for(".audit-row[data-decision=denied] .reason", Some("read-only")).await;

    // Nothing the paths carried ran, and no element came out of them.
    assert_eq!(b.eval("typeof window.__pwned").await, "undefined");
    assert_eq!(b.count("main img").await, 0);

    // Phone size: the rows wrap instead of scrolling sideways.
    b.viewport(390, 844).await;
    b.assert_fits_a_phone().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_create_form_makes_a_session_and_shows_the_apis_refusal_by_its_field() {
    let d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    let mut b = Driver::open(STEP).await;
    sign_in(&mut b, &d).await;

    // `c` on the list opens the form.
    b.press("c").await;
    b.wait_for("h1", Some("New session")).await;
    assert!(b.eval("location.pathname").await == "/new");

    // A path that is no repository: the API's own sentence, beside the form and the field.
    let missing = repo.path().join("no-such-dir");
    let api = unix(
        d.socket(),
        ApiRequest::new("POST", "/api/sessions")
            .json(json!({"repo_path": missing, "prompt": "x", "agent": "claude"}).to_string()),
    )
    .await;
    assert_eq!(api.status / 100, 4, "{}", api.body);
    let sentence = api.json()["message"].as_str().unwrap().to_string();
    b.fill("#repo_path", &missing.display().to_string()).await;
    // Checked as typed, before any submit: the same sentence under the field.
    b.wait_for("[data-testid=repo-check][data-ok=false]", Some("does not exist")).await;
    b.fill("#prompt", "x").await;
    b.click_text("button", "Create session").await;
    b.wait_for("[data-testid=create-error]", Some(&sentence)).await;
    b.wait_for("[data-field=repo_path] .field-error", Some(&sentence)).await;

    // At phone size the form fits and its controls are touch targets.
    b.viewport(390, 844).await;
    b.assert_fits_a_phone().await;
    b.viewport(1280, 800).await;

    // Filled in properly: the path checks out as a repository, its branches offered for the base.
    b.fill("#repo_path", &repo.path().display().to_string()).await;
    b.wait_for("[data-testid=repo-check][data-ok=true]", Some("on main")).await;
    let offered =
        b.eval("[...document.querySelectorAll('#repo-branches option')].map(o => o.value).join(',')").await;
    assert_eq!(offered.as_str(), Some("main"));
    b.fill("#prompt", "first line\nsecond line").await;
    b.fill("#name", "from-the-form").await;
    b.fill("#model", "claude-test-model").await;
    b.eval("(() => { const s = document.querySelector('#access_mode'); s.value = 'read-write'; s.dispatchEvent(new Event('change', {bubbles: true})); })()").await;
    b.click("details.options summary").await;
    b.fill("#cpus", "1.5").await;
    b.fill("#memory", "512m").await;
    b.click_text("button", "Create session").await;
    b.wait_for("h1", Some("from-the-form")).await;
    assert_eq!(b.eval("location.pathname").await, "/sessions/from-the-form");
    let (status, api) = session(&d, "from-the-form").await;
    assert_eq!(status, 200, "{api}");
    let s = &api["session"];
    assert_eq!(s["prompt"], "first line\nsecond line", "{s}");
    assert_eq!(s["access_mode"], "read-write", "{s}");
    assert_eq!(s["options"]["model"], "claude-test-model", "{s}");
    assert_eq!(s["options"]["milli_cpus"], 1500, "{s}");
    assert_eq!(s["options"]["memory_bytes"], 512 * 1024 * 1024, "{s}");
    b.close().await;
}

/// The fake backend has no terminal stream (its attach target is a host command), so this covers
/// what the Terminal tab shows then. The live terminal (xterm.js on a real zellij session running
/// Claude Code) is in `clauderon-zellij/tests/web_live.rs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_terminal_tab_shows_the_host_command_for_a_backend_without_a_stream() {
    let d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    create(&d, &repo, "hosted").await;
    let mut b = Driver::open(STEP).await;
    sign_in(&mut b, &d).await;
    b.goto(&format!("{}/sessions/hosted", d.base_url())).await;
    b.click_text("[role=tab]", "terminal").await;
    b.wait_for("[data-testid=terminal-command] pre", None).await;
    let line = b.text("[data-testid=terminal-command] pre").await;
    let (_, api) = session(&d, "hosted").await;
    let handle = api["session"]["backend_handle"].as_str().unwrap().to_string();
    assert_eq!(line, format!("true {handle}"));
    // It stays: no reconnect loop after the daemon closed a command socket.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(b.count("[data-testid=terminal-state]").await, 0);
    b.close().await;
}

/// A commit of everything in `dir`.
fn commit_all(dir: &std::path::Path, message: &str) {
    for args in [
        &["add", "-A"][..],
        &["-c", "user.name=agent", "-c", "user.email=a@example.invalid", "commit", "-qm", message],
    ] {
        let out = std::process::Command::new("git").args(args).current_dir(dir).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// The Changes tab: the session's work against its base, as the diff API reads it, with the
/// session's file names and text shown as text (a file named like markup, a line of script).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_changes_tab_shows_the_sessions_work_as_text() {
    let d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    // The base holds a Rust file the session changes.
    std::fs::create_dir_all(repo.path().join("src")).unwrap();
    std::fs::write(repo.path().join("src/lib.rs"), "pub fn answer() -> u32 { 41 }\n").unwrap();
    commit_all(repo.path(), "a first answer");
    create(&d, &repo, "worked").await;
    let worktree = d.data.path().join("worktrees/worked");
    std::fs::write(worktree.join("README.md"), "hello\nfixed by the agent\n").unwrap();
    let odd = "<img src=x onerror=window.__pwned=1>.txt";
    std::fs::write(worktree.join(odd), format!("{PLANTED_SCRIPT}\n")).unwrap();
    std::fs::write(worktree.join("src/lib.rs"), "pub fn answer() -> u32 { 42 }\n").unwrap();

    let mut b = Driver::open(STEP).await;
    sign_in(&mut b, &d).await;
    b.goto(&format!("{}/sessions/worked", d.base_url())).await;
    b.click_text("[role=tab]", "changes").await;
    b.wait_for("[data-testid=changes] .summary", Some("3 files changed")).await;
    b.wait_for("details.file[data-path='README.md'] .line.add", Some("+fixed by the agent")).await;
    assert!(b.text("details.file[data-path='README.md'] summary").await.contains("uncommitted"));
    // The odd name and the script line are text: nothing ran, no element came out of them.
    b.wait_for("[data-testid=changes]", Some(odd)).await;
    b.wait_for("[data-testid=changes] .line.add", Some(PLANTED_SCRIPT)).await;
    assert_eq!(b.eval("typeof window.__pwned").await, "undefined");
    assert_eq!(b.count("main img").await, 0);
    assert_eq!(b.count("main script").await, 0);

    // Code is highlighted by its file's language: token spans around the text.
    b.wait_for("details.file[data-path='src/lib.rs'] .line.add .hljs-keyword", Some("fn")).await;
    assert!(
        b.text("details.file[data-path='src/lib.rs'] .line.add")
            .await
            .contains("+pub fn answer() -> u32 { 42 }")
    );

    // Split: old lines on the left, new on the right, numbered from the hunk header; the
    // session's text still text, and the choice kept for the next visit.
    b.click_text(".view-toggle button", "Split").await;
    b.wait_for("details.file[data-path='README.md'] table.split td.side.add", Some("fixed by the agent"))
        .await;
    let row = b.text("details.file[data-path='README.md'] table.split tr:has(td.side.add)").await;
    assert!(row.contains("2\tfixed by the agent"), "the new line is numbered 2: {row:?}");
    b.wait_for("details.file[data-path='src/lib.rs'] td.side.del", Some("pub fn answer() -> u32 { 41 }"))
        .await;
    b.wait_for("details.file[data-path='src/lib.rs'] td.side.add .hljs-number", Some("42")).await;
    b.wait_for("[data-testid=changes] table.split td.side.add", Some(PLANTED_SCRIPT)).await;
    assert_eq!(b.eval("typeof window.__pwned").await, "undefined");
    assert_eq!(b.count("main img").await, 0);
    assert_eq!(b.count("main script").await, 0);
    assert_eq!(b.axe().await, Vec::<Value>::new(), "axe on the split view");
    b.viewport(390, 844).await;
    b.assert_fits_a_phone().await;
    b.goto(&format!("{}/sessions/worked", d.base_url())).await;
    b.click_text("[role=tab]", "changes").await;
    b.wait_for(".view-toggle button[aria-pressed=true]", Some("Split")).await;
}

/// axe-core (WCAG 2 A and AA rules) on every page and tab, at desktop and phone size and in the
/// dark scheme: no serious or critical violation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_passes_axe_at_desktop_and_phone_size() {
    let d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    let mut b = Driver::open(STEP).await;
    let mut found = Vec::new();
    // Every page checked is also kept as a screenshot (README: "Web UI"), named by page, width
    // and scheme.
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/web-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let mut check = async |b: &mut Driver, page: &str| {
        b.screenshot(&shots.join(format!("{}.png", page.replace(' ', "-")))).await;
        for v in b.axe().await {
            found.push(format!("{page}: {v}"));
        }
    };
    for (width, height) in [(1280, 800), (390, 844)] {
        b.viewport(width, height).await;
        b.goto(&d.base_url()).await;
        b.wait_for("form.signin", None).await;
        check(&mut b, &format!("sign-in {width}")).await;
    }
    b.viewport(1280, 800).await;
    sign_in(&mut b, &d).await;
    create(&d, &repo, "axed").await;
    std::fs::write(d.data.path().join("worktrees/axed/README.md"), "hello\nchanged\n").unwrap();
    for (w, height, scheme) in [(1280, 800, "light"), (390, 844, "light"), (1280, 800, "dark")] {
        let width = format!("{w} {scheme}");
        b.scheme(scheme).await;
        b.viewport(w, height).await;
        b.goto(&d.base_url()).await;
        b.wait_for("li[data-session='axed']", None).await;
        check(&mut b, &format!("list {width}")).await;
        b.goto(&format!("{}/new", d.base_url())).await;
        b.fill("#repo_path", &repo.path().display().to_string()).await;
        b.wait_for("[data-testid=repo-check][data-ok=true]", None).await;
        check(&mut b, &format!("create {width}")).await;
        b.goto(&format!("{}/sessions/axed", d.base_url())).await;
        for tab in ["chat", "terminal", "changes", "proxy", "details", "controls"] {
            b.click_text("[role=tab]", tab).await;
            b.wait_for("[role=tab][aria-selected=true]", Some(tab)).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            check(&mut b, &format!("session {tab} {width}")).await;
        }
    }
    assert!(found.is_empty(), "axe found serious or critical violations:\n{}", found.join("\n"));
}

/// The chat renders the agent's Markdown (emphasis, lists, code, tables) and keeps it inert: a
/// `javascript:` link loses its address, an image is shown as text and never loaded, raw HTML
/// shows as the text it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_renders_markdown_and_keeps_it_inert() {
    let d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    create(&d, &repo, "md").await;
    let dir = d.layout().session_home("md").join(".claude/projects/-workspace");
    std::fs::create_dir_all(&dir).unwrap();
    let text = "Done: **fixed** the bug.\n\n- first\n- second\n\n```rust\nfn main() {}\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n[click](javascript:window.__pwned=3) ![pixel](http://127.0.0.2/pixel.png)\n\n<b onclick=\"window.__pwned=4\">raw</b>";
    let line = json!({"type": "assistant", "message": {"role": "assistant", "content": [{"type": "text", "text": text}]},
        "timestamp": "2026-12-01T08:00:00.000Z"});
    std::fs::write(dir.join("5d7c3a8e-1f2b-4c6d-9e0a-3b4c5d6e7f81.jsonl"), format!("{line}\n")).unwrap();

    let mut b = Driver::open(STEP).await;
    sign_in(&mut b, &d).await;
    b.goto(&format!("{}/sessions/md", d.base_url())).await;
    b.wait_for(".msg-assistant .markdown strong", Some("fixed")).await;
    assert_eq!(b.count(".msg-assistant .markdown li").await, 2);
    b.wait_for(".msg-assistant .markdown pre code", Some("fn main() {}")).await;
    assert_eq!(b.count(".msg-assistant .markdown td").await, 2);
    let href =
        b.eval("document.querySelector('.msg-assistant .markdown a')?.getAttribute('href') ?? ''").await;
    assert!(!href.as_str().unwrap().contains("javascript"), "{href}");
    b.wait_for(".msg-assistant .md-image", Some("[image: pixel] http://127.0.0.2/pixel.png")).await;
    assert_eq!(b.count("main img").await, 0);
    assert!(b.text(".msg-assistant .markdown").await.contains("<b onclick="), "raw HTML shows as text");
    assert_eq!(b.count(".msg-assistant .markdown b").await, 0);
    b.click(".msg-assistant .markdown a").await;
    assert_eq!(b.eval("typeof window.__pwned").await, "undefined");
}

/// BENCHMARKS.md: how long after the API's answer the list of 1,000 sessions is on screen in
/// headless Chromium (rows written straight into the store; the fake backend). Run by hand:
/// `cargo test -p clauderon-daemon --test web_ui -- --ignored --nocapture list_of_1000`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement for BENCHMARKS.md"]
async fn list_of_1000_sessions_render_time() {
    let d = TestDaemon::start().await;
    let store = clauderon_store::Store::open(&d.layout().database()).unwrap();
    let sessions: Vec<_> =
        (0..1000).map(|i| clauderon_testkit::session::sample(&format!("s-{i:04}"))).collect();
    store.insert_many(&sessions, chrono::Utc::now()).unwrap();
    let mut b = Driver::open(STEP).await;
    sign_in(&mut b, &d).await;
    let mut times = Vec::new();
    for _ in 0..11 {
        b.goto(&d.base_url()).await;
        b.wait_for("li[data-session='s-0999']", None).await;
        let ms = b
            .eval(
                "(() => { const api = performance.getEntriesByType('resource').filter(e => e.name.includes('/api/sessions?view=all'))[0];
                  const mark = performance.getEntriesByName('clauderon:list-rendered')[0];
                  return mark.startTime - api.responseEnd; })()",
            )
            .await
            .as_f64()
            .unwrap();
        times.push(ms);
    }
    let rows = b.count("li[data-session]").await;
    times.sort_by(f64::total_cmp);
    println!(
        "1,000 sessions ({rows} rows in the DOM): API answer to rendered list, ms over 11 loads: min {:.1}, median {:.1}, max {:.1}",
        times[0], times[5], times[10]
    );
}

/// A long list is put on the page a hundred rows at a time: scrolling to its end brings the next
/// rows, and `j` past the last one on the page brings it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_list_renders_a_page_at_a_time() {
    let d = TestDaemon::start().await;
    let store = clauderon_store::Store::open(&d.layout().database()).unwrap();
    let sessions: Vec<_> =
        (0..250).map(|i| clauderon_testkit::session::sample(&format!("s-{i:04}"))).collect();
    store.insert_many(&sessions, chrono::Utc::now()).unwrap();
    let mut b = Driver::open(STEP).await;
    sign_in(&mut b, &d).await;
    b.wait_for("li.more", Some("150 left")).await;
    assert_eq!(b.count("li[data-session]").await, 100);
    b.eval("document.querySelector('li.more').scrollIntoView()").await;
    b.wait_for("li.more", Some("(50 left)")).await;
    assert_eq!(b.count("li[data-session]").await, 200);
    for _ in 0..201 {
        b.press("j").await;
    }
    b.wait_for("li[data-session][aria-current=true]", None).await;
    assert!(b.count("li[data-session]").await >= 202, "j past the page's end brings the next row");
}

/// The installable app: a manifest, a service worker that controls the page and serves the shell
/// when the network is gone; and a notification when a session starts waiting for input. The
/// notification is observed through a recording stand-in for the browser's `Notification` (a
/// headless browser shows none; the stand-in is the only fake here, and says "granted").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_installs_works_offline_and_notifies_when_a_session_needs_you() {
    let d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    create(&d, &repo, "waits").await;
    let mut b = Driver::open(STEP).await;
    sign_in(&mut b, &d).await;

    let manifest = b
        .eval("fetch(document.querySelector('link[rel=manifest]').href).then(async r => [r.headers.get('content-type'), (await r.json()).display])")
        .await;
    assert_eq!(manifest, json!(["application/manifest+json", "standalone"]));
    let scope = b.eval("navigator.serviceWorker.ready.then(r => new URL(r.scope).pathname)").await;
    assert_eq!(scope, "/");
    b.goto(&d.base_url()).await;
    b.wait_for("li[data-session='waits']", None).await;
    assert_eq!(b.eval("navigator.serviceWorker.controller !== null").await, true);

    // A session starts waiting for input: one notification, naming it.
    b.eval(
        "(() => { window.__notes = []; window.Notification = class { static permission = 'granted';
           static requestPermission() { return Promise.resolve('granted'); }
           constructor(title, opts) { window.__notes.push(title + ' | ' + opts.body); } close() {} }; })()",
    )
    .await;
    let access = d.fake.proxy_for("waits").unwrap();
    let auth = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{}:{}", access.user, access.secret)
        )
    );
    let report = ApiRequest::new("POST", "http://clauderon.internal/v1/status")
        .header("host", "clauderon.internal")
        .header("proxy-authorization", &auth)
        .json(r#"{"status":"waiting-for-input"}"#.to_string());
    let reply = clauderon_testkit::http::tcp(d.proxy_addr(), report).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    b.wait_for("li[data-session='waits'] .needs-you", None).await;
    let notes = b.eval("window.__notes").await;
    assert_eq!(notes, json!(["waits needs you | The agent is waiting for your input."]));

    // No network: the shell still comes up (from the service worker), says the daemon is out of
    // reach, and comes back by itself with the network.
    b.offline(true).await;
    b.goto(&d.base_url()).await;
    b.wait_for("header .brand", Some("clauderon")).await;
    b.wait_for("[data-testid=unreachable]", Some("cannot be reached")).await;
    b.offline(false).await;
    b.wait_for("li[data-session='waits']", None).await;
}

/// BENCHMARKS.md: how long after the daemon emits a status change the session list in Chromium
/// shows it. The emission is taken as the moment a second `/ws/events` subscriber (this test)
/// receives the event; the page records when the row's status attribute changes (a
/// MutationObserver, wall-clock ms); both on this machine's clock. 100 changes (stop / start).
/// Run by hand: `cargo test -p clauderon-daemon --test web_ui -- --ignored --nocapture event_to_page`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement for BENCHMARKS.md"]
async fn event_to_page_latency() {
    use futures_util::StreamExt;
    let d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    create(&d, &repo, "lat").await;
    let mut b = Driver::open(STEP).await;
    sign_in(&mut b, &d).await;
    b.wait_for("li[data-session='lat'][data-status='running']", None).await;
    b.eval(
        "(() => { window.__seen = []; new MutationObserver(() => {
            const li = document.querySelector(\"li[data-session='lat']\");
            const s = li && li.getAttribute('data-status');
            const last = window.__seen[window.__seen.length - 1];
            if (s && (!last || last.s !== s)) window.__seen.push({ s, t: performance.timeOrigin + performance.now() });
          }).observe(document.body, { subtree: true, attributes: true, childList: true }); })()",
    )
    .await;
    let (mut ws, _) = tokio_tungstenite::connect_async(d.ws_request("/ws/events")).await.unwrap();
    let now_ms =
        || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64() * 1000.0;
    let mut emitted = Vec::new();
    for i in 0..100u32 {
        let want = if i % 2 == 0 { "stopped" } else { "running" };
        post(&d, &format!("/api/sessions/lat/{}", if want == "stopped" { "stop" } else { "start" })).await;
        loop {
            let msg = tokio::time::timeout(STEP, ws.next()).await.unwrap().unwrap().unwrap();
            if let tokio_tungstenite::tungstenite::Message::Text(text) = msg {
                let e: Value = serde_json::from_str(&text).unwrap();
                if e["type"] == "status-changed" && e["to"] == want {
                    emitted.push(now_ms());
                    break;
                }
            }
        }
        b.wait_for(&format!("li[data-session='lat'][data-status='{want}']"), None).await;
    }
    let seen = b.eval("window.__seen").await;
    let seen: Vec<f64> = seen.as_array().unwrap().iter().map(|v| v["t"].as_f64().unwrap()).collect();
    assert_eq!(seen.len(), emitted.len(), "one page change per event");
    let mut lags: Vec<f64> = seen.iter().zip(&emitted).map(|(page, ev)| page - ev).collect();
    lags.sort_by(f64::total_cmp);
    println!(
        "event to page over {} changes: median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        lags.len(),
        lags[lags.len() / 2],
        lags[lags.len() * 9 / 10],
        lags[lags.len() - 1]
    );
}
