//! The parser on hand-written lines in the shapes Claude Code writes (tool calls, tool results,
//! split replies, damaged files). The fake model API the real-CLI test runs against only answers
//! with text, so these shapes are written out here; `clauderon-daemon/tests/agent_claude.rs`
//! reads a transcript the real CLI wrote.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use serde_json::json;

const USER: &str = r#"{"type":"user","message":{"role":"user","content":"List the files"},"timestamp":"2026-11-29T08:00:00.000Z","uuid":"u1","cwd":"/workspace","sessionId":"s"}"#;
const THINKING_AND_CALL: &str = r#"{"type":"assistant","message":{"id":"msg_1","role":"assistant","content":[{"type":"thinking","thinking":"hmm"},{"type":"text","text":"I will look."}]},"timestamp":"2026-11-29T08:00:01.000Z"}"#;
const SAME_REPLY_TOOL: &str = r#"{"type":"assistant","message":{"id":"msg_1","role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"ls"}}]},"timestamp":"2026-11-29T08:00:02.000Z"}"#;
const RESULT: &str = r#"{"type":"user","message":{"role":"user","content":[{"tool_use_id":"toolu_1","type":"tool_result","content":[{"type":"text","text":"a.txt"},{"type":"text","text":"b.txt"}],"is_error":false}]},"timestamp":"2026-11-29T08:00:03.000Z"}"#;
const FAILED: &str = r#"{"type":"user","message":{"role":"user","content":[{"tool_use_id":"toolu_2","type":"tool_result","content":"permission denied","is_error":true}]},"timestamp":"2026-11-29T08:00:04.000Z"}"#;
const ANSWER: &str = r#"{"type":"assistant","message":{"id":"msg_2","role":"assistant","content":[{"type":"text","text":"Two files."}]},"timestamp":"2026-11-29T08:00:05.000Z"}"#;
const SUMMARY: &str = r#"{"type":"summary","summary":"Listing files","leafUuid":"x"}"#;
const SNAPSHOT: &str = r#"{"type":"file-history-snapshot","messageId":"m","snapshot":{}}"#;

fn jsonl(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn a_conversation_with_tools_reads_in_order_with_calls_and_results() {
    let t = parse_claude_jsonl(&jsonl(&[
        SUMMARY,
        USER,
        THINKING_AND_CALL,
        SAME_REPLY_TOOL,
        RESULT,
        FAILED,
        ANSWER,
    ]));
    assert!(t.notes.is_clean(), "{:?}", t.notes);
    let roles: Vec<Role> = t.messages.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::User, Role::Assistant, Role::Tool, Role::Tool, Role::Assistant]);

    assert_eq!(t.messages[0].text, "List the files");
    assert_eq!(t.messages[0].timestamp, parse_time("2026-11-29T08:00:00Z"));
    // The two lines of reply msg_1 are one message; thinking is not text.
    let reply = &t.messages[1];
    assert_eq!(reply.text, "I will look.");
    assert_eq!(
        reply.tool_calls,
        [ToolCall { id: "toolu_1".into(), name: "Bash".into(), input: json!({"command": "ls"}) }]
    );
    assert_eq!(reply.timestamp, parse_time("2026-11-29T08:00:01Z"));
    assert_eq!(
        t.messages[2].tool_results,
        [ToolResult { tool_use_id: "toolu_1".into(), output: "a.txt\nb.txt".into(), is_error: false }]
    );
    assert!(t.messages[3].tool_results[0].is_error);
    assert_eq!(t.messages[3].tool_results[0].output, "permission denied");
    assert_eq!(t.messages[4].text, "Two files.");
}

#[test]
fn bookkeeping_and_meta_lines_are_not_messages() {
    let meta = r#"{"type":"user","isMeta":true,"message":{"role":"user","content":"Caveat: ..."}}"#;
    let system = r#"{"type":"system","content":"Conversation compacted","timestamp":"2026-11-29T08:00:00Z"}"#;
    let t = parse_claude_jsonl(&jsonl(&[SNAPSHOT, meta, SUMMARY, system, USER]));
    assert!(t.notes.is_clean(), "{:?}", t.notes);
    assert_eq!(t.messages.len(), 2);
    assert_eq!((t.messages[0].role, t.messages[0].text.as_str()), (Role::System, "Conversation compacted"));
    assert_eq!(t.messages[1].role, Role::User);
}

#[test]
fn a_half_written_last_line_keeps_the_messages_before_it_and_says_so() {
    let mut text = jsonl(&[USER, ANSWER]);
    text.push_str(&THINKING_AND_CALL[..40]);
    let t = parse_claude_jsonl(&text);
    assert_eq!(t.messages.len(), 2);
    assert_eq!(t.notes.skipped_lines, 1);
    let reason = t.notes.reason.unwrap();
    assert!(reason.starts_with("line 3: incomplete"), "{reason}");
}

#[test]
fn malformed_lines_are_skipped_and_counted() {
    let text = jsonl(&[
        USER,
        "not json at all",
        "[1,2,3]",
        r#"{"type":"assistant"}"#,
        r#"{"type":"user","message":{"content":42}}"#,
        r#"{"no":"type"}"#,
        "",
        ANSWER,
    ]);
    let t = parse_claude_jsonl(&text);
    assert_eq!(
        t.messages.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        ["List the files", "Two files."]
    );
    assert_eq!(t.notes.skipped_lines, 5);
    let reason = t.notes.reason.unwrap();
    assert!(reason.starts_with("line 2: not JSON"), "{reason}");
}

#[test]
fn a_bad_timestamp_loses_only_the_timestamp() {
    let line = r#"{"type":"user","message":{"role":"user","content":"hi"},"timestamp":"yesterday"}"#;
    let t = parse_claude_jsonl(&jsonl(&[line]));
    assert_eq!(t.messages[0].text, "hi");
    assert_eq!(t.messages[0].timestamp, None);
}

#[test]
fn empty_and_binary_files_give_no_messages_and_no_error() {
    assert_eq!(parse_claude_jsonl(""), Transcript::default());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.jsonl");
    std::fs::write(&path, [0xff, 0xfe, b'\n', 0x00]).unwrap();
    let t = crate::profile::read_transcript(clauderon_types::AgentKind::Claude, dir.path(), &path).unwrap();
    assert!(t.messages.is_empty());
    assert_eq!(t.notes.skipped_lines, 2);
}

#[test]
fn a_missing_transcript_is_an_error_that_names_the_file() {
    let err = crate::profile::read_transcript(
        clauderon_types::AgentKind::Claude,
        Path::new("/nonexistent"),
        Path::new("/nonexistent/t.jsonl"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/t.jsonl"), "{err}");
}

#[test]
fn project_folders_are_named_after_the_cwd() {
    assert_eq!(claude_project_dir_name(Path::new("/workspace")), "-workspace");
    assert_eq!(claude_project_dir_name(Path::new("/home/me/my_repo.v2")), "-home-me-my-repo-v2");
}

#[test]
fn the_newest_transcript_is_found_for_a_cwd_and_anywhere() {
    let home = tempfile::tempdir().unwrap();
    assert_eq!(newest_claude_transcript_anywhere(home.path()).unwrap(), None);
    let work = claude_projects_dir(home.path()).join("-work-repo");
    let docker = claude_projects_dir(home.path()).join("-workspace");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&docker).unwrap();
    let old = work.join("old.jsonl");
    let new = work.join("new.jsonl");
    let newest = docker.join("newest.jsonl");
    for (path, age) in [(&old, 300), (&new, 200), (&newest, 100)] {
        std::fs::write(path, USER).unwrap();
        let when = SystemTime::now() - std::time::Duration::from_secs(age);
        std::fs::File::options().write(true).open(path).unwrap().set_modified(when).unwrap();
    }
    std::fs::write(work.join("notes.txt"), "not a transcript").unwrap();
    assert_eq!(newest_claude_transcript(home.path(), Path::new("/work/repo")).unwrap(), Some(new));
    assert_eq!(newest_claude_transcript(home.path(), Path::new("/elsewhere")).unwrap(), None);
    assert_eq!(newest_claude_transcript_anywhere(home.path()).unwrap(), Some(newest));
}
