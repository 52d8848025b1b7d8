//! The early end of a forwarded request: refused by policy or the address wall, or failed
//! (no credential, a bad path, the upstream out of reach). Every step of a forward returns a
//! [`Stop`] instead of answering, and [`Proxy::stop`] is the one place that audits and answers
//! it. (A response that does come back is audited when its body ends, or, for an upgrade, when
//! the upgraded stream does.)

use super::refusals::wall_refusal;
use super::{Proxy, refused, text};
use crate::audit::{AuditRecord, Decision};
use crate::policy::Refusal;
use crate::upstream::ProxyBody;
use crate::wall::Walled;
use http::{Response, StatusCode};
use std::time::Instant;

pub(super) struct Stop {
    status: u16,
    decision: Decision,
    response: Response<ProxyBody>,
}

impl Stop {
    /// A policy refusal, as the session sees it.
    pub(super) fn refused(r: &Refusal) -> Stop {
        Stop {
            status: r.status,
            decision: Decision::Denied { reason: r.reason.clone() },
            response: refused(r),
        }
    }

    /// The address wall's refusal of a connection for `session_name`.
    pub(super) fn walled(session_name: &str, w: &Walled) -> Stop {
        let r = wall_refusal(session_name, w);
        tracing::info!(reason = %r.reason, "a session's connection was refused by the address wall");
        Stop::refused(&r)
    }

    /// The proxy could not carry the request: `reason` goes to the audit and, after
    /// "clauderon proxy: ", to the session.
    pub(super) fn failed(status: StatusCode, reason: String) -> Stop {
        let response = text(status, format!("clauderon proxy: {reason}"));
        Stop { status: status.as_u16(), decision: Decision::Failed { reason }, response }
    }
}

impl Proxy {
    /// Audit `record` as `stop` says, and answer with its response.
    pub(super) fn stop(&self, mut record: AuditRecord, started: Instant, stop: Stop) -> Response<ProxyBody> {
        record.status = Some(stop.status);
        record.decision = stop.decision;
        record.duration_ms = started.elapsed().as_millis() as u64;
        self.shared.audit.record(record);
        stop.response
    }
}
