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

/// Poll a backend's logs of `handle` (the last `tail` lines) until `want` says yes, at most
/// `tries` times 100 ms; the last logs either way (the caller asserts on them).
pub async fn logs_until(
    backend: &dyn SessionBackend,
    handle: &BackendHandle,
    tail: usize,
    tries: usize,
    want: impl Fn(&str) -> bool,
) -> String {
    let mut logs = String::new();
    for _ in 0..tries {
        logs = backend.logs(handle, tail).await.unwrap_or_else(|e| panic!("logs: {e}"));
        if want(&logs) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    logs
}

/// An HTTP server on loopback that answers `200 ok` to any request and closes: what stands for
/// the daemon's proxy where only "the tunnel carried it" matters. Its port.
pub async fn ok_http_server() -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("binding a loopback server: {e}"));
    let port = listener.local_addr().unwrap_or_else(|e| panic!("local_addr: {e}")).port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ =
                    s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").await;
            });
        }
    });
    port
}
