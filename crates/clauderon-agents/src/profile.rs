//! How each agent is launched and configured in a session (issue 6 §1): its command line for an
//! interactive start with the initial prompt, its resume command after a restart, the extra
//! environment it needs, and the settings files clauderon writes into the session's HOME so
//! the first interactive start asks nothing (no onboarding, theme, trust or permission dialog).
//! Every flag and key here was checked against the installed CLIs (Claude Code 2.1.332, Codex
//! 0.171.0, Gemini CLI 0.61.0; `scripts/install-agent-clis.sh` pins them) — see each agent's
//! module.
//!
//! Permission prompts are off for every agent: the session (its sandbox or container, and the
//! proxy that holds the credentials) is the boundary, not the agent's own approvals.
//!
//! **Start or resume.** A session's command is a small `/bin/sh` script ([`launch_command`])
//! that resumes the agent's last conversation when the session's HOME holds one of its
//! transcripts ([`transcript_globs`], the places [`crate::transcript::newest_transcript`] reads)
//! and otherwise starts fresh with the prompt. The decision is taken each time the process
//! starts, inside the session, so every backend gets it for free: a first start has no
//! transcript and sends the prompt; a restart after the agent talked resumes; a restart of an
//! agent that never got as far as a transcript sends the prompt again.
//!
//! **Settings files** ([`files`]): built as a JSON value or a TOML table by one function per
//! file, then merged over what the file already holds (see [`files::merge_json`]) whenever a
//! backend prepares the session's HOME: the agent's own state (Codex's trust list, Claude's
//! counters, the user's changes made inside the session) survives, and clauderon's keys are
//! set again. Only placeholders are ever written, never a real credential.

pub mod claude;
pub mod codex;
pub mod files;
pub mod gemini;

pub use files::{AgentFile, ConfigContext, write_agent_files};

use clauderon_types::AgentKind;

/// The command that starts `agent` interactively with `prompt` (none when empty), permission
/// prompts off, and `--model` when given. The prompt is passed so that one starting with `-`
/// is still a prompt, not an option.
pub fn start_command(agent: AgentKind, model: Option<&str>, prompt: &str) -> Vec<String> {
    let mut cmd = match agent {
        AgentKind::Claude => claude::start_args(),
        AgentKind::Codex => codex::start_args(),
        AgentKind::Gemini => gemini::start_args(),
    };
    push_model(&mut cmd, model);
    if !prompt.is_empty() {
        cmd.extend(match agent {
            AgentKind::Claude => claude::prompt_args(prompt),
            AgentKind::Codex => codex::prompt_args(prompt),
            AgentKind::Gemini => gemini::prompt_args(prompt),
        });
    }
    cmd
}

/// The command that continues `agent`'s most recent conversation in the working directory
/// (after a restart), permission prompts off, and `--model` when given.
pub fn resume_command(agent: AgentKind, model: Option<&str>) -> Vec<String> {
    let mut cmd = match agent {
        AgentKind::Claude => claude::resume_args(),
        AgentKind::Codex => codex::resume_args(),
        AgentKind::Gemini => gemini::resume_args(),
    };
    push_model(&mut cmd, model);
    cmd
}

fn push_model(cmd: &mut Vec<String>, model: Option<&str>) {
    if let Some(model) = model.filter(|m| !m.is_empty()) {
        cmd.push("--model".into());
        cmd.push(model.to_string());
    }
}

/// Variables the agent needs besides the ones every session gets (proxy, CA trust,
/// placeholders): telemetry and update checks off, workspace trust.
pub fn agent_env(agent: AgentKind) -> Vec<(String, String)> {
    let vars: &[(&str, &str)] = match agent {
        AgentKind::Claude => claude::ENV,
        AgentKind::Codex => codex::ENV,
        AgentKind::Gemini => gemini::ENV,
    };
    vars.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect()
}

/// Shell globs, relative to `$HOME`, that match the agent's transcripts: one existing means
/// there is a conversation to resume. The same places [`crate::transcript::newest_transcript`]
/// looks in.
pub fn transcript_globs(agent: AgentKind) -> &'static [&'static str] {
    match agent {
        AgentKind::Claude => &[".claude/projects/*/*.jsonl"],
        AgentKind::Codex => &[".codex/sessions/*/*/*/*.jsonl"],
        AgentKind::Gemini => &[".gemini/tmp/*/chats/*.jsonl"],
    }
}

/// The session's command for `agent`: `/bin/sh -c <script>`, where the script resumes the
/// conversation when a transcript exists in `$HOME` and otherwise starts with the prompt
/// (see the module documentation). Needs only a POSIX `sh` in the session.
pub fn launch_command(agent: AgentKind, model: Option<&str>, prompt: &str) -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into(), launch_script(agent, model, prompt)]
}

/// The script [`launch_command`] runs.
pub fn launch_script(agent: AgentKind, model: Option<&str>, prompt: &str) -> String {
    let words = |cmd: Vec<String>| cmd.iter().map(|w| shell_quote(w)).collect::<Vec<_>>().join(" ");
    let globs = transcript_globs(agent).iter().map(|g| format!("\"$HOME\"/{g}")).collect::<Vec<_>>();
    format!(
        "{check}# clauderon: resume the conversation this session already has, else start with the prompt.\n\
         for f in {globs}; do\n  [ -f \"$f\" ] && exec {resume}\ndone\nexec {start}\n",
        check = crate::status_hooks::reporter_check(),
        globs = globs.join(" "),
        resume = words(resume_command(agent, model)),
        start = words(start_command(agent, model, prompt)),
    )
}

/// One shell word in single quotes.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests;
