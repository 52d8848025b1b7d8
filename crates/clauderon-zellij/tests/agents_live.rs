//! Each agent, live (issue 6 §1 and §5): a session created with `--agent claude|codex|gemini`
//! and a prompt, no `--command`, runs the real CLI interactively in its zellij pane (in the
//! bubblewrap sandbox where it works), through the daemon's proxy, against the test kit's fake
//! model API. The session holds only placeholders; the fake API saw the daemon's real key; the
//! session's messages (`GET /api/sessions/{name}/messages`, read from the agent's own
//! transcript) hold the prompt and the fake reply. The first start needs no keystroke: the
//! launch profile's settings answer every first-run dialog, so an agent that stopped at one
//! never reaches the model and the test fails with its screen. Stopped and started again, the
//! session resumes the same conversation (the launch script finds the transcript).
//!
//! The agent's hooks report working then idle (issue 6 §3), and a follow-up typed with
//! `send` (issue 6 §4) gets a second answer from the fake API. Claude Code and Gemini CLI
//! asking the user a question show as waiting for input until it is answered. (Codex 0.171.0
//! declares its question tool, `request_user_input`, as "only available in Plan mode", which
//! sessions do not start in: there is no question to wait on.)
//!
//! Setup lives in `support::agents` (the real CLIs from `scripts/install-agent-clis.sh`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use clauderon_testkit::files::files_containing;
use clauderon_testkit::upstream::{ModelReply, QUESTION_OPTIONS};
use clauderon_types::AgentKind;
use support::agents::{ANTHROPIC_KEY, GEMINI_KEY, LiveDaemon, OPENAI_KEY, REPLY, api};

/// Create a session running `agent`, wait for its first exchange, check what it held and what
/// the fake API saw, then restart it and check that it resumed.
async fn completes_a_prompt(agent: AgentKind) {
    let d = LiveDaemon::start(&[agent]).await;
    let name = format!("live-{agent}");
    // Starting with `-`: the CLI must take it as the prompt, not as an option.
    let prompt = format!("-v: say hello to the {agent} test 91d3");
    // A model no CLI knows by default, to see `--model` reach the API.
    let model = format!("{agent}-model-under-test");
    d.create_agent_session_with_model(&name, agent, &prompt, Some(&model)).await;

    let page = d.wait_for_exchange(&name, &prompt).await;
    let messages = page["messages"].as_array().unwrap();
    let first_user = messages.iter().position(|m| m["role"] == "user").unwrap();
    let reply = messages.iter().position(|m| m["text"].as_str().is_some_and(|t| t.contains(REPLY))).unwrap();
    assert!(first_user < reply, "the reply comes after the prompt: {page:#}");

    // The fake API saw the real key on a model call (and refused any call without it).
    let a = api(agent);
    let requests = d.up.requests();
    assert!(
        requests.iter().any(|r| r.host_name() == a.host
            && r.path.starts_with(a.model_call)
            && r.header(a.header) == Some(a.value.as_str())),
        "no model call to {} with the real key:\n{}",
        a.host,
        d.upstream_report()
    );

    // The model asked for at create is the one the CLI asked the API for.
    assert!(
        requests.iter().any(|r| r.host_name() == a.host
            && r.path.starts_with(a.model_call)
            && (r.path.contains(&model) || r.body_json()["model"] == model.as_str())),
        "no model call for {model}:\n{}",
        d.upstream_report()
    );

    // Non-essential traffic is off: the CLI talked to its model API and nothing else.
    let others: Vec<String> = requests
        .iter()
        .filter(|r| r.host_name() != a.host)
        .map(|r| format!("{} {}", r.host_name(), r.path))
        .collect();
    assert!(others.is_empty(), "{agent} reached other hosts: {others:?}");

    // The session holds placeholders only: in its environment and anywhere in its HOME and
    // worktree (settings, transcripts, logs the CLI wrote).
    let (status, env) = d.request("GET", &format!("/api/sessions/{name}/env"), None).await;
    assert_eq!(status, 200, "{env}");
    let home = d.home(&name);
    let worktree = clauderon_types::DataLayout::new(d.data.path()).worktrees().join(&name);
    for key in [ANTHROPIC_KEY, OPENAI_KEY, GEMINI_KEY] {
        assert!(!env.contains(key), "the session's environment holds a real key: {env}");
        for dir in [&home, &worktree] {
            let found = files_containing(dir, key);
            assert!(found.is_empty(), "a real key is readable in the session: {found:?}");
        }
    }
    let placeholder_var = match agent {
        AgentKind::Claude => "ANTHROPIC_API_KEY",
        AgentKind::Codex => "OPENAI_API_KEY",
        AgentKind::Gemini => "GEMINI_API_KEY",
    };
    assert!(env.contains(placeholder_var), "the session has a placeholder for its key: {env}");

    // Live status (issue 6 §3): the agent's hooks reported working, then idle, through the
    // proxy's internal host, and the session shows it.
    d.wait_for_status_reports(&name, &["working", "idle"]).await;

    // Send (issue 6 §4): a follow-up typed into the running agent is a second prompt that the
    // fake API answers; the hooks report it working again, then idle.
    // Two lines: pasted as one, they make one prompt (a line break must not submit early).
    let follow_up = format!("Now say \"goodbye\" to the {agent} test 4b1d,\nünïcode ✓ then stop 5e77");
    let calls = d.model_calls(agent);
    d.send(&name, &follow_up).await;
    let page = d.wait_for_reply_to(&name, "then stop 5e77").await;
    let one_prompt = page["messages"].as_array().into_iter().flatten().any(|m| {
        m["role"] == "user" && m["text"].as_str().is_some_and(|t| t.contains("4b1d") && t.contains("5e77"))
    });
    assert!(one_prompt, "{agent}: the two lines did not arrive as one prompt: {page:#}");
    assert!(d.model_calls(agent) > calls, "the follow-up made no model call:\n{}", d.upstream_report());
    assert!(
        d.up.requests().iter().any(|r| r.body_text().contains("5e77")),
        "the fake API never saw the follow-up:\n{}",
        d.upstream_report()
    );
    d.wait_for_status_reports(&name, &["working", "idle", "working", "idle"]).await;

    // Stopped and started again, the agent resumes its conversation: the screen shows the
    // exchange again without a new model call (a fresh start would send the prompt again).
    let calls = d.model_calls(agent);
    d.restart(&name).await;
    let screen = d.wait_for_screen(&name, REPLY).await;
    assert_eq!(
        d.model_calls(agent),
        calls,
        "the restart sent the prompt again instead of resuming:\n{screen}"
    );
    // The same conversation (Gemini CLI writes the resumed records again, with new timestamps).
    let words = |page: &serde_json::Value| -> Vec<(String, String)> {
        let all = page["messages"].as_array().cloned().unwrap_or_default();
        all.iter().map(|m| (m["role"].to_string(), m["text"].to_string())).collect()
    };
    // Gemini CLI may still be writing them when its screen shows the reply: wait a little.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut now = words(&d.messages(&name).await);
    while now != words(&page) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        now = words(&d.messages(&name).await);
    }
    assert_eq!(now, words(&page), "the conversation is the same one");

    d.delete(&name).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_code_answers_its_prompt_in_a_zellij_session_and_resumes_after_a_restart() {
    completes_a_prompt(AgentKind::Claude).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn codex_answers_its_prompt_in_a_zellij_session_and_resumes_after_a_restart() {
    completes_a_prompt(AgentKind::Codex).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gemini_cli_answers_its_prompt_in_a_zellij_session_and_resumes_after_a_restart() {
    completes_a_prompt(AgentKind::Gemini).await;
}

/// Waiting for input (issue 6 §3), live: the fake API has the agent ask the user a question
/// with its question tool (`tool`), which asks even with permission prompts off. Its
/// notification hook reports waiting-for-input and the session shows it; the answer, typed with
/// `send`, makes it work again (its after-tool hook) and then idle, and the conversation holds
/// the question and the answer.
async fn waits_for_input_until_answered(agent: AgentKind, tool: &str) {
    let d = LiveDaemon::start(&[agent]).await;
    let question = "Which colour should the test pick, 3a9e?";
    d.up.set_model_reply(ModelReply {
        text: REPLY.into(),
        question: Some(question.into()),
        ..ModelReply::default()
    });
    let name = format!("ask-{agent}");
    let prompt = "Ask me which colour to pick";
    d.create_agent_session(&name, agent, prompt).await;

    d.wait_for_screen(&name, question).await;
    d.wait_for_status_reports(&name, &["working", "waiting-for-input"]).await;
    // It stays waiting: nothing else happens until someone answers.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let (status, body) = d.request("GET", &format!("/api/sessions/{name}"), None).await;
    assert_eq!(status, 200, "{body}");
    let session: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(session["session"]["status"], "waiting-for-input", "{body}");

    // The answer, typed as at the keyboard: the question takes it as the user's own words.
    let answer = "Cerulean please, answer 7f2c";
    d.send(&name, answer).await;
    d.wait_for_status_reports(&name, &["working", "waiting-for-input", "working", "idle"]).await;
    let page = d.wait_for_exchange(&name, prompt).await;
    let messages = page["messages"].as_array().unwrap();
    let asked = messages.iter().any(|m| {
        m["tool_calls"].as_array().into_iter().flatten().any(|c| {
            c["name"] == tool
                && c["input"].to_string().contains(question)
                && QUESTION_OPTIONS.iter().all(|o| c["input"].to_string().contains(o))
        })
    });
    assert!(asked, "the question is not in the conversation: {page:#}");
    let answered = messages.iter().any(|m| {
        m["tool_results"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["output"].as_str().is_some_and(|o| o.contains(answer)))
    });
    assert!(answered, "the answer is not in the conversation: {page:#}");
    d.delete(&name).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_code_asking_a_question_waits_for_input_until_answered() {
    waits_for_input_until_answered(AgentKind::Claude, "AskUserQuestion").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gemini_cli_asking_a_question_waits_for_input_until_answered() {
    waits_for_input_until_answered(AgentKind::Gemini, "ask_user").await;
}

/// Issue 15, live: Claude Code asking its question makes the daemon run the user's
/// `status:waiting-for-input` hook (the event JSON on its stdin, the session in its
/// environment) and push an encrypted notification to a subscribed browser (the push service a
/// stand-in on `push.test`: the real ones are out of reach), end to end from the agent's own
/// notification hook through the proxy.
#[tokio::test(flavor = "multi_thread")]
async fn a_question_from_claude_code_fires_the_users_hook_and_a_web_push() {
    use clauderon_core::config::hooks::{Hook, HookAction};
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_path_buf();
    let command = format!(
        "cat > {}/event.json; echo \"$CLAUDERON_SESSION\" > {}/session.txt",
        dir.display(),
        dir.display()
    );
    let d = LiveDaemon::start_configured(&[AgentKind::Claude], |config| {
        config.hooks = vec![Hook {
            name: "needs-me".into(),
            on: vec!["status:waiting-for-input".into()],
            session: None,
            action: HookAction::Command(command),
            timeout: std::time::Duration::from_secs(10),
        }];
    })
    .await;
    let browser = clauderon_testkit::push::Browser::new("https://push.test/echo?live=1");
    let (status, body) = d.request("POST", "/api/push/subscriptions", Some(browser.subscription())).await;
    assert_eq!(status, 204, "{body}");
    d.up.set_model_reply(ModelReply {
        text: REPLY.into(),
        question: Some("Which colour, 81c4?".into()),
        ..ModelReply::default()
    });
    d.create_agent_session("hooked-ask", AgentKind::Claude, "Ask me which colour to pick").await;
    d.wait_for_status_reports("hooked-ask", &["working", "waiting-for-input"]).await;

    let event = std::path::Path::new(&dir).join("event.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !event.exists() || std::fs::read_to_string(&event).unwrap_or_default().is_empty() {
        assert!(std::time::Instant::now() < deadline, "the hook never ran");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&event).unwrap()).unwrap();
    assert_eq!(
        (json["type"].as_str(), json["to"].as_str()),
        (Some("status-changed"), Some("waiting-for-input")),
        "{json}"
    );
    assert_eq!(json["session_name"], "hooked-ask", "{json}");
    assert_eq!(std::fs::read_to_string(dir.join("session.txt")).unwrap().trim(), "hooked-ask");

    let push = loop {
        if let Some(p) = d.up.requests().into_iter().find(|r| r.path == "/echo?live=1") {
            break p;
        }
        assert!(std::time::Instant::now() < deadline, "no push reached the push service");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let note = browser.decrypt(&push.body);
    assert_eq!(
        (note["session"].as_str(), note["event"].as_str()),
        (Some("hooked-ask"), Some("status:waiting-for-input")),
        "{note}"
    );
    d.delete("hooked-ask").await;
}
