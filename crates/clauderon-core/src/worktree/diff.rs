//! A session's work against its base, read with git on the host ([`session_diff`]).
//!
//! The worktree is the session's: every file in it, its `.gitattributes` included, is the
//! session's to write. So besides what [`host_git`] pins for every host-side git, the diff:
//!
//! - runs no program a config names for content: `--no-ext-diff`, `--no-textconv`, and every
//!   filter driver the user's config defines pinned to nothing (a `.gitattributes` the session
//!   wrote could otherwise send its files through a clean filter or a textconv on the host);
//! - never enters submodules (`--ignore-submodules=all`: their git dirs are the session's);
//! - never writes the session's index or object store: untracked files are shown through a copy
//!   of the index in a private temporary folder, marked "intent to add" there (`add -N`, which
//!   stores no object), and the index is copied without following a link;
//! - bounds what it reads: the patch text at [`MAX_PATCH_BYTES`], each file at
//!   [`MAX_FILE_PATCH_BYTES`], the commits at [`MAX_COMMITS`].
//!
//! A link in the worktree shows as its target's text, as git always shows links: never
//! followed.

use super::run;
use crate::error::CoreError;
use clauderon_backend::host_git;
use clauderon_types::SessionGit;
use clauderon_types::diff::{
    DiffCommit, DiffFile, DiffHunk, FileStatus, MAX_COMMITS, MAX_FILE_PATCH_BYTES, MAX_PATCH_BYTES,
    SessionDiff,
};
use std::collections::HashSet;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use tokio::io::AsyncReadExt;

/// Options every diff here gets: no program runs for content, submodules stay closed, the
/// order is git's path order whatever the config says.
const DIFF_ARGS: &[&str] =
    &["--no-ext-diff", "--no-textconv", "--ignore-submodules=all", "--no-color", "-O/dev/null"];

/// The largest index copied (a repository of a few million files).
const MAX_INDEX_BYTES: u64 = 1 << 30;

/// The session's work against the merge base of its branch and `base_commit`: committed and
/// uncommitted, untracked files that git would not ignore included. Without `patch`, only
/// files and counts.
pub async fn session_diff(
    session_git: &SessionGit,
    branch: &str,
    base_commit: &str,
    patch: bool,
) -> Result<SessionDiff, CoreError> {
    if !tokio::fs::symlink_metadata(session_git.worktree()).await.is_ok_and(|m| m.is_dir()) {
        return Err(CoreError::Conflict(format!(
            "the session's worktree `{}` is gone (an archived session keeps only its branch): see the work with `git diff {base_commit}...{branch}` in the repository",
            session_git.worktree().display()
        )));
    }
    // Independent reads run side by side (each is its own git process; none writes the index):
    // the commits (no worktree content read, so no filter to pin) while the index is copied.
    let place = session_git.worktree().display().to_string();
    let head_args = ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"];
    let merge_base_args = ["merge-base", base_commit, "HEAD"];
    let (git, head, merge_base) = tokio::join!(
        DiffGit::new(session_git),
        run(host_git::in_worktree(session_git), &place, &head_args),
        run(host_git::in_worktree(session_git), &place, &merge_base_args),
    );
    let git = git?;
    let head = head.map_err(|_| {
        CoreError::Conflict(format!(
            "the worktree `{}` has no commit checked out: check out the branch `{branch}` there",
            session_git.worktree().display()
        ))
    })?;
    let base = match merge_base {
        Ok(base) if !base.is_empty() => base,
        // Unrelated histories (the session rewrote its branch from nothing): against the base.
        _ => base_commit.to_string(),
    };

    // The untracked files are listed while the diffs run on the index as it is; only when there
    // are some are they marked "intent to add" and the diffs run again (renames between a
    // tracked and an untracked file need one diff holding both).
    let untracked_args = ["ls-files", "--others", "--exclude-standard", "-z"].map(String::from);
    let log_args = log_args(&base, &head);
    let (untracked, log, first) =
        tokio::join!(git.bytes(&untracked_args), git.bytes(&log_args), git.diffs(&base, patch));
    let untracked = untracked?;
    let (changed, uncommitted, patch_text) = if untracked.is_empty() {
        first?
    } else {
        drop(first);
        let list = git.scratch.path().join("untracked");
        tokio::fs::write(&list, &untracked)
            .await
            .map_err(|e| CoreError::Internal(format!("listing the untracked files: {e}")))?;
        let from = format!("--pathspec-from-file={}", list.display());
        let add = ["--literal-pathspecs", "-c", "advice.addEmbeddedRepo=false", "add", "--intent-to-add"];
        git.text(&[&add[..], &[from.as_str(), "--pathspec-file-nul"]].concat()).await?;
        git.diffs(&base, patch).await?
    };
    let mut files = changed_files(&changed)?;
    let uncommitted = names(&uncommitted);
    for file in &mut files {
        file.uncommitted = uncommitted.contains(&file.path)
            || file.old_path.as_ref().is_some_and(|p| uncommitted.contains(p));
    }
    let mut truncated = false;
    if let Some((text, complete)) = patch_text {
        truncated = !complete;
        attach_hunks(&mut files, &text, complete)?;
    }
    let (commits, commits_truncated) = commits(&log?);
    Ok(SessionDiff {
        branch: branch.to_string(),
        base,
        head,
        commits,
        commits_truncated,
        additions: files.iter().filter_map(|f| f.additions).sum(),
        deletions: files.iter().filter_map(|f| f.deletions).sum(),
        files,
        truncated,
    })
}

fn with_diff_args(args: &[&str], against: &str) -> Vec<String> {
    let mut out: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    out.extend(DIFF_ARGS.iter().map(|a| a.to_string()));
    out.push(against.to_string());
    out.push("--".into());
    out
}

fn log_args(base: &str, head: &str) -> Vec<String> {
    vec![
        "log".into(),
        "-z".into(),
        "--no-color".into(),
        "--format=%H%x1f%an%x1f%at%x1f%s".into(),
        format!("--max-count={}", MAX_COMMITS + 1),
        format!("{base}..{head}"),
        "--".into(),
    ]
}

/// What [`DiffGit::diffs`] reads: raw + numstat output, uncommitted names, patch text and
/// whether it is whole.
type Diffs = (Vec<u8>, Vec<u8>, Option<(Vec<u8>, bool)>);

/// git in the session's worktree with a private copy of its index and its filters pinned off.
struct DiffGit<'a> {
    session_git: &'a SessionGit,
    pins: Vec<String>,
    /// The temporary folder holding the index copy; removed on drop.
    scratch: tempfile::TempDir,
}

impl<'a> DiffGit<'a> {
    async fn new(session_git: &'a SessionGit) -> Result<DiffGit<'a>, CoreError> {
        let scratch = tempfile::Builder::new()
            .prefix("clauderon-diff-")
            .tempdir()
            .map_err(|e| CoreError::Internal(format!("a temporary folder for the diff: {e}")))?;
        let source = session_git.git_dir().join("index");
        let target = scratch.path().join("index");
        // The filter settings are read while the index is copied.
        let (pins, copied) = tokio::join!(
            filter_pins(session_git),
            tokio::task::spawn_blocking(move || copy_index(&source, &target)),
        );
        let copied = copied.map_err(|e| CoreError::Internal(format!("index copy task: {e}")))??;
        let git = DiffGit { session_git, pins: pins?, scratch };
        if !copied {
            // No index yet (nothing ever staged): start from the checked-out commit.
            git.text(&["read-tree", "HEAD"]).await?;
        }
        Ok(git)
    }

    fn index(&self) -> PathBuf {
        self.scratch.path().join("index")
    }

    fn command(&self) -> std::process::Command {
        let mut cmd = host_git::in_worktree(self.session_git);
        cmd.env("GIT_INDEX_FILE", self.index());
        for pin in &self.pins {
            cmd.arg("-c").arg(pin);
        }
        cmd
    }

    fn place(&self) -> String {
        self.session_git.worktree().display().to_string()
    }

    async fn text(&self, args: &[&str]) -> Result<String, CoreError> {
        run(self.command(), &self.place(), args).await
    }

    /// Side by side: the files changed since `base` (raw and numstat), the names changed since
    /// HEAD (what is uncommitted), and with `patch` the patch text (capped).
    async fn diffs(&self, base: &str, patch: bool) -> Result<Diffs, CoreError> {
        let changed_args = with_diff_args(&["diff", "--raw", "--numstat", "-z", "-M"], base);
        let uncommitted_args = with_diff_args(&["diff", "--name-only", "-z"], "HEAD");
        let patch_args = with_diff_args(&["diff", "-p", "-M"], base);
        let patch_text = async {
            match patch {
                true => self.capped(&patch_args, MAX_PATCH_BYTES).await.map(Some),
                false => Ok(None),
            }
        };
        let (changed, uncommitted, patch_text) =
            tokio::join!(self.bytes(&changed_args), self.bytes(&uncommitted_args), patch_text);
        Ok((changed?, uncommitted?, patch_text?))
    }

    async fn bytes(&self, args: &[String]) -> Result<Vec<u8>, CoreError> {
        let (out, _) = self.capped(args, usize::MAX).await?;
        Ok(out)
    }

    /// Standard output up to `cap` bytes, and whether it was all of it (git is stopped past
    /// the cap).
    async fn capped(&self, args: &[String], cap: usize) -> Result<(Vec<u8>, bool), CoreError> {
        let mut cmd = tokio::process::Command::from(self.command());
        cmd.args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| CoreError::Internal(format!("running git: {e}")))?;
        let mut stdout = child.stdout.take().ok_or_else(|| CoreError::Internal("git's output".into()))?;
        let mut stderr = child.stderr.take().ok_or_else(|| CoreError::Internal("git's errors".into()))?;
        // Errors are read alongside (git must never block on a full pipe), output up to the cap.
        let errors = tokio::spawn(async move {
            let mut err = Vec::new();
            let _ = stderr.read_to_end(&mut err).await;
            err
        });
        let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
        let mut out = Vec::new();
        let read = (&mut stdout).take(limit).read_to_end(&mut out).await;
        if let Err(e) = read {
            errors.abort();
            return Err(CoreError::Internal(format!("reading git's output: {e}")));
        }
        if out.len() > cap {
            out.truncate(cap);
            let _ = child.kill().await;
            errors.abort();
            return Ok((out, false));
        }
        let status = child.wait().await.map_err(|e| CoreError::Internal(format!("waiting for git: {e}")))?;
        let err = errors.await.unwrap_or_default();
        if !status.success() {
            let stderr = String::from_utf8_lossy(&err);
            let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("failed").trim();
            return Err(CoreError::Git(format!("git {} in {}: {first}", args.join(" "), self.place())));
        }
        Ok((out, true))
    }
}

/// `-c` settings that switch off every filter driver the config defines (the user's global
/// config, the repository's): a filter named by an attribute then runs nothing.
pub(super) async fn filter_pins(session_git: &SessionGit) -> Result<Vec<String>, CoreError> {
    let mut cmd = tokio::process::Command::from(host_git::in_worktree(session_git));
    cmd.args(["config", "--name-only", "--get-regexp", r"^filter\."]).kill_on_drop(true);
    let out = cmd.output().await.map_err(|e| CoreError::Internal(format!("running git config: {e}")))?;
    // Exit status 1 means "no such setting": no filter to pin. Anything else is an error: the
    // filters could not be listed, so they could not be switched off.
    if !out.status.success() && out.status.code() != Some(1) {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("failed").trim();
        return Err(CoreError::Git(format!(
            "listing the filter drivers in {}: {first}",
            session_git.worktree().display()
        )));
    }
    let names = String::from_utf8_lossy(&out.stdout);
    let drivers: std::collections::BTreeSet<&str> = names
        .lines()
        .filter_map(|key| key.strip_prefix("filter.").and_then(|rest| rest.rsplit_once('.')).map(|(d, _)| d))
        .collect();
    Ok(drivers
        .into_iter()
        .flat_map(|d| {
            ["clean=", "smudge=", "process=", "required=false"].map(|setting| format!("filter.{d}.{setting}"))
        })
        .collect())
}

/// Copy the index at `source` (in the session-writable git dir) to `target` without following
/// a link or blocking on a FIFO. `false` when there is no index.
fn copy_index(source: &Path, target: &Path) -> Result<bool, CoreError> {
    let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
    let mut file = match std::fs::OpenOptions::new().read(true).custom_flags(flags.bits() as i32).open(source)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => {
            return Err(CoreError::Conflict(format!(
                "the session's git index at `{}` cannot be read ({e}): it must be a plain file",
                source.display()
            )));
        }
    };
    let meta = file.metadata().map_err(|e| CoreError::Internal(format!("the git index: {e}")))?;
    if !meta.is_file() {
        return Err(CoreError::Conflict(format!(
            "the session's git index at `{}` is not a plain file",
            source.display()
        )));
    }
    let mut bytes = Vec::new();
    (&mut file)
        .take(MAX_INDEX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CoreError::Internal(format!("reading the git index: {e}")))?;
    if bytes.len() as u64 > MAX_INDEX_BYTES {
        return Err(CoreError::Conflict("the session's git index is over 1 GiB".into()));
    }
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(target)
        .map_err(|e| CoreError::Internal(format!("writing the index copy: {e}")))?;
    std::io::Write::write_all(&mut out, &bytes)
        .map_err(|e| CoreError::Internal(format!("writing the index copy: {e}")))?;
    // The copy keeps the index's time: git takes an entry whose file changed in the same second
    // the index was written ("racily clean") for changed only by comparing the file's time with
    // the index file's. A copy dated now would make a same-size edit made in that second look
    // unchanged, and the diff would miss it.
    if let Ok(modified) = meta.modified() {
        out.set_times(std::fs::FileTimes::new().set_modified(modified))
            .map_err(|e| CoreError::Internal(format!("dating the index copy: {e}")))?;
    }
    Ok(true)
}

/// Files from `git diff --raw --numstat -z -M`: the raw records, then the numstat records, in
/// the same order.
pub(crate) fn changed_files(out: &[u8]) -> Result<Vec<DiffFile>, CoreError> {
    let malformed = |what: &str| CoreError::Internal(format!("git diff's output: {what}"));
    let mut fields = out.split(|b| *b == 0).map(|f| String::from_utf8_lossy(f).into_owned());
    let mut files = Vec::new();
    let mut counts = Vec::new();
    while let Some(field) = fields.next() {
        if field.is_empty() {
            continue;
        }
        if let Some(raw) = field.strip_prefix(':') {
            // ":old_mode new_mode old_id new_id STATUS" then one path, or two for R and C.
            let parts: Vec<&str> = raw.split(' ').collect();
            let [old_mode, new_mode, _, _, status] = parts[..] else { return Err(malformed("a raw record")) };
            let letter = status.chars().next().ok_or_else(|| malformed("a status"))?;
            let first = fields.next().ok_or_else(|| malformed("a path"))?;
            let (path, old_path) = if matches!(letter, 'R' | 'C') {
                (fields.next().ok_or_else(|| malformed("a rename's path"))?, Some(first))
            } else {
                (first, None)
            };
            let status = match letter {
                'A' => FileStatus::Added,
                'D' => FileStatus::Deleted,
                'R' => FileStatus::Renamed,
                'C' => FileStatus::Copied,
                'T' => FileStatus::TypeChanged,
                _ => FileStatus::Modified,
            };
            let mode = |m: &str| (m != "000000").then(|| m.to_string());
            files.push(DiffFile {
                path,
                old_path,
                status,
                additions: None,
                deletions: None,
                binary: false,
                uncommitted: false,
                old_mode: mode(old_mode),
                new_mode: mode(new_mode),
                hunks: Vec::new(),
                omitted: (letter == 'U')
                    .then(|| "unmerged: a merge is in progress in the worktree".to_string()),
            });
        } else {
            // "added\tdeleted\tpath", or "added\tdeleted\t" then two paths for a rename.
            let mut parts = field.splitn(3, '\t');
            let (Some(added), Some(deleted), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
                return Err(malformed("a numstat record"));
            };
            if path.is_empty() {
                fields.next();
                fields.next();
            }
            counts.push((added.parse::<u64>().ok(), deleted.parse::<u64>().ok()));
        }
    }
    if counts.len() != files.len() {
        return Err(malformed("the counts do not match the files"));
    }
    for (file, (added, deleted)) in files.iter_mut().zip(counts) {
        file.binary = added.is_none() && deleted.is_none();
        file.additions = added;
        file.deletions = deleted;
    }
    Ok(files)
}

/// NUL-separated paths.
fn names(out: &[u8]) -> HashSet<String> {
    out.split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect()
}

/// Split `git diff -p` into one section per file (git writes them in the raw output's order)
/// and give each file its hunks. `complete` is false when the text was cut at the cap: the
/// section it was cut in, and every file after it, say so.
pub(crate) fn attach_hunks(files: &mut [DiffFile], text: &[u8], complete: bool) -> Result<(), CoreError> {
    let mut sections: Vec<&[u8]> = Vec::new();
    let mut start = None;
    let mut pos = 0;
    for line in text.split_inclusive(|b| *b == b'\n') {
        if line.starts_with(b"diff --git ") || line.starts_with(b"* Unmerged path ") {
            if let Some(s) = start {
                sections.push(&text[s..pos]);
            }
            start = Some(pos);
        }
        pos += line.len();
    }
    if let Some(s) = start {
        sections.push(&text[s..]);
    }
    if complete && sections.len() != files.len() {
        return Err(CoreError::Internal(format!(
            "git diff gave {} patches for {} files",
            sections.len(),
            files.len()
        )));
    }
    let over = format!(
        "left out: the whole diff is over {} MiB; see it with git in the worktree",
        MAX_PATCH_BYTES >> 20
    );
    for (i, file) in files.iter_mut().enumerate() {
        if file.omitted.is_some() {
            continue;
        }
        let section = match sections.get(i) {
            Some(section) if complete || i + 1 < sections.len() => *section,
            _ => {
                file.omitted = Some(over.clone());
                continue;
            }
        };
        if file.binary {
            file.omitted = Some("binary".into());
        } else if section.len() > MAX_FILE_PATCH_BYTES {
            file.omitted = Some(format!(
                "left out: its patch is {} KiB, over the {} KiB one file shows; see it with git in the worktree",
                section.len() >> 10,
                MAX_FILE_PATCH_BYTES >> 10
            ));
        } else {
            file.hunks = hunks(section);
        }
    }
    Ok(())
}

/// The hunks of one file's section.
fn hunks(section: &[u8]) -> Vec<DiffHunk> {
    let mut hunks: Vec<DiffHunk> = Vec::new();
    for line in section.split(|b| *b == b'\n') {
        let line = String::from_utf8_lossy(line);
        if let Some(hunk) = hunk_header(&line) {
            hunks.push(hunk);
        } else if let Some(hunk) = hunks.last_mut()
            && matches!(line.chars().next(), Some(' ' | '+' | '-' | '\\'))
        {
            hunk.lines.push(line.into_owned());
        }
    }
    hunks
}

/// `@@ -a[,b] +c[,d] @@ …`
fn hunk_header(line: &str) -> Option<DiffHunk> {
    let rest = line.strip_prefix("@@ -")?;
    let (ranges, _) = rest.split_once(" @@")?;
    let (old, new) = ranges.split_once(" +")?;
    let range = |r: &str| -> Option<(u64, u64)> {
        match r.split_once(',') {
            Some((start, len)) => Some((start.parse().ok()?, len.parse().ok()?)),
            None => Some((r.parse().ok()?, 1)),
        }
    };
    let (old_start, old_lines) = range(old)?;
    let (new_start, new_lines) = range(new)?;
    Some(DiffHunk { header: line.to_string(), old_start, old_lines, new_start, new_lines, lines: Vec::new() })
}

/// Commits from `git log -z --format=%H%x1f%an%x1f%at%x1f%s`, and whether there were more
/// than [`MAX_COMMITS`].
fn commits(out: &[u8]) -> (Vec<DiffCommit>, bool) {
    let mut commits: Vec<DiffCommit> = out
        .split(|b| *b == 0)
        .filter(|r| !r.is_empty())
        .filter_map(|record| {
            let record = String::from_utf8_lossy(record);
            let mut parts = record.trim_start_matches('\n').splitn(4, '\x1f');
            let id = parts.next()?.to_string();
            let author = parts.next()?.to_string();
            let time = parts.next()?.parse().ok()?;
            let summary = parts.next().unwrap_or_default().to_string();
            Some(DiffCommit { id, summary, author, time })
        })
        .collect();
    let truncated = commits.len() > MAX_COMMITS;
    commits.truncate(MAX_COMMITS);
    (commits, truncated)
}

#[cfg(test)]
mod tests;
