//! The Apple Container backend: a session is a container of Apple's `container` tool (macOS 26,
//! Apple silicon; each container a lightweight VM), made with `container create` and driven by
//! the same command line.
//!
//! The container is planned like a Docker session's (`clauderon_docker::plan`: the same
//! environment, the same files, the same narrowed git metadata), on the open network: the proxy
//! is reached at the host's address on the containers' network (`[apple_container]
//! host_address`, 192.168.64.1 by default), and the daemon must listen there for the proxy.
//! Mounted: the worktree, the session's own HOME, a read-only folder of the CA *certificate*
//! and the launch files, and the repository's git metadata as Docker narrows it — never the
//! data dir itself, its secrets, the CA key or another session's HOME (a test reads the command
//! lines for that). The environment goes in an env file (0600, removed after the create), never
//! on a command line another process could read.
//!
//! No macOS here: the tests drive a stand-in `container` program that records its arguments and
//! emulates the state and outputs (`clauderon_testkit::stand_ins::CONTAINER`), and say so.
//! On Linux `check` says Apple Container is not available here and what to use instead.

use async_trait::async_trait;
use clauderon_backend::{
    AgentFiles, AttachTarget, BackendError, BackendHandle, BackendResource, BackendStatus, SessionBackend,
    SessionSpec,
};
use clauderon_docker::plan::{self, ContainerPlan, PlanInputs};
use clauderon_types::{BackendKind, SessionId};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;
use tokio::process::Command;

/// Where containers reach the host on Apple Container's default network (vmnet's gateway).
pub const DEFAULT_HOST_ADDRESS: &str = "192.168.64.1";

/// Variables the `container` tool gets from the daemon (it talks to its system service; it needs
/// nothing else, and never a credential).
const PASSED: &[&str] = &["PATH", "HOME", "USER", "TMPDIR", "LANG"];

#[derive(Debug, Clone)]
pub struct AppleSettings {
    /// The `container` program.
    pub program: PathBuf,
    /// The image a session runs when it names none.
    pub image: String,
    /// The host's address as containers reach it, where the proxy listens for them.
    pub host_address: String,
    /// The daemon's data dir: env files are written under it (never mounted).
    pub data_dir: PathBuf,
    /// The daemon's scope label (its data dir), so two daemons never list each other's.
    pub scope: Option<String>,
    pub default_milli_cpus: Option<u32>,
    pub default_memory_bytes: Option<u64>,
    /// Apple Container runs only on macOS: `check` refuses elsewhere. Off only for the tests'
    /// stand-in program.
    pub require_macos: bool,
    /// The daemon's variables the `container` tool gets (PATH, HOME, USER, TMPDIR, LANG).
    pub host_env: Vec<(String, String)>,
}

impl AppleSettings {
    pub fn new(data_dir: &Path, lookup: impl Fn(&str) -> Option<String>) -> AppleSettings {
        AppleSettings {
            program: PathBuf::from("container"),
            image: clauderon_docker::DEFAULT_IMAGE.to_string(),
            host_address: DEFAULT_HOST_ADDRESS.to_string(),
            data_dir: data_dir.to_path_buf(),
            scope: Some(data_dir.display().to_string()),
            default_milli_cpus: None,
            default_memory_bytes: None,
            require_macos: true,
            host_env: PASSED.iter().filter_map(|k| lookup(k).map(|v| ((*k).to_string(), v))).collect(),
        }
    }
}

pub struct AppleContainerBackend {
    settings: AppleSettings,
}

fn failed(message: impl Into<String>) -> BackendError {
    BackendError::Failed { backend: BackendKind::AppleContainer, message: message.into() }
}

fn unavailable(reason: impl Into<String>) -> BackendError {
    BackendError::Unavailable { backend: BackendKind::AppleContainer, reason: reason.into() }
}

fn not_found(handle: &BackendHandle) -> BackendError {
    BackendError::NotFound { backend: BackendKind::AppleContainer, handle: handle.0.clone() }
}

/// `container` says a container does not exist.
fn says_missing(out: &Output) -> bool {
    let text = String::from_utf8_lossy(&out.stderr).to_ascii_lowercase();
    text.contains("not found") || text.contains("no such container") || text.contains("notfound")
}

/// The `container create` arguments for `plan` (after the program): the environment from
/// `env_file`, each mount explicit (`readonly` where the plan says so), the labels, the limits,
/// the entrypoint and its arguments.
pub fn create_args(p: &ContainerPlan, env_file: &Path) -> Vec<String> {
    let mut args = vec!["create".to_string(), "--name".into(), p.name.clone()];
    args.extend(["--env-file".into(), env_file.display().to_string()]);
    for b in &p.binds {
        let mut mount = format!("type=bind,source={},target={}", b.source.display(), b.target);
        if b.read_only {
            mount.push_str(",readonly");
        }
        args.extend(["--mount".into(), mount]);
    }
    for (k, v) in &p.labels {
        args.extend(["--label".into(), format!("{k}={v}")]);
    }
    args.extend(["--workdir".into(), plan::WORKSPACE.into(), "--user".into(), p.user.clone()]);
    if let Some(nano) = p.nano_cpus {
        // Whole CPUs: a VM gets at least one.
        args.extend(["--cpus".into(), (nano / 1_000_000_000).max(1).to_string()]);
    }
    if let Some(bytes) = p.memory {
        args.extend(["--memory".into(), format!("{}M", (bytes / (1024 * 1024)).max(1))]);
    }
    if let Some((entry, rest)) = p.entrypoint.split_first() {
        args.extend(["--entrypoint".into(), entry.clone()]);
        args.push(p.image.clone());
        args.extend(rest.iter().cloned());
    } else {
        args.push(p.image.clone());
    }
    args.extend(p.cmd.iter().cloned());
    args
}

/// The env file's text: one `KEY=value` per line (values with a line break are refused: the
/// format has no quoting).
fn env_file_text(env: &[(String, String)]) -> Result<String, BackendError> {
    let mut text = String::new();
    for (k, v) in env {
        if v.contains('\n') || k.contains('=') {
            return Err(failed(format!(
                "the variable {k} cannot be passed to Apple Container (a line break)"
            )));
        }
        text.push_str(&format!("{k}={v}\n"));
    }
    Ok(text)
}

/// A container's status from `container inspect` / `list` JSON: `status` (or `state`).
fn status_of(v: &serde_json::Value) -> BackendStatus {
    let s = v.get("status").or_else(|| v.get("state")).and_then(|s| s.as_str()).unwrap_or_default();
    if s.eq_ignore_ascii_case("running") { BackendStatus::Running } else { BackendStatus::Stopped }
}

fn labels_of(v: &serde_json::Value) -> Option<&serde_json::Map<String, serde_json::Value>> {
    v.get("configuration")
        .and_then(|c| c.get("labels"))
        .or_else(|| v.get("labels"))
        .and_then(|l| l.as_object())
}

fn name_of(v: &serde_json::Value) -> Option<&str> {
    v.get("configuration").and_then(|c| c.get("id")).or_else(|| v.get("id")).and_then(|n| n.as_str())
}

impl AppleContainerBackend {
    pub fn new(settings: AppleSettings) -> Self {
        AppleContainerBackend { settings }
    }

    async fn run(&self, args: &[&str]) -> Result<Output, BackendError> {
        let mut cmd = Command::new(&self.settings.program);
        cmd.env_clear().envs(self.settings.host_env.iter().map(|(k, v)| (k, v))).args(args);
        cmd.stdin(std::process::Stdio::null()).kill_on_drop(true);
        cmd.output().await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                unavailable(format!(
                    "`{}` was not found: install Apple's container tool (https://github.com/apple/container/releases) \
                     and run `container system start`, or set [apple_container] program",
                    self.settings.program.display()
                ))
            } else {
                failed(format!("running {}: {e}", self.settings.program.display()))
            }
        })
    }

    /// Run and require success, the tool's own words in the error.
    async fn run_ok(&self, args: &[&str], what: &str) -> Result<Output, BackendError> {
        let out = self.run(args).await?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(failed(format!("{what}: {}", String::from_utf8_lossy(&out.stderr).trim())))
        }
    }

    async fn inspect(&self, handle: &BackendHandle) -> Result<Option<serde_json::Value>, BackendError> {
        let out = self.run(&["inspect", handle.as_str()]).await?;
        if !out.status.success() {
            return if says_missing(&out) {
                Ok(None)
            } else {
                Err(failed(format!(
                    "inspecting {}: {}",
                    handle.as_str(),
                    String::from_utf8_lossy(&out.stderr).trim()
                )))
            };
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| failed(format!("`container inspect` printed something else than JSON: {e}")))?;
        Ok(match v {
            serde_json::Value::Array(mut items) if !items.is_empty() => Some(items.swap_remove(0)),
            serde_json::Value::Array(_) => None,
            other => Some(other),
        })
    }

    fn env_file(&self, name: &str) -> PathBuf {
        self.settings.data_dir.join("apple").join(format!("{name}.env"))
    }
}

#[async_trait]
impl SessionBackend for AppleContainerBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::AppleContainer
    }

    async fn check(&self) -> Result<(), BackendError> {
        if self.settings.require_macos && !cfg!(target_os = "macos") {
            return Err(unavailable(format!(
                "not available here: Apple Container runs only on macOS 26 on Apple silicon, and this machine \
                 runs {}; use --backend docker (or zellij) here",
                std::env::consts::OS
            )));
        }
        let out = self.run(&["system", "status"]).await?;
        if !out.status.success() {
            return Err(unavailable(
                "the container system service is not running: run `container system start` (the first start \
                 may install a kernel)",
            ));
        }
        Ok(())
    }

    async fn create(&self, spec: &SessionSpec) -> Result<BackendHandle, BackendError> {
        let image = spec.options.image.clone().unwrap_or_else(|| self.settings.image.clone());
        let files = clauderon_docker::session_files::write(spec).await?;
        self.prepare_start(&AgentFiles::of(spec)).await?;
        let git = match clauderon_types::SessionGit::new(&spec.repo, &spec.worktree) {
            Some(layout) => clauderon_backend::host_git::mounts(&layout)
                .map_err(|e| failed(format!("preparing the repository's git dir for the container: {e}")))?,
            None => None,
        };
        let p = plan::plan(&PlanInputs {
            spec,
            image: &image,
            proxy_host: &self.settings.host_address,
            uid: files.uid,
            gid: files.gid,
            system_bundle: files.system_bundle,
            // The open network: a VM cannot be handed the proxy's Unix socket.
            proxy_socket: None,
            scope: self.settings.scope.as_deref(),
            git: git.as_ref(),
            default_milli_cpus: self.settings.default_milli_cpus,
            default_memory_bytes: self.settings.default_memory_bytes,
        })
        .map_err(|e| failed(e.to_string()))?;
        let env_file = self.env_file(&p.name);
        let text = env_file_text(&p.env)?;
        let dir = env_file.parent().map(Path::to_path_buf).unwrap_or_default();
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| failed(format!("creating {}: {e}", dir.display())))?;
        let _ = std::fs::remove_file(&env_file);
        let written = (|| {
            use std::io::Write;
            let mut f =
                std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&env_file)?;
            f.write_all(text.as_bytes())
        })();
        written.map_err(|e| failed(format!("writing {}: {e}", env_file.display())))?;
        let args = create_args(&p, &env_file);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.run(&args).await;
        let _ = std::fs::remove_file(&env_file);
        let out = out?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            if err.to_ascii_lowercase().contains("exists") {
                return Err(failed(format!(
                    "a container named `{0}` already exists (another clauderon data dir, or one left over): \
                     remove it with `container delete --force {0}` or pick another session name",
                    p.name
                )));
            }
            return Err(failed(format!("creating the container: {}", err.trim())));
        }
        Ok(BackendHandle(p.name))
    }

    async fn start(&self, handle: &BackendHandle) -> Result<(), BackendError> {
        if self.inspect(handle).await?.is_none() {
            return Err(not_found(handle));
        }
        self.run_ok(&["start", handle.as_str()], "starting the container").await.map(|_| ())
    }

    async fn stop(&self, handle: &BackendHandle) -> Result<(), BackendError> {
        match self.inspect(handle).await? {
            None => Err(not_found(handle)),
            Some(v) if status_of(&v) != BackendStatus::Running => Ok(()),
            Some(_) => self.run_ok(&["stop", handle.as_str()], "stopping the container").await.map(|_| ()),
        }
    }

    async fn delete(&self, handle: &BackendHandle) -> Result<(), BackendError> {
        let out = self.run(&["delete", "--force", handle.as_str()]).await?;
        if out.status.success() || says_missing(&out) {
            Ok(())
        } else {
            Err(failed(format!("deleting the container: {}", String::from_utf8_lossy(&out.stderr).trim())))
        }
    }

    async fn status(&self, handle: &BackendHandle) -> Result<BackendStatus, BackendError> {
        Ok(self.inspect(handle).await?.map_or(BackendStatus::Missing, |v| status_of(&v)))
    }

    async fn attach_target(&self, handle: &BackendHandle) -> Result<AttachTarget, BackendError> {
        if self.inspect(handle).await?.is_none() {
            return Err(not_found(handle));
        }
        Ok(AttachTarget::Command {
            program: self.settings.program.display().to_string(),
            args: vec![
                "exec".into(),
                "--interactive".into(),
                "--tty".into(),
                handle.0.clone(),
                "/bin/sh".into(),
            ],
        })
    }

    fn agent_workdir(&self, _worktree: &Path) -> PathBuf {
        PathBuf::from(plan::WORKSPACE)
    }

    async fn logs(&self, handle: &BackendHandle, tail: usize) -> Result<String, BackendError> {
        if self.inspect(handle).await?.is_none() {
            return Err(not_found(handle));
        }
        let tail = tail.to_string();
        let out =
            self.run_ok(&["logs", "-n", &tail, handle.as_str()], "reading the container's logs").await?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    async fn list(&self) -> Result<Vec<BackendResource>, BackendError> {
        let out = self.run_ok(&["list", "--all", "--format", "json"], "listing containers").await?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| failed(format!("`container list` printed something else than JSON: {e}")))?;
        let scope = self.settings.scope.as_deref();
        Ok(v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| {
                let labels = labels_of(c)?;
                let label = |k: &str| labels.get(k).and_then(|v| v.as_str());
                if label(plan::LABEL_MANAGED) != Some("true")
                    || (scope.is_some() && label(plan::LABEL_SCOPE) != scope)
                {
                    return None;
                }
                Some(BackendResource {
                    handle: BackendHandle(name_of(c)?.to_string()),
                    session_id: label(plan::LABEL_SESSION_ID).and_then(|id| id.parse::<SessionId>().ok()),
                    status: status_of(c),
                    detail: "apple container".into(),
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn env_values_with_line_breaks_are_refused_not_split() {
        assert_eq!(env_file_text(&[("A".into(), "1".into())]).unwrap(), "A=1\n");
        assert!(env_file_text(&[("A".into(), "1\nB=2".into())]).is_err());
    }

    #[test]
    fn status_and_labels_read_both_json_shapes() {
        let nested =
            serde_json::json!({"status": "running", "configuration": {"id": "c1", "labels": {"a": "b"}}});
        assert_eq!(status_of(&nested), BackendStatus::Running);
        assert_eq!(name_of(&nested), Some("c1"));
        assert!(labels_of(&nested).is_some());
        let flat = serde_json::json!({"state": "stopped", "id": "c2", "labels": {}});
        assert_eq!(status_of(&flat), BackendStatus::Stopped);
        assert_eq!(name_of(&flat), Some("c2"));
    }
}
