//! Git on the host, where a session could have written some of what git reads.
//!
//! Every host-side git clauderon runs (the session manager's worktree work, reading the user's
//! identity) starts from [`command`] or [`in_worktree`]: no system config, none of the daemon's
//! own `GIT_*` variables, and the settings that make git run programs pinned off on the command
//! line (command-line settings win over every config file, `config.worktree` included). In a
//! session's worktree, git is told where its metadata is ([`SessionGit`], from clauderon's
//! record) instead of reading the worktree's `.git` file and `commondir`, which a session could
//! point at a config of its own.
//!
//! [`mounts`] is the other half: what of the repository's git dir a backend gives the session,
//! writable and read-only (see [`SessionGit::writable`]).

use clauderon_types::SessionGit;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Settings given to every host-side git: no fsmonitor or hook program, no transport at all
/// (clauderon's own git never fetches), no SSH or askpass program, no pager.
pub const PINNED_CONFIG: &[&str] = &[
    "core.fsmonitor=false",
    "core.hooksPath=/dev/null",
    "core.sshCommand=false",
    "core.askPass=false",
    "core.pager=cat",
    "core.untrackedCache=false",
    "protocol.allow=never",
    "credential.helper=",
    "submodule.recurse=false",
];

/// `git -C dir` with the fixed environment described above. When `dir` is a repository's top
/// level with a `.git` folder, that folder is named as both git dirs, so a `commondir` file
/// planted in it is not followed.
pub fn command(dir: &Path) -> Command {
    let mut cmd = base(dir);
    let dot_git = dir.join(".git");
    if std::fs::symlink_metadata(&dot_git).is_ok_and(|m| m.is_dir()) {
        cmd.env("GIT_DIR", &dot_git).env("GIT_COMMON_DIR", &dot_git).env("GIT_WORK_TREE", dir);
    }
    cmd
}

fn base(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GIT_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_ATTR_NOSYSTEM", "1")
        .env("GIT_NO_REPLACE_OBJECTS", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        // A status must not write the index (the session's) behind its back.
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("LC_ALL", "C");
    for setting in PINNED_CONFIG {
        cmd.arg("-c").arg(setting);
    }
    cmd.arg("-C").arg(dir);
    cmd
}

/// git in a session's worktree, its git dir and shared git dir given explicitly.
pub fn in_worktree(git: &SessionGit) -> Command {
    let mut cmd = base(git.worktree());
    cmd.env("GIT_COMMON_DIR", git.common_dir());
    cmd.arg("--git-dir").arg(git.git_dir()).arg("--work-tree").arg(git.worktree());
    cmd
}

/// git on a git dir clauderon made itself (a scratch repository for a push): no global config
/// either, so nothing but that git dir's own config and the pinned settings apply.
pub fn isolated(git_dir: &Path) -> Command {
    let mut cmd = base(git_dir);
    cmd.env("GIT_CONFIG_GLOBAL", "/dev/null").env("GIT_DIR", git_dir);
    cmd
}

/// What a backend mounts of the repository's git dir for a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitMounts {
    /// The shared git dir, mounted read-only first.
    pub common_dir: PathBuf,
    /// Then these, writable, at the same paths.
    pub writable: Vec<PathBuf>,
    /// Then these, read-only over the writable ones.
    pub read_only: Vec<PathBuf>,
}

/// The mounts for a session whose repository's git dir is a folder (`None` otherwise: the
/// session then gets no git dir of the repository at all). Creates the places that must exist
/// for the mounts to cover them (the folders of clauderon's branches, `objects/info`, an empty
/// `config.worktree` in the worktree's metadata) so a session cannot create them itself;
/// leaves out what does not exist (no remote-tracking refs in a repository without remotes).
pub fn mounts(git: &SessionGit) -> std::io::Result<Option<GitMounts>> {
    let common = git.common_dir();
    if !std::fs::symlink_metadata(common).is_ok_and(|m| m.is_dir()) {
        return Ok(None);
    }
    for dir in ["refs/heads/clauderon", "logs/refs/heads/clauderon", "objects/info"] {
        std::fs::create_dir_all(common.join(dir))?;
    }
    if git.git_dir().is_dir() {
        let worktree_config = git.git_dir().join("config.worktree");
        if !worktree_config.exists() {
            std::fs::write(&worktree_config, "")?;
        }
    }
    let exists = |p: &PathBuf| std::fs::symlink_metadata(p).is_ok();
    Ok(Some(GitMounts {
        common_dir: common.to_path_buf(),
        writable: git.writable().into_iter().filter(exists).collect(),
        read_only: git.read_only().into_iter().filter(exists).collect(),
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_git_gets_the_pinned_settings_and_none_of_the_daemons_git_variables() {
        let git = SessionGit::new(Path::new("/r"), Path::new("/d/worktrees/s")).unwrap();
        let cmd = in_worktree(&git);
        let args: Vec<String> = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        for setting in PINNED_CONFIG {
            assert!(args.windows(2).any(|w| w[0] == "-c" && w[1] == *setting), "{setting}: {args:?}");
        }
        assert!(args.windows(2).any(|w| w[0] == "--git-dir" && w[1] == "/r/.git/worktrees/s"), "{args:?}");
        let envs: Vec<(String, Option<String>)> = cmd
            .get_envs()
            .map(|(k, v)| (k.to_string_lossy().into_owned(), v.map(|v| v.to_string_lossy().into_owned())))
            .collect();
        assert!(envs.contains(&("GIT_COMMON_DIR".into(), Some("/r/.git".into()))));
        assert!(envs.contains(&("GIT_CONFIG_NOSYSTEM".into(), Some("1".into()))));
    }
}
