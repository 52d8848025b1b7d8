//! Reading from and typing into a session's process: its logs, its terminal, and text sent to
//! its agent (`clauderon send`). The manager finds the session's backend and resource; the
//! backend does the rest.

use super::SessionManager;
use crate::error::CoreError;
use clauderon_backend::{AttachTarget, BackendHandle, SessionBackend, Terminal};
use clauderon_types::SessionStatus;
use clauderon_types::api::MAX_INPUT_BYTES;
use std::sync::Arc;

/// How a client reaches a session's terminal.
#[derive(Debug)]
pub enum SessionTerminal {
    /// A stream the daemon carries (Docker).
    Stream(Terminal),
    /// A program the client runs on the host (`zellij attach …`).
    Command(AttachTarget),
}

/// The longest log tail a request may ask for.
pub const MAX_LOG_LINES: usize = 100_000;

/// Logs, environment, terminal and typed input of a session's process; a cheap clone.
#[derive(Clone)]
pub struct SessionIo {
    manager: SessionManager,
}

impl SessionIo {
    pub fn new(manager: &SessionManager) -> Self {
        SessionIo { manager: manager.clone() }
    }

    async fn resource(&self, name: &str) -> Result<(Arc<dyn SessionBackend>, BackendHandle), CoreError> {
        let session = self.manager.get(name).await?;
        let handle = session.backend_handle.clone().ok_or_else(|| {
            CoreError::Conflict(format!(
                "session {name} has nothing running yet (status {}): wait for it to be created",
                session.status
            ))
        })?;
        let backend = self.manager.backends().get(&session.backend).cloned().ok_or_else(|| {
            CoreError::Unavailable(format!(
                "the {} backend of session {name} is not available in this daemon",
                session.backend
            ))
        })?;
        Ok((backend, BackendHandle(handle)))
    }

    /// The last `tail` lines of the session's output.
    pub async fn logs(&self, name: &str, tail: usize) -> Result<String, CoreError> {
        let (backend, handle) = self.resource(name).await?;
        Ok(backend.logs(&handle, tail.min(MAX_LOG_LINES)).await?)
    }

    /// The session's environment as its process got it, proxy passwords masked.
    pub async fn environment(&self, name: &str) -> Result<Vec<(String, String)>, CoreError> {
        let (backend, handle) = self.resource(name).await?;
        let vars = backend.environment(&handle).await?.ok_or_else(|| {
            CoreError::Unavailable(format!(
                "the {} backend cannot show a session's environment",
                backend.kind()
            ))
        })?;
        Ok(vars.into_iter().map(|(k, v)| (k, clauderon_types::terminal::mask_url_password(&v))).collect())
    }

    /// A terminal on the session's main process, or the program that attaches to it.
    pub async fn terminal(&self, name: &str) -> Result<SessionTerminal, CoreError> {
        let (backend, handle) = self.resource(name).await?;
        match backend.terminal(&handle).await? {
            Some(t) => Ok(SessionTerminal::Stream(t)),
            None => Ok(SessionTerminal::Command(backend.attach_target(&handle).await?)),
        }
    }

    /// Type `text` into the session's agent and press Enter (`clauderon send`). Refused, with
    /// what to do, when the text is empty or unusable or the session is not running.
    pub async fn send_input(&self, name: &str, text: &str) -> Result<(), CoreError> {
        let text = input_text(name, text)?;
        let session = self.manager.get(name).await?;
        if !session.status.is_active() {
            let why = match session.status {
                SessionStatus::Creating => {
                    "it is still being created: wait until `clauderon list` shows it running"
                }
                SessionStatus::Stopped => {
                    "its process has stopped, so nothing reads the text (`clauderon logs` shows how it ended)"
                }
                SessionStatus::Failed => "it has failed (`clauderon show` says why); nothing reads the text",
                _ => "it is being deleted",
            };
            return Err(CoreError::Conflict(format!("cannot send to session `{name}`: {why}")));
        }
        let (backend, handle) = self.resource(name).await?;
        Ok(backend.send_input(&handle, &text).await?)
    }
}

/// `text` as it will be typed: Windows line breaks become `\n`, and a trailing line break is
/// dropped (Enter follows anyway). Refused when nothing is left, when it is over
/// [`MAX_INPUT_BYTES`], or when it holds a control character other than a line break or a tab
/// (a terminal would act on it: Ctrl-C, Escape sequences…).
pub fn input_text(name: &str, text: &str) -> Result<String, CoreError> {
    let text = text.replace("\r\n", "\n");
    let text = text.strip_suffix('\n').unwrap_or(&text);
    if text.trim().is_empty() {
        return Err(CoreError::Invalid(format!(
            "nothing to send: give the text to type, e.g. `clauderon send {name} \"now run the tests\"`"
        )));
    }
    if text.len() > MAX_INPUT_BYTES {
        return Err(CoreError::Invalid(format!(
            "the text is {} bytes; the limit is {MAX_INPUT_BYTES}: put long instructions in a file in the \
             worktree and send a line that points the agent at it",
            text.len()
        )));
    }
    if let Some(c) = text.chars().find(|c| c.is_control() && *c != '\n' && *c != '\t') {
        return Err(CoreError::Invalid(format!(
            "the text holds the control character U+{:04X}, which the terminal would act on: send plain text \
             (line breaks and tabs are fine), or use `clauderon attach {name}` to press keys",
            u32::from(c)
        )));
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_text_keeps_text_intact_and_refuses_what_a_terminal_would_act_on() {
        let ok = |t: &str| input_text("s", t).ok();
        assert_eq!(ok("a \"b\" 'c'\r\nzwei ü ✓\tx\n").as_deref(), Some("a \"b\" 'c'\nzwei ü ✓\tx"));
        assert_eq!(ok("one\n\ntwo").as_deref(), Some("one\n\ntwo"));
        for bad in ["", "  \n", "stop\u{3}", "\u{1b}[A", "a\rb"] {
            let err = input_text("s", bad).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("nothing to send") || err.contains("control character"), "{bad:?}: {err}");
        }
        assert!(input_text("s", &"x".repeat(MAX_INPUT_BYTES + 1)).is_err());
    }
}
