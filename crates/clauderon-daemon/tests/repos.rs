//! `GET /api/repos/check` and `/api/repos/recent`: what the create form shows as a path is typed,
//! against real repositories and folders, and the repositories used before.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use clauderon_testkit::http::{Request, unix};
use clauderon_testkit::{TestDaemon, TestRepo};
use serde_json::{Value, json};

async fn check(d: &TestDaemon, path: &str) -> Value {
    let query: String = url_escape(path);
    let reply = unix(d.socket(), Request::new("GET", &format!("/api/repos/check?path={query}"))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    serde_json::from_str(&reply.body).unwrap()
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"/-_.".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn a_path_is_checked_as_create_would_see_it() {
    let d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    let top = repo.path().display().to_string();

    let good = check(&d, &top).await;
    assert_eq!(good["ok"], true, "{good}");
    assert_eq!(
        (good["toplevel"].as_str(), good["branch"].as_str(), good["dirty"].as_bool()),
        (Some(top.as_str()), Some("main"), Some(false))
    );
    assert_eq!(good["branches"], json!(["main"]));

    // A folder inside it, a second branch, a tracked change.
    std::fs::create_dir_all(repo.path().join("src/deep")).unwrap();
    repo.git(&["branch", "feature"]).unwrap();
    std::fs::write(repo.path().join("README.md"), "changed\n").unwrap();
    let inside = check(&d, &format!("{top}/src/deep")).await;
    assert_eq!(inside["toplevel"].as_str(), Some(top.as_str()), "{inside}");
    assert_eq!(inside["dirty"], true, "{inside}");
    assert_eq!(inside["branches"], json!(["feature", "main"]));

    let plain = tempfile::tempdir().unwrap();
    let empty_repo = tempfile::tempdir().unwrap();
    clauderon_testkit::git::git_in(empty_repo.path(), &["init", "-q"]).unwrap();
    for (path, words) in [
        ("/nonexistent/clauderon/repo".to_string(), "does not exist"),
        ("relative/path".to_string(), "not absolute"),
        (plain.path().display().to_string(), "not inside a git repository"),
        (empty_repo.path().display().to_string(), "no commits yet"),
        (format!("{top}/README.md"), "is a file"),
    ] {
        let bad = check(&d, &path).await;
        assert_eq!(bad["ok"], false, "{path}: {bad}");
        assert!(bad["problem"].as_str().unwrap().contains(words), "{path}: {bad}");
    }
    let missing = unix(d.socket(), Request::new("GET", "/api/repos/check")).await;
    assert_eq!(missing.status, 400, "{}", missing.body);
}

#[tokio::test]
async fn recent_repositories_are_the_ones_sessions_used_newest_first() {
    let d = TestDaemon::start().await;
    let empty = unix(d.socket(), Request::new("GET", "/api/repos/recent")).await;
    assert_eq!(serde_json::from_str::<Value>(&empty.body).unwrap()["repos"], json!([]));
    let (a, b) = (TestRepo::new().unwrap(), TestRepo::new().unwrap());
    for (repo, name) in [(&a, "one"), (&b, "two"), (&a, "three")] {
        let body = json!({"repo_path": repo.path(), "prompt": "go", "name": name}).to_string();
        let reply = unix(d.socket(), Request::new("POST", "/api/sessions").json(body)).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    let recent = unix(d.socket(), Request::new("GET", "/api/repos/recent")).await;
    let repos = serde_json::from_str::<Value>(&recent.body).unwrap()["repos"].clone();
    assert_eq!(repos, json!([a.path().display().to_string(), b.path().display().to_string()]));
}
