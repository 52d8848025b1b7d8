//! Reading from and typing into a session's process: its logs and its terminal. The manager
//! finds the session's backend and resource; the backend does the rest.

use crate::error::CoreError;
use crate::manager::SessionManager;
use clauderon_backend::{AttachTarget, BackendHandle, SessionBackend, Terminal};
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

impl SessionManager {
    async fn resource(&self, name: &str) -> Result<(Arc<dyn SessionBackend>, BackendHandle), CoreError> {
        let session = self.get(name).await?;
        let handle = session.backend_handle.clone().ok_or_else(|| {
            CoreError::Conflict(format!(
                "session {name} has nothing running yet (status {}): wait for it to be created",
                session.status
            ))
        })?;
        let backend = self.backends().get(&session.backend).cloned().ok_or_else(|| {
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
}
