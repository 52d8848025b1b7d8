//! `GET /api/sessions/{name}/messages` (issue 6, §2) on transcripts planted in a session's HOME.
//! The lines are hand-written in Claude Code's shape (tool calls and a half-written last line
//! are shapes the fake model API cannot make the real CLI write); `agent_claude.rs` reads a
//! transcript the real CLI wrote.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use clauderon_testkit::http::{Request, unix};
use clauderon_testkit::{TestDaemon, TestRepo};
use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;

const PROMPT: &str = r#"{"type":"user","message":{"role":"user","content":"List the files"},"timestamp":"2026-11-29T08:00:00.000Z","cwd":"/workspace"}"#;
const CALL: &str = r#"{"type":"assistant","message":{"id":"msg_1","role":"assistant","content":[{"type":"text","text":"Looking."},{"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"ls"}}]},"timestamp":"2026-11-29T08:00:01.000Z"}"#;
const RESULT: &str = r#"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"a.txt","is_error":false}]},"timestamp":"2026-11-29T08:00:02.000Z"}"#;
const ANSWER: &str = r#"{"type":"assistant","message":{"id":"msg_2","role":"assistant","content":[{"type":"text","text":"One file: a.txt"}]},"timestamp":"2026-11-29T08:00:03.000Z"}"#;

async fn get(d: &TestDaemon, path: &str) -> (u16, Value) {
    let reply = unix(d.socket(), Request::new("GET", path)).await;
    (reply.status, serde_json::from_str(&reply.body).unwrap_or(Value::Null))
}

async fn create(d: &TestDaemon, repo: &TestRepo, name: &str, agent: &str) {
    let body = json!({"repo_path": repo.path(), "prompt": "go", "name": name, "agent": agent}).to_string();
    let created = unix(d.socket(), Request::new("POST", "/api/sessions").json(body)).await;
    assert_eq!(created.status, 201, "{}", created.body);
}

/// Where a Docker session's Claude Code (cwd `/workspace`) writes its transcript.
fn transcript(d: &TestDaemon, name: &str) -> PathBuf {
    let dir = d.layout().session_home(name).join(".claude/projects/-workspace");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("0b8e1c52-6f0e-4d3a-9d55-2f9e4c1b7a10.jsonl")
}

fn append(path: &PathBuf, text: &str) {
    std::fs::File::options()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_paged_and_follow_a_growing_transcript() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    create(&d, &repo, "chat", "claude").await;

    // Nothing written yet: an empty history, not an error.
    let (status, empty) = get(&d, "/api/sessions/chat/messages").await;
    assert_eq!(status, 200, "{empty}");
    assert_eq!(
        (&empty["transcript"], empty["total"].as_u64(), empty["next"].as_u64()),
        (&Value::Null, Some(0), Some(0))
    );

    // The agent is half-way through writing its third line.
    let path = transcript(&d, "chat");
    append(&path, &format!("{PROMPT}\n{CALL}\n{}", &RESULT[..30]));
    let (status, page) = get(&d, "/api/sessions/chat/messages?limit=1").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["transcript"], path.display().to_string());
    assert_eq!(
        (page["total"].as_u64(), page["start"].as_u64(), page["next"].as_u64()),
        (Some(2), Some(0), Some(1))
    );
    assert_eq!(page["messages"][0]["text"], "List the files");
    assert_eq!(page["messages"][0]["timestamp"], "2026-11-29T08:00:00Z");
    assert_eq!(page["notes"]["skipped_lines"], 1, "{page}");
    assert!(page["notes"]["reason"].as_str().unwrap().starts_with("line 3: incomplete"), "{page}");

    let (_, page) = get(&d, "/api/sessions/chat/messages?after=1").await;
    assert_eq!(page["messages"].as_array().map(Vec::len), Some(1), "{page}");
    let reply = &page["messages"][0];
    assert_eq!((&reply["role"], &reply["text"]), (&json!("assistant"), &json!("Looking.")));
    assert_eq!(reply["tool_calls"], json!([{"id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}]));
    let cursor = page["next"].as_u64().unwrap();
    assert_eq!(cursor, 2);

    // The line is finished and another follows: after the cursor come exactly the new ones.
    append(&path, &format!("{}\n{ANSWER}\n", &RESULT[30..]));
    let (_, page) = get(&d, &format!("/api/sessions/chat/messages?after={cursor}")).await;
    assert_eq!(page["notes"], json!({"skipped_lines": 0, "reason": null}), "{page}");
    let roles: Vec<&Value> = page["messages"].as_array().unwrap().iter().map(|m| &m["role"]).collect();
    assert_eq!(roles, [&json!("tool"), &json!("assistant")], "{page}");
    assert_eq!(
        page["messages"][0]["tool_results"],
        json!([{"tool_use_id": "toolu_1", "output": "a.txt", "is_error": false}])
    );
    assert_eq!(page["messages"][1]["text"], "One file: a.txt");
    assert_eq!((page["next"].as_u64(), page["total"].as_u64()), (Some(4), Some(4)));
    // Nothing new: an empty page that keeps the cursor.
    let (_, page) = get(&d, "/api/sessions/chat/messages?after=4").await;
    assert_eq!((page["messages"].as_array().map(Vec::len), page["next"].as_u64()), (Some(0), Some(4)));
    d.stop().await;
}

/// A Codex session's rollout (the real one Codex 0.171.0 wrote, from the agents crate's
/// fixtures) is found in its date folders and read with Codex's shapes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_codex_sessions_messages_come_from_its_rollout() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    create(&d, &repo, "cx", "codex").await;
    let day = d.layout().session_home("cx").join(".codex/sessions/2026/11/29");
    std::fs::create_dir_all(&day).unwrap();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../clauderon-agents/tests/fixtures/codex-0.171.0-tool-call.jsonl"
    );
    std::fs::copy(fixture, day.join("rollout-2026-11-29T08-12-37-x.jsonl")).unwrap();
    // A Claude-shaped file in the same HOME is not what a Codex session reads.
    append(&transcript(&d, "cx"), &format!("{PROMPT}\n"));
    let (status, page) = get(&d, "/api/sessions/cx/messages").await;
    assert_eq!(status, 200, "{page}");
    assert!(page["transcript"].as_str().unwrap().ends_with("rollout-2026-11-29T08-12-37-x.jsonl"), "{page}");
    let roles: Vec<&str> =
        page["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "tool", "assistant"], "{page}");
    assert_eq!(page["messages"][1]["tool_calls"][0]["name"], "exec_command");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_sessions_and_bad_cursors_say_what_is_wrong_and_gemini_chats_are_read() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    let (status, body) = get(&d, "/api/sessions/nobody/messages").await;
    assert_eq!(status, 404, "{body}");
    let (_, doc) = get(&d, "/api/openapi.json").await;
    assert!(doc["paths"]["/api/sessions/{name}/messages"]["get"].is_object(), "the route is not described");
    for schema in ["MessagePage", "Message", "ToolCall", "ToolResult", "ParseNotes", "Role"] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "{schema} missing from the OpenAPI document"
        );
    }

    create(&d, &repo, "chat", "claude").await;
    let (status, body) = get(&d, "/api/sessions/chat/messages?after=soon").await;
    assert_eq!(status, 400, "{body}");

    // A Gemini session reads Gemini's chats (the real one Gemini CLI 0.61.0 wrote), not the
    // Claude-shaped file beside them.
    create(&d, &repo, "gem", "gemini").await;
    append(&transcript(&d, "gem"), &format!("{PROMPT}\n"));
    let chats = d.layout().session_home("gem").join(".gemini/tmp/workspace/chats");
    std::fs::create_dir_all(&chats).unwrap();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../clauderon-agents/tests/fixtures/gemini-cli-0.61.0-tool-call.jsonl"
    );
    std::fs::copy(fixture, chats.join("session-2026-11-29T08-15-03269842.jsonl")).unwrap();
    let (status, page) = get(&d, "/api/sessions/gem/messages").await;
    assert_eq!(status, 200, "{page}");
    let texts: Vec<&str> =
        page["messages"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["Run echo", "Running it.", "", "Done, 42"], "{page}");
    d.stop().await;
}
