//! Hook deliveries: every run of a hook's command and every webhook attempt, as the delivery
//! log (`GET /api/hooks/deliveries`, `clauderon hooks log`) shows them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// How a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryOutcome {
    /// The command exited 0 / the webhook answered 2xx.
    Ok,
    /// A non-zero exit, a refused or failed webhook (after its retries).
    Failed,
    /// It ran past its timeout and was stopped.
    Timeout,
    /// The hook's queue was full: the event was not delivered to it.
    Dropped,
}

impl DeliveryOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Ok => "ok",
            DeliveryOutcome::Failed => "failed",
            DeliveryOutcome::Timeout => "timeout",
            DeliveryOutcome::Dropped => "dropped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ok" => DeliveryOutcome::Ok,
            "failed" => DeliveryOutcome::Failed,
            "timeout" => DeliveryOutcome::Timeout,
            "dropped" => DeliveryOutcome::Dropped,
            _ => return None,
        })
    }
}

/// One delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HookDelivery {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub hook: String,
    /// The event's type (`status-changed`, `created`, … or `test`).
    pub event: String,
    pub session_name: Option<String>,
    /// The event's sequence number (none for `hooks test`).
    pub seq: Option<i64>,
    /// `command` or the webhook's scheme and host (its path may hold a token: never shown).
    pub target: String,
    pub outcome: DeliveryOutcome,
    /// The exit code of a command, the HTTP status of a webhook's last attempt.
    pub status: Option<i64>,
    pub attempts: u32,
    pub duration_ms: u64,
    /// The command's output (capped) or what went wrong.
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HookDeliveryList {
    pub deliveries: Vec<HookDelivery>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Only deliveries after this id (to follow the log).
    pub after: Option<i64>,
    /// At most this many, newest last (default 100).
    pub limit: Option<usize>,
}
