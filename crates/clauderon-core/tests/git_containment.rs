//! Host-side git runs nothing a session planted (issue 11, item 1). The attack script writes
//! traps into every place a session's git metadata reaches; here it runs as a plain process
//! that can write all of them (as a session could before backends narrowed their mounts), so
//! this proves the hardening of clauderon's own git alone. The escape suites run the same
//! script inside real Docker and Zellij sessions, mounts included.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use clauderon_core::worktree;
use clauderon_testkit::TestRepo;
use clauderon_testkit::attacks::{self, GIT_PLANT};
use std::process::Command;

#[tokio::test]
async fn clauderons_git_runs_no_planted_config_hook_filter_or_submodule() {
    let repo = TestRepo::new().unwrap();
    let data = tempfile::tempdir().unwrap();
    let wt = data.path().join("worktrees/victim");
    let head = worktree::resolve_commit(repo.path(), "HEAD").await.unwrap();
    worktree::add(repo.path(), &wt, "clauderon/victim", &head).await.unwrap();
    let session_git = worktree::session_git(repo.path(), &wt).unwrap();
    // A second session's worktree, whose metadata the attacker also reaches.
    worktree::add(repo.path(), &data.path().join("worktrees/other"), "clauderon/other", &head).await.unwrap();

    let nonce = attacks::nonce();
    let script = data.path().join("git_plant.sh");
    std::fs::write(&script, GIT_PLANT).unwrap();
    let out = data.path().join("outcomes");
    let status = Command::new("sh").arg(&script).arg(&nonce).arg(&out).current_dir(&wt).status().unwrap();
    assert!(status.success());
    let outcomes = attacks::outcomes(&out).expect("the attack finished");
    for vector in ["dotgit", "meta-commondir", "common-commondir", "submodule", "other-worktree"] {
        assert_eq!(outcomes.get(vector), Some(&true), "{vector} planted: {outcomes:?}");
    }
    assert!(attacks::pwned(&nonce).is_empty(), "the attack itself tripped nothing");

    // Control: the plain git clauderon ran before (and `git worktree remove`, which enters
    // submodules) runs the planted programs.
    let plain = Command::new("git").arg("-C").arg(&wt).args(["status", "--porcelain"]).output().unwrap();
    assert!(plain.status.success() || !plain.stderr.is_empty());
    assert!(!attacks::pwned(&nonce).is_empty(), "a plain git in the worktree runs the planted fsmonitor");
    attacks::clear_pwned(&nonce);

    // clauderon's own git, through every operation the daemon runs.
    assert!(worktree::has_uncommitted_work(&session_git).await.unwrap(), "the planted files are work");
    assert!(!worktree::has_tracked_changes(repo.path()).await.unwrap());
    assert!(worktree::branch_exists(repo.path(), "clauderon/victim").await.unwrap());
    worktree::resolve_commit(repo.path(), "HEAD").await.unwrap();
    let refused = worktree::remove(repo.path(), &wt, false).await.unwrap_err();
    assert!(refused.to_string().contains("uncommitted work"), "{refused}");
    worktree::remove(repo.path(), &wt, true).await.unwrap();
    worktree::delete_branch(repo.path(), "clauderon/victim").await.unwrap();
    assert!(!wt.exists());
    // The `commondir`s and `objects/info/alternates` planted in the repository's git dir (its own
    // and the other worktree's) point at folders that went with the worktree: git then refuses
    // to add worktrees at all (backends make these impossible to plant). Without them, a new worktree's checkout meets the planted
    // hooks, config and attributes.
    std::fs::remove_file(repo.path().join(".git/commondir")).unwrap();
    std::fs::remove_file(repo.path().join(".git/objects/info/alternates")).unwrap();
    std::fs::write(repo.path().join(".git/worktrees/other/commondir"), "../..\n").unwrap();
    let fresh = data.path().join("worktrees/next");
    worktree::add(repo.path(), &fresh, "clauderon/next", &head).await.unwrap();
    assert_eq!(
        attacks::pwned(&nonce),
        Vec::<std::path::PathBuf>::new(),
        "clauderon's git ran a planted program"
    );
}
