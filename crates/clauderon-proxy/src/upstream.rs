//! The proxy's client to the real servers: rustls with the usual web roots
//! plus configured extra CAs, HTTP/1.1 and HTTP/2 by ALPN, pooled
//! connections, and per-host address overrides (a regional gateway, or a
//! test server on 127.0.0.1) that keep the real host name for SNI and
//! certificate checks.

use crate::ProxyError;
use crate::lenient_eof::LenientConnector;
use crate::wall::WallConnector;
use http_body_util::combinators::BoxBody;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Any error a body can end with: hyper's, or a decoder's when the proxy reads a compressed body.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type ProxyBody = BoxBody<bytes::Bytes, BoxError>;
pub type UpstreamClient = Client<hyper_rustls::HttpsConnector<HttpConnector<OverrideResolver>>, ProxyBody>;

pub use crate::resolver::OverrideResolver;
use crate::wall::UPSTREAM_CONNECT_TIMEOUT;

/// How long a pooled upstream connection may stay idle.
pub const UPSTREAM_POOL_IDLE: Duration = Duration::from_secs(90);

/// The upstream side's settings.
#[derive(Debug, Clone, Default)]
pub struct UpstreamSettings {
    /// PEM files of extra CAs to trust (corporate gateways, test servers).
    pub extra_ca_files: Vec<PathBuf>,
    /// `host -> address` to connect to instead of what DNS says.
    pub overrides: HashMap<String, SocketAddr>,
}

pub fn root_store(extra_ca_files: &[PathBuf]) -> Result<rustls::RootCertStore, ProxyError> {
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    for file in extra_ca_files {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(file)
            .map_err(|e| ProxyError::Config(format!("extra CA file {}: {e}", file.display())))?
            .collect::<Result<_, _>>()
            .map_err(|e| ProxyError::Config(format!("extra CA file {}: {e}", file.display())))?;
        if certs.is_empty() {
            return Err(ProxyError::Config(format!("extra CA file {} holds no certificate", file.display())));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| ProxyError::Config(format!("extra CA file {}: {e}", file.display())))?;
        }
    }
    Ok(roots)
}

/// The upstream side's TLS setup: the web roots and the extra CAs.
pub fn tls_config(settings: &UpstreamSettings) -> Result<rustls::ClientConfig, ProxyError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ProxyError::Config(format!("TLS setup: {e}")))?
        .with_root_certificates(root_store(&settings.extra_ca_files)?)
        .with_no_client_auth())
}

/// Build a pooled upstream client. It never follows redirects (hyper's client does not).
/// `http2: false` gives an HTTP/1.1-only client, for upgrades (WebSocket) which need HTTP/1.1.
pub fn client(
    settings: &UpstreamSettings,
    http2: bool,
) -> Result<(UpstreamClient, OverrideResolver), ProxyError> {
    let resolver = OverrideResolver::new(settings.overrides.clone());
    Ok((pooled(tls_config(settings)?, resolver.clone(), http2), resolver))
}

/// [`client`] from a TLS setup and resolver already made (one reading of the CA files serves
/// several clients).
pub fn pooled(tls: rustls::ClientConfig, resolver: OverrideResolver, http2: bool) -> UpstreamClient {
    let mut http = HttpConnector::new_with_resolver(resolver);
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(UPSTREAM_CONNECT_TIMEOUT));
    let builder =
        hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http().enable_http1();
    let https =
        if http2 { builder.enable_http2().wrap_connector(http) } else { builder.wrap_connector(http) };
    pool(https)
}

/// The pooled client sessions' requests go through: every connection it opens is dialled by
/// the address wall ([`WallConnector`]), and a TLS end without close_notify reads as the end
/// of the stream ([`crate::lenient_eof::LenientEof`]).
pub(crate) type SessionClient =
    Client<LenientConnector<hyper_rustls::HttpsConnector<WallConnector>>, ProxyBody>;

/// [`pooled`], with its connections dialled through the address wall and lenient at their
/// end ([`crate::lenient_eof`]).
pub(crate) fn walled(tls: rustls::ClientConfig, connector: WallConnector, http2: bool) -> SessionClient {
    let builder =
        hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http().enable_http1();
    let https = if http2 {
        builder.enable_http2().wrap_connector(connector)
    } else {
        builder.wrap_connector(connector)
    };
    pool(LenientConnector(https))
}

fn pool<C: Connect + Clone + Send + Sync + 'static>(connector: C) -> Client<C, ProxyBody> {
    Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(UPSTREAM_POOL_IDLE)
        .pool_max_idle_per_host(256)
        .build(connector)
}
