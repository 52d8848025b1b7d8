//! At start, compare what the store recorded with what the backends report:
//! fix statuses, and report (never delete) resources no session owns.

use super::SessionManager;
use crate::error::CoreError;
use clauderon_backend::{BackendHandle, BackendStatus};
use clauderon_types::api::{ListView, OrphanResource, ReconcileReport};
use clauderon_types::{Session, SessionId, SessionStatus, Transition};
use std::collections::HashSet;

/// What a recorded session should become, given what its backend says.
pub(crate) fn decide(session: &Session, seen: Option<BackendStatus>) -> Option<Transition> {
    use SessionStatus as S;
    match (session.status, seen) {
        (S::Creating, _) => {
            Some(Transition::Fail("the daemon stopped while the session was being created".into()))
        }
        (S::Deleting, _) => Some(Transition::Fail(format!(
            "the daemon stopped while deleting this session: run `clauderon delete {}` again",
            session.name
        ))),
        (s, Some(BackendStatus::Missing)) if s.is_active() || s == S::Stopped => {
            Some(Transition::Fail(format!(
                "its {} resource `{}` no longer exists",
                session.backend,
                session.backend_handle.as_deref().unwrap_or("?")
            )))
        }
        (s, Some(BackendStatus::Stopped)) if s.is_active() => Some(Transition::Stopped),
        (S::Stopped, Some(BackendStatus::Running)) => Some(Transition::Started),
        _ => None,
    }
}

pub(crate) async fn run(manager: &SessionManager) -> Result<ReconcileReport, CoreError> {
    let mut report = ReconcileReport::default();
    let sessions = manager.list(ListView::All).await?;
    let known: HashSet<SessionId> = sessions.iter().map(|s| s.id).collect();

    for (kind, backend) in manager.backends() {
        match backend.list().await {
            Ok(resources) => {
                for r in resources {
                    if !r.session_id.is_some_and(|id| known.contains(&id)) {
                        tracing::warn!(backend = %kind, handle = r.handle.as_str(), "resource without a session (left alone)");
                        report.orphans.push(OrphanResource {
                            backend: *kind,
                            handle: r.handle.0,
                            detail: r.detail,
                        });
                    }
                }
            }
            Err(e) => report.unreachable.push(format!("{kind}: {e}")),
        }
    }

    for session in sessions {
        let seen = match (manager.backends().get(&session.backend), &session.backend_handle) {
            (Some(backend), Some(handle)) => match backend.status(&BackendHandle(handle.clone())).await {
                Ok(status) => Some(status),
                Err(e) => {
                    report.unreachable.push(format!("{}: {e}", session.name));
                    None
                }
            },
            (Some(_), None) if session.status.is_active() => Some(BackendStatus::Missing),
            _ => None,
        };
        if let Some(t) = decide(&session, seen) {
            let from = session.status;
            match manager.apply_report(session.name.as_str(), t).await {
                Ok(after) => {
                    let why = after.error.clone().unwrap_or_else(|| "backend reports it".into());
                    let line = format!("{}: {from} -> {} ({why})", session.name, after.status);
                    tracing::info!("reconcile: {line}");
                    report.fixed.push(line);
                }
                Err(e) => report.unreachable.push(format!("{}: could not fix status: {e}", session.name)),
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(status: SessionStatus) -> Session {
        Session { status, backend_handle: Some("h".into()), ..clauderon_testkit::session::sample("r") }
    }

    #[test]
    fn decisions() {
        use BackendStatus as B;
        use SessionStatus as S;
        let fails = |t: Option<Transition>| matches!(t, Some(Transition::Fail(_)));
        assert!(fails(decide(&at(S::Creating), Some(B::Running))), "interrupted create");
        assert!(fails(decide(&at(S::Deleting), None)), "interrupted delete");
        assert!(fails(decide(&at(S::Idle), Some(B::Missing))));
        assert_eq!(decide(&at(S::Running), Some(B::Stopped)), Some(Transition::Stopped));
        assert_eq!(decide(&at(S::Stopped), Some(B::Running)), Some(Transition::Started));
        assert_eq!(decide(&at(S::Running), Some(B::Running)), None);
        assert_eq!(decide(&at(S::Failed), Some(B::Missing)), None, "a failed session stays failed");
        assert_eq!(decide(&at(S::Running), None), None, "unknown backend state changes nothing");
    }
}
