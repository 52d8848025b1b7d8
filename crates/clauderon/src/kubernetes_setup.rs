//! The Kubernetes backend in the shipped daemon. It registers everywhere and connects on first
//! use (the `[kubernetes]` context, else the kubeconfig's current one, else the in-cluster
//! config); without a cluster, creating a session with it says so. Each `[kubernetes]` setting
//! has an environment variable that wins: CLAUDERON_K8S_CONTEXT, CLAUDERON_K8S_NAMESPACE
//! (default `clauderon`), CLAUDERON_K8S_IMAGE, CLAUDERON_K8S_STORAGE_CLASS, CLAUDERON_K8S_PROXY
//! (`host:port` of the proxy's Service for a daemon that runs in the cluster; without it pods
//! reach the proxy through the daemon's own tunnel: a relay in the pod over the API's exec).

use clauderon_core::config::KubernetesConfig;
use clauderon_daemon::LaunchOptions;
use clauderon_kubernetes::KubernetesBackend;
use clauderon_kubernetes::plan::KubeSettings;
use clauderon_types::DataLayout;
use std::sync::Arc;

pub fn settings(
    config: &KubernetesConfig,
    daemon_proxy_port: u16,
    layout: &DataLayout,
    var: impl Fn(&str) -> Option<String>,
) -> KubeSettings {
    let pick =
        |env: &str, configured: &Option<String>| var(env).filter(|v| !v.is_empty()).or(configured.clone());
    let service = pick("CLAUDERON_K8S_PROXY", &config.proxy);
    let tunnel = service.is_none();
    let proxy = service.unwrap_or_else(|| "clauderon-proxy.clauderon.svc:3128".into());
    let (proxy_host, proxy_port) = match proxy.rsplit_once(':') {
        Some((host, port)) => (host.to_string(), port.parse().unwrap_or(3128)),
        None => (proxy, 3128),
    };
    KubeSettings {
        tunnel,
        daemon_proxy_port,
        context: pick("CLAUDERON_K8S_CONTEXT", &config.context),
        namespace: pick("CLAUDERON_K8S_NAMESPACE", &config.namespace).unwrap_or_else(|| "clauderon".into()),
        image: pick("CLAUDERON_K8S_IMAGE", &config.image)
            .unwrap_or_else(|| clauderon_docker::DEFAULT_IMAGE.into()),
        storage_class: pick("CLAUDERON_K8S_STORAGE_CLASS", &config.storage_class),
        workspace_size: "10Gi".into(),
        proxy_host,
        proxy_port,
        proxy_pod_labels: [("app.kubernetes.io/name".to_string(), "clauderon-proxy".to_string())].into(),
        scope: layout.root().display().to_string(),
    }
}

pub fn register(options: &mut LaunchOptions, layout: &DataLayout) {
    let port = options.config.proxy.bind.port();
    let settings = settings(&options.config.kubernetes, port, layout, |k| std::env::var(k).ok());
    options.backends.push(Arc::new(KubernetesBackend::new(settings)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_wins_over_the_config_file() {
        let config = KubernetesConfig {
            context: Some("kind-a".into()),
            namespace: Some("team".into()),
            proxy: Some("proxy.team.svc:8080".into()),
            ..Default::default()
        };
        let layout = DataLayout::new("/tmp/x");
        let s = settings(&config, 3128, &layout, |_| None);
        assert!(!s.tunnel, "a Service given: pods reach the proxy there");
        assert_eq!(s.context.as_deref(), Some("kind-a"));
        assert_eq!(
            (s.namespace.as_str(), s.proxy_host.as_str(), s.proxy_port),
            ("team", "proxy.team.svc", 8080)
        );
        let s = settings(&config, 3128, &layout, |k| {
            (k == "CLAUDERON_K8S_NAMESPACE").then(|| "other".to_string())
        });
        assert_eq!(s.namespace, "other");
        let s = settings(&KubernetesConfig::default(), 4000, &layout, |_| None);
        assert!(s.tunnel && s.daemon_proxy_port == 4000, "no Service: the daemon's own tunnel");
    }
}
