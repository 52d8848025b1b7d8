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
//! Transcripts are in the session's HOME, which the session writes: every walk and read goes
//! through `clauderon-fs`, so a link planted among them (a projects folder pointing at the
//! user's own `~/.claude/projects`) is refused with an error, never followed.
//!
//! Reading never fails on content: lines that do not parse are counted in [`ParseNotes`], and
//! the messages that do parse are returned. A transcript is read while the agent appends to it,
//! so a half-written last line is expected.
//!
//! Codex keeps rollouts in date folders under `$HOME/.codex/sessions/` (`codex.rs`); each
//! agent's profile names its reader ([`crate::profile::newest_transcript`] and
//! [`crate::profile::read_transcript`] pick by agent). Gemini CLI writes JSONL chats under
//! `$HOME/.gemini/tmp/<project>/chats/` (`gemini.rs`).

pub use clauderon_types::messages::{Message, ParseNotes, Role, ToolCall, ToolResult};

use crate::AgentsError;
use chrono::{DateTime, Utc};
use clauderon_fs::{ConfinedDir, Entry, EntryKind, Place, SessionRoot};
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
pub fn newest_claude_transcript(home: &Path, cwd: &Path) -> Result<Option<PathBuf>, AgentsError> {
    let Some(root) = open_home(home)? else { return Ok(None) };
    let project = claude_project_dir_name(cwd);
    if project.is_empty() {
        return Ok(None);
    }
    let Some(dir) = root.dir(&format!(".claude/projects/{project}")).map_err(AgentsError::reading(home))?
    else {
        return Ok(None);
    };
    Ok(newest_jsonl_in(&dir, home)?.map(|(_, rel)| root.host_path(&rel)))
}

/// The newest Claude Code transcript under `home`, whatever the working directory was: a
/// session's agent runs in its worktree on the host, but in `/workspace` inside a container.
pub fn newest_claude_transcript_anywhere(home: &Path) -> Result<Option<PathBuf>, AgentsError> {
    let Some(root) = open_home(home)? else { return Ok(None) };
    let Some(projects) = root.dir(".claude/projects").map_err(AgentsError::reading(home))? else {
        return Ok(None);
    };
    let mut newest = None;
    for project in subfolders(&projects, home)? {
        keep_newest(&mut newest, newest_jsonl_in(&project, home)?);
    }
    Ok(newest.map(|(_, rel)| root.host_path(&rel)))
}

/// The largest transcript clauderon reads (a session could plant a huge file).
const TRANSCRIPT_LIMIT: u64 = 256 << 20;

/// The session's HOME through `clauderon-fs`, or `None` when there is none yet.
pub(crate) fn open_home(home: &Path) -> Result<Option<SessionRoot>, AgentsError> {
    SessionRoot::open_existing(home, Place::Home).map_err(AgentsError::reading(home))
}

/// The folders in `dir`. A link among them is opened like a folder, so it is refused (an error
/// naming it), never followed.
pub(crate) fn subfolders(dir: &ConfinedDir, home: &Path) -> Result<Vec<ConfinedDir>, AgentsError> {
    let mut out = Vec::new();
    for entry in dir.entries().map_err(AgentsError::reading(home))? {
        if matches!(entry.kind, EntryKind::Folder | EntryKind::Symlink)
            && let Some(sub) = dir.dir(&entry.name).map_err(AgentsError::reading(home))?
        {
            out.push(sub);
        }
    }
    Ok(out)
}

/// The modification time and path (relative to HOME) of `dir`'s `entry` when it is a transcript
/// (`*.jsonl`) to consider. A link with that name is opened like a file, so it is refused.
pub(crate) fn jsonl_entry(
    dir: &ConfinedDir,
    entry: &Entry,
    home: &Path,
) -> Result<Option<(SystemTime, String)>, AgentsError> {
    if !entry.name.ends_with(".jsonl") || !matches!(entry.kind, EntryKind::File | EntryKind::Symlink) {
        return Ok(None);
    }
    let file = dir.file(&entry.name).map_err(AgentsError::reading(home))?;
    Ok(file.and_then(|f| f.modified().map(|m| (m, f.rel().to_string()))))
}

pub(crate) fn keep_newest(
    newest: &mut Option<(SystemTime, String)>,
    candidate: Option<(SystemTime, String)>,
) {
    if let Some(c) = candidate
        && newest.as_ref().is_none_or(|n| c.0 > n.0)
    {
        *newest = Some(c);
    }
}

/// The most recently modified `*.jsonl` file directly in `dir` (subagent folders are not looked into).
fn newest_jsonl_in(dir: &ConfinedDir, home: &Path) -> Result<Option<(SystemTime, String)>, AgentsError> {
    let mut newest = None;
    for entry in dir.entries().map_err(AgentsError::reading(home))? {
        keep_newest(&mut newest, jsonl_entry(dir, &entry, home)?);
    }
    Ok(newest)
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

pub use codex::{codex_sessions_dir, newest_codex_transcript, parse_codex_jsonl};
pub use gemini::{gemini_tmp_dir, newest_gemini_transcript, parse_gemini_jsonl};

/// Read the transcript at `path` (inside the session's HOME `home`, as the agent's profile
/// finds it: [`crate::profile::newest_transcript`]) through `clauderon-fs`, and `parse` it. Only
/// an unreadable file is an error; bad content is noted.
pub fn read_transcript_with(
    parse: fn(&str) -> Transcript,
    home: &Path,
    path: &Path,
) -> Result<Transcript, AgentsError> {
    let unreadable =
        |reason: &str| AgentsError::Unreadable { path: path.to_path_buf(), reason: reason.into() };
    let rel = path.strip_prefix(home).map_err(|_| unreadable("it is not in the session's HOME"))?;
    let rel = rel.to_str().ok_or_else(|| unreadable("its name is not UTF-8"))?;
    let root = open_home(home)?.ok_or_else(|| unreadable("the session has no HOME"))?;
    let bytes = root
        .read(rel, TRANSCRIPT_LIMIT)
        .map_err(AgentsError::reading(home))?
        .ok_or_else(|| unreadable("it is not there"))?;
    Ok(parse(&String::from_utf8_lossy(&bytes)))
}

#[cfg(test)]
mod tests;
