//! A session's chat history, normalised across agents: what `GET /api/sessions/{name}/messages`
//! answers and `clauderon show NAME --messages` prints. The agents crate reads each agent's
//! transcript into these types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Most messages one page holds.
pub const MAX_MESSAGES_PAGE: usize = 1000;
/// Messages in a page when the request names no limit.
pub const DEFAULT_MESSAGES_PAGE: usize = 200;

/// Who a message is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    User,
    Assistant,
    System,
    /// Results of tools the agent ran, when the transcript keeps them apart from the user's words.
    Tool,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::System => "system",
            Role::Tool => "tool",
        }
    }
}

/// A tool the agent asked to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ToolCall {
    /// The agent's id for the call; a [`ToolResult`] names it.
    pub id: String,
    pub name: String,
    /// The tool's input as the agent wrote it.
    #[schema(value_type = Object)]
    pub input: serde_json::Value,
}

/// What a tool call gave back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ToolResult {
    /// The [`ToolCall::id`] this answers.
    pub tool_use_id: String,
    /// The output as text (several text parts joined by newlines).
    pub output: String,
    pub is_error: bool,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    pub role: Role,
    /// The words of the message (several text parts joined by blank lines); empty when it only
    /// carries tool calls or results.
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_results: Vec<ToolResult>,
    /// When the agent wrote it, when the transcript says.
    #[serde(default)]
    pub timestamp: Option<DateTime<Utc>>,
}

/// Lines of a transcript that could not be read. A transcript being written (its last line
/// half there) or damaged still gives the messages that parse, with this note.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct ParseNotes {
    /// How many lines were skipped.
    pub skipped_lines: usize,
    /// Why the first skipped line was skipped (`line 7: ...`); `None` when nothing was skipped.
    #[serde(default)]
    pub reason: Option<String>,
}

impl ParseNotes {
    pub fn is_clean(&self) -> bool {
        self.skipped_lines == 0
    }

    /// Count one skipped line, keeping the first reason.
    pub fn skip(&mut self, line: usize, why: impl std::fmt::Display) {
        self.skipped_lines += 1;
        if self.reason.is_none() {
            self.reason = Some(format!("line {line}: {why}"));
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MessagesQuery {
    /// The cursor of an earlier page (`next`): only messages after it. From the start when absent.
    #[serde(default)]
    pub after: Option<usize>,
    /// Most messages to return (default 200, at most 1000).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// A page of a session's chat history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MessagePage {
    pub session: String,
    /// The agent's transcript file, `None` when the agent has not written one yet.
    #[serde(default)]
    pub transcript: Option<String>,
    pub messages: Vec<Message>,
    /// Index of the first message of this page in the whole history.
    pub start: usize,
    /// Pass as `after` for the messages that follow (also once more arrive).
    pub next: usize,
    /// Messages in the whole history so far.
    pub total: usize,
    /// Lines that could not be read, if any.
    #[serde(default)]
    pub notes: ParseNotes,
}

impl MessagePage {
    /// The page of `all` after the cursor `after` (a message index; the page starts at it).
    pub fn slice(
        session: &str,
        transcript: Option<String>,
        all: Vec<Message>,
        notes: ParseNotes,
        after: Option<usize>,
        limit: Option<usize>,
    ) -> MessagePage {
        let total = all.len();
        let start = after.unwrap_or(0).min(total);
        let limit = limit.unwrap_or(DEFAULT_MESSAGES_PAGE).clamp(1, MAX_MESSAGES_PAGE);
        let messages: Vec<Message> = all.into_iter().skip(start).take(limit).collect();
        let next = start + messages.len();
        MessagePage { session: session.to_owned(), transcript, messages, start, next, total, notes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(n: usize) -> Vec<Message> {
        (0..n)
            .map(|i| Message {
                role: Role::User,
                text: format!("m{i}"),
                tool_calls: vec![],
                tool_results: vec![],
                timestamp: None,
            })
            .collect()
    }

    #[test]
    fn pages_follow_the_cursor_and_stop_at_the_end() {
        let page = MessagePage::slice("s", None, said(5), ParseNotes::default(), None, Some(2));
        assert_eq!((page.start, page.next, page.total), (0, 2, 5));
        assert_eq!(page.messages[1].text, "m1");
        let page = MessagePage::slice("s", None, said(5), ParseNotes::default(), Some(page.next), Some(2));
        assert_eq!(page.messages.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(), ["m2", "m3"]);
        let page = MessagePage::slice("s", None, said(5), ParseNotes::default(), Some(4), None);
        assert_eq!((page.messages.len(), page.next), (1, 5));
        // Past the end (nothing new yet): empty, and the cursor stays where the history ends.
        let page = MessagePage::slice("s", None, said(5), ParseNotes::default(), Some(9), Some(0));
        assert_eq!((page.messages.len(), page.start, page.next), (0, 5, 5));
    }

    #[test]
    fn notes_keep_the_first_reason() {
        let mut notes = ParseNotes::default();
        assert!(notes.is_clean());
        notes.skip(3, "bad");
        notes.skip(9, "worse");
        assert_eq!(notes.skipped_lines, 2);
        assert_eq!(notes.reason.as_deref(), Some("line 3: bad"));
    }
}
