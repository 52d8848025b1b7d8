//! Transcripts the real agent CLIs wrote, kept as fixtures, read through the crate's API.
//!
//! `codex-0.171.0-tool-call.jsonl`: `codex exec --dangerously-bypass-approvals-and-sandbox
//! --skip-git-repo-check "Run echo"` (Codex 0.171.0) with HOME in a temp folder and a custom
//! provider pointing at a local fake Responses API on 127.0.0.1 that answered the first call
//! with an `exec_command` function call (`echo hi-from-tool`) and the second with "Done, 42".
//! Only the model was fake: the rollout is what the real CLI wrote.
//!
//! `claude-code-2.1.332-tool-call.jsonl`: `claude -p "Run echo" --allowedTools Bash` (Claude
//! Code 2.1.332) with `ANTHROPIC_BASE_URL` at a local fake Messages API that answered the first
//! call with text and a `Bash` tool_use (`echo hi-from-tool`), the second with "Done, 42". The
//! lines are the CLI's own, verbatim; lines carrying Claude Code's system prompt and tool list
//! (`attachment`, `api-request-blob`, ...: ~140 KB) were left out. A plain-text exchange is also
//! produced live, through the proxy, by `clauderon-daemon/tests/agent_claude.rs`.
//!
//! `gemini-cli-0.61.0-tool-call.jsonl`: `gemini -p "Run echo" --yolo --output-format json`
//! (Gemini CLI 0.61.0) with `GOOGLE_GEMINI_BASE_URL` at a local fake Gemini API whose first
//! streamed answer was text and a `run_shell_command` call (`echo hi-from-tool`), the second
//! "Done, 42". Verbatim.
//!
//! `claude-code-2.1.332-interactive-resumed.jsonl` and `gemini-cli-0.61.0-interactive-resumed.jsonl`:
//! written by the live tests (`clauderon-zellij/tests/agents_live.rs`): the CLI started
//! interactively in a zellij session by its launch profile with a prompt, answered by the fake
//! model API through clauderon's proxy, then stopped and resumed (`claude --continue`,
//! `gemini --resume latest`). Claude Code appends its session's bookkeeping again on resume
//! and records each API request (`api-request-blob` lines carry a `message` with role `user`
//! or `system`: not the conversation); its `attachment` and `api-request-shape` lines (system
//! prompt, tools, ~110 KB) were left out, the rest is verbatim. Gemini CLI, resuming, writes
//! the session's header again and replaces the records with `$set` (new timestamps): verbatim.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use clauderon_agents::profile::parse_transcript;
use clauderon_agents::transcript::{Role, Transcript};
use clauderon_types::AgentKind;
use std::path::Path;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// A fixture parsed as `agent`'s transcript (fixtures are not in a session's HOME, so they are
/// read here and parsed; `read_transcript` reads only inside a HOME).
fn read_fixture(agent: AgentKind, name: &str) -> Transcript {
    parse_transcript(agent, &String::from_utf8_lossy(&std::fs::read(fixture(name)).unwrap()))
}

#[test]
fn a_real_codex_rollout_reads_as_prompt_tool_call_output_and_answer() {
    let t = read_fixture(AgentKind::Codex, "codex-0.171.0-tool-call.jsonl");
    assert!(t.notes.is_clean(), "{:?}", t.notes);
    let roles: Vec<Role> = t.messages.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::User, Role::Assistant, Role::Tool, Role::Assistant], "{:#?}", t.messages);
    assert_eq!(t.messages[0].text, "Run echo");
    let call = &t.messages[1].tool_calls;
    assert_eq!(call.len(), 1, "{call:?}");
    assert_eq!((call[0].id.as_str(), call[0].name.as_str()), ("call_1", "exec_command"));
    assert_eq!(call[0].input["cmd"], "echo hi-from-tool");
    let result = &t.messages[2].tool_results;
    assert_eq!(result[0].tool_use_id, "call_1");
    assert!(result[0].output.contains("hi-from-tool") && !result[0].is_error, "{result:?}");
    assert_eq!(t.messages[3].text, "Done, 42");
    let times: Vec<_> = t.messages.iter().map(|m| m.timestamp.unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

#[test]
fn a_real_codex_rollout_cut_mid_line_keeps_what_came_before() {
    let full = std::fs::read_to_string(fixture("codex-0.171.0-tool-call.jsonl")).unwrap();
    // Cut inside the final answer's line, as a reader racing the CLI would see it.
    let cut = full.find("\"Done, 42\"").unwrap();
    let t = clauderon_agents::transcript::parse_codex_jsonl(&full[..cut]);
    assert_eq!(t.messages.last().map(|m| m.role), Some(Role::Tool), "{:#?}", t.messages);
    assert_eq!(t.notes.skipped_lines, 1);
    assert!(t.notes.reason.unwrap().contains("incomplete"));
}

/// A real "Run echo" transcript: the prompt, a reply with text and one tool call running
/// `echo hi-from-tool`, its result, and the answer "Done, 42", in time order. Returns it with
/// the reply's tool call and the result, for what differs per agent.
fn assert_prompt_tool_call_result_and_answer(agent: AgentKind, fixture_name: &str) -> Transcript {
    let t = read_fixture(agent, fixture_name);
    assert!(t.notes.is_clean(), "{:?}", t.notes);
    let roles: Vec<Role> = t.messages.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::User, Role::Assistant, Role::Tool, Role::Assistant], "{:#?}", t.messages);
    assert_eq!(t.messages[0].text, "Run echo");
    let reply = &t.messages[1];
    assert_eq!(reply.text, "Running it.");
    assert_eq!(reply.tool_calls.len(), 1, "{reply:?}");
    assert_eq!(reply.tool_calls[0].input["command"], "echo hi-from-tool");
    let result = &t.messages[2].tool_results;
    assert_eq!(result.len(), 1, "{result:?}");
    assert_eq!(t.messages[3].text, "Done, 42");
    let times: Vec<_> = t.messages.iter().map(|m| m.timestamp.unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    t
}

#[test]
fn a_real_claude_code_transcript_reads_as_prompt_tool_call_result_and_answer() {
    // The reply's text and its tool call were written as two lines of one message.
    let t =
        assert_prompt_tool_call_result_and_answer(AgentKind::Claude, "claude-code-2.1.332-tool-call.jsonl");
    let (call, result) = (&t.messages[1].tool_calls[0], &t.messages[2].tool_results[0]);
    assert_eq!((call.id.as_str(), call.name.as_str()), ("toolu_fake1", "Bash"));
    assert_eq!((result.tool_use_id.as_str(), result.output.as_str()), ("toolu_fake1", "hi-from-tool"));
    assert!(!result.is_error);
}

#[test]
fn a_real_gemini_chat_reads_as_prompt_tool_call_result_and_answer() {
    // The reply was written twice (without, then with its tool call): it reads once.
    let t = assert_prompt_tool_call_result_and_answer(AgentKind::Gemini, "gemini-cli-0.61.0-tool-call.jsonl");
    let (call, result) = (&t.messages[1].tool_calls[0], &t.messages[2].tool_results[0]);
    assert_eq!(call.name, "run_shell_command");
    assert_eq!(result.tool_use_id, call.id);
    assert!(result.output.contains("hi-from-tool") && !result.is_error, "{result:?}");
}

#[test]
fn a_gemini_chat_with_damage_keeps_what_parses() {
    let full = std::fs::read_to_string(fixture("gemini-cli-0.61.0-tool-call.jsonl")).unwrap();
    let mut text = String::from("garbage\n");
    text.push_str(&full[..full.find("\"Done, 42\"").unwrap()]);
    let t = clauderon_agents::transcript::parse_gemini_jsonl(&text);
    assert_eq!(t.messages.last().map(|m| m.role), Some(Role::Tool), "{:#?}", t.messages);
    assert_eq!(t.notes.skipped_lines, 2, "{:?}", t.notes);
    assert!(t.notes.reason.unwrap().starts_with("line 1: not JSON"));
}

/// The exchange the live tests have: their prompt and the fake model's reply, once each.
fn assert_one_exchange(agent: AgentKind, fixture_name: &str, prompt: &str) {
    let t = read_fixture(agent, fixture_name);
    assert!(t.notes.is_clean(), "{:?}", t.notes);
    let words: Vec<(Role, &str)> = t.messages.iter().map(|m| (m.role, m.text.as_str())).collect();
    assert_eq!(
        words,
        [(Role::User, prompt), (Role::Assistant, "Hello from the fake model, reply 5c2e81")],
        "{:#?}",
        t.messages
    );
}

#[test]
fn a_resumed_interactive_claude_code_transcript_reads_as_its_one_exchange() {
    // Neither the request records' embedded messages nor the hook summaries are messages.
    assert_one_exchange(
        AgentKind::Claude,
        "claude-code-2.1.332-interactive-resumed.jsonl",
        "Say hello to the claude test 91d3",
    );
}

#[test]
fn a_resumed_interactive_gemini_chat_reads_as_its_one_exchange() {
    // The header written again and the records replaced on resume do not repeat the exchange.
    assert_one_exchange(
        AgentKind::Gemini,
        "gemini-cli-0.61.0-interactive-resumed.jsonl",
        "Say hello to the gemini test 91d3",
    );
}
