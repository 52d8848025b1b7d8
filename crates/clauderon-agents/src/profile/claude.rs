//! Claude Code (checked against 2.1.332).
//!
//! - Start: `claude --dangerously-skip-permissions [--model M] [-- PROMPT]` (the prompt as the
//!   positional argument starts an interactive session that sends it at once; after `--`, a
//!   prompt starting with `-` is still a prompt). Resume:
//!   `claude --continue --dangerously-skip-permissions`: the most recent conversation in the
//!   working directory.
//! - As root, `--dangerously-skip-permissions` exits with "cannot be used with root/sudo
//!   privileges" unless `IS_SANDBOX=1`: a session is a sandbox, so it is always set.
//! - A first interactive start shows, in turn: the welcome and theme screens (which also try
//!   to reach api.anthropic.com), the workspace trust dialog, "Detected a custom API key in
//!   your environment" (default answer: No), and the Bypass Permissions warning (default: No,
//!   exit). `~/.claude.json` answers the first three (`hasCompletedOnboarding`,
//!   `projects.<cwd>.hasTrustDialogAccepted`, `customApiKeyResponses.approved` holding the last
//!   20 characters of the key — the placeholder's, since that is what the session holds) and
//!   `~/.claude/settings.json` the last (`skipDangerousModePermissionPrompt`, the key Claude
//!   Code itself writes when the warning is accepted).

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
    transcript_globs: &[".claude/projects/*/*.jsonl"],
    files,
    hook_events: HOOK_EVENTS,
    hooks_file: ".claude/settings.json",
    newest_transcript: crate::transcript::newest_claude_transcript_anywhere,
    parse_transcript: crate::transcript::parse_claude_jsonl,
};

/// Its status hooks (`~/.claude/settings.json`).
const HOOK_EVENTS: HookEvents = &[
    ("UserPromptSubmit", None, Working),
    ("PreToolUse", None, Working),
    // After a question was answered or a permission given: working again.
    ("PostToolUse", None, Working),
    ("Notification", Some("permission_prompt|elicitation_dialog"), Waiting),
    ("Stop", None, Idle),
];

fn files(ctx: &ConfigContext<'_>) -> Vec<AgentFile> {
    vec![
        AgentFile { path: ".claude/settings.json", content: Content::Json(settings(ctx)) },
        AgentFile { path: ".claude.json", content: Content::Json(state(ctx)) },
    ]
}

fn start_args() -> Vec<String> {
    vec!["claude".into(), "--dangerously-skip-permissions".into()]
}

/// After `--`, so a prompt starting with `-` is not read as an option.
fn prompt_args(prompt: &str) -> Vec<String> {
    vec!["--".into(), prompt.into()]
}

fn resume_args() -> Vec<String> {
    vec!["claude".into(), "--continue".into(), "--dangerously-skip-permissions".into()]
}

/// Non-essential traffic (telemetry, error reports, update checks, release notes) off, and the
/// official plugin marketplace not cloned from github.com at the first start (2.1.332 does so
/// even with non-essential traffic off); allowed to skip permissions as root.
const ENV: &[(&str, &str)] = &[
    ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
    ("DISABLE_TELEMETRY", "1"),
    ("DISABLE_ERROR_REPORTING", "1"),
    ("DISABLE_AUTOUPDATER", "1"),
    ("CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL", "1"),
    ("IS_SANDBOX", "1"),
];

/// How many trailing characters of an API key Claude Code remembers as approved.
const APPROVED_KEY_SUFFIX: usize = 20;

/// `~/.claude/settings.json`: the user settings. Status hooks (issue 6 §3) go under `hooks`.
pub fn settings(_ctx: &ConfigContext<'_>) -> Value {
    let mut settings = json!({
        "skipDangerousModePermissionPrompt": true,
    });
    crate::status_hooks::add_hooks(HOOK_EVENTS, &mut settings);
    settings
}

/// `~/.claude.json`: Claude Code's own state, so the first start asks nothing.
pub fn state(ctx: &ConfigContext<'_>) -> Value {
    let mut state = json!({
        "hasCompletedOnboarding": true,
        "projects": {
            ctx.workdir.to_string_lossy(): {
                "hasTrustDialogAccepted": true,
                "hasCompletedProjectOnboarding": true,
            }
        },
    });
    if let Some(key) = ctx.placeholder("ANTHROPIC_API_KEY") {
        let chars: Vec<char> = key.chars().collect();
        let suffix: String = chars[chars.len().saturating_sub(APPROVED_KEY_SUFFIX)..].iter().collect();
        state["customApiKeyResponses"] = json!({ "approved": [suffix], "rejected": [] });
    }
    state
}
