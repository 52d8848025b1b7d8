//! Git repositories made for a test, with a first commit.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct TestRepo {
    dir: tempfile::TempDir,
}

fn run_git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .output()
        .map_err(|e| format!("git: {e}"))?;
    if !out.status.success() {
        return Err(format!("git {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl TestRepo {
    /// A repository on branch `main` with one commit holding README.md.
    pub fn new() -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        run_git(dir.path(), &["init", "--quiet", "--initial-branch=main"])?;
        std::fs::write(dir.path().join("README.md"), "hello\n").map_err(|e| e.to_string())?;
        let repo = TestRepo { dir };
        repo.git(&["add", "README.md"])?;
        repo.git(&["commit", "--quiet", "-m", "first"])?;
        Ok(repo)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn path_buf(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub fn git(&self, args: &[&str]) -> Result<String, String> {
        run_git(self.dir.path(), args)
    }

    pub fn branches(&self) -> Result<Vec<String>, String> {
        Ok(self.git(&["branch", "--format=%(refname:short)"])?.lines().map(str::to_string).collect())
    }

    /// Paths git knows as worktrees, the main checkout excluded.
    pub fn worktrees(&self) -> Result<Vec<PathBuf>, String> {
        let out = self.git(&["worktree", "list", "--porcelain"])?;
        let main = std::fs::canonicalize(self.path()).map_err(|e| e.to_string())?;
        Ok(out
            .lines()
            .filter_map(|l| l.strip_prefix("worktree "))
            .map(PathBuf::from)
            .filter(|p| std::fs::canonicalize(p).map(|c| c != main).unwrap_or(true))
            .collect())
    }
}

/// Run git in any folder, with a test identity (for commits in worktrees).
pub fn git_in(dir: &Path, args: &[&str]) -> Result<String, String> {
    run_git(dir, args)
}
