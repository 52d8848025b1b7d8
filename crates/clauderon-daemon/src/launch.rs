//! Start a whole daemon: data dir, lock, store, manager, reconcile, the TCP
//! listener and the Unix socket; and stop it gracefully.

use crate::security::Guard;
use crate::state::AppState;
use clauderon_backend::SessionBackend;
use clauderon_core::{Config, CoreError, DaemonLock, ManagerParts, ProxyEndpoint, SessionManager};
use clauderon_proxy::ca::CertificateAuthority;
use clauderon_proxy::credentials::CredentialStore;
use clauderon_proxy::identity::IdentityRegistry;
use clauderon_proxy::inject::RuleInjector;
use clauderon_proxy::meter::UsageSink;
use clauderon_proxy::oauth::{HttpTokenEndpoint, TokenRefresher, agent_refresh_routes};
use clauderon_proxy::policy::{PolicyEngine, SessionPolicies};
use clauderon_proxy::rules::{RuleSet, builtin_rules};
use clauderon_proxy::scrub::KnownSecrets;
use clauderon_proxy::server::{Proxy, ProxyParts};
use clauderon_proxy::upstream::UpstreamSettings;
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
    let reason = if e.kind() == std::io::ErrorKind::AddrInUse {
        "the address is in use (another clauderon daemon with another data dir, or another program): \
         pick another with `clauderon daemon --bind 127.0.0.1:PORT`"
            .to_string()
    } else {
        e.to_string()
    };
    DaemonError::Bind { addr: addr.to_string(), reason }
}

pub async fn launch(opts: LaunchOptions) -> Result<RunningDaemon, DaemonError> {
    opts.config.validate_for_daemon()?;
    let layout = opts.layout;
    private_dir(layout.root())?;
    private_dir(&layout.secrets())?;
    private_dir(&layout.worktrees())?;
    let lock = DaemonLock::acquire(&layout.lock_file())?;
    // Every TCP request needs it, loopback included (see `security`); never logged.
    let api_token = match &opts.config.daemon.api_token {
        Some(token) => token.clone(),
        None => clauderon_core::api_token::load_or_create(&layout.api_token())?,
    };
    let ca_dir = layout.root().join("ca");
    private_dir(&ca_dir)?;
    let ca = CertificateAuthority::load_or_create(&ca_dir)
        .map_err(|e| DaemonError::DataDir { path: ca_dir.clone(), reason: e.to_string() })?;
    let ca_cert = ca_dir.join("ca.pem");

    let db = layout.database();
    let store = tokio::task::spawn_blocking(move || Store::open(&db))
        .await
        .map_err(|e| DaemonError::Core(CoreError::Internal(format!("store task: {e}"))))?
        .map_err(|e| DaemonError::Core(CoreError::Internal(format!("opening the store: {e}"))))?;

    let store = Arc::new(store);
    let proxy_listener = Proxy::bind(opts.config.proxy.bind)
        .await
        .map_err(|e| DaemonError::Bind { addr: opts.config.proxy.bind.to_string(), reason: e.to_string() })?;
    let proxy_addr = proxy_listener.local_addr().map_err(|e| bind_error(opts.config.proxy.bind, e))?;
    let mut extra_proxy_listeners = Vec::new();
    for ip in &opts.extra_proxy_ips {
        let addr = SocketAddr::new(*ip, proxy_addr.port());
        if addr == proxy_addr {
            continue;
        }
        extra_proxy_listeners.push(Proxy::bind(addr).await.map_err(|e| DaemonError::Bind {
            addr: addr.to_string(),
            reason: format!("{e} (an extra proxy address a backend asked for)"),
        })?);
    }
    let mut proxy_addrs = vec![proxy_addr];
    for l in &extra_proxy_listeners {
        proxy_addrs.push(l.local_addr().map_err(|e| bind_error(proxy_addr, e))?);
    }
    let proxy_socket = layout.proxy_socket();
    // We hold the lock, so a socket file left here is from a daemon that died.
    let _ = std::fs::remove_file(&proxy_socket);
    let proxy_unix = UnixListener::bind(&proxy_socket).map_err(|e| bind_error(proxy_socket.display(), e))?;
    std::fs::set_permissions(&proxy_socket, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| bind_error(proxy_socket.display(), e))?;
    let upstream = UpstreamSettings {
        extra_ca_files: opts.config.proxy.extra_ca_files.clone(),
        overrides: opts.config.proxy.upstream_overrides.clone(),
    };
    // Claude subscription logins are refreshed through the same upstream settings as the proxy.
    let token_endpoint = HttpTokenEndpoint::new(opts.config.proxy.anthropic_oauth.clone(), &upstream)
        .map_err(|e| DaemonError::Config(e.to_string()))?;
    let refresher = Arc::new(TokenRefresher::new(Arc::new(token_endpoint)));
    let credentials = match opts.credential_env {
        Some(map) => {
            CredentialStore::new(layout.secrets(), opts.config.proxy.credentials.clone(), move |k| {
                map.get(k).cloned()
            })
        }
        None => CredentialStore::from_process_env(layout.secrets(), opts.config.proxy.credentials.clone()),
    };
    let credentials = Arc::new(credentials.with_token_refresher(refresher.clone()));
    let claude_logins = credentials.claude_credentials_files();

    let identities = Arc::new(IdentityRegistry::new());
    let policies = Arc::new(SessionPolicies::new());
    let manager = SessionManager::new(ManagerParts {
        store: store.clone(),
        backends: opts.backends,
        layout: layout.clone(),
        defaults: opts.config.sessions.clone(),
        identities: identities.clone(),
        policies: policies.clone(),
        proxy: ProxyEndpoint {
            port: proxy_addr.port(),
            ca_cert: ca_cert.clone(),
            credentials: Some(credentials.clone()),
        },
    });
    manager.load_identities().await?;
    manager.load_spending().await?;
    let reconcile = manager.reconcile().await?;

    let tcp = TcpListener::bind(opts.config.daemon.bind)
        .await
        .map_err(|e| bind_error(opts.config.daemon.bind, e))?;
    let http_addr = tcp.local_addr().map_err(|e| bind_error(opts.config.daemon.bind, e))?;
    let socket = layout.socket();
    // We hold the lock, so a socket file left here is from a daemon that died.
    let _ = std::fs::remove_file(&socket);
    let unix = UnixListener::bind(&socket).map_err(|e| bind_error(socket.display(), e))?;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| bind_error(socket.display(), e))?;

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    // Sessions follow their resources as backends report changes (Docker's events).
    let followers = manager.follow_backends(shutdown_rx.clone());
    let (audit_sink, audit_task) = crate::audit_writer::start(store.clone(), shutdown_rx.clone());
    let (usage_writer, usage_task) =
        crate::usage_writer::start(store.clone(), opts.config.prices.clone(), shutdown_rx.clone());
    let (charging, charge_task) =
        crate::usage_writer::Charging::start(usage_writer, manager.clone(), shutdown_rx.clone());
    let usage_sink: Arc<dyn UsageSink> = charging;
    let (status_reports, status_task) =
        crate::status_reports::StatusReports::start(manager.clone(), shutdown_rx.clone());
    drop(store);
    let rules = RuleSet::new(builtin_rules(), opts.config.proxy.rules.clone());
    // Sessions' own token refreshes are answered by the proxy, never sent on.
    let secrets = opts.config.policy.scrub.then(|| Arc::new(KnownSecrets::new()));
    let mut injector = RuleInjector::new(rules, credentials.clone())
        .with_local_routes(agent_refresh_routes(&opts.config.proxy.anthropic_oauth));
    if let Some(known) = &secrets {
        injector = injector.with_known_secrets(known.clone());
    }
    let proxy = Proxy::new(ProxyParts {
        identities,
        ca: ca.clone(),
        upstream,
        injector: Arc::new(injector),
        policy: Arc::new(PolicyEngine::new(opts.config.policy.clone(), policies)),
        secrets,
        usage: Some(usage_sink),
        status: Some(status_reports),
        audit: audit_sink,
    })
    .map_err(|e| DaemonError::Config(e.to_string()))?;
    let state = AppState {
        manager: manager.clone(),
        shutdown: shutdown_rx.clone(),
        credentials,
        ca_pem: Arc::from(ca.ca_pem()),
    };
    let tcp_app = crate::router(state.clone(), Guard::tcp(api_token.clone(), http_addr));
    let unix_app = crate::router(state, Guard::Socket);

    let signal = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let mut proxy_tasks =
        vec![tokio::spawn(proxy.clone().serve_unix(proxy_unix, signal(shutdown_rx.clone())))];
    for listener in extra_proxy_listeners {
        proxy_tasks.push(tokio::spawn(proxy.clone().serve(listener, signal(shutdown_rx.clone()))));
    }
    proxy_tasks.push(tokio::spawn(proxy.serve(proxy_listener, signal(shutdown_rx.clone()))));
    let keepers: Vec<JoinHandle<()>> = claude_logins
        .into_iter()
        .map(|path| tokio::spawn(refresher.clone().keep_fresh(path, signal(shutdown_rx.clone()))))
        .collect();
    let tcp_server = axum::serve(tcp, tcp_app).with_graceful_shutdown(signal(shutdown_rx.clone()));
    let unix_server = axum::serve(unix, unix_app).with_graceful_shutdown(signal(shutdown_rx));
    let socket_path = socket.clone();
    let proxy_socket_path = proxy_socket.clone();
    tracing::info!(%http_addr, %proxy_addr, socket = %socket.display(), data_dir = %layout.root().display(), "clauderon daemon listening");

    let task = tokio::spawn(async move {
        let (a, b) = tokio::join!(tcp_server.into_future(), unix_server.into_future());
        if let Err(e) = a.and(b) {
            tracing::error!(error = %e, "server error");
        }
        let _ = std::fs::remove_file(&socket_path);
        for task in proxy_tasks {
            let _ = task.await;
        }
        let _ = std::fs::remove_file(&proxy_socket_path);
        for keeper in keepers {
            let _ = keeper.await;
        }
        for follower in followers {
            let _ = follower.await;
        }
        let _ = audit_task.await;
        let _ = usage_task.await;
        let _ = charge_task.await;
        let _ = status_task.await;
        let closed = manager.close().await;
        drop(lock);
        tracing::info!("clauderon daemon stopped");
        closed.map_err(DaemonError::from)
    });

    Ok(RunningDaemon {
        http_addr,
        api_token,
        proxy_addr,
        ca_cert,
        socket,
        proxy_socket,
        proxy_addrs,
        reconcile,
        shutdown: shutdown_tx,
        task,
    })
}
