//! The Sprites backend: a session is a sprite (sprites.dev: a Firecracker VM with a persistent
//! disk, driven over a REST + WebSocket API), named after the session's id.
//!
//! - **Create**: the sprite is made, its network policy set to refuse every domain (its traffic
//!   goes through clauderon's proxy, below), and one archive unpacked in its home: the session's
//!   HOME as clauderon wrote it (agent settings, status hooks, trust), the CA *certificate*, the
//!   relay and launch scripts, the environment file (0600: placeholders and the proxy identity,
//!   never a credential), and the workspace — the session branch as a git bundle cloned into
//!   `~/workspace` (a folder that is not a git repository goes as its files).
//! - **Proxy**: a sprite cannot reach a laptop, so the daemon carries the proxy to it through an
//!   exec stream it holds open ([`clauderon_backend::tunnel`]). The relay listens on the sprite's loopback; the
//!   session's `HTTPS_PROXY` points there with its own identity (407 for anyone else, as for
//!   Docker). A start waits for the relay, and fails, saying why, when it does not come up:
//!   a session is never started without its proxy.
//! - **The agent** runs in tmux inside the sprite (session `clauderon`): status from tmux, logs
//!   from its pane, `send` pastes into it, the terminal is an exec TTY on `tmux attach`.
//! - **The API token** (credential `sprites_token`) is the daemon's alone: it is sent only to the
//!   API, never put in the sprite, and is not a credential the proxy injects for sessions.
//!
//! What does not come back: the work stays in the sprite (`clauderon diff` on the host does not
//! see it); the agent's transcripts stay there too.
//!
//! No Sprites API can be reached here: the tests run against a local stand-in of the documented
//! API (`clauderon_testkit::sprites_api`), which runs each sprite in its own network namespace,
//! and say so.

pub mod api;

use api::{Api, ApiError, ExecRequest, TokenSource};
use async_trait::async_trait;
use clauderon_backend::tunnel;
use clauderon_backend::{
    AttachTarget, BackendError, BackendHandle, BackendResource, BackendStatus, SessionBackend, SessionSpec,
    Terminal, TerminalInput,
};
use clauderon_types::{BackendKind, SessionId};
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// The sprite user's home, where everything of the session lives.
pub const SPRITE_HOME: &str = "/home/sprite";
/// The tmux session the agent runs in.
pub const TMUX_SESSION: &str = "clauderon";

const KIND: BackendKind = BackendKind::Sprites;

/// Longest a one-shot command in the sprite may take (unpacking a big workspace).
const RUN_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest a status look waits for a tunnel it opens again.
const STATUS_TUNNEL_WAIT: Duration = Duration::from_secs(3);
/// Longest wait for the relay to listen.
const RELAY_WAIT: Duration = Duration::from_secs(40);

pub struct SpritesSettings {
    /// The API's base URL ([`api::DEFAULT_API_URL`]).
    pub api_url: String,
    pub token: Arc<dyn TokenSource>,
    /// Extra certificates to trust for the API (a corporate gateway).
    pub extra_roots: Vec<rustls_pki_types::CertificateDer<'static>>,
    /// The daemon's data dir: sprites' names carry a hash of it, so two daemons of one
    /// organization never list or touch each other's.
    pub scope: String,
    /// The daemon's proxy port on its loopback, for sessions whose create this daemon did not
    /// see (after a restart).
    pub proxy_port: u16,
}

struct Remembered {
    home: PathBuf,
    proxy_port: u16,
}

pub struct SpritesBackend {
    api: Result<Api, String>,
    prefix: String,
    proxy_port: u16,
    /// What the create of each sprite of this run knew (its HOME on the host, the proxy port).
    remembered: Mutex<HashMap<String, Remembered>>,
    /// The tunnel each running session's proxy traffic goes through.
    tunnels: Mutex<HashMap<String, tokio::task::JoinHandle<()>>>,
}

fn failed(message: impl Into<String>) -> BackendError {
    BackendError::Failed { backend: KIND, message: message.into() }
}

fn api_error(e: ApiError, handle: &str) -> BackendError {
    match e {
        ApiError::NotFound => BackendError::NotFound { backend: KIND, handle: handle.to_string() },
        e @ (ApiError::NoToken(_) | ApiError::Unauthorized | ApiError::Unreachable { .. }) => {
            BackendError::Unavailable { backend: KIND, reason: e.to_string() }
        }
        other => failed(other.to_string()),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `'…'` for sh, whatever the text holds.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A short stable hash of the daemon's scope, for sprite names.
fn scope_tag(scope: &str) -> String {
    // FNV-1a: stable across runs and builds (std's hasher is not).
    let mut h: u32 = 0x811c_9dc5;
    for b in scope.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("{h:08x}")[..6].to_string()
}

impl SpritesBackend {
    pub fn new(settings: SpritesSettings) -> SpritesBackend {
        SpritesBackend {
            api: Api::new(&settings.api_url, settings.token, settings.extra_roots),
            prefix: format!("clauderon-{}-", scope_tag(&settings.scope)),
            proxy_port: settings.proxy_port,
            remembered: Mutex::new(HashMap::new()),
            tunnels: Mutex::new(HashMap::new()),
        }
    }

    fn api(&self) -> Result<&Api, BackendError> {
        self.api.as_ref().map_err(|e| BackendError::Unavailable { backend: KIND, reason: e.clone() })
    }

    /// The sprite's name for a session: the prefix and the session's id.
    pub fn sprite_name(&self, id: SessionId) -> String {
        format!("{}{}", self.prefix, id)
    }

    fn session_of(&self, name: &str) -> Option<SessionId> {
        name.strip_prefix(&self.prefix)?.parse().ok()
    }

    /// A command in the sprite, through `sh -c`, its output or why it failed.
    async fn sh(&self, name: &str, script: &str, input: Option<&[u8]>) -> Result<api::Output, BackendError> {
        self.api()?.run(name, &["sh", "-c", script], input, RUN_TIMEOUT).await.map_err(|e| api_error(e, name))
    }

    async fn sprite_exists(&self, name: &str) -> Result<bool, BackendError> {
        Ok(self.api()?.get_sprite(name).await.map_err(|e| api_error(e, name))?.is_some())
    }

    async fn agent_running(&self, name: &str) -> Result<bool, BackendError> {
        let out = self.sh(name, &format!("tmux has-session -t {TMUX_SESSION} 2>/dev/null"), None).await?;
        Ok(out.code == 0)
    }

    /// Start the tunnel of `name` unless one runs; wait until its relay listens.
    async fn ensure_tunnel(&self, name: &str) -> Result<(), BackendError> {
        if lock(&self.tunnels).get(name).is_some_and(|t| !t.is_finished()) {
            return Ok(());
        }
        let port = lock(&self.remembered).get(name).map(|r| r.proxy_port).unwrap_or(self.proxy_port);
        let proxy = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let request = ExecRequest::plain(
            &["sh", "-c", &format!("exec node {SPRITE_HOME}/.clauderon/relay.js {}", tunnel::RELAY_PORT)],
            true,
        );
        let socket = self.api()?.exec(name, &request).await.map_err(|e| api_error(e, name))?;
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let (ended_tx, ended_rx) = tokio::sync::oneshot::channel();
        let sprite = name.to_string();
        let task = tokio::spawn(async move {
            let (events, to_relay) = api::relay_streams(socket);
            let ended = tunnel::carry(events, to_relay, proxy, Some(ready_tx)).await;
            tracing::info!(sprite, ?ended, "the proxy tunnel of a sprite ended");
            let _ = ended_tx.send(ended);
        });
        lock(&self.tunnels).insert(name.to_string(), task);
        tokio::select! {
            ready = ready_rx => {
                if ready.is_ok() {
                    return Ok(());
                }
            }
            _ = tokio::time::sleep(RELAY_WAIT) => {}
        }
        if let Some(task) = lock(&self.tunnels).remove(name) {
            task.abort();
        }
        let why = match ended_rx.await {
            Ok(tunnel::Ended::RelayGone(why) | tunnel::Ended::Protocol(why)) => why,
            Err(_) => format!("it did not listen within {} s", RELAY_WAIT.as_secs()),
        };
        Err(failed(format!(
            "the proxy relay in sprite {name} did not start ({why}); the session is not started without \
             its proxy. The relay needs node in the sprite; check with `sprite exec -s {name} node --version`"
        )))
    }

    fn stop_tunnel(&self, name: &str) {
        if let Some(task) = lock(&self.tunnels).remove(name) {
            task.abort();
        }
    }

    /// Upload the session's HOME from the host (agent settings clauderon wrote) into the sprite.
    async fn upload_home(&self, name: &str, home: &Path) -> Result<(), BackendError> {
        let home = home.to_path_buf();
        let archive = tokio::task::spawn_blocking(move || layout::home_archive(&home))
            .await
            .map_err(|e| failed(format!("archiving the session's HOME: {e}")))??;
        let out = self.sh(name, &format!("cd {SPRITE_HOME} && tar -x -f -"), Some(&archive)).await?;
        if out.code != 0 {
            return Err(failed(format!("unpacking the session's HOME in the sprite: {}", out.stderr_text())));
        }
        Ok(())
    }
}

pub mod layout;

impl Drop for SpritesBackend {
    /// The daemon is going: so do the tunnels it held (a relay ends when its stream closes).
    fn drop(&mut self) {
        for (_, task) in lock(&self.tunnels).drain() {
            task.abort();
        }
    }
}

#[async_trait]
impl SessionBackend for SpritesBackend {
    fn kind(&self) -> BackendKind {
        KIND
    }

    async fn check(&self) -> Result<(), BackendError> {
        let api = self.api()?;
        api.list_sprites(&self.prefix).await.map(|_| ()).map_err(|e| BackendError::Unavailable {
            backend: KIND,
            reason: format!("{e} (API {})", api.base()),
        })
    }

    fn agent_workdir(&self, _worktree: &Path) -> PathBuf {
        PathBuf::from(layout::WORKSPACE)
    }

    async fn create(&self, spec: &SessionSpec) -> Result<BackendHandle, BackendError> {
        let api = self.api()?;
        let name = self.sprite_name(spec.session_id);
        let bundle = {
            let spec = spec.clone();
            tokio::task::spawn_blocking(move || layout::setup_archive(&spec))
                .await
                .map_err(|e| failed(format!("preparing the sprite's files: {e}")))??
        };
        api.create_sprite(&name).await.map_err(|e| match e {
            ApiError::Conflict(m) => failed(format!(
                "a sprite named {name} already exists ({m}): delete it with `sprite destroy {name}` if no session owns it"
            )),
            other => api_error(other, &name),
        })?;
        // Anything that fails from here removes the sprite: nothing is left half-made.
        let made = async {
            api.set_network_policy(&name, layout::network_policy()).await.map_err(|e| {
                failed(format!(
                    "setting the sprite's network policy (clauderon refuses a sprite it cannot wall in): {e}"
                ))
            })?;
            let out = self.sh(&name, &layout::setup_script(&bundle), Some(&bundle.archive)).await?;
            if out.code != 0 {
                return Err(failed(format!("preparing the sprite: {}", out.stderr_text())));
            }
            Ok(())
        }
        .await;
        if let Err(e) = made {
            if let Err(cleanup) = api.delete_sprite(&name).await {
                tracing::warn!(sprite = name, error = %cleanup, "could not delete a sprite whose create failed");
            }
            return Err(e);
        }
        lock(&self.remembered)
            .insert(name.clone(), Remembered { home: spec.home.clone(), proxy_port: spec.proxy.port });
        Ok(BackendHandle(name))
    }

    async fn start(&self, handle: &BackendHandle) -> Result<(), BackendError> {
        let name = handle.as_str();
        if !self.sprite_exists(name).await? {
            return Err(BackendError::NotFound { backend: KIND, handle: name.to_string() });
        }
        let home = lock(&self.remembered).get(name).map(|r| r.home.clone());
        if let Some(home) = home
            && home.is_dir()
        {
            self.upload_home(name, &home).await?;
        }
        self.ensure_tunnel(name).await?;
        let out = self.sh(name, &layout::start_script(), None).await?;
        if out.code != 0 {
            self.stop_tunnel(name);
            return Err(failed(format!("starting the agent in tmux: {}", out.stderr_text())));
        }
        Ok(())
    }

    async fn stop(&self, handle: &BackendHandle) -> Result<(), BackendError> {
        let name = handle.as_str();
        if !self.sprite_exists(name).await? {
            return Err(BackendError::NotFound { backend: KIND, handle: name.to_string() });
        }
        self.sh(name, &format!("tmux kill-session -t {TMUX_SESSION} 2>/dev/null; true"), None).await?;
        self.stop_tunnel(name);
        Ok(())
    }

    async fn delete(&self, handle: &BackendHandle) -> Result<(), BackendError> {
        let name = handle.as_str();
        self.stop_tunnel(name);
        lock(&self.remembered).remove(name);
        self.api()?.delete_sprite(name).await.map_err(|e| api_error(e, name))
    }

    async fn status(&self, handle: &BackendHandle) -> Result<BackendStatus, BackendError> {
        let name = handle.as_str();
        if !self.sprite_exists(name).await? {
            return Ok(BackendStatus::Missing);
        }
        if !self.agent_running(name).await? {
            return Ok(BackendStatus::Stopped);
        }
        // A running agent always has its proxy: after a daemon restart the tunnel is opened
        // again here, where the session manager first looks at the session.
        // Not waited for long: a reconcile at daemon start must not hang on one sprite (the
        // tunnel task goes on, and a later look tries again if it ends).
        if let Ok(Err(e)) = tokio::time::timeout(STATUS_TUNNEL_WAIT, self.ensure_tunnel(name)).await {
            tracing::warn!(sprite = name, error = %e, "the proxy tunnel of a running sprite could not be opened");
        }
        Ok(BackendStatus::Running)
    }

    async fn attach_target(&self, handle: &BackendHandle) -> Result<AttachTarget, BackendError> {
        let name = handle.as_str();
        if !self.sprite_exists(name).await? {
            return Err(BackendError::NotFound { backend: KIND, handle: name.to_string() });
        }
        Ok(AttachTarget::Command {
            program: "sprite".into(),
            args: ["exec", "-s", name, "-tty", "tmux", "attach", "-t", TMUX_SESSION]
                .map(String::from)
                .to_vec(),
        })
    }

    async fn terminal(&self, handle: &BackendHandle) -> Result<Option<Terminal>, BackendError> {
        let name = handle.as_str();
        let request = ExecRequest {
            cmd: ["tmux", "attach", "-t", TMUX_SESSION].map(String::from).to_vec(),
            tty: true,
            stdin: true,
            size: Some((80, 24)),
        };
        let socket = self.api()?.exec(name, &request).await.map_err(|e| api_error(e, name))?;
        let (mut sink, mut source) = socket.split();
        let (out_tx, out_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(64);
        let (in_tx, mut in_rx) = tokio::sync::mpsc::channel::<TerminalInput>(64);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    msg = source.next() => match msg {
                        Some(Ok(Message::Binary(bytes))) => {
                            if out_tx.send(bytes.to_vec()).await.is_err() {
                                break;
                            }
                        }
                        Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                        Some(Ok(_)) => {}
                    },
                    input = in_rx.recv() => {
                        let msg = match input {
                            Some(TerminalInput::Data(bytes)) => Message::Binary(bytes.into()),
                            Some(TerminalInput::Resize { cols, rows }) => Message::Text(
                                serde_json::json!({"type": "resize", "cols": cols, "rows": rows}).to_string().into(),
                            ),
                            None => break,
                        };
                        if sink.send(msg).await.is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = sink.close().await;
        });
        Ok(Some(Terminal { output: out_rx, input: in_tx }))
    }

    async fn send_input(&self, handle: &BackendHandle, text: &str) -> Result<(), BackendError> {
        let name = handle.as_str();
        if !self.agent_running(name).await? {
            return Err(failed(format!("sprite {name} runs no agent (stopped): start the session first")));
        }
        let paste = format!(
            "tmux load-buffer -b clauderon-send - && tmux paste-buffer -p -d -b clauderon-send -t {TMUX_SESSION}"
        );
        let out = self.sh(name, &paste, Some(text.as_bytes())).await?;
        if out.code != 0 {
            return Err(failed(format!("typing into the agent: {}", out.stderr_text())));
        }
        tokio::time::sleep(clauderon_backend::SUBMIT_DELAY).await;
        let out = self.sh(name, &format!("tmux send-keys -t {TMUX_SESSION} Enter"), None).await?;
        if out.code != 0 {
            return Err(failed(format!("pressing Enter in the agent: {}", out.stderr_text())));
        }
        Ok(())
    }

    async fn logs(&self, handle: &BackendHandle, tail: usize) -> Result<String, BackendError> {
        let name = handle.as_str();
        if !self.sprite_exists(name).await? {
            return Err(BackendError::NotFound { backend: KIND, handle: name.to_string() });
        }
        let out = self.sh(name, &layout::logs_script(tail), None).await?;
        Ok(out.stdout_text())
    }

    async fn list(&self) -> Result<Vec<BackendResource>, BackendError> {
        let sprites = self.api()?.list_sprites(&self.prefix).await.map_err(|e| api_error(e, "*"))?;
        Ok(sprites
            .iter()
            .filter_map(|s| {
                let name = s["name"].as_str()?.to_string();
                let state = s["status"].as_str().unwrap_or("unknown").to_string();
                Some(BackendResource {
                    session_id: self.session_of(&name),
                    handle: BackendHandle(name),
                    // The sprite's own state (cold, warm, running); whether the agent runs is
                    // `status`'s to say.
                    status: if state == "running" { BackendStatus::Running } else { BackendStatus::Stopped },
                    detail: format!("sprite {state}"),
                })
            })
            .collect())
    }
}
