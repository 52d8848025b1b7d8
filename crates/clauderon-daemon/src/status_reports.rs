//! The proxy's status sink: agents' reports (working, waiting for input, idle), which their
//! hooks send to the proxy's internal host, applied by the session manager.
//!
//! Like the usage sink, the sink itself holds no manager: the proxy's open connections hold the
//! sink, and must not keep the manager (and its store) open after the daemon stops. Reports
//! travel over a channel to a task that holds the manager; each is applied in a task of its own
//! (one session's report waiting for its create to finish must not hold up another's), and its
//! answer goes back to the waiting hook.

use clauderon_core::{CoreError, SessionManager};
use clauderon_proxy::identity::SessionIdentity;
use clauderon_proxy::status_host::{AgentStatus, StatusRefusal, StatusSink};
use http::StatusCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

/// Reports waiting to be applied; a full queue refuses new ones (503) rather than wait.
const QUEUE: usize = 1024;
/// How long a hook waits for its report to be applied.
pub const REPORT_TIMEOUT: Duration = Duration::from_secs(5);

struct Report {
    session: SessionIdentity,
    status: AgentStatus,
    answer: oneshot::Sender<Result<(), StatusRefusal>>,
}

pub struct StatusReports {
    queue: mpsc::Sender<Report>,
}

fn unavailable(message: &str) -> StatusRefusal {
    StatusRefusal { status: StatusCode::SERVICE_UNAVAILABLE, message: message.to_string() }
}

impl StatusReports {
    /// The sink, and the task that applies reports through `manager` until `shutdown`.
    pub fn start(
        manager: SessionManager,
        shutdown: watch::Receiver<bool>,
    ) -> (Arc<StatusReports>, JoinHandle<()>) {
        let (queue, mut rx) = mpsc::channel::<Report>(QUEUE);
        let mut shutdown = shutdown;
        let task = tokio::spawn(async move {
            let mut running = JoinSet::new();
            loop {
                tokio::select! {
                    report = rx.recv() => {
                        let Some(report) = report else { break };
                        let manager = manager.clone();
                        running.spawn(async move {
                            let applied = apply(&manager, &report.session, report.status).await;
                            let _ = report.answer.send(applied);
                        });
                    }
                    Some(_) = running.join_next(), if !running.is_empty() => {}
                    _ = shutdown.wait_for(|stop| *stop) => break,
                }
            }
            // Reports in flight finish (each is one short store write); then the manager goes.
            while running.join_next().await.is_some() {}
        });
        (Arc::new(StatusReports { queue }), task)
    }
}

async fn apply(
    manager: &SessionManager,
    session: &SessionIdentity,
    status: AgentStatus,
) -> Result<(), StatusRefusal> {
    match manager.agent_status(session.session_id, &session.name, status).await {
        Ok(s) => {
            tracing::debug!(session = %s.name, %status, now = %s.status, "agent status report");
            Ok(())
        }
        // Expected now and then (a hook firing as its session stops): the hook hears it, the log
        // only at debug level.
        Err(CoreError::Conflict(message)) => {
            tracing::debug!(session = %session.name, %status, %message, "agent status report refused");
            Err(StatusRefusal { status: StatusCode::CONFLICT, message })
        }
        Err(CoreError::NotFound(message)) => {
            tracing::debug!(session = %session.name, %status, %message, "agent status report for a gone session");
            Err(StatusRefusal { status: StatusCode::NOT_FOUND, message })
        }
        Err(e) => {
            tracing::warn!(session = %session.name, %status, error = %e, "could not apply an agent status report");
            Err(unavailable("the daemon could not record this status report; see its log"))
        }
    }
}

#[async_trait::async_trait]
impl StatusSink for StatusReports {
    async fn report(&self, session: &SessionIdentity, status: AgentStatus) -> Result<(), StatusRefusal> {
        let (answer, answered) = oneshot::channel();
        let report = Report { session: session.clone(), status, answer };
        if self.queue.try_send(report).is_err() {
            return Err(unavailable("the daemon is stopping or too busy to take status reports; try again"));
        }
        match tokio::time::timeout(REPORT_TIMEOUT, answered).await {
            Ok(Ok(applied)) => applied,
            Ok(Err(_)) => Err(unavailable("the daemon is stopping")),
            Err(_) => Err(unavailable("the daemon did not record the report in time; try again")),
        }
    }
}
