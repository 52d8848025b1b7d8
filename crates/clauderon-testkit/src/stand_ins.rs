//! Stand-ins for programs that cannot run here, for the backends that drive them. Each is
//! honest about what it is: it records its arguments and emulates the real program's state and
//! outputs, and the tests using it say so.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Apple's `container` tool (macOS 26 only): see the script's header.
pub const CONTAINER: &str = include_str!("stand_ins/container.py");

/// Write the `container` stand-in into `dir` (executable); its state and the calls it got go to
/// `dir/state`.
pub fn install_container(dir: &Path) -> PathBuf {
    let path = dir.join("container");
    std::fs::write(&path, CONTAINER).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
    path
}

/// Every call the stand-in in `dir` got, as argument lists.
pub fn container_calls(dir: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(dir.join("state/calls.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("calls.jsonl: {e}: {l}")))
        .collect()
}

/// A backend and the stand-in it talks to (a fake API server), kept alive together: what a
/// contract suite's `make` returns.
pub struct WithStandIn<B> {
    pub backend: B,
    pub stand_in: Box<dyn std::any::Any + Send + Sync>,
}

use clauderon_backend::{
    AgentFiles, AttachTarget, BackendError, BackendHandle, BackendResource, BackendStatus, SessionBackend,
    SessionSpec, Terminal,
};

#[async_trait::async_trait]
impl<B: SessionBackend> SessionBackend for WithStandIn<B> {
    fn kind(&self) -> clauderon_types::BackendKind {
        self.backend.kind()
    }
    async fn check(&self) -> Result<(), BackendError> {
        self.backend.check().await
    }
    async fn create(&self, spec: &SessionSpec) -> Result<BackendHandle, BackendError> {
        self.backend.create(spec).await
    }
    async fn start(&self, h: &BackendHandle) -> Result<(), BackendError> {
        self.backend.start(h).await
    }
    async fn stop(&self, h: &BackendHandle) -> Result<(), BackendError> {
        self.backend.stop(h).await
    }
    async fn delete(&self, h: &BackendHandle) -> Result<(), BackendError> {
        self.backend.delete(h).await
    }
    async fn status(&self, h: &BackendHandle) -> Result<BackendStatus, BackendError> {
        self.backend.status(h).await
    }
    async fn attach_target(&self, h: &BackendHandle) -> Result<AttachTarget, BackendError> {
        self.backend.attach_target(h).await
    }
    fn agent_workdir(&self, worktree: &Path) -> PathBuf {
        self.backend.agent_workdir(worktree)
    }
    async fn prepare_start(&self, files: &AgentFiles) -> Result<(), BackendError> {
        self.backend.prepare_start(files).await
    }
    async fn terminal(&self, h: &BackendHandle) -> Result<Option<Terminal>, BackendError> {
        self.backend.terminal(h).await
    }
    async fn send_input(&self, h: &BackendHandle, text: &str) -> Result<(), BackendError> {
        self.backend.send_input(h, text).await
    }
    async fn logs(&self, h: &BackendHandle, tail: usize) -> Result<String, BackendError> {
        self.backend.logs(h, tail).await
    }
    async fn list(&self) -> Result<Vec<BackendResource>, BackendError> {
        self.backend.list().await
    }
}
