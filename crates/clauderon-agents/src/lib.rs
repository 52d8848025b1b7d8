//! The agents a session runs (Claude Code, Codex, Gemini CLI): how each is launched and
//! configured ([`profile`]: command lines, environment, the settings files written into the
//! session's HOME) and where each keeps its transcripts and how to read them into clauderon's
//! normalised [`Message`](clauderon_types::messages::Message) list ([`transcript`]). No
//! daemon, store or backend here: backends and the session manager call these functions.

pub mod profile;
pub mod status_hooks;
pub mod transcript;

/// What went wrong reading an agent's files.
#[derive(Debug, thiserror::Error)]
pub enum AgentsError {
    /// A transcript exists but could not be read (permissions, IO).
    #[error("cannot read the transcript {path}: {reason}; check that the daemon's user can read it")]
    Unreadable { path: std::path::PathBuf, reason: String },
    /// A settings file for the agent could not be written into the session's HOME.
    #[error("cannot write {path}: {reason}; check that the daemon's user owns the session's HOME")]
    Unwritable { path: std::path::PathBuf, reason: String },
}
