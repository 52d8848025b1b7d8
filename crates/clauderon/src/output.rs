//! How things look: aligned tables, colours on a terminal, sizes and ages.

use clauderon_types::api::SessionDetail;
use clauderon_types::{Session, SessionStatus};
use comfy_table::{Attribute, Cell, Color, ContentArrangement, Table, presets};

/// Colours or not, decided once from `--color`, NO_COLOR and whether stdout is a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub fn detect(choice: crate::cli::ColorChoice) -> Self {
        use std::io::IsTerminal;
        let color = match choice {
            crate::cli::ColorChoice::Always => true,
            crate::cli::ColorChoice::Never => false,
            crate::cli::ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
            }
        };
        Style { color }
    }

    fn table(&self) -> Table {
        let mut t = Table::new();
        t.load_preset(presets::NOTHING).set_content_arrangement(ContentArrangement::Disabled);
        if !self.color {
            t.force_no_tty();
        } else {
            t.enforce_styling();
        }
        t
    }

    fn status_cell(&self, status: SessionStatus) -> Cell {
        let cell = Cell::new(status.as_str());
        if !self.color {
            return cell;
        }
        match status {
            SessionStatus::Running => cell.fg(Color::Green),
            SessionStatus::Idle | SessionStatus::WaitingForInput => cell.fg(Color::Yellow),
            SessionStatus::Failed => cell.fg(Color::Red),
            SessionStatus::Creating | SessionStatus::Deleting => cell.fg(Color::Cyan),
            SessionStatus::Stopped | SessionStatus::Deleted => cell.add_attribute(Attribute::Dim),
        }
    }

    fn header(&self, names: &[&str]) -> Vec<Cell> {
        names
            .iter()
            .map(|n| if self.color { Cell::new(n).add_attribute(Attribute::Bold) } else { Cell::new(n) })
            .collect()
    }

    pub fn sessions_table(&self, sessions: &[Session], now: chrono::DateTime<chrono::Utc>) -> String {
        if sessions.is_empty() {
            return "no sessions: create one with `clauderon create --repo PATH --prompt TEXT`".to_string();
        }
        let mut t = self.table();
        t.set_header(self.header(&["NAME", "STATUS", "BACKEND", "AGENT", "ACCESS", "AGE", "REPOSITORY"]));
        for s in sessions {
            let name = if s.archived { format!("{} (archived)", s.name) } else { s.name.to_string() };
            t.add_row(vec![
                Cell::new(name),
                self.status_cell(s.status),
                Cell::new(s.backend.as_str()),
                Cell::new(s.agent.as_str()),
                Cell::new(s.access_mode.as_str()),
                Cell::new(age(now, s.created_at)),
                Cell::new(s.repo_path.display()),
            ]);
        }
        finish(t)
    }

    pub fn session_detail(&self, d: &SessionDetail, now: chrono::DateTime<chrono::Utc>) -> String {
        let s = &d.session;
        let mut t = self.table();
        let disk = match (d.worktree.exists, d.worktree.disk_bytes) {
            (true, Some(b)) => human_bytes(b),
            _ => "missing".to_string(),
        };
        let rows: Vec<(&str, Cell)> = vec![
            ("name", Cell::new(s.name.as_str())),
            ("id", Cell::new(s.id)),
            ("status", self.status_cell(s.status)),
            ("archived", Cell::new(if s.archived { "yes" } else { "no" })),
            ("backend", Cell::new(s.backend.as_str())),
            ("handle", Cell::new(s.backend_handle.as_deref().unwrap_or("-"))),
            ("agent", Cell::new(s.agent.as_str())),
            ("access mode", Cell::new(s.access_mode.as_str())),
            ("repository", Cell::new(s.repo_path.display())),
            ("branch", Cell::new(format!("{} (from {})", s.branch, short_commit(&s.base_commit)))),
            ("worktree", Cell::new(s.worktree_path.display())),
            ("worktree disk", Cell::new(disk)),
            (
                "created",
                Cell::new(format!(
                    "{} ({} ago)",
                    s.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
                    age(now, s.created_at)
                )),
            ),
            ("updated", Cell::new(format!("{} ago", age(now, s.updated_at)))),
            ("prompt", Cell::new(first_line(&s.prompt, 100))),
        ];
        for (k, v) in rows {
            t.add_row(vec![Cell::new(format!("{k}:")), v]);
        }
        if let Some(error) = &s.error {
            let cell = if self.color { Cell::new(error).fg(Color::Red) } else { Cell::new(error) };
            t.add_row(vec![Cell::new("error:"), cell]);
        }
        let mut out = finish(t);
        if !d.events.is_empty() {
            out.push_str("\n\nevents:\n");
            for e in &d.events {
                let kind = serde_json::to_value(&e.kind).ok();
                let text = kind.as_ref().map(describe_event).unwrap_or_default();
                out.push_str(&format!("  {}  {text}\n", e.at.format("%Y-%m-%d %H:%M:%S")));
            }
            out.pop();
        }
        out
    }
}

fn describe_event(v: &serde_json::Value) -> String {
    let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("?").to_string();
    match v.get("type").and_then(|t| t.as_str()).unwrap_or("?") {
        "created" => format!(
            "created ({} backend, {} agent, {})",
            field("backend"),
            field("agent"),
            field("access_mode")
        ),
        "status-changed" => format!("{} -> {}", field("from"), field("to")),
        "failed" => format!("failed: {}", field("message")),
        "access-mode-changed" => format!("access mode {} -> {}", field("from"), field("to")),
        other => other.to_string(),
    }
}

/// Columns flush left with two spaces between them, no trailing blanks.
fn finish(mut t: Table) -> String {
    for column in t.column_iter_mut() {
        column.set_padding((0, 2));
    }
    t.to_string().lines().map(str::trim_end).collect::<Vec<_>>().join("\n")
}

fn short_commit(c: &str) -> &str {
    c.get(..10).unwrap_or(c)
}

fn first_line(s: &str, max: usize) -> String {
    let line = s.lines().next().unwrap_or("");
    let mut out: String = line.chars().take(max).collect();
    if line.chars().count() > max || s.lines().nth(1).is_some() {
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

/// A short age: 45s, 12m, 3h, 5d.
pub fn age(now: chrono::DateTime<chrono::Utc>, then: chrono::DateTime<chrono::Utc>) -> String {
    let secs = (now - then).num_seconds().max(0);
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m", secs / 60),
        3600..=86_399 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, Utc};
    use clauderon_types::{AccessMode, AgentKind, BackendKind, SessionId, SessionName};
    use std::path::PathBuf;

    fn session(name: &str, status: SessionStatus, archived: bool) -> Session {
        let now = Utc::now();
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
            status,
            archived,
            backend_handle: None,
            error: None,
            created_at: now - Duration::minutes(5),
            updated_at: now,
        }
    }

    #[test]
    fn plain_table_is_aligned_without_colour_codes() {
        let style = Style { color: false };
        let out = style.sessions_table(
            &[
                session("a", SessionStatus::Running, false),
                session("longer-name", SessionStatus::Failed, true),
            ],
            Utc::now(),
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert!(!out.contains('\u{1b}'), "colour codes without a terminal");
        let col = |l: &str| l.find("docker");
        assert_eq!(col(lines[1]), col(lines[2]), "columns are not aligned:\n{out}");
        assert!(lines[2].contains("longer-name (archived)"));
        assert!(lines[1].contains("5m"));
    }

    #[test]
    fn coloured_table_colours_status() {
        let out =
            Style { color: true }.sessions_table(&[session("a", SessionStatus::Failed, false)], Utc::now());
        assert!(out.contains('\u{1b}'));
    }

    #[test]
    fn sizes_and_ages() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(12_900_000), "12.3 MiB");
        let now = Utc::now();
        assert_eq!(age(now, now - Duration::hours(3)), "3h");
        assert_eq!(age(now, now + Duration::hours(3)), "0s");
    }

    #[test]
    fn empty_list_says_how_to_create() {
        assert!(Style { color: false }.sessions_table(&[], Utc::now()).contains("clauderon create"));
    }
}
