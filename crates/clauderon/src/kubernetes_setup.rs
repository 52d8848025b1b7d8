//! The Kubernetes backend in the shipped daemon. It registers everywhere and connects on first
//! use (the kubeconfig's current context, or the in-cluster config); without a cluster, creating
//! a session with it says so. Its settings come from the environment until `[kubernetes]` exists
//! in the config file: CLAUDERON_K8S_NAMESPACE (default `clauderon`), CLAUDERON_K8S_IMAGE,
//! CLAUDERON_K8S_STORAGE_CLASS, CLAUDERON_K8S_PROXY (`host:port` of the proxy's Service, default
//! `clauderon-proxy.clauderon.svc:3128`).

use clauderon_daemon::LaunchOptions;
use clauderon_kubernetes::KubernetesBackend;
use clauderon_kubernetes::plan::KubeSettings;
use clauderon_types::DataLayout;
use std::sync::Arc;

pub fn settings(layout: &DataLayout, var: impl Fn(&str) -> Option<String>) -> KubeSettings {
    let proxy = var("CLAUDERON_K8S_PROXY").unwrap_or_else(|| "clauderon-proxy.clauderon.svc:3128".into());
    let (proxy_host, proxy_port) = match proxy.rsplit_once(':') {
        Some((host, port)) => (host.to_string(), port.parse().unwrap_or(3128)),
        None => (proxy, 3128),
    };
    KubeSettings {
        namespace: var("CLAUDERON_K8S_NAMESPACE").unwrap_or_else(|| "clauderon".into()),
        image: var("CLAUDERON_K8S_IMAGE").unwrap_or_else(|| clauderon_docker::DEFAULT_IMAGE.into()),
        storage_class: var("CLAUDERON_K8S_STORAGE_CLASS"),
        workspace_size: "10Gi".into(),
        proxy_host,
        proxy_port,
        proxy_pod_labels: [("app.kubernetes.io/name".to_string(), "clauderon-proxy".to_string())].into(),
        scope: layout.root().display().to_string(),
    }
}

pub fn register(options: &mut LaunchOptions, layout: &DataLayout) {
    let settings = settings(layout, |k| std::env::var(k).ok());
    options.backends.push(Arc::new(KubernetesBackend::new(settings)));
}
