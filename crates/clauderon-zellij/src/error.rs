//! What goes wrong with zellij, bubblewrap and the sandbox relay, by cause: the backend turns a
//! missing program or a sandbox this machine cannot make into "unavailable", and the rest into
//! "failed" ([`BackendError`]).

use clauderon_backend::BackendError;
use clauderon_types::BackendKind;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZellijError {
    /// The zellij program could not be started at all.
    #[error(
        "cannot run {}: {reason}; install zellij (`cargo install --locked zellij`) or set `zellij.program` in the config",
        program.display()
    )]
    NotInstalled { program: PathBuf, reason: String },
    /// A zellij command did not return in time.
    #[error("`zellij {command}` did not answer within {after:?}")]
    TimedOut { command: String, after: Duration },
    /// zellij ran and said no; `said` is what it printed.
    #[error("{what}: {said}")]
    Refused { what: String, said: String },
    /// A session's zellij server did not come up.
    #[error(
        "zellij could not start session `{name}` ({why}); see zellij's log in its temp folder \
         (zellij-log/zellij.log), and try again"
    )]
    StartFailed { name: String, why: String },
    /// A file clauderon keeps for zellij (its lock, settings, a session's launch files).
    #[error("{doing} {}: {reason}", path.display())]
    File { doing: &'static str, path: PathBuf, reason: String },
    /// Bubblewrap is missing or cannot make namespaces here; the text says what to do.
    #[error("{0}")]
    Sandbox(String),
    /// The sandbox relay could not parse its arguments, listen or start its command.
    #[error("{0}")]
    Relay(String),
}

impl ZellijError {
    /// A refusal told as what clauderon was doing ("zellij could not type into `x`"); other
    /// errors say enough already.
    pub(crate) fn doing(self, what: String) -> Self {
        match self {
            ZellijError::Refused { said, .. } => ZellijError::Refused { what, said },
            other => other,
        }
    }

    pub(crate) fn file(doing: &'static str, path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        ZellijError::File { doing, path: path.to_path_buf(), reason: e.to_string() }
    }
}

impl From<ZellijError> for BackendError {
    fn from(e: ZellijError) -> Self {
        match e {
            ZellijError::NotInstalled { .. } | ZellijError::Sandbox(_) => {
                BackendError::Unavailable { backend: BackendKind::Zellij, reason: e.to_string() }
            }
            other => BackendError::Failed { backend: BackendKind::Zellij, message: other.to_string() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_program_or_sandbox_is_unavailable_and_says_what_to_do_the_rest_failed() {
        let missing = ZellijError::NotInstalled { program: "/no/zellij".into(), reason: "not found".into() };
        match BackendError::from(missing) {
            BackendError::Unavailable { reason, .. } => {
                assert!(
                    reason.contains("/no/zellij") && reason.contains("cargo install --locked zellij"),
                    "{reason}"
                )
            }
            other => panic!("{other:?}"),
        }
        let sandbox = ZellijError::Sandbox("install bubblewrap".into());
        assert!(matches!(BackendError::from(sandbox), BackendError::Unavailable { .. }));
        let refused =
            ZellijError::Refused { what: "x".into(), said: "no".into() }.doing("typing into `s`".into());
        assert_eq!(refused.to_string(), "typing into `s`: no");
        assert!(matches!(BackendError::from(refused), BackendError::Failed { .. }));
        let timed_out =
            ZellijError::TimedOut { command: "kill-session s".into(), after: Duration::from_secs(5) };
        assert_eq!(timed_out.to_string(), "`zellij kill-session s` did not answer within 5s");
    }
}
