//! `update` for every key: what it changes and which effects it asks for, no terminal.
#![allow(clippy::unwrap_used)]

mod fixture;

use clauderon_tui::{Effect, Event, Field, Mode, PageKind, update};
use clauderon_types::api::ListView;
use clauderon_types::{AccessMode, SessionStatus};
use crossterm::event::KeyCode;
use fixture::*;

fn selected(state: &clauderon_tui::State) -> String {
    state.selected_session().unwrap().name.to_string()
}

#[test]
fn j_k_arrows_g_and_shift_g_move_and_fetch_the_details() {
    let mut state = loaded(some_sessions());
    // Order: waiting first, then newest first.
    let order: Vec<String> = state.visible().iter().map(|s| s.name.to_string()).collect();
    assert_eq!(order, ["docs-pass", "broken", "fix-login", "add-tests", "old-spike"]);
    assert_eq!(selected(&state), "docs-pass");
    assert_eq!(update(&mut state, key('j')), vec![Effect::LoadDetail("broken".into())]);
    update(&mut state, code(KeyCode::Down));
    assert_eq!(selected(&state), "fix-login");
    update(&mut state, key('k'));
    assert_eq!(selected(&state), "broken");
    update(&mut state, code(KeyCode::Up));
    update(&mut state, code(KeyCode::Up));
    assert_eq!(selected(&state), "docs-pass");
    update(&mut state, key('G'));
    assert_eq!(selected(&state), "old-spike");
    assert_eq!(update(&mut state, key('j')), vec![], "past the end stays");
    update(&mut state, key('g'));
    assert_eq!(selected(&state), "docs-pass");
}

#[test]
fn the_selection_stays_on_its_session_when_the_list_reloads() {
    let mut state = loaded(some_sessions());
    update(&mut state, key('G'));
    let mut again = some_sessions();
    again.reverse();
    update(&mut state, Event::Sessions(again));
    assert_eq!(selected(&state), "old-spike");
}

#[test]
fn a_live_status_change_applies_in_place_and_a_waiting_session_floats_up() {
    let mut state = loaded(some_sessions());
    let ev: clauderon_types::SessionEvent = serde_json::from_value(serde_json::json!({
        "seq": 9, "session_id": "00000000-0000-4000-8000-000000000002", "session_name": "add-tests",
        "at": now(), "type": "status-changed", "from": "idle", "to": "waiting-for-input"
    }))
    .unwrap();
    assert_eq!(update(&mut state, Event::Live(Box::new(ev))), vec![]);
    let order: Vec<String> = state.visible().iter().map(|s| s.name.to_string()).collect();
    assert_eq!(&order[..2], ["docs-pass", "add-tests"]);
    let deleted: clauderon_types::SessionEvent = serde_json::from_value(serde_json::json!({
        "seq": 10, "session_id": "00000000-0000-4000-8000-000000000002", "session_name": "add-tests",
        "at": now(), "type": "deleted"
    }))
    .unwrap();
    assert_eq!(
        update(&mut state, Event::Live(Box::new(deleted))),
        vec![Effect::LoadSessions(ListView::Active)]
    );
}

#[test]
fn slash_filters_and_esc_clears() {
    let mut state = loaded(some_sessions());
    update(&mut state, key('/'));
    assert_eq!(state.mode, Mode::Filter);
    for c in "spike".chars() {
        update(&mut state, key(c));
    }
    assert_eq!(state.visible().len(), 1);
    assert_eq!(selected(&state), "old-spike");
    update(&mut state, code(KeyCode::Backspace));
    assert_eq!(state.filter, "spik");
    update(&mut state, code(KeyCode::Enter));
    assert_eq!((state.mode.clone(), state.visible().len()), (Mode::List, 1));
    update(&mut state, code(KeyCode::Esc));
    assert_eq!(state.visible().len(), 5);
}

#[test]
fn tab_cycles_active_archived_all_and_reloads() {
    let mut state = loaded(some_sessions());
    assert_eq!(update(&mut state, code(KeyCode::Tab)), vec![Effect::LoadSessions(ListView::Archived)]);
    assert_eq!(update(&mut state, key('v')), vec![Effect::LoadSessions(ListView::All)]);
    assert_eq!(update(&mut state, code(KeyCode::Tab)), vec![Effect::LoadSessions(ListView::Active)]);
    assert_eq!(update(&mut state, key('r')), vec![Effect::LoadSessions(ListView::Active)]);
}

#[test]
fn enter_attaches_to_the_selected_session() {
    let mut state = loaded(some_sessions());
    update(&mut state, key('j'));
    assert_eq!(update(&mut state, code(KeyCode::Enter)), vec![Effect::Attach("broken".into())]);
    assert_eq!(update(&mut state, Event::Attached(Ok(()))), vec![Effect::LoadSessions(ListView::Active)]);
    assert_eq!(selected(&state), "broken", "back where the user was");
}

#[test]
fn s_sends_a_prompt_and_esc_cancels() {
    let mut state = loaded(some_sessions());
    update(&mut state, key('s'));
    assert_eq!(update(&mut state, code(KeyCode::Enter)), vec![], "an empty prompt is not sent");
    for c in "go on".chars() {
        update(&mut state, key(c));
    }
    let effects = update(&mut state, code(KeyCode::Enter));
    assert_eq!(effects, vec![Effect::Send { session: "docs-pass".into(), text: "go on".into() }]);
    assert_eq!(state.mode, Mode::List);
    update(&mut state, key('s'));
    update(&mut state, key('x'));
    update(&mut state, code(KeyCode::Esc));
    assert_eq!(state.mode, Mode::List);
}

#[test]
fn m_toggles_the_access_mode() {
    let mut state = loaded(some_sessions());
    let mode = state.selected_session().unwrap().access_mode;
    let want = if mode == AccessMode::ReadOnly { AccessMode::ReadWrite } else { AccessMode::ReadOnly };
    assert_eq!(
        update(&mut state, key('m')),
        vec![Effect::SetAccess { session: "docs-pass".into(), mode: want }]
    );
}

#[test]
fn x_stops_a_running_session_and_starts_a_stopped_one() {
    let mut state = loaded(some_sessions());
    assert_eq!(update(&mut state, key('x')), vec![Effect::Stop("docs-pass".into())]);
    update(&mut state, key('G'));
    assert_eq!(update(&mut state, key('x')), vec![Effect::Start("old-spike".into())]);
}

#[test]
fn a_archives_and_unarchives() {
    let mut state = loaded(some_sessions());
    assert_eq!(update(&mut state, key('a')), vec![Effect::Archive("docs-pass".into())]);
    let mut archived = session(7, "shelved", SessionStatus::Stopped, 10);
    archived.archived = true;
    let mut state = loaded(vec![archived]);
    assert_eq!(update(&mut state, key('a')), vec![Effect::Unarchive("shelved".into())]);
}

#[test]
fn d_asks_first_then_deletes_with_the_choices_and_a_refusal_shows_in_the_dialog() {
    let mut state = loaded(some_sessions());
    assert_eq!(update(&mut state, key('d')), vec![]);
    assert!(matches!(state.mode, Mode::ConfirmDelete(_)));
    update(&mut state, key('b'));
    let effects = update(&mut state, key('y'));
    assert_eq!(
        effects,
        vec![Effect::Delete { session: "docs-pass".into(), force: false, delete_branch: true }]
    );
    update(&mut state, Event::Failed { message: "uncommitted changes".into(), conflict: true });
    let Mode::ConfirmDelete(c) = &state.mode else { panic!("the dialog stays open") };
    assert_eq!(c.refusal.as_deref(), Some("uncommitted changes"));
    update(&mut state, key('f'));
    let effects = update(&mut state, code(KeyCode::Enter));
    assert_eq!(
        effects,
        vec![Effect::Delete { session: "docs-pass".into(), force: true, delete_branch: true }]
    );
    update(&mut state, Event::Deleted("docs-pass".into()));
    assert_eq!(state.mode, Mode::List);
    update(&mut state, key('d'));
    update(&mut state, key('n'));
    assert_eq!(state.mode, Mode::List);
}

#[test]
fn l_u_t_open_pages_that_scroll_and_close() {
    for (k, kind) in [('l', PageKind::Logs), ('u', PageKind::Usage), ('t', PageKind::Chat)] {
        let mut state = loaded(some_sessions());
        assert_eq!(update(&mut state, key(k)), vec![Effect::Load { kind, session: "docs-pass".into() }]);
        let lines = (0..50).map(|i| i.to_string()).collect();
        update(&mut state, Event::PageText { kind, session: "docs-pass".into(), lines });
        update(&mut state, key('g'));
        update(&mut state, key('j'));
        update(&mut state, code(KeyCode::Down));
        let Mode::Page(p) = &state.mode else { panic!() };
        assert_eq!(p.scroll, 2);
        update(&mut state, key('k'));
        update(&mut state, key('G'));
        let Mode::Page(p) = &state.mode else { panic!() };
        assert_eq!(p.scroll, 49);
        update(&mut state, key('q'));
        assert_eq!(state.mode, Mode::List);
    }
}

#[test]
fn c_opens_the_create_dialog_which_creates_from_its_fields() {
    let mut state = loaded(some_sessions());
    update(&mut state, key('c'));
    let Mode::Create(form) = &state.mode else { panic!() };
    assert!(!form.repo.is_empty(), "starts from a recent repository");
    assert_eq!(update(&mut state, ctrl('s')), vec![], "no prompt yet");
    let Mode::Create(form) = &state.mode else { panic!() };
    assert_eq!(form.focus, Field::Prompt);
    for c in "do it".chars() {
        update(&mut state, key(c));
    }
    update(&mut state, code(KeyCode::Tab));
    update(&mut state, code(KeyCode::Right));
    let effects = update(&mut state, ctrl('s'));
    let [Effect::Create(req)] = effects.as_slice() else { panic!("{effects:?}") };
    assert_eq!((req.prompt.as_str(), req.backend.map(|b| b.to_string())), ("do it", Some("docker".into())));
    assert_eq!(update(&mut state, key('z')), vec![], "keys wait while it is created");
    update(&mut state, Event::CreateFailed("the prompt is too long".into()));
    let Mode::Create(form) = &state.mode else { panic!() };
    assert_eq!(form.error.as_ref().map(|e| e.0), Some(Some(Field::Prompt)));
    update(&mut state, code(KeyCode::Esc));
    assert_eq!(state.mode, Mode::List);
}

#[test]
fn question_mark_opens_help_and_any_key_closes_it() {
    let mut state = loaded(some_sessions());
    update(&mut state, key('?'));
    assert_eq!(state.mode, Mode::Help);
    update(&mut state, key('x'));
    assert_eq!(state.mode, Mode::List);
}

#[test]
fn q_and_ctrl_c_quit() {
    let mut state = loaded(some_sessions());
    assert_eq!(update(&mut state, key('q')), vec![Effect::Quit]);
    let mut state = loaded(some_sessions());
    update(&mut state, key('s'));
    assert_eq!(update(&mut state, ctrl('c')), vec![Effect::Quit], "even from a dialog");
}

#[test]
fn a_lost_daemon_is_shown_and_recovers_with_a_reload() {
    let mut state = loaded(some_sessions());
    update(&mut state, Event::Disconnected("gone".into()));
    assert_eq!(state.connection, clauderon_tui::Connection::Reconnecting("gone".into()));
    assert_eq!(update(&mut state, Event::Connected), vec![Effect::LoadSessions(ListView::Active)]);
}

#[test]
fn costs_are_read_again_every_few_ticks_while_connected_and_shown_from_the_last_read() {
    let mut state = loaded(some_sessions());
    let mut loads = 0;
    for _ in 0..clauderon_tui::COST_TICKS * 2 {
        let effects = update(&mut state, Event::Tick(now()));
        loads += effects.iter().filter(|e| **e == Effect::LoadCosts(ListView::Active)).count();
    }
    assert_eq!(loads, 2);
    update(&mut state, Event::Costs([("broken".to_string(), 3.0)].into_iter().collect()));
    assert_eq!(state.costs.get("broken"), Some(&3.0));
    assert_eq!(state.costs.get("fix-login"), None, "the last read replaces the one before");
    update(&mut state, Event::Disconnected("gone".into()));
    for _ in 0..clauderon_tui::COST_TICKS {
        assert!(update(&mut state, Event::Tick(now())).is_empty(), "no reads while the daemon is away");
    }
}

#[test]
fn the_create_dialog_carries_the_backends_options_and_says_which_one_is_wrong() {
    let mut form = clauderon_tui::CreateForm::new(vec!["/src/repo".into()]);
    form.prompt = "go".into();
    form.cpus = "lots".into();
    assert_eq!(form.request().unwrap_err().0, Field::Cpus);
    form.cpus = "1.5".into();
    form.memory = "2g".into();
    form.focus = Field::Sandbox;
    form.cycle(false);
    form.cycle(false);
    let req = form.request().unwrap();
    assert_eq!(req.options.milli_cpus, Some(1500));
    assert_eq!(req.options.memory_bytes, Some(2 << 30));
    assert_eq!(req.options.sandbox, Some(clauderon_types::SandboxLevel::Fs));
    form.memory = "-1".into();
    assert_eq!(form.request().unwrap_err().0, Field::Memory);
}

#[test]
fn w_opens_the_changes_page_of_the_selected_session() {
    let mut state = loaded(some_sessions());
    let effects = update(&mut state, key('w'));
    assert_eq!(effects, vec![Effect::Load { kind: PageKind::Changes, session: "docs-pass".into() }]);
    assert!(matches!(&state.mode, Mode::Page(p) if p.kind == PageKind::Changes));
}
