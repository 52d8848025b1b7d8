//! Codex (checked against 0.171.0).
//!
//! - Start: `codex --no-daemon --dangerously-bypass-approvals-and-sandbox [--model M] [-- PROMPT]`.
//!   Resume: `codex resume --last --no-daemon --dangerously-bypass-approvals-and-sandbox`
//!   (`--last` picks the most recent session of the working directory without the picker).
//! - `--no-daemon`: without it Codex starts a shared `codex app-server` and an updater loop
//!   from `~/.codex/packages/` that outlive the session's process (and the zellij session).
//! - `OPENAI_BASE_URL` is ignored and the built-in provider sends no key from `OPENAI_API_KEY`,
//!   so `config.toml` declares a provider whose `base_url` is the real host (the proxy
//!   intercepts it) and whose key comes from `OPENAI_API_KEY` (the session's placeholder).
//! - A first start in a folder asks "Trust this folder?": `[projects."<cwd>"] trust_level =
//!   "trusted"` answers it (Codex writes the same line itself, and other state such as
//!   `[tui]` notices, into the same file: it is merged, never replaced).
//! - Update checks, analytics, plugins and apps off: no traffic to chatgpt.com or github.com.
//! - `CODEX_CA_CERTIFICATE` (the CA bundle) comes with every session's environment.
//! - Status hooks (`~/.codex/hooks.json`, see [`crate::status_hooks`]) run only once trusted in
//!   Codex's `/hooks` screen, or with `--dangerously-bypass-hook-trust`: clauderon wrote them,
//!   so both commands carry the flag.

use super::Profile;
use super::files::{AgentFile, ConfigContext, Content};
use crate::status_hooks::HookEvents;
use clauderon_types::agent_status::AgentStatus::{Idle, WaitingForInput as Waiting, Working};
use toml::{Table, Value};

pub(super) static PROFILE: Profile = Profile {
    start_args,
    prompt_args,
    resume_args,
    env: ENV,
    transcript_globs: &[".codex/sessions/*/*/*/*.jsonl"],
    files,
    hook_events: HOOK_EVENTS,
    hooks_file: HOOKS_FILE,
    newest_transcript: crate::transcript::newest_codex_transcript,
    parse_transcript: crate::transcript::parse_codex_jsonl,
};

/// Its status hooks, in a file of their own.
const HOOK_EVENTS: HookEvents = &[
    ("UserPromptSubmit", None, Working),
    ("PreToolUse", None, Working),
    ("PermissionRequest", None, Waiting),
    ("Stop", None, Idle),
];
const HOOKS_FILE: &str = ".codex/hooks.json";

fn files(ctx: &ConfigContext<'_>) -> Vec<AgentFile> {
    vec![
        AgentFile { path: ".codex/config.toml", content: Content::Toml(config(ctx)) },
        AgentFile { path: HOOKS_FILE, content: Content::Json(crate::status_hooks::hooks_file(HOOK_EVENTS)) },
    ]
}

fn start_args() -> Vec<String> {
    vec![
        "codex".into(),
        "--no-daemon".into(),
        "--dangerously-bypass-approvals-and-sandbox".into(),
        crate::status_hooks::CODEX_TRUST_FLAG.into(),
    ]
}

/// After `--`, so a prompt starting with `-` is not read as an option.
fn prompt_args(prompt: &str) -> Vec<String> {
    vec!["--".into(), prompt.into()]
}

fn resume_args() -> Vec<String> {
    vec![
        "codex".into(),
        "resume".into(),
        "--last".into(),
        "--no-daemon".into(),
        "--dangerously-bypass-approvals-and-sandbox".into(),
        crate::status_hooks::CODEX_TRUST_FLAG.into(),
    ]
}

const ENV: &[(&str, &str)] = &[];

/// The provider clauderon declares.
pub const PROVIDER: &str = "clauderon";

/// `~/.codex/config.toml`. Status hooks (issue 6 §3) are in `~/.codex/hooks.json`.
pub fn config(ctx: &ConfigContext<'_>) -> Table {
    let mut provider = Table::new();
    provider.insert("name".into(), "OpenAI (through clauderon's proxy)".into());
    provider.insert("base_url".into(), "https://api.openai.com/v1".into());
    provider.insert("env_key".into(), "OPENAI_API_KEY".into());
    provider.insert("wire_api".into(), "responses".into());
    let mut providers = Table::new();
    providers.insert(PROVIDER.into(), Value::Table(provider));

    let mut trust = Table::new();
    trust.insert("trust_level".into(), "trusted".into());
    let mut projects = Table::new();
    projects.insert(ctx.workdir.to_string_lossy().into_owned(), Value::Table(trust));

    let mut config = Table::new();
    config.insert("model_provider".into(), PROVIDER.into());
    config.insert("check_for_update_on_startup".into(), false.into());
    config.insert("model_providers".into(), Value::Table(providers));
    config.insert("analytics".into(), Value::Table(flags(&[("enabled", false)])));
    config.insert(
        "features".into(),
        Value::Table(flags(&[("plugins", false), ("remote_plugin", false), ("apps", false)])),
    );
    config.insert("projects".into(), Value::Table(projects));
    config
}

fn flags(pairs: &[(&str, bool)]) -> Table {
    pairs.iter().map(|(k, v)| ((*k).to_string(), Value::Boolean(*v))).collect()
}
