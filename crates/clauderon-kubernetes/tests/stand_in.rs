//! The Kubernetes backend against the test kit's STAND-IN API server (`clauderon_testkit::kube_api`:
//! objects kept, owners' objects collected, pods run on this machine; NOT a cluster).
//!
//! - An origin with a token written into its URL never reaches the cluster: the ConfigMap and
//!   the pod get it without userinfo; a forge's SSH remote becomes its HTTPS form.
//! - A create the cluster refuses half-way (a quota on volumes) leaves nothing behind.
//! - A pod that cannot start says why in the session's status.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use clauderon_backend::{
    BackendError, BackendHandle, BackendStatus, ProxyAccess, SessionBackend, SessionSpec,
};
use clauderon_kubernetes::KubernetesBackend;
use clauderon_kubernetes::plan::KubeSettings;
use clauderon_testkit::TestRepo;
use clauderon_testkit::kube_api::FakeKube;
use clauderon_testkit::stand_ins::{logs_until, ok_http_server};
use clauderon_types::{AgentKind, SessionId, SessionName, SessionOptions};

const TOKEN: &str = "ghp_tokenInTheOriginURL_3e9a";

async fn backend() -> (KubernetesBackend, FakeKube) {
    let api = FakeKube::start("clauderon-test").await;
    let settings = KubeSettings {
        context: None,
        tunnel: true,
        daemon_proxy_port: 9,
        namespace: api.namespace.clone(),
        image: "stand-in".into(),
        storage_class: None,
        workspace_size: "100Mi".into(),
        proxy_host: "clauderon-proxy".into(),
        proxy_port: 3128,
        proxy_pod_labels: [("app.kubernetes.io/name".to_string(), "clauderon-proxy".to_string())].into(),
        scope: "stand-in-tests".into(),
    };
    (KubernetesBackend::with_client(settings, api.client()), api)
}

fn spec(repo: &TestRepo, dir: &tempfile::TempDir, command: &str) -> SessionSpec {
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, clauderon_backend::contract::CONTRACT_CA).unwrap();
    SessionSpec {
        session_id: SessionId::new(),
        name: SessionName::parse("kube-t").unwrap(),
        worktree: repo.path().to_path_buf(),
        repo: repo.path().to_path_buf(),
        agent: AgentKind::Claude,
        prompt: String::new(),
        options: SessionOptions { command: Some(command.into()), ..Default::default() },
        home: dir.path().to_path_buf(),
        placeholders: Vec::new(),
        proxy: ProxyAccess { user: "kube-t".into(), secret: "proxy-secret".into(), port: 3128, ca_cert: ca },
    }
}

#[tokio::test]
async fn a_token_in_the_origin_url_never_reaches_the_cluster() {
    let (backend, api) = backend().await;
    let repo = TestRepo::new().unwrap();
    repo.git(&["remote", "add", "origin", &format!("https://x-access-token:{TOKEN}@github.com/acme/w.git")])
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The clone finds no network in the stand-in; what matters is what the cluster was given.
    let handle = backend.create(&spec(&repo, &dir, "sleep 300")).await.unwrap();
    backend.start(&handle).await.unwrap();
    let everything = ["configmaps", "secrets", "persistentvolumeclaims", "networkpolicies", "pods"]
        .iter()
        .flat_map(|p| api.objects(p))
        .map(|o| o.to_string())
        .collect::<String>();
    assert!(!everything.contains(TOKEN), "the origin's token is in the cluster");
    assert!(everything.contains("https://github.com/acme/w.git"), "the pod does not clone the origin");
    backend.delete(&handle).await.unwrap();
}

#[tokio::test]
async fn a_forge_ssh_remote_is_cloned_over_https() {
    let (backend, api) = backend().await;
    let repo = TestRepo::new().unwrap();
    repo.git(&["remote", "add", "origin", "git@gitlab.com:group/project.git"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let handle = backend.create(&spec(&repo, &dir, "sleep 300")).await.unwrap();
    let owner = api.objects("configmaps").pop().unwrap();
    assert_eq!(owner["data"]["origin"], "https://gitlab.com/group/project.git");
    backend.delete(&handle).await.unwrap();
}

#[tokio::test]
async fn a_create_refused_half_way_leaves_nothing_behind() {
    let (backend, api) = backend().await;
    api.refuse(
        "persistentvolumeclaims",
        403,
        "Forbidden",
        "persistentvolumeclaims \"x\" is forbidden: exceeded quota: storage, requested: requests.storage=10Gi",
    );
    let repo = TestRepo::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let err = backend.create(&spec(&repo, &dir, "sleep 300")).await.unwrap_err();
    assert!(err.to_string().contains("ResourceQuota"), "{err}");
    for plural in ["configmaps", "secrets", "persistentvolumeclaims", "networkpolicies", "pods"] {
        assert!(api.objects(plural).is_empty(), "a {plural} object was left: {:?}", api.objects(plural));
    }
}

#[tokio::test]
async fn a_failing_clone_shows_in_the_logs_and_the_session_stops() {
    let (backend, _api) = backend().await;
    let repo = TestRepo::new().unwrap();
    repo.git(&["remote", "add", "origin", "https://github.com/acme/unreachable.git"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let handle: BackendHandle = backend.create(&spec(&repo, &dir, "echo never; sleep 300")).await.unwrap();
    backend.start(&handle).await.unwrap();
    let mut status = Ok(BackendStatus::Running);
    for _ in 0..100 {
        status = backend.status(&handle).await;
        if status != Ok(BackendStatus::Running) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The pod's network has nothing (no proxy in the stand-in): the init container's clone fails
    // and the agent never starts.
    assert_eq!(status, Ok(BackendStatus::Stopped));
    // The agent never started: the logs are the clone's, saying why.
    let logs = backend.logs(&handle, 50).await.unwrap();
    assert!(!logs.contains("never"), "{logs}");
    assert!(logs.contains("unreachable.git") || logs.to_lowercase().contains("could not"), "{logs}");
    backend.delete(&handle).await.unwrap();
    assert!(matches!(backend.logs(&handle, 5).await, Err(BackendError::NotFound { .. })));
}

#[tokio::test]
async fn the_terminal_reaches_the_agent_through_attach_and_a_stopped_one_refuses() {
    let (backend, _api) = backend().await;
    let repo = TestRepo::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let command = "echo ready; while IFS= read -r l; do printf 'got[%s]\\n' \"$l\"; done";
    let handle = backend.create(&spec(&repo, &dir, command)).await.unwrap();
    backend.start(&handle).await.unwrap();
    let mut terminal = None;
    for _ in 0..100 {
        if let Ok(Some(t)) = backend.terminal(&handle).await {
            terminal = Some(t);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut terminal = terminal.expect("no terminal on the running agent");
    terminal.input.send(clauderon_backend::TerminalInput::Resize { cols: 100, rows: 30 }).await.unwrap();
    terminal
        .input
        .send(clauderon_backend::TerminalInput::Data(b"typed in a browser\r".to_vec()))
        .await
        .unwrap();
    let mut seen = String::new();
    while !seen.contains("got[typed in a browser]") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), terminal.output.recv())
            .await
            .unwrap_or_else(|_| panic!("the terminal never showed the line; it showed: {seen:?}"))
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(terminal);
    backend.stop(&handle).await.unwrap();
    let refused = backend.send_input(&handle, "anyone?").await.unwrap_err().to_string();
    assert!(refused.contains("stopped") && refused.contains("clauderon start"), "{refused}");
    backend.delete(&handle).await.unwrap();
}

#[tokio::test]
async fn the_pod_watch_says_when_the_agent_ends_and_how() {
    let (backend, _api) = backend().await;
    let mut feed = backend.watch().expect("the Kubernetes backend has a status feed");
    let repo = TestRepo::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let handle = backend.create(&spec(&repo, &dir, "echo working; sleep 1; exit 3")).await.unwrap();
    backend.start(&handle).await.unwrap();
    let mut seen = Vec::new();
    while !seen.iter().any(|c: &clauderon_backend::StatusChange| c.status == BackendStatus::Stopped) {
        let change = tokio::time::timeout(std::time::Duration::from_secs(20), feed.recv())
            .await
            .unwrap_or_else(|_| panic!("no stop came through the watch; seen: {seen:?}"))
            .unwrap();
        assert_eq!(change.handle, handle);
        seen.push(change);
    }
    assert!(seen.iter().any(|c| c.status == BackendStatus::Running), "{seen:?}");
    let stopped = seen.last().unwrap();
    assert!(stopped.detail.contains("agent exited with code 3"), "{stopped:?}");
    backend.delete(&handle).await.unwrap();
}

/// A daemon that goes and comes back: the pod keeps running, loses its proxy while no daemon
/// holds the tunnel, and gets it back when the next daemon first looks at the session.
#[tokio::test]
async fn the_next_daemon_opens_the_tunnel_of_a_running_pod_again() {
    let api = FakeKube::start("clauderon-restart").await;
    // An HTTP server on loopback stands for the daemon's proxy.
    let port = ok_http_server().await;
    let make = || {
        let settings = KubeSettings {
            context: None,
            tunnel: true,
            daemon_proxy_port: port,
            namespace: api.namespace.clone(),
            image: "stand-in".into(),
            storage_class: None,
            workspace_size: "100Mi".into(),
            proxy_host: "unused".into(),
            proxy_port: 3128,
            proxy_pod_labels: Default::default(),
            scope: "restart".into(),
        };
        KubernetesBackend::with_client(settings, api.client())
    };
    let repo = TestRepo::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut s = spec(
        &repo,
        &dir,
        "while true; do curl -s -m 2 -o /dev/null -w 'TRY=%{http_code}\\n' -x http://127.0.0.1:3128 http://upstream.test/; sleep 0.3; done",
    );
    s.proxy.port = port;
    let last_try =
        |logs: &str| logs.lines().rev().find(|l| l.starts_with("TRY=")).map(|l| l.trim().to_string());
    async fn until(b: &KubernetesBackend, h: &BackendHandle, want: impl Fn(&str) -> bool) -> String {
        let logs = logs_until(b, h, 200, 150, &want).await;
        assert!(want(&logs), "the logs never showed what was wanted: {logs}");
        logs
    }
    let first = make();
    let handle = first.create(&s).await.unwrap();
    first.start(&handle).await.unwrap();
    until(&first, &handle, |l| last_try(l).as_deref() == Some("TRY=200")).await;
    drop(first);
    let next = make();
    until(&next, &handle, |l| last_try(l).as_deref() == Some("TRY=000")).await;
    assert_eq!(next.status(&handle).await.unwrap(), BackendStatus::Running);
    until(&next, &handle, |l| last_try(l).as_deref() == Some("TRY=200")).await;
    next.delete(&handle).await.unwrap();
}
