//! The proxy's tables: the request audit and the credentials.

use super::{Style, finish, human_bytes};
use clauderon_types::api::CredentialView;
use clauderon_types::audit::{AuditEntry, Decision};
use comfy_table::{Cell, Color};

/// The table cuts a path to this much; `--json` has it all.
const PATH_CHARS: usize = 80;

/// The audit as columns whose widths are fixed when the table is made, so `audit --follow` can
/// print rows that arrive later under the same header. The decision comes last: its reason is
/// the one free-length text, and the only coloured cell, so colour codes never upset the padding.
#[derive(Debug, Clone)]
pub struct AuditTable {
    color: bool,
    with_session: bool,
    widths: Vec<usize>,
}

impl AuditTable {
    /// Columns as wide as the widest of `rows`, for a table printed once.
    pub fn fitted(style: Style, with_session: bool, rows: &[AuditEntry]) -> Self {
        AuditTable::new(style, with_session, rows, false)
    }

    /// Also wide enough for typical requests, so that rows printed later mostly line up.
    pub fn streaming(style: Style, with_session: bool, rows: &[AuditEntry]) -> Self {
        AuditTable::new(style, with_session, rows, true)
    }

    fn new(style: Style, with_session: bool, rows: &[AuditEntry], roomy: bool) -> Self {
        let mut widths: Vec<usize> = columns(with_session).map(|(name, _)| width(name)).collect();
        if roomy {
            for (w, (_, typical)) in widths.iter_mut().zip(columns(with_session)) {
                *w = (*w).max(typical);
            }
        }
        for row in rows {
            for (w, cell) in widths.iter_mut().zip(cells(row, with_session)) {
                *w = (*w).max(width(&cell));
            }
        }
        AuditTable { color: style.color, with_session, widths }
    }

    pub fn header(&self) -> String {
        let names: Vec<String> = columns(self.with_session).map(|(name, _)| name.to_string()).collect();
        self.line(&names, |_, text| sgr(self.color.then_some("1"), text))
    }

    pub fn row(&self, e: &AuditEntry) -> String {
        let cells = cells(e, self.with_session);
        let last = cells.len().saturating_sub(1);
        let decision = decision_color(&e.decision).filter(|_| self.color);
        self.line(&cells, |i, text| sgr(decision.filter(|_| i == last), text))
    }

    /// The header and every row.
    pub fn render(&self, rows: &[AuditEntry]) -> String {
        std::iter::once(self.header()).chain(rows.iter().map(|e| self.row(e))).collect::<Vec<_>>().join("\n")
    }

    /// Each cell painted, then padded to its column with two spaces between columns.
    fn line(&self, cells: &[String], paint: impl Fn(usize, &str) -> String) -> String {
        let last = cells.len().saturating_sub(1);
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&self.widths).enumerate() {
            out.push_str(&paint(i, cell));
            if i < last {
                out.push_str(&" ".repeat(w.saturating_sub(width(cell)) + 2));
            }
        }
        out.trim_end().to_string()
    }
}

/// The columns and how wide a typical value is (for `streaming`).
fn columns(with_session: bool) -> impl Iterator<Item = (&'static str, usize)> + Clone {
    [
        ("TIME (UTC)", 19),
        ("SESSION", 16),
        ("METHOD", 6),
        ("HOST", 22),
        ("PATH", 30),
        ("STATUS", 6),
        ("CREDENTIAL", 16),
        ("UP", 9),
        ("DOWN", 9),
        ("TOOK", 6),
        ("DECISION", 0),
    ]
    .into_iter()
    .filter(move |(name, _)| with_session || *name != "SESSION")
}

fn cells(e: &AuditEntry, with_session: bool) -> Vec<String> {
    let mut cells = vec![e.at.format("%Y-%m-%d %H:%M:%S").to_string()];
    if with_session {
        cells.push(e.session_name.clone().unwrap_or_else(|| "-".to_string()));
    }
    cells.extend([
        e.method.clone(),
        e.host.clone(),
        clip_chars(&e.path, PATH_CHARS),
        e.status.map_or_else(|| "-".to_string(), |s| s.to_string()),
        e.credential.clone().unwrap_or_else(|| "-".to_string()),
        human_bytes(e.bytes_up),
        human_bytes(e.bytes_down),
        human_millis(e.duration_ms),
        {
            let decision = match e.decision.reason() {
                Some(reason) => format!("{}: {reason}", e.decision.label()),
                None => e.decision.label().to_string(),
            };
            match &e.note {
                Some(note) => format!("{decision} ({note})"),
                None => decision,
            }
        },
    ]);
    cells
}

/// `text` in the SGR attribute `code` (bold, a colour), or plain.
fn sgr(code: Option<&str>, text: &str) -> String {
    match code {
        Some(code) => format!("\u{1b}[{code}m{text}\u{1b}[0m"),
        None => text.to_string(),
    }
}

/// The SGR colour of a decision, if it gets one.
fn decision_color(d: &Decision) -> Option<&'static str> {
    match d {
        Decision::Injected => Some("32"),
        Decision::Forwarded => None,
        Decision::Tunneled => Some("90"),
        Decision::Denied { .. } => Some("33"),
        Decision::Failed { .. } => Some("31"),
        Decision::Answered { .. } => Some("36"),
    }
}

fn width(text: &str) -> usize {
    text.chars().count()
}

fn clip_chars(text: &str, chars: usize) -> String {
    if width(text) <= chars {
        return text.to_string();
    }
    let mut out: String = text.chars().take(chars.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// 87 -> "87ms", 1234 -> "1.2s", 125_000 -> "2m05s", 7_500_000 -> "2h05m".
pub fn human_millis(ms: u64) -> String {
    let secs = ms / 1000;
    match ms {
        0..=999 => format!("{ms}ms"),
        1000..=59_999 => format!("{}.{}s", secs, (ms % 1000) / 100),
        60_000..=3_599_999 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60),
    }
}

impl Style {
    pub fn credentials_table(&self, credentials: &[CredentialView]) -> String {
        let mut t = self.table();
        t.set_header(self.header(&["NAME", "SOURCE", "PROBLEM"]));
        for c in credentials {
            let source = match &c.source {
                Some(source) => Cell::new(source),
                None => self.paint("not configured", Color::DarkGrey),
            };
            let problem = c.problem.as_deref().map_or_else(|| Cell::new(""), |p| self.paint(p, Color::Red));
            t.add_row(vec![Cell::new(&c.name), source, problem]);
        }
        let mut out = finish(t);
        if credentials.iter().any(|c| c.source.is_none()) {
            out.push_str("\n\nwhere each is looked for: `clauderon credentials --json` (`searched`)");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::{TimeZone, Utc};

    fn entry(id: i64, session: Option<&str>, host: &str, path: &str, decision: Decision) -> AuditEntry {
        AuditEntry {
            id,
            at: Utc.with_ymd_and_hms(2025, 3, 4, 5, 6, 7).unwrap(),
            session_id: None,
            session_name: session.map(str::to_string),
            method: "GET".into(),
            host: host.into(),
            path: path.into(),
            status: Some(200),
            bytes_up: 120,
            bytes_down: 1536,
            duration_ms: 87,
            credential: Some("github_token".into()),
            note: None,
            decision,
        }
    }

    fn plain() -> Style {
        Style { color: false }
    }

    #[test]
    fn every_field_is_a_column_and_the_columns_line_up() {
        let mut denied = entry(
            2,
            Some("a-much-longer-session"),
            "example.com",
            "/x",
            Decision::Denied { reason: "read-only session".into() },
        );
        (denied.status, denied.credential, denied.method) = (None, None, "POST".into());
        let rows = [entry(1, Some("fix-it"), "api.github.com", "/user", Decision::Injected), denied];
        let out = AuditTable::fitted(plain(), true, &rows).render(&rows);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        for (header, value) in [
            ("TIME (UTC)", "2025-03-04 05:06:07"),
            ("SESSION", "fix-it"),
            ("METHOD", "GET"),
            ("HOST", "api.github.com"),
            ("PATH", "/user"),
            ("STATUS", "200"),
            ("CREDENTIAL", "github_token"),
            ("UP", "120 B"),
            ("DOWN", "1.5 KiB"),
            ("TOOK", "87ms"),
            ("DECISION", "injected"),
        ] {
            let column = lines[0].find(header).unwrap_or_else(|| panic!("no {header}:\n{out}"));
            assert_eq!(lines[1][column..].split("  ").next(), Some(value), "{header}:\n{out}");
        }
        assert!(lines[2].ends_with("denied: read-only session"), "{out}");
        assert_eq!(lines[1].find("api.github.com"), lines[2].find("example.com"), "{out}");
        assert_eq!(lines[1].find("github_token"), lines[2].find("-          "), "{out}");
        assert!(!out.contains('\u{1b}') && out.lines().all(|l| l == l.trim_end()), "{out:?}");
    }

    #[test]
    fn one_sessions_audit_has_no_session_column_and_an_empty_one_is_the_header() {
        let rows = [entry(1, Some("fix-it"), "h", "/", Decision::Forwarded)];
        let out = AuditTable::fitted(plain(), false, &rows).render(&rows);
        assert!(!out.contains("SESSION") && !out.contains("fix-it"), "{out}");
        let empty = AuditTable::fitted(plain(), true, &[]).render(&[]);
        assert_eq!(empty.lines().count(), 1);
        assert!(empty.starts_with("TIME (UTC)  SESSION  METHOD  HOST"), "{empty}");
    }

    #[test]
    fn a_streaming_table_leaves_room_for_rows_that_come_later() {
        let table = AuditTable::streaming(plain(), true, &[]);
        let later = entry(9, Some("fix-it"), "api.anthropic.com", "/v1/messages", Decision::Injected);
        let (header, row) = (table.header(), table.row(&later));
        for (column, value) in [("HOST", "api.anthropic.com"), ("PATH", "/v1/messages"), ("STATUS", "200")] {
            assert_eq!(header.find(column), row.find(value), "{column}:\n{header}\n{row}");
        }
    }

    #[test]
    fn long_paths_are_cut_and_decisions_are_coloured_on_a_terminal() {
        let long = format!("/{}", "a".repeat(200));
        let row =
            AuditTable::fitted(plain(), false, &[]).row(&entry(1, None, "h", &long, Decision::Tunneled));
        assert!(row.contains(&format!("/{}…", "a".repeat(PATH_CHARS - 2))) && !row.contains(&long), "{row}");
        let style = Style { color: true };
        let failed = entry(1, None, "h", "/", Decision::Failed { reason: "upstream down".into() });
        let row = AuditTable::fitted(style, false, &[]).row(&failed);
        assert!(row.ends_with("\u{1b}[31mfailed: upstream down\u{1b}[0m"), "{row:?}");
        assert!(AuditTable::fitted(style, false, &[]).header().starts_with("\u{1b}[1mTIME"));
    }

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(human_millis(0), "0ms");
        assert_eq!(human_millis(999), "999ms");
        assert_eq!(human_millis(1234), "1.2s");
        assert_eq!(human_millis(125_000), "2m05s");
        assert_eq!(human_millis(7_500_000), "2h05m");
    }

    #[test]
    fn credentials_show_their_source_or_that_there_is_none() {
        let view = |name: &str, source: Option<&str>, problem: Option<&str>| CredentialView {
            name: name.into(),
            description: "d".into(),
            source: source.map(str::to_string),
            searched: vec!["env X".into()],
            problem: problem.map(str::to_string),
        };
        let out = plain().credentials_table(&[
            view("github_token", Some("env GH_TOKEN"), None),
            view("anthropic_api_key", None, None),
            view("npm_token", None, Some("/s/npm is readable by others: chmod 600 it")),
        ]);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("NAME") && lines[0].contains("SOURCE") && lines[0].contains("PROBLEM"));
        assert!(lines[1].starts_with("github_token") && lines[1].ends_with("env GH_TOKEN"), "{out}");
        assert!(lines[2].ends_with("not configured"), "{out}");
        assert!(lines[3].ends_with("not configured  /s/npm is readable by others: chmod 600 it"), "{out}");
        assert!(out.contains("clauderon credentials --json"), "{out}");
        let all_set = plain().credentials_table(&[view("github_token", Some("env GH_TOKEN"), None)]);
        assert_eq!(all_set.lines().count(), 2, "{all_set}");
    }
}
