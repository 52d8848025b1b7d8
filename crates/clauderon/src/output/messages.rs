//! `show NAME --messages`: the agent's conversation, one block per message.

use super::Style;
use clauderon_types::messages::{Message, MessagePage, Role};

/// A tool's input or output is cut to this much; `--json` has it all.
const TOOL_CHARS: usize = 400;

fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
}

impl Style {
    /// The role, coloured on a terminal (SGR codes: green, cyan, yellow, grey).
    fn role(&self, role: Role) -> String {
        let code = match role {
            Role::User => 32,
            Role::Assistant => 36,
            Role::System => 33,
            Role::Tool => 90,
        };
        if self.color { format!("\x1b[{code}m{}\x1b[0m", role.as_str()) } else { role.as_str().to_string() }
    }

    fn message(&self, index: usize, m: &Message) -> String {
        let when = m.timestamp.map(|t| format!(" {}", t.format("%Y-%m-%d %H:%M:%S"))).unwrap_or_default();
        let mut out = format!("#{index} {}{when}", self.role(m.role));
        if !m.text.is_empty() {
            out.push('\n');
            out.push_str(&indent(&m.text));
        }
        for call in &m.tool_calls {
            out.push_str(&format!("\n  -> {} {}", call.name, cut(&call.input.to_string(), TOOL_CHARS)));
        }
        for result in &m.tool_results {
            let error = if result.is_error { " (error)" } else { "" };
            out.push_str(&format!(
                "\n  <- {}{error}\n{}",
                result.tool_use_id,
                indent(&cut(&result.output, TOOL_CHARS))
            ));
        }
        out
    }

    /// A page of the conversation, with what could not be read and how to get the rest.
    pub fn messages(&self, page: &MessagePage) -> String {
        let mut blocks: Vec<String> = Vec::new();
        if page.transcript.is_none() && page.notes.is_clean() {
            blocks
                .push(format!("{}: no messages yet (the agent has not written a transcript)", page.session));
        }
        blocks.extend(page.messages.iter().enumerate().map(|(i, m)| self.message(page.start + i, m)));
        if page.transcript.is_some() && page.messages.is_empty() {
            blocks.push(format!("no messages after #{} ({} in all)", page.start, page.total));
        }
        if let Some(reason) = &page.notes.reason {
            let what = if page.notes.skipped_lines == 0 {
                format!("note: {reason}")
            } else {
                format!("note: {} transcript line(s) could not be read ({reason})", page.notes.skipped_lines)
            };
            blocks.push(what);
        }
        if page.next < page.total {
            blocks.push(format!(
                "{} more: clauderon show {} --messages --after {}",
                page.total - page.next,
                page.session,
                page.next
            ));
        }
        blocks.join("\n\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clauderon_types::messages::{ParseNotes, ToolCall, ToolResult};

    fn msg(role: Role, text: &str) -> Message {
        Message { role, text: text.into(), tool_calls: vec![], tool_results: vec![], timestamp: None }
    }

    #[test]
    fn a_page_shows_roles_text_tools_notes_and_the_next_cursor() {
        let mut call = msg(Role::Assistant, "looking");
        call.tool_calls.push(ToolCall {
            id: "t1".into(),
            name: "Bash".into(),
            input: serde_json::json!({"command": "ls"}),
        });
        let mut result = msg(Role::Tool, "");
        result.tool_results.push(ToolResult {
            tool_use_id: "t1".into(),
            output: "a.txt".into(),
            is_error: true,
        });
        let all = vec![msg(Role::User, "hi\nthere"), call, result, msg(Role::Assistant, "done")];
        let notes = ParseNotes { skipped_lines: 1, reason: Some("line 9: incomplete".into()) };
        let page = MessagePage::slice("s1", Some("/t.jsonl".into()), all, notes, None, Some(3));
        let text = Style { color: false }.messages(&page);
        assert_eq!(
            text,
            "#0 user\n  hi\n  there\n\n#1 assistant\n  looking\n  -> Bash {\"command\":\"ls\"}\n\n\
             #2 tool\n  <- t1 (error)\n  a.txt\n\n\
             note: 1 transcript line(s) could not be read (line 9: incomplete)\n\n\
             1 more: clauderon show s1 --messages --after 3"
        );
    }

    #[test]
    fn no_transcript_says_so() {
        let page = MessagePage::slice("s1", None, vec![], ParseNotes::default(), None, None);
        assert!(Style { color: false }.messages(&page).contains("no messages yet"));
    }
}
