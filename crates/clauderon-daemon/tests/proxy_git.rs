//! Real `git` over HTTPS through the daemon's proxy: a session's git holds no credential at
//! all (none in the URL, none in its config, prompts off), trusts only clauderon's CA, and
//! reaches `https://github.com/acme/widgets.git`, which the proxy sends to the test kit's
//! upstream running the real `git http-backend`. The proxy puts the GitHub token on each
//! request as Basic auth; git never sees it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use clauderon_testkit::BareRepo;
use clauderon_testkit::files::files;
use clauderon_testkit::upstream::RecordedRequest;
use clauderon_testkit::upstream::git_backend::isolated_git;
use common::{GITHUB_TOKEN, ProxyFixture, fixture_on};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

const URL: &str = "https://github.com/acme/widgets.git";

struct GitFx {
    fx: ProxyFixture,
    repo: BareRepo,
    /// The git client's HOME (empty) and working folder.
    home: tempfile::TempDir,
    work: tempfile::TempDir,
    _git_root: tempfile::TempDir,
}

/// A daemon holding only `GH_TOKEN`, whose proxy reaches github.com at an upstream serving
/// `acme/widgets` over git http-backend, with one session named `agent`.
async fn fixture() -> GitFx {
    let (git_root, repo, up) = common::git_upstream().await;
    let fx = fixture_on(up, &[("GH_TOKEN", GITHUB_TOKEN)], true).await;
    GitFx {
        fx,
        repo,
        home: tempfile::tempdir().unwrap(),
        work: tempfile::tempdir().unwrap(),
        _git_root: git_root,
    }
}

impl GitFx {
    /// `git -c http.proxy=<the session's proxy URL> -c http.sslCAInfo=<clauderon's CA> <args>`
    /// in `dir`: what a session's git is given, and nothing else.
    async fn git(&self, dir: &Path, args: &[&str]) -> Output {
        let proxy = format!("http.proxy={}", self.fx.proxy_url());
        let ca = format!("http.sslCAInfo={}", self.fx.d.ca_cert().display());
        let mut cmd = isolated_git(self.home.path());
        cmd.current_dir(dir).args(["-c", &proxy, "-c", &ca]).args(args);
        tokio::time::timeout(Duration::from_secs(60), cmd.output()).await.expect("git hung").unwrap()
    }

    async fn git_ok(&self, dir: &Path, args: &[&str]) -> Output {
        let out = self.git(dir, args).await;
        assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        self.assert_no_secret("git's output", &[out.stdout.as_slice(), out.stderr.as_slice()].concat());
        out
    }

    async fn clone(&self) -> PathBuf {
        self.git_ok(self.work.path(), &["clone", URL, "widgets"]).await;
        self.work.path().join("widgets")
    }

    /// Neither the token, nor the Basic value built from it, nor the session's proxy secret.
    fn assert_no_secret(&self, what: &str, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        for secret in [GITHUB_TOKEN, &common::github_basic()["Basic ".len()..], &self.fx.access.secret] {
            assert!(!text.contains(secret), "{what} holds a secret: {text}");
        }
    }

    /// Requests for the repository the upstream received.
    fn git_requests(&self) -> Vec<RecordedRequest> {
        self.fx.up.requests().into_iter().filter(|r| r.path.starts_with("/acme/widgets.git/")).collect()
    }

    async fn audit(&self) -> Vec<Value> {
        common::audit(&self.fx).await
    }
}

fn assert_injected(reqs: &[RecordedRequest]) {
    for r in reqs {
        assert_eq!(
            r.header_all("authorization"),
            vec![common::github_basic().as_str()],
            "{} {}",
            r.method,
            r.path
        );
        assert_eq!(r.header("proxy-authorization"), None, "the proxy identity leaked upstream");
        assert_eq!(r.sni.as_deref(), Some("github.com"));
    }
}

#[tokio::test]
async fn git_clone_through_the_proxy_gets_the_token_injected_and_never_sees_it() {
    let fx = fixture().await;
    let clone = fx.clone().await;
    assert_eq!(std::fs::read_to_string(clone.join("README.md")).unwrap(), "hello\n");
    let head = fx.git_ok(&clone, &["rev-parse", "HEAD"]).await;
    assert_eq!(String::from_utf8_lossy(&head.stdout).trim(), fx.repo.main);

    let reqs = fx.git_requests();
    assert!(reqs.iter().any(|r| r.path == "/acme/widgets.git/info/refs?service=git-upload-pack"), "{reqs:?}");
    assert!(reqs.iter().any(|r| r.method == "POST" && r.path.ends_with("/git-upload-pack")), "{reqs:?}");
    assert_injected(&reqs);

    // Nothing the clone keeps holds a secret: not .git/config, not anything else.
    let config = std::fs::read_to_string(clone.join(".git/config")).unwrap();
    assert!(config.contains(URL), "{config}");
    for file in files(&clone.join(".git")) {
        fx.assert_no_secret(&file.display().to_string(), &std::fs::read(&file).unwrap());
    }
    for file in files(fx.home.path()) {
        fx.assert_no_secret(&file.display().to_string(), &std::fs::read(&file).unwrap());
    }

    let audit = fx.audit().await;
    let git_entries: Vec<&Value> =
        audit.iter().filter(|e| e["path"].as_str().unwrap_or("").starts_with("/acme/widgets.git/")).collect();
    assert!(
        git_entries.iter().any(|e| e["path"].as_str().unwrap().ends_with("/git-upload-pack")),
        "no git-upload-pack in the audit: {audit:?}"
    );
    for e in &git_entries {
        assert_eq!(e["host"], "github.com", "{e}");
        assert_eq!(e["credential"], "github_token", "{e}");
        assert_eq!(e["decision"], "injected", "{e}");
    }
    for e in &audit {
        fx.assert_no_secret("the audit", e.to_string().as_bytes());
    }
}

/// Read-only refuses the push (both the `git-receive-pack` advertisement and the POST) with a
/// message that says how to change the mode, while clone and fetch work; switching to
/// read-write lets the very next push through, nothing restarted.
#[tokio::test]
async fn read_only_refuses_git_push_until_the_session_is_read_write() {
    let fx = fixture().await;
    common::set_mode(&fx.fx, "read-only").await;
    let clone = fx.clone().await;
    std::fs::write(clone.join("NOTES.md"), "pushed through clauderon\n").unwrap();
    fx.git_ok(&clone, &["add", "NOTES.md"]).await;
    fx.git_ok(&clone, &["commit", "--quiet", "-m", "notes"]).await;
    fx.git_ok(&clone, &["fetch", "origin"]).await;
    fx.fx.up.clear();

    let refused = fx.git(&clone, &["push", "origin", "HEAD:refs/heads/agent-work"]).await;
    assert!(!refused.status.success(), "a read-only push went through");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("403"), "{stderr}");
    fx.assert_no_secret("git's output", &refused.stderr);
    assert!(
        fx.git_requests().iter().all(|r| !r.path.contains("receive-pack")),
        "a push request reached upstream"
    );
    assert!(
        fx.repo.git(&["rev-parse", "--verify", "--quiet", "agent-work"]).is_err(),
        "the branch was created"
    );
    let audit = fx.audit().await;
    let denied = audit
        .iter()
        .find(|e| e["path"].as_str().unwrap_or("").contains("service=git-receive-pack"))
        .unwrap_or_else(|| panic!("no refused advertisement in the audit: {audit:?}"));
    assert_eq!(denied["decision"], "denied", "{denied}");
    assert!(denied["reason"].as_str().unwrap().contains("read-only: git push"), "{denied}");
    assert_eq!(denied["status"], 403, "{denied}");

    // The message the session sees, as curl shows it.
    let mut curl = common::curl();
    curl.args(["-sS", "--proxy", &fx.fx.proxy_url(), "--cacert"])
        .arg(fx.fx.d.ca_cert())
        .arg(format!("{URL}/info/refs?service=git-receive-pack"));
    let body = common::run(curl).await;
    let text = String::from_utf8_lossy(&body.stdout);
    assert!(
        text.contains("read-only") && text.contains("clauderon set-access-mode agent read-write"),
        "{text}"
    );

    common::set_mode(&fx.fx, "read-write").await;
    fx.git_ok(&clone, &["push", "origin", "HEAD:refs/heads/agent-work"]).await;
    let local = fx.git_ok(&clone, &["rev-parse", "HEAD"]).await;
    assert_eq!(
        fx.repo.git(&["rev-parse", "agent-work"]).unwrap(),
        String::from_utf8_lossy(&local.stdout).trim()
    );
}

#[tokio::test]
async fn git_push_to_a_new_branch_through_the_proxy_succeeds() {
    let fx = fixture().await;
    let clone = fx.clone().await;
    std::fs::write(clone.join("NOTES.md"), "pushed through clauderon\n").unwrap();
    fx.git_ok(&clone, &["add", "NOTES.md"]).await;
    fx.git_ok(&clone, &["commit", "--quiet", "-m", "notes"]).await;
    fx.fx.up.clear();

    // The fixture's session is read-write, so the push goes through.
    fx.git_ok(&clone, &["push", "origin", "HEAD:refs/heads/agent-work"]).await;

    let local = fx.git_ok(&clone, &["rev-parse", "HEAD"]).await;
    assert_eq!(
        fx.repo.git(&["rev-parse", "agent-work"]).unwrap(),
        String::from_utf8_lossy(&local.stdout).trim()
    );
    assert_eq!(fx.repo.git(&["rev-parse", "main"]).unwrap(), fx.repo.main, "main must not move");
    let reqs = fx.git_requests();
    assert!(
        reqs.iter().any(|r| r.path == "/acme/widgets.git/info/refs?service=git-receive-pack"),
        "{reqs:?}"
    );
    assert!(reqs.iter().any(|r| r.method == "POST" && r.path.ends_with("/git-receive-pack")), "{reqs:?}");
    assert_injected(&reqs);
    let audit = fx.audit().await;
    let push = audit
        .iter()
        .find(|e| e["method"] == "POST" && e["path"].as_str().unwrap_or("").ends_with("/git-receive-pack"))
        .unwrap_or_else(|| panic!("no git-receive-pack in the audit: {audit:?}"));
    assert_eq!(push["credential"], "github_token", "{push}");
    assert!(push["bytes_up"].as_u64().unwrap() > 0, "{push}");
}
