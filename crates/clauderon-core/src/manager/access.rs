//! What the proxy knows of sessions — who may use it (identities), what each may do (access
//! mode, extra hosts, budget) and what each has spent — behind one interface the manager calls.
//! The proxy reads these on every request; only the manager changes them, in step with the
//! sessions.

use super::policy::policy_of;
use clauderon_proxy::identity::{IdentityRegistry, SessionIdentity};
use clauderon_proxy::policy::{SessionPolicies, Spent};
use clauderon_types::{Session, SessionId, SessionName};
use std::sync::Arc;

/// The proxy's live view of sessions; a cheap clone.
#[derive(Clone, Default)]
pub struct SessionAccess {
    identities: Arc<IdentityRegistry>,
    policies: Arc<SessionPolicies>,
}

/// What [`super::SessionManager::restore_access`] put back at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restored {
    /// Sessions with a proxy identity.
    pub identities: usize,
    /// Sessions with stored spending.
    pub spending: usize,
}

impl SessionAccess {
    /// Over the proxy's registry and policies (`clauderon_proxy::BoundProxy` gives both).
    pub fn new(identities: Arc<IdentityRegistry>, policies: Arc<SessionPolicies>) -> Self {
        SessionAccess { identities, policies }
    }

    /// Let `session` in with `secret`, under its current settings.
    pub(super) fn grant(&self, session: &Session, secret: String) {
        self.sync(session);
        self.grant_identity(session.id, session.name.clone(), secret);
    }

    pub(super) fn grant_identity(&self, session_id: SessionId, name: SessionName, secret: String) {
        self.identities.insert(SessionIdentity::agent(session_id, name), secret);
    }

    /// A proxy identity for clauderon itself to ship `session`'s work to `host` (read-write, that
    /// host only); it stops working when the returned pass is dropped.
    pub(super) fn ship_pass(&self, session: &Session, host: &str) -> ShipPass {
        let identity = SessionIdentity::ship(session.id, session.name.clone(), host);
        let secret = clauderon_proxy::identity::new_secret();
        self.identities.insert(identity.clone(), secret.clone());
        ShipPass { identities: self.identities.clone(), identity, secret }
    }

    /// Publish the session's current settings.
    pub(super) fn sync(&self, session: &Session) {
        self.policies.set(session.id, policy_of(session));
    }

    /// Shut the session out and forget its settings and spending.
    pub(super) fn revoke(&self, session: &Session) {
        self.identities.revoke(&session.name);
        self.policies.remove(session.id);
    }

    /// What a session spent so far (kept in memory, restored from the store at start).
    pub(super) fn spent(&self, id: SessionId) -> Spent {
        self.policies.spent(id)
    }

    /// Add to what a session spent; returns the totals before and after.
    pub(super) fn add_spent(&self, id: SessionId, tokens: u64, usd: f64) -> (Spent, Spent) {
        let before = self.policies.spent(id);
        (before, self.policies.add_spent(id, tokens, usd))
    }
}

/// A live shipping identity; revoked on drop, however the push or request using it ends.
pub(super) struct ShipPass {
    identities: Arc<IdentityRegistry>,
    identity: SessionIdentity,
    secret: String,
}

impl ShipPass {
    pub(super) fn user(&self) -> String {
        self.identity.user()
    }

    pub(super) fn secret(&self) -> &str {
        &self.secret
    }
}

impl Drop for ShipPass {
    fn drop(&mut self) {
        self.identities.revoke_identity(&self.identity);
    }
}
