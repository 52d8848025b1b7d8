//! Gemini CLI (checked against 0.61.0).
//!
//! - Start: `gemini --yolo [--model M] [--prompt-interactive=PROMPT]`: the interactive UI,
//!   sending the prompt (`-p` would be headless; a positional prompt works too but is lost
//!   when it starts with `-`, even after `--`). Resume: `gemini --resume latest --yolo`.
//! - `settings.json`: `security.auth.selectedType = "gemini-api-key"` (it sends
//!   `GEMINI_API_KEY`, the session's placeholder, as `x-goog-api-key`; without a selected type
//!   the first start asks how to log in), usage statistics off (no traffic to
//!   play.googleapis.com), automatic updates and their notices off.
//! - An untrusted folder asks (or, headless, exits 55): `GEMINI_CLI_TRUST_WORKSPACE=true`.

use super::Profile;
use super::files::{AgentFile, ConfigContext, Content};
use crate::status_hooks::HookEvents;
use clauderon_types::agent_status::AgentStatus::{Idle, WaitingForInput as Waiting, Working};
use serde_json::{Value, json};

pub(super) static PROFILE: Profile = Profile {
    start_args,
    prompt_args,
    resume_args,
    env: ENV,
    transcript_globs: &[".gemini/tmp/*/chats/*.jsonl"],
    files,
    hook_events: HOOK_EVENTS,
    hooks_file: ".gemini/settings.json",
    newest_transcript: crate::transcript::newest_gemini_transcript,
    parse_transcript: crate::transcript::parse_gemini_jsonl,
};

/// Its status hooks (`~/.gemini/settings.json` `hooks`).
const HOOK_EVENTS: HookEvents = &[
    ("BeforeAgent", None, Working),
    ("BeforeTool", None, Working),
    ("AfterTool", None, Working),
    ("Notification", None, Waiting),
    ("AfterAgent", None, Idle),
];

fn files(ctx: &ConfigContext<'_>) -> Vec<AgentFile> {
    vec![AgentFile { path: ".gemini/settings.json", content: Content::Json(settings(ctx)) }]
}

fn start_args() -> Vec<String> {
    vec!["gemini".into(), "--yolo".into()]
}

/// `--prompt-interactive=PROMPT`: a positional prompt starting with `-` is lost, even after `--`.
fn prompt_args(prompt: &str) -> Vec<String> {
    vec![format!("--prompt-interactive={prompt}")]
}

fn resume_args() -> Vec<String> {
    vec!["gemini".into(), "--resume".into(), "latest".into(), "--yolo".into()]
}

const ENV: &[(&str, &str)] = &[("GEMINI_CLI_TRUST_WORKSPACE", "true")];

/// `~/.gemini/settings.json`. Status hooks (issue 6 §3) go under `hooks`.
pub fn settings(_ctx: &ConfigContext<'_>) -> Value {
    let mut settings = json!({
        "security": { "auth": { "selectedType": "gemini-api-key" } },
        "privacy": { "usageStatisticsEnabled": false },
        "general": { "enableAutoUpdate": false, "enableAutoUpdateNotification": false },
    });
    crate::status_hooks::add_hooks(HOOK_EVENTS, &mut settings);
    settings
}
