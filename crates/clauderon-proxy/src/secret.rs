//! A credential's value and what goes wrong getting one: the two things every credential
//! source (`credentials`) and the OAuth refresher (`oauth`) share, below both.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The longest credential name.
pub const MAX_NAME_LEN: usize = 64;

/// A credential's value. `Debug` and `Display` print `***`; only [`Secret::expose`] gives the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Drop for Secret {
    /// Best effort: overwrite the bytes before the allocation is freed. Copies the
    /// value passed through (header values, the process environment) are not reached.
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.fill(0);
        std::hint::black_box(&bytes);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error(
        "credential name `{0}` is not valid: use 1-{MAX_NAME_LEN} letters, digits, `_` or `-`, e.g. `github_token`"
    )]
    InvalidName(String),
    #[error("credential source `{text}` is not valid: {reason}")]
    InvalidSource { text: String, reason: String },
    #[error("{} is readable by other users: run `chmod 600 {}`", path.display(), path.display())]
    FileNotPrivate { path: PathBuf },
    #[error("cannot read {}: {reason}", path.display())]
    FileUnreadable { path: PathBuf, reason: String },
    #[error(
        "1Password CLI `op` is not installed (looked for `{binary}`): install it, or use an env var or a file in {}",
        secrets_dir.display()
    )]
    OpNotInstalled { binary: String, secrets_dir: PathBuf },
    #[error(
        "1Password could not read {reference}: {message} (if you are signed out, run `op signin` where the daemon runs, or give the daemon OP_SERVICE_ACCOUNT_TOKEN)"
    )]
    OpFailed { reference: String, message: String },
    #[error(
        "1Password CLI did not answer within {}s reading {reference}: is it waiting for the app to be unlocked?",
        after.as_secs()
    )]
    OpTimeout { reference: String, after: Duration },
    #[error(
        "{} is not a Claude credentials file ({reason}): copy ~/.claude/.credentials.json from a machine where `claude login` worked",
        path.display()
    )]
    ClaudeCredentialsInvalid { path: PathBuf, reason: String },
    #[error("cannot write {}: {reason}", path.display())]
    FileUnwritable { path: PathBuf, reason: String },
    #[error("{}", refresh_failed_message(path, reason, *retryable))]
    OAuthRefreshFailed { path: PathBuf, reason: String, retryable: bool },
}

fn refresh_failed_message(path: &Path, reason: &str, retryable: bool) -> String {
    let path = path.display();
    let fix = format!(
        "run `claude login` on the host, then copy its ~/.claude/.credentials.json to {path} (chmod 600), \
         unless clauderon reads that file directly"
    );
    if retryable {
        format!(
            "the Claude subscription token in {path} has expired and could not be refreshed yet: {reason}. \
             clauderon tries again within a minute; if this persists, {fix}"
        )
    } else {
        format!(
            "the Claude subscription token in {path} has expired and cannot be refreshed: {reason}. To fix it, {fix}"
        )
    }
}

impl CredentialError {
    /// Whether trying again later may succeed (1Password signed out or slow), as opposed to a
    /// configuration the user must fix.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            CredentialError::OpFailed { .. }
                | CredentialError::OpTimeout { .. }
                | CredentialError::OAuthRefreshFailed { retryable: true, .. }
        )
    }
}

/// Check a credential name: it is also a file name in the secrets folder.
pub fn check_credential_name(name: &str) -> Result<(), CredentialError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok { Ok(()) } else { Err(CredentialError::InvalidName(name.to_string())) }
}
