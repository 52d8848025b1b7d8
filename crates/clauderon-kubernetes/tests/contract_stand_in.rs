//! The backend contract against the test kit's STAND-IN Kubernetes API
//! (`clauderon_testkit::kube_api`): NOT a cluster — no API server can run here. It keeps the
//! objects the backend makes, collects what an owner owned when the owner goes, and runs each
//! pod's containers on this machine in a network namespace of their own with the pod's volumes
//! and environment. `scripts/k8s-e2e.sh` runs the same suite against a real cluster.

use clauderon_backend::SessionBackend;
use clauderon_kubernetes::KubernetesBackend;
use clauderon_kubernetes::plan::KubeSettings;
use clauderon_testkit::kube_api::FakeKube;
use clauderon_testkit::stand_ins::WithStandIn;
use std::sync::Arc;

async fn make() -> Arc<dyn SessionBackend> {
    let api = FakeKube::start("clauderon-contract").await;
    let settings = KubeSettings {
        context: None,
        tunnel: true,
        daemon_proxy_port: 9,
        namespace: api.namespace.clone(),
        image: "stand-in:runs-this-machines-programs".into(),
        storage_class: None,
        workspace_size: "100Mi".into(),
        proxy_host: "clauderon-proxy".into(),
        proxy_port: 3128,
        proxy_pod_labels: [("app.kubernetes.io/name".to_string(), "clauderon-proxy".to_string())].into(),
        scope: "contract".into(),
    };
    let backend = KubernetesBackend::with_client(settings, api.client());
    Arc::new(WithStandIn { backend, stand_in: Box::new(api) })
}

clauderon_backend::backend_contract_tests!(make);
