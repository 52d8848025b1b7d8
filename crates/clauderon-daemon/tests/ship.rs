//! Review and ship. `clauderon push` (`POST /api/sessions/{name}/push`): the daemon pushes a
//! session's branch to the repository's origin through its own proxy. The origin is
//! `github.com`, which the proxy sends to the test kit's TLS upstream running the real
//! `git http-backend` (the real GitHub is out of reach here). The upstream must see the real
//! token on the push; the session, the API's answers, the events, the audit and every file of
//! the daemon must not. A read-only session's own push stays refused while `clauderon push` of
//! the same session goes through.
//!
//! `clauderon pr` (`POST /api/sessions/{name}/pr`) against the test kit's **fake** GitHub REST
//! API on `api.github.com` (`github_api`: the only fake here, GitHub being unreachable), which
//! answers only requests carrying the real token as a Bearer credential.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use clauderon_testkit::files::files;
use clauderon_testkit::http::{Reply, Request as ApiRequest, unix};
use clauderon_testkit::upstream::git_backend::isolated_git;
use clauderon_testkit::{BareRepo, TestRepo};
use common::{GITHUB_TOKEN, ProxyFixture};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use tokio_tungstenite::tungstenite::Message;

struct ShipFx {
    fx: ProxyFixture,
    /// The upstream's `acme/widgets`.
    remote: BareRepo,
    /// The user's repository the sessions are made from (its origin set by each test).
    repo: TestRepo,
    _git_root: tempfile::TempDir,
}

async fn fixture(env: &[(&str, &str)]) -> ShipFx {
    fixture_configured(env, |_| {}).await
}

async fn fixture_configured(env: &[(&str, &str)], tweak: impl FnOnce(&mut clauderon_core::Config)) -> ShipFx {
    let (git_root, remote, up) = common::git_upstream().await;
    // As GitHub does: git over HTTPS needs the token (here, for every git request).
    up.require_header("github.com", "authorization", &common::github_basic());
    let fx = common::fixture_configured(up, env, true, tweak).await;
    ShipFx { fx, remote, repo: TestRepo::new().unwrap(), _git_root: git_root }
}

impl ShipFx {
    async fn api(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let mut req = ApiRequest::new(method, path);
        if let Some(body) = body {
            req = req.json(body.to_string());
        }
        unix(self.fx.d.socket(), req).await
    }

    /// A session made from the user's repository, in `mode`; returns its worktree.
    async fn session(&self, name: &str, mode: &str) -> PathBuf {
        self.session_with(name, mode, "go").await
    }

    async fn session_with(&self, name: &str, mode: &str, prompt: &str) -> PathBuf {
        let body =
            json!({"repo_path": self.repo.path(), "prompt": prompt, "name": name, "access_mode": mode});
        let reply = self.api("POST", "/api/sessions", Some(body)).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        let session: Value = serde_json::from_str(&reply.body).unwrap();
        PathBuf::from(session["worktree_path"].as_str().unwrap())
    }

    async fn push(&self, name: &str, force: bool) -> Reply {
        let reply =
            self.api("POST", &format!("/api/sessions/{name}/push"), Some(json!({"force": force}))).await;
        assert_no_secret("the push's answer", reply.body.as_bytes());
        reply
    }

    async fn pr(&self, name: &str, body: Value) -> Reply {
        let reply = self.api("POST", &format!("/api/sessions/{name}/pr"), Some(body)).await;
        assert_no_secret("the pr's answer", reply.body.as_bytes());
        reply
    }

    async fn refresh(&self, name: &str) -> Value {
        let reply = self.api("POST", &format!("/api/sessions/{name}/pr/refresh"), None).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_no_secret("the refresh's answer", reply.body.as_bytes());
        serde_json::from_str(&reply.body).unwrap()
    }

    fn remote_ref(&self, branch: &str) -> Option<String> {
        self.remote.git(&["rev-parse", "--verify", "--quiet", &format!("refs/heads/{branch}")]).ok()
    }

    fn receive_packs(&self) -> Vec<clauderon_testkit::upstream::RecordedRequest> {
        self.fx.up.requests().into_iter().filter(|r| r.path.contains("git-receive-pack")).collect()
    }
}

fn assert_no_secret(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for secret in [GITHUB_TOKEN, &common::github_basic()["Basic ".len()..]] {
        assert!(!text.contains(secret), "{what} holds the token: {text}");
    }
}

/// The agent's work: a file committed on the session's branch, in its worktree.
fn agent_commits(worktree: &Path, file: &str, text: &str) -> String {
    let git = |args: &[&str]| clauderon_testkit::git::git_in(worktree, args).unwrap();
    std::fs::write(worktree.join(file), text).unwrap();
    git(&["add", file]);
    git(&["-c", "user.name=agent", "-c", "user.email=agent@example.com", "commit", "--quiet", "-m", file]);
    git(&["rev-parse", "HEAD"])
}

#[tokio::test]
async fn push_ships_a_read_only_sessions_branch_with_the_token_injected_and_seen_nowhere() {
    let s = fixture(&[("GH_TOKEN", GITHUB_TOKEN)]).await;
    // An SSH origin, as most clones have: pushed to its HTTPS form.
    s.repo.git(&["remote", "add", "origin", "git@github.com:acme/widgets.git"]).unwrap();
    let worktree = s.session("ship", "read-only").await;
    let commit = agent_commits(&worktree, "FIX.md", "fixed\n");

    // The agent's own push is refused: the session is read-only.
    let access = s.fx.d.fake.proxy_for("ship").unwrap();
    let home = tempfile::tempdir().unwrap();
    let proxy = format!("http.proxy=http://{}:{}@{}", access.user, access.secret, s.fx.d.proxy_addr());
    let ca = format!("http.sslCAInfo={}", s.fx.d.ca_cert().display());
    let own = isolated_git(home.path())
        .current_dir(&worktree)
        .args(["-c", &proxy, "-c", &ca, "push", "https://github.com/acme/widgets.git", "HEAD:refs/heads/own"])
        .output()
        .await
        .unwrap();
    assert!(!own.status.success(), "a read-only session pushed");
    assert!(String::from_utf8_lossy(&own.stderr).contains("403"), "{}", String::from_utf8_lossy(&own.stderr));
    assert!(s.receive_packs().iter().all(|r| r.method != "POST"), "the session's push reached upstream");

    // Nor can the session pose as clauderon's shipping identity with its own secret.
    let mut curl = common::curl();
    curl.args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--proxy"])
        .arg(format!("http://ship.{}:{}@{}", access.user, access.secret, s.fx.d.proxy_addr()))
        .arg("--cacert")
        .arg(s.fx.d.ca_cert())
        .arg("https://github.com/acme/widgets.git/info/refs?service=git-receive-pack");
    let posed = common::run(curl).await;
    assert!(!String::from_utf8_lossy(&posed.stdout).starts_with('2'), "{posed:?}");

    // `clauderon push` ships it.
    let reply = s.push("ship", false).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let report: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(report["remote"], "https://github.com/acme/widgets.git");
    assert_eq!(report["branch"], "clauderon/ship");
    assert_eq!(report["commit"], commit.as_str());
    assert_eq!(report["outcome"], "created");
    assert!(report["note"].as_str().unwrap().contains("SSH"), "{report}");
    assert_eq!(s.remote_ref("clauderon/ship").as_deref(), Some(commit.as_str()));
    assert_eq!(s.remote.git(&["rev-parse", "main"]).unwrap(), s.remote.main, "main must not move");
    assert_eq!(
        s.remote.git(&["show", &format!("{commit}:FIX.md")]).unwrap(),
        "fixed",
        "the pushed commit carries the agent's file"
    );

    // Upstream saw the real token on every push request, and no proxy identity.
    let packs = s.receive_packs();
    assert!(packs.iter().any(|r| r.method == "POST"), "{packs:?}");
    for r in packs.iter().filter(|r| r.path.starts_with("/acme/widgets.git/")) {
        if r.method == "POST" || r.path.contains("service=") {
            assert_eq!(
                r.header_all("authorization"),
                vec![common::github_basic().as_str()],
                "{} {}",
                r.method,
                r.path
            );
            assert_eq!(r.header("proxy-authorization"), None);
        }
    }

    // The audit shows clauderon's push under the session, with its note, and no secret.
    let audit = common::audit_of(&s.fx, "ship").await;
    let pushed = audit
        .iter()
        .find(|e| e["method"] == "POST" && e["path"].as_str().unwrap_or("").ends_with("/git-receive-pack"))
        .unwrap_or_else(|| panic!("no push in the audit: {audit:?}"));
    assert_eq!(pushed["credential"], "github_token", "{pushed}");
    assert!(pushed["note"].as_str().unwrap_or("").contains("on the user's command"), "{pushed}");
    for e in &audit {
        assert_no_secret("the audit", e.to_string().as_bytes());
    }

    // A second push: nothing new.
    let again = s.push("ship", false).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(serde_json::from_str::<Value>(&again.body).unwrap()["outcome"], "up-to-date");

    // The events tell it; the session's files and every file of the daemon hold no token.
    let shown = s.api("GET", "/api/sessions/ship", None).await;
    assert!(shown.body.contains("\"type\":\"pushed\""), "{}", shown.body);
    assert_no_secret("the session's detail", shown.body.as_bytes());
    let layout = s.fx.d.layout();
    for file in files(layout.root()).into_iter().chain(files(&worktree)) {
        assert_no_secret(&file.display().to_string(), &std::fs::read(&file).unwrap());
    }
    // The user's repository gained no remote, config or credential.
    let config = std::fs::read_to_string(s.repo.path().join(".git/config")).unwrap();
    assert!(!config.contains("proxy") && !config.contains("ship."), "{config}");
}

#[tokio::test]
async fn a_remote_branch_that_moved_on_is_only_overwritten_with_force() {
    let s = fixture(&[("GH_TOKEN", GITHUB_TOKEN)]).await;
    s.repo.git(&["remote", "add", "origin", "https://github.com/acme/widgets.git"]).unwrap();
    let worktree = s.session("race", "read-write").await;
    let commit = agent_commits(&worktree, "A.md", "a\n");
    // Someone else put another commit on the remote branch first.
    let other = s.remote.git(&["commit-tree", "main^{tree}", "-p", "main", "-m", "someone else"]).unwrap();
    s.remote.git(&["update-ref", "refs/heads/clauderon/race", &other]).unwrap();

    let refused = s.push("race", false).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body.contains("--force"), "{}", refused.body);
    assert_eq!(s.remote_ref("clauderon/race").as_deref(), Some(other.as_str()), "moved without force");

    let forced = s.push("race", true).await;
    assert_eq!(forced.status, 200, "{}", forced.body);
    assert_eq!(serde_json::from_str::<Value>(&forced.body).unwrap()["outcome"], "forced");
    assert_eq!(s.remote_ref("clauderon/race").as_deref(), Some(commit.as_str()));
}

#[tokio::test]
async fn pushes_that_cannot_work_say_why_and_change_nothing() {
    // No GitHub token configured: the upstream refuses, and the answer says what to do.
    let s = fixture(&[]).await;
    let worktree = s.session("bare", "read-write").await;
    agent_commits(&worktree, "B.md", "b\n");

    let none = s.push("bare", false).await;
    assert_eq!(none.status, 400, "{}", none.body);
    assert!(
        none.body.contains("no `origin` remote") && none.body.contains("git remote add origin"),
        "{}",
        none.body
    );

    s.repo.git(&["remote", "add", "origin", "http://user:hunter2@github.com/acme/widgets.git"]).unwrap();
    let plain = s.push("bare", false).await;
    assert_eq!(plain.status, 400, "{}", plain.body);
    assert!(plain.body.contains("plain HTTP") && !plain.body.contains("hunter2"), "{}", plain.body);

    s.repo.git(&["remote", "set-url", "origin", "https://github.com/acme/widgets.git"]).unwrap();
    let unauthorized = s.push("bare", false).await;
    assert_eq!(unauthorized.status, 502, "{}", unauthorized.body);
    assert!(unauthorized.body.contains("credential"), "{}", unauthorized.body);
    assert_eq!(s.remote_ref("clauderon/bare"), None, "a branch appeared");

    let missing = s.push("nobody", false).await;
    assert_eq!(missing.status, 404, "{}", missing.body);
}

/// The fake GitHub API answers only with the real token, as a Bearer credential.
fn github_api_needs_the_token(s: &ShipFx) {
    s.fx.up.require_header("api.github.com", "authorization", &format!("Bearer {GITHUB_TOKEN}"));
    s.fx.up.github().repos.insert("acme/widgets".into(), "main".into());
}

#[tokio::test]
async fn pr_pushes_opens_a_pull_request_and_follows_it_to_merged() {
    let s = fixture(&[("GH_TOKEN", GITHUB_TOKEN)]).await;
    github_api_needs_the_token(&s);
    s.repo.git(&["remote", "add", "origin", "https://github.com/acme/widgets.git"]).unwrap();
    let worktree = s.session_with("review", "read-only", "Fix the login bug\nand run the tests").await;
    let commit = agent_commits(&worktree, "LOGIN.md", "fixed\n");
    let (mut ws, _) =
        tokio_tungstenite::connect_async(s.fx.d.ws_request("/ws/events?since=0")).await.unwrap();

    let reply = s.pr("review", json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let report: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(report["push"]["outcome"], "created", "{report}");
    let pr = &report["pull_request"];
    assert_eq!(pr["number"], 1);
    assert_eq!(pr["url"], "https://github.com/acme/widgets/pull/1");
    assert_eq!(
        (pr["state"].as_str(), pr["review"].as_str(), pr["base"].as_str()),
        (Some("open"), Some("none"), Some("main"))
    );
    assert_eq!(s.remote_ref("clauderon/review").as_deref(), Some(commit.as_str()), "pushed first");
    {
        let gh = s.fx.up.github();
        let opened = &gh.pulls[0];
        assert_eq!((opened.head.as_str(), opened.base.as_str()), ("clauderon/review", "main"));
        assert_eq!(opened.title, "Fix the login bug", "the prompt's first line");
        assert!(
            opened.body.contains("and run the tests") && opened.body.contains("LOGIN.md"),
            "{}",
            opened.body
        );
        assert_eq!(opened.head_sha, commit);
    }
    let api_calls: Vec<_> =
        s.fx.up.requests().into_iter().filter(|r| r.path.starts_with("/repos/")).collect();
    assert!(api_calls.iter().any(|r| r.method == "POST"), "{api_calls:?}");
    for r in &api_calls {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {GITHUB_TOKEN}").as_str()),
            "{} {}",
            r.method,
            r.path
        );
        assert_eq!(r.header("proxy-authorization"), None);
        assert_eq!(r.sni.as_deref(), Some("api.github.com"));
    }

    // list shows it; a refresh with nothing new adds no event.
    let list = s.api("GET", "/api/sessions", None).await;
    assert!(list.body.contains("\"pull_request\":{\"number\":1"), "{}", list.body);
    s.refresh("review").await;

    // GitHub moves on: approved, checks run, merged.
    {
        let mut gh = s.fx.up.github();
        gh.pulls[0].reviews.push(("alice".into(), "APPROVED".into()));
        gh.checks.insert(
            commit.clone(),
            vec![("completed".into(), Some("success".into())), ("in_progress".into(), None)],
        );
        gh.pulls[0].state = "closed".into();
        gh.pulls[0].merged = true;
    }
    let session = s.refresh("review").await;
    let pr = &session["pull_request"];
    assert_eq!((pr["state"].as_str(), pr["review"].as_str()), (Some("merged"), Some("approved")), "{pr}");
    assert_eq!(pr["checks"], json!({"total": 2, "passed": 1, "failed": 0, "pending": 1}));
    let list = s.api("GET", "/api/sessions", None).await;
    assert!(list.body.contains("\"state\":\"merged\""), "{}", list.body);

    // The event stream told it, once each: pushed, opened, changed.
    let mut seen = Vec::new();
    while !seen.contains(&"pull-request-changed".to_string()) {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(text) = msg {
            let e: Value = serde_json::from_str(&text).unwrap();
            assert_no_secret("an event", text.as_bytes());
            if e["session_name"] == "review" && e["type"].as_str().unwrap().starts_with("p") {
                if e["type"] == "pull-request-changed" {
                    assert_eq!(e["state"], "merged", "{e}");
                }
                seen.push(e["type"].as_str().unwrap().to_string());
            }
        }
    }
    assert_eq!(seen, ["pushed", "pull-request-opened", "pull-request-changed"]);
    let shown = s.api("GET", "/api/sessions/review", None).await;
    assert_eq!(shown.body.matches("pull-request-changed").count(), 1, "{}", shown.body);
}

#[tokio::test]
async fn pr_refusals_say_why_and_record_nothing() {
    // An open pull request for the branch already exists on GitHub (opened by hand): 422.
    let s = fixture(&[("GH_TOKEN", GITHUB_TOKEN)]).await;
    github_api_needs_the_token(&s);
    s.repo.git(&["remote", "add", "origin", "https://github.com/acme/widgets.git"]).unwrap();
    let worktree = s.session("dup", "read-write").await;
    agent_commits(&worktree, "D.md", "d\n");
    s.fx.up.github().pulls.push(clauderon_testkit::upstream::github_api::FakePull {
        repo: "acme/widgets".into(),
        number: 1,
        title: "by hand".into(),
        body: String::new(),
        head: "clauderon/dup".into(),
        head_sha: s.remote.main.clone(),
        base: "main".into(),
        draft: false,
        state: "open".into(),
        merged: false,
        reviews: Vec::new(),
    });
    let refused = s.pr("dup", json!({"title": "mine"})).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body.contains("already exists"), "{}", refused.body);
    assert!(refused.body.contains("pushed"), "the answer says the push is done: {}", refused.body);
    let shown = s.api("GET", "/api/sessions/dup", None).await;
    assert!(shown.body.contains("\"pull_request\":null"), "{}", shown.body);
    assert!(!shown.body.contains("pull-request-opened"), "{}", shown.body);
    assert_eq!(s.fx.up.github().pulls.len(), 1);
    let none = s.api("POST", "/api/sessions/dup/pr/refresh", None).await;
    assert_eq!(none.status, 400, "{}", none.body);
    assert!(none.body.contains("clauderon pr dup"), "{}", none.body);
}

#[tokio::test]
async fn pr_without_a_github_token_says_how_to_set_one() {
    // git pushes need no token on this upstream; GitHub's API does.
    let s = fixture(&[]).await;
    github_api_needs_the_token(&s);
    s.repo.git(&["remote", "add", "origin", "https://github.com/acme/widgets.git"]).unwrap();
    let worktree = s.session("tokenless", "read-write").await;
    agent_commits(&worktree, "T.md", "t\n");
    s.fx.up.clear_requirements();
    s.fx.up.require_header("api.github.com", "authorization", &format!("Bearer {GITHUB_TOKEN}"));
    let refused = s.pr("tokenless", json!({})).await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(refused.body.contains("GH_TOKEN"), "{}", refused.body);
    assert!(s.fx.up.github().pulls.is_empty());
}

#[tokio::test]
async fn commit_then_push_ships_work_the_agent_left_uncommitted() {
    let s = fixture(&[("GH_TOKEN", GITHUB_TOKEN)]).await;
    s.repo.git(&["remote", "add", "origin", "https://github.com/acme/widgets.git"]).unwrap();
    s.repo.git(&["config", "user.name", "The User"]).unwrap();
    s.repo.git(&["config", "user.email", "user@example.com"]).unwrap();
    let worktree = s.session("loose", "read-only").await;
    std::fs::write(worktree.join("LOOSE.md"), "left uncommitted\n").unwrap();

    let empty = s.api("POST", "/api/sessions/loose/commit", Some(json!({"message": "  "}))).await;
    assert_eq!(empty.status, 400, "{}", empty.body);
    let reply =
        s.api("POST", "/api/sessions/loose/commit", Some(json!({"message": "what the agent left"}))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let report: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!((report["files"].as_u64(), report["branch"].as_str()), (Some(1), Some("clauderon/loose")));
    let again = s.api("POST", "/api/sessions/loose/commit", Some(json!({"message": "again"}))).await;
    assert_eq!(again.status, 409, "{}", again.body);

    let pushed = s.push("loose", false).await;
    assert_eq!(pushed.status, 200, "{}", pushed.body);
    let commit = report["commit"].as_str().unwrap();
    assert_eq!(s.remote_ref("clauderon/loose").as_deref(), Some(commit));
    assert_eq!(
        s.remote.git(&["log", "-1", "--format=%an|%s", commit]).unwrap(),
        "The User|what the agent left"
    );
    let shown = s.api("GET", "/api/sessions/loose", None).await;
    assert!(shown.body.contains("\"type\":\"committed\""), "{}", shown.body);
}

#[tokio::test]
async fn a_merged_pull_request_archives_the_session_when_configured() {
    let s = fixture_configured(&[("GH_TOKEN", GITHUB_TOKEN)], |c| c.sessions.archive_on_merge = true).await;
    github_api_needs_the_token(&s);
    s.repo.git(&["remote", "add", "origin", "https://github.com/acme/widgets.git"]).unwrap();
    let worktree = s.session("merged", "read-write").await;
    agent_commits(&worktree, "M.md", "m\n");
    assert_eq!(s.pr("merged", json!({})).await.status, 200);

    // Still open: a refresh changes nothing.
    let open = s.refresh("merged").await;
    assert_eq!((open["archived"].as_bool(), open["status"].as_str()), (Some(false), Some("running")));
    {
        let mut gh = s.fx.up.github();
        gh.pulls[0].state = "closed".into();
        gh.pulls[0].merged = true;
    }
    let merged = s.refresh("merged").await;
    assert_eq!(
        (merged["archived"].as_bool(), merged["status"].as_str()),
        (Some(true), Some("stopped")),
        "{merged}"
    );
    assert!(!worktree.exists(), "the clean worktree stays");
    assert!(s.repo.branches().unwrap().contains(&"clauderon/merged".to_string()), "the branch is kept");
    let start = s.api("POST", "/api/sessions/merged/start", None).await;
    assert_eq!(start.status, 409, "{}", start.body);
    assert!(
        start.body.contains("worktree is gone") && start.body.contains("--base clauderon/merged"),
        "{}",
        start.body
    );
}

/// The same from the web UI's Changes tab, in real Chromium: commit what the agent left, push,
/// open a pull request, follow it to merged; refusals in the API's words; the token nowhere in
/// the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_ui_commits_pushes_and_opens_a_pull_request() {
    use clauderon_testkit::browser::Driver;
    let s = fixture(&[("GH_TOKEN", GITHUB_TOKEN)]).await;
    github_api_needs_the_token(&s);
    s.repo.git(&["config", "user.name", "The User"]).unwrap();
    s.repo.git(&["config", "user.email", "user@example.com"]).unwrap();
    let worktree = s.session_with("webship", "read-only", "Fix the login bug").await;
    std::fs::write(worktree.join("LOGIN.md"), "fixed\n").unwrap();

    let d = &s.fx.d;
    let mut b = Driver::open(std::time::Duration::from_secs(20)).await;
    b.sign_in(&d.base_url(), d.api_token()).await;
    b.goto(&format!("{}/sessions/webship", d.base_url())).await;
    b.click_text("[role=tab]", "changes").await;
    b.wait_for("[data-testid=ship]", None).await;

    // No origin yet: the push is refused with the API's sentence, nothing changes.
    b.click_text("[data-testid=ship] button", "Push clauderon/webship").await;
    b.wait_for("[data-testid=ship-outcome][role=alert]", Some("no `origin` remote")).await;
    s.repo.git(&["remote", "add", "origin", "https://github.com/acme/widgets.git"]).unwrap();

    b.fill("#commit-message", "what the agent left").await;
    b.click_text("[data-testid=ship] button", "Commit").await;
    b.wait_for("[data-testid=ship-outcome][role=status]", Some("Committed 1 file on clauderon/webship"))
        .await;
    b.click_text("[data-testid=ship] button", "Push clauderon/webship").await;
    b.wait_for("[data-testid=ship-outcome][role=status]", Some("Pushed clauderon/webship")).await;
    let pushed = s.remote_ref("clauderon/webship").expect("the branch reached the origin");
    assert_eq!(
        s.remote.git(&["log", "-1", "--format=%an|%s", &pushed]).unwrap(),
        "The User|what the agent left"
    );

    b.fill("#pr-title", "From the browser").await;
    b.click_text("[data-testid=ship] button", "Open pull request").await;
    b.wait_for("[data-testid=ship-outcome][role=status]", Some("Pull request #1 is open")).await;
    b.wait_for("[data-testid=pull-request][data-state=open]", Some("#1")).await;
    assert_eq!(s.fx.up.github().pulls[0].title, "From the browser");

    // Merged on GitHub: Refresh shows it.
    {
        let mut gh = s.fx.up.github();
        gh.pulls[0].state = "closed".into();
        gh.pulls[0].merged = true;
    }
    b.click_text("[data-testid=pull-request] button", "Refresh").await;
    b.wait_for("[data-testid=pull-request][data-state=merged]", Some("merged")).await;

    let page = b.eval("document.documentElement.outerHTML + JSON.stringify({...localStorage})").await;
    assert_no_secret("the page", page.as_str().unwrap().as_bytes());
    b.viewport(390, 844).await;
    b.assert_fits_a_phone().await;
    b.close().await;
}
