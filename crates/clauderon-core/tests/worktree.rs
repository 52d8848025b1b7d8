//! Worktree operations against real git repositories.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use clauderon_core::CoreError;
use clauderon_core::worktree;
use clauderon_testkit::TestRepo;
use clauderon_testkit::git::git_in;

#[tokio::test]
async fn add_then_remove_leaves_git_clean() {
    let repo = TestRepo::new().unwrap();
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("worktrees/one");
    let head = worktree::resolve_commit(repo.path(), "HEAD").await.unwrap();
    worktree::add(repo.path(), &path, "clauderon/one", &head).await.unwrap();
    assert_eq!(git_in(&path, &["rev-parse", "HEAD"]).unwrap(), head);
    assert_eq!(git_in(&path, &["branch", "--show-current"]).unwrap(), "clauderon/one");
    assert!(worktree::disk_usage(&path).unwrap() > 0);

    worktree::remove(repo.path(), &path, false).await.unwrap();
    assert!(!path.exists());
    assert!(repo.worktrees().unwrap().is_empty(), "git still knows the worktree");
    assert!(repo.branches().unwrap().contains(&"clauderon/one".to_string()), "remove keeps the branch");
    worktree::delete_branch(repo.path(), "clauderon/one").await.unwrap();
    assert_eq!(repo.branches().unwrap(), ["main"]);
    assert_eq!(worktree::disk_usage(&path), None);
}

#[tokio::test]
async fn a_subfolder_resolves_to_the_top_level() {
    let repo = TestRepo::new().unwrap();
    std::fs::create_dir(repo.path().join("sub")).unwrap();
    let top = worktree::repo_toplevel(&repo.path().join("sub")).await.unwrap();
    assert_eq!(std::fs::canonicalize(top).unwrap(), std::fs::canonicalize(repo.path()).unwrap());
}

#[tokio::test]
async fn empty_repository_says_to_commit_first() {
    let dir = tempfile::tempdir().unwrap();
    git_in(dir.path(), &["init", "-q"]).unwrap();
    let err = worktree::resolve_commit(dir.path(), "HEAD").await.unwrap_err().to_string();
    assert!(err.contains("no commits yet"), "{err}");
}

#[tokio::test]
async fn uncommitted_work_is_detected_untracked_included() {
    let repo = TestRepo::new().unwrap();
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("work");
    let head = worktree::resolve_commit(repo.path(), "HEAD").await.unwrap();
    worktree::add(repo.path(), &path, "clauderon/work", &head).await.unwrap();
    let session_git = worktree::session_git(repo.path(), &path).unwrap();
    assert!(!worktree::has_uncommitted_work(&session_git).await.unwrap());
    std::fs::write(path.join("new.txt"), "x").unwrap();
    assert!(worktree::has_uncommitted_work(&session_git).await.unwrap());
    std::fs::write(repo.path().join("new.txt"), "x").unwrap();
    assert!(
        !worktree::has_tracked_changes(repo.path()).await.unwrap(),
        "untracked files do not make a checkout dirty"
    );
    std::fs::write(repo.path().join("README.md"), "changed").unwrap();
    assert!(worktree::has_tracked_changes(repo.path()).await.unwrap());
}

#[tokio::test]
async fn refusing_remove_keeps_uncommitted_work() {
    let repo = TestRepo::new().unwrap();
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("wt");
    let head = worktree::resolve_commit(repo.path(), "HEAD").await.unwrap();
    worktree::add(repo.path(), &path, "clauderon/wt", &head).await.unwrap();
    std::fs::write(path.join("README.md"), "edited").unwrap();
    let err = worktree::remove(repo.path(), &path, false).await.unwrap_err();
    assert!(matches!(err, CoreError::Conflict(_)), "{err}");
    assert_eq!(std::fs::read_to_string(path.join("README.md")).unwrap(), "edited");
    worktree::remove(repo.path(), &path, true).await.unwrap();
    assert!(!path.exists());
}

#[tokio::test]
async fn remove_of_a_vanished_folder_still_prunes() {
    let repo = TestRepo::new().unwrap();
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("gone");
    let head = worktree::resolve_commit(repo.path(), "HEAD").await.unwrap();
    worktree::add(repo.path(), &path, "clauderon/gone", &head).await.unwrap();
    std::fs::remove_dir_all(&path).unwrap();
    worktree::remove(repo.path(), &path, false).await.unwrap();
    assert!(repo.worktrees().unwrap().is_empty());
}
