//! The session lifecycle as a pure state machine.
//!
//! `Lifecycle::apply` takes a transition and returns the next state and the
//! effects the caller must carry out (as data). It does no IO, so every rule
//! here is tested without a backend, a database or a clock.
//!
//! ```text
//! creating -> running <-> idle / waiting-for-input
//!                running | idle | waiting-for-input -> stopped -> running
//!  any live status -> failed            live = not deleting/deleted
//!  running | idle | waiting | stopped | failed -> deleting -> deleted
//!  archived is a flag beside the status: archive / unarchive
//! ```

use crate::event::EventKind;
pub use crate::status::SessionStatus;

/// Something that happened to a session, or that someone asked of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// The backend reports the session's process is up.
    Started,
    /// The agent reports it is working on something.
    AgentWorking,
    /// The agent finished and has nothing to do.
    AgentIdle,
    /// The agent is waiting for the user.
    AgentWaiting,
    /// The backend reports the process ended.
    Stopped,
    /// Something went wrong; the message is kept on the session.
    Fail(String),
    Archive,
    Unarchive,
    /// A user asked to delete the session.
    BeginDelete,
    /// The backend resource and the worktree are gone.
    Deleted,
}

impl Transition {
    fn label(&self) -> &'static str {
        match self {
            Transition::Started => "start",
            Transition::AgentWorking => "mark working",
            Transition::AgentIdle => "mark idle",
            Transition::AgentWaiting => "mark waiting for input",
            Transition::Stopped => "stop",
            Transition::Fail(_) => "fail",
            Transition::Archive => "archive",
            Transition::Unarchive => "unarchive",
            Transition::BeginDelete => "delete",
            Transition::Deleted => "finish deleting",
        }
    }
}

/// Work the caller must do because of a transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Destroy the backend resource (container, zellij session, pod…).
    DestroyBackend,
    /// Remove the session's git worktree.
    RemoveWorktree,
    /// Record and publish this event.
    Emit(EventKind),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} a session that is {from}{archived}", archived = if *archived { " (archived)" } else { "" })]
pub struct IllegalTransition {
    pub action: &'static str,
    pub from: SessionStatus,
    pub archived: bool,
}

/// The part of a session the state machine owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifecycle {
    pub status: SessionStatus,
    pub archived: bool,
}

impl Lifecycle {
    pub fn new() -> Self {
        Lifecycle { status: SessionStatus::Creating, archived: false }
    }

    /// Apply a transition: the next state and the effects to carry out, or why it is illegal.
    pub fn apply(self, t: &Transition) -> Result<(Lifecycle, Vec<Effect>), IllegalTransition> {
        use SessionStatus as S;
        let illegal = || IllegalTransition { action: t.label(), from: self.status, archived: self.archived };
        let to_status = |to: S| {
            let effects = if to == self.status {
                Vec::new()
            } else {
                vec![Effect::Emit(EventKind::StatusChanged { from: self.status, to })]
            };
            Ok((Lifecycle { status: to, ..self }, effects))
        };
        match t {
            Transition::Started => match self.status {
                S::Creating | S::Stopped | S::Failed => to_status(S::Running),
                s if s.is_active() => to_status(s),
                _ => Err(illegal()),
            },
            Transition::AgentWorking if self.status.is_active() => to_status(S::Running),
            Transition::AgentIdle if self.status.is_active() => to_status(S::Idle),
            Transition::AgentWaiting if self.status.is_active() => to_status(S::WaitingForInput),
            Transition::Stopped if self.status.is_active() || self.status == S::Stopped => {
                to_status(S::Stopped)
            }
            Transition::Fail(message) => match self.status {
                S::Deleted => Err(illegal()),
                from => Ok((
                    Lifecycle { status: S::Failed, ..self },
                    vec![Effect::Emit(EventKind::Failed { from, message: message.clone() })],
                )),
            },
            Transition::Archive if self.status.is_settled() && !self.archived => {
                Ok((Lifecycle { archived: true, ..self }, vec![Effect::Emit(EventKind::Archived)]))
            }
            Transition::Unarchive if self.archived && self.status.is_settled() => {
                Ok((Lifecycle { archived: false, ..self }, vec![Effect::Emit(EventKind::Unarchived)]))
            }
            Transition::BeginDelete if self.status.is_settled() => Ok((
                Lifecycle { status: S::Deleting, ..self },
                vec![
                    Effect::Emit(EventKind::StatusChanged { from: self.status, to: S::Deleting }),
                    Effect::DestroyBackend,
                    Effect::RemoveWorktree,
                ],
            )),
            Transition::Deleted if self.status == S::Deleting => {
                Ok((Lifecycle { status: S::Deleted, ..self }, vec![Effect::Emit(EventKind::Deleted)]))
            }
            _ => Err(illegal()),
        }
    }
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SessionStatus as S;
    use proptest::prelude::*;

    fn at(status: S) -> Lifecycle {
        Lifecycle { status, archived: false }
    }

    fn next(l: Lifecycle, t: Transition) -> Result<Lifecycle, IllegalTransition> {
        l.apply(&t).map(|(n, _)| n)
    }

    #[test]
    fn happy_path_from_creating_to_deleted() {
        let mut l = Lifecycle::new();
        for (t, want) in [
            (Transition::Started, S::Running),
            (Transition::AgentWaiting, S::WaitingForInput),
            (Transition::AgentWorking, S::Running),
            (Transition::AgentIdle, S::Idle),
            (Transition::Stopped, S::Stopped),
            (Transition::Started, S::Running),
            (Transition::BeginDelete, S::Deleting),
            (Transition::Deleted, S::Deleted),
        ] {
            l = next(l, t.clone()).unwrap_or_else(|e| panic!("{t:?}: {e}"));
            assert_eq!(l.status, want);
        }
    }

    #[test]
    fn illegal_transitions_are_errors_with_a_readable_message() {
        let err = next(at(S::Creating), Transition::AgentIdle).err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("cannot mark idle a session that is creating")
        );
        assert!(next(at(S::Creating), Transition::BeginDelete).is_err());
        assert!(next(at(S::Deleted), Transition::Started).is_err());
        assert!(next(at(S::Deleted), Transition::Fail("x".into())).is_err());
        assert!(next(at(S::Running), Transition::Deleted).is_err());
        assert!(next(at(S::Deleting), Transition::Archive).is_err());
        assert!(next(at(S::Stopped), Transition::AgentWorking).is_err());
        assert!(next(at(S::Running), Transition::Unarchive).is_err());
    }

    #[test]
    fn archive_is_a_flag_beside_the_status() {
        let l = next(at(S::Idle), Transition::Archive).unwrap_or_else(|e| panic!("{e}"));
        assert!(l.archived);
        assert_eq!(l.status, S::Idle);
        let err = next(l, Transition::Archive).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("cannot archive a session that is idle (archived)"));
        let l = next(l, Transition::Unarchive).unwrap_or_else(|e| panic!("{e}"));
        assert!(!l.archived);
    }

    #[test]
    fn delete_asks_for_backend_and_worktree_removal() {
        let (_, effects) = at(S::Failed).apply(&Transition::BeginDelete).unwrap_or_else(|e| panic!("{e}"));
        assert!(effects.contains(&Effect::DestroyBackend));
        assert!(effects.contains(&Effect::RemoveWorktree));
    }

    #[test]
    fn unchanged_status_emits_nothing() {
        let (_, effects) = at(S::Idle).apply(&Transition::AgentIdle).unwrap_or_else(|e| panic!("{e}"));
        assert!(effects.is_empty());
    }

    fn any_transition() -> impl Strategy<Value = Transition> {
        prop_oneof![
            Just(Transition::Started),
            Just(Transition::AgentWorking),
            Just(Transition::AgentIdle),
            Just(Transition::AgentWaiting),
            Just(Transition::Stopped),
            "[a-z]{0,8}".prop_map(Transition::Fail),
            Just(Transition::Archive),
            Just(Transition::Unarchive),
            Just(Transition::BeginDelete),
            Just(Transition::Deleted),
        ]
    }

    proptest! {
        /// Whatever sequence is thrown at it, the machine never leaves `deleted`,
        /// only reaches `deleted` through `deleting`, and every accepted status
        /// change is announced by exactly one event.
        #[test]
        fn invariants_hold_for_any_sequence(ts in proptest::collection::vec(any_transition(), 0..40)) {
            let mut l = Lifecycle::new();
            for t in ts {
                match l.apply(&t) {
                    Ok((n, effects)) => {
                        prop_assert!(l.status != S::Deleted, "left deleted via {:?}", t);
                        if n.status == S::Deleted {
                            prop_assert_eq!(l.status, S::Deleting);
                        }
                        let emitted = effects.iter().filter(|e| matches!(e, Effect::Emit(_))).count();
                        if matches!(t, Transition::Fail(_)) {
                            // A failure is always announced, even a second one: its message is news.
                            prop_assert_eq!(emitted, 1);
                        } else {
                            prop_assert_eq!(emitted, usize::from(n != l));
                        }
                        l = n;
                    }
                    Err(e) => {
                        prop_assert_eq!(e.from, l.status);
                    }
                }
            }
        }
    }
}
