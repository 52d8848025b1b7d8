//! The settings files clauderon writes into a session's HOME for its agent.
//!
//! Each file's content is built by one function of the agent's module (`claude::settings`,
//! `claude::state`, `codex::config`, `gemini::settings`) as a JSON value or a TOML table;
//! each agent's profile lists them; [`write_files`] merges each over the file already there
//! ([`merge_json`], [`merge_toml`]): objects and tables merge key by key, arrays keep their
//! items and gain clauderon's missing ones (a hook the user added beside clauderon's stays),
//! and strings, numbers and booleans take clauderon's value. So keys clauderon does not set —
//! the agent's own state, what the user changed inside the session — survive every rewrite,
//! and clauderon's keys are current after each one. A file that does not parse is kept beside
//! (`<name>.invalid`) and replaced.

use crate::AgentsError;
use clauderon_fs::{Place, SessionRoot};
use std::path::{Path, PathBuf};

/// What the settings builders know of the session.
#[derive(Debug, Clone, Copy)]
pub struct ConfigContext<'a> {
    /// The session's HOME where the files are written (a host path).
    pub home: &'a Path,
    /// The agent's working directory as the agent sees it (the worktree on the host, or
    /// `/workspace` in a container): workspace trust is recorded for it.
    pub workdir: &'a Path,
    /// The session's placeholder variables (`ANTHROPIC_API_KEY` = a placeholder); never a real
    /// credential.
    pub placeholders: &'a [(String, String)],
}

impl ConfigContext<'_> {
    /// The placeholder the session holds in `var`, if that credential is configured.
    pub fn placeholder(&self, var: &str) -> Option<&str> {
        self.placeholders.iter().find(|(k, _)| k == var).map(|(_, v)| v.as_str())
    }
}

/// One file's content.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Json(serde_json::Value),
    Toml(toml::Table),
}

/// A file for the agent, relative to the session's HOME.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentFile {
    pub path: &'static str,
    pub content: Content,
}

/// The largest settings file clauderon merges over (a session could plant a huge one).
const SETTINGS_LIMIT: u64 = 16 << 20;

/// Write an agent's `files` into `ctx.home`, merged over what is there (see the module
/// documentation), with the status hook script they call. Files are 0600 and folders 0700: only the session's user reads them. Every
/// file is read and written through `clauderon-fs`: a link the session planted on the way (its
/// `~/.claude` pointing at the user's own) is refused with [`AgentsError::Refused`], never
/// followed, so neither the host's content comes in nor clauderon's hooks go out. Returns the
/// paths written.
pub fn write_files(ctx: &ConfigContext<'_>, files: &[AgentFile]) -> Result<Vec<PathBuf>, AgentsError> {
    let home = SessionRoot::open(ctx.home, Place::Home).map_err(AgentsError::writing(ctx.home))?;
    // The script the agent's status hooks run (issue 6 §3).
    let script = crate::status_hooks::write_hook_script_in(&home)?;
    let mut written = vec![script];
    for file in files {
        let existing = home.read(file.path, SETTINGS_LIMIT).map_err(AgentsError::writing(ctx.home))?;
        let existing = existing.map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        let text = match merged(&file.content, existing.as_deref()) {
            Some(text) => text,
            None => {
                // The agent cannot read it either: keep it for the user, write ours.
                let aside = format!("{}.invalid", file_name(Path::new(file.path)));
                home.rename_in_place(file.path, &aside).map_err(AgentsError::writing(ctx.home))?;
                merged(&file.content, None).unwrap_or_default()
            }
        };
        // Through a temporary file and a rename, so the agent never reads half a file.
        home.write(file.path, text.as_bytes(), 0o600).map_err(AgentsError::writing(ctx.home))?;
        written.push(home.host_path(file.path));
    }
    Ok(written)
}

/// clauderon's content over `existing`; `None` when `existing` does not parse.
fn merged(content: &Content, existing: Option<&str>) -> Option<String> {
    match content {
        Content::Json(ours) => {
            let mut base = match existing {
                Some(text) if !text.trim().is_empty() => serde_json::from_str(text).ok()?,
                _ => serde_json::Value::Object(Default::default()),
            };
            merge_json(&mut base, ours);
            serde_json::to_string_pretty(&base).ok().map(|t| t + "\n")
        }
        Content::Toml(ours) => {
            let mut base: toml::Table = match existing {
                Some(text) => text.parse().ok()?,
                None => toml::Table::new(),
            };
            merge_toml(&mut base, ours);
            toml::to_string(&base).ok()
        }
    }
}

/// Put `ours` over `base`: objects merge key by key (recursively), arrays gain the items of
/// ours they lack, anything else is replaced.
pub fn merge_json(base: &mut serde_json::Value, ours: &serde_json::Value) {
    use serde_json::Value;
    match (base, ours) {
        (Value::Object(base), Value::Object(ours)) => {
            for (key, value) in ours {
                match base.get_mut(key) {
                    Some(existing) => merge_json(existing, value),
                    None => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (Value::Array(base), Value::Array(ours)) => {
            for item in ours {
                if !base.contains(item) {
                    base.push(item.clone());
                }
            }
        }
        (base, ours) => *base = ours.clone(),
    }
}

/// Put `ours` over `base`: tables merge key by key (recursively), arrays gain the items of ours
/// they lack, anything else is replaced.
pub fn merge_toml(base: &mut toml::Table, ours: &toml::Table) {
    for (key, value) in ours {
        match (base.get_mut(key), value) {
            (Some(toml::Value::Table(existing)), toml::Value::Table(ours)) => merge_toml(existing, ours),
            (Some(toml::Value::Array(existing)), toml::Value::Array(ours)) => {
                for item in ours {
                    if !existing.contains(item) {
                        existing.push(item.clone());
                    }
                }
            }
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}
