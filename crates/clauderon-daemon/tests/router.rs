//! The API through the router, without sockets (`oneshot`), against the
//! manager, real git worktrees, an in-memory SQLite store and the test kit's
//! fake backend (no real backend exists yet).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use clauderon_daemon::{AppState, Guard, router};
use clauderon_testkit::{FakeBackend, TestRepo};
use clauderon_types::ApiToken;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;

struct Fixture {
    app: Router,
    data: tempfile::TempDir,
    repo: TestRepo,
    fake: Arc<FakeBackend>,
    _shutdown: tokio::sync::watch::Sender<bool>,
}

fn fixture() -> Fixture {
    let data = tempfile::tempdir().unwrap();
    let fake = FakeBackend::new();
    let manager = clauderon_testkit::daemon::manager(data.path(), fake.clone());
    let (tx, rx) = tokio::sync::watch::channel(false);
    let credentials = Arc::new(clauderon_proxy::credentials::CredentialStore::new(
        data.path().join("secrets"),
        Vec::new(),
        |_| None,
    ));
    let state = AppState::new(manager, rx, credentials, Arc::from("test CA"));
    let app = router(state, Guard::tcp(ApiToken::new(TOKEN), "127.0.0.1:3030".parse().unwrap()));
    Fixture { app, data, repo: TestRepo::new().unwrap(), fake, _shutdown: tx }
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, Value) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body =
        serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({"raw": String::from_utf8_lossy(&bytes)}));
    (status, body)
}

/// The TCP listener's token, which every request but the ones testing its absence sends.
const TOKEN: &str = "router-test-token-0123456789";

fn req(method: &str, uri: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "127.0.0.1:3030")
        .header("authorization", format!("Bearer {TOKEN}"))
}

fn json_req(method: &str, uri: &str, body: &Value) -> Request<Body> {
    req(method, uri).header("content-type", "application/json").body(Body::from(body.to_string())).unwrap()
}

fn get(uri: &str) -> Request<Body> {
    req("GET", uri).body(Body::empty()).unwrap()
}

impl Fixture {
    fn create_body(&self, name: &str) -> Value {
        json!({"repo_path": self.repo.path(), "prompt": "fix it", "name": name})
    }

    async fn create(&self, name: &str) -> Value {
        let (status, body) =
            send(&self.app, json_req("POST", "/api/sessions", &self.create_body(name))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    async fn names(&self, view: &str) -> Vec<String> {
        let (status, body) = send(&self.app, get(&format!("/api/sessions?view={view}"))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["sessions"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_string()).collect()
    }

    /// Nothing was written: no session, no worktree folder, no extra branch, no backend resource.
    async fn assert_nothing_written(&self) {
        assert!(self.names("all").await.is_empty(), "a session was recorded");
        let worktrees = self.data.path().join("worktrees");
        let left: Vec<_> = std::fs::read_dir(&worktrees)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "worktree folders left behind: {left:?}");
        assert!(self.repo.worktrees().unwrap().is_empty());
        assert_eq!(self.repo.branches().unwrap(), ["main"], "a branch was left behind");
        assert!(self.fake.handles().is_empty(), "a backend resource was left behind");
    }
}

#[tokio::test]
async fn create_makes_worktree_branch_and_running_session() {
    let f = fixture();
    let s = f.create("fix-login").await;
    assert_eq!(s["status"], "running");
    assert_eq!(s["branch"], "clauderon/fix-login");
    assert_eq!(s["access_mode"], "read-only");
    assert_eq!(s["backend"], "zellij");
    let wt = std::path::PathBuf::from(s["worktree_path"].as_str().unwrap());
    assert!(wt.starts_with(f.data.path().join("worktrees")));
    assert_eq!(std::fs::read_to_string(wt.join("README.md")).unwrap(), "hello\n");
    assert!(f.repo.branches().unwrap().contains(&"clauderon/fix-login".to_string()));
    assert_eq!(f.fake.handles().len(), 1);

    let (status, detail) = send(&f.app, get("/api/sessions/fix-login")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["worktree"]["exists"], true);
    assert!(detail["worktree"]["disk_bytes"].as_u64().unwrap() > 0);
    let kinds: Vec<_> =
        detail["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["created", "status-changed"]);
}

#[tokio::test]
async fn generated_names_are_valid_and_unique() {
    let f = fixture();
    let body = json!({"repo_path": f.repo.path(), "prompt": "x"});
    let (_, a) = send(&f.app, json_req("POST", "/api/sessions", &body)).await;
    let (_, b) = send(&f.app, json_req("POST", "/api/sessions", &body)).await;
    let (a, b) = (a["name"].as_str().unwrap().to_string(), b["name"].as_str().unwrap().to_string());
    assert_ne!(a, b);
    assert!(clauderon_types::SessionName::parse(&a).is_ok());
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx_and_writes_nothing() {
    let f = fixture();
    let repo = f.repo.path().to_string_lossy().to_string();
    let not_repo = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Request<Body>, StatusCode, &str)> = vec![
        (
            "invalid name",
            json_req("POST", "/api/sessions", &json!({"repo_path": repo, "prompt": "x", "name": "a b"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "only letters, digits and dashes",
        ),
        (
            "traversal name",
            json_req(
                "POST",
                "/api/sessions",
                &json!({"repo_path": repo, "prompt": "x", "name": "../../etc"}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "only letters, digits and dashes",
        ),
        (
            "non-repo path",
            json_req("POST", "/api/sessions", &json!({"repo_path": not_repo.path(), "prompt": "x"})),
            StatusCode::BAD_REQUEST,
            "not inside a git repository",
        ),
        (
            "missing path",
            json_req("POST", "/api/sessions", &json!({"repo_path": "/no/such/dir", "prompt": "x"})),
            StatusCode::BAD_REQUEST,
            "does not exist",
        ),
        (
            "relative path",
            json_req("POST", "/api/sessions", &json!({"repo_path": "some/dir", "prompt": "x"})),
            StatusCode::BAD_REQUEST,
            "not absolute",
        ),
        (
            "bad base",
            json_req("POST", "/api/sessions", &json!({"repo_path": repo, "prompt": "x", "base": "nope"})),
            StatusCode::BAD_REQUEST,
            "is not a commit",
        ),
        (
            "option-like base",
            json_req("POST", "/api/sessions", &json!({"repo_path": repo, "prompt": "x", "base": "--help"})),
            StatusCode::BAD_REQUEST,
            "not a valid git ref",
        ),
        (
            "unknown backend",
            json_req(
                "POST",
                "/api/sessions",
                &json!({"repo_path": repo, "prompt": "x", "backend": "docker"}),
            ),
            StatusCode::SERVICE_UNAVAILABLE,
            "docker backend is not available",
        ),
        (
            "unknown field",
            json_req("POST", "/api/sessions", &json!({"repo_path": repo, "prompt": "x", "nmae": "y"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown field `nmae`",
        ),
        (
            "missing prompt",
            json_req("POST", "/api/sessions", &json!({"repo_path": repo})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing field `prompt`",
        ),
        (
            "malformed json",
            req("POST", "/api/sessions")
                .header("content-type", "application/json")
                .body(Body::from("{\"repo_path\": "))
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "invalid JSON body",
        ),
        (
            "no content type",
            req("POST", "/api/sessions").body(Body::from("{}")).unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type",
        ),
        (
            "oversized body",
            json_req(
                "POST",
                "/api/sessions",
                &json!({"repo_path": repo, "prompt": "x".repeat(2 * 1024 * 1024)}),
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too large",
        ),
        (
            "prompt over limit",
            json_req("POST", "/api/sessions", &json!({"repo_path": repo, "prompt": "x".repeat(300 * 1024)})),
            StatusCode::BAD_REQUEST,
            "the limit is",
        ),
        ("unknown session", get("/api/sessions/nobody"), StatusCode::NOT_FOUND, "no session named `nobody`"),
        (
            "traversal in path",
            get("/api/sessions/..%2F..%2Fetc"),
            StatusCode::BAD_REQUEST,
            "only letters, digits and dashes",
        ),
        ("bad list view", get("/api/sessions?view=everything"), StatusCode::BAD_REQUEST, "view"),
        (
            "delete unknown",
            req("DELETE", "/api/sessions/nobody").body(Body::empty()).unwrap(),
            StatusCode::NOT_FOUND,
            "no session",
        ),
        (
            "bad access mode",
            json_req("PUT", "/api/sessions/nobody/access-mode", &json!({"mode": "root"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown variant `root`",
        ),
        ("unknown route", get("/api/nope"), StatusCode::NOT_FOUND, "openapi.json"),
    ];
    for (what, request, want_status, want_message) in cases {
        let (status, body) = send(&f.app, request).await;
        assert_eq!(status, want_status, "{what}: {body}");
        let message = body["message"].as_str().unwrap_or_else(|| panic!("{what}: no message in {body}"));
        assert!(message.contains(want_message), "{what}: `{message}` lacks `{want_message}`");
        assert!(body["error"].is_string(), "{what}: no error code in {body}");
    }
    f.assert_nothing_written().await;
}

#[tokio::test]
async fn duplicate_name_is_a_conflict_and_leaves_the_first_alone() {
    let f = fixture();
    f.create("twin").await;
    let (status, body) = send(&f.app, json_req("POST", "/api/sessions", &f.create_body("twin"))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["message"].as_str().unwrap().contains("already exists"));
    assert_eq!(f.names("all").await, ["twin"]);
    assert_eq!(f.fake.handles().len(), 1);
    assert!(f.data.path().join("worktrees/twin/README.md").exists(), "first session's worktree must survive");
}

#[tokio::test]
async fn existing_branch_is_refused_and_kept() {
    let f = fixture();
    f.repo.git(&["branch", "clauderon/taken"]).unwrap();
    let (status, body) = send(&f.app, json_req("POST", "/api/sessions", &f.create_body("taken"))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["message"].as_str().unwrap().contains("branch `clauderon/taken` already exists"), "{body}");
    assert!(
        f.repo.branches().unwrap().contains(&"clauderon/taken".to_string()),
        "the user's branch was deleted"
    );
    assert!(f.names("all").await.is_empty());
}

#[tokio::test]
async fn dirty_checkout_is_refused_unless_a_base_is_named() {
    let f = fixture();
    std::fs::write(f.repo.path().join("README.md"), "changed\n").unwrap();
    let (status, body) = send(&f.app, json_req("POST", "/api/sessions", &f.create_body("dirty"))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["message"].as_str().unwrap().contains("--base HEAD"), "{body}");
    f.assert_nothing_written().await;
    let mut with_base = f.create_body("dirty");
    with_base["base"] = json!("HEAD");
    let (status, body) = send(&f.app, json_req("POST", "/api/sessions", &with_base)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn backend_failure_undoes_everything() {
    let f = fixture();
    f.fake.fail_creates(Some("engine exploded"));
    let (status, body) = send(&f.app, json_req("POST", "/api/sessions", &f.create_body("doomed"))).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(body["message"].as_str().unwrap().contains("engine exploded"), "{body}");
    f.assert_nothing_written().await;
}

#[tokio::test]
async fn archive_unarchive_and_list_views() {
    let f = fixture();
    f.create("keep").await;
    f.create("shelve").await;
    let (status, s) =
        send(&f.app, req("POST", "/api/sessions/shelve/archive").body(Body::empty()).unwrap()).await;
    assert_eq!((status, s["archived"].clone()), (StatusCode::OK, json!(true)));
    assert_eq!(f.names("active").await, ["keep"]);
    assert_eq!(f.names("archived").await, ["shelve"]);
    assert_eq!(f.names("all").await, ["keep", "shelve"]);
    let (status, body) =
        send(&f.app, req("POST", "/api/sessions/shelve/archive").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) =
        send(&f.app, req("POST", "/api/sessions/shelve/unarchive").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(f.names("active").await, ["keep", "shelve"]);
}

#[tokio::test]
async fn access_mode_changes_and_is_recorded() {
    let f = fixture();
    f.create("modes").await;
    let (status, s) =
        send(&f.app, json_req("PUT", "/api/sessions/modes/access-mode", &json!({"mode": "read-write"})))
            .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s["access_mode"], "read-write");
    let (_, detail) = send(&f.app, get("/api/sessions/modes")).await;
    let last = detail["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["type"], "access-mode-changed");
    assert_eq!((last["from"].as_str(), last["to"].as_str()), (Some("read-only"), Some("read-write")));
}

#[tokio::test]
async fn delete_refuses_uncommitted_work_without_force() {
    let f = fixture();
    f.create("busy").await;
    let wt = f.data.path().join("worktrees/busy");
    std::fs::write(wt.join("notes.txt"), "unsaved\n").unwrap();
    let (status, body) = send(&f.app, req("DELETE", "/api/sessions/busy").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["message"].as_str().unwrap().contains("--force"), "{body}");
    assert!(wt.join("notes.txt").exists(), "work was lost");
    assert_eq!(f.names("all").await, ["busy"]);

    let (status, body) =
        send(&f.app, req("DELETE", "/api/sessions/busy?force=true").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "deleted");
    assert!(!wt.exists());
    assert!(f.repo.worktrees().unwrap().is_empty(), "git still lists the worktree");
    assert!(f.repo.branches().unwrap().contains(&"clauderon/busy".to_string()), "branch is kept by default");
    assert!(f.fake.handles().is_empty());
    assert!(f.names("all").await.is_empty());
}

#[tokio::test]
async fn delete_branch_removes_the_branch_and_keeps_commits_elsewhere() {
    let f = fixture();
    f.create("done").await;
    let wt = f.data.path().join("worktrees/done");
    std::fs::write(wt.join("feature.txt"), "x\n").unwrap();
    clauderon_testkit::git::git_in(&wt, &["add", "."]).unwrap();
    clauderon_testkit::git::git_in(&wt, &["commit", "-qm", "work"]).unwrap();
    let (status, body) =
        send(&f.app, req("DELETE", "/api/sessions/done?delete_branch=true").body(Body::empty()).unwrap())
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(f.repo.branches().unwrap(), ["main"]);
    // The name is free again.
    f.create("done").await;
}

#[tokio::test]
async fn token_host_and_origin_checks_refuse_rebinding_and_cross_site() {
    let f = fixture();
    let no_token =
        Request::get("/api/sessions").header("host", "127.0.0.1:3030").body(Body::empty()).unwrap();
    assert_eq!(send(&f.app, no_token).await.0, StatusCode::UNAUTHORIZED);
    // A rebinding page speaks from its own name: refused even if it had the token.
    let rebinding = req("GET", "/api/sessions")
        .header("host", "attacker.example:3030")
        .header("origin", "http://attacker.example:3030")
        .body(Body::empty())
        .unwrap();
    let (status, body) = send(&f.app, rebinding).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    for origin in ["https://attacker.example", "http://127.0.0.1:5173", "http://localhost:3030"] {
        let cross_site = req("POST", "/api/sessions")
            .header("origin", origin)
            .header("content-type", "application/json")
            .body(Body::from(f.create_body("evil").to_string()))
            .unwrap();
        let (status, body) = send(&f.app, cross_site).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{origin}: {body}");
        assert!(body["message"].as_str().unwrap().contains("cross-origin"));
    }
    f.assert_nothing_written().await;
    let same_site =
        req("GET", "/api/sessions").header("origin", "http://127.0.0.1:3030").body(Body::empty()).unwrap();
    assert_eq!(send(&f.app, same_site).await.0, StatusCode::OK);
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let f = fixture();
    let (status, doc) = send(&f.app, get("/api/openapi.json")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/sessions",
        "/api/sessions/{name}",
        "/api/sessions/{name}/archive",
        "/api/sessions/{name}/unarchive",
        "/api/sessions/{name}/access-mode",
        "/api/health",
        "/api/version",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing from the OpenAPI document");
    }
    assert!(doc["components"]["schemas"]["CreateSessionRequest"].is_object());
}
