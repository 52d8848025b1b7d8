//! CONNECT: the session's tunnel to `host:port`, either intercepted (TLS terminated with a
//! leaf from clauderon's CA, HTTP served inside, each request through
//! `Proxy::forward_intercepted`) or passed through as opaque bytes, audited by host, bytes
//! and duration.

use super::{
    HEADER_READ_TIMEOUT, Proxy, TLS_HANDSHAKE_TIMEOUT, TUNNEL_BUFFER, Target, empty, host_port, record_for,
    refusals, refused, text,
};
use crate::audit::Decision;
use crate::dialer::ConnUpstream;
use crate::identity::SessionIdentity;
use crate::peek::{First, Prefixed, TLS_HANDSHAKE};
use crate::policy::{PolicyDecision, PolicyRequest};
use crate::status_host::is_internal;
use crate::upstream::ProxyBody;
use crate::wall::{Allowance, DialError};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Instant;

/// Whether a CONNECT's TLS is terminated by the proxy.
#[derive(Debug, Clone, Copy)]
enum Intercept {
    /// A rule host: a credential may go on its requests.
    Always,
    /// Policy wants to see the requests (a read-only session): if the session speaks TLS.
    IfTls,
    Never,
}

impl Proxy {
    pub(super) async fn connect(
        &self,
        req: Request<Incoming>,
        session: SessionIdentity,
    ) -> Response<ProxyBody> {
        let (Some((host, port)), Some(_)) = (host_port(req.uri(), 443), req.uri().port_u16()) else {
            return text(
                StatusCode::BAD_REQUEST,
                "clauderon proxy: CONNECT needs host:port, e.g. api.anthropic.com:443",
            );
        };
        let internal = is_internal(&host);
        let check = PolicyRequest::connect(&session, &host);
        if let (false, PolicyDecision::Deny(r)) = (internal, self.shared.policy.check(&check)) {
            self.audit_now(&session, "CONNECT", &host, "", Decision::Denied { reason: r.reason.clone() });
            return refused(&r);
        }
        // The address wall before the tunnel opens: a session asking for the host itself or a
        // private network gets a refused CONNECT, not a tunnel that closes. The addresses
        // judged here are the ones a tunnel connects to (no second lookup to rebind); an
        // intercepted connection's requests are dialled, and judged, again.
        let mut resolved = None;
        if !internal {
            match self.shared.wall.resolve(&host, port, Allowance::Session(&session)).await {
                Ok(addrs) => resolved = Some(addrs),
                Err(DialError::Walled(w)) => {
                    let r = refusals::wall_refusal(session.name.as_str(), &w);
                    self.audit_now(
                        &session,
                        "CONNECT",
                        &host,
                        "",
                        Decision::Denied { reason: r.reason.clone() },
                    );
                    return refused(&r);
                }
                // Not resolvable now: the tunnel or the first request says so.
                Err(_) => {}
            }
        }
        let intercept = if internal || self.shared.injector.intercepts(&host) {
            Intercept::Always
        } else if self.shared.policy.intercepts(&session, &host) {
            Intercept::IfTls
        } else {
            Intercept::Never
        };
        let proxy = self.clone();
        tokio::spawn(async move {
            let upgraded = match hyper::upgrade::on(req).await {
                Ok(u) => u,
                Err(e) => {
                    tracing::debug!(error = %e, "CONNECT upgrade failed");
                    return;
                }
            };
            let target = Target { session, host, port };
            let mut io = TokioIo::new(upgraded);
            match intercept {
                Intercept::Always => proxy.intercept(Prefixed::new(Vec::new(), io), target).await,
                Intercept::Never => proxy.tunnel(Prefixed::new(Vec::new(), io), target, resolved).await,
                // Policy wants to see requests, which it can in TLS only: another protocol is
                // tunnelled as it is (egress was checked already).
                Intercept::IfTls => match crate::peek::first_byte(&mut io).await {
                    First::Closed => {}
                    First::Byte(TLS_HANDSHAKE) => {
                        proxy.intercept(Prefixed::new(vec![TLS_HANDSHAKE], io), target).await
                    }
                    other => proxy.tunnel(Prefixed::new(other.prefix(), io), target, resolved).await,
                },
            }
        });
        Response::new(empty())
    }

    /// Opaque bytes both ways, audited by host, bytes and duration; to the addresses the wall
    /// judged at CONNECT (`resolved`), else dialled through it now. It ends with its session.
    async fn tunnel(
        &self,
        mut client: Prefixed<TokioIo<hyper::upgrade::Upgraded>>,
        t: Target,
        resolved: Option<Vec<SocketAddr>>,
    ) {
        let started = Instant::now();
        let target = format!("{}:{}", t.host, t.port);
        let connected = match resolved {
            Some(addrs) => crate::wall::connect_any(&addrs, &target).await,
            None => self.shared.wall.dial(&t.host, t.port, Allowance::Session(&t.session)).await,
        };
        let (decision, up, down) = match connected {
            Ok(mut upstream) => {
                let copy = tokio::io::copy_bidirectional_with_sizes(
                    &mut client,
                    &mut upstream,
                    TUNNEL_BUFFER,
                    TUNNEL_BUFFER,
                );
                tokio::select! {
                    copied = copy => match copied {
                        Ok((up, down)) => (Decision::Tunneled, up, down),
                        Err(e) => (Decision::Failed { reason: format!("tunnel ended: {e}") }, 0, 0),
                    },
                    () = self.shared.identities.until_revoked(&t.session) => {
                        (Decision::Failed { reason: "tunnel closed: its session was deleted".into() }, 0, 0)
                    }
                }
            }
            Err(DialError::Walled(w)) => (
                Decision::Denied { reason: refusals::wall_refusal(t.session.name.as_str(), &w).reason },
                0,
                0,
            ),
            Err(e) => (Decision::Failed { reason: e.to_string() }, 0, 0),
        };
        let mut record = record_for(&t.session, "CONNECT", &t.host, "", decision);
        record.bytes_up = up;
        record.bytes_down = down;
        record.duration_ms = started.elapsed().as_millis() as u64;
        self.shared.audit.record(record);
    }

    /// Terminate TLS with a leaf for the host and serve HTTP/1.1 or HTTP/2 inside.
    async fn intercept(&self, io: Prefixed<TokioIo<hyper::upgrade::Upgraded>>, t: Target) {
        // Clients send no SNI for an IP address: then the leaf is for the CONNECT target.
        let acceptor = if t.host.parse::<std::net::IpAddr>().is_ok() {
            match self.shared.ca.server_config_for_host(&t.host) {
                Ok(config) => tokio_rustls::TlsAcceptor::from(config),
                Err(e) => {
                    tracing::warn!(host = %t.host, error = %e, "no certificate for this address");
                    return;
                }
            }
        } else {
            self.shared.acceptor.clone()
        };
        let tls = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(io)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                tracing::debug!(host = %t.host, error = %e, "TLS handshake with the session failed (does it trust clauderon's CA?)");
                return;
            }
            Err(_) => {
                tracing::debug!(host = %t.host, "TLS handshake with the session timed out");
                return;
            }
        };
        let port = self.shared.resolver.lookup(&t.host).map_or(t.port, |a| a.port());
        let (own, drivers) = ConnUpstream::new(self.shared.dialer.clone(), &t.host, port, t.session.clone());
        let session = t.session.clone();
        let proxy = self.clone();
        let service = service_fn(move |req| {
            let proxy = proxy.clone();
            let t = t.clone();
            let own = own.clone();
            async move { Ok::<_, Infallible>(proxy.forward_intercepted(req, t, &own).await) }
        });
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
        builder.http2().timer(TokioTimer::new());
        let mut drivers = drivers;
        let serve = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
        let served = tokio::select! {
            served = serve => served,
            () = drivers.run() => Ok(()),
            // Each request checks the identity too; this also ends idle keep-alive connections
            // and long HTTP/2 streams of a deleted session.
            () = self.shared.identities.until_revoked(&session) => Ok(()),
        };
        if let Err(e) = served {
            tracing::debug!(error = %e, "intercepted connection ended with an error");
        }
    }
}
