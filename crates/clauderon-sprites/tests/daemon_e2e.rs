//! End to end through a real daemon with the Sprites backend, against the local STAND-IN of the
//! Sprites API (`clauderon_testkit::sprites_api`; not the real service, which cannot be reached
//! here). The stand-in runs the sprite in its own network namespace: like a real sprite it
//! cannot reach this machine at all, so everything the session gets from the network comes
//! through the tunnel the daemon holds open to its proxy.
//!
//! From inside the sprite, as an attacker that read this code: the proxy works with the
//! session's identity (the upstream gets the real key), is 407 without it, walls off the
//! daemon's API even through the tunnel, and the daemon's API is unreachable directly. Neither
//! the real key nor the Sprites API token is anywhere in the sprite: its environment, its
//! files, its output.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use clauderon_daemon::{LaunchOptions, launch};
use clauderon_sprites::api::FixedToken;
use clauderon_sprites::{SpritesBackend, SpritesSettings};
use clauderon_testkit::TestRepo;
use clauderon_testkit::attacks;
use clauderon_testkit::http::{Request as ApiRequest, unix};
use clauderon_testkit::sprites_api::FakeSprites;
use clauderon_testkit::stand_ins::logs_until;
use clauderon_testkit::upstream::TlsUpstream;
use clauderon_types::DataLayout;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

const REAL_KEY: &str = "sk-ant-REAL-sprites-e2e-4c1d";

/// A daemon with the Sprites backend on the stand-in API, the test kit's upstream behind its
/// proxy, and a repository.
struct Setup {
    fake: FakeSprites,
    up: TlsUpstream,
    backend: Arc<SpritesBackend>,
    daemon: clauderon_daemon::RunningDaemon,
    repo: TestRepo,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

async fn setup() -> Setup {
    let fake = FakeSprites::start().await;
    let up = TlsUpstream::start_default().await;
    let data = tempfile::tempdir().unwrap();
    let ca_dir = tempfile::tempdir().unwrap();
    let repo = TestRepo::new().unwrap();
    let layout = DataLayout::new(data.path());
    let mut config = clauderon_testkit::daemon::test_config();
    config.proxy.upstream_overrides = up.overrides();
    config.proxy.extra_ca_files = vec![up.ca().write_pem(ca_dir.path())];
    let backend = Arc::new(SpritesBackend::new(SpritesSettings {
        api_url: fake.url.clone(),
        token: Arc::new(FixedToken(fake.token.clone())),
        extra_roots: Vec::new(),
        scope: data.path().display().to_string(),
        proxy_port: 0,
    }));
    let mut options = LaunchOptions::new(layout, config);
    options.backends.push(backend.clone());
    options.credential_env = Some(HashMap::from([("ANTHROPIC_API_KEY".to_string(), REAL_KEY.to_string())]));
    let daemon = launch(options).await.unwrap();
    Setup { fake, up, backend, daemon, repo, _dirs: (data, ca_dir) }
}

impl Setup {
    /// Create a session running `command`; its handle.
    async fn create(&self, name: &str, command: &str) -> clauderon_backend::BackendHandle {
        create_session(&self.daemon, &self.repo, name, command).await
    }

    /// The session's screen once it shows `marker`.
    async fn output_until(
        &self,
        handle: &clauderon_backend::BackendHandle,
        marker: &str,
        tries: usize,
    ) -> String {
        logs_until(self.backend.as_ref(), handle, 5000, tries, |l| l.contains(marker)).await
    }
}

/// Create a sprites session running `command` through the daemon's API; its handle.
async fn create_session(
    daemon: &clauderon_daemon::RunningDaemon,
    repo: &TestRepo,
    name: &str,
    command: &str,
) -> clauderon_backend::BackendHandle {
    let body = json!({
        "repo_path": repo.path(), "prompt": "go", "name": name, "backend": "sprites",
        "options": {"command": command},
    });
    let reply = unix(&daemon.socket, ApiRequest::new("POST", "/api/sessions").json(body.to_string())).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let session: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    clauderon_backend::BackendHandle(session["backend_handle"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn a_sprite_reaches_the_proxy_only_through_the_daemons_tunnel_and_holds_no_secret() {
    let Setup { fake, up, backend, daemon, repo, _dirs } = setup().await;
    let api = daemon.http_addr;

    let secrets = [REAL_KEY, fake.token.as_str()];
    let command = attacks::remote_probe(api, &secrets);
    let handle = create_session(&daemon, &repo, "sp1", &command).await;

    let logs = logs_until(backend.as_ref(), &handle, 1000, 300, |l| l.contains("FINISHED")).await;
    assert!(logs.contains("FINISHED"), "the session never finished: {logs}");
    attacks::assert_remote_walls(&logs, &secrets);
    let requests = up.wait_for_requests(1, Duration::from_secs(5)).await;
    assert!(
        requests.iter().any(|r| r.header("x-api-key") == Some(REAL_KEY)),
        "upstream never got the real key"
    );
    assert!(
        logs.contains("IN_WORKSPACE=/home/sprite/workspace README.md"),
        "the branch was not cloned in: {logs}"
    );

    // The sprite is walled in by name too, and nothing of either secret reached the API.
    let policy = fake.policy(handle.as_str()).unwrap();
    assert_eq!(policy["rules"], json!([{"action": "deny", "domain": "*"}]));
    assert!(!fake.seen().contains(REAL_KEY));
    let files = walk(&fake.home(handle.as_str()));
    assert!(!files.contains(REAL_KEY) && !files.contains(&fake.token), "a secret is in the sprite's files");

    // The session as the API shows it does not carry the Sprites token either.
    let shown = unix(&daemon.socket, ApiRequest::new("GET", "/api/sessions/sp1")).await;
    assert!(!shown.body.contains(&fake.token));

    let reply = unix(&daemon.socket, ApiRequest::new("DELETE", "/api/sessions/sp1?force=true")).await;
    assert!(reply.status < 300, "{}", reply.body);
    assert!(!fake.exists(handle.as_str()), "the sprite outlived its session");
    daemon.stop().await.unwrap();
}

/// Every regular file's text under `dir`, links not followed.
fn walk(dir: &std::path::Path) -> String {
    let mut out = String::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for entry in entries.flatten() {
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else { continue };
        if meta.is_dir() {
            out.push_str(&walk(&entry.path()));
        } else if meta.is_file() {
            out.push_str(&String::from_utf8_lossy(&std::fs::read(entry.path()).unwrap_or_default()));
        }
    }
    out
}

/// What the tunnel costs (BENCHMARKS.md, "Proxy tunnel"): the same curl requests through the
/// same proxy with the same session identity, from inside a sprite (relay, exec stream, the
/// daemon's end) and from the host straight to the proxy, side by side in one run. New
/// connections (CONNECT + TLS + a small GET each) and 10 MB downloads.
/// `cargo test -p clauderon-sprites --test daemon_e2e -- --ignored --nocapture tunnel_cost`
#[tokio::test]
#[ignore = "a benchmark: run by hand"]
async fn tunnel_cost() {
    let s = setup().await;
    const SMALL: usize = 40;
    const LARGE: usize = 5;
    let probe = format!(
        "for i in $(seq {SMALL}); do curl -sS -o /dev/null -w 'SMALL %{{time_total}}\\n' https://api.anthropic.com/small; done; \
         for i in $(seq {LARGE}); do curl -sS -o /dev/null -w 'LARGE %{{time_total}}\\n' https://api.anthropic.com/bytes/10000000; done; echo DONE"
    );
    let handle = s.create("bench", &format!("{probe}; sleep 600")).await;
    let screen = s.output_until(&handle, "DONE", 1200).await;
    assert!(screen.contains("DONE"), "{screen}");
    // The same loop on the host, straight to the proxy with the session's own identity.
    let env = std::fs::read_to_string(s.fake.home(handle.as_str()).join(".clauderon/env.sh")).unwrap();
    let proxy_url = env
        .lines()
        .find_map(|l| l.strip_prefix("export HTTPS_PROXY="))
        .unwrap()
        .trim_matches('\'')
        .replace(":3128", &format!(":{}", s.daemon.proxy_addr.port()));
    // The very bundle the sprite's curl reads (the system's roots and clauderon's CA): parsing
    // it is a good part of each curl's time.
    let bundle = s.fake.home(handle.as_str()).join(".clauderon/ca-bundle.pem");
    let host = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&probe)
        .env("HTTPS_PROXY", &proxy_url)
        .env("CURL_CA_BUNDLE", &bundle)
        .output()
        .await
        .unwrap();
    let host = String::from_utf8_lossy(&host.stdout).into_owned();
    let times = |text: &str, kind: &str| -> Vec<f64> {
        let mut v: Vec<f64> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix(kind)?.trim().parse::<f64>().ok())
            .map(|t| t * 1000.0)
            .collect();
        v.sort_by(|a, b| a.total_cmp(b));
        v
    };
    let median = |v: &[f64]| v[v.len() / 2];
    for (kind, n) in [("SMALL", SMALL), ("LARGE", LARGE)] {
        let (tunnel, direct) = (times(&screen, kind), times(&host, kind));
        assert_eq!((tunnel.len(), direct.len()), (n, n), "{screen}\n{host}");
        println!(
            "{kind}: through the tunnel median {:.2} ms, straight to the proxy {:.2} ms ({:.2}x)",
            median(&tunnel),
            median(&direct),
            median(&tunnel) / median(&direct)
        );
    }
    s.daemon.stop().await.unwrap();
}
