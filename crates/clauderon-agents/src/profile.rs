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
//! transcripts ([`transcript_globs`], the places [`newest_transcript`] reads)
//! and otherwise starts fresh with the prompt. The decision is taken each time the process
//! starts, inside the session, so every backend gets it for free: a first start has no
//! transcript and sends the prompt; a restart after the agent talked resumes; a restart of an
//! agent that never got as far as a transcript sends the prompt again.
//!
//! **One module per agent** ([`claude`], [`codex`], [`gemini`]): each defines a [`Profile`]
//! (launch, resume, environment, settings files, status hooks, transcripts); the functions
//! here pick it with [`of`].
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

pub use files::{AgentFile, ConfigContext, Content};

use crate::AgentsError;
use crate::status_hooks::HookEvents;
use crate::transcript::Transcript;
use clauderon_types::AgentKind;
use std::path::{Path, PathBuf};

/// Everything clauderon knows of one agent, in one place: its module (`claude`, `codex`,
/// `gemini`) defines its `PROFILE`, and [`of`] is the one place that picks by [`AgentKind`].
/// A new agent is a new module and a line in [`of`].
pub struct Profile {
    /// The program and the flags of an interactive start (permission prompts off).
    pub start_args: fn() -> Vec<String>,
    /// How the initial prompt follows the start command.
    pub prompt_args: fn(&str) -> Vec<String>,
    /// The command that continues the last conversation in the working directory.
    pub resume_args: fn() -> Vec<String>,
    /// Variables the agent needs besides every session's (see [`agent_env`]).
    pub env: &'static [(&'static str, &'static str)],
    /// Shell globs, relative to `$HOME`, matching its transcripts (see [`transcript_globs`]).
    pub transcript_globs: &'static [&'static str],
    /// The settings files written into the session's HOME, with clauderon's content.
    pub files: fn(&ConfigContext<'_>) -> Vec<AgentFile>,
    /// Its status hooks: event, matcher, status (see [`crate::status_hooks`]).
    pub hook_events: HookEvents,
    /// The file, relative to HOME, where it reads its hooks.
    pub hooks_file: &'static str,
    /// Its newest transcript under a session's HOME, found through `clauderon-fs`.
    pub newest_transcript: fn(&Path) -> Result<Option<PathBuf>, AgentsError>,
    /// Its transcript format, read into clauderon's messages.
    pub parse_transcript: fn(&str) -> Transcript,
}

/// `agent`'s profile.
pub fn of(agent: AgentKind) -> &'static Profile {
    match agent {
        AgentKind::Claude => &claude::PROFILE,
        AgentKind::Codex => &codex::PROFILE,
        AgentKind::Gemini => &gemini::PROFILE,
    }
}

/// The command that starts `agent` interactively with `prompt` (none when empty), permission
/// prompts off, and `--model` when given. The prompt is passed so that one starting with `-`
/// is still a prompt, not an option.
pub fn start_command(agent: AgentKind, model: Option<&str>, prompt: &str) -> Vec<String> {
    let profile = of(agent);
    let mut cmd = (profile.start_args)();
    push_model(&mut cmd, model);
    if !prompt.is_empty() {
        cmd.extend((profile.prompt_args)(prompt));
    }
    cmd
}

/// The command that continues `agent`'s most recent conversation in the working directory
/// (after a restart), permission prompts off, and `--model` when given.
pub fn resume_command(agent: AgentKind, model: Option<&str>) -> Vec<String> {
    let mut cmd = (of(agent).resume_args)();
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
    of(agent).env.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect()
}

/// Shell globs, relative to `$HOME`, that match the agent's transcripts: one existing means
/// there is a conversation to resume. The same places [`newest_transcript`] looks in.
pub fn transcript_globs(agent: AgentKind) -> &'static [&'static str] {
    of(agent).transcript_globs
}

/// The files `agent` gets, with clauderon's content.
pub fn agent_files(agent: AgentKind, ctx: &ConfigContext<'_>) -> Vec<AgentFile> {
    (of(agent).files)(ctx)
}

/// Write `agent`'s files into `ctx.home`, merged over what is there: see
/// [`files::write_files`]. Returns the paths written.
pub fn write_agent_files(agent: AgentKind, ctx: &ConfigContext<'_>) -> Result<Vec<PathBuf>, AgentsError> {
    files::write_files(ctx, &agent_files(agent, ctx))
}

/// The `hooks` object clauderon puts in `agent`'s settings.
pub fn hooks(agent: AgentKind) -> serde_json::Value {
    crate::status_hooks::hooks(of(agent).hook_events)
}

/// Where `agent` reads its hooks, relative to the session's HOME.
pub fn hooks_file(agent: AgentKind) -> &'static str {
    of(agent).hooks_file
}

/// The newest transcript `agent` wrote under `home`; `None` before it has written one. A link
/// the session planted on the way (its projects folder, a chat) is an error
/// ([`AgentsError::Refused`]), never followed.
pub fn newest_transcript(agent: AgentKind, home: &Path) -> Result<Option<PathBuf>, AgentsError> {
    (of(agent).newest_transcript)(home)
}

/// Read the transcript at `path` (inside the session's HOME `home`, as [`newest_transcript`]
/// gives it) that `agent` wrote. Only an unreadable file is an error; bad content is noted.
pub fn read_transcript(agent: AgentKind, home: &Path, path: &Path) -> Result<Transcript, AgentsError> {
    crate::transcript::read_transcript_with(of(agent).parse_transcript, home, path)
}

/// Parse the text of a transcript `agent` wrote. Never fails (lines that do not parse are noted).
pub fn parse_transcript(agent: AgentKind, text: &str) -> Transcript {
    (of(agent).parse_transcript)(text)
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
