//! Plain-HTTP forwarding (absolute-form requests on the proxy's listener): policy, the address
//! wall, no credential ever (credentials only travel over TLS to their own host).

use super::stop::Stop;
use super::{Exchange, Proxy, authority, host_port, record_for, text, upstream_failure};
use crate::audit::{Counters, CountingBody, Decision, Direction, PendingRecord, redact_path};
use crate::identity::SessionIdentity;
use crate::policy::PolicyRequest;
use crate::upstream::ProxyBody;
use crate::wall::walled_in;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::sync::Arc;
use std::time::Instant;

impl Proxy {
    /// A plain-HTTP absolute-form request: forwarded without any credential
    /// (credentials only ever travel over TLS to their own host).
    pub(super) async fn forward_plain(
        &self,
        req: Request<Incoming>,
        session: SessionIdentity,
    ) -> Response<ProxyBody> {
        let started = Instant::now();
        let Some((host, port)) = host_port(req.uri(), 80) else {
            return text(StatusCode::BAD_REQUEST, "clauderon proxy: the request URL has no host");
        };
        let path = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
        let mut record =
            record_for(&session, req.method().as_str(), &host, &redact_path(&path), Decision::Forwarded);
        let (mut parts, body) = req.into_parts();
        let method = parts.method.clone();
        let check = PolicyRequest::http(&session, method.as_str(), &host, &path, &parts, &body);
        let body = match self.apply_policy(&check, body).await {
            Ok(body) => body,
            Err(stop) => return self.stop(record, started, stop),
        };
        if let Err(w) = self.shared.wall.check_literal(&host, port, &session) {
            return self.stop(record, started, Stop::walled(session.name.as_str(), &w));
        }
        self.request_headers_upstream(&mut parts.headers, false);
        let port = self.shared.resolver.lookup(&host).map(|a| a.port()).unwrap_or(port);
        parts.uri = match format!("http://{}{path}", authority(&host, port)).parse() {
            Ok(u) => u,
            Err(_) => {
                let stop = Stop::failed(StatusCode::BAD_REQUEST, "the request URL is not valid".into());
                return self.stop(record, started, stop);
            }
        };
        let counters = Arc::new(Counters::default());
        let body = CountingBody::new(body, counters.clone(), Direction::Up, None).boxed();
        match self.shared.client.request(Request::from_parts(parts, body)).await {
            Ok(resp) => {
                record.status = Some(resp.status().as_u16());
                let (parts, body) = resp.into_parts();
                let pending =
                    PendingRecord::new(record, self.shared.audit.clone(), counters.clone(), started);
                let exchange = Exchange { session: &session, method: &method, host: &host, path: &path };
                self.to_session(parts, body, counters, pending, &exchange)
            }
            Err(e) => {
                let stop = match walled_in(&e) {
                    Some(w) => Stop::walled(session.name.as_str(), w),
                    None => Stop::failed(StatusCode::BAD_GATEWAY, upstream_failure(&host, &e)),
                };
                self.stop(record, started, stop)
            }
        }
    }
}
