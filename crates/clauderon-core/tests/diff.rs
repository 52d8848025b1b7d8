//! A session's diff against real git repositories: every kind of change, committed and not,
//! checked exactly; and the walls around the git the daemon runs in a worktree the session
//! wrote (filters, textconv, external diff, a planted index link, a nested repository).
//!
//! The files a session would write are written here by the test directly into the worktree
//! (what an agent in any backend can do to its worktree); the user's own git config, which a
//! session cannot write, stands in for what a user may well have (git-lfs's filter, a textconv
//! for PDFs): the wall is that session files never reach those programs through clauderon.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use clauderon_core::worktree;
use clauderon_testkit::TestRepo;
use clauderon_testkit::git::git_in;
use clauderon_types::SessionGit;
use clauderon_types::diff::{FileStatus, SessionDiff};
use std::path::{Path, PathBuf};

struct Work {
    repo: TestRepo,
    _data: tempfile::TempDir,
    path: PathBuf,
    base: String,
    git: SessionGit,
}

/// A repository with a few files on main, and a session worktree started from it.
async fn work(files: &[(&str, &[u8])]) -> Work {
    let repo = TestRepo::new().unwrap();
    for (name, bytes) in files {
        std::fs::write(repo.path().join(name), bytes).unwrap();
    }
    repo.git(&["add", "-A"]).unwrap();
    repo.git(&["commit", "-q", "-m", "base files"]).unwrap();
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("worktrees/s");
    let base = worktree::resolve_commit(repo.path(), "HEAD").await.unwrap();
    worktree::add(repo.path(), &path, "clauderon/s", &base).await.unwrap();
    let git = worktree::session_git(repo.path(), &path).unwrap();
    Work { repo, _data: data, path, base, git }
}

impl Work {
    fn write(&self, name: &str, bytes: &[u8]) {
        let p = self.path.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    fn commit(&self, message: &str) {
        git_in(&self.path, &["add", "-A"]).unwrap();
        git_in(&self.path, &["commit", "-q", "-m", message]).unwrap();
    }

    async fn diff(&self, patch: bool) -> SessionDiff {
        worktree::session_diff(&self.git, "clauderon/s", &self.base, patch).await.unwrap()
    }
}

fn lines(n: usize, tag: &str) -> String {
    (0..n).map(|i| format!("{tag} line {i}\n")).collect()
}

type Row<'a> = (FileStatus, &'a str, Option<&'a str>, Option<u64>, Option<u64>, bool);

fn rows(diff: &SessionDiff) -> Vec<Row<'_>> {
    diff.files
        .iter()
        .map(|f| (f.status, f.path.as_str(), f.old_path.as_deref(), f.additions, f.deletions, f.uncommitted))
        .collect()
}

#[tokio::test]
async fn every_kind_of_change_committed_or_not_against_the_merge_base() {
    let moving = lines(20, "moving");
    let w = work(&[
        ("edit.txt", b"one\ntwo\nthree\n"),
        ("remove.txt", b"bye\n"),
        ("move-me.txt", moving.as_bytes()),
        ("keep.txt", b"keep\n"),
        ("image.bin", &[0u8, 1, 2, 3, 0, 255]),
        (".gitignore", b"*.log\n"),
    ])
    .await;
    // Committed on the branch.
    w.write("edit.txt", b"one\n2\nthree\nfour\n");
    std::fs::remove_file(w.path.join("remove.txt")).unwrap();
    std::fs::rename(w.path.join("move-me.txt"), w.path.join("moved.txt")).unwrap();
    w.write("image.bin", &[0u8, 9, 9, 9, 0, 255]);
    w.commit("the session's work");
    // Not committed: a tracked change, an untracked file, an ignored one (not shown).
    w.write("keep.txt", b"keep\nmore\n");
    w.write("dir/notes.md", b"a\nb\n");
    w.write("build.log", b"noise\n");
    // main moves on after the session started: not the session's work.
    std::fs::write(w.repo.path().join("upstream.txt"), "later\n").unwrap();
    w.repo.git(&["add", "upstream.txt"]).unwrap();
    w.repo.git(&["commit", "-q", "-m", "main moves on"]).unwrap();

    let diff = w.diff(true).await;
    assert_eq!(diff.base, w.base);
    assert_eq!(diff.head, git_in(&w.path, &["rev-parse", "HEAD"]).unwrap());
    assert_eq!(diff.branch, "clauderon/s");
    assert_eq!(
        rows(&diff),
        vec![
            (FileStatus::Added, "dir/notes.md", None, Some(2), Some(0), true),
            (FileStatus::Modified, "edit.txt", None, Some(2), Some(1), false),
            (FileStatus::Modified, "image.bin", None, None, None, false),
            (FileStatus::Modified, "keep.txt", None, Some(1), Some(0), true),
            (FileStatus::Renamed, "moved.txt", Some("move-me.txt"), Some(0), Some(0), false),
            (FileStatus::Deleted, "remove.txt", None, Some(0), Some(1), false),
        ]
    );
    assert_eq!((diff.additions, diff.deletions), (5, 2));
    let edit = &diff.files[1];
    assert_eq!(edit.hunks.len(), 1);
    assert_eq!(edit.hunks[0].header, "@@ -1,3 +1,4 @@");
    assert_eq!(edit.hunks[0].lines, vec![" one", "-two", "+2", " three", "+four"]);
    assert_eq!((edit.old_mode.as_deref(), edit.new_mode.as_deref()), (Some("100644"), Some("100644")));
    let image = &diff.files[2];
    assert!(image.binary);
    assert_eq!(image.omitted.as_deref(), Some("binary"));
    assert_eq!(diff.files[0].hunks[0].lines, vec!["+a", "+b"]);
    assert_eq!(diff.files[0].old_mode, None);
    assert!(diff.files[4].hunks.is_empty() && diff.files[4].omitted.is_none(), "a pure rename has no hunk");
    assert_eq!(diff.files[5].hunks[0].lines, vec!["-bye"]);
    assert_eq!(diff.commits.len(), 1);
    assert_eq!(diff.commits[0].summary, "the session's work");
    assert_eq!(diff.commits[0].author, "Test");
    assert!(!diff.truncated && !diff.commits_truncated);

    let summary = w.diff(false).await;
    assert_eq!(rows(&summary), rows(&diff), "the summary has the same files and counts");
    assert!(summary.files.iter().all(|f| f.hunks.is_empty()));

    // The session's own index and object store are as they were: nothing staged, nothing written.
    let status = git_in(&w.path, &["status", "--porcelain"]).unwrap();
    assert!(status.contains("?? dir/"), "the untracked file is still untracked: {status}");
    assert!(git_in(&w.path, &["cat-file", "-e", "HEAD:dir/notes.md"]).is_err());
    let blob = git_in(&w.path, &["hash-object", "dir/notes.md"]).unwrap();
    assert!(git_in(&w.path, &["cat-file", "-e", &blob]).is_err(), "no object written for an untracked file");
}

#[tokio::test]
async fn no_change_is_an_empty_diff_and_a_huge_file_keeps_its_counts_without_its_text() {
    let w = work(&[("big.txt", b"small\n")]).await;
    let empty = w.diff(true).await;
    assert!(empty.files.is_empty() && empty.commits.is_empty());
    assert_eq!((empty.additions, empty.deletions), (0, 0));

    w.write("big.txt", lines(30_000, "a fairly long line of text").as_bytes());
    let diff = w.diff(true).await;
    let big = &diff.files[0];
    assert_eq!((big.additions, big.deletions), (Some(30_000), Some(1)));
    assert!(big.hunks.is_empty());
    assert!(big.omitted.as_deref().unwrap().contains("over the 512 KiB one file shows"), "{:?}", big.omitted);
}

#[tokio::test]
async fn an_archived_sessions_missing_worktree_says_where_the_work_is() {
    let w = work(&[("a.txt", b"one\n")]).await;
    std::fs::remove_dir_all(&w.path).unwrap();
    let err = worktree::session_diff(&w.git, "clauderon/s", &w.base, true).await.unwrap_err().to_string();
    assert!(err.contains("is gone") && err.contains("git diff"), "{err}");
}

/// A marker path a program would create if git ran it; a config value that runs it.
fn marker(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(name);
    (path.clone(), format!("touch {}; cat", path.display()))
}

#[tokio::test]
async fn a_filter_or_textconv_the_session_names_in_gitattributes_never_runs() {
    let w = work(&[("a.txt", b"one\n")]).await;
    let scratch = tempfile::tempdir().unwrap();
    let (clean, clean_cmd) = marker(scratch.path(), "clean-ran");
    let (process, process_cmd) = marker(scratch.path(), "process-ran");
    let (textconv, textconv_cmd) = marker(scratch.path(), "textconv-ran");
    let (external, external_cmd) = marker(scratch.path(), "external-ran");
    // The user's config (not the session's to write) defines the programs...
    for (key, value) in [
        ("filter.lfsish.clean", clean_cmd.as_str()),
        ("filter.lfsish.process", process_cmd.as_str()),
        ("filter.lfsish.required", "true"),
        ("diff.pdfish.textconv", textconv_cmd.as_str()),
        ("diff.external", external_cmd.as_str()),
    ] {
        w.repo.git(&["config", key, value]).unwrap();
    }
    // ...and the session names them for its own files.
    w.write(".gitattributes", b"* filter=lfsish diff=pdfish\n");
    w.write("a.txt", b"one\ntwo\n");
    w.write("b.txt", b"new\n");

    let diff = w.diff(true).await;
    let a = diff.files.iter().find(|f| f.path == "a.txt").unwrap();
    assert_eq!(a.hunks[0].lines, vec![" one", "+two"], "the file's own text, not a program's");
    assert!(worktree::has_uncommitted_work(&w.git).await.unwrap());
    for ran in [&clean, &process, &textconv, &external] {
        assert!(!ran.exists(), "{} ran on the session's files", ran.display());
    }
    // The same git without the pins runs the filter: the wall is what stops it.
    let plain = git_in(&w.path, &["diff", "HEAD", "--stat"]);
    assert!(plain.is_err() || clean.exists() || process.exists(), "the attack needs the wall: {plain:?}");
}

#[tokio::test]
async fn a_planted_link_for_the_index_is_refused_and_the_target_never_read() {
    let w = work(&[("a.txt", b"one\n")]).await;
    let secret_dir = tempfile::tempdir().unwrap();
    let secret = secret_dir.path().join("id_rsa");
    std::fs::write(&secret, "SECRETKEYMATERIAL-not-an-index").unwrap();
    let index = w.git.git_dir().join("index");
    std::fs::remove_file(&index).unwrap();
    std::os::unix::fs::symlink(&secret, &index).unwrap();

    let err = worktree::session_diff(&w.git, "clauderon/s", &w.base, true).await.unwrap_err().to_string();
    assert!(err.contains("must be a plain file"), "{err}");
    for leak in ["SECRET", "53454352", "id_rsa"] {
        assert!(!err.contains(leak), "{leak} in {err}");
    }
}

#[tokio::test]
async fn a_nested_repository_with_its_own_fsmonitor_runs_nothing() {
    let w = work(&[("a.txt", b"one\n")]).await;
    let scratch = tempfile::tempdir().unwrap();
    let ran = scratch.path().join("fsmonitor-ran");
    // The session makes a repository of its own inside its worktree, with a hook-like setting.
    let nested = w.path.join("nested");
    std::fs::create_dir_all(&nested).unwrap();
    git_in(&nested, &["init", "-q"]).unwrap();
    std::fs::write(nested.join("f"), "x").unwrap();
    git_in(&nested, &["add", "f"]).unwrap();
    git_in(&nested, &["commit", "-q", "-m", "n"]).unwrap();
    git_in(&nested, &["config", "core.fsmonitor", &format!("touch {}; false", ran.display())]).unwrap();
    std::fs::write(nested.join("f"), "dirty").unwrap();

    let diff = w.diff(true).await;
    assert!(worktree::has_uncommitted_work(&w.git).await.unwrap());
    assert!(!ran.exists(), "the nested repository's fsmonitor ran on the host");
    assert!(diff.files.iter().all(|f| f.hunks.iter().all(|h| h.lines.iter().all(|l| !l.contains("dirty")))));
}

/// Untracked files are found by listing, then marked one by one by name: names that are not
/// UTF-8 or that read as pathspec magic (`:(exclude)…`, `*`) are still exactly the files meant.
#[tokio::test]
async fn untracked_files_with_odd_names_are_shown_exactly() {
    use std::os::unix::ffi::OsStrExt;
    let w = work(&[("a.txt", b"a\n")]).await;
    w.write("*", b"star\n");
    w.write(":(exclude)a.txt", b"magic\n");
    let odd = std::ffi::OsStr::from_bytes(b"caf\xe9.txt");
    std::fs::write(w.path.join(odd), b"latin-1 name\n").unwrap();
    let diff = w.diff(true).await;
    let paths: Vec<&str> = diff.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths.len(), 3, "{paths:?}");
    assert!(paths.contains(&"*") && paths.contains(&":(exclude)a.txt"), "{paths:?}");
    assert!(paths.iter().any(|p| p.starts_with("caf") && p.ends_with(".txt")), "{paths:?}");
    assert!(diff.files.iter().all(|f| f.status == FileStatus::Added && f.uncommitted), "{diff:?}");
    assert!(!paths.contains(&"a.txt"), "a.txt did not change: {paths:?}");
}

/// `clauderon commit`: the worktree's work, untracked files included, on the session's branch,
/// as the user's identity; refused (nothing changed) when there is nothing to commit, when the
/// user's config has filter drivers, or when another branch is checked out.
#[tokio::test]
async fn commit_all_commits_everything_as_the_user_or_refuses_and_changes_nothing() {
    let w = work(&[("a.txt", b"one\n")]).await;
    w.repo.git(&["config", "user.name", "The User"]).unwrap();
    w.repo.git(&["config", "user.email", "user@example.com"]).unwrap();
    let err = worktree::commit_all(&w.git, "clauderon/s", "nothing").await.unwrap_err().to_string();
    assert!(err.contains("nothing to commit"), "{err}");

    w.write("a.txt", b"one\ntwo\n");
    w.write("new/b.txt", b"new\n");
    let (id, files) = worktree::commit_all(&w.git, "clauderon/s", "the agent's work").await.unwrap();
    assert_eq!(files, 2);
    assert_eq!(git_in(&w.path, &["rev-parse", "HEAD"]).unwrap(), id);
    assert_eq!(
        git_in(&w.path, &["log", "-1", "--format=%an <%ae>|%s"]).unwrap(),
        "The User <user@example.com>|the agent's work"
    );
    assert_eq!(git_in(&w.path, &["rev-parse", "clauderon/s"]).unwrap(), id, "on the session's branch");
    assert!(!worktree::has_uncommitted_work(&w.git).await.unwrap());

    // Filter drivers in the user's config: never run on session files, so no commit at all.
    let scratch = tempfile::tempdir().unwrap();
    let (clean, clean_cmd) = marker(scratch.path(), "clean-ran");
    w.repo.git(&["config", "filter.lfsish.clean", &clean_cmd]).unwrap();
    w.write(".gitattributes", b"* filter=lfsish\n");
    let err = worktree::commit_all(&w.git, "clauderon/s", "filtered").await.unwrap_err().to_string();
    assert!(err.contains("filter drivers"), "{err}");
    assert!(!clean.exists(), "the clean filter ran");
    assert_eq!(git_in(&w.path, &["rev-parse", "HEAD"]).unwrap(), id, "nothing committed");
    w.repo.git(&["config", "--unset", "filter.lfsish.clean"]).unwrap();

    // Another branch checked out in the worktree: refused.
    git_in(&w.path, &["checkout", "-q", "-b", "elsewhere"]).unwrap();
    let err = worktree::commit_all(&w.git, "clauderon/s", "x").await.unwrap_err().to_string();
    assert!(err.contains("not the session's branch"), "{err}");
}

/// An edit of the same size made in the second the worktree's index was written: git tells it
/// from an unchanged file only by the index file's own time ("racily clean"), which the diff's
/// private copy of the index must keep, read a second later. Retried when the second turned between the two writes
/// (then nothing was racy and the case was not tested).
#[tokio::test]
async fn a_same_size_edit_in_the_second_the_index_was_written_is_in_the_diff() {
    for _ in 0..5 {
        let w = work(&[("answer.txt", b"41\n")]).await;
        w.write("answer.txt", b"42\n");
        let index = std::fs::metadata(w.git.git_dir().join("index")).unwrap().modified().unwrap();
        let file = std::fs::metadata(w.path.join("answer.txt")).unwrap().modified().unwrap();
        let second = |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        if second(index) != second(file) {
            continue;
        }
        // The diff is read a second later, as a person opens it: a copy of the index made now is
        // dated after the edit.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let diff = w.diff(true).await;
        let file = diff.files.iter().find(|f| f.path == "answer.txt");
        assert!(file.is_some_and(|f| f.uncommitted), "the edit is missing from the diff: {diff:?}");
        return;
    }
    panic!("never managed an edit within the index's second");
}
