//! What an Apple Container session is given, read from the command lines the backend runs —
//! against the test kit's stand-in `container` program (not Apple Container: macOS 26 cannot run
//! here). Mounted: the worktree, the session's own HOME, the read-only files folder, the narrowed
//! git metadata; never the data dir itself, its secrets, the CA key or another session's HOME.
//! The proxy secret and every variable go through a 0600 env file removed after the create,
//! never an argument another process could read; the proxy is reached at the host's address.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use clauderon_apple::{AppleContainerBackend, AppleSettings, DEFAULT_HOST_ADDRESS};
use clauderon_backend::{BackendStatus, ProxyAccess, SessionBackend, SessionSpec};
use clauderon_testkit::TestRepo;
use clauderon_testkit::stand_ins::{container_calls, install_container};
use clauderon_types::{AgentKind, SessionId, SessionName, SessionOptions};
use std::path::Path;

const SECRET: &str = "per-session-proxy-secret-6b1e";
const REAL_KEY: &str = "ghp_REAL_never_mounted_9d2f";

fn git(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("git").args(args).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn a_session_gets_its_worktree_and_home_and_nothing_of_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for sub in ["secrets", "ca", "homes/s1", "homes/other", "worktrees"] {
        std::fs::create_dir_all(data.join(sub)).unwrap();
    }
    std::fs::write(data.join("secrets/github"), REAL_KEY).unwrap();
    std::fs::write(data.join("ca/ca.pem"), "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
        .unwrap();
    std::fs::write(
        data.join("ca/ca-key.pem"),
        "-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    std::fs::write(data.join("homes/other/notes"), "another session's").unwrap();
    let repo = TestRepo::new().unwrap();
    let worktree = data.join("worktrees/s1");
    git(repo.path(), &["worktree", "add", "-q", "-b", "clauderon/s1", worktree.to_str().unwrap()]);

    let mut settings = AppleSettings::new(&data, |k| std::env::var(k).ok());
    settings.program = install_container(dir.path());
    settings.require_macos = false;
    let backend = AppleContainerBackend::new(settings);
    let spec = SessionSpec {
        session_id: SessionId::new(),
        name: SessionName::parse("s1").unwrap(),
        worktree: worktree.clone(),
        repo: repo.path().to_path_buf(),
        agent: AgentKind::Claude,
        prompt: String::new(),
        options: SessionOptions { command: Some("echo started; sleep 300".into()), ..Default::default() },
        home: data.join("homes/s1"),
        placeholders: vec![("ANTHROPIC_API_KEY".into(), "clauderon-placeholder".into())],
        proxy: ProxyAccess {
            user: "s1".into(),
            secret: SECRET.into(),
            port: 3128,
            ca_cert: data.join("ca/ca.pem"),
        },
    };
    let handle = backend.create(&spec).await.unwrap();
    backend.start(&handle).await.unwrap();
    assert_eq!(backend.status(&handle).await.unwrap(), BackendStatus::Running);

    let calls = container_calls(dir.path());
    let create = calls.iter().find(|c| c[0] == "create").expect("a create call");
    for call in &calls {
        for arg in call {
            assert!(!arg.contains(SECRET), "the proxy secret is on a command line: {call:?}");
            assert!(!arg.contains("ca-key.pem") && !arg.contains(REAL_KEY), "{call:?}");
        }
    }
    let mounts: Vec<(String, String, bool)> = create
        .windows(2)
        .filter(|w| w[0] == "--mount")
        .map(|w| {
            let fields: std::collections::HashMap<&str, &str> =
                w[1].split(',').filter_map(|f| f.split_once('=')).collect();
            (fields["source"].to_string(), fields["target"].to_string(), w[1].ends_with(",readonly"))
        })
        .collect();
    let data_s = data.display().to_string();
    for (source, target, _) in &mounts {
        assert_ne!(source, &data_s, "the data dir itself is mounted at {target}");
        for private in ["secrets", "ca", "homes/other"] {
            let p = data.join(private).display().to_string();
            assert!(!source.starts_with(&p), "{source} is mounted at {target}");
        }
        assert_ne!(source, &data.join("homes").display().to_string(), "every session's HOME is mounted");
    }
    let has = |source: &Path, target: &str, ro: bool| {
        mounts.iter().any(|(s, t, r)| s == &source.display().to_string() && t == target && *r == ro)
    };
    assert!(has(&worktree, "/workspace", false), "{mounts:?}");
    assert!(has(&data.join("homes/s1"), "/home/clauderon", false), "{mounts:?}");
    assert!(mounts.iter().any(|(_, t, ro)| t == "/etc/clauderon" && *ro), "{mounts:?}");

    // The environment went through the env file: 0600, gone after the create, and it held the
    // proxy at the host's address with the session's identity, and placeholders only.
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(format!("state/{}.json", handle.as_str()))).unwrap(),
    )
    .unwrap();
    assert_eq!(state["env_file_mode"], "0o600");
    assert!(std::fs::read_dir(data.join("apple")).unwrap().next().is_none(), "the env file is left behind");
    let proxy = state["env"]["HTTPS_PROXY"].as_str().unwrap();
    assert_eq!(proxy, format!("http://s1:{SECRET}@{DEFAULT_HOST_ADDRESS}:3128"));
    assert_eq!(state["env"]["ANTHROPIC_API_KEY"], "clauderon-placeholder");
    assert!(!state["env"].to_string().contains(REAL_KEY));
    backend.delete(&handle).await.unwrap();
    assert_eq!(backend.status(&handle).await.unwrap(), BackendStatus::Missing);
}

#[tokio::test]
async fn on_linux_it_says_it_is_not_available_here_and_what_to_use() {
    let dir = tempfile::tempdir().unwrap();
    let backend = AppleContainerBackend::new(AppleSettings::new(dir.path(), |k| std::env::var(k).ok()));
    let err = backend.check().await.unwrap_err().to_string();
    assert!(
        err.contains("not available here") && err.contains("macOS") && err.contains("--backend docker"),
        "{err}"
    );
}
