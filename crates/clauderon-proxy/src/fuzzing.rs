//! The fuzz targets' one way in (`fuzz/`, its own workspace): everything they call in this
//! crate is re-exported or wrapped here, so the rest of the crate can stay `pub(crate)`.
//! Not an API: nothing else may use it, and it changes with the targets.

use crate::ProxyError;
use crate::audit::NoAudit;
use crate::ca::{CA_CERT_FILE, CertificateAuthority};
use crate::credentials::CredentialStore;
use crate::inject::RuleInjector;
use crate::meter::UsageSink;
use crate::oauth::{OAuthSettings, agent_refresh_routes};
use crate::policy::{PolicySettings, SessionPolicies, SessionPolicy};
use crate::rules::{HostPattern, RuleSet, builtin_rules};
use crate::server::{Proxy, ProxyParts};
use crate::status_host::{AgentStatus, StatusRefusal, StatusSink};
use crate::upstream::UpstreamSettings;
use async_trait::async_trait;
use bytes::Bytes;
use clauderon_types::usage::TokenUsage;
use clauderon_types::{AccessMode, SessionId, SessionName};
use http_body_util::BodyExt as _;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

pub use crate::identity::{IdentityRegistry, SessionIdentity};
pub use crate::policy::access::{Verdict, classify};
pub use crate::policy::graphql::{check_document, check_request_body, parses};
pub use crate::policy::{PolicyDecision, PolicyEngine, PolicyRequest, RequestPolicy};
pub use crate::scrub::{KnownSecrets, ScrubStream, Scrubber};

/// A session identity named `name` with a fresh id.
pub fn session(name: &str) -> Option<SessionIdentity> {
    Some(SessionIdentity::agent(SessionId::new(), SessionName::parse(name).ok()?))
}

/// The daemon's policy engine (default settings: the built-in allowlist and model hosts) with
/// one session in `mode`.
pub fn policy_engine(mode: AccessMode) -> Option<(PolicyEngine, SessionIdentity)> {
    let who = session("fuzz")?;
    let sessions = Arc::new(SessionPolicies::new());
    sessions.set(
        who.session_id,
        SessionPolicy { access_mode: mode, allow_hosts: Vec::new(), budget: Default::default() },
    );
    Some((PolicyEngine::new(PolicySettings::default(), sessions), who))
}

/// What came of decoding a response body as the proxy does before scrubbing it.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// `Content-Encoding`/`Transfer-Encoding` name something the proxy cannot decode.
    Refused(String),
    /// The decoded bytes (at most the limit asked for), and whether the body ended in an error.
    Body { bytes: Vec<u8>, failed: bool },
}

/// A response body `wire`, arriving in pieces of `piece` bytes, with these `Content-Encoding`
/// values: read through `content_codings` and `decode_all`, at most `limit` decoded bytes.
pub async fn decode_response(wire: &[u8], piece: usize, content_encoding: &[&str], limit: usize) -> Decoded {
    let mut headers = http::HeaderMap::new();
    for value in content_encoding {
        let Ok(value) = http::HeaderValue::from_str(value) else { continue };
        headers.append(http::header::CONTENT_ENCODING, value);
    }
    let codings = match crate::scrub::content_codings(&headers) {
        Ok(codings) => codings,
        Err(what) => return Decoded::Refused(what),
    };
    let pieces: Vec<Result<http_body::Frame<Bytes>, crate::upstream::BoxError>> =
        wire.chunks(piece.max(1)).map(|c| Ok(http_body::Frame::data(Bytes::copy_from_slice(c)))).collect();
    let body = http_body_util::StreamBody::new(futures_util::stream::iter(pieces)).boxed();
    let mut body = crate::scrub::decode_all(body, &codings);
    let mut bytes = Vec::new();
    while bytes.len() < limit {
        match body.frame().await {
            None => return Decoded::Body { bytes, failed: false },
            Some(Err(_)) => return Decoded::Body { bytes, failed: true },
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    bytes.extend_from_slice(&data);
                }
            }
        }
    }
    bytes.truncate(limit);
    Decoded::Body { bytes, failed: false }
}

/// Hosts the front bench lets a session reach, every one overridden to the bench's upstream
/// (no DNS is ever asked). `api.anthropic.com` gets the injected key; the last two are where
/// agents refresh their OAuth token, which the proxy answers itself.
pub const FRONT_HOSTS: [&str; 4] =
    ["upstream.test", "api.anthropic.com", "platform.claude.com", "console.anthropic.com"];
/// The bench's one session and its proxy secret.
pub const FRONT_USER: &str = "fuzz";
pub const FRONT_SECRET: &str = "front-secret-for-fuzzing";
/// The Anthropic key the proxy injects on `api.anthropic.com`: an upstream echoing it must
/// never get it to the session.
pub const FRONT_INJECTED: &str = "sk-ant-FRONT0123456789xyz";

/// A whole proxy as the daemon wires it, minus the daemon: one session, the daemon's policy
/// engine with [`FRONT_HOSTS`] as the only allowed hosts, the built-in injection rules with an
/// Anthropic key, the agents' token refresh answered locally, scrubbing on, metering and status
/// reports taken and dropped. The upstream is the caller's, with a certificate from the
/// proxy's own CA (which the proxy trusts as an extra CA).
pub struct FrontBench {
    proxy: Proxy,
    ca: CertificateAuthority,
    policies: Arc<SessionPolicies>,
    session: SessionIdentity,
}

struct DropUsage;

impl UsageSink for DropUsage {
    fn record(&self, _: &SessionIdentity, _: TokenUsage) {}
}

struct TakeStatus;

#[async_trait]
impl StatusSink for TakeStatus {
    async fn report(&self, _: &SessionIdentity, _: AgentStatus) -> Result<(), StatusRefusal> {
        Ok(())
    }
}

fn config_error(what: impl std::fmt::Display) -> ProxyError {
    ProxyError::Config(format!("fuzz bench: {what}"))
}

impl FrontBench {
    /// The CA is loaded from (or made in) `dir`; `upstream` is where every allowed host goes.
    pub fn new(dir: &Path, upstream: SocketAddr) -> Result<FrontBench, ProxyError> {
        let ca = CertificateAuthority::load_or_create(dir).map_err(config_error)?;
        let session = session(FRONT_USER).ok_or_else(|| config_error("the session name"))?;
        let identities = Arc::new(IdentityRegistry::new());
        identities.insert(session.clone(), FRONT_SECRET.to_string());
        let policies = Arc::new(SessionPolicies::new());
        let settings = PolicySettings {
            allow_hosts: HostPattern::parse_list(&FRONT_HOSTS).map_err(config_error)?,
            ..PolicySettings::default()
        };
        let secrets = Arc::new(KnownSecrets::new());
        let credentials = CredentialStore::new(dir.join("no-secrets"), Vec::new(), |var| {
            (var == "ANTHROPIC_API_KEY").then(|| FRONT_INJECTED.to_string())
        });
        let injector = RuleInjector::new(RuleSet::new(builtin_rules(), Vec::new()), Arc::new(credentials))
            .with_local_routes(agent_refresh_routes(&OAuthSettings::default()))
            .with_known_secrets(secrets.clone());
        let overrides: HashMap<String, SocketAddr> =
            FRONT_HOSTS.iter().map(|h| (h.to_string(), upstream)).collect();
        let proxy = Proxy::new(ProxyParts {
            identities,
            ca: ca.clone(),
            upstream: UpstreamSettings { extra_ca_files: vec![dir.join(CA_CERT_FILE)], overrides },
            injector: Arc::new(injector),
            policy: Arc::new(PolicyEngine::new(settings, policies.clone())),
            audit: Arc::new(NoAudit),
            secrets: Some(secrets),
            usage: Some(Arc::new(DropUsage)),
            status: Some(Arc::new(TakeStatus)),
            own_listeners: Vec::new(),
        })?;
        let bench = FrontBench { proxy, ca, policies, session };
        bench.set_access(AccessMode::ReadOnly);
        Ok(bench)
    }

    /// The session's access mode, for the requests that follow.
    pub fn set_access(&self, mode: AccessMode) {
        let policy = SessionPolicy { access_mode: mode, allow_hosts: Vec::new(), budget: Default::default() };
        self.policies.set(self.session.session_id, policy);
    }

    /// Serve one connection from the session, as the proxy's listeners do.
    pub async fn serve<S>(&self, stream: S)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        self.proxy.clone().serve_connection(stream).await
    }

    /// The session's side of TLS to `host` inside a CONNECT: trusting the proxy's CA, offering
    /// HTTP/2 or HTTP/1.1 only.
    pub async fn session_tls<S>(
        &self,
        stream: S,
        host: &str,
        h2: bool,
    ) -> std::io::Result<impl AsyncReadWrite>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let mut roots = rustls::RootCertStore::empty();
        let der =
            CertificateDer::from_pem_slice(self.ca.ca_pem().as_bytes()).map_err(std::io::Error::other)?;
        roots.add(der).map_err(std::io::Error::other)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(std::io::Error::other)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![if h2 { b"h2".to_vec() } else { b"http/1.1".to_vec() }];
        let name = ServerName::try_from(host.to_string()).map_err(std::io::Error::other)?;
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, stream).await
    }

    /// The upstream's side of TLS: a leaf from the proxy's CA for the name the proxy asks for.
    pub async fn upstream_tls<S>(&self, stream: S) -> std::io::Result<impl AsyncReadWrite>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        tokio_rustls::TlsAcceptor::from(self.ca.server_config()).accept(stream).await
    }
}

/// A byte stream both ways (what the TLS helpers return).
pub trait AsyncReadWrite: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static {}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static> AsyncReadWrite for T {}
