//! Codex's rollouts: `$HOME/.codex/sessions/YYYY/MM/DD/rollout-<time>-<uuid>.jsonl`, one JSON
//! object per line with a `type` and a `payload` (checked against Codex 0.171.0: see
//! `tests/fixtures/`). The conversation is in the `response_item` lines, in the shapes of
//! OpenAI's Responses API: `message` (roles `user`, `assistant`, `developer`), `function_call`
//! and `custom_tool_call` (the agent runs a tool), `function_call_output` and
//! `custom_tool_call_output`, `reasoning`. `event_msg`, `turn_context`, `session_meta` and
//! the like repeat or describe it and are not read.

use super::{Transcript, each_json_line, jsonl_entry, keep_newest, merge_into, open_home, parse_time};
use clauderon_fs::{ConfinedDir, EntryKind};
use clauderon_types::messages::{Message, Role, ToolCall, ToolResult};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What Codex puts before the user's first prompt as user messages: its view of the
/// environment and the project's instructions, not the user's words.
const CONTEXT_PREFIXES: &[&str] = &[
    "<environment_context>",
    "<user_instructions>",
    "# AGENTS.md instructions",
    "<permissions instructions>",
];

/// Where Codex keeps its rollouts under `home`.
pub fn codex_sessions_dir(home: &Path) -> PathBuf {
    home.join(".codex").join("sessions")
}

/// The most recently written rollout under `home`. A link among the date folders or the
/// rollouts is refused ([`crate::AgentsError::Refused`]), never followed.
pub fn newest_codex_transcript(home: &Path) -> Result<Option<PathBuf>, crate::AgentsError> {
    let Some(root) = open_home(home)? else { return Ok(None) };
    let Some(sessions) = root.dir(".codex/sessions").map_err(crate::AgentsError::reading(home))? else {
        return Ok(None);
    };
    let mut newest = None;
    visit(&sessions, 0, home, &mut newest)?;
    Ok(newest.map(|(_, rel)| root.host_path(&rel)))
}

/// Year, month and day folders, then the rollouts: at most four levels. A link where a folder
/// may be is opened as one, so it is refused.
fn visit(
    dir: &ConfinedDir,
    depth: usize,
    home: &Path,
    newest: &mut Option<(SystemTime, String)>,
) -> Result<(), crate::AgentsError> {
    for entry in dir.entries().map_err(crate::AgentsError::reading(home))? {
        let folder = matches!(entry.kind, EntryKind::Folder)
            || (matches!(entry.kind, EntryKind::Symlink) && !entry.name.ends_with(".jsonl"));
        if folder && depth < 3 {
            if let Some(sub) = dir.dir(&entry.name).map_err(crate::AgentsError::reading(home))? {
                visit(&sub, depth + 1, home, newest)?;
            }
        } else {
            keep_newest(newest, jsonl_entry(dir, &entry, home)?);
        }
    }
    Ok(())
}

/// Parse a Codex rollout. Never fails: lines that do not parse are counted in the notes.
pub fn parse_codex_jsonl(text: &str) -> Transcript {
    let mut messages: Vec<Message> = Vec::new();
    let notes = each_json_line(text, |value| {
        let Some(obj) = value.as_object() else {
            return Err("not a JSON object".into());
        };
        let Some(kind) = obj.get("type").and_then(Value::as_str) else {
            return Err("no `type`".into());
        };
        if kind != "response_item" {
            return Ok(());
        }
        let payload = obj.get("payload").ok_or("a `response_item` without a `payload`")?;
        let timestamp = obj.get("timestamp").and_then(Value::as_str).and_then(parse_time);
        let Some(message) = item(payload, timestamp)? else { return Ok(()) };
        // A call follows the words of the same reply, and outputs of parallel calls follow
        // each other: both read as one message.
        match messages.last_mut() {
            Some(last) if joins(last, &message) => merge_into(last, message),
            _ => messages.push(message),
        }
        Ok(())
    });
    Transcript { messages, notes }
}

fn joins(last: &Message, next: &Message) -> bool {
    (last.role == Role::Assistant && next.role == Role::Assistant && next.text.is_empty())
        || (last.role == Role::Tool && next.role == Role::Tool)
}

fn empty(role: Role, timestamp: Option<chrono::DateTime<chrono::Utc>>) -> Message {
    Message { role, text: String::new(), tool_calls: Vec::new(), tool_results: Vec::new(), timestamp }
}

fn field(payload: &Value, key: &str) -> String {
    payload.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn item(
    payload: &Value,
    timestamp: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Option<Message>, String> {
    let kind = payload.get("type").and_then(Value::as_str).unwrap_or_default();
    Ok(match kind {
        "message" => {
            let role = match payload.get("role").and_then(Value::as_str) {
                Some("user") => Role::User,
                Some("assistant") => Role::Assistant,
                Some("system") => Role::System,
                // Codex's own instructions to the model.
                Some("developer") => return Ok(None),
                other => return Err(format!("a message with the role {other:?}")),
            };
            let Some(parts) = payload.get("content").and_then(Value::as_array) else {
                return Err("a message without a `content` list".into());
            };
            let texts: Vec<&str> =
                parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect();
            if role == Role::User && texts.iter().all(|t| CONTEXT_PREFIXES.iter().any(|c| t.starts_with(c))) {
                return Ok(None);
            }
            let mut m = empty(role, timestamp);
            m.text = texts.join("\n\n");
            Some(m)
        }
        "function_call" | "custom_tool_call" | "local_shell_call" => {
            let input = match payload
                .get("arguments")
                .or_else(|| payload.get("input"))
                .or_else(|| payload.get("action"))
            {
                // Function arguments are a JSON document in a string.
                Some(Value::String(s)) => {
                    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone()))
                }
                Some(v) => v.clone(),
                None => Value::Null,
            };
            let name = payload.get("name").and_then(Value::as_str).unwrap_or(kind).to_owned();
            let mut m = empty(Role::Assistant, timestamp);
            m.tool_calls.push(ToolCall { id: field(payload, "call_id"), name, input });
            Some(m)
        }
        "function_call_output" | "custom_tool_call_output" => {
            let (output, is_error) = match payload.get("output") {
                Some(Value::String(s)) => (s.clone(), false),
                // An older shape: `{"content": "...", "success": false}`.
                Some(Value::Object(o)) => (
                    o.get("content").and_then(Value::as_str).unwrap_or_default().to_owned(),
                    o.get("success").and_then(Value::as_bool) == Some(false),
                ),
                Some(other) => (other.to_string(), false),
                None => (String::new(), false),
            };
            let mut m = empty(Role::Tool, timestamp);
            m.tool_results.push(ToolResult { tool_use_id: field(payload, "call_id"), output, is_error });
            Some(m)
        }
        // Reasoning and items newer than this reader.
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use serde_json::json;

    /// Hand-written in the shapes of a real rollout (`tests/fixtures/` has one): the older
    /// `output` object, a freeform (`custom_tool_call`) patch, parallel outputs, damage.
    #[test]
    fn calls_outputs_and_damage_read_as_messages_and_notes() {
        let lines = [
            json!({"timestamp":"2026-11-29T08:00:00Z","type":"session_meta","payload":{"cwd":"/workspace"}}),
            json!({"timestamp":"2026-11-29T08:00:00Z","type":"response_item","payload":{"type":"message","role":"developer","content":[{"type":"input_text","text":"rules"}]}}),
            json!({"timestamp":"2026-11-29T08:00:00Z","type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"<environment_context>\n</environment_context>"}]}}),
            json!({"timestamp":"2026-11-29T08:00:01Z","type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"Fix it"}]}}),
            json!({"timestamp":"2026-11-29T08:00:02Z","type":"response_item","payload":{"type":"reasoning","summary":[]}}),
            json!({"timestamp":"2026-11-29T08:00:03Z","type":"response_item","payload":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Patching."}]}}),
            json!({"timestamp":"2026-11-29T08:00:03Z","type":"response_item","payload":{"type":"custom_tool_call","call_id":"c1","name":"apply_patch","input":"*** Begin Patch"}}),
            json!({"timestamp":"2026-11-29T08:00:03Z","type":"response_item","payload":{"type":"function_call","call_id":"c2","name":"shell","arguments":"{\"command\":[\"ls\"]}"}}),
            json!({"timestamp":"2026-11-29T08:00:04Z","type":"response_item","payload":{"type":"custom_tool_call_output","call_id":"c1","output":"Done!"}}),
            json!({"timestamp":"2026-11-29T08:00:04Z","type":"response_item","payload":{"type":"function_call_output","call_id":"c2","output":{"content":"denied","success":false}}}),
            json!({"timestamp":"2026-11-29T08:00:05Z","type":"event_msg","payload":{"type":"agent_message","message":"Patching."}}),
        ];
        let mut text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        text.push_str("oops\n{\"type\":\"response_item\",\"payload\":{\"type\":\"mess");
        let t = parse_codex_jsonl(&text);

        let roles: Vec<Role> = t.messages.iter().map(|m| m.role).collect();
        assert_eq!(roles, [Role::User, Role::Assistant, Role::Tool]);
        assert_eq!(t.messages[0].text, "Fix it");
        let reply = &t.messages[1];
        assert_eq!(reply.text, "Patching.");
        assert_eq!(
            reply.tool_calls,
            [
                ToolCall { id: "c1".into(), name: "apply_patch".into(), input: json!("*** Begin Patch") },
                ToolCall { id: "c2".into(), name: "shell".into(), input: json!({"command": ["ls"]}) },
            ]
        );
        assert_eq!(
            t.messages[2].tool_results,
            [
                ToolResult { tool_use_id: "c1".into(), output: "Done!".into(), is_error: false },
                ToolResult { tool_use_id: "c2".into(), output: "denied".into(), is_error: true },
            ]
        );
        assert_eq!(t.notes.skipped_lines, 2);
        assert!(t.notes.reason.as_deref().unwrap().starts_with("line 12: not JSON"), "{:?}", t.notes);
    }

    #[test]
    fn the_newest_rollout_is_found_in_the_date_folders() {
        let home = tempfile::tempdir().unwrap();
        assert_eq!(newest_codex_transcript(home.path()).unwrap(), None);
        let day = codex_sessions_dir(home.path()).join("2026/11/29");
        std::fs::create_dir_all(&day).unwrap();
        let (old, new) = (day.join("rollout-a.jsonl"), day.join("rollout-b.jsonl"));
        for (path, age) in [(&new, 10), (&old, 100)] {
            std::fs::write(path, "").unwrap();
            let when = std::time::SystemTime::now() - std::time::Duration::from_secs(age);
            std::fs::File::options().write(true).open(path).unwrap().set_modified(when).unwrap();
        }
        assert_eq!(newest_codex_transcript(home.path()).unwrap(), Some(new));
    }
}
