//! Gemini CLI's chats: `$HOME/.gemini/tmp/<project>/chats/session-<time>-<id>.jsonl` (checked
//! against Gemini CLI 0.61.0: see `tests/fixtures/`). The first line describes the session;
//! then each line is a message record (`id`, `timestamp`, `type` `user` | `gemini` | `info` |
//! `error` | `warning`, `content`), or an update `{"$set": {...}}`, whose `messages` replaces
//! the records so far. A record written again with the same `id` replaces the earlier one (a
//! reply is written first without, then with its `toolCalls`, each holding its `result`).
//! The `user` records that only carry `functionResponse` parts repeat those results and are
//! not read; the context Gemini sends first (`<session_context>`) is not the user's words.

use super::{Transcript, each_json_line, jsonl_entry, keep_newest, open_home, parse_time, subfolders};
use clauderon_types::messages::{Message, ParseNotes, Role, ToolCall, ToolResult};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Where Gemini CLI keeps its per-project folders under `home`.
pub fn gemini_tmp_dir(home: &Path) -> PathBuf {
    home.join(".gemini").join("tmp")
}

/// The most recently written chat under `home`, whatever the project. A link among the
/// project folders, their `chats` or the chats is refused ([`crate::AgentsError::Refused`]).
pub fn newest_gemini_transcript(home: &Path) -> Result<Option<PathBuf>, crate::AgentsError> {
    let reading = crate::AgentsError::reading(home);
    let Some(root) = open_home(home)? else { return Ok(None) };
    let Some(tmp) = root.dir(".gemini/tmp").map_err(&reading)? else { return Ok(None) };
    let mut newest = None;
    for project in subfolders(&tmp, home)? {
        let Some(chats) = project.dir("chats").map_err(&reading)? else { continue };
        for entry in chats.entries().map_err(&reading)? {
            keep_newest(&mut newest, jsonl_entry(&chats, &entry, home)?);
        }
    }
    Ok(newest.map(|(_, rel)| root.host_path(&rel)))
}

/// Parse a Gemini CLI chat. Never fails: lines that do not parse are counted in the notes.
pub fn parse_gemini_jsonl(text: &str) -> Transcript {
    // Records in order; one written again replaces the earlier one in place.
    let mut records: Vec<Value> = Vec::new();
    let mut notes: ParseNotes = each_json_line(text, |value| {
        let Some(obj) = value.as_object() else {
            return Err("not a JSON object".into());
        };
        if let Some(set) = obj.get("$set") {
            if let Some(messages) = set.get("messages").and_then(Value::as_array) {
                records = messages.clone();
            }
            return Ok(());
        }
        if obj.contains_key("sessionId") && !obj.contains_key("type") {
            return Ok(()); // the session's description
        }
        if !obj.contains_key("type") {
            return Err("no `type`".into());
        }
        let id = obj.get("id").and_then(Value::as_str);
        match records.iter_mut().find(|r| id.is_some() && r.get("id").and_then(Value::as_str) == id) {
            Some(earlier) => *earlier = value,
            None => records.push(value),
        }
        Ok(())
    });
    let mut messages = Vec::new();
    for record in &records {
        if let Err(why) = read_record(record, &mut messages) {
            // Records are no longer tied to one line once replaced: counted without a line number.
            notes.skipped_lines += 1;
            notes.reason.get_or_insert(why);
        }
    }
    Transcript { messages, notes }
}

fn empty(role: Role, record: &Value) -> Message {
    Message {
        role,
        text: String::new(),
        tool_calls: Vec::new(),
        tool_results: Vec::new(),
        timestamp: record.get("timestamp").and_then(Value::as_str).and_then(parse_time),
    }
}

/// `content` as text: a string, or parts whose `text`s are joined.
fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n\n"),
        _ => String::new(),
    }
}

fn read_record(record: &Value, out: &mut Vec<Message>) -> Result<(), String> {
    let kind = record.get("type").and_then(Value::as_str).unwrap_or_default();
    match kind {
        "user" => {
            let text = content_text(record.get("content"));
            if !text.is_empty() && !text.starts_with("<session_context>") {
                let mut m = empty(Role::User, record);
                m.text = text;
                out.push(m);
            }
        }
        "gemini" => {
            let mut m = empty(Role::Assistant, record);
            m.text = content_text(record.get("content"));
            let calls =
                record.get("toolCalls").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            let mut results = empty(Role::Tool, record);
            for call in calls {
                let id = call.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
                let name = call.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
                let input = call.get("args").cloned().unwrap_or(Value::Null);
                m.tool_calls.push(ToolCall { id: id.clone(), name, input });
                if let Some(result) = call.get("result").and_then(Value::as_array) {
                    results.timestamp = call.get("timestamp").and_then(Value::as_str).and_then(parse_time);
                    let output = result
                        .iter()
                        .filter_map(|r| r.get("functionResponse")?.get("response"))
                        .map(|r| match r.get("output").or_else(|| r.get("error")) {
                            Some(Value::String(s)) => s.clone(),
                            _ => r.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join("\n");
                    let is_error = call.get("status").and_then(Value::as_str).is_some_and(|s| s != "success");
                    results.tool_results.push(ToolResult { tool_use_id: id, output, is_error });
                }
            }
            out.push(m);
            if !results.tool_results.is_empty() {
                out.push(results);
            }
        }
        "info" | "error" | "warning" => {
            let mut m = empty(Role::System, record);
            m.text = content_text(record.get("content"));
            out.push(m);
        }
        other => return Err(format!("a record of the unknown type {other:?}")),
    }
    Ok(())
}
