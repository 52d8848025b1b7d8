#![allow(clippy::unwrap_used)]

use super::*;
use crate::status_hooks::{HOOK_SCRIPT, add_hooks, hook_script};
use clauderon_types::agent_status::AgentStatus;
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const ALL: [AgentKind; 3] = [AgentKind::Claude, AgentKind::Codex, AgentKind::Gemini];

#[test]
fn start_commands_turn_prompts_off_and_carry_model_and_prompt() {
    assert_eq!(
        start_command(AgentKind::Claude, Some("opus"), "fix it"),
        ["claude", "--dangerously-skip-permissions", "--model", "opus", "--", "fix it"]
    );
    assert_eq!(
        start_command(AgentKind::Codex, None, "fix it"),
        [
            "codex",
            "--no-daemon",
            "--dangerously-bypass-approvals-and-sandbox",
            "--dangerously-bypass-hook-trust",
            "--",
            "fix it"
        ]
    );
    assert_eq!(start_command(AgentKind::Gemini, Some(""), ""), ["gemini", "--yolo"]);
    // A prompt that looks like an option is still the prompt.
    assert_eq!(
        start_command(AgentKind::Gemini, Some("flash"), "-v fix it"),
        ["gemini", "--yolo", "--model", "flash", "--prompt-interactive=-v fix it"]
    );
    assert_eq!(
        resume_command(AgentKind::Codex, Some("o3")),
        [
            "codex",
            "resume",
            "--last",
            "--no-daemon",
            "--dangerously-bypass-approvals-and-sandbox",
            "--dangerously-bypass-hook-trust",
            "--model",
            "o3"
        ]
    );
    assert_eq!(
        resume_command(AgentKind::Claude, None),
        ["claude", "--continue", "--dangerously-skip-permissions"]
    );
    assert_eq!(resume_command(AgentKind::Gemini, None), ["gemini", "--resume", "latest", "--yolo"]);
}

/// Run the launch script with a stand-in for the agent on PATH that prints its arguments.
fn launched_args(agent: AgentKind, home: &Path, bin: &Path, prompt: &str) -> Vec<String> {
    let cmd = launch_command(agent, Some("m1"), prompt);
    let out = std::process::Command::new(&cmd[0])
        .args(&cmd[1..])
        .env_clear()
        .env("HOME", home)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

/// Where each agent writes a transcript, as the real CLIs do (see `transcript`).
fn plant_transcript(agent: AgentKind, home: &Path) {
    let path = match agent {
        AgentKind::Claude => home.join(".claude/projects/-work-repo/0f9a.jsonl"),
        AgentKind::Codex => home.join(".codex/sessions/2026/11/29/rollout-2026-11-29T09-00-00-0f9a.jsonl"),
        AgentKind::Gemini => home.join(".gemini/tmp/repo/chats/session-2026-11-29T09-00-0f9a.jsonl"),
    };
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "{}\n").unwrap();
}

#[test]
fn the_launch_script_starts_with_the_prompt_and_resumes_once_a_transcript_exists() {
    let bin = tempfile::tempdir().unwrap();
    for agent in ALL {
        let name = start_command(agent, None, "")[0].clone();
        let fake = bin.path().join(&name);
        std::fs::write(&fake, "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done\n").unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let home = tempfile::tempdir().unwrap();
        let prompt = "it's \"quoted\" $HOME `x`";

        let first = launched_args(agent, home.path(), bin.path(), prompt);
        assert_eq!(
            first,
            start_command(agent, Some("m1"), prompt)[1..],
            "{agent}: a first start sends the prompt"
        );

        // Bookkeeping that is not a transcript does not count.
        std::fs::create_dir_all(home.path().join(".claude/projects/x")).unwrap();
        std::fs::create_dir_all(home.path().join(".codex/sessions/2026")).unwrap();
        assert_eq!(launched_args(agent, home.path(), bin.path(), prompt)[..], first[..], "{agent}");

        plant_transcript(agent, home.path());
        assert!(
            newest_transcript(agent, home.path()).unwrap().is_some(),
            "{agent}: the reader sees the planted transcript"
        );
        let again = launched_args(agent, home.path(), bin.path(), prompt);
        assert_eq!(again, resume_command(agent, Some("m1"))[1..], "{agent}: a restart resumes");
    }
}

#[test]
fn every_agent_gets_its_environment() {
    let get = |agent, key: &str| agent_env(agent).into_iter().find(|(k, _)| k == key).map(|(_, v)| v);
    assert_eq!(get(AgentKind::Claude, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC").as_deref(), Some("1"));
    assert_eq!(get(AgentKind::Claude, "IS_SANDBOX").as_deref(), Some("1"));
    assert_eq!(get(AgentKind::Gemini, "GEMINI_CLI_TRUST_WORKSPACE").as_deref(), Some("true"));
    assert_eq!(get(AgentKind::Codex, "GEMINI_CLI_TRUST_WORKSPACE"), None);
}

fn placeholders() -> Vec<(String, String)> {
    vec![
        ("ANTHROPIC_API_KEY".into(), "sk-ant-api03-clauderon-placeholder".into()),
        ("OPENAI_API_KEY".into(), "sk-clauderon-placeholder".into()),
    ]
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn claude_files_answer_every_first_start_dialog_with_the_placeholder_only() {
    let home = tempfile::tempdir().unwrap();
    let ph = placeholders();
    let ctx = ConfigContext { home: home.path(), workdir: Path::new("/workspace"), placeholders: &ph };
    let written = write_agent_files(AgentKind::Claude, &ctx).unwrap();
    assert_eq!(written.len(), 3, "the status hook script and two settings files");
    let settings = read_json(&home.path().join(".claude/settings.json"));
    assert_eq!(settings["skipDangerousModePermissionPrompt"], true);
    let state = read_json(&home.path().join(".claude.json"));
    assert_eq!(state["hasCompletedOnboarding"], true);
    assert_eq!(state["projects"]["/workspace"]["hasTrustDialogAccepted"], true);
    assert_eq!(state["customApiKeyResponses"]["approved"], serde_json::json!(["lauderon-placeholder"]));
    let mode = std::fs::metadata(home.path().join(".claude.json")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // Without an Anthropic key placeholder (a subscription login), no key is approved.
    let none = ConfigContext { placeholders: &[], ..ctx };
    let Content::Json(state) = &agent_files(AgentKind::Claude, &none)[1].content else { panic!() };
    assert!(state.get("customApiKeyResponses").is_none(), "{state}");
}

#[test]
fn a_restart_keeps_the_agents_own_state_and_sets_clauderons_keys_again() {
    let home = tempfile::tempdir().unwrap();
    let ph = placeholders();
    let ctx = ConfigContext { home: home.path(), workdir: Path::new("/w"), placeholders: &ph };
    write_agent_files(AgentKind::Claude, &ctx).unwrap();
    let path = home.path().join(".claude.json");
    let mut state = read_json(&path);
    state["numStartups"] = 3.into();
    state["hasCompletedOnboarding"] = false.into();
    state["projects"]["/w"]["allowedTools"] = serde_json::json!(["Bash"]);
    // A key the user approved inside the session, and clauderon's approval gone.
    state["customApiKeyResponses"]["approved"] = serde_json::json!(["users-own-key-suffix"]);
    std::fs::write(&path, state.to_string()).unwrap();
    write_agent_files(AgentKind::Claude, &ctx).unwrap();
    let state = read_json(&path);
    assert_eq!(state["numStartups"], 3);
    assert_eq!(state["hasCompletedOnboarding"], true);
    assert_eq!(state["projects"]["/w"]["allowedTools"], serde_json::json!(["Bash"]));
    assert_eq!(state["projects"]["/w"]["hasTrustDialogAccepted"], true);
    assert_eq!(
        state["customApiKeyResponses"]["approved"],
        serde_json::json!(["users-own-key-suffix", "lauderon-placeholder"]),
        "arrays keep their items and gain clauderon's"
    );

    // Codex writes its own tables into config.toml.
    write_agent_files(AgentKind::Codex, &ctx).unwrap();
    let path = home.path().join(".codex/config.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("\n[tui]\nscreen_reader_detection_done = true\n");
    std::fs::write(
        &path,
        text.replace("check_for_update_on_startup = false", "check_for_update_on_startup = true"),
    )
    .unwrap();
    write_agent_files(AgentKind::Codex, &ctx).unwrap();
    let config: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    assert_eq!(config["tui"]["screen_reader_detection_done"].as_bool(), Some(true));
    assert_eq!(config["check_for_update_on_startup"].as_bool(), Some(false));
    assert_eq!(config["model_provider"].as_str(), Some(codex::PROVIDER));
    let provider = &config["model_providers"][codex::PROVIDER];
    assert_eq!(provider["base_url"].as_str(), Some("https://api.openai.com/v1"));
    assert_eq!(provider["env_key"].as_str(), Some("OPENAI_API_KEY"));
    assert_eq!(provider["wire_api"].as_str(), Some("responses"));
    assert_eq!(config["projects"]["/w"]["trust_level"].as_str(), Some("trusted"));
    assert_eq!(config["analytics"]["enabled"].as_bool(), Some(false));
}

#[test]
fn a_file_that_does_not_parse_is_set_aside_and_replaced() {
    let home = tempfile::tempdir().unwrap();
    let ctx = ConfigContext { home: home.path(), workdir: Path::new("/w"), placeholders: &[] };
    std::fs::create_dir_all(home.path().join(".gemini")).unwrap();
    std::fs::write(home.path().join(".gemini/settings.json"), "{ not json").unwrap();
    write_agent_files(AgentKind::Gemini, &ctx).unwrap();
    let settings = read_json(&home.path().join(".gemini/settings.json"));
    assert_eq!(settings["security"]["auth"]["selectedType"], "gemini-api-key");
    assert_eq!(settings["privacy"]["usageStatisticsEnabled"], false);
    assert_eq!(
        std::fs::read_to_string(home.path().join(".gemini/settings.json.invalid")).unwrap(),
        "{ not json"
    );
}

/// Where the status hook has neither curl nor GNU wget to report with, the launch script says so
/// on the session's terminal, and still starts the agent.
#[test]
fn the_launch_script_warns_when_status_reports_cannot_be_sent() {
    let bin = tempfile::tempdir().unwrap();
    let agent = AgentKind::Claude;
    let name = start_command(agent, None, "")[0].clone();
    let fake = bin.path().join(&name);
    std::fs::write(&fake, "#!/bin/sh\necho agent-ran\n").unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let home = tempfile::tempdir().unwrap();
    let run = |path: &Path| {
        let cmd = launch_command(agent, None, "hi");
        let out = std::process::Command::new(&cmd[0])
            .args(&cmd[1..])
            .env_clear()
            .env("HOME", home.path())
            .env("PATH", path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "agent-ran");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // Only the agent on PATH: the warning.
    let stderr = run(bin.path());
    assert_eq!(stderr.trim(), crate::status_hooks::NO_REPORTER_WARNING);
    // With curl (here, anything called curl): nothing.
    let curl = bin.path().join("curl");
    std::fs::write(&curl, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&curl, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(run(bin.path()), "", "a warning although curl is there");
}

#[test]
fn each_agent_gets_working_waiting_and_idle_hooks_on_its_own_events() {
    let claude = hooks(AgentKind::Claude);
    assert_eq!(claude["Stop"][0]["hooks"][0]["command"], "\"$HOME/.clauderon/status-hook\" idle");
    assert_eq!(
        claude["UserPromptSubmit"][0]["hooks"][0]["command"],
        "\"$HOME/.clauderon/status-hook\" working"
    );
    assert_eq!(claude["Notification"][0]["matcher"], "permission_prompt|elicitation_dialog");
    let codex = hooks(AgentKind::Codex);
    assert!(codex["Stop"].is_array() && codex["PermissionRequest"].is_array());
    let gemini = hooks(AgentKind::Gemini);
    assert_eq!(gemini["AfterAgent"][0]["hooks"][0]["command"], "\"$HOME/.clauderon/status-hook\" idle");
    assert_eq!(gemini["BeforeAgent"][0]["hooks"][0]["type"], "command");
    for agent in [AgentKind::Claude, AgentKind::Codex, AgentKind::Gemini] {
        let commands = serde_json::to_string(&hooks(agent)).unwrap();
        for status in AgentStatus::ALL {
            assert!(commands.contains(&format!("status-hook\\\" {status}")), "{agent}: {status}");
        }
    }
}

#[test]
fn adding_hooks_keeps_the_users_own_and_is_idempotent() {
    let mut settings = json!({
        "theme": "dark",
        "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}]}
    });
    add_hooks(of(AgentKind::Claude).hook_events, &mut settings);
    let once = settings.clone();
    add_hooks(of(AgentKind::Claude).hook_events, &mut settings);
    assert_eq!(settings, once);
    assert_eq!(settings["theme"], "dark");
    let stop = settings["hooks"]["Stop"].as_array().unwrap();
    assert_eq!(stop.len(), 2);
    assert_eq!(stop[0]["hooks"][0]["command"], "notify-send done");
    let mut odd = json!(["not", "an", "object"]);
    add_hooks(of(AgentKind::Gemini).hook_events, &mut odd);
    assert!(odd["hooks"]["AfterAgent"].is_array());
}

#[test]
fn every_agents_session_files_carry_the_hooks_and_never_a_placeholder_or_identity() {
    for agent in [AgentKind::Claude, AgentKind::Codex, AgentKind::Gemini] {
        let home = tempfile::tempdir().unwrap();
        let ph = vec![("ANTHROPIC_API_KEY".to_string(), "clauderon-placeholder-xyz".to_string())];
        let ctx = ConfigContext { home: home.path(), workdir: Path::new("/w"), placeholders: &ph };
        let written = write_agent_files(agent, &ctx).unwrap();
        assert!(written.contains(&home.path().join(HOOK_SCRIPT)), "{agent}: {written:?}");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(home.path().join(HOOK_SCRIPT)).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o755, "the hook script is executable");
        let settings: Value =
            serde_json::from_str(&std::fs::read_to_string(home.path().join(hooks_file(agent))).unwrap())
                .unwrap();
        assert_eq!(settings["hooks"], hooks(agent), "{agent}");
        let hooks_text = settings["hooks"].to_string() + &hook_script();
        assert!(!hooks_text.contains("placeholder") && !hooks_text.contains("http://clauderon.internal@"));
    }
}
