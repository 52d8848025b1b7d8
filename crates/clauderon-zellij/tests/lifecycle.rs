//! What the contract does not pin but users rely on, against real zellij: a process that ends
//! makes the session stopped while its output stays readable; a stopped session keeps its last
//! screen for `logs`; starting again runs the command afresh; `environment` says what the
//! process got.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use clauderon_backend::contract::Fixture;
use clauderon_backend::{BackendStatus, SessionBackend};
use clauderon_types::SandboxLevel;
use std::time::Duration;

/// The session's last lines once they contain `marker` (10 s at most: zellij draws late on a
/// loaded machine), or what they were then.
async fn logs_with(b: &dyn SessionBackend, h: &clauderon_backend::BackendHandle, marker: &str) -> String {
    let mut seen = String::new();
    for _ in 0..200 {
        seen = b.logs(h, 10).await.unwrap();
        if seen.contains(marker) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seen
}

async fn wait_status(b: &dyn SessionBackend, h: &clauderon_backend::BackendHandle, want: BackendStatus) {
    for _ in 0..100 {
        if b.status(h).await.unwrap() == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("status never became {want:?}");
}

/// A process that ends right after a flood of output: its `exit-status` appears while zellij
/// may still be drawing the output, and the logs read once at that moment must still end with
/// its last line.
#[tokio::test]
async fn the_logs_read_the_moment_a_process_ends_hold_its_last_line() {
    let b = support::backend(SandboxLevel::Fs);
    let mut f = Fixture::new("flood").unwrap();
    f.spec.options.command = Some("seq 1 30000; echo the-very-end".into());
    let h = b.create(&f.spec).await.unwrap();
    b.start(&h).await.unwrap();
    wait_status(b.as_ref(), &h, BackendStatus::Stopped).await;
    let tail = b.logs(&h, 5).await.unwrap();
    b.delete(&h).await.unwrap();
    assert!(tail.contains("the-very-end"), "{tail:?}");
}

#[tokio::test]
async fn an_ended_process_is_stopped_and_its_output_stays_readable() {
    let b = support::backend(SandboxLevel::Fs);
    let mut f = Fixture::new("ends").unwrap();
    f.spec.options.command = Some("echo first-line; echo last-words; exit 3".into());
    let h = b.create(&f.spec).await.unwrap();
    b.start(&h).await.unwrap();
    wait_status(b.as_ref(), &h, BackendStatus::Stopped).await;
    let logs = logs_with(b.as_ref(), &h, "last-words").await;
    assert!(logs.contains("last-words"), "{logs:?}");
    // Read at once after the process ended: the backend waits for the last screen itself.
    let tail = b.logs(&h, 1).await.unwrap();
    assert_eq!(tail.lines().count(), 1, "tail is honoured: {tail:?}");
    b.start(&h).await.unwrap();
    // Started again, the command runs again: its first line shows once the new pane has it.
    let seen = logs_with(b.as_ref(), &h, "first-line").await;
    assert!(seen.contains("first-line"), "{seen:?}");
    b.delete(&h).await.unwrap();
    assert_eq!(b.status(&h).await.unwrap(), BackendStatus::Missing);
}

#[tokio::test]
async fn a_stopped_session_keeps_its_last_screen() {
    let b = support::backend(SandboxLevel::Off);
    let mut f = Fixture::new("keeps").unwrap();
    f.spec.options.command = Some("echo kept-marker; sleep 300".into());
    let h = b.create(&f.spec).await.unwrap();
    b.start(&h).await.unwrap();
    let shown = logs_with(b.as_ref(), &h, "kept-marker").await;
    assert!(shown.contains("kept-marker"), "the command's output never showed: {shown:?}");
    let env = b.environment(&h).await.unwrap().unwrap();
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("HOME"), Some(f.spec.home.to_string_lossy().into_owned()), "{env:?}");
    assert!(get("HTTPS_PROXY").is_some_and(|p| p.contains("@127.0.0.1:")), "{env:?}");
    assert_eq!(get("CLAUDERON_SANDBOX").as_deref(), Some("off"));
    b.stop(&h).await.unwrap();
    assert_eq!(b.status(&h).await.unwrap(), BackendStatus::Stopped);
    assert!(b.logs(&h, 10).await.unwrap().contains("kept-marker"));
    b.delete(&h).await.unwrap();
}

#[tokio::test]
async fn asking_for_a_sandbox_without_bubblewrap_says_what_to_install() {
    let data = tempfile::tempdir().unwrap();
    let mut s = support::settings(data.path(), data.path(), SandboxLevel::Full);
    s.bwrap = "/nonexistent/bwrap".into();
    let b = clauderon_zellij::ZellijBackend::new(s).unwrap();
    let f = Fixture::new("nobwrap").unwrap();
    let err = b.create(&f.spec).await.unwrap_err().to_string();
    assert!(err.contains("apt-get install bubblewrap"), "{err}");
    assert_eq!(b.sandbox_for(Some(SandboxLevel::Off)).await.unwrap(), SandboxLevel::Off);
}

/// In the `fs` sandbox the session commits on its branch (the repository's git dir is
/// writable) but cannot plant a hook or change the repository's config, which run on the host.
#[tokio::test]
async fn a_sandboxed_session_commits_but_cannot_touch_hooks_or_config() {
    let repo = clauderon_testkit::TestRepo::new().unwrap();
    let b = support::backend(SandboxLevel::Fs);
    let mut f = Fixture::new("git").unwrap();
    let worktree = f.spec.worktree.join("wt");
    repo.git(&["worktree", "add", "-q", "-b", "clauderon/git-test", worktree.to_str().unwrap()]).unwrap();
    f.spec.repo = repo.path_buf();
    f.spec.worktree = worktree.clone();
    f.spec.options.command = Some(
        "git -c user.name=t -c user.email=t@t commit -q --allow-empty -m from-the-sandbox; echo commit=$?; \
         echo 'echo pwned' > \"$(git rev-parse --git-common-dir)/hooks/post-checkout\"; echo hook=$?; \
         git config --file \"$(git rev-parse --git-common-dir)/config\" core.hooksPath /tmp; echo config=$?; \
         echo finished"
            .into(),
    );
    let h = b.create(&f.spec).await.unwrap();
    b.start(&h).await.unwrap();
    wait_status(b.as_ref(), &h, BackendStatus::Stopped).await;
    let logs = b.logs(&h, 50).await.unwrap();
    b.delete(&h).await.unwrap();
    assert!(logs.contains("finished"), "{logs}");
    assert!(logs.contains("commit=0"), "the session could not commit: {logs}");
    assert!(!logs.contains("hook=0"), "the session wrote a hook: {logs}");
    assert!(!logs.contains("config=0"), "the session changed the repository's config: {logs}");
    assert!(!repo.path().join(".git/hooks/post-checkout").exists());
    let subject = repo.git(&["log", "-1", "--format=%s", "clauderon/git-test"]).unwrap();
    assert_eq!(subject.trim(), "from-the-sandbox");
}
