//! How things look: aligned tables, colours on a terminal, sizes and ages, and writing to stdout.

mod diff;
mod messages;
mod proxy;
mod usage;

pub use proxy::AuditTable;

use crate::cli::ColorChoice;
use chrono::{DateTime, Utc};
use clauderon_types::api::SessionDetail;
use clauderon_types::{EventKind, Session, SessionEvent, SessionStatus};
use comfy_table::{Attribute, Cell, Color, ContentArrangement, Table, presets};
use std::ffi::OsStr;
use std::io::Write;

/// `show` lists this many of the latest events; `--json` has them all.
const RECENT_EVENTS: usize = 20;
/// `show` cuts the prompt to this much; `--json` has it all.
const PROMPT_LINES: usize = 6;
const PROMPT_CHARS: usize = 600;

/// Print `text` and a newline. A closed pipe (`clauderon list | head -1`) is not an error.
pub fn emit(text: &str) -> anyhow::Result<()> {
    emit_open(text).map(drop)
}

/// Like `emit`, and says whether anyone still reads: `false` once the pipe is closed, so a
/// command that keeps printing (`audit --follow | head`) knows to stop.
pub fn emit_open(text: &str) -> anyhow::Result<bool> {
    write_stdout(text, true)
}

/// Print `text` byte for byte, adding a newline only if it lacks one (a PEM file to redirect).
pub fn emit_raw(text: &str) -> anyhow::Result<()> {
    write_stdout(text, !text.ends_with('\n')).map(drop)
}

fn write_stdout(text: &str, newline: bool) -> anyhow::Result<bool> {
    let mut out = std::io::stdout().lock();
    let written = out
        .write_all(text.as_bytes())
        .and_then(|()| if newline { out.write_all(b"\n") } else { Ok(()) })
        .and_then(|()| out.flush());
    match written {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(anyhow::Error::new(e).context("writing to stdout")),
    }
}

pub fn emit_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    emit(&serde_json::to_string_pretty(value)?)
}

/// Colours or not, decided once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub fn detect(choice: ColorChoice) -> Self {
        use std::io::IsTerminal;
        let no_color = std::env::var_os("NO_COLOR");
        Style::decide(choice, no_color.as_deref(), std::io::stdout().is_terminal())
    }

    /// `--color always|never` wins; in `auto`, a non-empty NO_COLOR or a non-terminal means none.
    pub fn decide(choice: ColorChoice, no_color: Option<&OsStr>, stdout_is_terminal: bool) -> Self {
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => no_color.is_none_or(OsStr::is_empty) && stdout_is_terminal,
        };
        Style { color }
    }

    fn table(&self) -> Table {
        let mut t = Table::new();
        t.load_preset(presets::NOTHING).set_content_arrangement(ContentArrangement::Disabled);
        if self.color {
            t.enforce_styling();
        } else {
            t.force_no_tty();
        }
        t
    }

    fn paint(&self, text: impl ToString, color: Color) -> Cell {
        let cell = Cell::new(text);
        if self.color { cell.fg(color) } else { cell }
    }

    fn status_cell(&self, status: SessionStatus) -> Cell {
        let color = match status {
            SessionStatus::Running => Color::Green,
            SessionStatus::Idle | SessionStatus::WaitingForInput => Color::Yellow,
            SessionStatus::Failed => Color::Red,
            SessionStatus::Creating | SessionStatus::Deleting => Color::Cyan,
            SessionStatus::Stopped | SessionStatus::Deleted => Color::DarkGrey,
        };
        self.paint(status.as_str(), color)
    }

    fn header(&self, names: &[&str]) -> Vec<Cell> {
        names
            .iter()
            .map(|n| if self.color { Cell::new(n).add_attribute(Attribute::Bold) } else { Cell::new(n) })
            .collect()
    }

    pub fn sessions_table(&self, sessions: &[Session], now: DateTime<Utc>) -> String {
        if sessions.is_empty() {
            return "no sessions: create one with `clauderon create --repo PATH --prompt TEXT`".to_string();
        }
        let mut t = self.table();
        let with_prs = sessions.iter().any(|s| s.pull_request.is_some());
        let mut header = vec!["NAME", "STATUS", "BACKEND", "AGENT", "ACCESS", "AGE", "REPOSITORY"];
        if with_prs {
            header.push("PR");
        }
        t.set_header(self.header(&header));
        for s in sessions {
            let name = if s.archived { format!("{} (archived)", s.name) } else { s.name.to_string() };
            let mut row = vec![
                Cell::new(name),
                self.status_cell(s.status),
                Cell::new(s.backend.as_str()),
                Cell::new(s.agent.as_str()),
                Cell::new(s.access_mode.as_str()),
                Cell::new(age(now, s.created_at)),
                Cell::new(s.repo_path.display()),
            ];
            if with_prs {
                let pr = s.pull_request.as_ref().map(|p| format!("#{} {}", p.number, p.state.as_str()));
                row.push(Cell::new(pr.unwrap_or_else(|| "-".to_string())));
            }
            t.add_row(row);
        }
        finish(t)
    }

    pub fn session_detail(&self, d: &SessionDetail, now: DateTime<Utc>) -> String {
        let s = &d.session;
        let when =
            |at: DateTime<Utc>| format!("{} ({} ago)", at.format("%Y-%m-%d %H:%M:%S UTC"), age(now, at));
        let disk = match (d.worktree.exists, d.worktree.disk_bytes) {
            (true, Some(b)) => human_bytes(b),
            (true, None) => "unknown".to_string(),
            (false, _) => "missing".to_string(),
        };
        let mut rows: Vec<(&str, Cell)> = vec![
            ("name", Cell::new(s.name.as_str())),
            ("id", Cell::new(s.id)),
            ("status", self.status_cell(s.status)),
            ("archived", Cell::new(if s.archived { "yes" } else { "no" })),
            ("backend", Cell::new(s.backend.as_str())),
            ("handle", Cell::new(s.backend_handle.as_deref().unwrap_or("-"))),
            ("agent", Cell::new(s.agent.as_str())),
            ("access mode", Cell::new(s.access_mode.as_str())),
            ("repository", Cell::new(s.repo_path.display())),
            ("branch", Cell::new(&s.branch)),
            ("base commit", Cell::new(&s.base_commit)),
            ("worktree", Cell::new(s.worktree_path.display())),
            ("worktree disk", Cell::new(disk)),
            ("created", Cell::new(when(s.created_at))),
            ("updated", Cell::new(when(s.updated_at))),
            ("prompt", Cell::new(clip(&s.prompt, PROMPT_LINES, PROMPT_CHARS))),
        ];
        let o = &s.options;
        let optional: [(&str, Option<String>); 8] = [
            ("command", o.command.as_ref().map(|c| clip(c, PROMPT_LINES, PROMPT_CHARS))),
            ("model", o.model.clone()),
            ("image", o.image.clone()),
            ("network", o.network.map(|n| n.to_string())),
            ("sandbox", o.sandbox.map(|n| n.to_string())),
            ("cpus", o.milli_cpus.map(|m| format!("{}", m as f64 / 1000.0))),
            ("memory", o.memory_bytes.map(human_bytes)),
            ("allowed hosts", (!o.allow_hosts.is_empty()).then(|| o.allow_hosts.join(", "))),
        ];
        rows.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k, Cell::new(v)))));
        if o.budget_tokens.is_some() || o.budget_usd_cents.is_some() {
            rows.push(("budget", Cell::new(budget_text(o.budget_tokens, o.budget_usd_cents))));
        }
        if let Some(pr) = &s.pull_request {
            let text =
                format!("#{} {} ({})", pr.number, pr.url, pr_standing(pr.state, pr.review, &pr.checks));
            rows.push(("pull request", Cell::new(text)));
        }
        if let Some(error) = &s.error {
            rows.push(("error", self.paint(error, Color::Red)));
        }
        let mut t = self.table();
        for (k, v) in rows {
            t.add_row(vec![Cell::new(format!("{k}:")), v]);
        }
        let mut out = finish(t);
        out.push_str(&self.events(&d.events));
        out
    }

    fn events(&self, events: &[SessionEvent]) -> String {
        if events.is_empty() {
            return String::new();
        }
        let skipped = events.len().saturating_sub(RECENT_EVENTS);
        let mut out = if skipped > 0 {
            format!("\n\nevents (latest {RECENT_EVENTS}; --json for all):")
        } else {
            "\n\nevents:".to_string()
        };
        for e in &events[skipped..] {
            out.push_str(&format!("\n  {}  {}", e.at.format("%Y-%m-%d %H:%M:%S"), describe_event(&e.kind)));
        }
        out
    }
}

/// "open, approved, checks 3/4 passed (1 pending)".
pub fn pr_standing(
    state: clauderon_types::ship::PrState,
    review: clauderon_types::ship::ReviewDecision,
    checks: &clauderon_types::ship::CheckSummary,
) -> String {
    let mut text = format!("{}, review {}", state.as_str(), review.as_str());
    if checks.total == 0 {
        text.push_str(", no checks");
    } else {
        text.push_str(&format!(", checks {}/{} passed", checks.passed, checks.total));
        if checks.failed > 0 {
            text.push_str(&format!(", {} failed", checks.failed));
        }
        if checks.pending > 0 {
            text.push_str(&format!(", {} pending", checks.pending));
        }
    }
    text
}

pub fn describe_event(kind: &EventKind) -> String {
    match kind {
        EventKind::Created { backend, agent, access_mode } => {
            format!("created ({backend} backend, {agent} agent, {access_mode})")
        }
        EventKind::StatusChanged { from, to } => format!("{} -> {}", from.as_str(), to.as_str()),
        EventKind::Failed { from, message } => format!("failed while {}: {message}", from.as_str()),
        EventKind::AccessModeChanged { from, to } => format!("access mode {from} -> {to}"),
        EventKind::ProcessEnded { detail } => format!("process ended: {detail}"),
        EventKind::HostAllowed { host } => format!("allowed host {host}"),
        EventKind::BudgetSet { tokens, usd_cents } => {
            format!("budget set: {}", budget_text(*tokens, *usd_cents))
        }
        EventKind::BudgetExceeded { used } => format!("budget reached ({used}): model calls refused"),
        EventKind::ContainmentRefused { during, place, path, found } => {
            format!("refused a {found} the session planted at {path} in its {place} ({during}); not followed")
        }
        EventKind::Pushed { remote, branch, commit, forced } => {
            let short = commit.get(..12).unwrap_or(commit);
            let how = if *forced { "force-pushed" } else { "pushed" };
            format!("{how} {branch} at {short} to {remote}")
        }
        EventKind::Committed { commit, files } => {
            format!("committed {files} file(s) as {}", commit.get(..12).unwrap_or(commit))
        }
        EventKind::PullRequestOpened { number, url } => format!("opened pull request #{number}: {url}"),
        EventKind::PullRequestChanged { number, state, review, checks } => {
            format!("pull request #{number}: {}", pr_standing(*state, *review, checks))
        }
        EventKind::Archived => "archived".to_string(),
        EventKind::Unarchived => "unarchived".to_string(),
        EventKind::Deleted => "deleted".to_string(),
    }
}

/// Columns flush left with two spaces between them, no trailing blanks.
fn finish(mut t: Table) -> String {
    for column in t.column_iter_mut() {
        column.set_padding((0, 2));
    }
    t.to_string().lines().map(str::trim_end).collect::<Vec<_>>().join("\n")
}

/// At most `lines` lines and `chars` characters, with `…` where something was cut.
fn clip(text: &str, lines: usize, chars: usize) -> String {
    let all: Vec<&str> = text.trim_end().lines().collect();
    let kept = all.iter().take(lines).copied().collect::<Vec<_>>().join("\n");
    let mut out: String = kept.chars().take(chars).collect();
    if all.len() > lines || kept.chars().count() > chars {
        out.push('…');
    }
    out
}

/// 1536 -> "1.5 KiB".
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// A short age: 45s, 12m, 3h, 5d. A time in the future (clock skew) is 0s.
pub fn age(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let secs = (now - then).num_seconds().max(0);
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m", secs / 60),
        3600..=86_399 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

/// `1000 tokens, $5.00`, or `none`.
pub fn budget_text(tokens: Option<u64>, usd_cents: Option<u64>) -> String {
    let mut parts = Vec::new();
    if let Some(t) = tokens {
        parts.push(format!("{t} tokens"));
    }
    if let Some(c) = usd_cents {
        parts.push(format!("${}.{:02}", c / 100, c % 100));
    }
    if parts.is_empty() { "none".to_string() } else { parts.join(", ") }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::Duration;
    use clauderon_types::api::WorktreeInfo;
    use clauderon_types::{AccessMode, AgentKind, BackendKind, SessionId, SessionName};
    use std::path::PathBuf;

    fn session(name: &str, status: SessionStatus, archived: bool, now: DateTime<Utc>) -> Session {
        Session {
            id: SessionId::new(),
            name: SessionName::parse(name).unwrap(),
            repo_path: PathBuf::from("/src/app"),
            branch: format!("clauderon/{name}"),
            base_commit: "0123456789abcdef".into(),
            worktree_path: PathBuf::from("/data/worktrees").join(name),
            backend: BackendKind::Docker,
            agent: AgentKind::Claude,
            access_mode: AccessMode::ReadOnly,
            prompt: "do it".into(),
            options: Default::default(),
            status,
            archived,
            backend_handle: None,
            error: None,
            created_at: now - Duration::minutes(5),
            updated_at: now,
            pull_request: None,
        }
    }

    fn event(seq: i64, s: &Session, kind: EventKind) -> SessionEvent {
        SessionEvent { seq, session_id: s.id, session_name: s.name.clone(), at: s.created_at, kind }
    }

    #[test]
    fn a_table_of_two_sessions_is_aligned_and_plain_without_a_terminal() {
        let now = Utc::now();
        let out = Style { color: false }.sessions_table(
            &[
                session("a", SessionStatus::Running, false, now),
                session("longer-name", SessionStatus::Failed, true, now),
            ],
            now,
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert!(lines[0].starts_with("NAME") && lines[0].contains("STATUS"), "{out}");
        assert!(!out.contains('\u{1b}'), "colour codes without a terminal");
        for value in ["a", "running", "docker", "claude", "read-only", "5m", "/src/app"] {
            assert!(lines[1].contains(value), "no `{value}`:\n{out}");
        }
        assert_eq!(lines[1].find("docker"), lines[2].find("docker"), "columns are not aligned:\n{out}");
        assert_eq!(lines[1].find("running"), lines[2].find("failed"), "columns are not aligned:\n{out}");
        assert!(lines[2].starts_with("longer-name (archived)"));
        assert!(out.lines().all(|l| l == l.trim_end()), "trailing blanks:\n{out}");
    }

    #[test]
    fn on_a_terminal_status_is_coloured() {
        let now = Utc::now();
        let style = Style { color: true };
        let failed = style.sessions_table(&[session("a", SessionStatus::Failed, false, now)], now);
        assert!(failed.contains("\u{1b}[38;5;9m") || failed.contains("\u{1b}[31m"), "{failed:?}");
        let running = style.sessions_table(&[session("a", SessionStatus::Running, false, now)], now);
        assert!(running.contains("\u{1b}[38;5;10m") || running.contains("\u{1b}[32m"), "{running:?}");
    }

    #[test]
    fn colour_follows_the_flag_then_no_color_then_the_terminal() {
        let empty = OsStr::new("");
        let set = OsStr::new("1");
        assert!(Style::decide(ColorChoice::Auto, None, true).color);
        assert!(!Style::decide(ColorChoice::Auto, None, false).color);
        assert!(!Style::decide(ColorChoice::Auto, Some(set), true).color);
        assert!(Style::decide(ColorChoice::Auto, Some(empty), true).color, "an empty NO_COLOR is unset");
        assert!(Style::decide(ColorChoice::Always, Some(set), false).color);
        assert!(!Style::decide(ColorChoice::Never, None, true).color);
    }

    #[test]
    fn show_has_every_field_the_disk_use_and_the_latest_events() {
        let now = Utc::now();
        let mut s = session("fix-it", SessionStatus::Failed, false, now);
        s.error = Some("the container exited".into());
        s.backend_handle = Some("c0ffee".into());
        let mut events = vec![event(
            1,
            &s,
            EventKind::Created {
                backend: BackendKind::Docker,
                agent: AgentKind::Claude,
                access_mode: AccessMode::ReadOnly,
            },
        )];
        for seq in 2..=30 {
            events.push(event(
                seq,
                &s,
                EventKind::StatusChanged { from: SessionStatus::Running, to: SessionStatus::Idle },
            ));
        }
        events.push(event(31, &s, EventKind::Failed { from: SessionStatus::Idle, message: "boom".into() }));
        let detail = SessionDetail {
            session: s,
            worktree: WorktreeInfo { exists: true, disk_bytes: Some(12_900_000) },
            events,
        };
        let out = Style { color: false }.session_detail(&detail, now);
        for field in [
            "name:",
            "id:",
            "status:",
            "archived:",
            "backend:",
            "handle:",
            "agent:",
            "access mode:",
            "repository:",
            "branch:",
            "base commit:",
            "worktree:",
            "worktree disk:",
            "created:",
            "updated:",
            "prompt:",
            "error:",
        ] {
            assert!(out.lines().any(|l| l.starts_with(field)), "no `{field}`:\n{out}");
        }
        assert!(out.contains("12.3 MiB") && out.contains("c0ffee") && out.contains("0123456789abcdef"));
        assert!(out.contains("events (latest 20; --json for all):"), "{out}");
        assert!(out.contains("failed while idle: boom"), "{out}");
        assert!(!out.contains("created (docker backend"), "the oldest event should be cut:\n{out}");
        assert_eq!(out.lines().filter(|l| l.contains("running -> idle")).count(), 19);
        assert!(!out.contains("budget:") && !out.contains("allowed hosts:"), "unset options are not shown");
    }

    #[test]
    fn show_lists_the_options_a_session_was_given() {
        let now = Utc::now();
        let mut s = session("opts", SessionStatus::Running, false, now);
        s.options = clauderon_types::SessionOptions {
            command: Some("make test".into()),
            milli_cpus: Some(1500),
            memory_bytes: Some(512 << 20),
            allow_hosts: vec!["*.corp.example".into(), "pypi.org".into()],
            budget_tokens: Some(5000),
            budget_usd_cents: Some(250),
            ..Default::default()
        };
        let detail = SessionDetail {
            session: s,
            worktree: WorktreeInfo { exists: false, disk_bytes: None },
            events: vec![],
        };
        let out = Style { color: false }.session_detail(&detail, now);
        for want in ["make test", "1.5", "512.0 MiB", "*.corp.example, pypi.org", "5000 tokens, $2.50"] {
            assert!(out.contains(want), "no `{want}`:\n{out}");
        }
    }

    #[test]
    fn events_read_as_sentences() {
        let e = EventKind::AccessModeChanged { from: AccessMode::ReadOnly, to: AccessMode::ReadWrite };
        assert_eq!(describe_event(&e), "access mode read-only -> read-write");
        let e =
            EventKind::StatusChanged { from: SessionStatus::Creating, to: SessionStatus::WaitingForInput };
        assert_eq!(describe_event(&e), "creating -> waiting-for-input");
    }

    #[test]
    fn long_prompts_are_clipped() {
        assert_eq!(clip("do it", 6, 600), "do it");
        assert_eq!(clip("do it\n", 6, 600), "do it");
        assert_eq!(clip("a\nb\nc", 2, 600), "a\nb…");
        assert_eq!(clip("abcdef", 6, 3), "abc…");
    }

    #[test]
    fn sizes_and_ages() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(12_900_000), "12.3 MiB");
        assert_eq!(human_bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
        let now = Utc::now();
        assert_eq!(age(now, now - Duration::seconds(45)), "45s");
        assert_eq!(age(now, now - Duration::minutes(12)), "12m");
        assert_eq!(age(now, now - Duration::hours(3)), "3h");
        assert_eq!(age(now, now - Duration::days(5)), "5d");
        assert_eq!(age(now, now + Duration::hours(3)), "0s");
    }

    #[test]
    fn an_empty_list_says_how_to_create_a_session() {
        let out = Style { color: false }.sessions_table(&[], Utc::now());
        assert!(out.contains("clauderon create"), "{out}");
    }
}
