//! clauderon's agent image: the Dockerfile it ships, built through the engine with progress.

use crate::engine;
use bollard::Docker;
use bollard::query_parameters::BuildImageOptionsBuilder;
use clauderon_backend::BackendError;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The Dockerfile clauderon builds its agent image from.
pub const DOCKERFILE: &str = include_str!("../Dockerfile");

/// The tag of clauderon's agent image for this version.
pub const DEFAULT_IMAGE: &str = concat!("clauderon-agent:", env!("CARGO_PKG_VERSION"));

/// The base image by default: node on Debian, from a registry.
pub const DEFAULT_BASE_IMAGE: &str = "node:20-bookworm-slim";

/// The npm packages of the agent CLIs the image carries by default.
pub const AGENT_PACKAGES: &str = "@anthropic-ai/claude-code @openai/codex @google/gemini-cli";

/// One build of the agent image.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    pub base_image: String,
    pub tag: String,
    /// npm packages to install; empty installs none.
    pub agent_packages: String,
    /// Agent CLIs installed on the host to copy in instead of (or besides) npm: a folder of
    /// npm installs (`<name>/node_modules/.bin/…`, as `scripts/install-agent-clis.sh` caches
    /// them); every `.bin` entry lands on the image's PATH.
    pub agents_from: Option<PathBuf>,
}

/// Where a build is, for a progress bar: `step` of `steps` once the builder has said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    pub step: u32,
    pub steps: u32,
    /// The builder's latest line, without its line break.
    pub line: String,
}

/// Parse the classic builder's `Step 3/7 : RUN ...`.
pub fn parse_step(line: &str) -> Option<(u32, u32)> {
    let rest = line.strip_prefix("Step ")?;
    let (nums, _) = rest.split_once(' ')?;
    let (a, b) = nums.split_once('/')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// The build context: the Dockerfile and `agents/` (empty, or the host's agent installs,
/// symlinks kept as symlinks).
fn context(agents_from: Option<&Path>) -> Result<Vec<u8>, BackendError> {
    let pack = |e: std::io::Error| engine::error(format!("packing the build context: {e}"));
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    let mut header = tar::Header::new_gnu();
    header.set_size(DOCKERFILE.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, "Dockerfile", DOCKERFILE.as_bytes()).map_err(pack)?;
    match agents_from {
        Some(dir) => {
            if !dir.is_dir() {
                return Err(engine::error(format!(
                    "{} is not a folder of agent CLIs: run scripts/install-agent-clis.sh, or leave the option out",
                    dir.display()
                )));
            }
            tar.append_dir_all("agents", dir).map_err(pack)?;
        }
        None => {
            let mut dir = tar::Header::new_gnu();
            dir.set_entry_type(tar::EntryType::Directory);
            dir.set_size(0);
            dir.set_mode(0o755);
            dir.set_cksum();
            tar.append_data(&mut dir, "agents/", std::io::empty()).map_err(pack)?;
        }
    }
    tar.into_inner().map_err(pack)
}

/// Build the image, calling `progress` for every line the builder prints.
pub async fn build(
    docker: &Docker,
    req: &BuildRequest,
    mut progress: impl FnMut(&Progress),
) -> Result<(), BackendError> {
    let args = HashMap::from([
        ("BASE_IMAGE".to_string(), req.base_image.clone()),
        ("AGENT_PACKAGES".to_string(), req.agent_packages.clone()),
    ]);
    let labels = HashMap::from([("dev.clauderon.managed".to_string(), "true".to_string())]);
    let options = BuildImageOptionsBuilder::new()
        .dockerfile("Dockerfile")
        .t(&req.tag)
        .rm(true)
        .forcerm(true)
        .buildargs(&args)
        .labels(&labels)
        .build();
    let context = {
        let agents = req.agents_from.clone();
        tokio::task::spawn_blocking(move || context(agents.as_deref()))
            .await
            .map_err(|e| engine::error(format!("packing the build context: {e}")))??
    };
    let body = bollard::body_full(context.into());
    let mut stream = docker.build_image(options, None, Some(body));
    let mut state = Progress::default();
    let mut tail: Vec<String> = Vec::new();
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| build_error(&req.base_image, &e.to_string(), &tail))?;
        if let Some(detail) = info.error_detail.and_then(|d| d.message) {
            return Err(build_error(&req.base_image, &detail, &tail));
        }
        let Some(text) = info.stream.or(info.status) else { continue };
        for line in text.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
            if let Some((step, steps)) = parse_step(line) {
                state.step = step;
                state.steps = steps;
            }
            state.line = line.to_string();
            tail.push(line.to_string());
            if tail.len() > 10 {
                tail.remove(0);
            }
            progress(&state);
        }
    }
    Ok(())
}

fn build_error(base: &str, message: &str, tail: &[String]) -> BackendError {
    let at_from = tail.last().is_some_and(|l| l.contains(": FROM"));
    let hint = if at_from || message.contains("pull access denied") || message.contains("not found") {
        format!(
            " (the base image `{base}` is neither on this machine nor pullable: pull or build it, or set another with CLAUDERON_DOCKER_BASE_IMAGE)"
        )
    } else {
        String::new()
    };
    let last = tail.last().map(|l| format!("; last output: {l}")).unwrap_or_default();
    engine::error(format!("building clauderon's image failed: {message}{hint}{last}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_read_from_the_classic_builder() {
        assert_eq!(parse_step("Step 3/7 : RUN set -e"), Some((3, 7)));
        assert_eq!(parse_step(" ---> Running in abc"), None);
    }

    #[test]
    fn dockerfile_takes_the_base_and_packages_as_arguments() {
        assert!(DOCKERFILE.contains("FROM ${BASE_IMAGE}"));
        assert!(DOCKERFILE.contains("socat"));
        assert!(DOCKERFILE.contains("$AGENT_PACKAGES"));
    }
}
