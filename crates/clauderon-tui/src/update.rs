//! `update(state, event) -> effects`: every key, API answer and tick goes through here, and
//! what must happen outside (an API call, an attach, quitting) comes back as [`Effect`]s.

use crate::form::{CreateForm, Field, field_of};
use crate::state::{ConfirmDelete, Connection, Mode, Page, PageKind, State};
use chrono::{DateTime, Utc};
use clauderon_types::api::{CreateSessionRequest, ListView, SessionDetail};
use clauderon_types::{AccessMode, EventKind, Session, SessionEvent, SessionStatus};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Something that happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Key(KeyEvent),
    /// The list for the current view.
    Sessions(Vec<Session>),
    Detail(Box<SessionDetail>),
    /// Every listed session's cost so far, by name (sessions with no priced call left out).
    Costs(std::collections::BTreeMap<String, f64>),
    /// The selected session's total cost (`None`: no priced call yet).
    Cost {
        session: String,
        usd: Option<f64>,
    },
    /// The selected session's last chat lines and recent proxy audit lines.
    Recent {
        session: String,
        chat: Vec<String>,
        audit: Vec<String>,
    },
    /// A live event from `/ws/events`.
    Live(Box<SessionEvent>),
    /// The daemon answers again / stopped answering.
    Connected,
    Disconnected(String),
    /// An action finished: what to say in the footer.
    Done(String),
    /// An action failed with the daemon's message; `conflict` when it refused (HTTP 409).
    Failed {
        message: String,
        conflict: bool,
    },
    /// A page's text arrived.
    PageText {
        kind: PageKind,
        session: String,
        lines: Vec<String>,
    },
    Created(Box<Session>),
    /// The session is deleted: the dialog closes.
    Deleted(String),
    CreateFailed(String),
    /// The screen was resized (redraw only).
    Resize,
    /// The clock moved (ages are redrawn).
    Tick(DateTime<Utc>),
    /// Back from an attach.
    Attached(Result<(), String>),
}

/// What the runtime must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    LoadSessions(ListView),
    /// The list again, for its costs only (spending has no live event).
    LoadCosts(ListView),
    LoadDetail(String),
    Send {
        session: String,
        text: String,
    },
    SetAccess {
        session: String,
        mode: AccessMode,
    },
    Stop(String),
    Start(String),
    Archive(String),
    Unarchive(String),
    Delete {
        session: String,
        force: bool,
        delete_branch: bool,
    },
    Load {
        kind: PageKind,
        session: String,
    },
    Create(Box<CreateSessionRequest>),
    /// Hand the screen to `clauderon attach NAME` and come back.
    Attach(String),
    Quit,
}

/// Costs are read again every this many ticks (30 s at the runtime's 5 s tick).
pub const COST_TICKS: u64 = 6;

pub fn update(state: &mut State, event: Event) -> Vec<Effect> {
    match event {
        Event::Key(key) => on_key(state, key),
        Event::Sessions(sessions) => {
            for s in &sessions {
                let repo = s.repo_path.to_string_lossy().into_owned();
                if !state.recent_repos.contains(&repo) {
                    state.recent_repos.push(repo);
                }
            }
            state.sessions = sessions;
            state.reorder();
            state.connection = Connection::Live;
            selection_changed(state)
        }
        Event::Detail(d) => {
            if state.selected_session().is_some_and(|s| s.name == d.session.name) {
                state.detail = Some(*d);
            }
            vec![]
        }
        Event::Costs(costs) => {
            state.costs = costs;
            vec![]
        }
        Event::Cost { session, usd } => {
            if state.selected_session().is_some_and(|s| s.name.as_str() == session) {
                state.detail_cost = usd;
            }
            vec![]
        }
        Event::Recent { session, chat, audit } => {
            if state.selected_session().is_some_and(|s| s.name.as_str() == session) {
                state.detail_chat = chat;
                state.detail_audit = audit;
            }
            vec![]
        }
        Event::Live(ev) => on_live(state, *ev),
        Event::Connected => {
            state.connection = Connection::Live;
            vec![Effect::LoadSessions(state.view)]
        }
        Event::Disconnected(reason) => {
            state.connection = Connection::Reconnecting(reason);
            vec![]
        }
        Event::Done(msg) => {
            state.flash = Some(msg);
            vec![Effect::LoadSessions(state.view)]
        }
        Event::Failed { message, conflict } => {
            if let Mode::ConfirmDelete(c) = &mut state.mode
                && conflict
            {
                c.refusal = Some(message);
                c.force = false;
                return vec![];
            }
            state.flash = Some(message);
            vec![]
        }
        Event::PageText { kind, session, lines } => {
            if let Mode::Page(p) = &mut state.mode
                && p.kind == kind
                && p.session == session
            {
                // Logs and chat open at their end, where the latest is.
                p.scroll = if matches!(kind, PageKind::Usage | PageKind::Changes) {
                    0
                } else {
                    lines.len().saturating_sub(1)
                };
                p.lines = Some(lines);
            }
            vec![]
        }
        Event::Created(s) => {
            state.flash = Some(format!("Created {}.", s.name));
            state.selected = Some(s.name.to_string());
            state.mode = Mode::List;
            vec![Effect::LoadSessions(state.view)]
        }
        Event::Deleted(name) => {
            if matches!(&state.mode, Mode::ConfirmDelete(c) if c.session == name) {
                state.mode = Mode::List;
            }
            state.flash = Some(format!("Deleted {name}."));
            vec![Effect::LoadSessions(state.view)]
        }
        Event::CreateFailed(message) => {
            if let Mode::Create(form) = &mut state.mode {
                form.submitting = false;
                form.error = Some((field_of(&message), message));
            } else {
                state.flash = Some(message);
            }
            vec![]
        }
        Event::Resize => vec![],
        Event::Tick(now) => {
            state.now = now;
            state.ticks = state.ticks.wrapping_add(1);
            if state.ticks.is_multiple_of(COST_TICKS) && state.connection == Connection::Live {
                vec![Effect::LoadCosts(state.view)]
            } else {
                vec![]
            }
        }
        Event::Attached(result) => {
            state.flash = result.err();
            vec![Effect::LoadSessions(state.view)]
        }
    }
}

/// A live event: status and access changes apply in place; anything that adds or removes a
/// row reloads the list.
fn on_live(state: &mut State, ev: SessionEvent) -> Vec<Effect> {
    let name = ev.session_name.as_str();
    let row = state.sessions.iter_mut().find(|s| s.name.as_str() == name);
    let mut effects = Vec::new();
    // The order depends on the status only through "waiting or not" (and the filter, which
    // may match a status): most changes leave it as it is, and 10,000 rows are not re-sorted.
    let mut moved = !state.filter.is_empty();
    match (&ev.kind, row) {
        (EventKind::StatusChanged { to, .. }, Some(s)) => {
            moved |= (s.status == SessionStatus::WaitingForInput) != (*to == SessionStatus::WaitingForInput);
            s.status = *to;
            s.updated_at = ev.at;
        }
        (EventKind::Failed { message, .. }, Some(s)) => {
            moved |= s.status == SessionStatus::WaitingForInput;
            s.status = SessionStatus::Failed;
            s.error = Some(message.clone());
        }
        (EventKind::AccessModeChanged { to, .. }, Some(s)) => s.access_mode = *to,
        (EventKind::HostAllowed { .. } | EventKind::BudgetSet { .. }, Some(_)) => {}
        _ => effects.push(Effect::LoadSessions(state.view)),
    }
    if moved {
        state.reorder();
    }
    if state.selected.as_deref() == Some(name) {
        if let Some(d) = &mut state.detail {
            d.events.push(ev.clone());
        }
        if let Some(s) = state.sessions.iter().find(|s| s.name.as_str() == name)
            && let Some(d) = &mut state.detail
        {
            d.session = s.clone();
        }
    }
    effects
}

/// After the rows or the selection changed: pin the selection and fetch its details.
fn selection_changed(state: &mut State) -> Vec<Effect> {
    let rows = state.visible();
    let name = state.selected_index(&rows).map(|i| rows[i].name.to_string());
    drop(rows);
    let changed = name != state.selected || state.detail.is_none();
    state.selected = name.clone();
    match name {
        Some(n) if changed => {
            if state.detail.as_ref().is_some_and(|d| d.session.name.as_str() != n) {
                clear_detail(state);
            }
            vec![Effect::LoadDetail(n)]
        }
        Some(_) => vec![],
        None => {
            state.detail = None;
            vec![]
        }
    }
}

fn move_to(state: &mut State, to: impl FnOnce(usize, usize) -> usize) -> Vec<Effect> {
    let rows = state.visible();
    if rows.is_empty() {
        return vec![];
    }
    let at = state.selected_index(&rows).unwrap_or(0);
    let next = to(at, rows.len()).min(rows.len() - 1);
    let name = rows[next].name.to_string();
    drop(rows);
    if state.selected.as_deref() == Some(name.as_str()) {
        return vec![];
    }
    state.selected = Some(name.clone());
    clear_detail(state);
    vec![Effect::LoadDetail(name)]
}

fn clear_detail(state: &mut State) {
    state.detail = None;
    state.detail_cost = None;
    state.detail_chat.clear();
    state.detail_audit.clear();
}

fn is_ctrl(key: &KeyEvent, c: char) -> bool {
    key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char(c)
}

fn on_key(state: &mut State, key: KeyEvent) -> Vec<Effect> {
    if is_ctrl(&key, 'c') {
        state.quit = true;
        return vec![Effect::Quit];
    }
    match &mut state.mode {
        Mode::List => on_list_key(state, key),
        Mode::Filter => {
            match key.code {
                KeyCode::Esc => {
                    state.filter.clear();
                    state.mode = Mode::List;
                }
                KeyCode::Enter => state.mode = Mode::List,
                KeyCode::Backspace => {
                    state.filter.pop();
                }
                KeyCode::Char(c) => state.filter.push(c),
                _ => return vec![],
            }
            state.reorder();
            selection_changed(state)
        }
        Mode::Help => {
            state.mode = Mode::List;
            vec![]
        }
        Mode::Send { session, text } => match key.code {
            KeyCode::Esc => {
                state.mode = Mode::List;
                vec![]
            }
            KeyCode::Enter if !text.trim().is_empty() => {
                let effect = Effect::Send { session: session.clone(), text: text.clone() };
                state.mode = Mode::List;
                vec![effect]
            }
            KeyCode::Backspace => {
                text.pop();
                vec![]
            }
            KeyCode::Char(c) => {
                text.push(c);
                vec![]
            }
            _ => vec![],
        },
        Mode::ConfirmDelete(c) => match key.code {
            KeyCode::Char('f') => {
                c.force = !c.force;
                vec![]
            }
            KeyCode::Char('b') => {
                c.delete_branch = !c.delete_branch;
                vec![]
            }
            KeyCode::Char('y') | KeyCode::Enter => {
                let effect = Effect::Delete {
                    session: c.session.clone(),
                    force: c.force,
                    delete_branch: c.delete_branch,
                };
                state.flash = Some(format!("Deleting {}…", c.session));
                vec![effect]
            }
            KeyCode::Char('n') | KeyCode::Esc | KeyCode::Char('q') => {
                state.mode = Mode::List;
                vec![]
            }
            _ => vec![],
        },
        Mode::Create(_) if key.code == KeyCode::Esc => {
            state.mode = Mode::List;
            vec![]
        }
        Mode::Create(form) => on_create_key(form, key),
        Mode::Page(page) => {
            let len = page.lines.as_ref().map_or(0, Vec::len);
            match key.code {
                KeyCode::Esc | KeyCode::Char('q') => state.mode = Mode::List,
                KeyCode::Char('j') | KeyCode::Down => {
                    page.scroll = (page.scroll + 1).min(len.saturating_sub(1))
                }
                KeyCode::Char('k') | KeyCode::Up => page.scroll = page.scroll.saturating_sub(1),
                KeyCode::PageDown | KeyCode::Char(' ') => {
                    page.scroll = (page.scroll + 20).min(len.saturating_sub(1));
                }
                KeyCode::PageUp => page.scroll = page.scroll.saturating_sub(20),
                KeyCode::Char('g') | KeyCode::Home => page.scroll = 0,
                KeyCode::Char('G') | KeyCode::End => page.scroll = len.saturating_sub(1),
                _ => {}
            }
            vec![]
        }
    }
}

fn on_list_key(state: &mut State, key: KeyEvent) -> Vec<Effect> {
    let selected =
        state.selected_session().map(|s| (s.name.to_string(), s.status, s.archived, s.access_mode));
    let open_page = |state: &mut State, kind: PageKind, name: String| {
        state.mode = Mode::Page(Page { kind, session: name.clone(), lines: None, scroll: 0 });
        vec![Effect::Load { kind, session: name }]
    };
    match key.code {
        KeyCode::Char('q') => {
            state.quit = true;
            vec![Effect::Quit]
        }
        KeyCode::Char('j') | KeyCode::Down => move_to(state, |at, _| at + 1),
        KeyCode::Char('k') | KeyCode::Up => move_to(state, |at, _| at.saturating_sub(1)),
        KeyCode::Char('g') | KeyCode::Home => move_to(state, |_, _| 0),
        KeyCode::Char('G') | KeyCode::End => move_to(state, |_, n| n - 1),
        KeyCode::Char('?') => {
            state.mode = Mode::Help;
            vec![]
        }
        KeyCode::Char('/') => {
            state.mode = Mode::Filter;
            vec![]
        }
        KeyCode::Esc => {
            state.flash = None;
            if state.filter.is_empty() {
                return vec![];
            }
            state.filter.clear();
            state.reorder();
            selection_changed(state)
        }
        KeyCode::Tab | KeyCode::Char('v') => {
            state.view = match state.view {
                ListView::Active => ListView::Archived,
                ListView::Archived => ListView::All,
                ListView::All => ListView::Active,
            };
            state.sessions.clear();
            state.reorder();
            vec![Effect::LoadSessions(state.view)]
        }
        KeyCode::Char('c') => {
            state.mode = Mode::Create(Box::new(CreateForm::new(state.recent_repos.clone())));
            vec![]
        }
        KeyCode::Char('r') => vec![Effect::LoadSessions(state.view)],
        _ => {
            let Some((name, status, archived, access)) = selected else {
                return vec![];
            };
            match key.code {
                KeyCode::Enter => vec![Effect::Attach(name)],
                KeyCode::Char('s') => {
                    state.mode = Mode::Send { session: name, text: String::new() };
                    vec![]
                }
                KeyCode::Char('m') => {
                    let mode = match access {
                        AccessMode::ReadOnly => AccessMode::ReadWrite,
                        AccessMode::ReadWrite => AccessMode::ReadOnly,
                    };
                    vec![Effect::SetAccess { session: name, mode }]
                }
                KeyCode::Char('x') => match status {
                    SessionStatus::Stopped | SessionStatus::Failed => vec![Effect::Start(name)],
                    _ => vec![Effect::Stop(name)],
                },
                KeyCode::Char('a') if archived => vec![Effect::Unarchive(name)],
                KeyCode::Char('a') => vec![Effect::Archive(name)],
                KeyCode::Char('d') => {
                    state.mode = Mode::ConfirmDelete(ConfirmDelete {
                        session: name,
                        force: false,
                        delete_branch: false,
                        refusal: None,
                    });
                    vec![]
                }
                KeyCode::Char('l') => open_page(state, PageKind::Logs, name),
                KeyCode::Char('u') => open_page(state, PageKind::Usage, name),
                KeyCode::Char('t') => open_page(state, PageKind::Chat, name),
                KeyCode::Char('w') => open_page(state, PageKind::Changes, name),
                _ => vec![],
            }
        }
    }
}

fn on_create_key(form: &mut CreateForm, key: KeyEvent) -> Vec<Effect> {
    if form.submitting {
        return vec![];
    }
    let submit = |form: &mut CreateForm| match form.request() {
        Ok(req) => {
            form.submitting = true;
            form.error = None;
            vec![Effect::Create(Box::new(req))]
        }
        Err((field, message)) => {
            form.focus = field;
            form.error = Some((Some(field), message));
            vec![]
        }
    };
    if is_ctrl(&key, 's') {
        return submit(form);
    }
    match key.code {
        KeyCode::Tab => form.next_field(false),
        KeyCode::BackTab => form.next_field(true),
        KeyCode::Enter if form.focus == Field::Prompt => form.prompt.push('\n'),
        KeyCode::Enter => return submit(form),
        KeyCode::Left if form.focus.is_choice() => form.cycle(true),
        KeyCode::Right | KeyCode::Char(' ') if form.focus.is_choice() => form.cycle(false),
        KeyCode::Up if form.focus == Field::Repo => form.pick_recent(true),
        KeyCode::Down if form.focus == Field::Repo => form.pick_recent(false),
        KeyCode::Backspace => {
            if let Some(t) = form.text_mut() {
                t.pop();
            }
        }
        KeyCode::Char(c) => {
            if let Some(t) = form.text_mut() {
                t.push(c);
            }
        }
        _ => {}
    }
    vec![]
}
