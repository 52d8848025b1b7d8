//! `clauderon image build`: clauderon's agent image, built by the local Docker engine from the
//! Dockerfile clauderon ships, with a progress bar. `create` uses the same build when a Docker
//! session needs the image and it is missing.

use crate::docker_setup;
use clauderon_docker::DockerBackend;
use clauderon_docker::image::Progress;
use clauderon_types::DataLayout;
use std::io::{IsTerminal, Write};

#[derive(Debug, clap::Subcommand)]
pub enum ImageCommand {
    /// Build clauderon's agent image (base image: CLAUDERON_DOCKER_BASE_IMAGE, default node:20-bookworm-slim).
    Build(BuildArgs),
}

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The base image [default: CLAUDERON_DOCKER_BASE_IMAGE or node:20-bookworm-slim].
    #[arg(long, value_name = "IMAGE")]
    pub base: Option<String>,
    /// The tag to build [default: CLAUDERON_DOCKER_IMAGE or clauderon-agent:VERSION].
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Install no agent CLI from npm (for a base without node, or to add them yourself).
    #[arg(long)]
    pub no_agents: bool,
    /// Copy agent CLIs installed on this machine into the image (a folder of npm installs, e.g.
    /// ~/.cache/clauderon/agent-clis from scripts/install-agent-clis.sh), for containers that
    /// cannot reach the npm registry [config `docker.agents_from`].
    #[arg(long, value_name = "DIR")]
    pub agents_from: Option<std::path::PathBuf>,
}

pub async fn run(layout: &DataLayout, command: ImageCommand) -> anyhow::Result<()> {
    match command {
        ImageCommand::Build(args) => {
            let mut settings = docker_setup::settings(layout, &docker_config(layout)?);
            if let Some(base) = args.base {
                settings.base_image = base;
            }
            if let Some(tag) = args.tag {
                settings.image = tag;
            }
            if args.no_agents {
                settings.agent_packages.clear();
            }
            if let Some(dir) = args.agents_from {
                settings.agents_from = Some(dir);
            }
            let tag = settings.image.clone();
            let backend = DockerBackend::new(settings);
            build_with_progress(&backend).await?;
            eprintln!("built {tag}");
            Ok(())
        }
    }
}

/// Before `create --backend docker` without `--image`, on a local daemon: build clauderon's
/// image here with a progress bar when it is missing, rather than leave the user waiting on a
/// silent create while the daemon builds it. An unreachable engine is left for the daemon to
/// report.
pub async fn build_if_missing(client: &clauderon_client::Client) -> anyhow::Result<()> {
    if !matches!(client.endpoint(), clauderon_client::Endpoint::Unix(_)) {
        return Ok(());
    }
    let Some(layout) = DataLayout::from_env() else { return Ok(()) };
    let backend = DockerBackend::new(docker_setup::settings(&layout, &docker_config(&layout)?));
    let image = backend.settings().image.clone();
    match backend.image_exists(&image).await {
        Ok(false) => build_with_progress(&backend).await,
        Ok(true) | Err(_) => Ok(()),
    }
}

/// The config file's `[docker]` section (the daemon reads the same file).
fn docker_config(layout: &DataLayout) -> anyhow::Result<clauderon_core::config::DockerConfig> {
    Ok(clauderon_core::Config::load(layout).map_err(|e| anyhow::anyhow!("{e}"))?.docker)
}

/// Build the backend's agent image, drawing a bar on a terminal and plain lines otherwise.
pub async fn build_with_progress(backend: &DockerBackend) -> anyhow::Result<()> {
    let s = backend.settings();
    eprintln!("building {} from {} (once; later sessions reuse it)", s.image, s.base_image);
    let tty = std::io::stderr().is_terminal();
    let mut last_step = 0;
    let result = backend
        .build_image(|p| {
            let mut err = std::io::stderr();
            if tty {
                let _ = write!(err, "\r\x1b[2K{}", progress_line(p, 80));
                let _ = err.flush();
            } else if p.step != last_step {
                last_step = p.step;
                let _ = writeln!(err, "{}", progress_line(p, 100));
            }
        })
        .await;
    if tty {
        eprintln!();
    }
    result.map_err(|e| anyhow::anyhow!("{e}"))
}

/// `[#####-----] 3/7 RUN apt-get…`, cut to `width` characters.
pub fn progress_line(p: &Progress, width: usize) -> String {
    const BAR: usize = 20;
    let filled = if p.steps == 0 { 0 } else { (p.step as usize * BAR) / p.steps as usize };
    let detail = p.line.split_once(" : ").map_or(p.line.as_str(), |(_, rest)| rest);
    let line =
        format!("[{}{}] {}/{} {}", "#".repeat(filled), "-".repeat(BAR - filled), p.step, p.steps, detail);
    line.chars().take(width).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_with_the_steps_and_fits_the_width() {
        let p = Progress { step: 3, steps: 6, line: "Step 3/6 : RUN set -e; need=\"\"".into() };
        let line = progress_line(&p, 200);
        assert!(line.starts_with("[##########----------] 3/6 RUN set -e"), "{line}");
        assert_eq!(progress_line(&p, 10).chars().count(), 10);
        let start = Progress::default();
        assert!(progress_line(&start, 80).starts_with("[--------------------] 0/0"));
    }
}
