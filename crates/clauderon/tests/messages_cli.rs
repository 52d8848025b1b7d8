//! `clauderon show NAME --messages` (issue 6, §2): the real binary against a daemon with the
//! test kit's fake backend, reading a transcript planted in the session's HOME (hand-written
//! lines in Claude Code's shape; `clauderon-daemon/tests/agent_claude.rs` reads a real one).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use clauderon_testkit::http::{Request, unix};
use clauderon_testkit::{TestDaemon, TestRepo};
use common::run;

const LINES: &str = concat!(
    r#"{"type":"user","message":{"role":"user","content":"Say hello"},"timestamp":"2026-11-29T08:00:00.000Z"}"#,
    "\n",
    r#"{"type":"assistant","message":{"id":"m1","role":"assistant","content":[{"type":"text","text":"Hello!"},{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls"}}]},"timestamp":"2026-11-29T08:00:01.000Z"}"#,
    "\n",
    r#"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"a.txt","is_error":true}]},"timestamp":"2026-11-29T08:00:02.000Z"}"#,
    "\n{\"type\":\"assist"
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_messages_prints_the_conversation_and_how_to_page_on() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    let body = serde_json::json!({"repo_path": repo.path(), "prompt": "go", "name": "chat"}).to_string();
    let created = unix(d.socket(), Request::new("POST", "/api/sessions").json(body)).await;
    assert_eq!(created.status, 201, "{}", created.body);

    let (ok, out, err) = run(&d, &["show", "chat", "--messages"]).await;
    assert!(ok, "{err}");
    assert!(out.contains("no messages yet"), "{out}");

    let dir = d.layout().session_home("chat").join(".claude/projects/-workspace");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("s.jsonl"), LINES).unwrap();
    let (ok, out, err) = run(&d, &["show", "chat", "--messages", "--limit", "2"]).await;
    assert!(ok, "{err}");
    assert_eq!(
        out.trim_end(),
        "#0 user 2026-11-29 08:00:00\n  Say hello\n\n\
         #1 assistant 2026-11-29 08:00:01\n  Hello!\n  -> Bash {\"command\":\"ls\"}\n\n\
         note: 1 transcript line(s) could not be read (line 4: incomplete, the agent may still be writing it \
         (EOF while parsing a string at line 1 column 15))\n\n\
         1 more: clauderon show chat --messages --after 2"
    );
    let (ok, out, err) = run(&d, &["show", "chat", "--messages", "--after", "2", "--json"]).await;
    assert!(ok, "{err}");
    let page: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(page["messages"][0]["role"], "tool", "{page}");
    assert_eq!(page["messages"][0]["tool_results"][0]["is_error"], true, "{page}");

    // --after only makes sense with --messages.
    let (ok, _, err) = run(&d, &["show", "chat", "--after", "2"]).await;
    assert!(!ok && err.contains("--messages"), "{err}");
    d.stop().await;
}
