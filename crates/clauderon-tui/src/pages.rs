//! The text of the logs, usage, chat and changes pages, from the API's answers.

use clauderon_types::audit::AuditEntry;
use clauderon_types::diff::SessionDiff;
use clauderon_types::messages::Message;
use clauderon_types::usage::UsageReport;

/// A session's terminal output as plain lines: escape sequences and other control bytes are
/// dropped, so what the agent's own TUI drew cannot move our cursor or change our colours.
pub fn log_lines(text: &str) -> Vec<String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.peek() {
                // CSI: parameters until a final byte in @..~.
                Some('[') => {
                    chars.next();
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC: until BEL or ST.
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\x07' || (c == '\x1b' && chars.peek() == Some(&'\\')) {
                            chars.next_if_eq(&'\\');
                            break;
                        }
                    }
                }
                _ => {
                    chars.next();
                }
            },
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.lines().map(str::to_string).collect()
}

/// The chat, a block per message; a tool call is folded to one line (its name and the start
/// of its input), its result to one line too.
pub fn chat_lines(messages: &[Message]) -> Vec<String> {
    let mut lines = Vec::new();
    for m in messages {
        let when = m.timestamp.map(|t| t.format(" %H:%M").to_string()).unwrap_or_default();
        lines.push(format!("── {}{when}", m.role.as_str()));
        lines.extend(m.text.lines().map(|l| format!("  {l}")));
        for call in &m.tool_calls {
            lines.push(format!("  ▸ {}({})", call.name, fold(&call.input.to_string(), 60)));
        }
        for r in &m.tool_results {
            let mark = if r.is_error { "✗" } else { "✓" };
            let first = r.output.lines().next().unwrap_or("");
            let more = r.output.lines().count().saturating_sub(1);
            let tail = if more > 0 { format!(" (+{more} lines)") } else { String::new() };
            lines.push(format!("  {mark} {}{tail}", fold(first, 60)));
        }
    }
    lines
}

fn fold(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

/// One proxy request: time, method, host and path, status. The path is the audit's, whose
/// secret-looking query values are already `***`.
pub fn audit_line(e: &AuditEntry) -> String {
    let status = e.status.map_or_else(|| "-".to_string(), |s| s.to_string());
    format!("{} {} {}{} {status}", e.at.format("%H:%M:%S"), e.method, e.host, fold(&e.path, 40))
}

pub fn usage_lines(r: &UsageReport) -> Vec<String> {
    let money = |c: Option<f64>| c.map_or_else(|| "unpriced".to_string(), |c| format!("${c:.4}"));
    let mut lines = vec![
        format!("Total: {} tokens, {}", r.total_tokens, money(r.total_cost_usd)),
        String::new(),
        format!(
            "{:<12} {:<28} {:>10} {:>10} {:>8} {:>12}",
            "PROVIDER", "MODEL", "IN", "OUT", "CALLS", "COST"
        ),
    ];
    for t in &r.totals {
        lines.push(format!(
            "{:<12} {:<28} {:>10} {:>10} {:>8} {:>12}",
            t.provider,
            fold(&t.model, 28),
            t.input_tokens + t.cache_read_tokens + t.cache_write_tokens,
            t.output_tokens,
            t.requests,
            money(t.cost_usd)
        ));
    }
    if r.totals.is_empty() {
        lines.push("No model calls yet.".into());
    }
    lines
}

/// The session's text with every control character shown as `^X` (a file name or a line of a
/// diff is the session's to write: an escape sequence in it must not reach our terminal).
fn visible(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' => "    ".to_string(),
            c if c.is_control() => format!("^{}", char::from_u32((c as u32 + 64) & 0x7f).unwrap_or('?')),
            c => c.to_string(),
        })
        .collect()
}

/// The diff as the changes page shows it: a summary, the commits, then each file and its hunks.
pub fn diff_lines(d: &SessionDiff) -> Vec<String> {
    let short = |id: &str| id.get(..12).unwrap_or(id).to_string();
    let mut lines = vec![format!(
        "{} file(s) changed, +{} -{} against {} ({} commit(s) on {})",
        d.files.len(),
        d.additions,
        d.deletions,
        short(&d.base),
        d.commits.len(),
        visible(&d.branch)
    )];
    for c in &d.commits {
        lines.push(format!("  {} {}", short(&c.id), visible(&c.summary)));
    }
    if d.truncated {
        lines.push("(the patch passed its size cap: some files show only their counts)".into());
    }
    for f in &d.files {
        lines.push(String::new());
        let path = match &f.old_path {
            Some(old) => format!("{} -> {}", visible(old), visible(&f.path)),
            None => visible(&f.path),
        };
        let counts = if f.binary {
            "binary".to_string()
        } else {
            format!("+{} -{}", f.additions.unwrap_or(0), f.deletions.unwrap_or(0))
        };
        let mark = if f.uncommitted { "  [uncommitted]" } else { "" };
        lines.push(format!("{} {path}  {counts}{mark}", f.status.letter()));
        if let Some(why) = &f.omitted {
            lines.push(format!("  ({})", visible(why)));
        }
        for h in &f.hunks {
            lines.push(visible(&h.header));
            lines.extend(h.lines.iter().map(|l| visible(l)));
        }
    }
    if d.files.is_empty() {
        lines.push("No changes yet.".into());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use clauderon_types::messages::{Role, ToolCall, ToolResult};

    #[test]
    fn the_changes_page_shows_files_and_hunks_with_the_sessions_control_characters_made_visible() {
        use clauderon_types::diff::{DiffCommit, DiffFile, DiffHunk, FileStatus};
        let d = SessionDiff {
            branch: "clauderon/s".into(),
            base: "0123456789abcdef".into(),
            head: "fedcba9876543210".into(),
            commits: vec![DiffCommit {
                id: "aaaaaaaaaaaaaaaa".into(),
                summary: "fix\x1b]0;pwn\x07".into(),
                author: "a".into(),
                time: 0,
            }],
            commits_truncated: false,
            additions: 1,
            deletions: 0,
            files: vec![DiffFile {
                path: "evil\x1b[2J.txt".into(),
                old_path: None,
                status: FileStatus::Added,
                additions: Some(1),
                deletions: Some(0),
                binary: false,
                uncommitted: true,
                old_mode: None,
                new_mode: None,
                hunks: vec![DiffHunk {
                    header: "@@ -0,0 +1 @@".into(),
                    old_start: 0,
                    old_lines: 0,
                    new_start: 1,
                    new_lines: 1,
                    lines: vec!["+\x1b[31mred".into()],
                }],
                omitted: None,
            }],
            truncated: false,
        };
        let lines = diff_lines(&d);
        assert_eq!(lines[0], "1 file(s) changed, +1 -0 against 0123456789ab (1 commit(s) on clauderon/s)");
        assert_eq!(lines[1], "  aaaaaaaaaaaa fix^[]0;pwn^G");
        assert_eq!(lines[3], "A evil^[[2J.txt  +1 -0  [uncommitted]");
        assert_eq!(lines[5], "+^[[31mred");
        assert!(lines.iter().all(|l| !l.chars().any(char::is_control)), "{lines:?}");
    }

    #[test]
    fn logs_lose_escape_sequences_but_keep_text() {
        let lines = log_lines("\x1b[1;32mok\x1b[0m done\r\n\x1b]0;title\x07next\x1b[2J");
        assert_eq!(lines, vec!["ok done", "next"]);
    }

    #[test]
    fn tool_calls_fold_to_one_line_each() {
        let m = Message {
            role: Role::Assistant,
            text: "Reading it.".into(),
            tool_calls: vec![ToolCall {
                id: "1".into(),
                name: "Read".into(),
                input: serde_json::json!({"p": "a"}),
            }],
            tool_results: vec![ToolResult {
                tool_use_id: "1".into(),
                output: "l1\nl2\nl3".into(),
                is_error: false,
            }],
            timestamp: None,
        };
        assert_eq!(
            chat_lines(&[m]),
            vec!["── assistant", "  Reading it.", "  ▸ Read({\"p\":\"a\"})", "  ✓ l1 (+2 lines)"]
        );
    }
}
