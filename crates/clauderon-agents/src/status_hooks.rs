//! Live status from the agents themselves: each agent's hooks run a small script that tells
//! clauderon whether the agent is working, waiting for the user, or idle.
//!
//! The script ([`HOOK_SCRIPT`] in the session's HOME) posts `{"status": "..."}` to
//! `http://clauderon.internal/v1/status` through the session's own proxy (`http_proxy`, which
//! carries the session's identity). Only the proxy answers that name, and it applies the report
//! to the session it authenticated: the script holds no secret and cannot speak for another
//! session. It uses POSIX `sh` and `curl` (the host and the agent image have it), or GNU `wget`
//! where an image has no curl, waits at most [`REPORT_TIMEOUT_SECS`] and always exits 0, so a
//! daemon that is away never holds an agent up. The identity never appears on a command line
//! (other users can read those): both take the proxy from the environment. BusyBox's wget is no
//! use: through a proxy it sends a POST as a GET. Where neither is there, the session's launch
//! script says so on its terminal ([`reporter_check`]).
//!
//! Per agent (observed on the pinned versions; see `AGENT-CLIS.md`):
//! - Claude Code 2.1.332, `~/.claude/settings.json` `hooks`: `UserPromptSubmit`, `PreToolUse` and
//!   `PostToolUse` → working, `Notification` for a permission prompt or a question
//!   (`permission_prompt`, also for its `AskUserQuestion` tool with permission prompts off;
//!   `elicitation_dialog`; not the reminder it shows after a minute idle) → waiting, `Stop` → idle.
//!   It waits for tool hooks (they may block the tool) before it goes on: reports keep their order.
//! - Codex 0.171.0, `~/.codex/hooks.json` (the same shape): `UserPromptSubmit` and `PreToolUse` →
//!   working, `PermissionRequest` → waiting, `Stop` → idle. Codex runs hooks only once a person
//!   has trusted them, unless it is started with [`CODEX_TRUST_FLAG`]; clauderon wrote these
//!   hooks itself, so the session's command carries it (`profile::codex`).
//! - Gemini CLI 0.61.0, `~/.gemini/settings.json` `hooks`: `BeforeAgent`, `BeforeTool` and
//!   `AfterTool` → working, `Notification` (its only kind is a tool permission, which its
//!   `ask_user` tool also raises in YOLO mode) → waiting, `AfterAgent` → idle.

use clauderon_types::agent_status::{AgentStatus, status_url};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

/// The hook script, relative to the session's HOME.
pub const HOOK_SCRIPT: &str = ".clauderon/status-hook";

/// How long the script waits for the proxy, in seconds.
pub const REPORT_TIMEOUT_SECS: u32 = 3;

/// Codex's flag that runs hooks nobody has trusted interactively yet (0.171.0).
pub const CODEX_TRUST_FLAG: &str = "--dangerously-bypass-hook-trust";

/// The text of [`HOOK_SCRIPT`]. No secret, no session name: both come from the environment.
pub fn hook_script() -> String {
    let statuses: Vec<&str> = AgentStatus::ALL.iter().map(|s| s.as_str()).collect();
    format!(
        r#"#!/bin/sh
# Written by clauderon. An agent hook runs `status-hook working|waiting-for-input|idle` to tell
# clauderon what the agent is doing. The report goes through this session's proxy (http_proxy,
# which carries the session's own identity) to {host}, a name only that proxy answers;
# this file holds no secret. It gives up after {timeout}s and always exits 0, so it never holds
# the agent up.
case "$1" in
  {cases}) ;;
  *) exit 0 ;;
esac
http_proxy="${{http_proxy:-${{HTTP_PROXY:-}}}}"
[ -n "$http_proxy" ] || exit 0
export http_proxy
unset no_proxy NO_PROXY
# Nothing from here reaches the agent: it may show a hook's output.
exec </dev/null >/dev/null 2>&1
body="{{\"status\":\"$1\"}}"
if command -v curl >/dev/null 2>&1; then
  curl --silent --output /dev/null --max-time {timeout} \
    --header 'Content-Type: application/json' --data "$body" \
    {url}
elif wget --version >/dev/null 2>&1; then
  # GNU wget: one try, so a proxy that is away costs {timeout}s.
  wget -q -O /dev/null -T {timeout} -t 1 \
    --header 'Content-Type: application/json' --post-data "$body" \
    {url}
fi
exit 0
"#,
        host = clauderon_types::agent_status::INTERNAL_HOST,
        timeout = REPORT_TIMEOUT_SECS,
        cases = statuses.join("|"),
        url = status_url(),
    )
}

/// A line of `sh` that warns on the terminal when the hook script has nothing to report with,
/// so a session on an image without curl or GNU wget does not lose its live status silently.
pub fn reporter_check() -> String {
    format!(
        "command -v curl >/dev/null 2>&1 || wget --version >/dev/null 2>&1 || \
         echo '{NO_REPORTER_WARNING}' >&2\n"
    )
}

/// What [`reporter_check`] prints (inside single quotes: no `'` in it).
pub const NO_REPORTER_WARNING: &str = "clauderon: neither curl nor GNU wget is installed here, so live agent \
     status (working, waiting, idle) will not reach clauderon. Install curl in the image to get it.";

/// Write [`HOOK_SCRIPT`] into `home` (0755; its folder is created if needed), through
/// `clauderon-fs` (a link the session planted on the way is refused). Returns its path.
pub fn write_hook_script(home: &Path) -> Result<PathBuf, crate::AgentsError> {
    let root = clauderon_fs::SessionRoot::open(home, clauderon_fs::Place::Home)
        .map_err(crate::AgentsError::writing(home))?;
    write_hook_script_in(&root)
}

/// [`write_hook_script`] in an open HOME.
pub(crate) fn write_hook_script_in(home: &clauderon_fs::SessionRoot) -> Result<PathBuf, crate::AgentsError> {
    home.write(HOOK_SCRIPT, hook_script().as_bytes(), 0o755)
        .map_err(crate::AgentsError::writing(home.path()))?;
    Ok(home.host_path(HOOK_SCRIPT))
}

/// The command a hook runs for `status`. `$HOME` is expanded by the shell the agent runs hooks
/// with (all three do), so the same settings work on the host and in a container.
pub fn hook_command(status: AgentStatus) -> String {
    format!("\"$HOME/{HOOK_SCRIPT}\" {status}")
}

/// One matcher group in the hooks format all three agents share.
fn group(matcher: Option<&str>, status: AgentStatus) -> Value {
    let mut g = Map::new();
    if let Some(m) = matcher {
        g.insert("matcher".into(), Value::from(m));
    }
    g.insert("hooks".into(), json!([{"type": "command", "command": hook_command(status)}]));
    Value::Object(g)
}

/// `(event, matcher, status)` for each hook an agent gets: each agent's profile names its own
/// (`crate::profile::Profile::hook_events`).
pub type HookEvents = &'static [(&'static str, Option<&'static str>, AgentStatus)];

/// The `hooks` object of an agent's settings for `events`: event name to matcher groups.
pub fn hooks(events: HookEvents) -> Value {
    let mut out = Map::new();
    for (event, matcher, status) in events {
        out.insert((*event).into(), Value::Array(vec![group(*matcher, *status)]));
    }
    Value::Object(out)
}

/// A whole hooks file (Codex's `~/.codex/hooks.json`): `{"hooks": ...}`.
pub fn hooks_file(events: HookEvents) -> Value {
    json!({ "hooks": hooks(events) })
}

/// Add clauderon's status hooks to an agent's settings object (Claude Code's and Gemini CLI's
/// `settings.json`, Codex's `hooks.json`), beside any hooks already there. Adding them twice
/// changes nothing. A `settings` that is not an object is replaced by one.
pub fn add_hooks(events: HookEvents, settings: &mut Value) {
    if !settings.is_object() {
        *settings = Value::Object(Map::new());
    }
    let Some(root) = settings.as_object_mut() else { return };
    let all = root.entry("hooks").or_insert_with(|| Value::Object(Map::new()));
    if !all.is_object() {
        *all = Value::Object(Map::new());
    }
    let Some(all) = all.as_object_mut() else { return };
    for (event, matcher, status) in events {
        let list = all.entry(*event).or_insert_with(|| Value::Array(Vec::new()));
        if !list.is_array() {
            *list = Value::Array(Vec::new());
        }
        let Some(list) = list.as_array_mut() else { continue };
        let ours = group(*matcher, *status);
        if !list.contains(&ours) {
            list.push(ours);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_script_holds_no_identity_and_reports_only_known_statuses() {
        let script = hook_script();
        assert!(script.starts_with("#!/bin/sh\n"));
        assert!(script.contains("http://clauderon.internal/v1/status"));
        assert!(script.contains("working|waiting-for-input|idle)"));
        // The identity comes from the environment, and never onto curl's command line.
        assert!(!script.contains("--proxy"), "{script}");
        assert!(!script.contains('@'), "no user:secret@ URL in the script");
        assert!(script.contains("unset no_proxy NO_PROXY"));
        assert!(script.trim_end().ends_with("exit 0"));
    }
}
