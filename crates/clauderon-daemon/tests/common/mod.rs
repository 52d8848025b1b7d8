//! Setup shared by the daemon's integration tests (Cargo compiles `tests/common/` into each
//! test binary that says `mod common;`, and never as a test of its own).
//!
//! The proxy fixture: a test daemon whose proxy reaches the real API host names at the test
//! kit's TLS upstream (host overrides) and trusts it (an extra CA file), as a user would point
//! it at a gateway, with a credential environment and one read-write session named `agent`.

#![allow(dead_code)] // each test binary uses a different part

use clauderon_backend::ProxyAccess;
use clauderon_testkit::http::{Request as ApiRequest, unix};
use clauderon_testkit::upstream::TlsUpstream;
use clauderon_testkit::{TestDaemon, TestRepo};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

pub const ANTHROPIC_KEY: &str = "sk-ant-REAL-4f9a1c2e7b";
pub const OPENAI_KEY: &str = "sk-proj-REAL-77aa88bb";
pub const GEMINI_KEY: &str = "AIza-REAL-gemini-123";
pub const GITHUB_TOKEN: &str = "ghp_REAL_githubtoken42";
pub const SECRETS: &[&str] = &[ANTHROPIC_KEY, OPENAI_KEY, GEMINI_KEY, GITHUB_TOKEN];

/// What github.com must receive for a git request: the token as the password of
/// `x-access-token`, Basic-encoded.
pub fn github_basic() -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{GITHUB_TOKEN}"));
    format!("Basic {encoded}")
}

/// An upstream serving `acme/widgets` (one commit on `main`) over the real git http-backend,
/// from a git root that lives as long as the returned folder.
pub async fn git_upstream() -> (tempfile::TempDir, clauderon_testkit::BareRepo, TlsUpstream) {
    let git_root = tempfile::tempdir().unwrap();
    let repo = clauderon_testkit::BareRepo::create(git_root.path(), "acme/widgets").unwrap();
    let up = TlsUpstream::start(clauderon_testkit::UpstreamOptions {
        git_root: Some(git_root.path().to_path_buf()),
        ..Default::default()
    })
    .await;
    (git_root, repo, up)
}

pub struct ProxyFixture {
    pub d: TestDaemon,
    pub up: TlsUpstream,
    /// The `agent` session's proxy identity.
    pub access: ProxyAccess,
    /// Holds the upstream's CA file for as long as the daemon may read it.
    pub _ca_dir: tempfile::TempDir,
}

impl ProxyFixture {
    /// The proxy URL a session is given, with its identity.
    pub fn proxy_url(&self) -> String {
        format!("http://{}:{}@{}", self.access.user, self.access.secret, self.d.proxy_addr())
    }
}

/// A daemon with the credential environment `env`; `trust_upstream: false` leaves the
/// upstream's CA out, so its certificate is refused.
pub async fn fixture_with(env: &[(&str, &str)], trust_upstream: bool) -> ProxyFixture {
    fixture_on(TlsUpstream::start_default().await, env, trust_upstream).await
}

/// The same daemon in front of an upstream the test started (with a git root, say).
pub async fn fixture_on(up: TlsUpstream, env: &[(&str, &str)], trust_upstream: bool) -> ProxyFixture {
    fixture_configured(up, env, trust_upstream, |_| {}).await
}

/// The same, with the config changed first (`[policy] scrub = false` for a control case, say).
pub async fn fixture_configured(
    up: TlsUpstream,
    env: &[(&str, &str)],
    trust_upstream: bool,
    tweak: impl FnOnce(&mut clauderon_core::Config),
) -> ProxyFixture {
    let ca_dir = tempfile::tempdir().unwrap();
    let mut config = clauderon_testkit::daemon::test_config();
    tweak(&mut config);
    config.proxy.upstream_overrides = up.overrides();
    if trust_upstream {
        config.proxy.extra_ca_files = vec![up.ca().write_pem(ca_dir.path())];
    }
    let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let d = TestDaemon::start_with(config, env).await;
    let repo = TestRepo::new().unwrap();
    // Read-write: these tests are about injection; the policy tests make read-only sessions.
    let body =
        json!({"repo_path": repo.path(), "prompt": "go", "name": "agent", "access_mode": "read-write"})
            .to_string();
    let reply = unix(d.socket(), ApiRequest::new("POST", "/api/sessions").json(body)).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let access = d.fake.proxy_for("agent").unwrap();
    ProxyFixture { d, up, access, _ca_dir: ca_dir }
}

/// A CA bundle with clauderon's CA (intercepted hosts) and the upstream's (tunnelled hosts
/// show their own certificate), as a session's trust store has both kinds of roots.
pub fn trust_bundle(fx: &ProxyFixture) -> std::path::PathBuf {
    let path = fx._ca_dir.path().join("session-bundle.pem");
    let mut pem = std::fs::read_to_string(fx.d.ca_cert()).unwrap();
    pem.push_str(&std::fs::read_to_string(fx.up.ca().write_pem(fx._ca_dir.path())).unwrap());
    std::fs::write(&path, pem).unwrap();
    path
}

/// What a session trusts: clauderon's CA, and the real server's CA (here the test
/// upstream's) for hosts that are tunnelled rather than intercepted.
pub fn clauderon_roots(fx: &ProxyFixture) -> rustls::RootCertStore {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    roots.add(fx.up.ca().ca_der()).unwrap();
    for cert in CertificateDer::pem_file_iter(fx.d.ca_cert()).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    roots
}

/// CONNECT through the proxy with the session's identity, then TLS as the session would.
pub async fn tunnel(
    fx: &ProxyFixture,
    host: &str,
    alpn: &[&[u8]],
) -> tokio_rustls::client::TlsStream<TcpStream> {
    use base64::Engine;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = TcpStream::connect(fx.d.proxy_addr()).await.unwrap();
    let auth =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", fx.access.user, fx.access.secret));
    let head = format!(
        "CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\nProxy-Authorization: Basic {auth}\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert!(tcp.read(&mut byte).await.unwrap() > 0, "proxy closed during CONNECT");
        buf.push(byte[0]);
    }
    assert!(String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(clauderon_roots(fx))
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(rustls::pki_types::ServerName::try_from(host.to_string()).unwrap(), tcp)
        .await
        .unwrap()
}

/// Switch the `agent` session's access mode through the API, as `clauderon set-access-mode` does.
pub async fn set_mode(fx: &ProxyFixture, mode: &str) {
    let body = json!({ "mode": mode }).to_string();
    let reply =
        unix(fx.d.socket(), ApiRequest::new("PUT", "/api/sessions/agent/access-mode").json(body)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

/// Every built-in rule's credential configured, the upstream trusted.
pub async fn fixture() -> ProxyFixture {
    fixture_with(
        &[
            ("ANTHROPIC_API_KEY", ANTHROPIC_KEY),
            ("OPENAI_API_KEY", OPENAI_KEY),
            ("GEMINI_API_KEY", GEMINI_KEY),
            ("GH_TOKEN", GITHUB_TOKEN),
        ],
        true,
    )
    .await
}

/// The `agent` session's audit, once the batched writer has had time to store it.
pub async fn audit(fx: &ProxyFixture) -> Vec<Value> {
    audit_of(fx, "agent").await
}

/// The audit of the session named, once the batch writer has had time to store it.
pub async fn audit_of(fx: &ProxyFixture, name: &str) -> Vec<Value> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reply = unix(fx.d.socket(), ApiRequest::new("GET", &format!("/api/sessions/{name}/requests"))).await;
    reply.json()["requests"].as_array().unwrap().clone()
}

/// Run a `curl()` command off the async threads (the daemon under test shares them), at most 20 s.
pub async fn run(mut cmd: std::process::Command) -> std::process::Output {
    cmd.args(["--max-time", "20"]);
    tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
}

/// `curl` with no proxy settings inherited from the environment: a test names its proxy itself.
pub fn curl() -> std::process::Command {
    let mut c = std::process::Command::new("curl");
    for var in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        c.env_remove(var);
    }
    c
}
