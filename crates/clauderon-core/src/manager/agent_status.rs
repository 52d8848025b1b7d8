//! What a session's agent reports about itself (working, waiting for input, idle), as its hooks
//! sent it through the proxy's internal host. The proxy has already authenticated the session:
//! the report applies to that session and no other.

use super::SessionManager;
use crate::error::CoreError;
use chrono::Utc;
use clauderon_types::{AgentStatus, Session, SessionId, SessionName, SessionStatus};
use std::time::Duration;

/// How long a report that arrives while its session is still being created waits for the
/// create to finish (an agent can report before the manager has recorded it as running).
pub const CREATING_WAIT: Duration = Duration::from_secs(3);

impl SessionManager {
    /// Apply an agent's status report to the session `id` (named `name` when the proxy
    /// authenticated it). A report that changes nothing writes nothing; one for a session that
    /// is not running (stopped, failed, being deleted) or no longer exists is refused with
    /// `Conflict` / `NotFound`, which the hook sees and nothing else does.
    pub async fn agent_status(
        &self,
        id: SessionId,
        name: &SessionName,
        status: AgentStatus,
    ) -> Result<Session, CoreError> {
        let gone = || {
            CoreError::NotFound(format!("session `{name}` no longer exists; its agent's report was dropped"))
        };
        let deadline = tokio::time::Instant::now() + CREATING_WAIT;
        loop {
            let session = self.get(name.as_str()).await.map_err(|_| gone())?;
            if session.id != id {
                return Err(gone());
            }
            if session.status != SessionStatus::Creating || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.with_session(name.as_str(), |mut s| async move {
            if s.id != id {
                return Err(gone());
            }
            if !s.status.is_active() {
                return Err(CoreError::Conflict(format!(
                    "session `{}` is {}: an agent's status counts only while the session runs",
                    s.name, s.status
                )));
            }
            let (next, effects) = s.lifecycle().apply(&status.transition())?;
            if next == s.lifecycle() {
                return Ok(s);
            }
            s.set_lifecycle(next);
            s.updated_at = Utc::now();
            let kinds = effects
                .into_iter()
                .filter_map(|e| match e {
                    clauderon_types::Effect::Emit(kind) => Some(kind),
                    _ => None,
                })
                .collect();
            self.commit(&s, kinds).await?;
            Ok(s)
        })
        .await
    }
}
