//! A real daemon (in-process, port 0) with the zellij backend, real zellij and real bubblewrap,
//! a test kit TLS upstream for the proxy, a fake user HOME with a planted SSH key, and a repo.

use super::{kill_leftovers, settings};
use clauderon_backend::SessionBackend;
use clauderon_daemon::{LaunchOptions, RunningDaemon, launch};
use clauderon_testkit::TestRepo;
use clauderon_testkit::http::{Request, unix};
use clauderon_testkit::upstream::TlsUpstream;
use clauderon_types::{DataLayout, SandboxLevel};
use clauderon_zellij::ZellijBackend;
use serde_json::json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub const REAL_KEY: &str = "sk-ant-REAL-zellij-5e1f0a";
pub const SSH_KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY----- planted-by-the-test";

pub struct Env {
    pub data: tempfile::TempDir,
    pub user_home: tempfile::TempDir,
    pub _ca_dir: tempfile::TempDir,
    pub up: TlsUpstream,
    pub config: clauderon_core::Config,
    pub daemon: Option<RunningDaemon>,
    pub backend: Arc<ZellijBackend>,
    pub repo: TestRepo,
}

impl Env {
    pub async fn start() -> Env {
        let up = TlsUpstream::start_default().await;
        let ca_dir = tempfile::tempdir().unwrap();
        let mut config = clauderon_testkit::daemon::test_config();
        config.proxy.upstream_overrides = up.overrides();
        config.proxy.extra_ca_files = vec![up.ca().write_pem(ca_dir.path())];
        let data = tempfile::tempdir().unwrap();
        let user_home = tempfile::tempdir().unwrap();
        std::fs::create_dir(user_home.path().join(".ssh")).unwrap();
        std::fs::write(user_home.path().join(".ssh/id_ed25519"), SSH_KEY).unwrap();
        let backend = make_backend(data.path(), user_home.path());
        let mut env = Env {
            data,
            user_home,
            _ca_dir: ca_dir,
            up,
            config,
            daemon: None,
            backend,
            repo: TestRepo::new().unwrap(),
        };
        env.boot().await;
        env
    }

    pub async fn boot(&mut self) {
        let backend: Arc<dyn SessionBackend> = self.backend.clone();
        let credential_env = HashMap::from([("ANTHROPIC_API_KEY".to_string(), REAL_KEY.to_string())]);
        self.daemon = Some(
            launch(LaunchOptions {
                layout: DataLayout::new(self.data.path()),
                config: self.config.clone(),
                backends: vec![backend],
                credential_env: Some(credential_env),
                extra_proxy_ips: Vec::new(),
            })
            .await
            .unwrap(),
        );
    }

    /// Stop the daemon and start a new one, with a new backend, on the same data dir.
    pub async fn restart(&mut self) {
        if let Some(d) = self.daemon.take() {
            d.stop().await.unwrap();
        }
        self.backend = make_backend(self.data.path(), self.user_home.path());
        self.boot().await;
    }

    pub fn socket(&self) -> PathBuf {
        self.daemon.as_ref().unwrap().socket.clone()
    }

    pub fn worktree(&self, name: &str) -> PathBuf {
        DataLayout::new(self.data.path()).worktrees().join(name)
    }

    pub async fn create(&self, name: &str, sandbox: SandboxLevel, command: &str) -> serde_json::Value {
        let body = json!({
            "repo_path": self.repo.path(),
            "prompt": "",
            "name": name,
            "backend": "zellij",
            "options": {"command": command, "sandbox": sandbox.to_string()},
        });
        let reply = unix(&self.socket(), Request::new("POST", "/api/sessions").json(body.to_string())).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.json()
    }

    pub async fn session(&self, name: &str) -> serde_json::Value {
        let reply = unix(&self.socket(), Request::new("GET", &format!("/api/sessions/{name}"))).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    }

    pub async fn delete(&self, name: &str) {
        let reply =
            unix(&self.socket(), Request::new("DELETE", &format!("/api/sessions/{name}?force=true"))).await;
        assert!(reply.status < 300, "{}", reply.body);
    }
}

/// A test that fails half-way must not leave zellij sessions running: kill whatever this data
/// dir's backend still has.
impl Drop for Env {
    fn drop(&mut self) {
        kill_leftovers(self.data.path());
    }
}

pub fn make_backend(data: &Path, user_home: &Path) -> Arc<ZellijBackend> {
    let mut s = settings(data, user_home, SandboxLevel::Off);
    s.default_sandbox = None;
    Arc::new(ZellijBackend::new(s).unwrap())
}

/// Wait for a file the session's command writes last.
pub async fn wait_for_file(path: &Path) -> String {
    for _ in 0..200 {
        if let Ok(text) = std::fs::read_to_string(path) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} never appeared: the session's command did not finish", path.display());
}
