//! `clauderon push` (`POST /api/sessions/{name}/push`): the daemon pushes a session's branch to
//! the repository's origin through its own proxy. The origin is `github.com`, which the proxy
//! sends to the test kit's TLS upstream running the real `git http-backend` (the real GitHub is
//! out of reach here). The upstream must see the real token on the push; the session, the API's
//! answers, the events, the audit and every file of the daemon must not. A read-only session's
//! own push stays refused while `clauderon push` of the same session goes through.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use clauderon_testkit::http::{Reply, Request as ApiRequest, unix};
use clauderon_testkit::upstream::git_backend::isolated_git;
use clauderon_testkit::{BareRepo, TestRepo, TlsUpstream, UpstreamOptions};
use common::{GITHUB_TOKEN, ProxyFixture, fixture_on};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

struct ShipFx {
    fx: ProxyFixture,
    /// The upstream's `acme/widgets`.
    remote: BareRepo,
    /// The user's repository the sessions are made from (its origin set by each test).
    repo: TestRepo,
    _git_root: tempfile::TempDir,
}

async fn fixture(env: &[(&str, &str)]) -> ShipFx {
    let git_root = tempfile::tempdir().unwrap();
    let remote = BareRepo::create(git_root.path(), "acme/widgets").unwrap();
    let up = TlsUpstream::start(UpstreamOptions {
        git_root: Some(git_root.path().to_path_buf()),
        ..Default::default()
    })
    .await;
    // As GitHub does: git over HTTPS needs the token (here, for every git request).
    up.require_header("github.com", "authorization", &common::github_basic());
    let fx = fixture_on(up, env, true).await;
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
        let body = json!({"repo_path": self.repo.path(), "prompt": "go", "name": name, "access_mode": mode});
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

/// Every file under `dir`, recursively (links not followed).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for entry in entries {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            out.extend(files(&path))
        } else if meta.is_file() {
            out.push(path)
        }
    }
    out
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
