//! Snapshots of every screen and dialog on ratatui's `TestBackend` (insta): 80×24, 300×80 and
//! names longer than any column.
#![allow(clippy::unwrap_used)]

mod fixture;

use clauderon_tui::{Event, PageKind, update};
use clauderon_types::SessionStatus;
use crossterm::event::KeyCode;
use fixture::*;

#[test]
fn list_at_80x24() {
    let state = loaded(some_sessions());
    let s = screen(&state, 80, 24);
    // Waiting for input floats to the top and is marked.
    let first_row = s.lines().nth(3).unwrap();
    assert!(first_row.contains("▶◆") && first_row.contains("docs-pass"), "{s}");
    // Cost so far, from the list's costs; "-" for a session with no priced call.
    let row = |name: &str| s.lines().find(|l| l.contains(name)).unwrap().to_string();
    assert!(row("fix-login").contains("$0.42") && row("add-tests").contains("$12.50"), "{s}");
    assert!(row("broken").contains(" - "), "{s}");
    insta::assert_snapshot!(s);
}

#[test]
fn list_at_300x80_puts_details_beside_the_list() {
    let state = loaded(some_sessions());
    let s = screen(&state, 300, 80);
    let row =
        s.lines().find(|l| l.contains("docs-pass") && l.contains("Details")).or_else(|| s.lines().nth(1));
    assert!(row.unwrap().contains("Details"), "{s}");
    insta::assert_snapshot!(s);
}

#[test]
fn long_names_are_cut_not_wrapped() {
    let long = "a-very-long-session-name-that-goes-on-and-on-past-every-column";
    let state = loaded(vec![
        session(1, long, SessionStatus::Running, 1),
        session(2, "short", SessionStatus::Idle, 2),
    ]);
    let s = screen(&state, 80, 24);
    assert!(s.lines().all(|l| l.chars().count() <= 80));
    insta::assert_snapshot!(s);
}

#[test]
fn empty_list_says_what_to_do() {
    let s = screen(&loaded(vec![]), 80, 24);
    assert!(s.contains("Press c to create one"), "{s}");
}

#[test]
fn reconnecting_is_shown_in_the_title() {
    let mut state = loaded(some_sessions());
    update(&mut state, Event::Disconnected("the daemon is not running".into()));
    let s = screen(&state, 80, 24);
    assert!(s.lines().next().unwrap().contains("reconnecting… (the daemon i"), "{s}");
}

#[test]
fn help_dialog() {
    let mut state = loaded(some_sessions());
    update(&mut state, key('?'));
    insta::assert_snapshot!(screen(&state, 80, 24));
}

#[test]
fn filter_prompt() {
    let mut state = loaded(some_sessions());
    for c in "/fix".chars() {
        update(&mut state, key(c));
    }
    let s = screen(&state, 80, 24);
    assert!(s.contains("filter: fix") && s.contains("fix-login") && !s.contains("add-tests"), "{s}");
    insta::assert_snapshot!(s);
}

#[test]
fn send_dialog() {
    let mut state = loaded(some_sessions());
    update(&mut state, key('s'));
    for c in "run the tests".chars() {
        update(&mut state, key(c));
    }
    insta::assert_snapshot!(screen(&state, 80, 24));
}

#[test]
fn delete_dialog_and_its_refusal() {
    let mut state = loaded(some_sessions());
    update(&mut state, key('d'));
    update(&mut state, key('b'));
    insta::assert_snapshot!("delete_dialog", screen(&state, 80, 24));
    update(&mut state, code(KeyCode::Enter));
    update(
        &mut state,
        Event::Failed {
            message: "The worktree has uncommitted changes: commit them, or delete with force.".into(),
            conflict: true,
        },
    );
    let s = screen(&state, 80, 24);
    assert!(s.contains("uncommitted changes"), "{s}");
    insta::assert_snapshot!("delete_dialog_refused", s);
}

#[test]
fn create_dialog_with_an_error_by_its_field() {
    let mut state = loaded(some_sessions());
    update(&mut state, key('c'));
    update(&mut state, code(KeyCode::Tab));
    for c in "first line".chars() {
        update(&mut state, key(c));
    }
    update(&mut state, code(KeyCode::Enter));
    for c in "second".chars() {
        update(&mut state, key(c));
    }
    update(&mut state, Event::CreateFailed("Docker is not running: start it, or pick zellij.".into()));
    let s = screen(&state, 100, 30);
    let error_line = s.lines().position(|l| l.contains("✗ Docker is not running")).unwrap();
    assert!(s.lines().nth(error_line - 1).unwrap().contains("Backend"), "{s}");
    insta::assert_snapshot!(s);
}

#[test]
fn pages_logs_usage_chat() {
    for (k, kind) in [('l', PageKind::Logs), ('u', PageKind::Usage), ('t', PageKind::Chat)] {
        let mut state = loaded(some_sessions());
        update(&mut state, key(k));
        let loading = screen(&state, 80, 24);
        assert!(loading.contains("loading…"), "{loading}");
        let lines = (1..=40).map(|i| format!("{} line {i}", kind.title())).collect();
        update(&mut state, Event::PageText { kind, session: "docs-pass".into(), lines });
        let s = screen(&state, 80, 24);
        if kind == PageKind::Usage {
            assert!(s.contains("Usage line 1") && !s.contains("Usage line 40"), "{s}");
        } else {
            // Logs and chat open at their end.
            assert!(s.contains(&format!("{} line 40", kind.title())), "{s}");
        }
        insta::assert_snapshot!(format!("page_{}", kind.title().to_lowercase()), s);
    }
}

#[test]
fn no_color_draws_no_colour() {
    let state = loaded(some_sessions());
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| clauderon_tui::draw(&state, f)).unwrap();
    let buffer = terminal.backend().buffer();
    assert!(
        buffer
            .content
            .iter()
            .all(|c| c.fg == ratatui::style::Color::Reset && c.bg == ratatui::style::Color::Reset)
    );
    let mut coloured = state.clone();
    coloured.color = true;
    terminal.draw(|f| clauderon_tui::draw(&coloured, f)).unwrap();
    assert!(terminal.backend().buffer().content.iter().any(|c| c.fg == ratatui::style::Color::Yellow));
}

#[test]
fn details_show_the_last_messages_and_recent_requests() {
    let mut state = loaded(some_sessions());
    update(
        &mut state,
        Event::Recent {
            session: "docs-pass".into(),
            chat: vec!["── assistant".into(), "  Shall I push?".into()],
            audit: vec!["12:00:01 POST api.anthropic.com/v1/messages 200".into()],
        },
    );
    // Another session's answer, late, is not shown.
    update(&mut state, Event::Recent { session: "broken".into(), chat: vec!["stale".into()], audit: vec![] });
    let s = screen(&state, 300, 80);
    assert!(
        s.contains("Shall I push?") && s.contains("POST api.anthropic.com") && !s.contains("stale"),
        "{s}"
    );
    update(&mut state, key('j'));
    assert!(!screen(&state, 300, 80).contains("Shall I push?"), "moving on clears them");
}
