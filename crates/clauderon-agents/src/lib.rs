//! The agents a session runs (Claude Code, Codex, Gemini CLI): how each is launched and
//! configured ([`profile`]: command lines, environment, the settings files written into the
//! session's HOME) and where each keeps its transcripts and how to read them into clauderon's
//! normalised [`Message`](clauderon_types::messages::Message) list ([`transcript`]). No
//! daemon, store or backend here: backends and the session manager call these functions.

pub mod profile;
pub mod status_hooks;
pub mod transcript;

/// What went wrong reading or writing an agent's files. Every such file is in a session's HOME,
/// read and written only through `clauderon-fs` (never following a link the session planted).
#[derive(Debug, thiserror::Error)]
pub enum AgentsError {
    /// A transcript exists but could not be read (permissions, IO).
    #[error("cannot read the transcript {path}: {reason}; check that the daemon's user can read it")]
    Unreadable { path: std::path::PathBuf, reason: String },
    /// A settings file for the agent could not be written into the session's HOME.
    #[error("cannot write {path}: {reason}; check that the daemon's user owns the session's HOME")]
    Unwritable { path: std::path::PathBuf, reason: String },
    /// The session planted a link (a FIFO, a hard link…) where an agent's file or folder is:
    /// refused, never followed (issue 11 §4).
    #[error("{0}")]
    Refused(clauderon_fs::Refusal),
}

impl AgentsError {
    /// The refusal, when a session planted something on the way.
    pub fn refusal(&self) -> Option<&clauderon_fs::Refusal> {
        match self {
            AgentsError::Refused(r) => Some(r),
            _ => None,
        }
    }

    /// A confined read in the session's HOME `home` that failed.
    pub(crate) fn reading(home: &std::path::Path) -> impl Fn(clauderon_fs::FsError) -> AgentsError + '_ {
        move |e| match e {
            clauderon_fs::FsError::Refused(r) => AgentsError::Refused(r),
            other => AgentsError::Unreadable { path: home.to_path_buf(), reason: other.to_string() },
        }
    }

    /// A confined write in the session's HOME `home` that failed.
    pub(crate) fn writing(home: &std::path::Path) -> impl Fn(clauderon_fs::FsError) -> AgentsError + '_ {
        move |e| match e {
            clauderon_fs::FsError::Refused(r) => AgentsError::Refused(r),
            other => AgentsError::Unwritable { path: home.to_path_buf(), reason: other.to_string() },
        }
    }
}
