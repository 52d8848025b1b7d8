//! The agents a session runs: Claude Code first (Codex and Gemini CLI follow). For now, where
//! each keeps its transcripts and how to read them into clauderon's normalised
//! [`Message`](clauderon_types::messages::Message) list. No daemon, store or backend here:
//! the session manager calls these functions on a session's HOME.

pub mod transcript;

/// What went wrong reading an agent's files.
#[derive(Debug, thiserror::Error)]
pub enum AgentsError {
    /// A transcript exists but could not be read (permissions, IO).
    #[error("cannot read the transcript {path}: {reason}; check that the daemon's user can read it")]
    Unreadable { path: std::path::PathBuf, reason: String },
}
