//! Shared by the Docker tests: the real engine (they fail, never skip, when it is missing) and
//! the locally built base image (`scripts/docker-test-image.sh`, run by `.ci/run`).
#![allow(dead_code)]

use clauderon_backend::SessionBackend;
use clauderon_docker::{DockerBackend, DockerSettings};
use std::sync::Arc;

/// The tag `scripts/docker-test-image.sh` builds.
pub fn base_image() -> String {
    std::env::var("CLAUDERON_TEST_BASE_IMAGE").unwrap_or_else(|_| "clauderon-test-base:bookworm-2".into())
}

/// A backend on the real engine whose default image is the test base image. Panics with what to
/// do when the engine or the image is missing.
pub async fn backend_with(settings: DockerSettings) -> Arc<DockerBackend> {
    let backend = DockerBackend::new(settings);
    if let Err(e) = backend.check().await {
        panic!("these tests need a running Docker engine: {e}");
    }
    let docker = backend.docker().await.unwrap_or_else(|e| panic!("{e}"));
    if docker.inspect_image(&base_image()).await.is_err() {
        panic!(
            "the test base image {} is missing: run scripts/docker-test-image.sh (needs debootstrap)",
            base_image()
        );
    }
    Arc::new(backend)
}

pub async fn backend() -> Arc<DockerBackend> {
    backend_with(DockerSettings { image: base_image(), ..Default::default() }).await
}

/// Run `docker` with arguments; its stdout.
pub fn docker_cli(args: &[&str]) -> String {
    let out =
        std::process::Command::new("docker").args(args).output().unwrap_or_else(|e| panic!("docker: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
pub mod daemon_fixture;
