//! The backend contract against a REAL Kubernetes cluster (`scripts/k8s-e2e.sh`, given a
//! kubeconfig: kind or k3d on a developer's machine). Built only with `--features k8s-e2e`: the
//! normal test run has no cluster (the mock-API tests cover the requests instead).
#![cfg(feature = "k8s-e2e")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use clauderon_backend::SessionBackend;
use clauderon_kubernetes::KubernetesBackend;
use clauderon_kubernetes::plan::KubeSettings;
use std::sync::Arc;

async fn make() -> Arc<dyn SessionBackend> {
    let var = |k: &str, default: &str| std::env::var(k).unwrap_or_else(|_| default.to_string());
    Arc::new(KubernetesBackend::new(KubeSettings {
        context: None,
        tunnel: true,
        daemon_proxy_port: 9,
        namespace: var("CLAUDERON_K8S_NAMESPACE", "clauderon-e2e"),
        image: var("CLAUDERON_K8S_IMAGE", "node:20-bookworm-slim"),
        storage_class: std::env::var("CLAUDERON_K8S_STORAGE_CLASS").ok(),
        workspace_size: "100Mi".into(),
        proxy_host: "clauderon-proxy".into(),
        proxy_port: 3128,
        proxy_pod_labels: [("app.kubernetes.io/name".to_string(), "clauderon-proxy".to_string())].into(),
        scope: "k8s-e2e".into(),
    }))
}

clauderon_backend::backend_contract_tests!(make);
