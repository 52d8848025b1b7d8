//! A session's work against where it started: what `GET /api/sessions/{name}/diff` answers and
//! `clauderon diff NAME` prints. Committed and uncommitted work alike (untracked files that git
//! would not ignore included), against the merge base of the session's branch and its base.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Most bytes of patch text one answer carries, over every file; past it, files keep their
/// counts and say why their hunks are left out.
pub const MAX_PATCH_BYTES: usize = 4 << 20;
/// Most bytes of patch text one file shows.
pub const MAX_FILE_PATCH_BYTES: usize = 512 << 10;
/// Most commits listed.
pub const MAX_COMMITS: usize = 500;

/// What to include.
#[derive(Debug, Clone, Default, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiffQuery {
    /// `false`: files and counts only, no hunks (what `--stat` and `--name-only` need). Default
    /// `true`.
    pub patch: Option<bool>,
}

/// How a file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FileStatus {
    Added,
    Modified,
    Deleted,
    Renamed,
    Copied,
    /// A file became a link or the other way round.
    TypeChanged,
}

impl FileStatus {
    /// git's one-letter code.
    pub fn letter(self) -> char {
        match self {
            FileStatus::Added => 'A',
            FileStatus::Modified => 'M',
            FileStatus::Deleted => 'D',
            FileStatus::Renamed => 'R',
            FileStatus::Copied => 'C',
            FileStatus::TypeChanged => 'T',
        }
    }
}

/// One hunk of a file's patch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DiffHunk {
    /// The `@@ -a,b +c,d @@ …` line.
    pub header: String,
    pub old_start: u64,
    pub old_lines: u64,
    pub new_start: u64,
    pub new_lines: u64,
    /// The hunk's lines, each with its first character (` `, `+`, `-`, or `\` for "no newline
    /// at end of file"). Text as the session wrote it (lossy UTF-8): show it as text.
    pub lines: Vec<String>,
}

/// One changed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DiffFile {
    /// The path now (for a deleted file, the path it had).
    pub path: String,
    /// The path before, for a rename or copy.
    pub old_path: Option<String>,
    pub status: FileStatus,
    /// Lines added and removed; `None` for a binary file.
    pub additions: Option<u64>,
    pub deletions: Option<u64>,
    pub binary: bool,
    /// The worktree's version differs from the branch's last commit (work not committed yet).
    pub uncommitted: bool,
    /// Git's file modes before and after (`100644`, `100755`, `120000` for a link), where they
    /// exist.
    pub old_mode: Option<String>,
    pub new_mode: Option<String>,
    /// The patch, when asked for and not left out.
    pub hunks: Vec<DiffHunk>,
    /// Why the hunks are left out, when they are (binary, too large, over the answer's cap).
    pub omitted: Option<String>,
}

/// A commit on the session's branch since its base.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DiffCommit {
    pub id: String,
    /// The first line of its message.
    pub summary: String,
    pub author: String,
    /// Seconds since the epoch (author time).
    pub time: i64,
}

/// The session's work against its base.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SessionDiff {
    /// The session's branch.
    pub branch: String,
    /// The commit the diff is taken against: the merge base of the branch and the session's
    /// base commit.
    pub base: String,
    /// The branch's last commit.
    pub head: String,
    /// Commits on the branch since the base, newest first (at most [`MAX_COMMITS`]).
    pub commits: Vec<DiffCommit>,
    /// More commits than listed.
    pub commits_truncated: bool,
    /// Changed files, in path order.
    pub files: Vec<DiffFile>,
    /// Totals over text files.
    pub additions: u64,
    pub deletions: u64,
    /// Some file's hunks were left out because the answer reached [`MAX_PATCH_BYTES`].
    pub truncated: bool,
}
