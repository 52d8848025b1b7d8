//! Transcripts: where an agent writes them and how to read them into [`Message`]s.
//!
//! Claude Code writes one JSON object per line to
//! `$HOME/.claude/projects/<cwd, every character but ASCII letters and digits made '-'>/<session uuid>.jsonl`
//! (checked against the real CLI by `clauderon-daemon/tests/agent_claude.rs`). Lines have a `type`:
//! `user` and `assistant` carry `message.content` (a string, or blocks `text`, `tool_use`,
//! `tool_result`, `thinking`, `image`), `system` a `content` string; `summary`,
//! `file-history-snapshot` and other bookkeeping lines are not part of the conversation.
//! One assistant reply may be written as several lines with the same `message.id` (one per
//! content block): they are merged into one message.
//!
//! Reading never fails on content: lines that do not parse are counted in [`ParseNotes`], and
//! the messages that do parse are returned. A transcript is read while the agent appends to it,
//! so a half-written last line is expected.
//!
//! Codex keeps rollouts in date folders under `$HOME/.codex/sessions/` (`codex.rs`); use
//! [`newest_transcript`] and [`read_transcript`] to pick by agent. Gemini CLI writes JSONL chats under
//! `$HOME/.gemini/tmp/<project>/chats/` (`gemini.rs`).

pub use clauderon_types::messages::{Message, ParseNotes, Role, ToolCall, ToolResult};

use crate::AgentsError;
use chrono::{DateTime, Utc};
use clauderon_types::AgentKind;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The messages of one transcript, and what could not be read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Transcript {
    pub messages: Vec<Message>,
    pub notes: ParseNotes,
}

/// Claude Code's folder for a working directory: `/work/my.repo` becomes `-work-my-repo`.
pub fn claude_project_dir_name(cwd: &Path) -> String {
    cwd.to_string_lossy().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect()
}

/// The folder under `home` where Claude Code keeps every project's transcripts.
pub fn claude_projects_dir(home: &Path) -> PathBuf {
    home.join(".claude").join("projects")
}

/// The newest Claude Code transcript that `home`'s user wrote while working in `cwd`.
pub fn newest_claude_transcript(home: &Path, cwd: &Path) -> Option<PathBuf> {
    newest_jsonl_in(&claude_projects_dir(home).join(claude_project_dir_name(cwd)))
}

/// The newest Claude Code transcript under `home`, whatever the working directory was: a
/// session's agent runs in its worktree on the host, but in `/workspace` inside a container.
pub fn newest_claude_transcript_anywhere(home: &Path) -> Option<PathBuf> {
    let projects = std::fs::read_dir(claude_projects_dir(home)).ok()?;
    projects
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| newest_jsonl_in(&e.path()))
        .filter_map(|p| modified(&p).map(|m| (m, p)))
        .max()
        .map(|(_, p)| p)
}

pub(crate) fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The most recently modified `*.jsonl` file directly in `dir` (subagent folders are not looked into).
fn newest_jsonl_in(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl") && p.is_file())
        .filter_map(|p| modified(&p).map(|m| (m, p)))
        .max()
        .map(|(_, p)| p)
}

/// Read a Claude Code transcript file. Only an unreadable file is an error; bad content is noted.
pub fn read_claude_transcript(path: &Path) -> Result<Transcript, AgentsError> {
    read_transcript(AgentKind::Claude, path)
}

/// Parse Claude Code's JSONL. Never fails: see the module documentation.
pub fn parse_claude_jsonl(text: &str) -> Transcript {
    let mut out = Transcript::default();
    // The `message.id` of the assistant reply the last message came from, to merge its parts.
    let mut open_reply: Option<String> = None;
    let mut messages = Vec::new();
    out.notes = each_json_line(text, |value| match claude_line(&value)? {
        Line::Message { message, reply_id } => {
            let merge = reply_id.is_some() && reply_id == open_reply;
            match messages.last_mut() {
                Some(last) if merge => merge_into(last, message),
                _ => messages.push(message),
            }
            open_reply = reply_id;
            Ok(())
        }
        Line::Other => Ok(()),
    });
    out.messages = messages;
    out
}

/// Hand each JSON line of a JSONL text to `f`, counting in the notes the lines that are not
/// JSON, the last line when it is still being written, and those `f` refuses (with its reason).
pub(crate) fn each_json_line(text: &str, mut f: impl FnMut(Value) -> Result<(), String>) -> ParseNotes {
    let mut notes = ParseNotes::default();
    let ends_with_newline = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let number = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(value) => {
                if let Err(why) = f(value) {
                    notes.skip(number, why);
                }
            }
            Err(e) if number == lines.len() && !ends_with_newline => {
                notes.skip(number, format!("incomplete, the agent may still be writing it ({e})"));
            }
            Err(e) => notes.skip(number, format!("not JSON ({e})")),
        }
    }
    notes
}

enum Line {
    Message {
        message: Message,
        reply_id: Option<String>,
    },
    /// Bookkeeping, not conversation.
    Other,
}

fn claude_line(value: &Value) -> Result<Line, String> {
    let Some(obj) = value.as_object() else {
        return Err("not a JSON object".into());
    };
    let kind = obj.get("type").and_then(Value::as_str).unwrap_or_default();
    // Lines the CLI adds for itself (command caveats and the like), not the user's words.
    if obj.get("isMeta").and_then(Value::as_bool) == Some(true) {
        return Ok(Line::Other);
    }
    let timestamp = obj.get("timestamp").and_then(Value::as_str).and_then(parse_time);
    match kind {
        "user" | "assistant" => {
            let Some(message) = obj.get("message").and_then(Value::as_object) else {
                return Err(format!("a `{kind}` line without a `message` object"));
            };
            let content =
                message.get("content").ok_or_else(|| format!("a `{kind}` message without content"))?;
            let mut msg = Message {
                role: if kind == "user" { Role::User } else { Role::Assistant },
                text: String::new(),
                tool_calls: Vec::new(),
                tool_results: Vec::new(),
                timestamp,
            };
            read_content(content, &mut msg)?;
            // A user line that only carries tool output is the tool speaking, not the user.
            if msg.role == Role::User && msg.text.is_empty() && !msg.tool_results.is_empty() {
                msg.role = Role::Tool;
            }
            let reply_id = if kind == "assistant" {
                message.get("id").and_then(Value::as_str).map(str::to_owned)
            } else {
                None
            };
            Ok(Line::Message { message: msg, reply_id })
        }
        "system" => match obj.get("content").and_then(Value::as_str) {
            Some(text) if !text.is_empty() => Ok(Line::Message {
                message: Message {
                    role: Role::System,
                    text: text.to_owned(),
                    tool_calls: Vec::new(),
                    tool_results: Vec::new(),
                    timestamp,
                },
                reply_id: None,
            }),
            _ => Ok(Line::Other),
        },
        "" => Err("no `type`".into()),
        _ => Ok(Line::Other),
    }
}

pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

fn read_content(content: &Value, msg: &mut Message) -> Result<(), String> {
    let blocks = match content {
        Value::String(s) => {
            msg.text = s.clone();
            return Ok(());
        }
        Value::Array(blocks) => blocks,
        _ => return Err("`message.content` is neither text nor a list of blocks".into()),
    };
    let mut texts: Vec<&str> = Vec::new();
    for block in blocks {
        match block.get("type").and_then(Value::as_str).unwrap_or_default() {
            "text" => texts.extend(block.get("text").and_then(Value::as_str)),
            "tool_use" => msg.tool_calls.push(ToolCall {
                id: string_field(block, "id"),
                name: string_field(block, "name"),
                input: block.get("input").cloned().unwrap_or(Value::Null),
            }),
            "tool_result" => msg.tool_results.push(ToolResult {
                tool_use_id: string_field(block, "tool_use_id"),
                output: block.get("content").map(result_text).unwrap_or_default(),
                is_error: block.get("is_error").and_then(Value::as_bool).unwrap_or(false),
            }),
            // Reasoning, images and blocks newer than this reader are not part of the text.
            _ => {}
        }
    }
    msg.text = texts.join("\n\n");
    Ok(())
}

fn string_field(block: &Value, key: &str) -> String {
    block.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// A tool result's content: a string, or blocks whose text parts are joined by newlines.
fn result_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .map(|p| match p.get("type").and_then(Value::as_str) {
                Some("text") => p.get("text").and_then(Value::as_str).unwrap_or_default().to_owned(),
                Some(other) => format!("[{other}]"),
                None => String::new(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Add a later part of the same assistant reply to the message holding its first part.
pub(crate) fn merge_into(first: &mut Message, part: Message) {
    if !part.text.is_empty() {
        if !first.text.is_empty() {
            first.text.push_str("\n\n");
        }
        first.text.push_str(&part.text);
    }
    first.tool_calls.extend(part.tool_calls);
    first.tool_results.extend(part.tool_results);
    first.timestamp = first.timestamp.or(part.timestamp);
}

mod codex;
mod gemini;

pub use codex::{codex_sessions_dir, newest_codex_transcript, parse_codex_jsonl, read_codex_transcript};
pub use gemini::{gemini_tmp_dir, newest_gemini_transcript, parse_gemini_jsonl};

/// The newest transcript `agent` wrote under `home`; `None` before it has written one.
pub fn newest_transcript(agent: AgentKind, home: &Path) -> Option<PathBuf> {
    match agent {
        AgentKind::Claude => newest_claude_transcript_anywhere(home),
        AgentKind::Codex => newest_codex_transcript(home),
        AgentKind::Gemini => newest_gemini_transcript(home),
    }
}

/// Read a transcript `agent` wrote. Only an unreadable file is an error; bad content is noted.
pub fn read_transcript(agent: AgentKind, path: &Path) -> Result<Transcript, AgentsError> {
    let bytes = std::fs::read(path)
        .map_err(|e| AgentsError::Unreadable { path: path.to_path_buf(), reason: e.to_string() })?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(match agent {
        AgentKind::Claude => parse_claude_jsonl(&text),
        AgentKind::Codex => parse_codex_jsonl(&text),
        AgentKind::Gemini => parse_gemini_jsonl(&text),
    })
}

#[cfg(test)]
mod tests;
