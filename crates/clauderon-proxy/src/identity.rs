//! Per-session proxy identities. Each session authenticates with its own
//! secret, carried in its proxy URL (`http://<session>:<secret>@host:port`).
//! The registry lives in memory; the daemon fills it from the store at start
//! and keeps it in step with session create/delete.

use base64::Engine;
use clauderon_types::{SessionId, SessionName};
use std::collections::HashMap;
use std::sync::RwLock;
use subtle::ConstantTimeEq;
use tokio::sync::watch;

/// Who is making a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionIdentity {
    pub session_id: SessionId,
    pub name: SessionName,
    pub role: Role,
}

/// On whose behalf an identity acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// The session's own processes: its access mode, allowlist and budget apply.
    Agent,
    /// clauderon itself, shipping the session's work on the user's command (`clauderon push`,
    /// `clauderon pr`): read-write, but to this one host only and for as long as that command
    /// runs. Its proxy user is `ship.<name>`, which no session name can be.
    Ship { host: String },
}

impl SessionIdentity {
    /// A session's own identity.
    pub fn agent(session_id: SessionId, name: SessionName) -> Self {
        SessionIdentity { session_id, name, role: Role::Agent }
    }

    /// clauderon's identity for shipping a session's work to `host`.
    pub fn ship(session_id: SessionId, name: SessionName, host: &str) -> Self {
        SessionIdentity { session_id, name, role: Role::Ship { host: host.to_ascii_lowercase() } }
    }

    /// The user part of this identity's proxy URL.
    pub fn user(&self) -> String {
        match self.role {
            Role::Agent => self.name.to_string(),
            Role::Ship { .. } => ship_user(&self.name),
        }
    }

    /// The one host a shipping identity may reach (`None` for a session's own).
    pub fn ship_host(&self) -> Option<&str> {
        match &self.role {
            Role::Agent => None,
            Role::Ship { host } => Some(host),
        }
    }
}

/// The proxy user of a session's shipping identity: `ship.NAME`, which no session name can be
/// (names have no dots).
fn ship_user(name: &SessionName) -> String {
    format!("ship.{name}")
}

struct Entry {
    secret: String,
    identity: SessionIdentity,
}

pub struct IdentityRegistry {
    by_user: RwLock<HashMap<String, Entry>>,
    /// Bumped on every revocation: long-lived connections (tunnels, WebSockets, intercepted
    /// keep-alive connections) watch it and end when their own session is gone.
    revocations: watch::Sender<u64>,
}

impl Default for IdentityRegistry {
    fn default() -> Self {
        IdentityRegistry { by_user: RwLock::default(), revocations: watch::Sender::new(0) }
    }
}

impl std::fmt::Debug for IdentityRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.by_user.read().map(|m| m.len()).unwrap_or(0);
        write!(f, "IdentityRegistry({n} sessions, secrets ***)")
    }
}

/// A fresh secret for a session's proxy URL: 32 random bytes (a CSPRNG seeded by the OS), URL-safe.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl IdentityRegistry {
    pub fn new() -> Self {
        IdentityRegistry::default()
    }

    /// Register (or replace) a session's secret. The user part of its proxy URL is its name.
    pub fn insert(&self, identity: SessionIdentity, secret: String) {
        if let Ok(mut map) = self.by_user.write() {
            map.insert(identity.user(), Entry { secret, identity });
        }
    }

    /// Forget a session: its secret, and any shipping identity of it, stop working at once.
    pub fn revoke(&self, name: &SessionName) {
        if let Ok(mut map) = self.by_user.write() {
            map.remove(name.as_str());
            map.remove(&ship_user(name));
        }
        self.revocations.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Forget one identity (a shipping identity when its command ends), if it is still the
    /// registered one.
    pub fn revoke_identity(&self, identity: &SessionIdentity) {
        if let Ok(mut map) = self.by_user.write() {
            let user = identity.user();
            if map.get(&user).is_some_and(|e| e.identity == *identity) {
                map.remove(&user);
            }
        }
        self.revocations.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Is this identity still the live one for its session? Checked on every request of a
    /// connection authenticated earlier (issue 11, item 8): a deleted session's keep-alive
    /// connection must not keep getting credentials. A name reused by a new session is another
    /// identity.
    pub fn is_current(&self, identity: &SessionIdentity) -> bool {
        self.by_user.read().is_ok_and(|m| m.get(&identity.user()).is_some_and(|e| e.identity == *identity))
    }

    /// Resolves once `identity` is no longer current: select it beside a long-lived stream to
    /// end the stream when its session is deleted.
    pub async fn until_revoked(&self, identity: &SessionIdentity) {
        let mut changes = self.revocations.subscribe();
        while self.is_current(identity) {
            if changes.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    pub fn len(&self) -> usize {
        self.by_user.read().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Check a `Proxy-Authorization` header value. `None` for anything missing or wrong.
    pub fn authenticate(&self, header: Option<&str>) -> Option<SessionIdentity> {
        let (user, secret) = parse_basic(header?)?;
        let map = self.by_user.read().ok()?;
        let entry = map.get(&user)?;
        if bool::from(entry.secret.as_bytes().ct_eq(secret.as_bytes())) {
            Some(entry.identity.clone())
        } else {
            None
        }
    }
}

/// `Basic base64(user:password)` to its parts.
fn parse_basic(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, password: &str) -> String {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
    }

    #[test]
    fn only_the_sessions_own_secret_works() {
        let reg = IdentityRegistry::new();
        let a = SessionIdentity::agent(SessionId::new(), SessionName::parse("a").unwrap());
        let b = SessionIdentity::agent(SessionId::new(), SessionName::parse("b").unwrap());
        let (sa, sb) = (new_secret(), new_secret());
        assert_ne!(sa, sb);
        reg.insert(a.clone(), sa.clone());
        reg.insert(b.clone(), sb.clone());
        assert_eq!(reg.authenticate(Some(&basic("a", &sa))), Some(a.clone()));
        assert_eq!(reg.authenticate(Some(&basic("a", &sb))), None, "b's secret must not open a");
        assert_eq!(reg.authenticate(Some(&basic("b", &sa))), None);
        assert_eq!(reg.authenticate(None), None);
        assert_eq!(reg.authenticate(Some("Bearer x")), None);
        assert_eq!(reg.authenticate(Some("Basic !!!")), None);
        assert!(reg.is_current(&a));
        reg.revoke(&a.name);
        assert_eq!(reg.authenticate(Some(&basic("a", &sa))), None, "revoked");
        assert!(!reg.is_current(&a), "a revoked identity is not current");
        let a_again = SessionIdentity::agent(SessionId::new(), a.name.clone());
        reg.insert(a_again, new_secret());
        assert!(!reg.is_current(&a), "a new session under the same name is another identity");
        assert!(!format!("{reg:?}").contains(&sb));
    }

    #[test]
    fn a_shipping_identity_is_its_own_user_and_goes_when_revoked() {
        let reg = IdentityRegistry::new();
        let name = SessionName::parse("a").unwrap();
        let id = SessionId::new();
        let agent = SessionIdentity::agent(id, name.clone());
        let ship = SessionIdentity::ship(id, name.clone(), "GitHub.com");
        assert_eq!(ship.ship_host(), Some("github.com"));
        let (s_agent, s_ship) = (new_secret(), new_secret());
        reg.insert(agent.clone(), s_agent.clone());
        reg.insert(ship.clone(), s_ship.clone());
        assert_eq!(reg.authenticate(Some(&basic("ship.a", &s_ship))), Some(ship.clone()));
        assert_eq!(reg.authenticate(Some(&basic("a", &s_agent))), Some(agent.clone()), "both live at once");
        assert_eq!(
            reg.authenticate(Some(&basic("a", &s_ship))),
            None,
            "the shipping secret is not the agent's"
        );
        assert_eq!(reg.authenticate(Some(&basic("ship.a", &s_agent))), None, "nor the other way");
        reg.revoke_identity(&ship);
        assert!(!reg.is_current(&ship));
        assert!(reg.is_current(&agent), "revoking the shipping identity leaves the session's");
        reg.insert(ship.clone(), s_ship.clone());
        reg.revoke(&name);
        assert!(!reg.is_current(&ship), "deleting the session ends its shipping identity too");
    }
}

#[cfg(test)]
mod revocation_tests {
    use super::*;

    #[tokio::test]
    async fn until_revoked_ends_when_the_session_goes_and_not_before() {
        let reg = std::sync::Arc::new(IdentityRegistry::new());
        let a = SessionIdentity::agent(SessionId::new(), SessionName::parse("a").unwrap());
        let b = SessionIdentity::agent(SessionId::new(), SessionName::parse("b").unwrap());
        reg.insert(a.clone(), new_secret());
        reg.insert(b.clone(), new_secret());
        let waiting = tokio::spawn({
            let reg = reg.clone();
            async move { reg.until_revoked(&a).await }
        });
        reg.revoke(&b.name);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "another session's revocation ended this one's stream");
        reg.revoke(&SessionName::parse("a").unwrap());
        tokio::time::timeout(std::time::Duration::from_secs(2), waiting).await.unwrap().unwrap();
    }
}
