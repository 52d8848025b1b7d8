//! The session settings the proxy's policy reads on every request — access mode, extra
//! allowed hosts, budget — kept in step with the sessions, and the commands that change them.

use super::SessionManager;
use crate::error::CoreError;
use chrono::Utc;
use clauderon_proxy::policy::{Budget, SessionPolicy};
use clauderon_proxy::rules::HostPattern;
use clauderon_types::{EventKind, Session, SessionStatus};

/// Parse a session's extra hosts; the error names the bad one and the expected form.
pub(super) fn host_patterns(hosts: &[String]) -> Result<Vec<HostPattern>, CoreError> {
    HostPattern::parse_list(hosts).map_err(|e| CoreError::Invalid(format!("--allow-host: {e}")))
}

/// What the proxy's policy needs to know of a session.
pub(super) fn policy_of(session: &Session) -> SessionPolicy {
    SessionPolicy {
        access_mode: session.access_mode,
        // Validated when they were added; one that no longer parses is left out, not fatal.
        allow_hosts: session.options.allow_hosts.iter().filter_map(|h| HostPattern::parse(h).ok()).collect(),
        budget: Budget {
            max_tokens: session.options.budget_tokens,
            max_usd: session.options.budget_usd_cents.map(|c| c as f64 / 100.0),
        },
    }
}

fn refuse_if_deleting(s: &Session) -> Result<(), CoreError> {
    if s.status == SessionStatus::Deleting || s.status == SessionStatus::Deleted {
        return Err(CoreError::Conflict(format!("session `{}` is being deleted", s.name)));
    }
    Ok(())
}

impl SessionManager {
    /// Let a session reach one more host, from its very next request.
    pub async fn allow_host(&self, name: &str, host: &str) -> Result<Session, CoreError> {
        let pattern = HostPattern::parse(host).map_err(|e| CoreError::Invalid(e.to_string()))?;
        let host = pattern.to_string();
        self.with_session(name, |mut s| async move {
            refuse_if_deleting(&s)?;
            if !s.options.allow_hosts.contains(&host) {
                s.options.allow_hosts.push(host.clone());
                s.updated_at = Utc::now();
                self.commit(&s, vec![EventKind::HostAllowed { host }]).await?;
                self.inner.access.sync(&s);
            }
            Ok(s)
        })
        .await
    }

    /// Set (or clear, with `None`) a session's model budget; raising it lets a stopped session
    /// call models again at once.
    pub async fn set_budget(
        &self,
        name: &str,
        tokens: Option<u64>,
        usd_cents: Option<u64>,
    ) -> Result<Session, CoreError> {
        self.with_session(name, |mut s| async move {
            refuse_if_deleting(&s)?;
            s.options.budget_tokens = tokens;
            s.options.budget_usd_cents = usd_cents;
            s.updated_at = Utc::now();
            self.commit(&s, vec![EventKind::BudgetSet { tokens, usd_cents }]).await?;
            self.inner.access.sync(&s);
            Ok(s)
        })
        .await
    }

    /// Record model use reported by the proxy's meter; when it takes the session over its
    /// budget, say so once, as an event.
    pub async fn record_spending(&self, name: &str, tokens: u64, usd: f64) -> Result<(), CoreError> {
        let session = self.get(name).await?;
        let (before, after) = self.inner.access.add_spent(session.id, tokens, usd);
        let budget = policy_of(&session).budget;
        if let (None, Some(used)) = (budget.exceeded_by(&before), budget.exceeded_by(&after)) {
            self.with_session(name, |mut s| async move {
                s.updated_at = Utc::now();
                self.commit(&s, vec![EventKind::BudgetExceeded { used }]).await?;
                Ok(s)
            })
            .await?;
        }
        Ok(())
    }
}
