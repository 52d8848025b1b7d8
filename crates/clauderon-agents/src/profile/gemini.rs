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

use super::files::ConfigContext;
use serde_json::{Value, json};

pub(super) fn start_args() -> Vec<String> {
    vec!["gemini".into(), "--yolo".into()]
}

/// `--prompt-interactive=PROMPT`: a positional prompt starting with `-` is lost, even after `--`.
pub(super) fn prompt_args(prompt: &str) -> Vec<String> {
    vec![format!("--prompt-interactive={prompt}")]
}

pub(super) fn resume_args() -> Vec<String> {
    vec!["gemini".into(), "--resume".into(), "latest".into(), "--yolo".into()]
}

pub(super) const ENV: &[(&str, &str)] = &[("GEMINI_CLI_TRUST_WORKSPACE", "true")];

/// `~/.gemini/settings.json`. Status hooks (issue 6 §3) go under `hooks`.
pub fn settings(_ctx: &ConfigContext<'_>) -> Value {
    let mut settings = json!({
        "security": { "auth": { "selectedType": "gemini-api-key" } },
        "privacy": { "usageStatisticsEnabled": false },
        "general": { "enableAutoUpdate": false, "enableAutoUpdateNotification": false },
    });
    crate::status_hooks::add_hooks(clauderon_types::AgentKind::Gemini, &mut settings);
    settings
}
