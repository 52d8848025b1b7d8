//! The Docker backend in the shipped daemon: registered always (its `check` says what to do
//! when the engine is down), and the proxy also listens where open containers reach the host.

use clauderon_core::config::DockerConfig;
use clauderon_daemon::LaunchOptions;
use clauderon_docker::{DockerBackend, DockerSettings};
use clauderon_types::DataLayout;
use std::sync::Arc;
use std::time::Duration;

/// Settings from the config's `[docker]`, then the environment: `CLAUDERON_DOCKER_IMAGE` (the image sessions run when they
/// name none), `CLAUDERON_DOCKER_BASE_IMAGE` (what clauderon's image is built from) and
/// `CLAUDERON_DOCKER_AGENT_PACKAGES` (npm packages it installs; `none` for none).
pub fn settings(layout: &DataLayout, config: &DockerConfig) -> DockerSettings {
    let mut s = DockerSettings {
        proxy_socket: Some(layout.proxy_socket()),
        scope: Some(layout.root().display().to_string()),
        default_milli_cpus: config.milli_cpus,
        default_memory_bytes: config.memory_bytes,
        ..Default::default()
    };
    if let Some(image) = &config.image {
        s.image = image.clone();
    }
    if let Some(base) = &config.base_image {
        s.base_image = base.clone();
    }
    if let Some(packages) = &config.agent_packages {
        s.agent_packages = packages.join(" ");
    }
    s.agents_from = config.agents_from.clone();
    if let Some(image) = std::env::var("CLAUDERON_DOCKER_IMAGE").ok().filter(|v| !v.is_empty()) {
        s.image = image;
    }
    if let Some(base) = std::env::var("CLAUDERON_DOCKER_BASE_IMAGE").ok().filter(|v| !v.is_empty()) {
        s.base_image = base;
    }
    if let Ok(packages) = std::env::var("CLAUDERON_DOCKER_AGENT_PACKAGES") {
        s.agent_packages = if packages.trim() == "none" { String::new() } else { packages };
    }
    s
}

pub async fn register(options: &mut LaunchOptions, layout: &DataLayout) {
    let backend = DockerBackend::new(settings(layout, &options.config.docker));
    match tokio::time::timeout(Duration::from_secs(5), backend.proxy_ips()).await {
        Ok(Ok(ips)) => options.extra_proxy_ips.extend(ips),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "Docker sessions with an open network will not reach the proxy until the daemon restarts with Docker running")
        }
        Err(_) => tracing::warn!(
            "the Docker engine did not answer within 5 s: Docker sessions with an open network will not reach the proxy"
        ),
    }
    options.backends.push(Arc::new(backend));
}
