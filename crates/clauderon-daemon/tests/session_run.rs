//! `POST /api/sessions/{name}/stop` and `/start` (`clauderon stop`, `clauderon start`): the
//! session's process stops and starts again on the resource it had, with the status and its
//! events following; what cannot be done is a clear 409 or 503 that says what to do. Against
//! the test kit's fake backend; the real agents resuming after a start are in the zellij live
//! tests (`crates/clauderon-zellij/tests/agents_live.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use clauderon_testkit::http::{Reply, Request, unix};
use clauderon_testkit::{TestDaemon, TestRepo};
use serde_json::{Value, json};

async fn post(d: &TestDaemon, path: &str) -> Reply {
    unix(d.socket(), Request::new("POST", path)).await
}

async fn detail(d: &TestDaemon, name: &str) -> Value {
    unix(d.socket(), Request::new("GET", &format!("/api/sessions/{name}"))).await.json()
}

/// The session's status changes, `from->to`, oldest first.
fn changes(detail: &Value) -> Vec<String> {
    let mut events: Vec<&Value> =
        detail["events"].as_array().unwrap().iter().filter(|e| e["type"] == "status-changed").collect();
    events.sort_by_key(|e| e["seq"].as_i64());
    events.iter().map(|e| format!("{}->{}", e["from"].as_str().unwrap(), e["to"].as_str().unwrap())).collect()
}

#[tokio::test]
async fn a_session_stops_and_starts_again_on_its_resource() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    let body = json!({"repo_path": repo.path(), "prompt": "go", "name": "loop"}).to_string();
    assert_eq!(unix(d.socket(), Request::new("POST", "/api/sessions").json(body)).await.status, 201);
    let handle = d.fake.handles().pop().unwrap();

    let stopped = post(&d, "/api/sessions/loop/stop").await;
    assert_eq!(stopped.status, 200, "{}", stopped.body);
    assert_eq!(stopped.json()["status"], "stopped");
    let again = post(&d, "/api/sessions/loop/stop").await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(
        again.body.contains("nothing to stop") && again.body.contains("clauderon start loop"),
        "{}",
        again.body
    );

    let started = post(&d, "/api/sessions/loop/start").await;
    assert_eq!(started.status, 200, "{}", started.body);
    assert_eq!(started.json()["status"], "running");
    assert_eq!(
        d.fake.handles(),
        std::slice::from_ref(&handle),
        "started on the resource it had, not a new one"
    );
    let again = post(&d, "/api/sessions/loop/start").await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(again.body.contains("only a stopped or failed session"), "{}", again.body);
    assert_eq!(
        changes(&detail(&d, "loop").await),
        ["creating->running", "running->stopped", "stopped->running"]
    );

    // Its resource gone behind clauderon's back: the start fails, says what to do, and the
    // session stays stopped.
    assert_eq!(post(&d, "/api/sessions/loop/stop").await.status, 200);
    d.fake.remove_behind_our_back(&handle);
    let failed = post(&d, "/api/sessions/loop/start").await;
    assert_eq!(failed.status, 503, "{}", failed.body);
    assert!(
        failed.body.contains("clauderon start loop") && failed.body.contains("clauderon delete loop"),
        "{}",
        failed.body
    );
    assert_eq!(detail(&d, "loop").await["session"]["status"], "stopped");

    assert_eq!(post(&d, "/api/sessions/ghost/start").await.status, 404);
    let doc = unix(d.socket(), Request::new("GET", "/api/openapi.json")).await.json();
    for path in ["/api/sessions/{name}/stop", "/api/sessions/{name}/start"] {
        assert!(doc["paths"][path]["post"].is_object(), "{path} missing from the OpenAPI document");
    }
    d.stop().await;
}

/// A session made by an older clauderon (here: Claude Code's settings without the status hooks
/// and no hook script, plus a setting of the user's) gets this clauderon's settings merged in
/// when it starts again; the user's setting stays.
#[tokio::test]
async fn starting_again_brings_the_agents_settings_up_to_date_and_keeps_the_users() {
    use clauderon_agents::status_hooks;
    let d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    let body = json!({"repo_path": repo.path(), "prompt": "go", "name": "old"}).to_string();
    assert_eq!(unix(d.socket(), Request::new("POST", "/api/sessions").json(body)).await.status, 201);
    assert_eq!(post(&d, "/api/sessions/old/stop").await.status, 200);

    let home = d.layout().session_home("old");
    let settings = home.join(clauderon_agents::profile::hooks_file(clauderon_types::AgentKind::Claude));
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    std::fs::write(&settings, r#"{"theme": "dark-ansi"}"#).unwrap();
    let _ = std::fs::remove_file(home.join(status_hooks::HOOK_SCRIPT));

    let started = post(&d, "/api/sessions/old/start").await;
    assert_eq!(started.status, 200, "{}", started.body);
    let now: Value = serde_json::from_str(&std::fs::read_to_string(&settings).unwrap()).unwrap();
    assert_eq!(now["theme"], "dark-ansi", "the user's setting was lost: {now:#}");
    assert_eq!(now["hooks"], clauderon_agents::profile::hooks(clauderon_types::AgentKind::Claude), "{now:#}");
    assert!(home.join(status_hooks::HOOK_SCRIPT).is_file(), "no hook script after the start");
}
