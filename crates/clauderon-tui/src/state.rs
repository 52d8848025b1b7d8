//! What the TUI knows, as plain data: the sessions, the selection, the open dialog. Only
//! [`crate::update`] changes it; [`crate::draw`] only reads it.

use crate::form::CreateForm;
use chrono::{DateTime, Utc};
use clauderon_types::api::{ListView, SessionDetail};
use clauderon_types::{Session, SessionStatus};

/// Whether the daemon answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Live,
    /// Lost; the runtime retries. The reason is shown.
    Reconnecting(String),
}

/// The text pages a key opens over the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    Logs,
    Usage,
    Chat,
    /// The session's work against its base (its diff).
    Changes,
}

impl PageKind {
    pub fn title(self) -> &'static str {
        match self {
            PageKind::Logs => "Logs",
            PageKind::Usage => "Usage",
            PageKind::Chat => "Chat",
            PageKind::Changes => "Changes",
        }
    }
}

/// A scrollable page of text about one session.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub kind: PageKind,
    pub session: String,
    /// `None` while loading.
    pub lines: Option<Vec<String>>,
    pub scroll: usize,
}

/// The delete confirmation: the choices the CLI's `delete` flags offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmDelete {
    pub session: String,
    pub force: bool,
    pub delete_branch: bool,
    /// The daemon's refusal (uncommitted work) from the last try, with what to do.
    pub refusal: Option<String>,
}

/// What has the keyboard.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    List,
    /// Typing the `/` filter.
    Filter,
    Help,
    /// Typing a prompt to send to the session.
    Send {
        session: String,
        text: String,
    },
    ConfirmDelete(ConfirmDelete),
    Create(Box<CreateForm>),
    Page(Page),
}

#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub sessions: Vec<Session>,
    pub view: ListView,
    /// The selected session's name: kept across reloads, so the cursor stays on it.
    pub selected: Option<String>,
    pub filter: String,
    pub mode: Mode,
    /// The selected session's details, once fetched.
    pub detail: Option<SessionDetail>,
    /// Total cost of the selected session, once fetched.
    pub detail_cost: Option<f64>,
    /// Every listed session's cost so far, by name, from the list (read again now and then).
    pub costs: std::collections::BTreeMap<String, f64>,
    /// Ticks seen (what paces the cost refresh).
    pub ticks: u64,
    /// The selected session's last chat lines (tool calls folded).
    pub detail_chat: Vec<String>,
    /// The selected session's latest proxy requests, one line each.
    pub detail_audit: Vec<String>,
    pub connection: Connection,
    /// The last outcome or error, in the footer.
    pub flash: Option<String>,
    pub color: bool,
    /// The clock ages are measured against (set by ticks, so drawing stays pure).
    pub now: DateTime<Utc>,
    /// Repositories of the sessions seen, newest first, for the create dialog.
    pub recent_repos: Vec<String>,
    pub quit: bool,
    /// The rows of the list as indices into `sessions`, in order; kept by [`State::reorder`]
    /// whenever the sessions or the filter change, so a frame never sorts 10,000 sessions.
    rows: Vec<usize>,
}

impl State {
    pub fn new(color: bool, now: DateTime<Utc>) -> Self {
        State {
            sessions: Vec::new(),
            view: ListView::Active,
            selected: None,
            filter: String::new(),
            mode: Mode::List,
            detail: None,
            detail_cost: None,
            costs: std::collections::BTreeMap::new(),
            ticks: 0,
            detail_chat: Vec::new(),
            detail_audit: Vec::new(),
            connection: Connection::Connecting,
            flash: None,
            color,
            now,
            recent_repos: Vec::new(),
            quit: false,
            rows: Vec::new(),
        }
    }

    /// The rows of the list, in order: sessions waiting for input first, then newest first;
    /// only those the filter matches (name, repo, branch, status, case-insensitive).
    pub fn visible(&self) -> Vec<&Session> {
        self.rows.iter().filter_map(|&i| self.sessions.get(i)).collect()
    }

    /// Recompute the rows after the sessions or the filter changed.
    pub fn reorder(&mut self) {
        let needle = self.filter.to_lowercase();
        let sessions = &self.sessions;
        let mut rows: Vec<usize> = (0..sessions.len())
            .filter(|&i| {
                let s = &sessions[i];
                needle.is_empty()
                    || s.name.as_str().to_lowercase().contains(&needle)
                    || s.repo_path.to_string_lossy().to_lowercase().contains(&needle)
                    || s.branch.to_lowercase().contains(&needle)
                    || s.status.as_str().contains(&needle)
            })
            .collect();
        rows.sort_by(|&a, &b| {
            let (a, b) = (&sessions[a], &sessions[b]);
            let wa = a.status == SessionStatus::WaitingForInput;
            let wb = b.status == SessionStatus::WaitingForInput;
            wb.cmp(&wa).then(b.created_at.cmp(&a.created_at)).then(a.name.as_str().cmp(b.name.as_str()))
        });
        self.rows = rows;
    }

    /// The selected row's index in [`State::visible`]; the first row when the selection is gone.
    pub fn selected_index(&self, rows: &[&Session]) -> Option<usize> {
        if rows.is_empty() {
            return None;
        }
        let found = self.selected.as_deref().and_then(|n| rows.iter().position(|s| s.name.as_str() == n));
        Some(found.unwrap_or(0))
    }

    pub fn selected_session(&self) -> Option<&Session> {
        let rows = self.visible();
        self.selected_index(&rows).map(|i| rows[i])
    }
}
