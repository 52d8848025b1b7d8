//! The audit trail: one record per request (or tunnel), never any secret.
//! Records are handed to an [`AuditSink`] that must not block: the daemon's
//! sink queues them and writes to SQLite off the request path.

use crate::body_tap::{Tap, TapBody};
use crate::identity::SessionIdentity;
use crate::lenient_eof::{UNCLEAN_CLOSE_NOTE, UncleanClose};
use bytes::Bytes;
use chrono::Utc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

pub use clauderon_types::audit::{AuditEntry as AuditRecord, Decision};

/// Where records go. Must return at once.
pub trait AuditSink: Send + Sync + 'static {
    fn record(&self, record: AuditRecord);
}

/// A sink that drops everything (tests of other parts, benchmarks of the bare path).
#[derive(Debug, Default)]
pub struct NoAudit;

impl AuditSink for NoAudit {
    fn record(&self, _: AuditRecord) {}
}

/// Query parameters whose values are replaced by `***` in the audit.
const SECRET_PARAMS: &[&str] = &[
    "key",
    "api_key",
    "apikey",
    "token",
    "access_token",
    "refresh_token",
    "secret",
    "password",
    "sig",
    "signature",
    "code",
];

/// The path and query of `uri`, with secret-looking query values redacted.
pub fn redact_path(path_and_query: &str) -> String {
    let Some((path, query)) = path_and_query.split_once('?') else {
        return path_and_query.to_string();
    };
    let redacted: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if SECRET_PARAMS.iter().any(|s| k.eq_ignore_ascii_case(s)) => format!("{k}=***"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{path}?{}", redacted.join("&"))
}

/// A fresh audit record for a session's request; counts and status are filled in as it goes.
pub(crate) fn record_for(
    session: &SessionIdentity,
    method: &str,
    host: &str,
    path: &str,
    decision: Decision,
) -> AuditRecord {
    AuditRecord {
        id: 0,
        at: Utc::now(),
        session_id: Some(session.session_id),
        session_name: Some(session.name.to_string()),
        method: method.to_string(),
        host: host.to_string(),
        path: path.to_string(),
        status: None,
        bytes_up: 0,
        bytes_down: 0,
        duration_ms: 0,
        credential: None,
        note: session
            .ship_host()
            .map(|_| "clauderon shipping the session's work on the user's command".to_string()),
        decision,
    }
}

/// Byte counters shared by a request's two bodies and its record.
#[derive(Debug, Default)]
pub struct Counters {
    pub up: AtomicU64,
    pub down: AtomicU64,
}

/// Sends the record when the exchange is over: when the response body ends
/// or is dropped (client gone), whichever comes first.
pub struct PendingRecord {
    record: Option<AuditRecord>,
    sink: Arc<dyn AuditSink>,
    counters: Arc<Counters>,
    started: Instant,
    /// The upstream connection's flag: raised, the record notes how the body ended.
    unclean: Option<UncleanClose>,
}

impl PendingRecord {
    pub fn new(
        record: AuditRecord,
        sink: Arc<dyn AuditSink>,
        counters: Arc<Counters>,
        started: Instant,
    ) -> Self {
        PendingRecord { record: Some(record), sink, counters, started, unclean: None }
    }

    /// Note on the record if the response's connection ends without TLS close_notify before
    /// the body does (the close is what ended a body without a length).
    pub(crate) fn watch_close(&mut self, unclean: Option<UncleanClose>) {
        self.unclean = unclean;
    }

    /// The exchange ends with the proxy's own refusal instead of the upstream's answer: the
    /// record says so (sent now, as the record is dropped).
    pub fn fail(mut self, status: u16, reason: String) {
        if let Some(r) = self.record.as_mut() {
            r.status = Some(status);
            r.decision = Decision::Failed { reason };
        }
    }

    fn finish(&mut self) {
        if let Some(mut r) = self.record.take() {
            r.bytes_up = self.counters.up.load(Ordering::Relaxed);
            r.bytes_down = self.counters.down.load(Ordering::Relaxed);
            r.duration_ms = self.started.elapsed().as_millis() as u64;
            if self.unclean.as_ref().is_some_and(UncleanClose::happened) {
                r.note = Some(UNCLEAN_CLOSE_NOTE.to_string());
            }
            self.sink.record(r);
        }
    }
}

impl Drop for PendingRecord {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Which counter a body adds to.
#[derive(Debug, Clone, Copy)]
pub enum Direction {
    Up,
    Down,
}

/// A body that counts the bytes passing through it, and optionally carries the
/// pending audit record so it is sent when the body ends.
pub type CountingBody<B> = TapBody<B, Counting>;

pub struct Counting {
    counters: Arc<Counters>,
    direction: Direction,
    pending: Option<PendingRecord>,
}

impl<B> CountingBody<B> {
    pub fn new(
        inner: B,
        counters: Arc<Counters>,
        direction: Direction,
        pending: Option<PendingRecord>,
    ) -> Self {
        TapBody::with_tap(inner, Counting { counters, direction, pending })
    }
}

impl Tap for Counting {
    fn data(&mut self, data: &Bytes) {
        let counter = match self.direction {
            Direction::Up => &self.counters.up,
            Direction::Down => &self.counters.down,
        };
        counter.fetch_add(data.len() as u64, Ordering::Relaxed);
    }

    fn end(&mut self) {
        if let Some(mut p) = self.pending.take() {
            p.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_secrets_are_redacted() {
        assert_eq!(redact_path("/v1/x?key=abc&alt=sse"), "/v1/x?key=***&alt=sse");
        assert_eq!(redact_path("/a?Token=1&access_token=2&q=3"), "/a?Token=***&access_token=***&q=3");
        assert_eq!(redact_path("/plain"), "/plain");
    }
}
