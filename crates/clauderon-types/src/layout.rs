//! Where things live in the data dir. Pure path arithmetic: callers pass the
//! environment in, so tests never touch the real `~/.clauderon`.

use std::path::{Path, PathBuf};

/// The data dir and the files in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataLayout {
    root: PathBuf,
}

impl DataLayout {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataLayout { root: root.into() }
    }

    /// `CLAUDERON_HOME` when set and not empty, else `$HOME/.clauderon`.
    /// `None` when neither is known.
    pub fn resolve(clauderon_home: Option<&str>, home: Option<&str>) -> Option<Self> {
        match (clauderon_home.filter(|s| !s.is_empty()), home.filter(|s| !s.is_empty())) {
            (Some(dir), _) => Some(DataLayout::new(dir)),
            (None, Some(home)) => Some(DataLayout::new(Path::new(home).join(".clauderon"))),
            (None, None) => None,
        }
    }

    /// Resolve from this process's environment.
    pub fn from_env() -> Option<Self> {
        let clauderon_home = std::env::var("CLAUDERON_HOME").ok();
        let home = std::env::var("HOME").ok();
        DataLayout::resolve(clauderon_home.as_deref(), home.as_deref())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn config_file(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    pub fn database(&self) -> PathBuf {
        self.root.join("clauderon.db")
    }
    pub fn socket(&self) -> PathBuf {
        self.root.join("clauderon.sock")
    }
    /// The credential proxy on a Unix socket, for sandboxes with no network of their own.
    pub fn proxy_socket(&self) -> PathBuf {
        self.root.join("proxy.sock")
    }
    /// The API token the daemon generates when none is configured: every TCP client sends it,
    /// the Unix socket needs none. 0600 here, and no session ever sees the data dir.
    pub fn api_token(&self) -> PathBuf {
        self.root.join("api-token")
    }
    pub fn lock_file(&self) -> PathBuf {
        self.root.join("daemon.lock")
    }
    pub fn worktrees(&self) -> PathBuf {
        self.root.join("worktrees")
    }
    pub fn secrets(&self) -> PathBuf {
        self.root.join("secrets")
    }
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
    /// Per-session HOME folders, outside the worktrees: agent settings and transcripts live here.
    pub fn homes(&self) -> PathBuf {
        self.root.join("homes")
    }
    pub fn session_home(&self, name: &str) -> PathBuf {
        self.homes().join(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauderon_home_wins_over_home() {
        let l = DataLayout::resolve(Some("/x/data"), Some("/home/u"));
        assert_eq!(l.map(|l| l.socket()), Some(PathBuf::from("/x/data/clauderon.sock")));
        let l = DataLayout::resolve(Some(""), Some("/home/u"));
        assert_eq!(l.map(|l| l.root().to_path_buf()), Some(PathBuf::from("/home/u/.clauderon")));
        assert_eq!(DataLayout::resolve(None, None), None);
    }
}
