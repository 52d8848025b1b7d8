//! Start a whole daemon: data dir, lock, store, manager, reconcile, the TCP
//! listener and the Unix socket; and stop it gracefully.

use crate::security::Guard;
use crate::state::AppState;
use clauderon_backend::SessionBackend;
use clauderon_core::{
    Config, CoreError, DaemonLock, ManagerParts, ProxyEndpoint, SessionAccess, SessionManager,
};
use clauderon_proxy::{ProxyBuilder, ProxyError, ProxyFiles, ProxySinks};
use clauderon_store::Store;
use clauderon_types::api::ReconcileReport;
use clauderon_types::{ApiToken, DataLayout};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{0}")]
    Config(String),
    /// Another daemon holds the data dir.
    #[error("{0}")]
    Locked(String),
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: String, reason: String },
    #[error("data dir {path}: {reason}")]
    DataDir { path: PathBuf, reason: String },
    #[error("{0}")]
    Core(CoreError),
}

impl From<CoreError> for DaemonError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Config(m) => DaemonError::Config(m),
            CoreError::Conflict(m) => DaemonError::Locked(m),
            other => DaemonError::Core(other),
        }
    }
}

pub struct LaunchOptions {
    pub layout: DataLayout,
    pub config: Config,
    pub backends: Vec<Arc<dyn SessionBackend>>,
    /// The environment credentials are read from; `None` is the daemon's own.
    /// Tests pass a map so they never touch the process environment.
    pub credential_env: Option<HashMap<String, String>>,
    /// More addresses for the proxy, each on the main proxy port: where sessions that cannot
    /// reach loopback find it (a container bridge's gateway, say).
    pub extra_proxy_ips: Vec<IpAddr>,
}

impl LaunchOptions {
    /// No backends, the process's own credentials, the proxy on its configured address only.
    pub fn new(layout: DataLayout, config: Config) -> Self {
        LaunchOptions {
            layout,
            config,
            backends: Vec::new(),
            credential_env: None,
            extra_proxy_ips: Vec::new(),
        }
    }
}

/// A running daemon. Dropping it does not stop it: call [`RunningDaemon::stop`].
pub struct RunningDaemon {
    pub http_addr: SocketAddr,
    /// The token every request on `http_addr` must carry (its `Debug` shows `***`).
    pub api_token: ApiToken,
    pub proxy_addr: SocketAddr,
    /// clauderon's CA certificate, which sessions trust.
    pub ca_cert: PathBuf,
    pub socket: PathBuf,
    /// The proxy on a Unix socket (`<data>/proxy.sock`), for sandboxes without a network.
    pub proxy_socket: PathBuf,
    /// Every TCP address the proxy listens on, the main one first.
    pub proxy_addrs: Vec<SocketAddr>,
    pub reconcile: ReconcileReport,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<Result<(), DaemonError>>,
}

impl RunningDaemon {
    /// Ask for a graceful shutdown: listeners close, in-flight requests finish.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Wait until the daemon has stopped, its store closed and its lock released.
    pub async fn wait(self) -> Result<(), DaemonError> {
        self.task.await.map_err(|e| DaemonError::Core(CoreError::Internal(format!("daemon task: {e}"))))?
    }

    pub async fn stop(self) -> Result<(), DaemonError> {
        self.shutdown();
        self.wait().await
    }
}

fn private_dir(path: &Path) -> Result<(), DaemonError> {
    let err = |reason: String| DaemonError::DataDir { path: path.to_path_buf(), reason };
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(path).map_err(|e| err(e.to_string()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(|e| err(e.to_string()))
}

fn bind_error(addr: impl ToString, e: std::io::Error) -> DaemonError {
    in_use_or(addr, e, "--bind")
}

/// A listener that could not be made; an address in use gets the `flag` that picks another.
fn in_use_or(addr: impl ToString, e: std::io::Error, flag: &str) -> DaemonError {
    let reason = if e.kind() == std::io::ErrorKind::AddrInUse {
        format!(
            "the address is in use (another clauderon daemon with another data dir, or another program): \
             pick another with `clauderon daemon {flag} 127.0.0.1:PORT`"
        )
    } else {
        e.to_string()
    };
    DaemonError::Bind { addr: addr.to_string(), reason }
}

/// The proxy's setup errors as the daemon reports them.
impl From<ProxyError> for DaemonError {
    fn from(e: ProxyError) -> Self {
        match e {
            ProxyError::Bind { addr, source } => in_use_or(addr, source, "--proxy-bind"),
            ProxyError::Files { path, reason } => DaemonError::DataDir { path, reason },
            ProxyError::Config(m) => DaemonError::Config(m),
        }
    }
}

pub async fn launch(opts: LaunchOptions) -> Result<RunningDaemon, DaemonError> {
    opts.config.validate_for_daemon()?;
    let layout = opts.layout;
    for dir in [layout.root(), &layout.secrets(), &layout.worktrees(), &layout.root().join("ca")] {
        private_dir(dir)?;
    }
    let lock = DaemonLock::acquire(&layout.lock_file())?;
    // Every TCP request needs it, loopback included (see `security`); never logged.
    let api_token = match &opts.config.daemon.api_token {
        Some(token) => token.clone(),
        None => clauderon_core::api_token::load_or_create(&layout.api_token())?,
    };
    let store = open_store(&layout).await?;
    let files = ProxyFiles {
        ca_dir: layout.root().join("ca"),
        secrets_dir: layout.secrets(),
        socket: layout.proxy_socket(),
    };
    let proxy = ProxyBuilder::new(opts.config.proxy.clone(), opts.config.policy.clone(), files)
        .credential_env(opts.credential_env)
        .extra_ips(opts.extra_proxy_ips)
        .bind()
        .await?;
    let (proxy_addrs, ca_cert) = (proxy.addrs().to_vec(), proxy.ca_cert().to_path_buf());
    let manager = SessionManager::new(ManagerParts {
        store: store.clone(),
        backends: opts.backends,
        layout: layout.clone(),
        defaults: opts.config.sessions.clone(),
        access: SessionAccess::new(proxy.identities(), proxy.policies()),
        proxy: ProxyEndpoint {
            port: proxy_addrs[0].port(),
            ca_cert: ca_cert.clone(),
            credentials: Some(proxy.credentials()),
        },
    });
    manager.restore_access().await?;
    let reconcile = manager.reconcile().await?;
    let api = ApiListeners::bind(opts.config.daemon.bind, layout.socket()).await?;

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    // Sessions follow their resources as backends report changes (Docker's events).
    let mut tasks = manager.follow_backends(shutdown_rx.clone());
    let store_for_hooks = store.clone();
    let store_for_push = store.clone();
    let sinks = start_sinks(store, &opts.config, &manager, &shutdown_rx, &mut tasks);
    tasks.push(follow_pull_requests(manager.clone(), shutdown_rx.clone()));
    let (hooks, hook_tasks) = crate::hooks::HookRunner::start(
        opts.config.hooks.clone(),
        manager.bus().subscribe(),
        store_for_hooks,
        Some(proxy.credentials()),
        &opts.config.proxy.extra_ca_files,
        opts.config.proxy.upstream_overrides.clone(),
        shutdown_rx.clone(),
    )
    .map_err(|e| DaemonError::Config(format!("hooks: {e}")))?;
    tasks.extend(hook_tasks);
    let push = start_web_push(&layout, &opts.config, store_for_push, &manager, &shutdown_rx, &mut tasks);
    let state =
        AppState::new(manager.clone(), shutdown_rx.clone(), proxy.credentials(), Arc::from(proxy.ca_pem()))
            .with_hooks(hooks)
            .with_push(push);
    // The address wall keeps sessions off the API as bound (tests bind port 0).
    let proxy = proxy.start(sinks, [api.http_addr], shutdown_rx.clone())?;
    let (http_addr, socket) = (api.http_addr, api.socket.clone());
    tracing::info!(%http_addr, proxy_addr = %proxy_addrs[0], socket = %socket.display(), data_dir = %layout.root().display(), "clauderon daemon listening");
    let guard = Guard::tcp(api_token.clone(), http_addr);
    let task = tokio::spawn(async move {
        api.serve(state, guard, shutdown_rx).await;
        proxy.stopped().await;
        for task in tasks {
            let _ = task.await;
        }
        let closed = manager.close().await;
        drop(lock);
        tracing::info!("clauderon daemon stopped");
        closed.map_err(DaemonError::from)
    });
    Ok(RunningDaemon {
        http_addr,
        api_token,
        proxy_addr: proxy_addrs[0],
        ca_cert,
        socket,
        proxy_socket: layout.proxy_socket(),
        proxy_addrs,
        reconcile,
        shutdown: shutdown_tx,
        task,
    })
}

async fn open_store(layout: &DataLayout) -> Result<Arc<Store>, DaemonError> {
    let db = layout.database();
    let store = tokio::task::spawn_blocking(move || Store::open(&db))
        .await
        .map_err(|e| DaemonError::Core(CoreError::Internal(format!("store task: {e}"))))?
        .map_err(|e| DaemonError::Core(CoreError::Internal(format!("opening the store: {e}"))))?;
    Ok(Arc::new(store))
}

/// Where the proxy's reports go: the audit and usage writers (into the store), spending charged
/// to sessions, agents' status reports (into the manager). Their tasks join `tasks`.
fn start_sinks(
    store: Arc<Store>,
    config: &Config,
    manager: &SessionManager,
    shutdown: &watch::Receiver<bool>,
    tasks: &mut Vec<JoinHandle<()>>,
) -> ProxySinks {
    let (audit, audit_task) = crate::audit_writer::start(store.clone(), shutdown.clone());
    let (usage, usage_task) = crate::usage_writer::start(store, config.prices.clone(), shutdown.clone());
    let (charging, charge_task) =
        crate::usage_writer::Charging::start(usage, manager.clone(), shutdown.clone());
    let (status, status_task) =
        crate::status_reports::StatusReports::start(manager.clone(), shutdown.clone());
    tasks.extend([audit_task, usage_task, charge_task, status_task]);
    ProxySinks { audit, usage: Some(charging), status: Some(status) }
}

/// The API's two doors: TCP (with the token) and the Unix socket (0600).
struct ApiListeners {
    tcp: TcpListener,
    http_addr: SocketAddr,
    unix: UnixListener,
    socket: PathBuf,
}

impl ApiListeners {
    async fn bind(addr: SocketAddr, socket: PathBuf) -> Result<Self, DaemonError> {
        let tcp = TcpListener::bind(addr).await.map_err(|e| bind_error(addr, e))?;
        let http_addr = tcp.local_addr().map_err(|e| bind_error(addr, e))?;
        // We hold the lock, so a socket file left here is from a daemon that died.
        let _ = std::fs::remove_file(&socket);
        let unix = UnixListener::bind(&socket).map_err(|e| bind_error(socket.display(), e))?;
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| bind_error(socket.display(), e))?;
        Ok(ApiListeners { tcp, http_addr, unix, socket })
    }

    /// Serve both until `shutdown` turns true and in-flight requests are done; the socket file
    /// is then removed.
    async fn serve(self, state: AppState, guard: Guard, shutdown: watch::Receiver<bool>) {
        let signal = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let tcp_app = crate::router(state.clone(), guard);
        let unix_app = crate::router(state, Guard::Socket);
        let tcp = axum::serve(self.tcp, tcp_app).with_graceful_shutdown(signal(shutdown.clone()));
        let unix = axum::serve(self.unix, unix_app).with_graceful_shutdown(signal(shutdown));
        let (a, b) = tokio::join!(tcp.into_future(), unix.into_future());
        if let Err(e) = a.and(b) {
            tracing::error!(error = %e, "server error");
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// How often open pull requests are read again from GitHub.
const PR_REFRESH: std::time::Duration = std::time::Duration::from_secs(300);

/// Reads every open pull request again every [`PR_REFRESH`] (the first time one period after
/// start), until shutdown.
fn follow_pull_requests(
    manager: SessionManager,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + PR_REFRESH, PR_REFRESH);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = timer.tick() => {}
                _ = shutdown.changed() => return,
            }
            match manager.refresh_open_prs().await {
                Ok((0, 0)) => {}
                Ok((refreshed, failed)) => tracing::debug!(refreshed, failed, "pull requests read again"),
                Err(e) => tracing::warn!(error = %e, "reading pull requests again failed"),
            }
        }
    })
}

/// Web Push, when its key can be made or read: a daemon without it still runs, and says why.
fn start_web_push(
    layout: &DataLayout,
    config: &clauderon_core::Config,
    store: Arc<clauderon_store::Store>,
    manager: &SessionManager,
    shutdown: &watch::Receiver<bool>,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Option<Arc<crate::webpush::WebPush>> {
    let key = match crate::webpush::VapidKey::load_or_create(&layout.root().join("webpush-vapid.key")) {
        Ok(key) => key,
        Err(why) => {
            tracing::warn!("web push is off: {why}");
            return None;
        }
    };
    let http = match crate::hooks::https_client(
        &config.proxy.extra_ca_files,
        config.proxy.upstream_overrides.clone(),
    ) {
        Ok(http) => http,
        Err(why) => {
            tracing::warn!("web push is off: its HTTPS client: {why}");
            return None;
        }
    };
    let push = crate::webpush::WebPush::new(key, store, http);
    tasks.extend(push.start(manager.bus().subscribe(), shutdown.clone()));
    Some(push)
}
