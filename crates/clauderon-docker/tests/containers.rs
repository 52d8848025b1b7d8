//! The Docker backend's own promises, against the real engine: the host user's uid/gid,
//! commits on the session's branch but no way to plant a hook or change the host repository's
//! config, limits and marks on the container, clear errors for bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use clauderon_backend::{BackendError, BackendStatus, ProxyAccess, SessionBackend, SessionSpec};
use clauderon_types::{AgentKind, SessionId, SessionName, SessionOptions};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A uid/gid that is not root and not the test's own, as a host user would be.
const UID: u32 = 4242;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "safe.directory=*", "-c", "user.name=t", "-c", "user.email=t@t"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A repository with one commit and a session worktree on `clauderon/<name>`, everything owned
/// by `UID`, as the daemon would have made it for that user. The repo path has a space in it.
struct Checkout {
    dir: tempfile::TempDir,
    spec: SessionSpec,
}

fn checkout(label: &str, command: &str, options: SessionOptions) -> Checkout {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("my repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("README"), "hi\n").unwrap();
    git(&repo, &["add", "README"]);
    git(&repo, &["commit", "-q", "-m", "first"]);
    let id = SessionId::new();
    let name = SessionName::parse(&format!("{label}-{}", id.short())).unwrap();
    let worktree = dir.path().join("worktrees").join(name.as_str());
    let branch = format!("clauderon/{name}");
    git(&repo, &["worktree", "add", "-q", "-b", &branch, worktree.to_str().unwrap()]);
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let owner = format!("{UID}:{UID}");
    let st = Command::new("chown").args(["-R", &owner]).arg(dir.path()).status().unwrap();
    assert!(st.success());
    let spec = SessionSpec {
        session_id: id,
        name,
        worktree,
        repo,
        agent: AgentKind::Claude,
        prompt: String::new(),
        options: SessionOptions { command: Some(command.into()), ..options },
        home,
        placeholders: Vec::new(),
        proxy: ProxyAccess {
            user: "t".into(),
            secret: "s".into(),
            port: 9,
            ca_cert: dir.path().join("none.pem"),
        },
    };
    Checkout { dir, spec }
}

/// Wait for the container to exit; its logs.
async fn run_to_end(
    b: &dyn SessionBackend,
    spec: &SessionSpec,
) -> (clauderon_backend::BackendHandle, String) {
    let h = b.create(spec).await.unwrap();
    b.start(&h).await.unwrap();
    for _ in 0..200 {
        if b.status(&h).await.unwrap() == BackendStatus::Stopped {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let logs = b.logs(&h, 1000).await.unwrap();
    (h, logs)
}

#[tokio::test]
async fn runs_as_the_host_user_commits_on_its_branch_and_cannot_plant_a_hook() {
    let b = support::backend().await;
    let script = r#"
        id -u; id -g
        echo change > /workspace/file && git add file && git commit -q -m from-container && echo COMMITTED
        gitdir=$(git rev-parse --git-common-dir)
        printf '#!/bin/sh\necho pwned\n' > "$gitdir/hooks/pre-commit" && echo HOOK-PLANTED
        git config core.hooksPath /tmp/evil && echo CONFIG-CHANGED
        echo DONE
    "#;
    let c = checkout("hook", script, SessionOptions::default());
    let (h, logs) = run_to_end(b.as_ref(), &c.spec).await;
    b.delete(&h).await.unwrap();
    let lines: Vec<&str> = logs.lines().map(str::trim).collect();
    assert_eq!(lines.first().copied(), Some("4242"), "not the host user's uid: {logs}");
    assert_eq!(lines.get(1).copied(), Some("4242"), "not the host user's gid: {logs}");
    assert!(logs.contains("COMMITTED"), "the session could not commit: {logs}");
    assert!(logs.contains("DONE"), "{logs}");
    assert!(!logs.contains("HOOK-PLANTED"), "a hook was written: {logs}");
    assert!(!logs.contains("CONFIG-CHANGED"), "the host repository's config was changed: {logs}");
    let repo = &c.spec.repo;
    assert!(!repo.join(".git/hooks/pre-commit").exists(), "the hook exists on the host");
    assert!(!std::fs::read_to_string(repo.join(".git/config")).unwrap().contains("evil"));
    let branch = format!("clauderon/{}", c.spec.name);
    assert_eq!(git(repo, &["log", "-1", "--format=%s", &branch]), "from-container");
    assert_eq!(git(repo, &["log", "-1", "--format=%s", "main"]), "first", "main moved");
    drop(c.dir);
}

#[tokio::test]
async fn container_carries_limits_init_marks_and_no_privileges() {
    let b = support::backend().await;
    let options =
        SessionOptions { milli_cpus: Some(500), memory_bytes: Some(256 << 20), ..Default::default() };
    let c = checkout("limits", "sleep 300", options);
    let h = b.create(&c.spec).await.unwrap();
    let docker = b.docker().await.unwrap();
    let info = docker.inspect_container(h.as_str(), None).await.unwrap();
    b.delete(&h).await.unwrap();
    let host = info.host_config.unwrap();
    assert_eq!(host.nano_cpus, Some(500_000_000));
    assert_eq!(host.memory, Some(256 << 20));
    assert_eq!(host.init, Some(true));
    assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
    assert!(host.security_opt.unwrap_or_default().iter().any(|o| o == "no-new-privileges"));
    let config = info.config.unwrap();
    assert_eq!(config.user.as_deref(), Some("4242:4242"));
    let labels = config.labels.unwrap();
    assert_eq!(labels.get("dev.clauderon.session-id"), Some(&c.spec.session_id.to_string()));
    let env = config.env.unwrap();
    assert!(env.iter().any(|e| e == "HOME=/home/clauderon"), "{env:?}");
    assert!(env.iter().any(|e| e == "NODE_EXTRA_CA_CERTS=/etc/clauderon/ca.pem"), "{env:?}");
}

#[tokio::test]
async fn an_unknown_image_is_a_clear_error_and_leaves_nothing() {
    let b = support::backend().await;
    let options = SessionOptions { image: Some("clauderon-no-such-image:1".into()), ..Default::default() };
    let c = checkout("noimage", "true", options);
    let err = b.create(&c.spec).await.unwrap_err();
    assert!(err.to_string().contains("docker pull clauderon-no-such-image:1"), "{err}");
    let name = format!("clauderon-{}", c.spec.name);
    assert!(!b.list().await.unwrap().iter().any(|r| r.handle.as_str() == name));
}

#[tokio::test]
async fn a_name_clash_says_how_to_resolve_it() {
    let b = support::backend().await;
    let c = checkout("clash", "sleep 300", SessionOptions::default());
    let h = b.create(&c.spec).await.unwrap();
    let err = b.create(&c.spec).await.unwrap_err();
    b.delete(&h).await.unwrap();
    assert!(matches!(err, BackendError::Failed { .. }), "{err:?}");
    assert!(err.to_string().contains("docker rm -f"), "{err}");
}

#[tokio::test]
async fn an_engine_that_is_not_running_is_unavailable_with_what_to_do() {
    let settings = clauderon_docker::DockerSettings {
        docker_host: Some("unix:///nonexistent/docker.sock".into()),
        ..Default::default()
    };
    let b = clauderon_docker::DockerBackend::new(settings);
    let err = b.check().await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert!(err.to_string().contains("start it"), "{err}");
}

#[tokio::test]
async fn stop_and_start_keep_the_container_and_its_files() {
    let b = support::backend().await;
    let c = checkout(
        "keep",
        "test -f /tmp/kept && echo KEPT; date > /tmp/kept; sleep 300",
        SessionOptions::default(),
    );
    let h = b.create(&c.spec).await.unwrap();
    b.start(&h).await.unwrap();
    let id = |b: &str| support::docker_cli(&["inspect", "-f", "{{.Id}}", b]);
    let before = id(h.as_str());
    tokio::time::sleep(Duration::from_millis(500)).await;
    b.stop(&h).await.unwrap();
    assert_eq!(b.status(&h).await.unwrap(), BackendStatus::Stopped);
    b.start(&h).await.unwrap();
    let mut logs = String::new();
    for _ in 0..50 {
        logs = b.logs(&h, 100).await.unwrap();
        if logs.contains("KEPT") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = id(h.as_str());
    b.delete(&h).await.unwrap();
    assert_eq!(before, after, "start made a new container");
    assert!(logs.contains("KEPT"), "a file written before the stop was gone after the start: {logs}");
}

/// Whether the event stream reports `status` for `h` within 10 s.
async fn next_change(
    events: &mut tokio::sync::mpsc::Receiver<clauderon_backend::StatusChange>,
    h: &clauderon_backend::BackendHandle,
    status: BackendStatus,
) -> bool {
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(c) = events.recv().await {
            if &c.handle == h && c.status == status {
                return true;
            }
        }
        false
    });
    seen.await.unwrap_or(false)
}

/// The TTY has a usable size after every start, with nobody attached: agent TUIs draw nothing
/// at width 0 (the engine here predates `ConsoleSize`, so a new TTY starts at 0x0). That holds
/// for a `docker start` by hand too, while the backend watches the engine's events.
#[tokio::test]
async fn the_terminal_has_a_size_after_each_start_with_nobody_attached_even_a_start_by_hand() {
    let b = support::backend().await;
    let c = checkout(
        "tty",
        "echo start; while :; do echo \"size $(stty size)\"; sleep 0.2; done",
        SessionOptions::default(),
    );
    let (cols, rows) = clauderon_docker::DETACHED_TTY_SIZE;
    let want = format!("size {rows} {cols}");
    let h = b.create(&c.spec).await.unwrap();
    let wait_for_size = |starts: usize| {
        let b = b.clone();
        let h = h.clone();
        let want = want.clone();
        async move {
            let mut logs = String::new();
            for _ in 0..50 {
                logs = b.logs(&h, 10_000).await.unwrap();
                let after_last_start = logs.rsplit("start").next().unwrap_or_default();
                if logs.matches("start").count() == starts && after_last_start.contains(&want) {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(logs)
        }
    };
    b.start(&h).await.unwrap();
    let first = wait_for_size(1).await;
    b.stop(&h).await.unwrap();
    b.start(&h).await.unwrap();
    let second = wait_for_size(2).await;
    // Started by hand while the backend's event stream is watched (as the daemon does).
    let mut events = b.watch().expect("the Docker backend has an event stream");
    b.stop(&h).await.unwrap();
    let stopped = next_change(&mut events, &h, BackendStatus::Stopped).await;
    support::docker_cli(&["start", h.as_str()]);
    let by_hand = wait_for_size(3).await;
    let started = next_change(&mut events, &h, BackendStatus::Running).await;
    b.delete(&h).await.unwrap();
    if let Err(logs) = first {
        panic!("no `{want}` after the first start: {logs}");
    }
    if let Err(logs) = second {
        panic!("no `{want}` after a restart: {logs}");
    }
    assert!(stopped, "no `die` event from the watched engine");
    if let Err(logs) = by_hand {
        panic!("no `{want}` after a `docker start` by hand: {logs}");
    }
    assert!(started, "no `start` event for the container started by hand");
}
