//! The real Claude Code CLI inside a Docker session, through a real daemon: it completes a
//! prompt against the test kit's fake Anthropic API through the proxy, holding only a
//! placeholder, and neither its output nor its HOME holds the real key. The CLI is the pinned
//! one `scripts/install-agent-clis.sh` installs (its native binary needs only glibc), copied
//! into an image on the test base (no registry or npm inside containers here); the image is
//! cached by tag.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use clauderon_daemon::{LaunchOptions, launch};
use clauderon_docker::DockerSettings;
use clauderon_testkit::TestRepo;
use clauderon_testkit::http::{Request as ApiRequest, unix};
use clauderon_testkit::upstream::{ModelReply, TlsUpstream};
use clauderon_types::DataLayout;
use serde_json::json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const REAL_KEY: &str = "sk-ant-REAL-in-container-51c7";
const REPLY: &str = "Hello from a container through clauderon, 7d2e";
const INSTALL_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/install-agent-clis.sh");

fn pinned_version() -> String {
    std::fs::read_to_string(INSTALL_SCRIPT)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("CLAUDE_CODE_VERSION=").map(|v| v.trim().to_string()))
        .expect("install-agent-clis.sh pins CLAUDE_CODE_VERSION=")
}

/// The installed CLI's native binary; a failure that says how to install it when missing.
fn claude_binary() -> PathBuf {
    let launcher = match std::env::var_os("CLAUDERON_TEST_CLAUDE_BIN") {
        Some(p) => PathBuf::from(p),
        None => {
            let home = std::env::var_os("HOME").expect("HOME is set");
            let cache = std::env::var_os("CLAUDERON_AGENT_CACHE")
                .map(PathBuf::from)
                .unwrap_or_else(|| Path::new(&home).join(".cache/clauderon/agent-clis"));
            cache.join(format!("claude-code-{}/node_modules/.bin/claude", pinned_version()))
        }
    };
    let real = std::fs::canonicalize(&launcher).unwrap_or_else(|_| {
        panic!(
            "the real Claude Code CLI is not installed at {}: run scripts/install-agent-clis.sh",
            launcher.display()
        )
    });
    assert!(real.is_file(), "{} is not a file", real.display());
    real
}

/// `clauderon-test-claude:<version>`: the test base with the CLI at /usr/local/bin/claude.
fn claude_image() -> String {
    let tag = format!("clauderon-test-claude:{}", pinned_version());
    if !support::docker_cli(&["images", "-q", &tag]).is_empty() {
        return tag;
    }
    let dir = tempfile::tempdir().unwrap();
    let bin = claude_binary();
    if std::fs::hard_link(&bin, dir.path().join("claude")).is_err() {
        std::fs::copy(&bin, dir.path().join("claude")).unwrap();
    }
    let dockerfile = format!("FROM {}\nCOPY claude /usr/local/bin/claude\n", support::base_image());
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    let out = Command::new("docker").args(["build", "-q", "-t", &tag]).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "building {tag}: {}", String::from_utf8_lossy(&out.stderr));
    tag
}

#[tokio::test]
async fn claude_code_in_a_container_completes_a_prompt_through_the_proxy() {
    let image = tokio::task::spawn_blocking(claude_image).await.unwrap();
    let up = TlsUpstream::start_default().await;
    up.set_model_reply(ModelReply { text: REPLY.into(), ..ModelReply::default() });
    // The fake API refuses a model call without the real key, as the real API would.
    up.require_header("api.anthropic.com", "x-api-key", REAL_KEY);
    let data = tempfile::tempdir().unwrap();
    let ca_dir = tempfile::tempdir().unwrap();
    let layout = DataLayout::new(data.path());
    let mut config = clauderon_testkit::daemon::test_config();
    config.proxy.upstream_overrides = up.overrides();
    config.proxy.extra_ca_files = vec![up.ca().write_pem(ca_dir.path())];
    let backend = support::backend_with(DockerSettings {
        image: image.clone(),
        proxy_socket: Some(layout.proxy_socket()),
        ..Default::default()
    })
    .await;
    let mut options = LaunchOptions::new(layout, config);
    options.extra_proxy_ips = backend.proxy_ips().await.unwrap();
    options.backends.push(backend.clone());
    options.credential_env = Some(HashMap::from([("ANTHROPIC_API_KEY".to_string(), REAL_KEY.to_string())]));
    let daemon = launch(options).await.unwrap();
    let repo = TestRepo::new().unwrap();
    let name = format!("claude-{}", clauderon_types::SessionId::new().short());
    let command = "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_TELEMETRY=1 CLAUDE_CODE_MAX_RETRIES=0 \
         claude -p 'Say hello' --output-format json </dev/null; echo CLAUDE-EXIT=$?; sleep 300";
    let body = json!({"repo_path": repo.path(), "prompt": "", "name": name, "backend": "docker",
        "options": {"command": command, "network": "locked"}});
    let reply = unix(&daemon.socket, ApiRequest::new("POST", "/api/sessions").json(body.to_string())).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let handle = clauderon_backend::BackendHandle(format!("clauderon-{name}"));
    let mut logs = String::new();
    for _ in 0..600 {
        logs = clauderon_backend::SessionBackend::logs(backend.as_ref(), &handle, 10_000).await.unwrap();
        if logs.contains("CLAUDE-EXIT=") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let home_holds_key = support::docker_cli(&[
        "exec",
        handle.as_str(),
        "sh",
        "-c",
        &format!("grep -rl {REAL_KEY} /home/clauderon /workspace 2>/dev/null; echo GREP-DONE"),
    ]);
    let path = format!("/api/sessions/{name}?force=true");
    let _ = unix(&daemon.socket, ApiRequest::new("DELETE", &path)).await;
    assert!(logs.contains("CLAUDE-EXIT=0"), "claude failed in the container:\n{logs}");
    assert!(logs.contains(REPLY), "claude did not print the model's reply:\n{logs}");
    assert!(!logs.contains(REAL_KEY), "the real key reached claude's output");
    assert_eq!(home_holds_key.trim(), "GREP-DONE", "the session's files hold the real key");
    let calls = up.requests();
    assert!(
        calls.iter().any(|r| r.path.starts_with("/v1/messages") && r.header("x-api-key") == Some(REAL_KEY)),
        "no model call reached the upstream with the injected key"
    );
    daemon.stop().await.unwrap();
}
