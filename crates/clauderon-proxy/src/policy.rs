//! Policy: what a session may do with the credentials it never sees, decided per request from
//! the session's current settings (changed live by the session manager).
//!
//! - Egress: a session reaches only hosts on the allowlist (the global one plus its own).
//! - Access mode: a read-only session may only read — HTTP reads, git fetch but not push,
//!   GraphQL queries but not mutations — except on model APIs, which are its working tools.
//! - Budget: once a session has spent its token or dollar budget, model calls are refused.
//!
//! The proxy asks [`RequestPolicy::check`] for every CONNECT and every request, and
//! [`RequestPolicy::check_body`] when a decision needs the body (a GraphQL document).

// Public only for the fuzz targets in `fuzz/` (they call the classifiers directly).
#[doc(hidden)]
pub mod access;
#[doc(hidden)]
pub mod graphql;

use crate::identity::SessionIdentity;
use crate::rules::HostPattern;
use clauderon_types::{AccessMode, SessionId};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

/// Largest request body the policy reads to decide (a GraphQL document).
pub const MAX_POLICY_BODY: usize = 1024 * 1024;

/// What policy sees of a request.
#[derive(Debug, Clone)]
pub struct PolicyRequest<'a> {
    pub session: &'a SessionIdentity,
    /// `CONNECT` for a tunnel or interception decision, else the HTTP method.
    pub method: &'a str,
    pub host: &'a str,
    /// Path and query; `None` for CONNECT.
    pub path: Option<&'a str>,
    /// The request's headers (method overrides, body framing); `None` for CONNECT.
    pub headers: Option<&'a http::HeaderMap>,
    /// Whether a body follows the head (an HTTP/2 stream not ended by its headers too).
    pub has_body: bool,
}

impl<'a> PolicyRequest<'a> {
    /// The question a CONNECT asks: may this session reach `host` at all.
    pub fn connect(session: &'a SessionIdentity, host: &'a str) -> Self {
        PolicyRequest { session, method: "CONNECT", host, path: None, headers: None, has_body: false }
    }

    /// The question an HTTP request asks, from its head and whether its body is empty.
    pub fn http<B: http_body::Body>(
        session: &'a SessionIdentity,
        method: &'a str,
        host: &'a str,
        path: &'a str,
        parts: &'a http::request::Parts,
        body: &B,
    ) -> Self {
        let has_body = !body.is_end_stream();
        PolicyRequest { session, method, host, path: Some(path), headers: Some(&parts.headers), has_body }
    }
}

/// A refusal: the message is the response body the session sees; the reason goes to the audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub message: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyDecision {
    Allow,
    Deny(Refusal),
    /// Decidable only from the body: read it (at most [`MAX_POLICY_BODY`]) and ask
    /// [`RequestPolicy::check_body`].
    NeedsBody,
}

pub trait RequestPolicy: Send + Sync + 'static {
    fn check(&self, request: &PolicyRequest<'_>) -> PolicyDecision;

    /// The decision for a request whose [`check`](RequestPolicy::check) said `NeedsBody`.
    fn check_body(&self, _request: &PolicyRequest<'_>, _body: &[u8]) -> PolicyDecision {
        PolicyDecision::Allow
    }

    /// Must this session's traffic to `host` be intercepted so that policy can see each
    /// request (a read-only session), even where no credential is injected?
    fn intercepts(&self, _session: &SessionIdentity, _host: &str) -> bool {
        false
    }

    /// Does an allow rule name this exact IP address, opening the address wall (`crate::wall`)
    /// for it: the global list, or this session's own (`None`: any session's)?
    fn names_address(&self, _session: Option<&SessionIdentity>, _ip: IpAddr) -> bool {
        false
    }
}

/// Does one of `list` name exactly `ip` (`127.0.0.1`, `::1`)? Another spelling of the same host
/// (`::ffff:127.0.0.1`, `127.1`) is not named: a rule opens what it says and nothing near it.
fn names_ip(list: &[HostPattern], ip: IpAddr) -> bool {
    list.iter().any(|p| match p {
        HostPattern::Exact(name) => name.parse::<IpAddr>().is_ok_and(|n| n == ip),
        HostPattern::Subdomains(_) => false,
    })
}

#[derive(Debug, Default)]
pub struct AllowAll;

impl RequestPolicy for AllowAll {
    fn check(&self, _: &PolicyRequest<'_>) -> PolicyDecision {
        PolicyDecision::Allow
    }
}

/// Whether sessions are held to an allowlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EgressMode {
    /// Only hosts on the allowlist (the default).
    #[default]
    Allowlist,
    /// Any host (the proxy still injects only for rule hosts).
    Open,
}

/// The model APIs, the forge and the common package registries: what an agent needs to work.
pub const DEFAULT_ALLOW_HOSTS: &[&str] = &[
    // Model APIs and their logins.
    "api.anthropic.com",
    "platform.claude.com",
    "console.anthropic.com",
    "api.openai.com",
    "auth.openai.com",
    "chatgpt.com",
    "generativelanguage.googleapis.com",
    "cloudcode-pa.googleapis.com",
    "oauth2.googleapis.com",
    // GitHub.
    "github.com",
    "api.github.com",
    "codeload.github.com",
    "uploads.github.com",
    "*.githubusercontent.com",
    // Package registries.
    "registry.npmjs.org",
    "registry.yarnpkg.com",
    "pypi.org",
    "files.pythonhosted.org",
    "crates.io",
    "index.crates.io",
    "static.crates.io",
    "proxy.golang.org",
    "sum.golang.org",
    "rubygems.org",
    "repo.maven.apache.org",
    "repo1.maven.org",
    "deb.debian.org",
    "security.debian.org",
];

/// Model APIs: a read-only session may call them with any method (that is how it thinks).
pub const DEFAULT_INFERENCE_HOSTS: &[&str] =
    &["api.anthropic.com", "api.openai.com", "generativelanguage.googleapis.com", "chatgpt.com"];

/// The policy's global settings, from the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySettings {
    pub egress: EgressMode,
    pub allow_hosts: Vec<HostPattern>,
    pub inference_hosts: Vec<HostPattern>,
    /// Hosts a read-only session still tunnels without interception (a client that pins
    /// certificates); their requests are then not checked for writes.
    pub tunnel_hosts: Vec<HostPattern>,
    /// Replace real secrets echoed in responses by their placeholders.
    pub scrub: bool,
}

/// The built-in lists, which are valid (a test says so).
fn patterns(list: &[&str]) -> Vec<HostPattern> {
    HostPattern::parse_list(list).unwrap_or_default()
}

impl Default for PolicySettings {
    fn default() -> Self {
        PolicySettings {
            egress: EgressMode::Allowlist,
            allow_hosts: patterns(DEFAULT_ALLOW_HOSTS),
            inference_hosts: patterns(DEFAULT_INFERENCE_HOSTS),
            tunnel_hosts: Vec::new(),
            scrub: true,
        }
    }
}

/// A session's limit on model use. Either bound stops it once reached.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Budget {
    pub max_tokens: Option<u64>,
    pub max_usd: Option<f64>,
}

/// What a session has used so far.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Spent {
    pub tokens: u64,
    pub usd: f64,
}

impl Budget {
    pub fn is_set(&self) -> bool {
        self.max_tokens.is_some() || self.max_usd.is_some()
    }

    /// `Some(description)` when `spent` has reached a bound.
    pub fn exceeded_by(&self, spent: &Spent) -> Option<String> {
        if let Some(max) = self.max_tokens
            && spent.tokens >= max
        {
            return Some(format!("{} of {max} tokens", spent.tokens));
        }
        if let Some(max) = self.max_usd
            && spent.usd >= max
        {
            return Some(format!("${:.4} of ${max:.2}", spent.usd));
        }
        None
    }
}

/// One session's settings, as the policy reads them on every request.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionPolicy {
    pub access_mode: AccessMode,
    /// Hosts this session may reach beyond the global allowlist.
    pub allow_hosts: Vec<HostPattern>,
    pub budget: Budget,
}

/// The live per-session settings and spending. The session manager writes settings; the usage
/// meter adds spending; the proxy reads both on every request.
#[derive(Debug, Default)]
pub struct SessionPolicies {
    sessions: RwLock<HashMap<SessionId, Arc<SessionPolicy>>>,
    spent: RwLock<HashMap<SessionId, Spent>>,
}

impl SessionPolicies {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set(&self, id: SessionId, policy: SessionPolicy) {
        if let Ok(mut map) = self.sessions.write() {
            map.insert(id, Arc::new(policy));
        }
    }

    pub fn remove(&self, id: SessionId) {
        if let Ok(mut map) = self.sessions.write() {
            map.remove(&id);
        }
        if let Ok(mut map) = self.spent.write() {
            map.remove(&id);
        }
    }

    pub fn get(&self, id: SessionId) -> Option<Arc<SessionPolicy>> {
        self.sessions.read().ok().and_then(|m| m.get(&id).cloned())
    }

    /// Add to a session's spending; returns the new total.
    pub fn add_spent(&self, id: SessionId, tokens: u64, usd: f64) -> Spent {
        let Ok(mut map) = self.spent.write() else { return Spent::default() };
        let s = map.entry(id).or_default();
        // Counts come from upstream responses: never let one overflow.
        s.tokens = s.tokens.saturating_add(tokens);
        if usd.is_finite() && usd > 0.0 {
            s.usd += usd;
        }
        *s
    }

    /// Does any session's own allow list satisfy `f`?
    fn any_session(&self, f: impl Fn(&SessionPolicy) -> bool) -> bool {
        self.sessions.read().is_ok_and(|m| m.values().any(|p| f(p)))
    }

    pub fn spent(&self, id: SessionId) -> Spent {
        self.spent.read().ok().and_then(|m| m.get(&id).copied()).unwrap_or_default()
    }
}

/// The policy the daemon runs: egress, access modes and budgets from the live session settings.
#[derive(Debug)]
pub struct PolicyEngine {
    settings: PolicySettings,
    sessions: Arc<SessionPolicies>,
}

impl PolicyEngine {
    pub fn new(settings: PolicySettings, sessions: Arc<SessionPolicies>) -> Self {
        PolicyEngine { settings, sessions }
    }

    fn any(list: &[HostPattern], host: &str) -> bool {
        list.iter().any(|p| p.matches(host))
    }

    fn egress(&self, req: &PolicyRequest<'_>, session: Option<&SessionPolicy>) -> Option<Refusal> {
        if let Some(host) = req.session.ship_host() {
            // clauderon shipping a session's work talks to the one host it was started for.
            if req.host.eq_ignore_ascii_case(host) {
                return None;
            }
            return Some(Refusal {
                status: 403,
                message: format!(
                    "clauderon: refused {req_host}: shipping session `{name}`'s work reaches only {host}.",
                    req_host = req.host,
                    name = req.session.name
                ),
                reason: format!("ship: only {host}, not {}", req.host),
            });
        }
        if self.settings.egress == EgressMode::Open
            || Self::any(&self.settings.allow_hosts, req.host)
            || session.is_some_and(|s| Self::any(&s.allow_hosts, req.host))
        {
            return None;
        }
        let name = &req.session.name;
        Some(Refusal {
            status: 403,
            message: format!(
                "clauderon: `{host}` is not on session `{name}`'s egress allowlist, so the request was refused.\n\
                 To allow it for this session, run: clauderon allow-host {name} {host}\n\
                 To allow it for every session, add it to `allow_hosts` in the [policy] section of the config.",
                host = req.host
            ),
            reason: format!("egress: {} is not on the allowlist", req.host),
        })
    }

    fn budget(&self, req: &PolicyRequest<'_>, session: &SessionPolicy) -> Option<Refusal> {
        if !session.budget.is_set() || !Self::any(&self.settings.inference_hosts, req.host) {
            return None;
        }
        let used = session.budget.exceeded_by(&self.sessions.spent(req.session.session_id))?;
        let name = &req.session.name;
        Some(Refusal {
            status: 429,
            message: format!(
                "clauderon: session `{name}` has used its budget ({used}), so model calls are refused.\n\
                 To let it continue, raise the budget: clauderon set-budget {name} --usd N (or --tokens N)"
            ),
            reason: format!("budget: used {used}"),
        })
    }

    fn read_only_refusal(req: &PolicyRequest<'_>, what: &str) -> Refusal {
        let name = &req.session.name;
        Refusal {
            status: 403,
            message: format!(
                "clauderon: refused {what} on {host}: session `{name}` is read-only, which lets through only reads.\n\
                 To allow writes, run: clauderon set-access-mode {name} read-write",
                host = req.host
            ),
            reason: format!("read-only: {what}"),
        }
    }
}

impl RequestPolicy for PolicyEngine {
    fn check(&self, req: &PolicyRequest<'_>) -> PolicyDecision {
        let session = self.sessions.get(req.session.session_id);
        if let Some(refusal) = self.egress(req, session.as_deref()) {
            return PolicyDecision::Deny(refusal);
        }
        let Some(path) = req.path else { return PolicyDecision::Allow };
        if req.session.ship_host().is_some() {
            // The person, not the agent, decided to ship: the session's access mode and budget
            // are about what its agent may do.
            return PolicyDecision::Allow;
        }
        // A session the registry does not know (being created or deleted) gets the safe default.
        let mode = session.as_ref().map(|s| s.access_mode).unwrap_or(AccessMode::ReadOnly);
        if let Some(refusal) = session.as_deref().and_then(|s| self.budget(req, s)) {
            return PolicyDecision::Deny(refusal);
        }
        if mode == AccessMode::ReadWrite || Self::any(&self.settings.inference_hosts, req.host) {
            return PolicyDecision::Allow;
        }
        match access::classify(req.method, path, req.headers, req.has_body) {
            access::Verdict::Read => PolicyDecision::Allow,
            access::Verdict::Write(what) => PolicyDecision::Deny(Self::read_only_refusal(req, &what)),
            access::Verdict::GraphqlBody => PolicyDecision::NeedsBody,
        }
    }

    fn check_body(&self, req: &PolicyRequest<'_>, body: &[u8]) -> PolicyDecision {
        match graphql::check_request_body(body) {
            Ok(()) => PolicyDecision::Allow,
            Err(what) => PolicyDecision::Deny(Self::read_only_refusal(req, &what)),
        }
    }

    fn intercepts(&self, session: &SessionIdentity, host: &str) -> bool {
        let mode =
            self.sessions.get(session.session_id).map(|s| s.access_mode).unwrap_or(AccessMode::ReadOnly);
        mode == AccessMode::ReadOnly && !Self::any(&self.settings.tunnel_hosts, host)
    }

    fn names_address(&self, session: Option<&SessionIdentity>, ip: IpAddr) -> bool {
        if session.is_some_and(|s| s.ship_host().is_some()) {
            return false;
        }
        names_ip(&self.settings.allow_hosts, ip)
            || match session {
                Some(s) => self.sessions.get(s.session_id).is_some_and(|p| names_ip(&p.allow_hosts, ip)),
                None => self.sessions.any_session(|p| names_ip(&p.allow_hosts, ip)),
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clauderon_types::SessionName;

    fn engine(mode: AccessMode, extra: &[&str]) -> (PolicyEngine, SessionIdentity) {
        let who = SessionIdentity::agent(SessionId::new(), SessionName::parse("s").unwrap());
        let sessions = Arc::new(SessionPolicies::new());
        sessions.set(
            who.session_id,
            SessionPolicy { access_mode: mode, allow_hosts: patterns(extra), budget: Budget::default() },
        );
        (PolicyEngine::new(PolicySettings::default(), sessions), who)
    }

    fn check(
        e: &PolicyEngine,
        who: &SessionIdentity,
        method: &str,
        host: &str,
        path: &str,
    ) -> PolicyDecision {
        let path = if method == "CONNECT" { None } else { Some(path) };
        e.check(&PolicyRequest { session: who, method, host, path, headers: None, has_body: false })
    }

    fn denied(d: PolicyDecision) -> Refusal {
        match d {
            PolicyDecision::Deny(r) => r,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn the_built_in_lists_are_valid_patterns() {
        assert_eq!(patterns(DEFAULT_ALLOW_HOSTS).len(), DEFAULT_ALLOW_HOSTS.len());
        assert_eq!(patterns(DEFAULT_INFERENCE_HOSTS).len(), DEFAULT_INFERENCE_HOSTS.len());
    }

    #[test]
    fn egress_allows_defaults_session_hosts_and_wildcards_only() {
        let (e, who) = engine(AccessMode::ReadWrite, &["*.corp.example", "extra.example"]);
        for host in
            ["api.anthropic.com", "objects.githubusercontent.com", "a.b.corp.example", "extra.example"]
        {
            assert_eq!(check(&e, &who, "CONNECT", host, ""), PolicyDecision::Allow, "{host}");
        }
        for host in
            ["evil.example", "corp.example", "githubusercontent.com", "api.anthropic.com.evil.example"]
        {
            let r = denied(check(&e, &who, "CONNECT", host, ""));
            assert_eq!(r.status, 403);
            assert!(r.message.contains(&format!("clauderon allow-host s {host}")), "{}", r.message);
        }
    }

    #[test]
    fn read_only_refuses_writes_and_says_how_to_change_the_mode() {
        let (e, who) = engine(AccessMode::ReadOnly, &[]);
        assert_eq!(check(&e, &who, "GET", "api.github.com", "/repos/o/r"), PolicyDecision::Allow);
        assert_eq!(check(&e, &who, "POST", "api.anthropic.com", "/v1/messages"), PolicyDecision::Allow);
        let r = denied(check(&e, &who, "DELETE", "api.github.com", "/repos/o/r"));
        assert!(r.message.contains("clauderon set-access-mode s read-write"), "{}", r.message);
        assert!(r.message.contains("read-only"));
        assert!(r.reason.starts_with("read-only:"));
        assert_eq!(check(&e, &who, "POST", "api.github.com", "/graphql"), PolicyDecision::NeedsBody);
        let (rw, who) = engine(AccessMode::ReadWrite, &[]);
        assert_eq!(check(&rw, &who, "DELETE", "api.github.com", "/repos/o/r"), PolicyDecision::Allow);
        assert!(!rw.intercepts(&who, "registry.npmjs.org"));
    }

    #[test]
    fn shipping_writes_to_its_one_host_whatever_the_sessions_mode() {
        let (e, agent) = engine(AccessMode::ReadOnly, &["extra.example"]);
        let ship = SessionIdentity::ship(agent.session_id, agent.name.clone(), "github.com");
        let push = "/acme/widgets.git/git-receive-pack";
        assert!(matches!(check(&e, &agent, "POST", "github.com", push), PolicyDecision::Deny(_)));
        assert_eq!(check(&e, &ship, "CONNECT", "GitHub.com", ""), PolicyDecision::Allow);
        assert_eq!(check(&e, &ship, "POST", "github.com", push), PolicyDecision::Allow);
        for host in ["api.anthropic.com", "extra.example", "github.com.evil.example"] {
            let r = denied(check(&e, &ship, "CONNECT", host, ""));
            assert!(r.reason.starts_with("ship: only github.com"), "{host}: {}", r.reason);
        }
        assert!(!e.names_address(Some(&ship), "127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn mode_changes_apply_to_the_next_request() {
        let (e, who) = engine(AccessMode::ReadOnly, &[]);
        assert!(matches!(check(&e, &who, "PUT", "api.github.com", "/x"), PolicyDecision::Deny(_)));
        assert!(e.intercepts(&who, "registry.npmjs.org"));
        let mut p = (*e.sessions.get(who.session_id).unwrap()).clone();
        p.access_mode = AccessMode::ReadWrite;
        e.sessions.set(who.session_id, p);
        assert_eq!(check(&e, &who, "PUT", "api.github.com", "/x"), PolicyDecision::Allow);
    }

    #[test]
    fn budget_refuses_model_calls_once_spent_and_raising_it_lets_them_through() {
        let (e, who) = engine(AccessMode::ReadWrite, &[]);
        let mut p = (*e.sessions.get(who.session_id).unwrap()).clone();
        p.budget = Budget { max_tokens: Some(100), max_usd: None };
        e.sessions.set(who.session_id, p.clone());
        assert_eq!(check(&e, &who, "POST", "api.anthropic.com", "/v1/messages"), PolicyDecision::Allow);
        e.sessions.add_spent(who.session_id, 100, 0.0);
        let r = denied(check(&e, &who, "POST", "api.anthropic.com", "/v1/messages"));
        assert_eq!(r.status, 429);
        assert!(r.message.contains("clauderon set-budget s"), "{}", r.message);
        // Other hosts are not model calls.
        assert_eq!(check(&e, &who, "GET", "api.github.com", "/"), PolicyDecision::Allow);
        p.budget.max_tokens = Some(1000);
        e.sessions.set(who.session_id, p);
        assert_eq!(check(&e, &who, "POST", "api.anthropic.com", "/v1/messages"), PolicyDecision::Allow);
    }
}
