//! The Zellij backend: each session is a background zellij session on the host whose first pane
//! runs the session's process (the agent, or `--command`) in its worktree.
//!
//! - The process starts from an empty environment plus what clauderon sets (HOME is the
//!   session's own folder, the proxy with the session's identity, trust in clauderon's CA,
//!   placeholders): the daemon's real credentials are never inherited. The zellij server itself
//!   gets only what zellij needs ([`cli::PASSED_TO_ZELLIJ`]).
//! - With bubblewrap ([`sandbox`]): `fs` hides the user's secret places and the data dir and makes
//!   everything but the worktree read-only; `full` adds a network namespace whose only way out is
//!   the proxy's Unix socket, through the [`relay`].
//! - The resource is a folder per session in `<data>/zellij/` ([`launch`]); zellij's own session
//!   list (matched by exact name) says whether it runs.

pub mod cli;
mod error;
pub mod launch;
pub mod proxy_link;
pub mod relay;
pub mod sandbox;
pub mod terminal;

use async_trait::async_trait;
use clauderon_backend::env::{SessionView, session_env};
use clauderon_backend::session_files::{session_command, write_trust_files};
use clauderon_backend::{
    AgentFiles, AttachTarget, BackendError, BackendHandle, BackendResource, BackendStatus, SessionBackend,
    SessionSpec, Terminal,
};
use clauderon_types::{BackendKind, DataLayout, SandboxLevel, SessionGit, SessionId};
use cli::ZellijCli;
pub use error::ZellijError;
use launch::{LaunchPlan, SessionDir};
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use tokio::sync::OnceCell;

/// Prefix of every zellij session clauderon makes.
pub const SESSION_PREFIX: &str = "clauderon-";

/// How the backend is set up. [`ZellijSettings::new`] gives the defaults for a data dir.
#[derive(Debug, Clone)]
pub struct ZellijSettings {
    /// The zellij program (a name looked up on PATH, or a path).
    pub program: PathBuf,
    /// The bubblewrap program.
    pub bwrap: PathBuf,
    /// The data dir: hidden from sandboxed sessions; the backend keeps its folders in
    /// `<data>/zellij`.
    pub data_dir: PathBuf,
    /// The user's HOME, against which `~/` in [`ZellijSettings::hidden`] is read.
    pub user_home: Option<PathBuf>,
    /// Places a sandboxed session must not see (see [`sandbox::DEFAULT_HIDDEN`]).
    pub hidden: Vec<String>,
    /// Host places a sandboxed session sees read-only beyond the system's folders, its PATH
    /// and the known toolchains (`[zellij] expose`; see [`sandbox::exposed_places`]).
    pub exposed: Vec<String>,
    /// Sandbox level for sessions that do not ask for one; `None`: `full` when bubblewrap works
    /// here, else `off`.
    pub default_sandbox: Option<SandboxLevel>,
    /// The proxy's Unix socket on the host, for `full` sandboxes.
    pub proxy_socket: Option<PathBuf>,
    /// How to run the relay: a program and the arguments before the relay's own
    /// (`[clauderon, sandbox-relay]`).
    pub relay: Vec<String>,
    /// The environment the zellij server may inherit and PATH/locale for sessions, as read from
    /// the daemon's environment.
    pub host_env: Vec<(String, String)>,
}

impl ZellijSettings {
    /// Defaults for a data dir, reading PATH, HOME and the like from `lookup` (the daemon's
    /// environment).
    pub fn new(layout: &DataLayout, relay: Vec<String>, lookup: impl Fn(&str) -> Option<String>) -> Self {
        let host_env = cli::PASSED_TO_ZELLIJ
            .iter()
            .filter_map(|k| lookup(k).map(|v| ((*k).to_string(), v)))
            .collect::<Vec<_>>();
        ZellijSettings {
            program: "zellij".into(),
            bwrap: "bwrap".into(),
            data_dir: layout.root().to_path_buf(),
            user_home: lookup("HOME").map(PathBuf::from),
            hidden: sandbox::DEFAULT_HIDDEN.iter().map(|s| (*s).to_string()).collect(),
            exposed: Vec::new(),
            default_sandbox: None,
            proxy_socket: Some(layout.proxy_socket()),
            relay,
            host_env,
        }
    }

    fn host_var(&self, key: &str) -> Option<&str> {
        self.host_env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The backend's folders.
    pub fn state_dir(&self) -> PathBuf {
        self.data_dir.join("zellij")
    }
}

/// The session's process as its pane runs it: the whole environment and the command line.
type SessionProcess = (Vec<(String, String)>, Vec<String>);

pub struct ZellijBackend {
    settings: ZellijSettings,
    cli: ZellijCli,
    /// bubblewrap works here (checked once).
    bwrap: OnceCell<Result<String, ZellijError>>,
    proxy_link: Option<proxy_link::ProxyLink>,
    /// Renews the proxy link while the backend lives.
    link_task: Option<tokio::task::AbortHandle>,
}

impl Drop for ZellijBackend {
    fn drop(&mut self) {
        if let Some(task) = &self.link_task {
            task.abort();
        }
    }
}

fn failed(message: impl Into<String>) -> BackendError {
    BackendError::Failed { backend: BackendKind::Zellij, message: message.into() }
}

fn not_found(handle: &BackendHandle) -> BackendError {
    BackendError::NotFound { backend: BackendKind::Zellij, handle: handle.0.clone() }
}

impl ZellijBackend {
    /// Make the backend's folder (0700) and zellij settings file. Zellij itself is looked for by
    /// [`SessionBackend::check`].
    pub fn new(settings: ZellijSettings) -> Result<Self, ZellijError> {
        let state = settings.state_dir();
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&state)
            .map_err(|e| ZellijError::file("creating", &state, e))?;
        let config = state.join("zellij.kdl");
        std::fs::write(&config, cli::CONFIG_KDL).map_err(|e| ZellijError::file("writing", &config, e))?;
        let host_env = settings.host_env.clone();
        let lookup = |k: &str| host_env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let cli = ZellijCli::new(settings.program.clone(), config, lookup);
        let proxy_link =
            settings.proxy_socket.clone().map(|socket| proxy_link::ProxyLink::new(socket, &state));
        let link_task = match (&proxy_link, tokio::runtime::Handle::try_current()) {
            (Some(link), Ok(runtime)) => {
                let link = link.clone();
                let task = runtime.spawn(async move {
                    loop {
                        if let Err(e) = link.refresh() {
                            tracing::warn!("sandboxed zellij sessions may not reach the proxy: {e}");
                        }
                        tokio::time::sleep(proxy_link::CHECK_EVERY).await;
                    }
                });
                Some(task.abort_handle())
            }
            _ => None,
        };
        Ok(ZellijBackend { settings, cli, bwrap: OnceCell::new(), proxy_link, link_task })
    }

    fn dir(&self, handle: &BackendHandle) -> Option<SessionDir> {
        let name = handle.as_str();
        let valid =
            name.starts_with(SESSION_PREFIX) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        let dir = SessionDir(self.settings.state_dir().join(name));
        (valid && dir.0.is_dir()).then_some(dir)
    }

    /// Whether bubblewrap works here: `Ok(version)` or why not.
    pub async fn bwrap_status(&self) -> &Result<String, ZellijError> {
        self.bwrap.get_or_init(|| sandbox::probe(&self.settings.bwrap)).await
    }

    /// The level a session gets: its own choice, else the configured default, else `full` when
    /// bubblewrap works and `off` when not.
    pub async fn sandbox_for(&self, asked: Option<SandboxLevel>) -> Result<SandboxLevel, BackendError> {
        let works = self.bwrap_status().await;
        let level = match asked.or(self.settings.default_sandbox) {
            Some(level) => level,
            None if works.is_ok() => SandboxLevel::Full,
            None => SandboxLevel::Off,
        };
        if let (SandboxLevel::Fs | SandboxLevel::Full, Err(why)) = (level, works) {
            return Err(BackendError::Unavailable {
                backend: BackendKind::Zellij,
                reason: format!("--sandbox {level} needs bubblewrap: {why}"),
            });
        }
        Ok(level)
    }

    async fn running(&self, name: &str) -> Result<bool, BackendError> {
        let listed = self.cli.list().await.map_err(BackendError::from)?;
        Ok(listed.iter().any(|s| s.name == name && !s.exited))
    }

    /// The screen of a session whose process has ended while its pane stays. The process's
    /// last output can still be on its way through the pane's terminal when `exit-status`
    /// appears (a loaded machine showed an empty screen then), so the screen is read once it
    /// has stayed still ([`cli::ZellijCli::wait_still`]) and is not empty, and kept in
    /// `last-screen`; later reads take the kept one while it is newer than `exit-status`.
    async fn final_screen(&self, handle: &BackendHandle, dir: &SessionDir) -> String {
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        if let (Some(kept), Some(ended)) = (modified(&dir.last_screen()), modified(&dir.exit_status()))
            && kept >= ended
        {
            return std::fs::read_to_string(dir.last_screen()).unwrap_or_default();
        }
        let started = std::time::Instant::now();
        let mut screen = self.cli.wait_still(handle.as_str()).await;
        while screen.trim().is_empty() && started.elapsed() < clauderon_backend::SETTLE_WAIT {
            screen = self.cli.wait_still(handle.as_str()).await;
        }
        if !screen.trim().is_empty() {
            let _ = write_private(&dir.last_screen(), &screen);
        }
        screen
    }

    fn status_of(dir: &SessionDir, running: bool) -> BackendStatus {
        if running && !dir.exit_status().exists() { BackendStatus::Running } else { BackendStatus::Stopped }
    }

    /// The session's process as the pane runs it: its environment and its command line.
    fn plan_process(
        &self,
        spec: &SessionSpec,
        level: SandboxLevel,
        trust: &clauderon_backend::session_files::TrustFiles,
    ) -> Result<SessionProcess, BackendError> {
        let text = |p: &Path| p.to_string_lossy().into_owned();
        let (ca_cert, ca_bundle, home) = (text(&trust.ca_cert), text(&trust.ca_bundle), text(&spec.home));
        let view =
            SessionView { proxy_host: "127.0.0.1", ca_cert: &ca_cert, ca_bundle: &ca_bundle, home: &home };
        let mut env = session_env(spec, &view);
        for key in ["PATH", "LANG", "LC_ALL", "USER", "LOGNAME"] {
            if let Some(v) = self.settings.host_var(key) {
                env.push((key.into(), v.into()));
            }
        }
        env.push(("TERM".into(), "xterm-256color".into()));
        env.push(("COLORTERM".into(), "truecolor".into()));
        env.push(("CLAUDERON_SANDBOX".into(), level.to_string()));

        let mut argv = session_command(spec);
        if level == SandboxLevel::Off {
            return Ok((env, argv));
        }
        let bwrap = resolve_program(&self.settings.bwrap, self.settings.host_var("PATH"));
        let mut hidden = match &self.settings.user_home {
            Some(home) => sandbox::expand_hidden(&self.settings.hidden, home),
            None => Vec::new(),
        };
        hidden.push(self.settings.data_dir.clone());
        for var in ["XDG_RUNTIME_DIR", "ZELLIJ_SOCKET_DIR"] {
            if let Some(dir) = self.settings.host_var(var) {
                hidden.push(PathBuf::from(dir));
            }
        }
        let path_var = self.settings.host_var("PATH");
        let home = self.settings.user_home.as_deref();
        let never_above: Vec<&Path> =
            [Some(self.settings.data_dir.as_path()), home, Some(spec.repo.as_path())]
                .into_iter()
                .flatten()
                .collect();
        let exposed = sandbox::exposed_places(path_var, home, &self.settings.exposed, &never_above);
        let git = match SessionGit::new(&spec.repo, &spec.worktree) {
            Some(layout) => clauderon_backend::host_git::mounts(&layout)
                .map_err(|e| failed(format!("preparing the repository's git dir for the sandbox: {e}")))?,
            None => None,
        };
        let mut relay_mount = None;
        if level == SandboxLevel::Full {
            let link = self.proxy_link.as_ref().ok_or_else(|| {
                failed("--sandbox full needs the proxy's Unix socket, which this daemon did not give the zellij backend")
            })?;
            if !link.refresh().map_err(BackendError::from)? {
                return Err(failed(format!(
                    "--sandbox full needs the proxy's Unix socket {}, which is not there: is the daemon's proxy running?",
                    link.socket.display()
                )));
            }
            let socket = &link.link();
            let (program, pre) = self.settings.relay.split_first().ok_or_else(|| {
                failed("--sandbox full needs the sandbox relay program, which this daemon did not configure")
            })?;
            let relay = resolve_program(Path::new(program), self.settings.host_var("PATH"));
            let listen = SocketAddr::from(([127, 0, 0, 1], spec.proxy.port));
            let mut wrapped = vec![relay.to_string_lossy().into_owned()];
            wrapped.extend(pre.iter().cloned());
            wrapped.extend(relay::relay_args(listen, socket, &argv));
            argv = wrapped;
            relay_mount = Some((relay, link.dir.clone()));
        }
        let plan = sandbox::SandboxPlan {
            bwrap: &bwrap,
            worktree: &spec.worktree,
            home: &spec.home,
            git: git.as_ref(),
            exposed: &exposed,
            hidden: &hidden,
            network: relay_mount
                .as_ref()
                .map(|(relay, mount)| sandbox::NetworkPlan { relay, proxy_socket_mount: mount }),
        };
        let mut full = vec![bwrap.to_string_lossy().into_owned()];
        full.extend(sandbox::bwrap_args(&plan));
        full.extend(argv);
        Ok((env, full))
    }

    fn write_session_dir(
        &self,
        handle: &str,
        spec: &SessionSpec,
        env: &[(String, String)],
        argv: &[String],
    ) -> Result<(), ZellijError> {
        let dir = SessionDir(self.settings.state_dir().join(handle));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir.0)
            .map_err(|e| ZellijError::file("creating", &dir.0, e))?;
        let script = launch::script(&LaunchPlan {
            cwd: &spec.worktree,
            env,
            argv,
            exit_status: &dir.exit_status(),
            started: &dir.started(),
        });
        // The script holds the session's proxy identity: only the user reads it.
        write_private(&dir.launch_script(), &script)?;
        write_private(&dir.session_id(), &spec.session_id.to_string())?;
        write_private(&dir.environment(), &launch::encode_env(env))?;
        write_private(&dir.cwd(), &spec.worktree.to_string_lossy())
    }
}

fn write_private(path: &Path, text: &str) -> Result<(), ZellijError> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| ZellijError::file("writing", path, e))?;
    f.write_all(text.as_bytes()).map_err(|e| ZellijError::file("writing", path, e))
}

/// A program name looked up on `path` (as the pane will not have the daemon's PATH when it is
/// sandboxed); a path, or a name not found, as given.
pub fn resolve_program(program: &Path, path: Option<&str>) -> PathBuf {
    if program.components().count() > 1 {
        return program.to_path_buf();
    }
    path.unwrap_or("/usr/local/bin:/usr/bin:/bin")
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| program.to_path_buf())
}

/// The zellij session name of a session: its name and the start of its id, so two data dirs (or
/// a reused name) never share one.
pub fn session_name(spec: &SessionSpec) -> String {
    let (name, short) = (spec.name.to_string(), spec.session_id.short());
    if name.ends_with(&short) {
        format!("{SESSION_PREFIX}{name}")
    } else {
        format!("{SESSION_PREFIX}{name}-{short}")
    }
}

#[async_trait]
impl SessionBackend for ZellijBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Zellij
    }

    async fn check(&self) -> Result<(), BackendError> {
        self.cli
            .version()
            .await
            .map(|_| ())
            .map_err(|e| BackendError::Unavailable { backend: BackendKind::Zellij, reason: e.to_string() })
    }

    async fn create(&self, spec: &SessionSpec) -> Result<BackendHandle, BackendError> {
        let level = self.sandbox_for(spec.options.sandbox).await?;
        let handle = session_name(spec);
        // The agent runs in the worktree itself, so that is the folder its settings trust.
        self.prepare_start(&AgentFiles::of(spec)).await?;
        let owned = spec.clone();
        let trust = tokio::task::spawn_blocking(move || write_trust_files(&owned))
            .await
            .map_err(|e| failed(format!("writing the session's files: {e}")))??;
        let (env, argv) = self.plan_process(spec, level, &trust)?;
        self.write_session_dir(&handle, spec, &env, &argv).map_err(BackendError::from)?;
        tracing::debug!(session = %spec.name, zellij = %handle, sandbox = %level, "zellij session prepared");
        Ok(BackendHandle(handle))
    }

    async fn start(&self, handle: &BackendHandle) -> Result<(), BackendError> {
        let dir = self.dir(handle).ok_or_else(|| not_found(handle))?;
        if self.running(handle.as_str()).await? {
            if !dir.exit_status().exists() {
                return Ok(());
            }
            // The process ended but its pane stayed for the logs: start afresh.
            self.cli.kill(handle.as_str()).await.map_err(BackendError::from)?;
        }
        let _ = std::fs::remove_file(dir.exit_status());
        let cwd = std::fs::read_to_string(dir.cwd()).map(PathBuf::from).unwrap_or_else(|_| dir.0.clone());
        self.cli
            .create_background(
                handle.as_str(),
                &cwd,
                &dir.launch_script(),
                &dir.started(),
                &dir.0.join("zellij.err"),
            )
            .await
            .map_err(BackendError::from)
    }

    async fn stop(&self, handle: &BackendHandle) -> Result<(), BackendError> {
        let dir = self.dir(handle).ok_or_else(|| not_found(handle))?;
        if self.running(handle.as_str()).await? {
            // Keep the last screen, so a stopped session still has logs.
            if let Ok(screen) = self.cli.dump_screen(handle.as_str()).await {
                let _ = write_private(&dir.last_screen(), &screen);
            }
        }
        self.cli.kill(handle.as_str()).await.map_err(BackendError::from)
    }

    async fn delete(&self, handle: &BackendHandle) -> Result<(), BackendError> {
        let Some(dir) = self.dir(handle) else { return Ok(()) };
        self.cli.kill(handle.as_str()).await.map_err(BackendError::from)?;
        match std::fs::remove_dir_all(&dir.0) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(failed(format!("removing {}: {e}", dir.0.display()))),
        }
    }

    async fn status(&self, handle: &BackendHandle) -> Result<BackendStatus, BackendError> {
        let Some(dir) = self.dir(handle) else { return Ok(BackendStatus::Missing) };
        let running = self.running(handle.as_str()).await?;
        Ok(Self::status_of(&dir, running))
    }

    async fn attach_target(&self, handle: &BackendHandle) -> Result<AttachTarget, BackendError> {
        self.dir(handle).ok_or_else(|| not_found(handle))?;
        let program = resolve_program(&self.settings.program, self.settings.host_var("PATH"));
        Ok(AttachTarget::Command {
            program: program.to_string_lossy().into_owned(),
            args: vec!["attach".into(), handle.0.clone()],
        })
    }

    async fn terminal(&self, handle: &BackendHandle) -> Result<Option<Terminal>, BackendError> {
        let dir = self.dir(handle).ok_or_else(|| not_found(handle))?;
        if Self::status_of(&dir, self.running(handle.as_str()).await?) != BackendStatus::Running {
            return Err(failed(
                "the session's process is not running: start it (clauderon start) to get its terminal",
            ));
        }
        terminal::open(&self.cli, handle.as_str()).await.map(Some)
    }

    async fn environment(
        &self,
        handle: &BackendHandle,
    ) -> Result<Option<Vec<(String, String)>>, BackendError> {
        let dir = self.dir(handle).ok_or_else(|| not_found(handle))?;
        let text = std::fs::read_to_string(dir.environment())
            .map_err(|e| failed(format!("reading {}: {e}", dir.environment().display())))?;
        Ok(Some(launch::decode_env(&text)))
    }

    async fn send_input(&self, handle: &BackendHandle, text: &str) -> Result<(), BackendError> {
        let dir = self.dir(handle).ok_or_else(|| not_found(handle))?;
        let running = self.running(handle.as_str()).await?;
        if Self::status_of(&dir, running) != BackendStatus::Running {
            return Err(failed("the session's process is not running: nothing would read the text"));
        }
        self.cli.send_text(handle.as_str(), text).await.map_err(BackendError::from)
    }

    async fn logs(&self, handle: &BackendHandle, tail: usize) -> Result<String, BackendError> {
        let dir = self.dir(handle).ok_or_else(|| not_found(handle))?;
        let screen = match (self.running(handle.as_str()).await?, dir.exit_status().exists()) {
            (true, false) => self.cli.dump_screen(handle.as_str()).await.map_err(BackendError::from)?,
            (true, true) => self.final_screen(handle, &dir).await,
            (false, _) => std::fs::read_to_string(dir.last_screen()).unwrap_or_default(),
        };
        Ok(cli::tail_lines(&screen, tail))
    }

    async fn list(&self) -> Result<Vec<BackendResource>, BackendError> {
        let listed = self.cli.list().await.map_err(BackendError::from)?;
        let state = self.settings.state_dir();
        let entries =
            std::fs::read_dir(&state).map_err(|e| failed(format!("reading {}: {e}", state.display())))?;
        let mut out = Vec::new();
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            let handle = BackendHandle(name.clone());
            let Some(dir) = self.dir(&handle) else { continue };
            let session_id = std::fs::read_to_string(dir.session_id())
                .ok()
                .and_then(|t| t.trim().parse::<SessionId>().ok());
            let running = listed.iter().any(|s| s.name == name && !s.exited);
            out.push(BackendResource {
                handle,
                session_id,
                status: Self::status_of(&dir, running),
                detail: format!("zellij session {name}"),
            });
        }
        for s in listed.iter().filter(|s| s.name.starts_with(SESSION_PREFIX) && !s.exited) {
            if !out.iter().any(|r| r.handle.0 == s.name) {
                out.push(BackendResource {
                    handle: BackendHandle(s.name.clone()),
                    session_id: None,
                    status: BackendStatus::Running,
                    detail: format!("zellij session {} (not in {})", s.name, state.display()),
                });
            }
        }
        Ok(out)
    }
}
