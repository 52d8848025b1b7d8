//! The seam between the session manager and the places sessions run.
//!
//! A backend knows how to create, start, stop and delete the resource that
//! runs a session (a container, a zellij session, a pod…), how to report its
//! status, and how to reach it. It knows nothing about the store, worktrees
//! or the lifecycle: the session manager owns those.
//!
//! Every implementation must pass [`contract`]'s suite, generated for it with
//! [`backend_contract_tests!`].

pub mod contract;
pub mod env;
pub mod host_git;
pub mod session_files;
pub mod tunnel;

use async_trait::async_trait;
use clauderon_types::{AgentKind, BackendKind, SessionId, SessionName, SessionOptions};
use std::path::PathBuf;

/// What a backend needs to know to run one session.
#[derive(Debug, Clone)]
pub struct SessionSpec {
    pub session_id: SessionId,
    pub name: SessionName,
    /// The session's worktree: the process's working directory.
    pub worktree: PathBuf,
    /// The user's repository, for backends that mount its git metadata.
    pub repo: PathBuf,
    pub agent: AgentKind,
    pub prompt: String,
    /// `--command`, image, network, sandbox, limits… as the user gave them.
    pub options: SessionOptions,
    /// The session's own HOME on the host (created, empty or as a previous run left it):
    /// agent settings and transcripts live here, never in the worktree.
    pub home: PathBuf,
    /// Placeholder environment variables, one per configured credential (`ANTHROPIC_API_KEY` =
    /// a placeholder). A credential that is not configured has none.
    pub placeholders: Vec<(String, String)>,
    /// How the session reaches the credential proxy.
    pub proxy: ProxyAccess,
}

/// What [`SessionBackend::prepare_start`] needs to write a session's agent files.
#[derive(Debug, Clone)]
pub struct AgentFiles {
    pub agent: AgentKind,
    /// The session's HOME on the host.
    pub home: PathBuf,
    /// The session's worktree on the host.
    pub worktree: PathBuf,
    /// Placeholder variables, one per configured credential.
    pub placeholders: Vec<(String, String)>,
}

impl AgentFiles {
    pub fn of(spec: &SessionSpec) -> Self {
        AgentFiles {
            agent: spec.agent,
            home: spec.home.clone(),
            worktree: spec.worktree.clone(),
            placeholders: spec.placeholders.clone(),
        }
    }
}

/// The session's way to the credential proxy: its own identity, the proxy's
/// port on the host, and the CA certificate it must trust. Each backend turns
/// this into `HTTPS_PROXY=http://<user>:<secret>@<host as the session sees it>:<port>`.
#[derive(Clone)]
pub struct ProxyAccess {
    pub user: String,
    pub secret: String,
    pub port: u16,
    /// PEM file of clauderon's CA, to mount or point trust variables at.
    pub ca_cert: PathBuf,
}

impl ProxyAccess {
    /// The proxy URL with the session identity, for a given host name or address.
    pub fn url(&self, host: &str) -> String {
        format!("http://{}:{}@{host}:{}", self.user, self.secret, self.port)
    }
}

impl std::fmt::Debug for ProxyAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyAccess")
            .field("user", &self.user)
            .field("secret", &"***")
            .field("port", &self.port)
            .field("ca_cert", &self.ca_cert)
            .finish()
    }
}

/// How long after the program has drawn a typed text [`SessionBackend::send_input`] waits
/// before pressing Enter. Agents' TUIs read an Enter that comes soon after a paste as a line
/// break of the text rather than as "submit": Gemini CLI does for 40 ms after a paste by its
/// own timer, which runs late on a busy machine (a CI run once saw a prompt left unsent).
pub const SUBMIT_DELAY: std::time::Duration = std::time::Duration::from_millis(400);

/// Before typing, [`SessionBackend::send_input`] waits until the program's screen has been
/// still this long: an agent TUI still animating (a spinner while its hooks run) is not ready
/// for a prompt.
pub const SETTLE_QUIET: std::time::Duration = std::time::Duration::from_millis(300);
/// The longest wait for a still screen before typing anyway.
pub const SETTLE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The byte Enter sends (carriage return; a terminal in cooked mode hands programs `\n`).
pub const ENTER: u8 = b'\r';

/// The backend's own name for a session's resource: a container id, a zellij
/// session name, a pod name…
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BackendHandle(pub String);

impl BackendHandle {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the backend sees of a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendStatus {
    Running,
    Stopped,
    /// The backend has no such resource (deleted, or never existed).
    Missing,
}

/// A resource carrying clauderon's marks, as found by [`SessionBackend::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendResource {
    pub handle: BackendHandle,
    /// The session the resource says it belongs to (a container label, a name prefix…).
    pub session_id: Option<SessionId>,
    pub status: BackendStatus,
    pub detail: String,
}

/// How a terminal reaches the session's main process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachTarget {
    /// Run this program on the host to attach (`zellij attach NAME`, `docker attach ID`).
    Command { program: String, args: Vec<String> },
}

/// A live terminal on a session's main process, for the daemon's WebSocket terminal: what the
/// process prints, and a way to type into it and resize it. Dropping both ends detaches; the
/// process keeps running. Several may be open on one session at once.
#[derive(Debug)]
pub struct Terminal {
    pub output: tokio::sync::mpsc::Receiver<Vec<u8>>,
    pub input: tokio::sync::mpsc::Sender<TerminalInput>,
}

/// A resource's status changed on the backend's side (a container's process exited…), pushed
/// by [`SessionBackend::watch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub handle: BackendHandle,
    pub status: BackendStatus,
    /// What happened, for the log (`exited with code 3`).
    pub detail: String,
}

/// What a client sends to a [`Terminal`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerminalInput {
    Data(Vec<u8>),
    Resize { cols: u16, rows: u16 },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The backend cannot be used here at all; the message says what to install or start.
    #[error("{backend} backend is unavailable: {reason}")]
    Unavailable { backend: BackendKind, reason: String },
    #[error("{backend} has no resource `{handle}`")]
    NotFound { backend: BackendKind, handle: String },
    /// The backend refused or failed an operation.
    #[error("{backend}: {message}")]
    Failed { backend: BackendKind, message: String },
    /// The backend cannot do this at all (`what`: "typing into a session").
    #[error("the {backend} backend does not support {what}")]
    Unsupported { backend: BackendKind, what: &'static str },
    /// A session planted a link (a FIFO, a hard link…) where clauderon reads or writes the
    /// session's files: refused, never followed (issue 11 §4).
    #[error("{0}")]
    Refused(clauderon_fs::Refusal),
    /// The session's files could not be written (permissions, a full disk…).
    #[error("writing the session's files: {message}")]
    Files { message: String },
}

impl BackendError {
    /// Worth trying again later (the engine was down, a timeout…).
    pub fn is_retryable(&self) -> bool {
        matches!(self, BackendError::Unavailable { .. })
    }
}

/// A place where sessions run.
#[async_trait]
pub trait SessionBackend: Send + Sync + 'static {
    fn kind(&self) -> BackendKind;

    /// Is the backend usable right now? `Err(Unavailable)` says what to do.
    async fn check(&self) -> Result<(), BackendError>;

    /// Create the session's resource, not yet started.
    async fn create(&self, spec: &SessionSpec) -> Result<BackendHandle, BackendError>;

    async fn start(&self, handle: &BackendHandle) -> Result<(), BackendError>;

    /// Stop the process, keeping the resource. Stopping a stopped resource is fine.
    async fn stop(&self, handle: &BackendHandle) -> Result<(), BackendError>;

    /// Remove the resource. Deleting a missing resource is fine (idempotent).
    async fn delete(&self, handle: &BackendHandle) -> Result<(), BackendError>;

    /// `Missing` (not an error) when the resource does not exist.
    async fn status(&self, handle: &BackendHandle) -> Result<BackendStatus, BackendError>;

    async fn attach_target(&self, handle: &BackendHandle) -> Result<AttachTarget, BackendError>;

    /// Where the session's process sees its worktree (its working directory), for the agent's
    /// workspace trust: the worktree itself, the default; a container's mount point.
    fn agent_workdir(&self, worktree: &std::path::Path) -> std::path::PathBuf {
        worktree.to_path_buf()
    }

    /// The step before the session's process starts, its first start (`create`) and every
    /// later one (the manager's `start`): the agent's settings files written into the
    /// session's HOME (status hooks, workspace trust for [`Self::agent_workdir`], telemetry
    /// off), merged over what is there. The one owner of those files. A link the session
    /// planted on the way is [`BackendError::Refused`], nothing is followed.
    async fn prepare_start(&self, files: &AgentFiles) -> Result<(), BackendError> {
        let workdir = self.agent_workdir(&files.worktree);
        let files = files.clone();
        tokio::task::spawn_blocking(move || {
            session_files::write_agent_files_in(files.agent, &files.home, &workdir, &files.placeholders)
        })
        .await
        .unwrap_or_else(|e| Err(BackendError::Files { message: format!("writing the agent's files: {e}") }))
    }

    /// Status changes as they happen (Docker's event stream), so sessions follow their
    /// resources without polling. `None`, the default: the backend has no such feed and
    /// reconcile at start is what corrects statuses. The feed ends when the receiver is dropped.
    fn watch(&self) -> Option<tokio::sync::mpsc::Receiver<StatusChange>> {
        None
    }

    /// The environment the session's main process was started with, as the backend knows it
    /// (`clauderon env`). `None`, the default: the backend cannot tell.
    async fn environment(
        &self,
        handle: &BackendHandle,
    ) -> Result<Option<Vec<(String, String)>>, BackendError> {
        let _ = handle;
        Ok(None)
    }

    /// A terminal stream to the main process, carried by the daemon's WebSocket (Docker's
    /// attach; a zellij client on a pseudo-terminal the daemon holds). `None`, the default:
    /// clients attach by running [`AttachTarget`]'s program on the host, which the daemon
    /// tells them over the same WebSocket.
    async fn terminal(&self, handle: &BackendHandle) -> Result<Option<Terminal>, BackendError> {
        let _ = handle;
        Ok(None)
    }

    /// Type `text` into the session's main process as at its keyboard, then press Enter: a
    /// follow-up prompt for its agent. Line breaks, quotes and any Unicode arrive as they are;
    /// a program that takes pastes (bracketed paste mode, as the agents' TUIs turn on) gets
    /// `text` as one paste, so its line breaks do not submit it early. The caller has checked
    /// that `text` is not empty and holds no control characters but line breaks and tabs.
    /// `Unsupported`, the default: this backend cannot type into its sessions.
    async fn send_input(&self, handle: &BackendHandle, text: &str) -> Result<(), BackendError> {
        let _ = (handle, text);
        Err(BackendError::Unsupported { backend: self.kind(), what: "typing into a session" })
    }

    /// The last `tail` lines of the session's output.
    async fn logs(&self, handle: &BackendHandle, tail: usize) -> Result<String, BackendError>;

    /// Every resource carrying clauderon's marks, whether a session owns it or not.
    async fn list(&self) -> Result<Vec<BackendResource>, BackendError>;
}
