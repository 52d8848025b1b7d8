#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Git's smart HTTP protocol on the test upstream: the real `git` client against the real
//! `git http-backend`, over real TLS on loopback (no proxy in between). `github.com` resolves
//! to the upstream through git's `http.curloptResolve`, so the URL, SNI and certificate name
//! are the real host's.

use clauderon_testkit::upstream::get_via;
use clauderon_testkit::upstream::git_backend::isolated_git;
use clauderon_testkit::{BareRepo, TlsUpstream, UpstreamOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

struct GitFx {
    up: TlsUpstream,
    repo: BareRepo,
    ca: PathBuf,
    home: tempfile::TempDir,
    work: tempfile::TempDir,
    _root: tempfile::TempDir,
}

async fn git_fixture() -> GitFx {
    let root = tempfile::tempdir().unwrap();
    let repo = BareRepo::create(root.path(), "acme/widgets").unwrap();
    let up = TlsUpstream::start(UpstreamOptions {
        git_root: Some(root.path().to_path_buf()),
        ..Default::default()
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let ca = up.ca().write_pem(home.path());
    GitFx { up, repo, ca, home, work: tempfile::tempdir().unwrap(), _root: root }
}

impl GitFx {
    fn url(&self) -> String {
        format!("https://github.com:{}/acme/widgets.git", self.up.addr().port())
    }

    /// `git -c http.sslCAInfo=<upstream CA> -c http.curloptResolve=github.com:<port>:127.0.0.1
    /// <args>` in `dir`, isolated from the machine's git config and environment.
    async fn git(&self, dir: &Path, extra: &[&str], args: &[&str]) -> Output {
        let resolve = format!("http.curloptResolve=github.com:{}:127.0.0.1", self.up.addr().port());
        let ca = format!("http.sslCAInfo={}", self.ca.display());
        let mut cmd = isolated_git(self.home.path());
        cmd.current_dir(dir).args(["-c", &ca, "-c", &resolve]);
        for e in extra {
            cmd.args(["-c", e]);
        }
        cmd.args(args).output().await.unwrap()
    }

    async fn git_ok(&self, dir: &Path, extra: &[&str], args: &[&str]) -> Output {
        let out = self.git(dir, extra, args).await;
        assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        out
    }

    async fn clone(&self) -> PathBuf {
        self.git_ok(self.work.path(), &[], &["clone", "--quiet", &self.url(), "widgets"]).await;
        self.work.path().join("widgets")
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test]
async fn git_clone_over_https_runs_the_real_http_backend_and_is_recorded() {
    let fx = git_fixture().await;
    let clone = fx.clone().await;
    assert_eq!(std::fs::read_to_string(clone.join("README.md")).unwrap(), "hello\n");
    let head = fx.git_ok(&clone, &[], &["rev-parse", "HEAD"]).await;
    assert_eq!(stdout(&head), fx.repo.main);

    let reqs = fx.up.requests();
    let refs = reqs
        .iter()
        .find(|r| r.method == "GET" && r.path == "/acme/widgets.git/info/refs?service=git-upload-pack")
        .unwrap_or_else(|| panic!("no ref advertisement recorded: {reqs:?}"));
    assert_eq!(refs.sni.as_deref(), Some("github.com"));
    assert_eq!(refs.host_name(), "github.com");
    // Protocol v2: one upload-pack POST lists the refs, the next fetches what it wants.
    let uploads: Vec<_> =
        reqs.iter().filter(|r| r.method == "POST" && r.path == "/acme/widgets.git/git-upload-pack").collect();
    assert!(uploads.iter().any(|r| r.body_text().contains("command=ls-refs")), "{uploads:?}");
    let fetch = uploads
        .iter()
        .find(|r| r.body_text().contains(&format!("want {}", fx.repo.main)))
        .unwrap_or_else(|| panic!("no git-upload-pack fetch recorded: {reqs:?}"));
    assert_eq!(fetch.header("content-type"), Some("application/x-git-upload-pack-request"));
    assert_eq!(fetch.header("git-protocol"), Some("version=2"));
    assert_eq!(fetch.body_len, fetch.body.len() as u64, "the body was not recorded whole");
}

#[tokio::test]
async fn git_push_to_a_new_branch_lands_in_the_bare_repository() {
    let fx = git_fixture().await;
    let clone = fx.clone().await;
    std::fs::write(clone.join("NOTES.md"), "pushed over https\n").unwrap();
    fx.git_ok(&clone, &[], &["add", "NOTES.md"]).await;
    fx.git_ok(&clone, &[], &["commit", "--quiet", "-m", "notes"]).await;
    fx.git_ok(&clone, &[], &["push", "--quiet", "origin", "HEAD:refs/heads/feature"]).await;

    let local = stdout(&fx.git_ok(&clone, &[], &["rev-parse", "HEAD"]).await);
    assert_eq!(fx.repo.git(&["rev-parse", "feature"]).unwrap(), local);
    assert_eq!(fx.repo.git(&["rev-parse", "main"]).unwrap(), fx.repo.main, "main must not move");
    let reqs = fx.up.requests();
    assert!(
        reqs.iter().any(|r| r.path == "/acme/widgets.git/info/refs?service=git-receive-pack"),
        "{reqs:?}"
    );
    let push = reqs
        .iter()
        .find(|r| r.method == "POST" && r.path == "/acme/widgets.git/git-receive-pack")
        .unwrap_or_else(|| panic!("no git-receive-pack recorded: {reqs:?}"));
    assert_eq!(push.header("content-type"), Some("application/x-git-receive-pack-request"));
    assert!(push.body_len > 0);
}

#[tokio::test]
async fn basic_auth_becomes_the_pushers_remote_user() {
    let fx = git_fixture().await;
    fx.repo.git(&["config", "core.logAllRefUpdates", "always"]).unwrap();
    let clone = fx.clone().await;
    // alice:pw. Git sends credentials only after a 401, which this backend never answers, so
    // the header is set outright (as the proxy does).
    let auth = "http.extraHeader=Authorization: Basic YWxpY2U6cHc=";
    fx.git_ok(&clone, &[auth], &["push", "--quiet", "origin", "HEAD:refs/heads/by-alice"]).await;
    // git http-backend names the pusher after REMOTE_USER in the reflog.
    assert_eq!(fx.repo.git(&["log", "-g", "--format=%gn", "by-alice"]).unwrap(), "alice");
    let reqs = fx.up.requests();
    let push = reqs.iter().find(|r| r.path.ends_with("/git-receive-pack")).unwrap();
    assert_eq!(push.header("authorization"), Some("Basic YWxpY2U6cHc="));
}

#[tokio::test]
async fn a_large_fetch_negotiation_arrives_gzipped_and_git_inflates_it() {
    let fx = git_fixture().await;
    // 60 branches, each on its own commit: the clone's want list is over the 1 KiB at which
    // git gzips an upload-pack request.
    let mut stream = String::new();
    for i in 0..60 {
        let msg = format!("branch {i}\n");
        stream.push_str(&format!(
            "commit refs/heads/b{i}\ncommitter T <t@example.invalid> 1700000000 +0000\ndata {}\n{msg}from {}\n\n",
            msg.len(),
            fx.repo.main
        ));
    }
    let mut import = std::process::Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(&fx.repo.path)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    import.stdin.take().unwrap().write_all(stream.as_bytes()).unwrap();
    assert!(import.wait().unwrap().success());

    let clone = fx.clone().await;
    let branches = stdout(&fx.git_ok(&clone, &[], &["branch", "-r", "--format=%(refname)"]).await);
    assert_eq!(branches.lines().filter(|b| b.starts_with("refs/remotes/origin/b")).count(), 60, "{branches}");
    let reqs = fx.up.requests();
    let gzipped = reqs
        .iter()
        .filter(|r| r.path.ends_with("/git-upload-pack"))
        .find(|r| r.header("content-encoding") == Some("gzip"))
        .unwrap_or_else(|| panic!("no gzipped git-upload-pack request: {reqs:?}"));
    assert_eq!(&gzipped.body[..2], &[0x1f, 0x8b], "the recorded body is the gzip stream as sent");
}

#[tokio::test]
async fn other_paths_keep_their_routes_and_unknown_repositories_are_not_handed_to_git() {
    let fx = git_fixture().await;
    assert_eq!(get_via(fx.up.addr(), "github.com", "/small", fx.up.ca()).await.status, 200);
    let missing = get_via(fx.up.addr(), "github.com", "/acme/missing.git/info/refs", fx.up.ca()).await;
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains("no such route"), "{}", missing.text());
    // A repository path that git itself refuses: its own 404, from the CGI.
    let bad = get_via(fx.up.addr(), "github.com", "/acme/widgets.git/no-such-file", fx.up.ca()).await;
    assert_eq!(bad.status, 404);
    assert!(!bad.text().contains("no such route"), "{}", bad.text());

    // Without a git root, repository paths are just unknown routes.
    let plain = TlsUpstream::start_default().await;
    let resp = get_via(
        plain.addr(),
        "github.com",
        "/acme/widgets.git/info/refs?service=git-upload-pack",
        plain.ca(),
    )
    .await;
    assert_eq!(resp.status, 404);
    assert!(resp.text().contains("no such route"), "{}", resp.text());
}
