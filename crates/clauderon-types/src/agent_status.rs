//! What an agent reports about itself through its hooks (working, waiting for the user, idle),
//! and the internal host those reports go to. The hooks reach the daemon only through the
//! session's proxy: [`INTERNAL_HOST`] is a name that nothing but the proxy answers.

use crate::lifecycle::Transition;
use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

/// The host name the proxy answers itself for a session's own reports. `.internal` is reserved
/// for private use (ICANN, 2024): it never resolves on the internet.
pub const INTERNAL_HOST: &str = "clauderon.internal";

/// Where an agent's hooks send their status (plain HTTP through `HTTP_PROXY`).
pub const STATUS_PATH: &str = "/v1/status";

/// The URL the hooks post to.
pub fn status_url() -> String {
    format!("http://{INTERNAL_HOST}{STATUS_PATH}")
}

/// The agent's own account of what it is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AgentStatus {
    /// Working on a prompt (a prompt was submitted, a tool is about to run).
    Working,
    /// Waiting for the user (a question, a permission prompt).
    WaitingForInput,
    /// Done with its turn; nothing to do until it gets input.
    Idle,
}

impl AgentStatus {
    pub const ALL: &'static [AgentStatus] =
        &[AgentStatus::Working, AgentStatus::WaitingForInput, AgentStatus::Idle];

    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Working => "working",
            AgentStatus::WaitingForInput => "waiting-for-input",
            AgentStatus::Idle => "idle",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        AgentStatus::ALL.iter().copied().find(|st| st.as_str() == s)
    }

    /// The lifecycle transition this report asks for.
    pub fn transition(self) -> Transition {
        match self {
            AgentStatus::Working => Transition::AgentWorking,
            AgentStatus::WaitingForInput => Transition::AgentWaiting,
            AgentStatus::Idle => Transition::AgentIdle,
        }
    }
}

impl fmt::Display for AgentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body a hook posts to [`STATUS_PATH`]. Any other field is ignored: in particular, the
/// session a report applies to is always the one whose proxy identity sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StatusReport {
    pub status: AgentStatus,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{Lifecycle, SessionStatus};

    #[test]
    fn each_status_round_trips_and_maps_to_its_session_status() {
        for (s, session) in [
            (AgentStatus::Working, SessionStatus::Running),
            (AgentStatus::WaitingForInput, SessionStatus::WaitingForInput),
            (AgentStatus::Idle, SessionStatus::Idle),
        ] {
            assert_eq!(AgentStatus::parse(s.as_str()), Some(s));
            let json = serde_json::to_string(&StatusReport { status: s }).unwrap_or_default();
            assert_eq!(json, format!("{{\"status\":\"{s}\"}}"));
            let running = Lifecycle { status: SessionStatus::Running, archived: false };
            assert_eq!(running.apply(&s.transition()).map(|(l, _)| l.status), Ok(session));
        }
        assert_eq!(AgentStatus::parse("busy"), None);
        assert_eq!(status_url(), "http://clauderon.internal/v1/status");
    }

    #[test]
    fn unknown_fields_are_ignored_and_a_session_field_has_no_effect_on_the_type() {
        let r: StatusReport = serde_json::from_str(r#"{"status":"idle","session":"other"}"#)
            .unwrap_or(StatusReport { status: AgentStatus::Working });
        assert_eq!(r.status, AgentStatus::Idle);
    }
}
