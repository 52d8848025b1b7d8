//! Git worktrees for sessions, through the `git` command line.
//!
//! Each function checks before it changes anything, and `add` undoes its own
//! partial work on failure, so a refused create leaves nothing behind.

use crate::error::CoreError;
use clauderon_backend::host_git;
use clauderon_types::SessionGit;
use std::path::{Path, PathBuf};
use tokio::process::Command;

mod diff;
mod push;
pub use diff::session_diff;
pub use push::{HttpsRemote, PushProxy, Pushed, https_remote, origin_push_url, push_branch};

/// The prefix of every branch clauderon creates.
pub const BRANCH_PREFIX: &str = "clauderon/";

pub fn branch_for(name: &str) -> String {
    format!("{BRANCH_PREFIX}{name}")
}

/// git in `dir` (the user's repository), hardened: see [`host_git`].
async fn git(dir: &Path, args: &[&str]) -> Result<String, CoreError> {
    run(host_git::command(dir), &dir.display().to_string(), args).await
}

/// git in a session's worktree, its metadata taken from clauderon's record ([`SessionGit`]),
/// never from the worktree's `.git` file, and every filter driver the config defines switched
/// off: the worktree's `.gitattributes` is the session's to write, and a clean filter it names
/// would run on the session's files on the host ([`diff::filter_pins`]).
async fn git_in_worktree(session_git: &SessionGit, args: &[&str]) -> Result<String, CoreError> {
    let mut cmd = host_git::in_worktree(session_git);
    for pin in diff::filter_pins(session_git).await? {
        cmd.arg("-c").arg(pin);
    }
    run(cmd, &session_git.worktree().display().to_string(), args).await
}

async fn run(cmd: std::process::Command, place: &str, args: &[&str]) -> Result<String, CoreError> {
    let mut cmd = Command::from(cmd);
    let out = cmd.args(args).kill_on_drop(true).output().await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            CoreError::Unavailable("git is not installed: install it (e.g. `apt-get install git`)".into())
        } else {
            CoreError::Internal(format!("running git: {e}"))
        }
    })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("failed").trim();
        Err(CoreError::Git(format!("git {} in {place}: {first}", args.join(" "))))
    }
}

/// The session's git layout, or an error for a worktree path clauderon would never make.
pub fn session_git(repo: &Path, worktree: &Path) -> Result<SessionGit, CoreError> {
    SessionGit::new(repo, worktree)
        .ok_or_else(|| CoreError::Internal(format!("worktree path `{}` has no name", worktree.display())))
}

/// The top level of the repository containing `path`, or a clear error.
pub async fn repo_toplevel(path: &Path) -> Result<PathBuf, CoreError> {
    if !path.is_absolute() {
        return Err(CoreError::Invalid(format!(
            "repository path `{}` is not absolute: pass a full path (the CLI resolves relative ones for you)",
            path.display()
        )));
    }
    match tokio::fs::metadata(path).await {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(CoreError::Invalid(format!("`{}` is a file, not a directory", path.display()))),
        Err(_) => {
            return Err(CoreError::Invalid(format!("repository path `{}` does not exist", path.display())));
        }
    }
    let top = git(path, &["rev-parse", "--show-toplevel"]).await.map_err(|_| {
        CoreError::Invalid(format!(
            "`{}` is not inside a git repository: run `git init` there, or pass --repo with a repository",
            path.display()
        ))
    })?;
    let bare = git(path, &["rev-parse", "--is-bare-repository"]).await?;
    if bare == "true" || top.is_empty() {
        return Err(CoreError::Invalid(format!(
            "`{}` is a bare repository: pass a checkout",
            path.display()
        )));
    }
    Ok(PathBuf::from(top))
}

/// What `create` would make of `path`, for a form checking it as it is typed: never an error,
/// the problem in `create`'s own words instead.
pub async fn check_repo(path: &Path) -> clauderon_types::api::RepoCheck {
    let mut check = clauderon_types::api::RepoCheck {
        ok: false,
        problem: None,
        toplevel: None,
        branch: None,
        dirty: false,
        branches: Vec::new(),
    };
    let top = match repo_toplevel(path).await {
        Ok(top) => top,
        Err(e) => {
            check.problem = Some(e.to_string());
            return check;
        }
    };
    check.toplevel = Some(top.display().to_string());
    if let Err(e) = resolve_commit(&top, "HEAD").await {
        check.problem = Some(e.to_string());
        return check;
    }
    let branches = ["for-each-ref", "--count=200", "--format=%(refname:short)", "refs/heads"];
    let (branch, dirty, list) = tokio::join!(
        git(&top, &["symbolic-ref", "--quiet", "--short", "HEAD"]),
        has_tracked_changes(&top),
        git(&top, &branches),
    );
    check.branch = branch.ok().filter(|b| !b.is_empty());
    check.dirty = dirty.unwrap_or(false);
    check.branches = list.map(|l| l.lines().map(str::to_string).collect()).unwrap_or_default();
    check.ok = true;
    check
}

/// Resolve a ref to a commit id, or say it does not exist.
pub async fn resolve_commit(repo: &Path, reference: &str) -> Result<String, CoreError> {
    if reference.starts_with('-') || reference.contains("..") || reference.chars().any(char::is_whitespace) {
        return Err(CoreError::Invalid(format!("`{reference}` is not a valid git ref")));
    }
    git(repo, &["rev-parse", "--verify", "--quiet", &format!("{reference}^{{commit}}")]).await.map_err(|_| {
        if reference == "HEAD" {
            CoreError::Invalid(format!(
                "repository `{}` has no commits yet: make a first commit, then create the session",
                repo.display()
            ))
        } else {
            CoreError::Invalid(format!(
                "`{reference}` is not a commit, branch or tag in `{}`",
                repo.display()
            ))
        }
    })
}

/// Tracked files with changes (staged or not). Untracked files do not count.
pub async fn has_tracked_changes(dir: &Path) -> Result<bool, CoreError> {
    Ok(!git(dir, &["status", "--porcelain", "--untracked-files=no"]).await?.is_empty())
}

/// Any change at all in a session's worktree, untracked files included: work that a delete
/// would lose. Submodules are not entered: their git dirs are the session's to write.
pub async fn has_uncommitted_work(session_git: &SessionGit) -> Result<bool, CoreError> {
    let args = ["status", "--porcelain", "--untracked-files=all", "--ignore-submodules=all"];
    Ok(!git_in_worktree(session_git, &args).await?.is_empty())
}

/// Commit everything in a session's worktree (untracked files that git would not ignore
/// included) on its branch, as the user (their git identity), without hooks. Refused when the
/// user's config defines filter drivers: clauderon never runs them on the session's files, and
/// committing without them would store what they were meant to transform (git-lfs's pointers).
/// Returns the new commit's id and how many files it changed.
pub async fn commit_all(
    session_git: &SessionGit,
    branch: &str,
    message: &str,
) -> Result<(String, usize), CoreError> {
    let place = session_git.worktree().display().to_string();
    let checked_out = run(host_git::in_worktree(session_git), &place, &["symbolic-ref", "--quiet", "HEAD"])
        .await
        .unwrap_or_default();
    if checked_out != format!("refs/heads/{branch}") {
        return Err(CoreError::Conflict(format!(
            "the worktree `{place}` has {} checked out, not the session's branch `{branch}`: nothing was committed",
            if checked_out.is_empty() { "no branch".to_string() } else { format!("`{checked_out}`") }
        )));
    }
    let pins = diff::filter_pins(session_git).await?;
    if !pins.is_empty() {
        return Err(CoreError::Conflict(format!(
            "your git config defines filter drivers (git-lfs, say), which clauderon never runs on a session's files: \
             commit inside the session, or with git in `{place}` yourself"
        )));
    }
    if !has_uncommitted_work(session_git).await? {
        return Err(CoreError::Conflict(format!("nothing to commit in `{place}`: the worktree is clean")));
    }
    git_in_worktree(session_git, &["-c", "advice.addEmbeddedRepo=false", "add", "--all"]).await?;
    // git_in_worktree keeps optional locks off, but a commit must write the index: run it plainly.
    let mut commit = host_git::in_worktree(session_git);
    commit.env_remove("GIT_OPTIONAL_LOCKS");
    run(commit, &place, &["commit", "--quiet", "--no-verify", "--no-edit", "--cleanup=strip", "-m", message])
        .await
        .map_err(|e| match e {
            CoreError::Git(m) if m.contains("tell me who you are") || m.contains("empty ident") => CoreError::Invalid(
                "git has no identity to commit as: set one with `git config --global user.name NAME` and \
                 `git config --global user.email EMAIL`"
                    .into(),
            ),
            other => other,
        })?;
    let id = run(host_git::in_worktree(session_git), &place, &["rev-parse", "HEAD"]).await?;
    let changed = ["diff-tree", "--no-commit-id", "--name-only", "-r", "--root", "-z", "HEAD"];
    let files = run(host_git::in_worktree(session_git), &place, &changed).await?;
    Ok((id, files.split('\0').filter(|f| !f.is_empty()).count()))
}

pub async fn branch_exists(repo: &Path, branch: &str) -> Result<bool, CoreError> {
    Ok(git(repo, &["rev-parse", "--verify", "--quiet", &format!("refs/heads/{branch}")]).await.is_ok())
}

/// Create `branch` at `commit` and check it out at `path`. On failure nothing is left.
pub async fn add(repo: &Path, path: &Path, branch: &str, commit: &str) -> Result<(), CoreError> {
    if branch_exists(repo, branch).await? {
        return Err(CoreError::Conflict(format!(
            "branch `{branch}` already exists in `{}`: pick another session name, or delete the branch with `git branch -D {branch}`",
            repo.display()
        )));
    }
    if tokio::fs::try_exists(path).await.unwrap_or(true) {
        return Err(CoreError::Conflict(format!(
            "worktree folder `{}` already exists: remove it, or pick another session name",
            path.display()
        )));
    }
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| CoreError::Internal(format!("creating {}: {e}", parent.display())))?;
    }
    let session_git = session_git(repo, path)?;
    if !tokio::fs::symlink_metadata(session_git.common_dir()).await.is_ok_and(|m| m.is_dir()) {
        return Err(CoreError::Invalid(format!(
            "`{}` is a linked worktree or a submodule (its .git is not a folder): create the session from the main checkout of the repository",
            repo.display()
        )));
    }
    if tokio::fs::try_exists(session_git.git_dir()).await.unwrap_or(true) {
        // Metadata of a worktree that is gone: git would pick another folder name, and the
        // session's git dir must be the one clauderon's record names.
        let _ = git(repo, &["worktree", "prune"]).await;
        if tokio::fs::try_exists(session_git.git_dir()).await.unwrap_or(true) {
            return Err(CoreError::Conflict(format!(
                "git already has a worktree named `{}` in `{}`: remove it with `git worktree remove`, or pick another session name",
                path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
                repo.display()
            )));
        }
    }
    let path_str = path.to_string_lossy();
    if let Err(e) = git(repo, &["worktree", "add", "--quiet", "-b", branch, &path_str, commit]).await {
        // git may have created the branch or folder before failing; the branch did not
        // exist before (checked above), so removing it undoes only our own work.
        let _ = tokio::fs::remove_dir_all(path).await;
        let _ = git(repo, &["worktree", "prune"]).await;
        if branch_exists(repo, branch).await.unwrap_or(false) {
            let _ = git(repo, &["branch", "-D", branch]).await;
        }
        return Err(e);
    }
    Ok(())
}

/// Remove the worktree and prune git's metadata for it. A worktree folder that is already gone
/// is fine. Without `force`, uncommitted work (checked by [`has_uncommitted_work`]) refuses.
///
/// Not `git worktree remove`: it checks the worktree by running a git of its own there, which
/// enters submodules whose git dirs (and so their config and filters) the session wrote.
pub async fn remove(repo: &Path, path: &Path, force: bool) -> Result<(), CoreError> {
    if tokio::fs::symlink_metadata(path).await.is_ok() {
        let session_git = session_git(repo, path)?;
        if !force && has_uncommitted_work(&session_git).await? {
            return Err(CoreError::Conflict(format!(
                "`{}` has uncommitted work: commit it, or remove with --force to discard it",
                path.display()
            )));
        }
        // Does not follow symlinks: a link the session left inside points nowhere we delete.
        tokio::fs::remove_dir_all(path)
            .await
            .map_err(|e| CoreError::Internal(format!("removing {}: {e}", path.display())))?;
    }
    if tokio::fs::try_exists(repo).await.unwrap_or(false) {
        git(repo, &["worktree", "prune"]).await?;
    }
    Ok(())
}

pub async fn delete_branch(repo: &Path, branch: &str) -> Result<(), CoreError> {
    if branch_exists(repo, branch).await? {
        git(repo, &["branch", "-D", branch]).await?;
    }
    Ok(())
}

/// Bytes on disk under `path` (apparent sizes of files, symlinks not followed).
pub fn disk_usage(path: &Path) -> Option<u64> {
    if !path.exists() {
        return None;
    }
    Some(
        walkdir::WalkDir::new(path)
            .follow_links(false)
            .into_iter()
            .filter_map(Result::ok)
            .filter_map(|e| e.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum(),
    )
}
