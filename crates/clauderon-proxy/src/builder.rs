//! The proxy's front door: [`ProxyBuilder`] turns settings into a bound proxy, and a
//! [`BoundProxy`] into a running one once the daemon's sinks exist.
//!
//! Two steps because the daemon needs some of the proxy before it serves: the session manager
//! holds the identity registry, the per-session policies, the credential store and the proxy's
//! port and CA, while the sinks the proxy reports to (audit, usage, status) are built on that
//! manager.
//!
//! ```text
//! ProxyBuilder::new(settings, policy).bind()  ->  BoundProxy  (listeners, CA, credentials)
//! BoundProxy::start(sinks, walled, shutdown)  ->  RunningProxy (serving; stopped() waits)
//! ```

use crate::ProxyError;
use crate::audit::AuditSink;
use crate::ca::CertificateAuthority;
use crate::credentials::{CredentialSource, CredentialStore};
use crate::identity::IdentityRegistry;
use crate::inject::RuleInjector;
use crate::meter::UsageSink;
use crate::oauth::{HttpTokenEndpoint, OAuthSettings, TokenRefresher, agent_refresh_routes};
use crate::policy::{PolicyEngine, PolicySettings, SessionPolicies};
use crate::rules::{InjectionRule, RuleSet, builtin_rules};
use crate::scrub::KnownSecrets;
use crate::server::{Proxy, ProxyParts};
use crate::status_host::StatusSink;
use crate::upstream::UpstreamSettings;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The credential proxy's settings (`[proxy]` and `[credentials]`), validated.
#[derive(Debug, Clone)]
pub struct ProxySettings {
    pub bind: SocketAddr,
    pub extra_ca_files: Vec<PathBuf>,
    pub upstream_overrides: HashMap<String, SocketAddr>,
    pub rules: Vec<InjectionRule>,
    /// Credential sources configured by name (`[credentials]`).
    pub credentials: Vec<(String, CredentialSource)>,
    /// Where Claude subscription logins are refreshed (`[proxy.anthropic_oauth]`).
    pub anthropic_oauth: OAuthSettings,
}

/// Where the proxy keeps its files, all inside the daemon's private data dir.
#[derive(Debug, Clone)]
pub struct ProxyFiles {
    /// The CA's certificate and key (made on first start).
    pub ca_dir: PathBuf,
    /// Credential files kept by clauderon.
    pub secrets_dir: PathBuf,
    /// The proxy's Unix socket, for sandboxes without a network (made 0600).
    pub socket: PathBuf,
}

/// How a proxy is made: settings in, [`BoundProxy`] out.
pub struct ProxyBuilder {
    settings: ProxySettings,
    policy: PolicySettings,
    files: ProxyFiles,
    credential_env: Option<HashMap<String, String>>,
    extra_ips: Vec<IpAddr>,
}

impl ProxyBuilder {
    pub fn new(settings: ProxySettings, policy: PolicySettings, files: ProxyFiles) -> Self {
        ProxyBuilder { settings, policy, files, credential_env: None, extra_ips: Vec::new() }
    }

    /// Read credentials from `env` instead of the process environment (tests never touch it).
    pub fn credential_env(mut self, env: Option<HashMap<String, String>>) -> Self {
        self.credential_env = env;
        self
    }

    /// Listen on these addresses too, each on the main port: where sessions that cannot reach
    /// loopback find the proxy (a container bridge's gateway, say).
    pub fn extra_ips(mut self, ips: Vec<IpAddr>) -> Self {
        self.extra_ips = ips;
        self
    }

    /// Load (or make) the CA, bind every listener, set up the credential store. Nothing is
    /// served yet.
    pub async fn bind(self) -> Result<BoundProxy, ProxyError> {
        let ca = CertificateAuthority::load_or_create(&self.files.ca_dir)
            .map_err(|e| ProxyError::Files { path: self.files.ca_dir.clone(), reason: e.to_string() })?;
        let main = bind_tcp(self.settings.bind).await?;
        let main_addr = local_addr(&main, self.settings.bind)?;
        let mut listeners = vec![main];
        for ip in &self.extra_ips {
            let addr = SocketAddr::new(*ip, main_addr.port());
            if addr != main_addr {
                listeners.push(bind_tcp(addr).await?);
            }
        }
        let addrs = listeners.iter().map(|l| local_addr(l, main_addr)).collect::<Result<Vec<_>, _>>()?;
        let unix = bind_unix(&self.files.socket)?;

        let upstream = UpstreamSettings {
            extra_ca_files: self.settings.extra_ca_files.clone(),
            overrides: self.settings.upstream_overrides.clone(),
        };
        // Claude subscription logins are refreshed through the same upstream settings.
        let endpoint = HttpTokenEndpoint::new(self.settings.anthropic_oauth.clone(), &upstream)?;
        let refresher = Arc::new(TokenRefresher::new(Arc::new(endpoint)));
        let (dir, sources) = (self.files.secrets_dir.clone(), self.settings.credentials.clone());
        let credentials = match self.credential_env {
            Some(map) => CredentialStore::new(dir, sources, move |k| map.get(k).cloned()),
            None => CredentialStore::from_process_env(dir, sources),
        };
        let credentials = Arc::new(credentials.with_token_refresher(refresher.clone()));
        Ok(BoundProxy {
            settings: self.settings,
            policy: self.policy,
            ca,
            ca_cert: self.files.ca_dir.join(crate::ca::CA_CERT_FILE),
            listeners,
            addrs,
            unix,
            socket: self.files.socket,
            upstream,
            refresher,
            credentials,
            identities: Arc::new(IdentityRegistry::new()),
            policies: Arc::new(SessionPolicies::new()),
        })
    }
}

async fn bind_tcp(addr: SocketAddr) -> Result<TcpListener, ProxyError> {
    TcpListener::bind(addr).await.map_err(|source| ProxyError::Bind { addr: addr.to_string(), source })
}

fn local_addr(listener: &TcpListener, asked: SocketAddr) -> Result<SocketAddr, ProxyError> {
    listener.local_addr().map_err(|source| ProxyError::Bind { addr: asked.to_string(), source })
}

/// The socket file, 0600. The caller holds the data dir's lock, so a file left there is from a
/// daemon that died.
fn bind_unix(path: &Path) -> Result<UnixListener, ProxyError> {
    let err = |source| ProxyError::Bind { addr: path.display().to_string(), source };
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).map_err(err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    Ok(listener)
}

/// A proxy with its listeners bound and its shared parts made, not yet serving.
pub struct BoundProxy {
    settings: ProxySettings,
    policy: PolicySettings,
    ca: CertificateAuthority,
    ca_cert: PathBuf,
    listeners: Vec<TcpListener>,
    addrs: Vec<SocketAddr>,
    unix: UnixListener,
    socket: PathBuf,
    upstream: UpstreamSettings,
    refresher: Arc<TokenRefresher>,
    credentials: Arc<CredentialStore>,
    identities: Arc<IdentityRegistry>,
    policies: Arc<SessionPolicies>,
}

/// Where the running proxy reports what it saw.
pub struct ProxySinks {
    pub audit: Arc<dyn AuditSink>,
    /// Token usage read from model API responses; `None` turns metering off.
    pub usage: Option<Arc<dyn UsageSink>>,
    /// Agents' status reports; `None` refuses them.
    pub status: Option<Arc<dyn StatusSink>>,
}

impl BoundProxy {
    /// Every TCP address the proxy listens on, the main one first.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// clauderon's CA certificate (PEM file), which sessions trust.
    pub fn ca_cert(&self) -> &Path {
        &self.ca_cert
    }

    pub fn ca_pem(&self) -> &str {
        self.ca.ca_pem()
    }

    pub fn credentials(&self) -> Arc<CredentialStore> {
        self.credentials.clone()
    }

    /// Who may use the proxy: the session manager registers each session here.
    pub fn identities(&self) -> Arc<IdentityRegistry> {
        self.identities.clone()
    }

    /// Each session's access mode, budget and spending, kept by the session manager.
    pub fn policies(&self) -> Arc<SessionPolicies> {
        self.policies.clone()
    }

    /// Serve on every listener until `shutdown` turns true; keep Claude subscription logins
    /// fresh meanwhile. `walled` are the daemon's other listeners (its API): with the proxy's
    /// own, no session may connect to them, whatever the egress rules say.
    pub fn start(
        self,
        sinks: ProxySinks,
        walled: impl IntoIterator<Item = SocketAddr>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<RunningProxy, ProxyError> {
        let rules = RuleSet::new(builtin_rules(), self.settings.rules.clone());
        // Sessions' own token refreshes are answered by the proxy, never sent on.
        let secrets = self.policy.scrub.then(|| Arc::new(KnownSecrets::new()));
        let mut injector = RuleInjector::new(rules, self.credentials.clone())
            .with_local_routes(agent_refresh_routes(&self.settings.anthropic_oauth));
        if let Some(known) = &secrets {
            injector = injector.with_known_secrets(known.clone());
        }
        let proxy = Proxy::new(ProxyParts {
            identities: self.identities,
            ca: self.ca,
            upstream: self.upstream,
            injector: Arc::new(injector),
            policy: Arc::new(PolicyEngine::new(self.policy, self.policies)),
            secrets,
            usage: sinks.usage,
            status: sinks.status,
            audit: sinks.audit,
            own_listeners: self.addrs.iter().copied().chain(walled).collect(),
        })?;
        let signal = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let mut tasks = vec![tokio::spawn(proxy.clone().serve_unix(self.unix, signal(shutdown.clone())))];
        for listener in self.listeners {
            tasks.push(tokio::spawn(proxy.clone().serve(listener, signal(shutdown.clone()))));
        }
        for path in self.credentials.claude_credentials_files() {
            tasks.push(tokio::spawn(self.refresher.clone().keep_fresh(path, signal(shutdown.clone()))));
        }
        Ok(RunningProxy { tasks, socket: self.socket })
    }
}

/// A serving proxy. It stops when the shutdown signal given to [`BoundProxy::start`] turns true.
pub struct RunningProxy {
    tasks: Vec<JoinHandle<()>>,
    socket: PathBuf,
}

impl RunningProxy {
    /// Wait until every listener and keeper has stopped; the socket file is then removed.
    pub async fn stopped(self) {
        for task in self.tasks {
            let _ = task.await;
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}
