//! clauderon's agent image, built by the real engine from the Dockerfile clauderon ships, on the
//! locally built base image (no registry here, so no agent CLIs from npm: AGENT_PACKAGES is
//! empty), with progress; and built automatically when a session first needs it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use clauderon_backend::{BackendStatus, SessionBackend};
use clauderon_docker::DockerSettings;
use std::time::Duration;

/// Builds share layers: removing an image while another build uses its layers as cache breaks
/// that build, so these tests never remove images (a rebuild with the cache gives the same image,
/// so tags cost nothing), use a fresh tag where the image must be missing, and take turns.
static BUILDS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn settings(tag: &str) -> DockerSettings {
    DockerSettings {
        image: tag.into(),
        base_image: support::base_image(),
        agent_packages: String::new(),
        ..Default::default()
    }
}

#[tokio::test]
async fn image_build_reports_steps_and_gives_an_image_with_the_session_tools() {
    let _turn = BUILDS.lock().await;
    let tag = "clauderon-agent-test:build";
    let b = support::backend_with(settings(tag)).await;
    let mut seen = Vec::new();
    b.build_image(|p| seen.push(p.clone())).await.unwrap();
    assert!(b.image_exists(tag).await.unwrap());
    let last = seen.last().unwrap();
    assert!(last.steps > 0 && last.step == last.steps, "steps never reached the end: {seen:?}");
    let tools = support::docker_cli(&[
        "run",
        "--rm",
        tag,
        "sh",
        "-c",
        "for t in git curl socat; do command -v $t; done | wc -l",
    ]);
    assert_eq!(tools.trim(), "3", "git, curl and socat must be in the image");
    let label = support::docker_cli(&[
        "image",
        "inspect",
        "-f",
        "{{index .Config.Labels \"dev.clauderon.image\"}}",
        tag,
    ]);
    assert_eq!(label.trim(), "agent");
}

#[tokio::test]
async fn a_bad_base_image_fails_with_what_to_set() {
    let _turn = BUILDS.lock().await;
    let mut s = settings("clauderon-agent-test:badbase");
    s.base_image = "clauderon-no-such-base:1".into();
    let b = support::backend_with(s).await;
    let err = b.build_image(|_| {}).await.unwrap_err().to_string();
    assert!(err.contains("CLAUDERON_DOCKER_BASE_IMAGE") && err.contains("clauderon-no-such-base:1"), "{err}");
}

#[tokio::test]
async fn the_agent_image_is_built_on_first_use() {
    let _turn = BUILDS.lock().await;
    let tag = format!("clauderon-agent-test:first-use-{}", clauderon_types::SessionId::new().short());
    let tag = tag.as_str();
    let b = support::backend_with(settings(tag)).await;
    assert!(!b.image_exists(tag).await.unwrap());
    let f = clauderon_backend::contract::Fixture::new("autobuild").unwrap();
    let h = b.create(&f.spec).await.unwrap();
    b.start(&h).await.unwrap();
    let mut status = BackendStatus::Missing;
    for _ in 0..50 {
        status = b.status(&h).await.unwrap();
        if status == BackendStatus::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.delete(&h).await.unwrap();
    assert_eq!(status, BackendStatus::Running);
    assert!(b.image_exists(tag).await.unwrap(), "the image was not built");
}

#[tokio::test]
async fn agent_clis_installed_on_the_host_are_copied_in_and_on_the_path() {
    let _turn = BUILDS.lock().await;
    // A host install as scripts/install-agent-clis.sh lays it out: .bin holds a relative symlink.
    let agents = tempfile::tempdir().unwrap();
    let pkg = agents.path().join("fake-agent-1.0/node_modules");
    std::fs::create_dir_all(pkg.join("fake-agent/bin")).unwrap();
    std::fs::create_dir_all(pkg.join(".bin")).unwrap();
    std::fs::write(pkg.join("fake-agent/bin/run.sh"), "#!/bin/sh\necho fake-agent-ran-$((20+1))\n").unwrap();
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(pkg.join("fake-agent/bin/run.sh"), mode).unwrap();
    std::os::unix::fs::symlink("../fake-agent/bin/run.sh", pkg.join(".bin/fake-agent")).unwrap();
    let tag = format!("clauderon-agent-test:agents-{}", clauderon_types::SessionId::new().short());
    let mut s = settings(&tag);
    s.agents_from = Some(agents.path().to_path_buf());
    let b = support::backend_with(s).await;
    b.build_image(|_| {}).await.unwrap();
    let out = support::docker_cli(&["run", "--rm", &tag, "fake-agent"]);
    assert_eq!(out.trim(), "fake-agent-ran-21", "the host's agent CLI is not on the image's PATH");
}
