//! Where real credentials come from: the daemon's environment, files in the
//! data dir's secrets folder (mode 0600 only), 1Password references read
//! with the `op` CLI, and Claude credentials files whose subscription token the
//! daemon refreshes ([`crate::oauth`]). Values live in [`Secret`], whose `Debug` and `Display`
//! print `***`; [`CredentialStore::describe`] says where each credential comes
//! from, never what it is.

mod onepassword;

pub use onepassword::OpReference;

use crate::oauth::TokenRefresher;
pub use crate::secret::{CredentialError, MAX_NAME_LEN, Secret, check_credential_name};
use onepassword::OpRunner;
use serde::Serialize;
use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// How long a value read from 1Password is reused before `op` runs again.
pub const DEFAULT_OP_TTL: Duration = Duration::from_secs(5 * 60);
/// How long `op read` may take (it may wait for the desktop app to be unlocked).
pub const DEFAULT_OP_TIMEOUT: Duration = Duration::from_secs(30);
/// Overrides the path of the 1Password CLI (read by [`CredentialStore::from_process_env`]).
pub const OP_BIN_ENV: &str = "CLAUDERON_OP_BIN";

/// A credential clauderon knows without configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinCredential {
    pub name: &'static str,
    pub description: &'static str,
    /// Environment variables of the daemon, looked at in this order.
    pub env: &'static [&'static str],
    /// A Claude credentials file in the secrets folder, looked at after `<secrets>/<name>`.
    pub claude_credentials: Option<&'static str>,
    /// The variables a session gets holding [`BuiltinCredential::placeholder`] when this
    /// credential is configured (the agents read their key from these).
    pub session_env: &'static [&'static str],
    /// What a session holds instead of the value. Never a usable credential anywhere.
    pub placeholder: &'static str,
}

pub const BUILTIN_CREDENTIALS: &[BuiltinCredential] = &[
    BuiltinCredential {
        name: "anthropic_api_key",
        description: "Anthropic API key (x-api-key on api.anthropic.com)",
        env: &["ANTHROPIC_API_KEY"],
        claude_credentials: None,
        session_env: &["ANTHROPIC_API_KEY"],
        placeholder: "sk-ant-api03-clauderon-placeholder",
    },
    BuiltinCredential {
        name: "anthropic_oauth_token",
        description: "Claude subscription OAuth token (preferred over the API key when set)",
        env: &["CLAUDE_CODE_OAUTH_TOKEN"],
        claude_credentials: Some("anthropic_oauth.json"),
        session_env: &["CLAUDE_CODE_OAUTH_TOKEN"],
        placeholder: "sk-ant-oat01-clauderon-placeholder",
    },
    BuiltinCredential {
        name: "openai_api_key",
        description: "OpenAI API key (Bearer on api.openai.com)",
        env: &["OPENAI_API_KEY"],
        claude_credentials: None,
        session_env: &["OPENAI_API_KEY", "CODEX_API_KEY"],
        placeholder: "sk-clauderon-placeholder",
    },
    BuiltinCredential {
        name: "gemini_api_key",
        description: "Gemini API key (x-goog-api-key on generativelanguage.googleapis.com)",
        env: &["GEMINI_API_KEY", "GOOGLE_API_KEY"],
        claude_credentials: None,
        session_env: &["GEMINI_API_KEY"],
        placeholder: "clauderon-placeholder-gemini",
    },
    BuiltinCredential {
        name: "github_token",
        description: "GitHub token (api.github.com, and git over HTTPS on github.com)",
        env: &["GH_TOKEN", "GITHUB_TOKEN"],
        claude_credentials: None,
        session_env: &["GH_TOKEN", "GITHUB_TOKEN"],
        placeholder: "ghp_clauderonplaceholder",
    },
];

/// The placeholder variables for a session, given the names of the configured credentials.
/// With a Claude subscription token configured the API-key placeholder is left out: the agent
/// then logs in the subscription way, which is what the proxy injects for.
pub fn placeholder_env(configured: &[String]) -> Vec<(String, String)> {
    let has = |n: &str| configured.iter().any(|c| c == n);
    BUILTIN_CREDENTIALS
        .iter()
        .filter(|c| has(c.name))
        .filter(|c| !(c.name == "anthropic_api_key" && has("anthropic_oauth_token")))
        .flat_map(|c| c.session_env.iter().map(|v| ((*v).to_string(), c.placeholder.to_string())))
        .collect()
}

pub fn builtin_credential(name: &str) -> Option<&'static BuiltinCredential> {
    BUILTIN_CREDENTIALS.iter().find(|c| c.name == name)
}

/// A place a user configured for one credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// An environment variable of the daemon.
    Env(String),
    /// A file (must be mode 0600).
    File(PathBuf),
    /// A 1Password reference, read with `op read`.
    OnePassword(OpReference),
    /// A Claude credentials file (`~/.claude/.credentials.json`'s format, mode 0600): its access
    /// token, refreshed by the daemon before it expires, the file updated.
    ClaudeCredentials(PathBuf),
}

impl FromStr for CredentialSource {
    type Err = CredentialError;

    /// `env:NAME`, `file:/path`, `op://vault/item/field` or `claude-credentials:/path`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| CredentialError::InvalidSource {
            text: text.to_string(),
            reason: reason.to_string(),
        };
        if text.starts_with("op://") {
            return OpReference::parse(text).map(CredentialSource::OnePassword);
        }
        if let Some(var) = text.strip_prefix("env:") {
            let ok = !var.is_empty() && !var.contains('=') && !var.contains('\0');
            return if ok { Ok(CredentialSource::Env(var.to_string())) } else { Err(invalid("empty name")) };
        }
        if let Some(path) = text.strip_prefix("claude-credentials:") {
            let path = PathBuf::from(path);
            return if path.is_absolute() {
                Ok(CredentialSource::ClaudeCredentials(path))
            } else {
                Err(invalid("a Claude credentials file needs an absolute path"))
            };
        }
        if let Some(path) = text.strip_prefix("file:") {
            return if path.is_empty() {
                Err(invalid("empty path"))
            } else {
                Ok(CredentialSource::File(PathBuf::from(path)))
            };
        }
        Err(invalid(
            "expected `env:NAME`, `file:/path`, `op://vault/item/field` or `claude-credentials:/path`",
        ))
    }
}

impl fmt::Display for CredentialSource {
    /// The form `clauderon credentials` prints: "env GH_TOKEN", "file /x/y", "1Password op://…".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::Env(var) => write!(f, "env {var}"),
            CredentialSource::File(path) => write!(f, "file {}", path.display()),
            CredentialSource::OnePassword(reference) => write!(f, "1Password {reference}"),
            CredentialSource::ClaudeCredentials(path) => {
                write!(f, "Claude credentials {} (refreshed by the daemon)", path.display())
            }
        }
    }
}

/// What `clauderon credentials` prints for one credential. Never holds a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialInfo {
    pub name: String,
    pub description: String,
    /// The source that supplies the value, e.g. "env GH_TOKEN"; `None` when nothing is configured.
    pub source: Option<String>,
    /// Every place looked at, in order.
    pub searched: Vec<String>,
    /// Why a source that exists cannot be used, e.g. a file readable by others.
    pub problem: Option<String>,
}

impl CredentialInfo {
    pub fn configured(&self) -> bool {
        self.source.is_some()
    }
}

type EnvFn = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Resolves credential names to values. Cheap to share behind an `Arc`.
pub struct CredentialStore {
    secrets_dir: PathBuf,
    overrides: Vec<(String, CredentialSource)>,
    extra_names: Vec<String>,
    env: Arc<EnvFn>,
    op: OpRunner,
    /// Refreshes Claude credentials files; without one their access token is used as stored.
    oauth: Option<Arc<TokenRefresher>>,
}

impl fmt::Debug for CredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialStore")
            .field("secrets_dir", &self.secrets_dir)
            .field("overrides", &self.overrides)
            .field("op", &self.op)
            .finish_non_exhaustive()
    }
}

impl CredentialStore {
    /// `overrides` are the user's configured sources, tried in order before the built-in ones;
    /// `env` reads the daemon's environment (a function, so tests never touch the process env).
    pub fn new(
        secrets_dir: PathBuf,
        overrides: Vec<(String, CredentialSource)>,
        env: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        CredentialStore {
            secrets_dir,
            overrides,
            extra_names: Vec::new(),
            env: Arc::new(env),
            op: OpRunner::new(PathBuf::from("op"), DEFAULT_OP_TTL, DEFAULT_OP_TIMEOUT),
            oauth: None,
        }
    }

    /// The store the daemon uses: its own environment, and `op` from `CLAUDERON_OP_BIN` or `PATH`.
    pub fn from_process_env(secrets_dir: PathBuf, overrides: Vec<(String, CredentialSource)>) -> Self {
        let op_bin = std::env::var_os(OP_BIN_ENV).filter(|v| !v.is_empty());
        let store = CredentialStore::new(secrets_dir, overrides, |name| std::env::var(name).ok());
        match op_bin {
            Some(bin) => store.with_op_binary(PathBuf::from(bin)),
            None => store,
        }
    }

    /// Run this program instead of `op` from `PATH`.
    pub fn with_op_binary(mut self, binary: PathBuf) -> Self {
        self.op.binary = binary;
        self
    }

    /// How long a value read from 1Password is reused (default 5 minutes).
    pub fn with_op_ttl(mut self, ttl: Duration) -> Self {
        self.op.ttl = ttl;
        self
    }

    /// How long `op read` may take (default 30 s).
    pub fn with_op_timeout(mut self, timeout: Duration) -> Self {
        self.op.timeout = timeout;
        self
    }

    /// Refresh the subscription tokens of Claude credentials files with this (the daemon's).
    pub fn with_token_refresher(mut self, refresher: Arc<TokenRefresher>) -> Self {
        self.oauth = Some(refresher);
        self
    }

    /// Every Claude credentials file a known credential may come from (for the daemon to keep
    /// fresh), whether or not it exists yet.
    pub fn claude_credentials_files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for name in self.known_names() {
            for source in self.sources(name).unwrap_or_default() {
                if let CredentialSource::ClaudeCredentials(path) = source
                    && !files.contains(&path)
                {
                    files.push(path);
                }
            }
        }
        files
    }

    /// Further names to list in [`describe`](Self::describe), e.g. those user rules refer to.
    pub fn with_known_names(mut self, names: impl IntoIterator<Item = String>) -> Self {
        for name in names {
            if !self.extra_names.contains(&name) {
                self.extra_names.push(name);
            }
        }
        self
    }

    pub fn secrets_dir(&self) -> &Path {
        &self.secrets_dir
    }

    /// Every place `name` is looked for, in order: the user's overrides, the built-in
    /// environment variables, `<secrets dir>/<name>`, then a built-in Claude credentials file.
    pub fn sources(&self, name: &str) -> Result<Vec<CredentialSource>, CredentialError> {
        check_credential_name(name)?;
        let mut sources: Vec<CredentialSource> =
            self.overrides.iter().filter(|(n, _)| n == name).map(|(_, s)| s.clone()).collect();
        if let Some(builtin) = builtin_credential(name) {
            sources.extend(builtin.env.iter().map(|var| CredentialSource::Env((*var).to_string())));
        }
        sources.push(CredentialSource::File(self.secrets_dir.join(name)));
        if let Some(file) = builtin_credential(name).and_then(|b| b.claude_credentials) {
            sources.push(CredentialSource::ClaudeCredentials(self.secrets_dir.join(file)));
        }
        Ok(sources)
    }

    /// The value of `name` from the first source that has one; `Ok(None)` when none has.
    /// An unset or empty variable and a missing or empty file count as "not configured";
    /// a file readable by others and a failing `op` are errors.
    pub async fn resolve(&self, name: &str) -> Result<Option<Secret>, CredentialError> {
        for source in self.sources(name)? {
            let value = match &source {
                CredentialSource::Env(var) => self.read_env(var),
                CredentialSource::File(path) => read_secret_file(path)?,
                CredentialSource::OnePassword(reference) => {
                    Some(self.op.read(reference, &self.secrets_dir).await?)
                }
                CredentialSource::ClaudeCredentials(path) => match &self.oauth {
                    Some(refresher) => refresher.access_token(path).await?,
                    None => crate::oauth::stored_access_token(path)?,
                },
            };
            if let Some(value) = value {
                return Ok(Some(value));
            }
        }
        Ok(None)
    }

    fn read_env(&self, var: &str) -> Option<Secret> {
        (self.env)(var).map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).map(Secret::new)
    }

    /// Every known credential (built-ins, overrides, [`with_known_names`](Self::with_known_names))
    /// and where it comes from. Reads files to see whether they are empty; never runs `op`
    /// (a 1Password reference counts as configured) and never returns a value.
    pub fn describe(&self) -> Vec<CredentialInfo> {
        self.known_names().into_iter().map(|name| self.describe_one(name)).collect()
    }

    /// Built-ins, then overrides and further names, each once.
    fn known_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = BUILTIN_CREDENTIALS.iter().map(|c| c.name).collect();
        for name in
            self.overrides.iter().map(|(n, _)| n.as_str()).chain(self.extra_names.iter().map(|n| n.as_str()))
        {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    fn describe_one(&self, name: &str) -> CredentialInfo {
        let description = builtin_credential(name).map_or("user-defined", |b| b.description).to_string();
        let mut info = CredentialInfo {
            name: name.to_string(),
            description,
            source: None,
            searched: Vec::new(),
            problem: None,
        };
        let sources = match self.sources(name) {
            Ok(sources) => sources,
            Err(e) => {
                info.problem = Some(e.to_string());
                return info;
            }
        };
        for source in sources {
            info.searched.push(source.to_string());
            if info.source.is_some() || info.problem.is_some() {
                continue;
            }
            let found = match &source {
                CredentialSource::Env(var) => Ok(self.read_env(var).is_some()),
                CredentialSource::File(path) => read_secret_file(path).map(|v| v.is_some()),
                CredentialSource::OnePassword(_) => Ok(true),
                // Parsed (and its mode checked) but not refreshed: an expired token still counts.
                CredentialSource::ClaudeCredentials(path) => {
                    crate::oauth::file::read(path).map(|t| t.is_some())
                }
            };
            match found {
                Ok(true) => info.source = Some(source.to_string()),
                Ok(false) => {}
                Err(e) => info.problem = Some(e.to_string()),
            }
        }
        info
    }
}

/// A secret file: `Ok(None)` when missing or empty; refused unless only its owner can read it.
fn read_secret_file(path: &Path) -> Result<Option<Secret>, CredentialError> {
    let unreadable = |e: std::io::Error| CredentialError::FileUnreadable {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(e)),
    };
    if !meta.is_file() {
        return Err(CredentialError::FileUnreadable {
            path: path.to_path_buf(),
            reason: "not a regular file".to_string(),
        });
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(CredentialError::FileNotPrivate { path: path.to_path_buf() });
    }
    // A small file in the page cache: reading it inline costs microseconds.
    let text = Secret::new(std::fs::read_to_string(path).map_err(unreadable)?);
    let value = text.expose().trim();
    Ok((!value.is_empty()).then(|| Secret::new(value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_only_for_configured_credentials_and_oauth_wins_over_the_key() {
        let env = placeholder_env(&["openai_api_key".into(), "github_token".into()]);
        let names: Vec<&str> = env.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["OPENAI_API_KEY", "CODEX_API_KEY", "GH_TOKEN", "GITHUB_TOKEN"]);
        let env = placeholder_env(&["anthropic_api_key".into(), "anthropic_oauth_token".into()]);
        assert_eq!(
            env,
            [("CLAUDE_CODE_OAUTH_TOKEN".to_string(), "sk-ant-oat01-clauderon-placeholder".to_string())]
        );
        assert_eq!(placeholder_env(&["anthropic_api_key".into()])[0].0, "ANTHROPIC_API_KEY");
        assert!(placeholder_env(&[]).is_empty());
        for c in BUILTIN_CREDENTIALS {
            assert!(
                c.placeholder.contains("clauderon") && c.placeholder.contains("placeholder"),
                "{}",
                c.name
            );
        }
    }

    #[test]
    fn names_are_file_names_without_paths() {
        assert!(check_credential_name("github_token").is_ok());
        assert!(check_credential_name("corp-api-2").is_ok());
        for bad in ["", "../etc/passwd", "a/b", ".hidden", "a b", &"x".repeat(65)] {
            assert!(check_credential_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sources_parse_from_text() {
        assert_eq!("env:MY_TOKEN".parse(), Ok(CredentialSource::Env("MY_TOKEN".into())));
        assert_eq!("file:/run/tok".parse(), Ok(CredentialSource::File("/run/tok".into())));
        assert!(matches!("op://v/i/f".parse(), Ok(CredentialSource::OnePassword(_))));
        assert_eq!(
            "claude-credentials:/home/me/.claude/.credentials.json".parse(),
            Ok(CredentialSource::ClaudeCredentials("/home/me/.claude/.credentials.json".into()))
        );
        for bad in ["env:", "file:", "MY_TOKEN", "op://v/i", "claude-credentials:relative.json"] {
            let err = bad.parse::<CredentialSource>().err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains(bad), "{bad}: {err}");
        }
    }

    #[test]
    fn every_builtin_has_a_valid_name_and_an_env_var() {
        for c in BUILTIN_CREDENTIALS {
            assert!(check_credential_name(c.name).is_ok(), "{}", c.name);
            assert!(!c.env.is_empty(), "{}", c.name);
        }
    }
}
