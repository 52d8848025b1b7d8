//! The proxy's own host, [`INTERNAL_HOST`]: requests a session sends there are answered here and
//! never leave the proxy. It is how an agent's hooks tell the daemon what the agent is doing
//! (`POST http://clauderon.internal/v1/status`, through the session's `HTTP_PROXY`) without any
//! daemon port being reachable from the session.
//!
//! The session a report applies to is the one whose proxy identity sent it (the listener has
//! authenticated it before a request gets here); nothing in the request can name another.

use crate::audit::{AuditSink, Decision};
use crate::identity::SessionIdentity;
use crate::upstream::ProxyBody;
use async_trait::async_trait;
use bytes::Bytes;
use clauderon_types::SessionId;
use clauderon_types::agent_status::{STATUS_PATH, StatusReport};
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use clauderon_types::agent_status::{AgentStatus, INTERNAL_HOST};

/// The largest status report read; a hook sends a few dozen bytes.
pub const MAX_REPORT_BODY: usize = 4 * 1024;
/// How long a report's body may take to arrive.
pub const REPORT_BODY_TIMEOUT: Duration = Duration::from_secs(5);
/// Reports a session may send at once: an agent's hooks send one or two per turn, a few when
/// tools run in a row (issue 11, item 8: 200 reports made 199 stored events).
pub const REPORT_BURST: f64 = 10.0;
/// Reports per second a session earns back, up to [`REPORT_BURST`].
pub const REPORT_REFILL_PER_SEC: f64 = 2.0;
/// Sessions whose buckets are kept before full (idle) ones are forgotten.
const LIMITER_SESSIONS: usize = 1024;

/// A token bucket per session for requests to [`INTERNAL_HOST`]: a session in a loop must not
/// flood the store and the event bus with status changes. Excess requests get a 429.
#[derive(Debug, Default)]
pub struct ReportLimiter {
    buckets: Mutex<HashMap<SessionId, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl ReportLimiter {
    /// Take one report's token from the session's bucket; `false` when it is empty.
    pub fn take(&self, session: &SessionIdentity) -> bool {
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else { return false };
        if buckets.len() >= LIMITER_SESSIONS {
            // A full bucket is the same as none: forget those (deleted or quiet sessions).
            buckets.retain(|_, b| Self::refilled(b, now) < REPORT_BURST);
        }
        let bucket = buckets.entry(session.session_id).or_insert(Bucket { tokens: REPORT_BURST, at: now });
        bucket.tokens = Self::refilled(bucket, now);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn refilled(b: &Bucket, now: Instant) -> f64 {
        (b.tokens + now.duration_since(b.at).as_secs_f64() * REPORT_REFILL_PER_SEC).min(REPORT_BURST)
    }
}

/// Why a report was not taken, as the hook sees it (a 4xx/5xx and one sentence). Never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRefusal {
    pub status: StatusCode,
    pub message: String,
}

/// Where agents' status reports go (the daemon's session manager). Called on the request path:
/// the hook waits for the answer, so an implementation answers promptly.
#[async_trait]
pub trait StatusSink: Send + Sync + 'static {
    async fn report(&self, session: &SessionIdentity, status: AgentStatus) -> Result<(), StatusRefusal>;
}

/// Is this the proxy's own host? (Any port: the name alone decides.)
pub fn is_internal(host: &str) -> bool {
    host.eq_ignore_ascii_case(INTERNAL_HOST)
}

fn reply(status: StatusCode, message: &str) -> Response<ProxyBody> {
    let mut resp = crate::reply::text(status, message);
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Answer one request to [`INTERNAL_HOST`] from an authenticated session, and audit it.
pub(crate) async fn answer<B>(
    sink: Option<&dyn StatusSink>,
    limiter: &ReportLimiter,
    audit: &dyn AuditSink,
    session: &SessionIdentity,
    req: Request<B>,
) -> Response<ProxyBody>
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let mut record = crate::audit::record_for(
        session,
        parts.method.as_str(),
        INTERNAL_HOST,
        &path,
        Decision::Answered { reason: String::new() },
    );
    let (status, message, decision, bytes_up) = if limiter.take(session) {
        respond(sink, session, &parts.method, &path, body).await
    } else {
        let message = format!(
            "too many requests to {INTERNAL_HOST} from this session (at most {REPORT_BURST} at once, \
             {REPORT_REFILL_PER_SEC} a second after that); try again shortly"
        );
        let reason = format!("{INTERNAL_HOST}: rate limited");
        (StatusCode::TOO_MANY_REQUESTS, format!("clauderon: {message}"), Decision::Denied { reason }, 0)
    };
    record.status = Some(status.as_u16());
    record.bytes_up = bytes_up;
    record.duration_ms = started.elapsed().as_millis() as u64;
    record.decision = decision;
    audit.record(record);
    match status {
        StatusCode::NO_CONTENT => {
            let mut resp = reply(status, "");
            *resp.body_mut() = http_body_util::Empty::new().map_err(|never| match never {}).boxed();
            resp.headers_mut().remove(header::CONTENT_TYPE);
            resp
        }
        StatusCode::METHOD_NOT_ALLOWED => {
            let mut resp = reply(status, &message);
            resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
            resp
        }
        _ => reply(status, &message),
    }
}

/// The answer's status, its message, what the audit says, and the bytes read.
async fn respond<B>(
    sink: Option<&dyn StatusSink>,
    session: &SessionIdentity,
    method: &Method,
    path: &str,
    body: B,
) -> (StatusCode, String, Decision, u64)
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let denied = |status: StatusCode, message: String| {
        let reason = format!("clauderon.internal: {message}");
        (status, format!("clauderon: {message}"), Decision::Denied { reason }, 0)
    };
    if session.ship_host().is_some() {
        return denied(StatusCode::FORBIDDEN, "a shipping identity reports no agent status".to_string());
    }
    if path != STATUS_PATH {
        return denied(
            StatusCode::NOT_FOUND,
            format!("{INTERNAL_HOST} answers POST {STATUS_PATH} only (an agent's status report)"),
        );
    }
    if method != Method::POST {
        return denied(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{STATUS_PATH} takes POST with {{\"status\": \"working\"}}"),
        );
    }
    let read = tokio::time::timeout(
        REPORT_BODY_TIMEOUT,
        http_body_util::Limited::new(body, MAX_REPORT_BODY).collect(),
    );
    let bytes = match read.await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(_)) => {
            return denied(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("a status report is at most {MAX_REPORT_BODY} bytes"),
            );
        }
        Err(_) => {
            return denied(
                StatusCode::REQUEST_TIMEOUT,
                format!("the report did not arrive within {}s", REPORT_BODY_TIMEOUT.as_secs()),
            );
        }
    };
    let up = bytes.len() as u64;
    let Ok(report) = serde_json::from_slice::<StatusReport>(&bytes) else {
        let (status, message, decision, _) = denied(
            StatusCode::BAD_REQUEST,
            "a status report is JSON {\"status\": \"working\" | \"waiting-for-input\" | \"idle\"}".into(),
        );
        return (status, message, decision, up);
    };
    let Some(sink) = sink else {
        let (status, message, decision, _) = denied(
            StatusCode::SERVICE_UNAVAILABLE,
            "this proxy takes no status reports (it runs without a daemon)".into(),
        );
        return (status, message, decision, up);
    };
    match sink.report(session, report.status).await {
        Ok(()) => (
            StatusCode::NO_CONTENT,
            String::new(),
            Decision::Answered { reason: format!("agent status: {}", report.status) },
            up,
        ),
        Err(refusal) => {
            let reason = format!("agent status {}: {}", report.status, refusal.message);
            (refusal.status, format!("clauderon: {}", refusal.message), Decision::Denied { reason }, up)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::audit::AuditRecord;
    use clauderon_types::SessionName;
    use http_body_util::Full;

    #[derive(Default)]
    struct Recorder {
        reports: Mutex<Vec<(String, AgentStatus)>>,
        refuse: bool,
    }

    #[async_trait]
    impl StatusSink for Recorder {
        async fn report(&self, s: &SessionIdentity, status: AgentStatus) -> Result<(), StatusRefusal> {
            if self.refuse {
                return Err(StatusRefusal {
                    status: StatusCode::CONFLICT,
                    message: "session a is stopped".into(),
                });
            }
            self.reports.lock().unwrap().push((s.name.to_string(), status));
            Ok(())
        }
    }

    #[derive(Default)]
    struct Audits(Mutex<Vec<AuditRecord>>);
    impl AuditSink for Audits {
        fn record(&self, r: AuditRecord) {
            self.0.lock().unwrap().push(r);
        }
    }

    fn session(name: &str) -> SessionIdentity {
        SessionIdentity::agent(SessionId::new(), SessionName::parse(name).unwrap())
    }

    fn post(path: &str, body: &str) -> Request<Full<Bytes>> {
        Request::post(format!("http://clauderon.internal{path}"))
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap()
    }

    async fn body_text(resp: Response<ProxyBody>) -> String {
        String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes()).into_owned()
    }

    #[tokio::test]
    async fn a_report_goes_to_the_sink_for_the_sending_session_whatever_the_body_names() {
        let (sink, audit) = (Recorder::default(), Audits::default());
        let req = post("/v1/status", r#"{"status":"idle","session":"b","name":"b"}"#);
        let resp = answer(Some(&sink), &ReportLimiter::default(), &audit, &session("a"), req).await;
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        assert_eq!(*sink.reports.lock().unwrap(), [("a".to_string(), AgentStatus::Idle)]);
        let records = audit.0.lock().unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].host, "clauderon.internal");
        assert_eq!(records[0].session_name.as_deref(), Some("a"));
        assert_eq!(records[0].decision, Decision::Answered { reason: "agent status: idle".into() });
    }

    #[tokio::test]
    async fn bad_input_gets_a_clear_4xx_and_is_audited_as_denied() {
        let sink = Recorder::default();
        for (req, want, says) in [
            (post("/v1/status", "working"), StatusCode::BAD_REQUEST, "is JSON"),
            (post("/v1/status", r#"{"status":"busy"}"#), StatusCode::BAD_REQUEST, "waiting-for-input"),
            (
                post("/v1/other", r#"{"status":"idle"}"#),
                StatusCode::NOT_FOUND,
                "answers POST /v1/status only",
            ),
            (
                Request::get("http://clauderon.internal/v1/status").body(Full::new(Bytes::new())).unwrap(),
                StatusCode::METHOD_NOT_ALLOWED,
                "takes POST",
            ),
            (post("/v1/status", &"x".repeat(MAX_REPORT_BODY + 1)), StatusCode::PAYLOAD_TOO_LARGE, "at most"),
        ] {
            let audit = Audits::default();
            let resp = answer(Some(&sink), &ReportLimiter::default(), &audit, &session("a"), req).await;
            assert_eq!(resp.status(), want);
            let text = body_text(resp).await;
            assert!(text.contains(says), "{want}: {text}");
            assert_eq!(audit.0.lock().unwrap()[0].decision.label(), "denied");
        }
        assert!(sink.reports.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_refusing_sink_and_a_missing_sink_say_why() {
        let refusing = Recorder { refuse: true, ..Default::default() };
        let audit = Audits::default();
        let resp = answer(
            Some(&refusing),
            &ReportLimiter::default(),
            &audit,
            &session("a"),
            post("/v1/status", r#"{"status":"working"}"#),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::CONFLICT);
        assert!(body_text(resp).await.contains("session a is stopped"));
        let resp = answer(
            None,
            &ReportLimiter::default(),
            &audit,
            &session("a"),
            post("/v1/status", r#"{"status":"working"}"#),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(is_internal("Clauderon.Internal") && !is_internal("clauderon.internal.example.com"));
    }

    #[test]
    fn the_bucket_allows_a_burst_then_refills_per_session() {
        let limiter = ReportLimiter::default();
        let (a, b) = (session("a"), session("b"));
        let taken = (0..200).filter(|_| limiter.take(&a)).count();
        assert!((10..=11).contains(&taken), "a burst of 200 let {taken} through");
        assert!(limiter.take(&b), "another session has its own bucket");
        std::thread::sleep(Duration::from_millis(600));
        assert!(limiter.take(&a), "reports resume after a pause");
    }
}
