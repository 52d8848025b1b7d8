//! The proxy listener: HTTP/1.1 forward proxy (absolute-form) and CONNECT.
//!
//! CONNECT to a host that needs a credential (or path-level policy) is
//! intercepted: the proxy answers the TLS handshake with a leaf certificate
//! from its CA and serves HTTP/1.1 or HTTP/2 inside, forwarding each request
//! upstream with the credential injected, unless the injector routes it to a
//! local endpoint, which answers it without contacting upstream (a session's
//! own OAuth token refresh). Other hosts are tunnelled as opaque bytes. Bodies
//! stream both ways; nothing is buffered whole (local endpoints read at most
//! [`MAX_LOCAL_BODY`] bytes).

use crate::ProxyError;
use crate::audit::{AuditRecord, AuditSink, Counters, CountingBody, Decision, Direction, PendingRecord};
use crate::body_tap::MeterBody;
use crate::ca::CertificateAuthority;
use crate::dialer::Dialer;
use crate::identity::{IdentityRegistry, SessionIdentity};
use crate::inject::Injector;
use crate::local::{LocalEndpoint, MAX_LOCAL_BODY};
use crate::meter::{UsageMeter, UsageSink};
use crate::policy::{MAX_POLICY_BODY, PolicyDecision, PolicyRequest, Refusal, RequestPolicy};
use crate::scrub::{KnownSecrets, ScrubBody, restrict_accept_encoding};
use crate::status_host::{ReportLimiter, StatusSink, is_internal};
use crate::upstream::{OverrideResolver, ProxyBody, SessionClient, UpstreamSettings};
use crate::wall::{AddressWall, WallConnector};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, UnixListener};

pub(crate) use crate::audit::record_for;
pub(crate) use crate::reply::{empty, refused, text};

mod connect;
mod headers;
mod intercepted;
mod plain;
mod refusals;
mod stop;

use headers::strip_hop_by_hop;
use stop::Stop;

/// Named timeouts. Long-lived streams (SSE, WebSocket, tunnels) have none.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);
/// Copy buffer of opaque tunnels, each way (tokio's default of 8 KiB halves bulk throughput).
const TUNNEL_BUFFER: usize = 64 * 1024;
/// Largest request head accepted from a session.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// How long a refused request's body is read before the refusal goes out regardless.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the body of a request the proxy answers itself may take to arrive.
pub const LOCAL_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything the proxy is made of.
pub(crate) struct ProxyParts {
    pub identities: Arc<IdentityRegistry>,
    /// clauderon's CA: leaf certificates for intercepted hosts.
    pub ca: CertificateAuthority,
    pub upstream: UpstreamSettings,
    pub injector: Arc<dyn Injector>,
    pub policy: Arc<dyn RequestPolicy>,
    pub audit: Arc<dyn AuditSink>,
    /// The real secrets to scrub from responses; `None` turns scrubbing off.
    pub secrets: Option<Arc<KnownSecrets>>,
    /// Where token usage read from model API responses goes; `None` turns metering off.
    pub usage: Option<Arc<dyn UsageSink>>,
    /// Where agents' status reports to [`crate::status_host::INTERNAL_HOST`] go; `None` refuses them.
    pub status: Option<Arc<dyn StatusSink>>,
    /// The daemon's own TCP listeners (its API, the proxy's addresses), as bound: the address
    /// wall never lets a session connect to them, whatever the rules say.
    pub own_listeners: Vec<SocketAddr>,
}

/// A cheap, cloneable handle on the running proxy's shared state.
#[derive(Clone)]
pub struct Proxy {
    shared: Arc<Shared>,
}

struct Shared {
    identities: Arc<IdentityRegistry>,
    ca: CertificateAuthority,
    acceptor: tokio_rustls::TlsAcceptor,
    /// HTTP/2 where the upstream offers it, for sessions that speak HTTP/2.
    client: SessionClient,
    /// HTTP/1.1 only: for sessions that speak HTTP/1.1, and upgrades (WebSocket), which
    /// cannot ride an HTTP/2 connection.
    client_h1: SessionClient,
    resolver: OverrideResolver,
    /// Every upstream connection is dialled through it (`crate::wall`).
    wall: Arc<AddressWall>,
    /// Per-session token buckets for requests to the proxy's own host.
    reports: ReportLimiter,
    /// Opens each intercepted HTTP/1.1 connection's own upstream connection.
    dialer: Arc<Dialer>,
    injector: Arc<dyn Injector>,
    policy: Arc<dyn RequestPolicy>,
    audit: Arc<dyn AuditSink>,
    secrets: Option<Arc<KnownSecrets>>,
    usage: Option<Arc<dyn UsageSink>>,
    status: Option<Arc<dyn StatusSink>>,
}

/// The request a response answers, as the response path needs it.
struct Exchange<'a> {
    session: &'a SessionIdentity,
    method: &'a Method,
    host: &'a str,
    path: &'a str,
}

/// Who and where, for a request inside an intercepted connection.
#[derive(Clone)]
struct Target {
    session: SessionIdentity,
    host: String,
    port: u16,
}

/// `host:port` of a CONNECT or absolute URI; port defaults by scheme.
fn host_port(uri: &Uri, default_port: u16) -> Option<(String, u16)> {
    let host = uri.host()?.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    Some((host, uri.port_u16().unwrap_or(default_port)))
}

/// A host as it goes in a URL or a Host header: IPv6 literals in brackets.
fn bracketed(host: &str) -> String {
    if host.contains(':') { format!("[{host}]") } else { host.to_string() }
}

fn authority(host: &str, port: u16) -> String {
    format!("{}:{port}", bracketed(host))
}

/// A one-line reason for an upstream failure, naming certificate problems plainly.
fn upstream_failure(host: &str, err: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        chain.push(e.to_string());
        cur = e.source();
    }
    let all = chain.join(": ");
    if all.contains("certificate") || all.contains("UnknownIssuer") || all.contains("NotValidForName") {
        format!(
            "the certificate of {host} is not trusted ({all}); add its CA to the proxy's extra CA files if it is yours"
        )
    } else {
        format!("could not reach {host}: {all}")
    }
}

impl Proxy {
    pub(crate) fn new(parts: ProxyParts) -> Result<Self, ProxyError> {
        let tls = crate::upstream::tls_config(&parts.upstream)?;
        let resolver = OverrideResolver::new(parts.upstream.overrides.clone());
        let wall = Arc::new(AddressWall::new(resolver.clone(), parts.own_listeners, parts.policy.clone()));
        let client = crate::upstream::walled(tls.clone(), WallConnector::new(wall.clone()), true);
        let client_h1 = crate::upstream::walled(tls.clone(), WallConnector::new(wall.clone()), false);
        Ok(Proxy {
            shared: Arc::new(Shared {
                identities: parts.identities,
                acceptor: tokio_rustls::TlsAcceptor::from(parts.ca.server_config()),
                ca: parts.ca,
                client,
                client_h1,
                dialer: Arc::new(Dialer::new(tls, wall.clone())),
                resolver,
                wall,
                reports: ReportLimiter::default(),
                injector: parts.injector,
                policy: parts.policy,
                secrets: parts.secrets,
                usage: parts.usage,
                status: parts.status,
                audit: parts.audit,
            }),
        })
    }

    /// Serve until `shutdown` resolves. Open tunnels and streams end with the process.
    pub(crate) async fn serve(self, listener: TcpListener, shutdown: impl std::future::Future<Output = ()>) {
        let accept = || async {
            let (stream, _peer) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            Ok(stream)
        };
        self.accept_loop(accept, shutdown).await
    }

    /// The same proxy on a Unix socket: how sandboxes without a network reach it. Identity
    /// works as on TCP (the socket's 0600 mode is a second fence, not the only one).
    pub(crate) async fn serve_unix(
        self,
        listener: UnixListener,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        let accept = || async { listener.accept().await.map(|(stream, _peer)| stream) };
        self.accept_loop(accept, shutdown).await
    }

    async fn accept_loop<S, F, Fut>(self, mut accept: F, shutdown: impl std::future::Future<Output = ()>)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = std::io::Result<S>>,
    {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = accept() => match accepted {
                    Ok(stream) => {
                        let proxy = self.clone();
                        tokio::spawn(async move { proxy.serve_connection(stream).await });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "proxy accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                _ = &mut shutdown => break,
            }
        }
    }

    pub(crate) async fn serve_connection<S>(self, stream: S)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let service = service_fn(move |req| {
            let proxy = self.clone();
            async move { Ok::<_, Infallible>(proxy.front(req).await) }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .max_buf_size(MAX_HEADER_BYTES.max(8192));
        if let Err(e) = builder.serve_connection(TokioIo::new(stream), service).with_upgrades().await {
            tracing::debug!(error = %e, "proxy client connection ended with an error");
        }
    }

    /// A request on the proxy's own listener: authenticate, then CONNECT or forward.
    async fn front(&self, req: Request<Incoming>) -> Response<ProxyBody> {
        let auth = req.headers().get(header::PROXY_AUTHORIZATION).and_then(|v| v.to_str().ok());
        let Some(session) = self.shared.identities.authenticate(auth) else {
            return refusals::identity_required();
        };
        if req.method() == Method::CONNECT {
            return self.connect(req, session).await;
        }
        // The proxy's own host (agents' status reports): answered here, never forwarded.
        if req.uri().host().is_some_and(is_internal) {
            return self.answer_internal(req, &session).await;
        }
        if req.uri().scheme().is_some() {
            return self.forward_plain(req, session).await;
        }
        text(
            StatusCode::BAD_REQUEST,
            "this is clauderon's credential proxy: send requests through it (HTTPS_PROXY), not to it",
        )
    }

    /// A request to the proxy's own host, over plain HTTP or inside an intercepted CONNECT.
    async fn answer_internal(
        &self,
        req: Request<Incoming>,
        session: &SessionIdentity,
    ) -> Response<ProxyBody> {
        let sink = self.shared.status.as_deref();
        crate::status_host::answer(sink, &self.shared.reports, self.shared.audit.as_ref(), session, req).await
    }

    fn audit_now(&self, session: &SessionIdentity, method: &str, host: &str, path: &str, decision: Decision) {
        self.shared.audit.record(record_for(session, method, host, path, decision));
    }

    /// A session's request headers as they go upstream: this hop's headers dropped, and, when
    /// the proxy reads responses (scrubbing, metering), only encodings it can decode accepted.
    fn request_headers_upstream(&self, headers: &mut HeaderMap, keep_upgrade: bool) {
        strip_hop_by_hop(headers, keep_upgrade);
        if self.shared.secrets.is_some() || self.shared.usage.is_some() {
            restrict_accept_encoding(headers);
        }
        if self.shared.secrets.is_some() {
            // No compressed WebSocket frames: the upgraded stream must stay readable to scrub.
            headers.remove(header::SEC_WEBSOCKET_EXTENSIONS);
        }
    }

    /// An upstream response on its way to the session: counted and audited when it ends, and
    /// scrubbed of any secret the proxy holds (decoded first when compressed, so nothing hides).
    fn to_session(
        &self,
        mut parts: http::response::Parts,
        body: Incoming,
        counters: Arc<Counters>,
        pending: PendingRecord,
        request: &Exchange<'_>,
    ) -> Response<ProxyBody> {
        let scrubber = self.shared.secrets.as_ref().and_then(|s| s.scrubber());
        let meter = match (&self.shared.usage, crate::meter::provider_for(request.host, request.path)) {
            (Some(sink), Some(provider)) if parts.status.is_success() => {
                let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
                let meter =
                    UsageMeter::new(provider, content_type, crate::meter::model_from_path(request.path));
                Some((meter, sink.clone()))
            }
            _ => None,
        };
        let bodiless = request.method == Method::HEAD
            || parts.status == StatusCode::NO_CONTENT
            || parts.status == StatusCode::NOT_MODIFIED;
        let reads_body = !bodiless && (scrubber.is_some() || meter.is_some());
        // Read before the hop-by-hop headers go: Transfer-Encoding is one of them.
        let codings = if reads_body { crate::scrub::content_codings(&parts.headers) } else { Ok(Vec::new()) };
        strip_hop_by_hop(&mut parts.headers, false);
        if let Some(s) = &scrubber {
            s.scrub_headers(&mut parts.headers);
        }
        let codings = match codings {
            Ok(codings) => codings,
            // A body the proxy cannot decode could carry a secret it cannot see: refused.
            Err(what) if scrubber.is_some() => {
                let reason = format!(
                    "the response is in {what}, which the proxy cannot decode to scrub secrets from it"
                );
                pending.fail(502, reason.clone());
                return text(
                    StatusCode::BAD_GATEWAY,
                    format!(
                        "clauderon proxy: {reason}; ask for one it reads (Accept-Encoding: {})",
                        crate::scrub::DECODABLE.join(", ")
                    ),
                );
            }
            Err(what) => {
                tracing::warn!(what = %what, "a response in an encoding the proxy cannot read passes unmetered");
                let body =
                    CountingBody::new(body.map_err(Into::into), counters, Direction::Down, Some(pending));
                return Response::from_parts(parts, body.boxed());
            }
        };
        let mut body =
            CountingBody::new(body.map_err(Into::into), counters, Direction::Down, Some(pending)).boxed();
        if !reads_body {
            return Response::from_parts(parts, body);
        }
        // Both need to read the body: see through its compression first.
        if !codings.is_empty() {
            body = crate::scrub::decode_all(body, &codings);
            parts.headers.remove(header::CONTENT_ENCODING);
            parts.headers.remove(header::CONTENT_LENGTH);
        }
        if let Some((meter, sink)) = meter {
            body = MeterBody::new(body, meter, request.session.clone(), sink).boxed();
        }
        if let Some(s) = scrubber {
            // Replacements keep the length: Content-Length stays true.
            body = ScrubBody::new(body, s).boxed();
        }
        Response::from_parts(parts, body)
    }

    /// Ask policy about a request; a refusal comes back as a [`Stop`]. When policy needs the
    /// body to decide (a GraphQL document) it is read here, bounded, and the body to send on is
    /// those bytes.
    async fn apply_policy(&self, check: &PolicyRequest<'_>, body: Incoming) -> Result<ProxyBody, Stop> {
        match self.shared.policy.check(check) {
            PolicyDecision::Allow => Ok(body.map_err(Into::into).boxed()),
            PolicyDecision::Deny(r) => {
                // Read what the client already sent (bounded) before answering: an HTTP/2
                // client whose body is cut off by a reset sees a framing error, not our answer.
                let drain = http_body_util::Limited::new(body, MAX_POLICY_BODY).collect();
                let _ = tokio::time::timeout(DRAIN_TIMEOUT, drain).await;
                Err(Stop::refused(&r))
            }
            PolicyDecision::NeedsBody => {
                let read = tokio::time::timeout(
                    LOCAL_BODY_TIMEOUT,
                    http_body_util::Limited::new(body, MAX_POLICY_BODY).collect(),
                );
                let bytes = match read.await {
                    Ok(Ok(collected)) => collected.to_bytes(),
                    _ => {
                        return Err(Stop::refused(&Refusal {
                            status: 413,
                            message: format!(
                                "clauderon: this request's body must be checked by policy, and it could not be read \
                                 within {}s or is over {MAX_POLICY_BODY} bytes",
                                LOCAL_BODY_TIMEOUT.as_secs()
                            ),
                            reason: "policy: the body to check could not be read".into(),
                        }));
                    }
                };
                match self.shared.policy.check_body(check, &bytes) {
                    PolicyDecision::Deny(r) => Err(Stop::refused(&r)),
                    _ => Ok(Full::new(bytes).map_err(|never| match never {}).boxed()),
                }
            }
        }
    }

    /// A request the injector says the proxy answers itself: read its (small) body, answer,
    /// audit. Nothing goes upstream.
    async fn answer_locally(
        &self,
        endpoint: &dyn LocalEndpoint,
        body: Incoming,
        mut record: AuditRecord,
        started: Instant,
    ) -> Response<ProxyBody> {
        let read = tokio::time::timeout(
            LOCAL_BODY_TIMEOUT,
            http_body_util::Limited::new(body, MAX_LOCAL_BODY).collect(),
        );
        let refused = match read.await {
            Ok(Ok(collected)) => {
                let body = collected.to_bytes();
                let answer = endpoint.answer(&body);
                record.status = Some(answer.status.as_u16());
                record.bytes_up = body.len() as u64;
                record.bytes_down = answer.body.len() as u64;
                record.duration_ms = started.elapsed().as_millis() as u64;
                record.decision = Decision::Answered { reason: answer.note };
                self.shared.audit.record(record);
                let mut resp = Response::new(Full::new(answer.body).map_err(|never| match never {}).boxed());
                *resp.status_mut() = answer.status;
                let headers = resp.headers_mut();
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(answer.content_type));
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                headers.insert(HeaderName::from_static("x-clauderon-proxy"), HeaderValue::from_static("1"));
                return resp;
            }
            Ok(Err(_)) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "clauderon proxy: the request body could not be read, or is over {MAX_LOCAL_BODY} bytes"
                ),
            ),
            Err(_) => (
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "clauderon proxy: the request body did not arrive within {}s",
                    LOCAL_BODY_TIMEOUT.as_secs()
                ),
            ),
        };
        record.status = Some(refused.0.as_u16());
        record.duration_ms = started.elapsed().as_millis() as u64;
        record.decision = Decision::Failed { reason: refused.1.clone() };
        self.shared.audit.record(record);
        text(refused.0, refused.1)
    }
}
