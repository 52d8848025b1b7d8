//! End to end through a real daemon with the Kubernetes backend, against the test kit's
//! STAND-IN API server (`clauderon_testkit::kube_api`; NOT a cluster, none can run here). The
//! stand-in runs the pod in a network namespace of its own: like a pod under clauderon's
//! NetworkPolicy (no egress at all in tunnel mode), it reaches nothing of this machine, so all
//! it gets from the network comes through the relay the daemon runs in it over the API's exec.
//!
//! From inside the pod, as an attacker that read this code: the proxy works with the session's
//! identity (the upstream gets the real key), is 407 without it, walls off the daemon's API
//! even through the tunnel, and the daemon's API is unreachable directly. The real key is
//! nowhere in the pod, nor in any object the cluster holds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use clauderon_daemon::{LaunchOptions, launch};
use clauderon_kubernetes::KubernetesBackend;
use clauderon_kubernetes::plan::KubeSettings;
use clauderon_testkit::TestRepo;
use clauderon_testkit::attacks;
use clauderon_testkit::http::{Request as ApiRequest, unix};
use clauderon_testkit::kube_api::FakeKube;
use clauderon_testkit::stand_ins::logs_until;
use clauderon_testkit::upstream::TlsUpstream;
use clauderon_types::DataLayout;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

const REAL_KEY: &str = "sk-ant-REAL-k8s-e2e-7b2f";

#[tokio::test]
async fn a_pod_reaches_the_proxy_only_through_the_daemons_tunnel_and_holds_no_secret() {
    let cluster = FakeKube::start("clauderon-e2e").await;
    let up = TlsUpstream::start_default().await;
    let data = tempfile::tempdir().unwrap();
    let ca_dir = tempfile::tempdir().unwrap();
    let repo = TestRepo::new().unwrap();
    let mut config = clauderon_testkit::daemon::test_config();
    config.proxy.upstream_overrides = up.overrides();
    config.proxy.extra_ca_files = vec![up.ca().write_pem(ca_dir.path())];
    let settings = KubeSettings {
        context: None,
        tunnel: true,
        daemon_proxy_port: 0,
        namespace: cluster.namespace.clone(),
        image: "stand-in".into(),
        storage_class: None,
        workspace_size: "100Mi".into(),
        proxy_host: "unused-in-tunnel-mode".into(),
        proxy_port: 3128,
        proxy_pod_labels: Default::default(),
        scope: data.path().display().to_string(),
    };
    let backend = Arc::new(KubernetesBackend::with_client(settings, cluster.client()));
    let mut options = LaunchOptions::new(DataLayout::new(data.path()), config);
    options.backends.push(backend.clone());
    options.credential_env = Some(HashMap::from([("ANTHROPIC_API_KEY".to_string(), REAL_KEY.to_string())]));
    let daemon = launch(options).await.unwrap();

    let secrets = [REAL_KEY];
    let body = json!({
        "repo_path": repo.path(), "prompt": "go", "name": "k1", "backend": "kubernetes",
        "options": {"command": attacks::remote_probe(daemon.http_addr, &secrets)},
    });
    let reply = unix(&daemon.socket, ApiRequest::new("POST", "/api/sessions").json(body.to_string())).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let session: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    let handle = clauderon_backend::BackendHandle(session["backend_handle"].as_str().unwrap().to_string());

    let logs = logs_until(backend.as_ref(), &handle, 1000, 300, |l| l.contains("FINISHED")).await;
    assert!(logs.contains("FINISHED"), "the session never finished: {logs}");
    attacks::assert_remote_walls(&logs, &secrets);
    assert!(logs.contains("IN_WORKSPACE=/workspace"), "{logs}");
    let requests = up.wait_for_requests(1, Duration::from_secs(5)).await;
    assert!(
        requests.iter().any(|r| r.header("x-api-key") == Some(REAL_KEY)),
        "upstream never got the real key"
    );

    // The pod may reach nothing: its NetworkPolicy allows no egress at all.
    let policy = cluster.objects("networkpolicies").pop().unwrap();
    assert_eq!(policy["spec"]["egress"], json!([]), "{policy}");
    assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    let everything: String = ["configmaps", "secrets", "persistentvolumeclaims", "networkpolicies", "pods"]
        .iter()
        .flat_map(|p| cluster.objects(p))
        .map(|o| o.to_string())
        .collect();
    assert!(!everything.contains(REAL_KEY), "the real key is in the cluster");

    let reply = unix(&daemon.socket, ApiRequest::new("DELETE", "/api/sessions/k1?force=true")).await;
    assert!(reply.status < 300, "{}", reply.body);
    assert!(
        cluster.objects("pods").is_empty() && cluster.objects("secrets").is_empty(),
        "the session's objects outlived it"
    );
    daemon.stop().await.unwrap();
}
