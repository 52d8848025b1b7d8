//! What the manager does when `clauderon-fs` refused something a session planted in its HOME
//! (issue 11 §4): the refusal becomes a `containment-refused` event on the session (visible in
//! `clauderon show` and on `/ws/events`) and an error that says how to clear it. Nothing the
//! link pointed at is read, and its target is never named.

use super::SessionManager;
use crate::error::CoreError;
use chrono::Utc;
use clauderon_fs::{Place, Refusal};
use clauderon_types::{EventKind, Session};

/// The event recording `r`, refused while doing `during`.
fn event(during: &str, r: &Refusal) -> EventKind {
    EventKind::ContainmentRefused {
        during: during.to_string(),
        place: r.place.as_str().to_string(),
        path: r.path.clone(),
        found: r.found.as_str().to_string(),
    }
}

impl SessionManager {
    /// The error for `r` on session `s`, with the command that clears it (`then`: what to run
    /// once it is gone).
    fn refusal_error(&self, s: &Session, r: &Refusal, then: &str) -> CoreError {
        let root = match r.place {
            Place::Home => self.inner.layout.session_home(s.name.as_str()),
        };
        let path = root.join(&r.path);
        CoreError::Refused(format!(
            "{r}: look at what the session did (`clauderon show {name}`), remove it with `rm '{path}'` \
             (that removes the link itself, not what it points at) and {then}, or `clauderon delete {name}`",
            name = s.name,
            path = path.display(),
        ))
    }

    /// Record `r` on `s` (whose lock the caller holds) and give the error to return.
    pub(super) async fn refused_locked(
        &self,
        s: &Session,
        during: &str,
        r: &Refusal,
        then: &str,
    ) -> CoreError {
        let mut s = s.clone();
        s.updated_at = Utc::now();
        if let Err(e) = self.commit(&s, vec![event(during, r)]).await {
            tracing::warn!(session = %s.name, error = %e, "could not record a containment refusal");
        }
        tracing::warn!(session = %s.name, place = r.place.as_str(), path = %r.path, found = r.found.as_str(), during, "refused what the session planted");
        self.refusal_error(&s, r, then)
    }

    /// Record `r` on `s` once per daemon run and path (a client polling the messages would
    /// otherwise add an event per read), and give the error to return.
    pub(super) async fn refused_once(&self, s: &Session, during: &str, r: &Refusal, then: &str) -> CoreError {
        let key = (s.id, format!("{during}:{}:{}", r.place.as_str(), r.path));
        let first = self.inner.reported_refusals.lock().map(|mut seen| seen.insert(key)).unwrap_or(true);
        if first && let Err(e) = self.record_event(s.name.as_str(), event(during, r)).await {
            tracing::warn!(session = %s.name, error = %e, "could not record a containment refusal");
        }
        self.refusal_error(s, r, then)
    }
}
