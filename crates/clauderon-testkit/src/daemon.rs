//! A whole daemon, in-process, on port 0 with a temp data dir and the fake backend.

use crate::FakeBackend;
use clauderon_backend::SessionBackend;
use clauderon_core::Config;
use clauderon_daemon::{LaunchOptions, RunningDaemon, launch};
use clauderon_types::DataLayout;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

pub struct TestDaemon {
    pub data: tempfile::TempDir,
    pub fake: Arc<FakeBackend>,
    /// The daemon's configuration; change it and `restart` to apply.
    pub config: Config,
    /// The environment credentials are read from (never the test process's own).
    pub credential_env: HashMap<String, String>,
    running: Option<RunningDaemon>,
}

/// The test kit's upstream names and loopback, on top of the built-in egress allowlist.
const TEST_POLICY: &str =
    "[policy]\nallow_hosts = [\"upstream.test\", \"other.test\", \"127.0.0.1\", \"localhost\"]\n";

/// Defaults, with port 0 so tests run side by side, and the test kit's hosts and loopback on
/// the egress allowlist.
pub fn test_config() -> Config {
    let mut config = Config::from_toml(TEST_POLICY).unwrap_or_else(|e| panic!("default config: {e}"));
    config.daemon.bind = SocketAddr::from(([127, 0, 0, 1], 0));
    config.proxy.bind = SocketAddr::from(([127, 0, 0, 1], 0));
    config
}

impl TestDaemon {
    pub async fn start() -> Self {
        TestDaemon::start_with(test_config(), HashMap::new()).await
    }

    /// Start with this configuration and credential environment.
    pub async fn start_with(config: Config, credential_env: HashMap<String, String>) -> Self {
        let data = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let mut d = TestDaemon { data, fake: FakeBackend::new(), config, credential_env, running: None };
        d.boot().await;
        d
    }

    pub fn layout(&self) -> DataLayout {
        DataLayout::new(self.data.path())
    }

    async fn boot(&mut self) {
        let backend: Arc<dyn SessionBackend> = self.fake.clone();
        let running = launch(LaunchOptions {
            layout: self.layout(),
            config: self.config.clone(),
            backends: vec![backend],
            credential_env: Some(self.credential_env.clone()),
            extra_proxy_ips: Vec::new(),
        })
        .await
        .unwrap_or_else(|e| panic!("launching the test daemon: {e}"));
        self.running = Some(running);
    }

    fn running(&self) -> &RunningDaemon {
        self.running.as_ref().unwrap_or_else(|| panic!("test daemon is stopped"))
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.running().http_addr
    }

    pub fn socket(&self) -> &Path {
        &self.running().socket
    }

    pub fn proxy_addr(&self) -> SocketAddr {
        self.running().proxy_addr
    }

    /// clauderon's CA certificate file.
    pub fn ca_cert(&self) -> &Path {
        &self.running().ca_cert
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.http_addr())
    }

    /// The token every TCP request must carry (generated into the data dir's `api-token`
    /// unless the config names one).
    pub fn api_token(&self) -> &str {
        self.running().api_token.expose()
    }

    /// A request over TCP with the API token, as the CLI with `--url` sends it.
    pub async fn tcp(&self, req: crate::http::Request<'_>) -> crate::http::Reply {
        crate::http::tcp(self.http_addr(), req.bearer(self.api_token())).await
    }

    /// A WebSocket request to `path` (`/ws/...`) over TCP with the API token.
    pub fn ws_request(&self, path: &str) -> tokio_tungstenite::tungstenite::handshake::client::Request {
        crate::http::ws_request(self.http_addr(), path, Some(self.api_token()))
    }

    pub fn reconcile(&self) -> &clauderon_types::api::ReconcileReport {
        &self.running().reconcile
    }

    /// Stop gracefully (store closed, lock released).
    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await.unwrap_or_else(|e| panic!("stopping the test daemon: {e}"));
        }
    }

    /// Stop and start again on the same data dir and the same fake backend.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.boot().await;
    }
}

/// A session manager over an in-memory store and the given fake backend, for
/// router tests that need no sockets. Worktrees go under `data`.
pub fn manager(data: &Path, fake: Arc<FakeBackend>) -> clauderon_core::SessionManager {
    let store = clauderon_store::Store::open_in_memory().unwrap_or_else(|e| panic!("store: {e}"));
    let backend: Arc<dyn SessionBackend> = fake;
    clauderon_core::SessionManager::new(clauderon_core::ManagerParts {
        store: Arc::new(store),
        backends: vec![backend],
        layout: DataLayout::new(data),
        defaults: test_config().sessions,
        access: Default::default(),
        proxy: clauderon_core::ProxyEndpoint { port: 9, ca_cert: data.join("ca.pem"), credentials: None },
    })
}
