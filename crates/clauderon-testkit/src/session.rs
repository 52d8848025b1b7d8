//! A plausible session record for tests and benchmarks that write the store directly.

use chrono::Utc;
use clauderon_types::{AccessMode, AgentKind, BackendKind, Session, SessionId, SessionName, SessionStatus};
use std::path::PathBuf;

/// A running, read-write session on the fake backend, created now, with no worktree on disk.
pub fn sample(name: &str) -> Session {
    let now = Utc::now();
    Session {
        id: SessionId::new(),
        name: SessionName::parse(name).unwrap_or_else(|e| panic!("sample session name: {e}")),
        repo_path: PathBuf::from("/nonexistent/repo"),
        branch: format!("clauderon/{name}"),
        base_commit: "0000000000000000000000000000000000000000".into(),
        worktree_path: PathBuf::from(format!("/nonexistent/worktrees/{name}")),
        backend: BackendKind::Zellij,
        agent: AgentKind::Claude,
        access_mode: AccessMode::ReadWrite,
        prompt: String::new(),
        options: Default::default(),
        status: SessionStatus::Running,
        archived: false,
        backend_handle: None,
        error: None,
        created_at: now,
        updated_at: now,
        pull_request: None,
    }
}
