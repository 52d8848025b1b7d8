//! The Docker backend: one container per session, labelled with the session id, the worktree at
//! `/workspace`, the session's own HOME, the host repository's hooks and config read-only, the
//! host user's uid/gid, an init process, CPU and memory limits, and the credential proxy as its
//! only way to credentials.
//!
//! Network: an open session reaches the proxy on the default bridge's gateway (the daemon
//! listens there too, see [`DockerBackend::proxy_ips`]). A locked session has no network at all
//! (`--network none`): the proxy's Unix socket is mounted and relayed to a loopback port inside
//! the container, so the proxy is the only address it can reach, on any stock engine.

mod engine;
mod events;
pub mod image;
pub mod plan;
pub mod session_files;
mod terminal;

use async_trait::async_trait;
use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use clauderon_backend::{
    AgentFiles, AttachTarget, BackendError, BackendHandle, BackendResource, BackendStatus, SessionBackend,
    SessionSpec, StatusChange, Terminal,
};
use clauderon_types::{BackendKind, SessionId};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;

pub use engine::{is_missing, unavailable};
pub use image::{AGENT_PACKAGES, DEFAULT_BASE_IMAGE, DEFAULT_IMAGE};

/// Detach key sequence for `docker attach` and the daemon's terminal stream.
pub const DETACH_KEYS: &str = "ctrl-q";

/// How the backend is set up by the daemon.
#[derive(Debug, Clone)]
pub struct DockerSettings {
    /// The image a session runs when it names none: clauderon's agent image, built on first use.
    pub image: String,
    /// The base image clauderon's agent image is built from.
    pub base_image: String,
    /// npm packages clauderon's image installs (the agent CLIs); empty installs none.
    pub agent_packages: String,
    /// Host-installed agent CLIs copied into clauderon's image (see [`image::BuildRequest`]).
    pub agents_from: Option<PathBuf>,
    /// The proxy's Unix socket on the host (`<data>/proxy.sock`), mounted into locked sessions.
    pub proxy_socket: Option<PathBuf>,
    /// CPU limit (thousandths of a core) for sessions that give none.
    pub default_milli_cpus: Option<u32>,
    /// Memory limit (bytes) for sessions that give none.
    pub default_memory_bytes: Option<u64>,
    /// Which daemon's containers these are (its data dir): created containers carry it as a
    /// label, and `list` and the status feed see only containers with it. `None`: every
    /// clauderon container.
    pub scope: Option<String>,
    /// The engine: `unix:///path` or `tcp://host:port`. `None`: DOCKER_HOST, else the local socket.
    pub docker_host: Option<String>,
}

impl DockerSettings {
    /// The build of clauderon's agent image these settings describe.
    pub fn image_build(&self) -> image::BuildRequest {
        image::BuildRequest {
            base_image: self.base_image.clone(),
            tag: self.image.clone(),
            agent_packages: self.agent_packages.clone(),
            agents_from: self.agents_from.clone(),
        }
    }
}

impl Default for DockerSettings {
    fn default() -> Self {
        DockerSettings {
            image: DEFAULT_IMAGE.into(),
            base_image: DEFAULT_BASE_IMAGE.into(),
            agent_packages: image::AGENT_PACKAGES.into(),
            agents_from: None,
            proxy_socket: None,
            default_milli_cpus: None,
            default_memory_bytes: None,
            docker_host: None,
            scope: None,
        }
    }
}

/// The Docker session backend.
pub struct DockerBackend {
    engine: std::sync::Arc<engine::Engine>,
    settings: DockerSettings,
}

impl DockerBackend {
    /// A backend for the engine the settings name (else DOCKER_HOST, else the local socket).
    /// Does not contact the engine: `check` does.
    pub fn new(settings: DockerSettings) -> Self {
        DockerBackend {
            engine: std::sync::Arc::new(engine::Engine::new(settings.docker_host.clone())),
            settings,
        }
    }

    pub fn settings(&self) -> &DockerSettings {
        &self.settings
    }

    /// The engine client, with the API version agreed with the engine.
    pub async fn docker(&self) -> Result<Docker, BackendError> {
        self.engine.client().await
    }

    /// The engine's version, when it answers (`clauderon doctor`); why not, with what to do,
    /// when it does not.
    pub async fn engine_version(&self) -> Result<String, BackendError> {
        let docker = self.docker().await?;
        let version = docker.version().await.map_err(|e| engine::unavailable(&e))?;
        Ok(format!(
            "Docker engine {} (API {})",
            version.version.unwrap_or_default(),
            version.api_version.unwrap_or_default()
        ))
    }

    /// Addresses the proxy must also listen on for open sessions to reach it: the default
    /// bridge's gateway.
    pub async fn proxy_ips(&self) -> Result<Vec<IpAddr>, BackendError> {
        Ok(vec![self.bridge_gateway().await?])
    }

    async fn bridge_gateway(&self) -> Result<IpAddr, BackendError> {
        let docker = self.docker().await?;
        let net = docker
            .inspect_network("bridge", None::<bollard::query_parameters::InspectNetworkOptions>)
            .await
            .map_err(engine::failed("inspecting the default bridge network"))?;
        net.ipam
            .and_then(|i| i.config)
            .unwrap_or_default()
            .iter()
            .filter_map(|c| match c.gateway.as_deref() {
                Some(g) => g.parse::<IpAddr>().ok(),
                // The default bridge often names only its subnet: its gateway is the first address.
                None => first_host(c.subnet.as_deref()?),
            })
            .find(IpAddr::is_ipv4)
            .ok_or_else(|| engine::error("the default bridge network has no IPv4 gateway for the proxy"))
    }

    /// The label filters that select this backend's containers.
    fn label_filters(&self) -> Vec<String> {
        let mut labels = vec![format!("{}=true", plan::LABEL_MANAGED)];
        if let Some(scope) = &self.settings.scope {
            labels.push(format!("{}={scope}", plan::LABEL_SCOPE));
        }
        labels
    }

    /// Is this image on the machine?
    pub async fn image_exists(&self, image: &str) -> Result<bool, BackendError> {
        let docker = self.docker().await?;
        match docker.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(e) if is_missing(&e) => Ok(false),
            Err(e) => Err(engine::map(e, "inspecting the image")),
        }
    }

    /// Build clauderon's agent image as the settings describe, reporting progress.
    pub async fn build_image(&self, progress: impl FnMut(&image::Progress)) -> Result<(), BackendError> {
        let docker = self.docker().await?;
        image::build(&docker, &self.settings.image_build(), progress).await
    }

    /// Make sure the session's image is here; build clauderon's own image when it is missing.
    async fn ensure_image(&self, docker: &Docker, image: &str) -> Result<(), BackendError> {
        match docker.inspect_image(image).await {
            Ok(_) => Ok(()),
            Err(e) if is_missing(&e) && image == self.settings.image => {
                tracing::info!(image, base = %self.settings.base_image, "building clauderon's agent image (first use)");
                image::build(
                    docker,
                    &self.settings.image_build(),
                    |p| tracing::info!(step = %p.line, "image build"),
                )
                .await
            }
            Err(e) if is_missing(&e) => Err(engine::error(format!(
                "image `{image}` is not on this machine: `docker pull {image}` or build it, \
                 or leave --image out to use clauderon's image"
            ))),
            Err(e) => Err(engine::map(e, "inspecting the image")),
        }
    }
}

/// `172.17.0.0/16` -> `172.17.0.1`.
fn first_host(subnet: &str) -> Option<IpAddr> {
    let (net, _) = subnet.split_once('/')?;
    let net: std::net::Ipv4Addr = net.parse().ok()?;
    Some(IpAddr::V4(std::net::Ipv4Addr::from(u32::from(net).checked_add(1)?)))
}

/// The size a session's terminal has until a watcher attaches and sends its own (`cols`, `rows`).
pub const DETACHED_TTY_SIZE: (u16, u16) = (120, 40);

/// A container's TTY starts at 0x0 on engines before API 1.42 (no `ConsoleSize`), and TUIs such
/// as Claude Code and Codex draw nothing at width 0: a session started with nobody attached (a
/// resume after `clauderon start`) would show an empty screen in its logs until someone
/// attached. Set a size right after each start (clauderon's own, and through the event stream
/// any other, such as a `docker start` by hand); the program gets SIGWINCH and draws. A refusal
/// (the process already ended) changes nothing.
pub(crate) async fn give_the_terminal_a_size(docker: &Docker, handle: &BackendHandle) {
    let (cols, rows) = DETACHED_TTY_SIZE;
    terminal::resize(docker, handle_name(handle), cols, rows).await;
}

fn handle_name(handle: &BackendHandle) -> &str {
    handle.as_str()
}

#[async_trait]
impl SessionBackend for DockerBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Docker
    }

    async fn check(&self) -> Result<(), BackendError> {
        let docker = self.docker().await?;
        docker.ping().await.map(|_| ()).map_err(|e| unavailable(&e))
    }

    async fn create(&self, spec: &SessionSpec) -> Result<BackendHandle, BackendError> {
        let docker = self.docker().await?;
        let image = spec.options.image.clone().unwrap_or_else(|| self.settings.image.clone());
        self.ensure_image(&docker, &image).await?;
        let files = session_files::write(spec).await?;
        // The agent's settings, trusting the worktree where the container sees it.
        self.prepare_start(&AgentFiles::of(spec)).await?;
        let proxy_host = match plan::default_network(spec, self.settings.proxy_socket.is_some()) {
            clauderon_types::NetworkMode::Open => self.bridge_gateway().await?.to_string(),
            clauderon_types::NetworkMode::Locked => String::new(),
        };
        let git = match clauderon_types::SessionGit::new(&spec.repo, &spec.worktree) {
            Some(layout) => clauderon_backend::host_git::mounts(&layout).map_err(|e| {
                engine::error(format!("preparing the repository's git dir for the container: {e}"))
            })?,
            None => None,
        };
        let plan = plan::plan(&plan::PlanInputs {
            spec,
            git: git.as_ref(),
            image: &image,
            proxy_host: &proxy_host,
            uid: files.uid,
            gid: files.gid,
            system_bundle: files.system_bundle,
            proxy_socket: self.settings.proxy_socket.as_deref(),
            scope: self.settings.scope.as_deref(),
            default_milli_cpus: self.settings.default_milli_cpus,
            default_memory_bytes: self.settings.default_memory_bytes,
        })
        .map_err(|e| engine::error(e.to_string()))?;
        let body = container_body(&plan)?;
        let options = CreateContainerOptionsBuilder::new().name(&plan.name).build();
        match docker.create_container(Some(options), body).await {
            Ok(_) => Ok(BackendHandle(plan.name)),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 409, .. }) => {
                Err(engine::error(format!(
                    "a container named `{0}` already exists (another clauderon data dir, or one left over): \
                     remove it with `docker rm -f {0}` or pick another session name",
                    plan.name
                )))
            }
            Err(e) => Err(engine::map(e, "creating the container")),
        }
    }

    async fn start(&self, handle: &BackendHandle) -> Result<(), BackendError> {
        let docker = self.docker().await?;
        match docker.start_container(handle_name(handle), None).await {
            Ok(()) => {
                give_the_terminal_a_size(&docker, handle).await;
                Ok(())
            }
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 304, .. }) => Ok(()),
            Err(e) => Err(engine::map_handle(e, handle, "starting the container")),
        }
    }

    async fn stop(&self, handle: &BackendHandle) -> Result<(), BackendError> {
        let docker = self.docker().await?;
        let options = StopContainerOptionsBuilder::new().t(5).build();
        match docker.stop_container(handle_name(handle), Some(options)).await {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 304, .. }) => Ok(()),
            Err(e) => Err(engine::map_handle(e, handle, "stopping the container")),
        }
    }

    async fn delete(&self, handle: &BackendHandle) -> Result<(), BackendError> {
        let docker = self.docker().await?;
        let options = RemoveContainerOptionsBuilder::new().force(true).v(true).build();
        match docker.remove_container(handle_name(handle), Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_missing(&e) => Ok(()),
            // Already being removed: the engine finishes it.
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 409, .. }) => Ok(()),
            Err(e) => Err(engine::map(e, "removing the container")),
        }
    }

    async fn status(&self, handle: &BackendHandle) -> Result<BackendStatus, BackendError> {
        let docker = self.docker().await?;
        match docker.inspect_container(handle_name(handle), None).await {
            Ok(c) => {
                let running = c.state.and_then(|s| s.running).unwrap_or(false);
                Ok(if running { BackendStatus::Running } else { BackendStatus::Stopped })
            }
            Err(e) if is_missing(&e) => Ok(BackendStatus::Missing),
            Err(e) => Err(engine::map(e, "inspecting the container")),
        }
    }

    async fn attach_target(&self, handle: &BackendHandle) -> Result<AttachTarget, BackendError> {
        let docker = self.docker().await?;
        docker
            .inspect_container(handle_name(handle), None)
            .await
            .map_err(|e| engine::map_handle(e, handle, "inspecting the container"))?;
        Ok(AttachTarget::Command {
            program: "docker".into(),
            args: vec![
                "attach".into(),
                "--detach-keys".into(),
                DETACH_KEYS.into(),
                handle_name(handle).to_string(),
            ],
        })
    }

    fn agent_workdir(&self, _worktree: &std::path::Path) -> std::path::PathBuf {
        std::path::PathBuf::from(plan::WORKSPACE)
    }

    fn watch(&self) -> Option<tokio::sync::mpsc::Receiver<StatusChange>> {
        Some(events::watch(self.engine.clone(), self.label_filters()))
    }

    async fn environment(
        &self,
        handle: &BackendHandle,
    ) -> Result<Option<Vec<(String, String)>>, BackendError> {
        let docker = self.docker().await?;
        let info = docker
            .inspect_container(handle_name(handle), None)
            .await
            .map_err(|e| engine::map_handle(e, handle, "inspecting the container"))?;
        let env = info.config.and_then(|c| c.env).unwrap_or_default();
        Ok(Some(
            env.into_iter()
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (kv, String::new()),
                })
                .collect(),
        ))
    }

    async fn terminal(&self, handle: &BackendHandle) -> Result<Option<Terminal>, BackendError> {
        let docker = self.docker().await?;
        terminal::open(docker, handle).await.map(Some)
    }

    async fn send_input(&self, handle: &BackendHandle, text: &str) -> Result<(), BackendError> {
        let docker = self.docker().await?;
        terminal::send(docker, handle, text).await
    }

    async fn logs(&self, handle: &BackendHandle, tail: usize) -> Result<String, BackendError> {
        let docker = self.docker().await?;
        let options = LogsOptionsBuilder::new().stdout(true).stderr(true).tail(&tail.to_string()).build();
        let mut stream = docker.logs(handle_name(handle), Some(options));
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| engine::map_handle(e, handle, "reading the container's logs"))?;
            out.extend_from_slice(chunk.as_ref());
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    async fn list(&self) -> Result<Vec<BackendResource>, BackendError> {
        let docker = self.docker().await?;
        let filters = HashMap::from([("label", self.label_filters())]);
        let options = ListContainersOptionsBuilder::new().all(true).filters(&filters).build();
        let containers =
            docker.list_containers(Some(options)).await.map_err(|e| engine::map(e, "listing containers"))?;
        Ok(containers
            .into_iter()
            .filter_map(|c| {
                let name = c.names.as_ref()?.first()?.trim_start_matches('/').to_string();
                let labels = c.labels.unwrap_or_default();
                let session_id = labels.get(plan::LABEL_SESSION_ID).and_then(|v| v.parse::<SessionId>().ok());
                let running = c.state.map(|s| s.to_string()) == Some("running".into());
                Some(BackendResource {
                    handle: BackendHandle(name),
                    session_id,
                    status: if running { BackendStatus::Running } else { BackendStatus::Stopped },
                    detail: format!("{} ({})", c.image.unwrap_or_default(), c.status.unwrap_or_default()),
                })
            })
            .collect())
    }
}

/// The engine's create request for a plan.
fn container_body(p: &plan::ContainerPlan) -> Result<ContainerCreateBody, BackendError> {
    let mut mounts = Vec::new();
    for b in &p.binds {
        let source = b.source.to_str().ok_or_else(|| {
            engine::error(format!("{} is not valid UTF-8: Docker cannot mount it", b.source.display()))
        })?;
        mounts.push(Mount {
            target: Some(b.target.clone()),
            source: Some(source.to_string()),
            typ: Some(MountType::BIND),
            read_only: Some(b.read_only),
            ..Default::default()
        });
    }
    let network_mode = match p.network {
        clauderon_types::NetworkMode::Open => "bridge",
        clauderon_types::NetworkMode::Locked => "none",
    };
    Ok(ContainerCreateBody {
        hostname: Some("clauderon".into()),
        user: Some(p.user.clone()),
        env: Some(p.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        entrypoint: Some(p.entrypoint.clone()),
        cmd: Some(p.cmd.clone()),
        image: Some(p.image.clone()),
        working_dir: Some(plan::WORKSPACE.into()),
        labels: Some(p.labels.iter().cloned().collect()),
        tty: Some(true),
        open_stdin: Some(true),
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        host_config: Some(HostConfig {
            mounts: Some(mounts),
            init: Some(true),
            nano_cpus: p.nano_cpus,
            memory: p.memory,
            // No swap beyond the memory limit.
            memory_swap: p.memory,
            pids_limit: Some(4096),
            network_mode: Some(network_mode.into()),
            cap_drop: Some(vec!["ALL".into()]),
            security_opt: Some(vec!["no-new-privileges".into()]),
            ..Default::default()
        }),
        ..Default::default()
    })
}
