//! One request inside an intercepted connection, in steps: who and what
//! ([`Proxy::forward_intercepted`]), policy, the wall, headers and the credential
//! ([`Proxy::prepare`]), the upstream hop in whatever version the upstream speaks
//! ([`Proxy::send_upstream`]), then the response: streamed back through the scrubber and meter
//! (`to_session`), or, for a `101`, the upgraded stream spliced ([`Proxy::splice_upgrade`]).
//! Every early end is a [`Stop`], audited in one place.

use super::headers::{is_upgrade, join_cookies, strip_hop_by_hop};
use super::stop::Stop;
use super::{Exchange, Proxy, Target, authority, bracketed, empty, record_for, refusals, upstream_failure};
use crate::audit::{AuditRecord, Counters, CountingBody, Decision, Direction, PendingRecord, redact_path};
use crate::dialer::{ConnUpstream, Unsent};
use crate::identity::SessionIdentity;
use crate::lenient_eof::UncleanClose;
use crate::policy::PolicyRequest;
use crate::status_host::is_internal;
use crate::upstream::{BoxError, ProxyBody};
use crate::wall::walled_in;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::Instant;

/// A request ready to go upstream: its head rewritten, its body passed by policy.
struct Prepared {
    parts: http::request::Parts,
    body: ProxyBody,
}

impl Proxy {
    /// One request inside an intercepted connection.
    pub(super) async fn forward_intercepted(
        &self,
        mut req: Request<Incoming>,
        t: Target,
        own: &ConnUpstream,
    ) -> Response<ProxyBody> {
        // The connection was authenticated at its CONNECT; the session may have been deleted
        // since (issue 11, item 8): every request asks the registry again.
        if !self.shared.identities.is_current(&t.session) {
            return refusals::identity_revoked();
        }
        if is_internal(&t.host) {
            return self.answer_internal(req, &t.session).await;
        }
        let started = Instant::now();
        let path = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
        let method = req.method().clone();
        let mut record =
            record_for(&t.session, method.as_str(), &t.host, &redact_path(&path), Decision::Forwarded);
        // Answered in the proxy, nothing reaches upstream: no policy to apply.
        if let Some(endpoint) = self.shared.injector.local_endpoint(&t.host, &method, req.uri().path()) {
            return self.answer_locally(endpoint.as_ref(), req.into_body(), record, started).await;
        }
        let client_upgrade = is_upgrade(&req).then(|| hyper::upgrade::on(&mut req));
        let upgrade = client_upgrade.is_some();

        let prepared = match self.prepare(req, &t, &path, upgrade, &mut record).await {
            Ok(prepared) => prepared,
            Err(stop) => return self.stop(record, started, stop),
        };
        let counters = Arc::new(Counters::default());
        let body = CountingBody::new(prepared.body, counters.clone(), Direction::Up, None).boxed();
        let resp = match self.send_upstream(prepared.parts, body, upgrade, own, &path).await {
            Ok(resp) => resp,
            Err(e) => return self.stop(record, started, self.upstream_stop(&t, e.as_ref())),
        };
        record.status = Some(resp.status().as_u16());
        if let (Some(client), StatusCode::SWITCHING_PROTOCOLS) = (client_upgrade, resp.status()) {
            return self.splice_upgrade(resp, client, record, started, &t.session);
        }
        let unclean = resp.extensions().get::<UncleanClose>().cloned();
        let (parts, body) = resp.into_parts();
        let mut pending = PendingRecord::new(record, self.shared.audit.clone(), counters.clone(), started);
        pending.watch_close(unclean);
        let exchange = Exchange { session: &t.session, method: &method, host: &t.host, path: &path };
        self.to_session(parts, body, counters, pending, &exchange)
    }

    /// Policy (reading the body when it must), the address wall, the headers for the upstream
    /// hop, the credential, and the URI and `Host` of the real host.
    async fn prepare(
        &self,
        req: Request<Incoming>,
        t: &Target,
        path: &str,
        upgrade: bool,
        record: &mut AuditRecord,
    ) -> Result<Prepared, Stop> {
        let (mut parts, body) = req.into_parts();
        let check = PolicyRequest::http(&t.session, parts.method.as_str(), &t.host, path, &parts, &body);
        let body = self.apply_policy(&check, body).await?;
        self.shared
            .wall
            .check_literal(&t.host, t.port, &t.session)
            .map_err(|w| Stop::walled(t.session.name.as_str(), &w))?;
        self.request_headers_upstream(&mut parts.headers, upgrade);
        match self.shared.injector.inject(&t.host, &mut parts.headers).await {
            Ok(Some(credential)) => {
                record.credential = Some(credential);
                record.decision = Decision::Injected;
            }
            Ok(None) => {}
            Err(e) => return Err(Stop::failed(StatusCode::SERVICE_UNAVAILABLE, e.0)),
        }
        // Connect where the overrides say, but keep the real name for SNI and Host.
        let port = self.shared.resolver.lookup(&t.host).map_or(t.port, |addr| addr.port());
        parts.uri = format!("https://{}{path}", authority(&t.host, port))
            .parse::<Uri>()
            .map_err(|_| Stop::failed(StatusCode::BAD_REQUEST, "the request path is not valid".into()))?;
        let host_header = if t.port == 443 { bracketed(&t.host) } else { authority(&t.host, t.port) };
        if let Ok(v) = HeaderValue::from_str(&host_header) {
            parts.headers.insert(header::HOST, v);
        }
        Ok(Prepared { parts, body })
    }

    /// The upstream hop. HTTP/2 from the session, and upgrades, go on pooled connections;
    /// HTTP/1.1 on the session connection's own upstream connection (cheaper per request),
    /// unless that upstream speaks HTTP/2 only.
    async fn send_upstream(
        &self,
        mut parts: http::request::Parts,
        body: ProxyBody,
        upgrade: bool,
        own: &ConnUpstream,
        path: &str,
    ) -> Result<Response<Incoming>, BoxError> {
        if upgrade || parts.version == http::Version::HTTP_2 {
            join_cookies(&mut parts.headers);
            return self.send_pooled(Request::from_parts(parts, body), upgrade).await;
        }
        let absolute = parts.uri.clone();
        if let Ok(origin_form) = path.parse::<Uri>() {
            parts.uri = origin_form;
        }
        parts.version = http::Version::HTTP_11;
        match own.request(Request::from_parts(parts, body)).await {
            Ok(resp) => Ok(resp),
            Err(Unsent::Failed(e)) => Err(e),
            Err(Unsent::Http2Only(req)) => {
                let mut req = *req;
                *req.uri_mut() = absolute;
                self.send_pooled(req, false).await
            }
        }
    }

    /// Send a request on a pooled connection: HTTP/2 or HTTP/1.1, as the upstream chooses in
    /// ALPN (the request's own version only says what the session spoke); HTTP/1.1 for an
    /// upgrade. `req` has an absolute URI.
    async fn send_pooled(
        &self,
        mut req: Request<ProxyBody>,
        upgrade: bool,
    ) -> Result<Response<Incoming>, BoxError> {
        // hyper's client refuses an HTTP/2 request on an HTTP/1.1 connection; HTTP/1.1 goes
        // on either.
        *req.version_mut() = http::Version::HTTP_11;
        let client = if upgrade { &self.shared.client_h1 } else { &self.shared.client };
        client.request(req).await.map_err(|e| -> BoxError { Box::new(e) })
    }

    /// The upstream could not be reached or answered nothing usable.
    fn upstream_stop(&self, t: &Target, e: &(dyn std::error::Error + 'static)) -> Stop {
        if let Some(w) = walled_in(e) {
            return Stop::walled(t.session.name.as_str(), w);
        }
        let reason = upstream_failure(&t.host, e);
        tracing::warn!(host = %t.host, "{reason}");
        Stop::failed(StatusCode::BAD_GATEWAY, reason)
    }

    /// A `101`: the session's and the server's upgraded streams spliced in a task of their own
    /// (scrubbed server to session), audited when the stream ends, which it does with the
    /// session. The 101's headers are scrubbed too; a compressed stream could not be, so an
    /// extension the upstream turned on is refused.
    fn splice_upgrade(
        &self,
        mut resp: Response<Incoming>,
        client: hyper::upgrade::OnUpgrade,
        mut record: AuditRecord,
        started: Instant,
        session: &SessionIdentity,
    ) -> Response<ProxyBody> {
        let scrubber = self.shared.secrets.as_ref().and_then(|s| s.scrubber());
        if let Some(s) = &scrubber {
            s.scrub_headers(resp.headers_mut());
            if resp.headers().contains_key(header::SEC_WEBSOCKET_EXTENSIONS) {
                let reason =
                    "the upstream turned on WebSocket compression, which would hide secrets from scrubbing";
                return self.stop(record, started, Stop::failed(StatusCode::BAD_GATEWAY, reason.into()));
            }
        }
        let websocket = resp
            .headers()
            .get(header::UPGRADE)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
        let upstream = hyper::upgrade::on(&mut resp);
        let sink = self.shared.audit.clone();
        let identities = self.shared.identities.clone();
        let session = session.clone();
        tokio::spawn(async move {
            let (up, down) = match tokio::join!(client, upstream) {
                (Ok(c), Ok(u)) => {
                    let (c, u) = (TokioIo::new(c), TokioIo::new(u));
                    // A WebSocket outlives requests: it ends with its session.
                    tokio::select! {
                        copied = crate::scrub::relay_upgraded(c, u, scrubber, websocket) => copied,
                        () = identities.until_revoked(&session) => (0, 0),
                    }
                }
                _ => (0, 0),
            };
            record.bytes_up = up;
            record.bytes_down = down;
            record.duration_ms = started.elapsed().as_millis() as u64;
            sink.record(record);
        });
        let (mut parts, _) = resp.into_parts();
        strip_hop_by_hop(&mut parts.headers, true);
        Response::from_parts(parts, empty())
    }
}
