//! The typed client of the clauderon daemon's HTTP API, used by the CLI and the TUI.
//!
//! One API, two transports: the Unix socket in the data dir (the default; no token, the
//! socket's permissions are the access control), or plain HTTP to `--url` with the API
//! token as a bearer token, which the daemon requires on every TCP request, loopback
//! included. Finding the token is the caller's job (the CLI: `CLAUDERON_API_TOKEN`, else for
//! a loopback URL the data dir's token). Each call opens its own connection.

mod endpoint;
mod error;
mod events;
pub mod terminal;
mod transport;

pub use endpoint::{ApiToken, Endpoint};
pub use error::ClientError;
pub use events::EventStream;

use clauderon_types::api::{
    AllowHostRequest, AuditList, CreateSessionRequest, CredentialList, DeleteQuery, ErrorBody, Health,
    ListView, SendInputRequest, SessionDetail, SessionList, SetAccessModeRequest, SetBudgetRequest,
    VersionInfo,
};
use clauderon_types::diff::SessionDiff;
use clauderon_types::hooks::{HookDelivery, HookDeliveryList};
use clauderon_types::messages::MessagePage;
use clauderon_types::ship::{CommitReport, CommitRequest, PrReport, PrRequest, PushReport, PushRequest};
use clauderon_types::usage::{BucketWidth, UsageReport};
use clauderon_types::{AccessMode, Session, SessionName};
use hyper::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;
use transport::{Exchange, Reply};

/// How long to wait. `slow` is for the calls that create or tear down a session, which may
/// build an image or stop a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub request: Duration,
    pub slow: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(30),
            slow: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Client {
    endpoint: Endpoint,
    timeouts: Timeouts,
}

/// Which timeout a call gets.
#[derive(Clone, Copy)]
enum Pace {
    Quick,
    Slow,
}

impl Client {
    pub fn new(endpoint: Endpoint) -> Self {
        Client { endpoint, timeouts: Timeouts::default() }
    }

    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        target: &str,
        body: Option<&impl Serialize>,
        pace: Pace,
    ) -> Result<T, ClientError> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| ClientError::Protocol(format!("encoding the request: {e}")))?;
        let reply = self.exchange(&method, target, body, JSON, pace).await?;
        decode(&method, target, reply)
    }

    /// A `GET` whose answer is text, not JSON (the CA certificate); errors are still JSON.
    async fn get_text(&self, target: &str, accept: &'static str) -> Result<String, ClientError> {
        let reply = self.exchange(&Method::GET, target, None, accept, Pace::Quick).await?;
        decode_text(&Method::GET, target, reply)
    }

    async fn exchange(
        &self,
        method: &Method,
        target: &str,
        body: Option<Vec<u8>>,
        accept: &'static str,
        pace: Pace,
    ) -> Result<Reply, ClientError> {
        let timeout = match pace {
            Pace::Quick => self.timeouts.request,
            Pace::Slow => self.timeouts.slow,
        };
        let exchange = Exchange {
            method: method.clone(),
            target,
            accept,
            body,
            connect_timeout: self.timeouts.connect,
            timeout,
        };
        transport::send(&self.endpoint, exchange).await
    }

    pub async fn health(&self) -> Result<Health, ClientError> {
        self.call(Method::GET, "/api/health", None::<&()>, Pace::Quick).await
    }

    pub async fn version(&self) -> Result<VersionInfo, ClientError> {
        self.call(Method::GET, "/api/version", None::<&()>, Pace::Quick).await
    }

    pub async fn list(&self, view: ListView) -> Result<SessionList, ClientError> {
        let view = match view {
            ListView::Active => "active",
            ListView::Archived => "archived",
            ListView::All => "all",
        };
        self.call(Method::GET, &format!("/api/sessions?view={view}"), None::<&()>, Pace::Quick).await
    }

    pub async fn create(&self, req: &CreateSessionRequest) -> Result<Session, ClientError> {
        self.call(Method::POST, "/api/sessions", Some(req), Pace::Slow).await
    }

    pub async fn get(&self, name: &str) -> Result<SessionDetail, ClientError> {
        self.call(Method::GET, &session_path(name, "")?, None::<&()>, Pace::Quick).await
    }

    /// The session's final state.
    pub async fn delete(&self, name: &str, q: DeleteQuery) -> Result<Session, ClientError> {
        let flags: Vec<&str> = [(q.force, "force=true"), (q.delete_branch, "delete_branch=true")]
            .into_iter()
            .filter_map(|(on, pair)| on.then_some(pair))
            .collect();
        let mut target = session_path(name, "")?;
        if !flags.is_empty() {
            target = format!("{target}?{}", flags.join("&"));
        }
        self.call(Method::DELETE, &target, None::<&()>, Pace::Slow).await
    }

    pub async fn archive(&self, name: &str) -> Result<Session, ClientError> {
        self.call(Method::POST, &session_path(name, "/archive")?, None::<&()>, Pace::Quick).await
    }

    pub async fn unarchive(&self, name: &str) -> Result<Session, ClientError> {
        self.call(Method::POST, &session_path(name, "/unarchive")?, None::<&()>, Pace::Quick).await
    }

    /// Stop the session's process (containers take a few seconds to stop).
    pub async fn stop(&self, name: &str) -> Result<Session, ClientError> {
        self.call(Method::POST, &session_path(name, "/stop")?, None::<&()>, Pace::Slow).await
    }

    /// Start a stopped session again.
    pub async fn start(&self, name: &str) -> Result<Session, ClientError> {
        self.call(Method::POST, &session_path(name, "/start")?, None::<&()>, Pace::Slow).await
    }

    pub async fn set_access_mode(&self, name: &str, mode: AccessMode) -> Result<Session, ClientError> {
        let body = SetAccessModeRequest { mode };
        self.call(Method::PUT, &session_path(name, "/access-mode")?, Some(&body), Pace::Quick).await
    }

    pub async fn allow_host(&self, name: &str, host: &str) -> Result<Session, ClientError> {
        let body = AllowHostRequest { host: host.to_string() };
        self.call(Method::POST, &session_path(name, "/allowed-hosts")?, Some(&body), Pace::Quick).await
    }

    pub async fn set_budget(&self, name: &str, budget: SetBudgetRequest) -> Result<Session, ClientError> {
        self.call(Method::PUT, &session_path(name, "/budget")?, Some(&budget), Pace::Quick).await
    }

    /// The session's token usage: totals per model and a series in `bucket`-wide steps.
    pub async fn usage(&self, name: &str, bucket: BucketWidth) -> Result<UsageReport, ClientError> {
        let width = match bucket {
            BucketWidth::Minute => "minute",
            BucketWidth::Hour => "hour",
            BucketWidth::Day => "day",
        };
        let target = format!("{}?bucket={width}", session_path(name, "/usage")?);
        self.call(Method::GET, &target, None::<&()>, Pace::Quick).await
    }

    /// The proxy's audit of one session (404 for an unknown one). Without `after`, its latest
    /// `limit` requests (the daemon's default 100); with it, those with a larger id. Oldest first.
    pub async fn session_requests(
        &self,
        name: &str,
        after: Option<i64>,
        limit: Option<usize>,
    ) -> Result<AuditList, ClientError> {
        let target = with_query(session_path(name, "/requests")?, &audit_params(after, limit));
        self.call(Method::GET, &target, None::<&()>, Pace::Quick).await
    }

    /// The session's chat history after the cursor `after` (a page's `next`), at most `limit`
    /// messages (the daemon's default 200).
    pub async fn messages(
        &self,
        name: &str,
        after: Option<usize>,
        limit: Option<usize>,
    ) -> Result<MessagePage, ClientError> {
        let params: Vec<String> = [after.map(|a| format!("after={a}")), limit.map(|l| format!("limit={l}"))]
            .into_iter()
            .flatten()
            .collect();
        let target = with_query(session_path(name, "/messages")?, &params);
        self.call(Method::GET, &target, None::<&()>, Pace::Quick).await
    }

    /// The session's work against its base; without `patch`, files and counts only.
    pub async fn diff(&self, name: &str, patch: bool) -> Result<SessionDiff, ClientError> {
        let target = with_query(session_path(name, "/diff")?, &[format!("patch={patch}")]);
        self.call(Method::GET, &target, None::<&()>, Pace::Slow).await
    }

    /// Commit the worktree's uncommitted work on the session's branch.
    pub async fn commit(&self, name: &str, message: &str) -> Result<CommitReport, ClientError> {
        let body = CommitRequest { message: message.to_string() };
        self.call(Method::POST, &session_path(name, "/commit")?, Some(&body), Pace::Slow).await
    }

    /// Push the session's branch to its repository's origin (the daemon does it, through its
    /// proxy).
    pub async fn push(&self, name: &str, force: bool) -> Result<PushReport, ClientError> {
        let body = PushRequest { force };
        self.call(Method::POST, &session_path(name, "/push")?, Some(&body), Pace::Slow).await
    }

    /// Push the session's branch and open a pull request for it (or read its open one again).
    pub async fn pr(&self, name: &str, req: &PrRequest) -> Result<PrReport, ClientError> {
        self.call(Method::POST, &session_path(name, "/pr")?, Some(req), Pace::Slow).await
    }

    /// Read the session's pull request from GitHub now.
    pub async fn refresh_pr(&self, name: &str) -> Result<Session, ClientError> {
        self.call(Method::POST, &session_path(name, "/pr/refresh")?, None::<&()>, Pace::Slow).await
    }

    /// The hook delivery log: after `after`, or the latest `limit`.
    pub async fn hook_deliveries(
        &self,
        after: Option<i64>,
        limit: Option<usize>,
    ) -> Result<HookDeliveryList, ClientError> {
        let mut params = Vec::new();
        if let Some(a) = after {
            params.push(format!("after={a}"));
        }
        if let Some(l) = limit {
            params.push(format!("limit={l}"));
        }
        let target = with_query("/api/hooks/deliveries".to_string(), &params);
        self.call(Method::GET, &target, None::<&()>, Pace::Quick).await
    }

    /// Fire a sample event at the hook `name` and get its delivery.
    pub async fn test_hook(&self, name: &str) -> Result<HookDelivery, ClientError> {
        // Hook names are letters, digits, `-` and `_` (the config refuses others): anything else
        // cannot name one, and must not become another path.
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(ClientError::Api {
                status: 404,
                body: ErrorBody {
                    error: "not-found".into(),
                    message: format!("no hook named `{name}`: hook names are letters, digits, `-` and `_`"),
                },
            });
        }
        let target = format!("/api/hooks/{name}/test");
        self.call(Method::POST, &target, None::<&()>, Pace::Slow).await
    }

    /// The proxy's audit of every session, or of the one named (deleted sessions included).
    pub async fn requests(
        &self,
        session: Option<&str>,
        after: Option<i64>,
        limit: Option<usize>,
    ) -> Result<AuditList, ClientError> {
        let mut params = Vec::new();
        if let Some(name) = session {
            // Validated: it becomes part of the query string.
            params.push(format!("session={}", SessionName::parse(name)?.as_str()));
        }
        params.extend(audit_params(after, limit));
        let target = with_query("/api/requests".to_string(), &params);
        self.call(Method::GET, &target, None::<&()>, Pace::Quick).await
    }

    /// The credentials the daemon knows and where each comes from; never a value.
    pub async fn credentials(&self) -> Result<CredentialList, ClientError> {
        self.call(Method::GET, "/api/credentials", None::<&()>, Pace::Quick).await
    }

    /// Type `text` into the session's agent, then Enter (`clauderon send`).
    pub async fn send_input(&self, name: &str, text: &str) -> Result<(), ClientError> {
        let target = session_path(name, "/input")?;
        let body = serde_json::to_vec(&SendInputRequest { text: text.to_string() })
            .map_err(|e| ClientError::Protocol(format!("encoding the request: {e}")))?;
        let reply = self.exchange(&Method::POST, &target, Some(body), JSON, Pace::Quick).await?;
        match reply.status {
            200..=299 => Ok(()),
            status => Err(error_reply(&Method::POST, &target, status, &reply.body)),
        }
    }

    /// clauderon's CA certificate, PEM text as the daemon sends it.
    pub async fn ca_pem(&self) -> Result<String, ClientError> {
        self.get_text("/api/proxy/ca.pem", "application/x-pem-file").await
    }
}

const JSON: &str = "application/json";

fn audit_params(after: Option<i64>, limit: Option<usize>) -> Vec<String> {
    let after = after.map(|a| format!("after={a}"));
    let limit = limit.map(|l| format!("limit={l}"));
    after.into_iter().chain(limit).collect()
}

/// `path?a=1&b=2`, or `path` when there are no parameters.
fn with_query(path: String, params: &[String]) -> String {
    if params.is_empty() { path } else { format!("{path}?{}", params.join("&")) }
}

/// `/api/sessions/{name}{rest}`, the name validated first: it is a path segment.
fn session_path(name: &str, rest: &str) -> Result<String, ClientError> {
    let name = SessionName::parse(name)?;
    Ok(format!("/api/sessions/{}{rest}", name.as_str()))
}

/// A 2xx body as `T`; any other status as the daemon's `ErrorBody`.
fn decode<T: DeserializeOwned>(method: &Method, target: &str, reply: Reply) -> Result<T, ClientError> {
    let Reply { status, body } = reply;
    if (200..300).contains(&status) {
        return serde_json::from_slice(&body).map_err(|e| unreadable(method, target, status, &e));
    }
    Err(error_reply(method, target, status, &body))
}

/// A 2xx body as UTF-8 text; any other status as the daemon's `ErrorBody`.
fn decode_text(method: &Method, target: &str, reply: Reply) -> Result<String, ClientError> {
    let Reply { status, body } = reply;
    if (200..300).contains(&status) {
        return String::from_utf8(body.to_vec()).map_err(|e| unreadable(method, target, status, &e));
    }
    Err(error_reply(method, target, status, &body))
}

fn unreadable(method: &Method, target: &str, status: u16, e: &dyn std::fmt::Display) -> ClientError {
    ClientError::Protocol(format!(
        "{method} {target} answered {status} with a body this client (v{}) cannot read: {e}",
        clauderon_types::VERSION
    ))
}

/// A non-2xx reply: the daemon's `ErrorBody`, else the start of whatever came back.
fn error_reply(method: &Method, target: &str, status: u16, body: &[u8]) -> ClientError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(body) => ClientError::Api { status, body },
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text: String = text.trim().chars().take(200).collect();
            ClientError::Protocol(format!("{method} {target} answered HTTP {status}: {text}"))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use hyper::body::Bytes;

    #[test]
    fn names_are_checked_before_they_become_a_path() {
        assert_eq!(session_path("fix-login", "/archive").unwrap(), "/api/sessions/fix-login/archive");
        for bad in ["../health", "a/b", "", "x?force=true"] {
            assert!(matches!(session_path(bad, ""), Err(ClientError::InvalidName(_))), "{bad}");
        }
    }

    #[test]
    fn audit_queries_carry_only_the_parameters_given() {
        assert_eq!(with_query("/api/requests".into(), &audit_params(None, None)), "/api/requests");
        assert_eq!(with_query("/p".into(), &audit_params(Some(42), Some(10))), "/p?after=42&limit=10");
        assert_eq!(with_query("/p".into(), &audit_params(None, Some(5))), "/p?limit=5");
    }

    #[test]
    fn a_text_reply_is_kept_as_it_is_and_its_errors_are_still_the_daemons() {
        let pem = "-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n";
        let reply = Reply { status: 200, body: Bytes::from(pem) };
        assert_eq!(decode_text(&Method::GET, "/x", reply).unwrap(), pem);
        let reply = Reply { status: 200, body: Bytes::from_static(&[0xff, 0xfe]) };
        assert!(matches!(decode_text(&Method::GET, "/x", reply), Err(ClientError::Protocol(_))));
        let reply = Reply {
            status: 503,
            body: Bytes::from_static(br#"{"error":"unavailable","message":"Try later."}"#),
        };
        let err = decode_text(&Method::GET, "/x", reply).unwrap_err();
        assert_eq!((err.to_string().as_str(), err.status()), ("Try later.", Some(503)));
    }

    #[test]
    fn error_replies_keep_the_daemons_message() {
        let reply = Reply {
            status: 409,
            body: Bytes::from_static(br#"{"error":"conflict","message":"Use --force."}"#),
        };
        let err = decode::<Health>(&Method::DELETE, "/api/sessions/x", reply).unwrap_err();
        assert_eq!(err.to_string(), "Use --force.");
        assert_eq!((err.status(), err.code()), (Some(409), Some("conflict")));
        let reply = Reply { status: 502, body: Bytes::from_static(b"<html>Bad Gateway</html>") };
        let err = decode::<Health>(&Method::GET, "/api/health", reply).unwrap_err();
        assert!(matches!(err, ClientError::Protocol(_)));
        assert!(err.to_string().contains("HTTP 502: <html>Bad Gateway"), "{err}");
    }
}
