//! Where a session's git metadata lives, from clauderon's own record (the repository and the
//! worktree path it chose), never from files a session can rewrite (the worktree's `.git` file,
//! a `commondir` file). Pure path arithmetic.
//!
//! A session's worktree is a linked worktree of the user's repository: its `.git` is a file
//! naming `<repo>/.git/worktrees/<name>` (the worktree's own metadata: `HEAD`, `index`, its
//! reflog), which names the shared `<repo>/.git` in a `commondir` file. Git decides what to run
//! (hooks, `core.fsmonitor`, filters, `core.sshCommand`…) from the config it finds through those
//! files, so the daemon's own git sets every one of them explicitly ([`SessionGit::git_dir`],
//! [`SessionGit::common_dir`]), and backends mount them read-only ([`SessionGit::read_only`]).

use std::path::{Path, PathBuf};

/// The git paths of one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionGit {
    worktree: PathBuf,
    common_dir: PathBuf,
    meta: PathBuf,
}

impl SessionGit {
    /// The layout for a worktree clauderon created at `worktree` in the repository `repo`
    /// (`git worktree add` names the metadata folder after the worktree's last component; the
    /// create checks that it did). `None` when `worktree` has no last component.
    pub fn new(repo: &Path, worktree: &Path) -> Option<SessionGit> {
        let name = worktree.file_name()?;
        let common_dir = repo.join(".git");
        let meta = common_dir.join("worktrees").join(name);
        Some(SessionGit { worktree: worktree.to_path_buf(), common_dir, meta })
    }

    pub fn worktree(&self) -> &Path {
        &self.worktree
    }

    /// The repository's shared git dir (`<repo>/.git`): objects, refs, config, hooks.
    pub fn common_dir(&self) -> &Path {
        &self.common_dir
    }

    /// The worktree's own metadata folder, `GIT_DIR` for git commands in the worktree.
    pub fn git_dir(&self) -> &Path {
        &self.meta
    }

    /// The worktree's `.git` file.
    pub fn dot_git(&self) -> PathBuf {
        self.worktree.join(".git")
    }

    /// What a session's own git must be able to write: the object store, its branch (every
    /// clauderon branch lives under `refs/heads/clauderon/`), remote-tracking refs (a fetch),
    /// their reflogs, and its worktree's metadata. Everything else of the shared git dir (config,
    /// hooks, info, packed-refs, other worktrees, `commondir`, the user's branches and tags) is
    /// read-only.
    pub fn writable(&self) -> Vec<PathBuf> {
        let c = &self.common_dir;
        vec![
            c.join("objects"),
            c.join("refs/heads/clauderon"),
            c.join("refs/remotes"),
            c.join("logs/refs/heads/clauderon"),
            c.join("logs/refs/remotes"),
            self.meta.clone(),
        ]
    }

    /// Files and folders inside [`SessionGit::writable`] places that still decide what git
    /// reads or runs, mounted read-only over them: where the object store borrows objects
    /// from (`objects/info/alternates`), where the worktree's metadata points (`commondir`,
    /// `gitdir`), its per-worktree config, and the worktree's own `.git` file.
    pub fn read_only(&self) -> Vec<PathBuf> {
        vec![
            self.common_dir.join("objects/info"),
            self.meta.join("commondir"),
            self.meta.join("gitdir"),
            self.meta.join("config.worktree"),
            self.dot_git(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_come_from_the_record_not_from_the_worktree() {
        let g =
            SessionGit::new(Path::new("/src/app"), Path::new("/data/worktrees/fix")).unwrap_or_else(|| {
                unreachable!("a worktree path with a last component");
            });
        assert_eq!(g.common_dir(), Path::new("/src/app/.git"));
        assert_eq!(g.git_dir(), Path::new("/src/app/.git/worktrees/fix"));
        assert_eq!(g.dot_git(), PathBuf::from("/data/worktrees/fix/.git"));
        assert!(g.writable().contains(&PathBuf::from("/src/app/.git/worktrees/fix")));
        assert!(!g.writable().iter().any(|p| p.ends_with("config") || p.ends_with("hooks")));
        // Every read-only place is inside a writable one or is the worktree's own .git file.
        for ro in g.read_only() {
            assert!(ro == g.dot_git() || g.writable().iter().any(|w| ro.starts_with(w)), "{ro:?}");
        }
        assert_eq!(SessionGit::new(Path::new("/r"), Path::new("/")), None);
    }
}
