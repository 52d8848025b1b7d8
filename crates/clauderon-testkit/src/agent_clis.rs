//! The real agent CLIs the tests drive, as `scripts/install-agent-clis.sh` installs them: one
//! npm install per CLI at the version the script pins, in a cache outside the repository
//! (`$CLAUDERON_AGENT_CACHE`, else `~/.cache/clauderon/agent-clis/<package>-<version>`).
//!
//! A test that needs a CLI fails with how to install it; it never passes without one (CI always
//! installs them).

use clauderon_types::AgentKind;
use std::path::{Path, PathBuf};

const INSTALL_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/install-agent-clis.sh");

/// What the install script calls each CLI: the variable that may point at its binary, the
/// cache folder's package name, the script's pin line, the binary.
fn names(agent: AgentKind) -> (&'static str, &'static str, &'static str, &'static str) {
    match agent {
        AgentKind::Claude => ("CLAUDERON_TEST_CLAUDE_BIN", "claude-code", "CLAUDE_CODE_VERSION=", "claude"),
        AgentKind::Codex => ("CLAUDERON_TEST_CODEX_BIN", "codex", "CODEX_VERSION=", "codex"),
        AgentKind::Gemini => ("CLAUDERON_TEST_GEMINI_BIN", "gemini-cli", "GEMINI_CLI_VERSION=", "gemini"),
    }
}

/// The version of `agent`'s CLI the install script pins (the script is the one place it is written).
pub fn pinned_version(agent: AgentKind) -> String {
    let (_, _, pin, _) = names(agent);
    let script = std::fs::read_to_string(INSTALL_SCRIPT).unwrap_or_else(|e| panic!("{INSTALL_SCRIPT}: {e}"));
    script
        .lines()
        .find_map(|l| l.strip_prefix(pin))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("install-agent-clis.sh pins {pin}"))
}

/// The cache the install script fills.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("CLAUDERON_AGENT_CACHE").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").unwrap_or_else(|| panic!("HOME is not set"));
        Path::new(&home).join(".cache/clauderon/agent-clis")
    })
}

/// The installed CLI of `agent` (its `node_modules/.bin` entry), or a failure that says how to
/// install it. The install script's `CLAUDERON_TEST_*_BIN` variables take precedence.
pub fn agent_bin(agent: AgentKind) -> PathBuf {
    let (var, package, _, bin) = names(agent);
    if let Some(path) = std::env::var_os(var) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{var}={} is not a file: run `scripts/install-agent-clis.sh` and use the path it prints",
            path.display()
        );
        return path;
    }
    let path = cache_dir().join(format!("{package}-{}/node_modules/.bin/{bin}", pinned_version(agent)));
    assert!(
        path.is_file(),
        "the real {agent} CLI is not installed (looked for {} and {var}): run \
         `scripts/install-agent-clis.sh` (needs node and npm), or `scripts/test.sh`, which runs it",
        path.display()
    );
    path
}

/// The npm install `agent`'s CLI lives in (`<package>-<version>`, holding `node_modules`).
pub fn install_dir(agent: AgentKind) -> PathBuf {
    let bin = agent_bin(agent);
    bin.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| panic!("{} is not inside an npm install", bin.display()))
}

/// Does a message page (`GET /api/sessions/{name}/messages`) hold a message of `role` whose
/// text contains `text`?
pub fn has_message(page: &serde_json::Value, role: &str, text: &str) -> bool {
    page["messages"].as_array().is_some_and(|all| {
        all.iter().any(|m| m["role"] == role && m["text"].as_str().is_some_and(|t| t.contains(text)))
    })
}
