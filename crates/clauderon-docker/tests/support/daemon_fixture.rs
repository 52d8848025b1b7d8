//! A real daemon with the Docker backend on a temporary data dir, the test kit's TLS upstream
//! behind the proxy, and a repository: what the end-to-end and escape tests share.

use clauderon_daemon::{LaunchOptions, RunningDaemon, launch};
use clauderon_docker::{DockerBackend, DockerSettings};
use clauderon_testkit::TestRepo;
use clauderon_testkit::http::{Request as ApiRequest, unix};
use clauderon_testkit::upstream::TlsUpstream;
use clauderon_types::DataLayout;
use serde_json::json;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

pub const REAL_KEY: &str = "sk-ant-REAL-docker-e2e-9f8e7d";

pub struct DaemonFixture {
    pub daemon: RunningDaemon,
    pub up: TlsUpstream,
    pub backend: Arc<DockerBackend>,
    pub data: tempfile::TempDir,
    pub ca_dir: tempfile::TempDir,
    pub repo: TestRepo,
    pub gateway: IpAddr,
    pub proxy_port: u16,
    /// Appended to session names, so runs side by side (or a failed run's leftovers) never clash.
    pub tag: String,
    pub _cleanup: Cleanup,
}

pub async fn fixture() -> DaemonFixture {
    fixture_on_port(0).await
}

/// A daemon whose proxy listens on `proxy_port` (0: any), with the Docker backend.
pub async fn fixture_on_port(proxy_port: u16) -> DaemonFixture {
    let up = TlsUpstream::start_default().await;
    let data = tempfile::tempdir().unwrap();
    let ca_dir = tempfile::tempdir().unwrap();
    let repo = TestRepo::new().unwrap();
    let (daemon, backend, gateway) = start(&data, &up, &ca_dir, proxy_port).await;
    let proxy_port = daemon.proxy_addr.port();
    let tag = clauderon_types::SessionId::new().short();
    let _cleanup = Cleanup(tag.clone());
    DaemonFixture { daemon, up, backend, data, ca_dir, repo, gateway, proxy_port, tag, _cleanup }
}

/// The daemon's scope label: its data dir, as the shipped daemon sets it.
pub fn scope(data: &tempfile::TempDir) -> String {
    data.path().display().to_string()
}

pub async fn start(
    data: &tempfile::TempDir,
    up: &TlsUpstream,
    ca_dir: &tempfile::TempDir,
    proxy_port: u16,
) -> (RunningDaemon, Arc<DockerBackend>, IpAddr) {
    let layout = DataLayout::new(data.path());
    let mut config = clauderon_testkit::daemon::test_config();
    config.proxy.bind = SocketAddr::from(([127, 0, 0, 1], proxy_port));
    config.proxy.upstream_overrides = up.overrides();
    config.proxy.extra_ca_files = vec![up.ca().write_pem(ca_dir.path())];
    let backend = super::backend_with(DockerSettings {
        image: super::base_image(),
        proxy_socket: Some(layout.proxy_socket()),
        scope: Some(scope(data)),
        ..Default::default()
    })
    .await;
    let ips = backend.proxy_ips().await.unwrap();
    let mut options = LaunchOptions::new(layout, config);
    options.backends.push(backend.clone());
    options.credential_env = Some(HashMap::from([("ANTHROPIC_API_KEY".to_string(), REAL_KEY.to_string())]));
    options.extra_proxy_ips = ips.clone();
    let daemon = launch(options).await.unwrap();
    (daemon, backend, ips[0])
}

/// Removes the run's containers when dropped, so a failed test leaves none behind.
pub struct Cleanup(pub String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let ids = super::docker_cli(&["ps", "-aq", "--filter", &format!("name=-{}$", self.0)]);
        for id in ids.split_whitespace() {
            let _ = super::docker_cli(&["rm", "-f", id]);
        }
    }
}

impl DaemonFixture {
    /// The session's full name for this run.
    pub fn n(&self, base: &str) -> String {
        format!("{base}-{}", self.tag)
    }

    pub async fn create(&self, base: &str, command: &str, network: &str) {
        let name = self.n(base);
        let body = json!({
            "repo_path": self.repo.path(), "prompt": "go", "name": name, "backend": "docker",
            "options": {"command": command, "network": network},
        });
        let reply =
            unix(&self.daemon.socket, ApiRequest::new("POST", "/api/sessions").json(body.to_string())).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
    }

    /// The session's output once it contains `marker` (the command prints it last).
    pub async fn output_until(&self, base: &str, marker: &str) -> String {
        let name = self.n(base);
        let handle = clauderon_backend::BackendHandle(format!("clauderon-{name}"));
        let mut logs = String::new();
        for _ in 0..300 {
            logs = clauderon_backend::SessionBackend::logs(self.backend.as_ref(), &handle, 10_000)
                .await
                .unwrap();
            if logs.contains(marker) {
                return logs;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the session never printed {marker}; its output: {logs}");
    }

    pub async fn delete(&self, base: &str) {
        let name = self.n(base);
        let path = format!("/api/sessions/{name}?force=true");
        let reply = unix(&self.daemon.socket, ApiRequest::new("DELETE", &path)).await;
        assert!(reply.status < 300, "{}", reply.body);
    }
}
