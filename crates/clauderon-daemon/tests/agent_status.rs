//! Agents' live status (issue 6 §3): hooks report working / waiting / idle through the proxy's
//! internal host, authenticated by the session's proxy identity; the daemon applies each report to
//! the session that sent it, publishes the change on `/ws/events` and shows it in the list.
//! Everything runs on loopback: a real daemon, its real proxy, the real hook script and curl.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use base64::Engine;
use clauderon_agents::status_hooks;
use clauderon_backend::ProxyAccess;
use clauderon_testkit::http::{Request, tcp, unix};
use clauderon_testkit::{TestDaemon, TestRepo};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

async fn create(d: &TestDaemon, repo: &TestRepo, name: &str) -> ProxyAccess {
    let body = json!({"repo_path": repo.path(), "prompt": "go", "name": name}).to_string();
    let reply = unix(d.socket(), Request::new("POST", "/api/sessions").json(body)).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    d.fake.proxy_for(name).expect("the session's proxy access")
}

fn basic(user: &str, secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}")))
}

async fn status(d: &TestDaemon, name: &str) -> String {
    let reply = unix(d.socket(), Request::new("GET", &format!("/api/sessions/{name}"))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["session"]["status"].as_str().unwrap_or_default().to_string()
}

/// A report as a hook could forge it: plain HTTP in absolute form to the proxy, any header, any body.
async fn post_status(d: &TestDaemon, auth: Option<String>, body: &str) -> (u16, String) {
    let mut req = Request::new("POST", "http://clauderon.internal/v1/status")
        .header("host", "clauderon.internal")
        .json(body.to_string());
    if let Some(a) = auth {
        req = req.header("proxy-authorization", a);
    }
    let reply = tcp(d.proxy_addr(), req).await;
    (reply.status, reply.body)
}

/// Run the real hook script as an agent's hook runs it: `sh -c '"$HOME/…/status-hook" <status>'`
/// with the session's proxy environment (and its NO_PROXY).
async fn run_hook(home: &std::path::Path, proxy_url: &str, status: &str) -> std::process::Output {
    run_hook_with_path(home, proxy_url, status, &std::env::var("PATH").unwrap_or_default()).await
}

/// [`run_hook`] with the given `PATH` (to leave curl out, as some images do).
async fn run_hook_with_path(
    home: &std::path::Path,
    proxy_url: &str,
    status: &str,
    path: &str,
) -> std::process::Output {
    let command = status_hooks::hook_command(clauderon_types::AgentStatus::parse(status).unwrap());
    tokio::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .env_clear()
        .env("PATH", path)
        .env("HOME", home)
        .env("HTTP_PROXY", proxy_url)
        .env("http_proxy", proxy_url)
        .env("NO_PROXY", clauderon_backend::env::NO_PROXY)
        .env("no_proxy", clauderon_backend::env::NO_PROXY)
        .output()
        .await
        .unwrap()
}

async fn wait_for_status(d: &TestDaemon, name: &str, want: &str) {
    for _ in 0..100 {
        if status(d, name).await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("session {name} never became {want} (it is {})", status(d, name).await);
}

#[tokio::test]
async fn hooks_change_only_the_sending_sessions_status_and_it_shows_in_events_and_list() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    let alpha = create(&d, &repo, "alpha").await;
    let beta = create(&d, &repo, "beta").await;
    let (mut ws, _) = tokio_tungstenite::connect_async(d.ws_request("/ws/events?since=0")).await.unwrap();

    // No identity, a wrong one, another session's secret: 407, and nothing changes.
    for auth in [None, Some(basic("alpha", "wrong")), Some(basic("alpha", &beta.secret))] {
        let (code, body) = post_status(&d, auth.clone(), r#"{"status":"idle"}"#).await;
        assert_eq!(code, 407, "{auth:?}: {body}");
    }
    assert_eq!(status(&d, "alpha").await, "running");

    // alpha's identity, naming beta in the body every way it could: alpha changes, beta does not.
    let forged = r#"{"status":"idle","session":"beta","name":"beta","session_id":"beta"}"#;
    let (code, body) = post_status(&d, Some(basic("alpha", &alpha.secret)), forged).await;
    assert_eq!(code, 204, "{body}");
    assert_eq!(status(&d, "alpha").await, "idle");
    assert_eq!(status(&d, "beta").await, "running");

    // The real hook script, run as a hook runs it, with only the session's environment.
    let home = tempfile::tempdir().unwrap();
    status_hooks::write_hook_script(home.path()).unwrap();
    let beta_url = format!("http://beta:{}@{}", beta.secret, d.proxy_addr());
    let out = run_hook(home.path(), &beta_url, "waiting-for-input").await;
    assert!(out.status.success() && out.stdout.is_empty(), "{out:?}");
    wait_for_status(&d, "beta", "waiting-for-input").await;
    let alpha_url = format!("http://alpha:{}@{}", alpha.secret, d.proxy_addr());
    run_hook(home.path(), &alpha_url, "working").await;
    wait_for_status(&d, "alpha", "running").await;
    assert_eq!(status(&d, "beta").await, "waiting-for-input");

    // A report that changes nothing records nothing.
    let (code, _) = post_status(&d, Some(basic("alpha", &alpha.secret)), r#"{"status":"working"}"#).await;
    assert_eq!(code, 204);

    // Bad input gets a clear 4xx.
    let (code, body) = post_status(&d, Some(basic("alpha", &alpha.secret)), r#"{"status":"asleep"}"#).await;
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("waiting-for-input"), "{body}");

    // /ws/events: alpha running -> idle -> running, beta running -> waiting, in that order, once each.
    let mut changes = Vec::new();
    while changes.len() < 5 {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap().unwrap().unwrap();
        if let Message::Text(text) = msg {
            let e: Value = serde_json::from_str(&text).unwrap();
            if e["type"] == "status-changed" {
                changes.push(format!("{} {}->{}", e["session_name"].as_str().unwrap(), e["from"], e["to"]));
            }
        }
    }
    assert_eq!(
        changes,
        [
            "alpha \"creating\"->\"running\"",
            "beta \"creating\"->\"running\"",
            "alpha \"running\"->\"idle\"",
            "beta \"running\"->\"waiting-for-input\"",
            "alpha \"idle\"->\"running\"",
        ]
    );
    let extra = tokio::time::timeout(Duration::from_millis(300), ws.next()).await;
    assert!(extra.is_err(), "an unchanged status made an event: {extra:?}");

    // The list shows each session's own status.
    let list = unix(d.socket(), Request::new("GET", "/api/sessions")).await.json();
    let by_name: Vec<(String, String)> = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap().into(), s["status"].as_str().unwrap().into()))
        .collect();
    assert!(by_name.contains(&("alpha".into(), "running".into())), "{by_name:?}");
    assert!(by_name.contains(&("beta".into(), "waiting-for-input".into())), "{by_name:?}");

    // The audit has each report as answered by the proxy, and never a secret.
    let mut audit = Value::Null;
    for _ in 0..50 {
        audit = unix(d.socket(), Request::new("GET", "/api/sessions/alpha/requests")).await.json();
        if audit["requests"].as_array().is_some_and(|r| r.len() >= 4) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let requests = audit["requests"].as_array().unwrap();
    assert!(
        requests.iter().any(|r| r["host"] == "clauderon.internal"
            && r["decision"] == "answered"
            && r["reason"] == "agent status: idle"
            && r["status"] == 204),
        "{audit}"
    );
    assert!(requests.iter().any(|r| r["decision"] == "denied" && r["status"] == 400), "{audit}");
    let text = audit.to_string();
    assert!(!text.contains(&alpha.secret) && !text.contains(&beta.secret), "a proxy secret in the audit");
    d.stop().await;
}

/// An image without curl still reports, with GNU wget; with neither, the hook does nothing and
/// exits 0 at once, never holding the agent up (the launch script warns on the terminal).
#[tokio::test]
async fn the_hook_reports_with_wget_where_there_is_no_curl() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    let alpha = create(&d, &repo, "alpha").await;
    let home = tempfile::tempdir().unwrap();
    status_hooks::write_hook_script(home.path()).unwrap();
    let url = format!("http://alpha:{}@{}", alpha.secret, d.proxy_addr());
    let wget = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("wget"))
        .find(|p| p.is_file())
        .expect("this test needs GNU wget on PATH (`apt-get install wget`; .ci/run installs it)");
    let only_wget = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&wget, only_wget.path().join("wget")).unwrap();
    let out = run_hook_with_path(home.path(), &url, "idle", only_wget.path().to_str().unwrap()).await;
    assert!(out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    wait_for_status(&d, "alpha", "idle").await;

    let nothing = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let out = run_hook_with_path(home.path(), &url, "working", nothing.path().to_str().unwrap()).await;
    assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "the hook waited with nothing to report with");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(status(&d, "alpha").await, "idle", "a report was made without curl or wget");
    d.stop().await;
}

#[tokio::test]
async fn a_report_that_arrives_while_its_session_is_created_waits_for_the_create() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    // The identity is issued before the backend creates the resource; an agent can report
    // before the manager has recorded the session as running.
    d.fake.delay_creates(Some(Duration::from_millis(800)));
    let socket = d.socket().to_path_buf();
    let body = json!({"repo_path": repo.path(), "prompt": "go", "name": "early"}).to_string();
    let creating =
        tokio::spawn(async move { unix(&socket, Request::new("POST", "/api/sessions").json(body)).await });
    let mut access = None;
    for _ in 0..200 {
        access = d.fake.proxy_for("early");
        if access.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let access = access.expect("the create reached the backend");
    assert_eq!(status(&d, "early").await, "creating");
    let (code, body) = post_status(&d, Some(basic("early", &access.secret)), r#"{"status":"idle"}"#).await;
    assert_eq!(code, 204, "{body}");
    let created = creating.await.unwrap();
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(status(&d, "early").await, "idle");
    d.fake.delay_creates(None);
    d.stop().await;
}

#[tokio::test]
async fn a_report_over_https_through_connect_is_answered_too() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    let alpha = create(&d, &repo, "alpha").await;
    let out = tokio::process::Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "10", "--write-out", "%{http_code}"])
        .arg("--cacert")
        .arg(d.ca_cert())
        .arg("--data")
        .arg(r#"{"status":"idle"}"#)
        .arg("https://clauderon.internal/v1/status")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("https_proxy", format!("http://alpha:{}@{}", alpha.secret, d.proxy_addr()))
        .output()
        .await
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "204", "{out:?}");
    assert_eq!(status(&d, "alpha").await, "idle");
    d.stop().await;
}

#[tokio::test]
async fn reports_for_a_stopped_or_deleted_session_are_refused_cleanly() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    let alpha = create(&d, &repo, "alpha").await;
    let handle = d.fake.handles().pop().unwrap();
    d.fake.set_running(&handle, false);
    d.restart().await;
    assert_eq!(status(&d, "alpha").await, "stopped");

    let (code, body) = post_status(&d, Some(basic("alpha", &alpha.secret)), r#"{"status":"working"}"#).await;
    assert_eq!(code, 409, "{body}");
    assert!(body.contains("alpha") && body.contains("stopped"), "{body}");
    assert_eq!(status(&d, "alpha").await, "stopped");

    let reply = unix(d.socket(), Request::new("DELETE", "/api/sessions/alpha?force=true")).await;
    assert!(reply.status < 300, "{}", reply.body);
    let (code, _) = post_status(&d, Some(basic("alpha", &alpha.secret)), r#"{"status":"working"}"#).await;
    assert_eq!(code, 407, "a deleted session's identity is revoked");
    d.stop().await;
}
