//! `draw(state, frame)`: the screen from the state, nothing else. It never changes the state
//! and never does IO, so a `TestBackend` shows exactly what a terminal would.

use crate::form::{CreateForm, Field};
use crate::state::{ConfirmDelete, Connection, Mode, Page, State};
use clauderon_types::api::ListView;
use clauderon_types::{Session, SessionStatus};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, Wrap};

/// The footer's keys in the list.
const FOOTER: &str = "j/k move  / filter  Tab view  Enter attach  c create  s send  m mode  x stop/start  a archive  d delete  l logs  u usage  t chat  ? help  q quit";

/// The footer on a narrow screen.
const FOOTER_SHORT: &str = "j/k move  / filter  Enter attach  c create  s send  d delete  ? help  q quit";

/// Every key, for `?`.
pub const HELP: &[(&str, &str)] = &[
    ("j / k, ↓ / ↑", "move down / up"),
    ("g / G", "first / last session"),
    ("/", "filter by name, repo, branch or status (Enter keeps it, Esc clears it)"),
    ("Tab or v", "active → archived → all sessions"),
    ("Enter", "attach to the session's terminal (Ctrl-Q detaches, back here)"),
    ("c", "create a session"),
    ("s", "send a prompt to the agent"),
    ("m", "toggle access mode (read-only ↔ read-write)"),
    ("x", "stop a running session / start a stopped one"),
    ("a", "archive / unarchive"),
    ("d", "delete (asks first: force, delete branch)"),
    ("l", "the session's terminal output (logs)"),
    ("u", "token usage and cost"),
    ("t", "the agent's chat"),
    ("w", "the session's work: its diff against its base"),
    ("r", "reload the list"),
    ("q, Ctrl-C", "quit"),
];

/// A status's symbol and colour.
pub fn status_look(status: SessionStatus) -> (&'static str, Color) {
    match status {
        SessionStatus::WaitingForInput => ("◆", Color::Yellow),
        SessionStatus::Running => ("●", Color::Green),
        SessionStatus::Idle => ("○", Color::Blue),
        SessionStatus::Creating => ("◌", Color::Cyan),
        SessionStatus::Stopped => ("■", Color::Gray),
        SessionStatus::Failed => ("✗", Color::Red),
        SessionStatus::Deleting => ("…", Color::Magenta),
        SessionStatus::Deleted => ("·", Color::DarkGray),
    }
}

struct Paint {
    color: bool,
}

impl Paint {
    fn fg(&self, c: Color) -> Style {
        if self.color { Style::default().fg(c) } else { Style::default() }
    }
    fn bold(&self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }
    fn selected(&self) -> Style {
        if self.color {
            Style::default().bg(Color::DarkGray).add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::REVERSED)
        }
    }
}

pub fn draw(state: &State, frame: &mut Frame) {
    let paint = Paint { color: state.color };
    let area = frame.area();
    let [top, body, footer] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(3), Constraint::Length(1)]).areas(area);
    draw_title(state, &paint, frame, top);
    // Wide screens put the details beside the list, narrow ones under it.
    let (list_area, detail_area) = if body.width >= 140 {
        let [l, d] = Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(body);
        (l, d)
    } else {
        let [l, d] = Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(body);
        (l, d)
    };
    let rows = state.visible();
    let selected = state.selected_index(&rows);
    draw_list(state, &paint, &rows, selected, frame, list_area);
    draw_detail(state, &paint, selected.map(|i| rows[i]), frame, detail_area);
    draw_footer(state, &paint, frame, footer);
    match &state.mode {
        Mode::Help => draw_help(&paint, frame, area),
        Mode::Send { session, text } => draw_send(session, text, &paint, frame, area),
        Mode::ConfirmDelete(c) => draw_delete(c, &paint, frame, area),
        Mode::Create(form) => draw_create(form, &paint, frame, area),
        Mode::Page(page) => draw_page(page, frame, area),
        Mode::List | Mode::Filter => {}
    }
}

fn draw_title(state: &State, paint: &Paint, frame: &mut Frame, area: Rect) {
    let view = match state.view {
        ListView::Active => "active",
        ListView::Archived => "archived",
        ListView::All => "all",
    };
    let waiting = state.sessions.iter().filter(|s| s.status == SessionStatus::WaitingForInput).count();
    let mut spans = vec![
        Span::styled("clauderon", paint.bold()),
        Span::raw(format!("  {} sessions ({view})", state.sessions.len())),
    ];
    if waiting > 0 {
        spans.push(Span::styled(
            format!("  ◆ {waiting} waiting for you"),
            paint.fg(Color::Yellow).add_modifier(Modifier::BOLD),
        ));
    }
    match &state.connection {
        Connection::Live => {}
        Connection::Connecting => spans.push(Span::styled("  connecting…", paint.fg(Color::Cyan))),
        Connection::Reconnecting(why) => {
            spans.push(Span::styled(format!("  reconnecting… ({why})"), paint.fg(Color::Red)));
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn age(state: &State, s: &Session) -> String {
    let secs = (state.now - s.created_at).num_seconds().max(0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

/// The last path component of the repository: the full path is in the details.
fn repo_name(s: &Session) -> String {
    s.repo_path
        .file_name()
        .map_or_else(|| s.repo_path.to_string_lossy(), |n| n.to_string_lossy())
        .into_owned()
}

fn draw_list(
    state: &State,
    paint: &Paint,
    rows: &[&Session],
    selected: Option<usize>,
    frame: &mut Frame,
    area: Rect,
) {
    let title = if state.filter.is_empty() && state.mode != Mode::Filter {
        " Sessions ".to_string()
    } else {
        let cursor = if state.mode == Mode::Filter { "▏" } else { "" };
        format!(" Sessions — filter: {}{cursor} ", state.filter)
    };
    let block = Block::default().borders(Borders::ALL).title(title);
    let height = usize::from(area.height.saturating_sub(3)).max(1);
    // Only the rows on screen are built: a page at a time, so 10,000 sessions cost no more.
    let offset = selected.map_or(0, |i| i / height * height);
    let shown = rows.iter().enumerate().skip(offset).take(height).map(|(i, s)| {
        let (symbol, color) = status_look(s.status);
        let waiting = s.status == SessionStatus::WaitingForInput;
        let mark = if waiting { "▶" } else { " " };
        let mut row = Row::new(vec![
            Cell::from(Span::styled(format!("{mark}{symbol}"), paint.fg(color))),
            Cell::from(s.name.as_str().to_string()),
            Cell::from(repo_name(s)),
            Cell::from(s.backend.to_string()),
            Cell::from(s.agent.to_string()),
            Cell::from(if s.access_mode == clauderon_types::AccessMode::ReadOnly { "ro" } else { "rw" }),
            Cell::from(Span::styled(s.status.as_str().to_string(), paint.fg(color))),
            Cell::from(state.costs.get(s.name.as_str()).map_or_else(|| "-".to_string(), |usd| money(*usd))),
            Cell::from(age(state, s)),
        ]);
        if waiting {
            row = row.style(paint.bold());
        }
        if Some(i) == selected {
            row = row.style(paint.selected());
        }
        row
    });
    let widths = [
        Constraint::Length(2),
        Constraint::Fill(3),
        Constraint::Fill(2),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(3),
        Constraint::Length(17),
        Constraint::Length(7),
        Constraint::Length(4),
    ];
    let header =
        Row::new(["", "NAME", "REPO", "BACKEND", "AGENT", "RW", "STATUS", "COST", "AGE"]).style(paint.bold());
    let table = Table::new(shown, widths).header(header).block(block).column_spacing(1);
    frame.render_widget(table, area);
    if rows.is_empty() {
        let inner = Rect { x: area.x + 2, y: area.y + 2, width: area.width.saturating_sub(4), height: 1 };
        let text = if state.sessions.is_empty() {
            "No sessions here. Press c to create one, Tab for archived ones."
        } else {
            "Nothing matches the filter. Esc clears it."
        };
        frame.render_widget(Paragraph::new(text), inner);
    }
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[unit]) }
}

fn draw_detail(state: &State, paint: &Paint, s: Option<&Session>, frame: &mut Frame, area: Rect) {
    let block = Block::default().borders(Borders::ALL).title(" Details ");
    let Some(s) = s else {
        frame.render_widget(block, area);
        return;
    };
    let label = |k: &str| Span::styled(format!("{k:<9}"), paint.bold());
    let (symbol, color) = status_look(s.status);
    let mut lines = vec![
        Line::from(vec![
            label("Session"),
            Span::raw(s.name.as_str().to_string()),
            Span::raw("  "),
            Span::styled(format!("{symbol} {}", s.status), paint.fg(color)),
            Span::raw(if s.archived { "  (archived)" } else { "" }),
        ]),
        Line::from(vec![label("Repo"), Span::raw(s.repo_path.to_string_lossy().into_owned())]),
        Line::from(vec![label("Branch"), Span::raw(s.branch.clone())]),
        Line::from(vec![label("Worktree"), Span::raw(s.worktree_path.to_string_lossy().into_owned())]),
        Line::from(vec![
            label("Runs"),
            Span::raw(format!("{} · {} · {}", s.backend, s.agent, s.access_mode)),
        ]),
    ];
    let detail = state.detail.as_ref().filter(|d| d.session.name == s.name);
    let disk = detail.and_then(|d| d.worktree.disk_bytes).map_or_else(|| "…".to_string(), human_bytes);
    let cost = match (detail, state.detail_cost) {
        (_, Some(usd)) => format!("${usd:.2}"),
        (Some(_), None) => "$0.00 (no priced call yet)".to_string(),
        (None, None) => "…".to_string(),
    };
    lines.push(Line::from(vec![
        label("Disk"),
        Span::raw(disk),
        Span::raw("   "),
        label("Cost"),
        Span::raw(cost),
    ]));
    if let Some(err) = &s.error {
        lines.push(Line::from(vec![label("Error"), Span::styled(err.clone(), paint.fg(Color::Red))]));
    }
    if !state.detail_chat.is_empty() {
        lines.push(Line::from(Span::styled("Last messages", paint.bold())));
        let from = state.detail_chat.len().saturating_sub(6);
        lines.extend(state.detail_chat[from..].iter().map(|l| Line::from(format!("  {l}"))));
    }
    if !state.detail_audit.is_empty() {
        lines.push(Line::from(Span::styled("Recent requests", paint.bold())));
        lines.extend(state.detail_audit.iter().map(|l| Line::from(format!("  {l}"))));
    }
    lines.push(Line::from(Span::styled("Recent events", paint.bold())));
    match detail {
        None => lines.push(Line::from("  loading…")),
        Some(d) => {
            for ev in d.events.iter().rev().take(6) {
                let what = serde_json::to_value(&ev.kind)
                    .ok()
                    .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
                    .unwrap_or_default();
                lines.push(Line::from(format!("  {} {what}", ev.at.format("%H:%M:%S"))));
            }
        }
    }
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), area);
}

fn draw_footer(state: &State, paint: &Paint, frame: &mut Frame, area: Rect) {
    let line = match (&state.mode, &state.flash) {
        (Mode::Filter, _) => Line::from("Type to filter · Enter keep · Esc clear"),
        (_, Some(flash)) => Line::from(Span::styled(flash.clone(), paint.fg(Color::Yellow))),
        _ if area.width < 140 => Line::from(FOOTER_SHORT),
        _ => Line::from(FOOTER),
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// A box of `w`×`h` in the middle of `area`, clipped to it.
fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h }
}

fn dialog(frame: &mut Frame, area: Rect, title: &str) -> Block<'static> {
    frame.render_widget(Clear, area);
    Block::default().borders(Borders::ALL).title(format!(" {title} "))
}

fn draw_help(paint: &Paint, frame: &mut Frame, area: Rect) {
    let rect = centered(area, 78, HELP.len() as u16 + 4);
    let block = dialog(frame, rect, "Keys");
    let mut lines: Vec<Line> = HELP
        .iter()
        .map(|(k, what)| Line::from(vec![Span::styled(format!("{k:<14}"), paint.bold()), Span::raw(*what)]))
        .collect();
    lines.push(Line::from("Any key closes this."));
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}

fn draw_send(session: &str, text: &str, paint: &Paint, frame: &mut Frame, area: Rect) {
    let rect = centered(area, 70, 5);
    let block = dialog(frame, rect, &format!("Send to {session}"));
    let lines = vec![
        Line::from(vec![Span::styled("> ", paint.bold()), Span::raw(text.to_string()), Span::raw("▏")]),
        Line::from("Enter sends it (then Enter to the agent) · Esc cancels"),
    ];
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), rect);
}

fn checkbox(on: bool) -> &'static str {
    if on { "[x]" } else { "[ ]" }
}

fn draw_delete(c: &ConfirmDelete, paint: &Paint, frame: &mut Frame, area: Rect) {
    let rect = centered(area, 72, if c.refusal.is_some() { 11 } else { 8 });
    let block = dialog(frame, rect, &format!("Delete {}?", c.session));
    let mut lines =
        vec![Line::from("Its backend resource and its worktree go; the branch stays unless chosen.")];
    if let Some(why) = &c.refusal {
        lines.push(Line::from(Span::styled(
            format!("The daemon refused: {why}"),
            paint.fg(Color::Red).add_modifier(Modifier::BOLD),
        )));
        lines.push(Line::from("Press f to delete anyway: the uncommitted work is lost."));
    }
    lines.push(Line::from(format!("{} f  force (lose uncommitted work)", checkbox(c.force))));
    lines.push(Line::from(format!("{} b  also delete the branch", checkbox(c.delete_branch))));
    lines.push(Line::from(vec![
        Span::styled("y", paint.bold()),
        Span::raw(" / Enter delete · n / Esc keep it"),
    ]));
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), rect);
}

/// A text field's value, or what an empty one means when it is not being typed in.
fn or_default(value: &str, focused: bool, default: &str) -> String {
    if value.is_empty() && !focused { default.to_string() } else { value.to_string() }
}

fn draw_create(form: &CreateForm, paint: &Paint, frame: &mut Frame, area: Rect) {
    let rect = centered(area, 90, 25);
    let title = if form.submitting { "Create a session — creating…" } else { "Create a session" };
    let block = dialog(frame, rect, title);
    let mut lines = Vec::new();
    if let Some((None, message)) = &form.error {
        lines.push(Line::from(Span::styled(message.clone(), paint.fg(Color::Red))));
    }
    for field in Field::ALL {
        let focused = form.focus == field;
        let label_style = if focused {
            paint.bold().fg(if paint.color { Color::Cyan } else { Color::Reset })
        } else {
            Style::default()
        };
        let marker = if focused { "›" } else { " " };
        let value = match field {
            Field::Repo => form.repo.clone(),
            Field::Prompt => String::new(),
            Field::Backend => format!("‹ {} ›", form.backend()),
            Field::Agent => format!("‹ {} ›", form.agent()),
            Field::Access => format!("‹ {} ›", form.access()),
            Field::Model => or_default(&form.model, focused, "(the agent's default)"),
            Field::Image => or_default(&form.image, focused, "(clauderon's agent image)"),
            Field::Cpus => or_default(&form.cpus, focused, "(the daemon's default)"),
            Field::Memory => or_default(&form.memory, focused, "(the daemon's default)"),
            Field::Sandbox => match form.sandbox() {
                Some(level) => format!("‹ {level} ›"),
                None => "‹ default (full where bubblewrap works) ›".into(),
            },
        };
        let cursor = if focused && !field.is_choice() { "▏" } else { "" };
        lines.push(Line::from(vec![
            Span::styled(format!("{marker}{:<17}", field.label()), label_style),
            Span::raw(value),
            Span::raw(if field == Field::Prompt { "" } else { cursor }),
        ]));
        if field == Field::Prompt {
            let prompt_lines: Vec<&str> = form.prompt.split('\n').collect();
            let skip = prompt_lines.len().saturating_sub(5);
            for (i, l) in prompt_lines.iter().enumerate().skip(skip) {
                let end = if focused && i + 1 == prompt_lines.len() { "▏" } else { "" };
                lines.push(Line::from(format!("   │ {l}{end}")));
            }
        }
        if field == Field::Repo && focused && !form.recent.is_empty() {
            lines.push(Line::from(Span::styled(
                format!(
                    "   ↑/↓ recent: {}",
                    form.recent.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
                ),
                paint.fg(Color::DarkGray),
            )));
        }
        if let Some((Some(f), message)) = &form.error
            && *f == field
        {
            lines.push(Line::from(Span::styled(format!("   ✗ {message}"), paint.fg(Color::Red))));
        }
    }
    lines.push(Line::from(""));
    lines.push(Line::from(
        "Tab/Shift-Tab field · ←/→ choose · Enter new line in prompt · Ctrl-S create · Esc cancel",
    ));
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), rect);
}

fn draw_page(page: &Page, frame: &mut Frame, area: Rect) {
    let rect = Rect {
        x: area.x + 1,
        y: area.y + 1,
        width: area.width.saturating_sub(2),
        height: area.height.saturating_sub(2),
    };
    let block = dialog(
        frame,
        rect,
        &format!("{} — {} (j/k scroll, g/G ends, Esc back)", page.kind.title(), page.session),
    );
    let height = usize::from(rect.height.saturating_sub(2)).max(1);
    let lines: Vec<Line> = match &page.lines {
        None => vec![Line::from("loading…")],
        Some(lines) if lines.is_empty() => vec![Line::from("(nothing yet)")],
        Some(lines) => {
            // `scroll` is the last line shown, so a page opened at its end shows the latest.
            let end = (page.scroll + 1).max(height.min(lines.len())).min(lines.len());
            let start = end.saturating_sub(height);
            lines[start..end].iter().map(|l| Line::from(l.clone())).collect()
        }
    };
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}

/// `$0.42`; `$1234` past a thousand (the column is 7 wide).
fn money(usd: f64) -> String {
    if usd >= 1000.0 { format!("${usd:.0}") } else { format!("${usd:.2}") }
}
