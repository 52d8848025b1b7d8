//! `clauderon diff NAME` and `GET /api/sessions/{name}/diff` (issue 16): the real binary against
//! a daemon with the test kit's fake backend; the session's work is written into its worktree
//! by the test, as an agent would. `clauderon-core/tests/diff.rs` checks every kind of change
//! and the walls around the git the daemon runs there.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use clauderon_testkit::git::git_in;
use clauderon_testkit::http::{Request, unix};
use clauderon_testkit::{TestDaemon, TestRepo};
use common::run;
use serde_json::Value;
use std::path::PathBuf;

async fn get(d: &TestDaemon, path: &str) -> (u16, Value) {
    let reply = unix(d.socket(), Request::new("GET", path)).await;
    (reply.status, serde_json::from_str(&reply.body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_shows_the_work_as_a_stat_names_a_patch_and_json_with_escapes_made_visible() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    let body = serde_json::json!({"repo_path": repo.path(), "prompt": "go", "name": "work"}).to_string();
    let created = unix(d.socket(), Request::new("POST", "/api/sessions").json(body)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let (_, shown) = get(&d, "/api/sessions/work").await;
    let worktree = PathBuf::from(shown["session"]["worktree_path"].as_str().unwrap());

    let (ok, out, err) = run(&d, &["diff", "work", "--stat"]).await;
    assert!(ok, "{err}");
    assert!(out.starts_with("no changes on clauderon/work since "), "{out}");

    // Committed: README changed. Not committed: a new file whose name and text carry a
    // terminal escape (an OSC 52 clipboard write) that must reach the terminal as text.
    std::fs::write(worktree.join("README.md"), "hello\nworld\n").unwrap();
    git_in(&worktree, &["commit", "-q", "-am", "say more"]).unwrap();
    std::fs::write(worktree.join("evil\x1b]52;c;aGk=\x07.txt"), "line\x1b[2J\n").unwrap();

    let (ok, out, err) = run(&d, &["diff", "work", "--stat"]).await;
    assert!(ok, "{err}");
    let base = shown["session"]["base_commit"].as_str().unwrap();
    assert_eq!(
        out.trim_end(),
        format!(
            " M README.md              |     1 +\n \
             A evil^[]52;c;aGk=^G.txt |     1 + (uncommitted)\n \
             2 files changed, 2 insertions(+), 0 deletions(-) against {}",
            &base[..12]
        )
    );
    let (ok, out, _) = run(&d, &["diff", "work", "--name-only"]).await;
    assert!(ok);
    assert_eq!(out.trim_end(), "README.md\nevil^[]52;c;aGk=^G.txt");

    let (ok, out, err) = run(&d, &["diff", "work"]).await;
    assert!(ok, "{err}");
    assert!(!out.contains('\x1b'), "an escape reached the terminal: {out:?}");
    assert!(out.contains("say more"), "the branch's commits come first: {out}");
    assert!(out.contains("@@ -1 +1,2 @@\n hello\n+world"), "{out}");
    assert!(out.contains("+line^[[2J"), "{out}");

    let (ok, out, err) = run(&d, &["diff", "work", "--json"]).await;
    assert!(ok, "{err}");
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["files"][1]["path"], "evil\x1b]52;c;aGk=\x07.txt", "JSON keeps the exact name");
    assert_eq!(json["files"][0]["hunks"][0]["lines"], serde_json::json!([" hello", "+world"]));
    assert_eq!(json["commits"][0]["summary"], "say more");

    // The API: a summary without hunks, an unknown session, a bad query.
    let (status, summary) = get(&d, "/api/sessions/work/diff?patch=false").await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["files"][0]["hunks"], serde_json::json!([]));
    assert_eq!(summary["additions"], 2);
    let (status, missing) = get(&d, "/api/sessions/nope/diff").await;
    assert_eq!(status, 404, "{missing}");
    let (status, bad) = get(&d, "/api/sessions/work/diff?patch=maybe").await;
    assert_eq!(status, 400, "{bad}");
    let (ok, _, err) = run(&d, &["diff", "nope"]).await;
    assert!(!ok && err.contains("nope"), "{err}");
    d.stop().await;
}
