//! 1Password references, read with `op read` and cached for a while.

use super::{CredentialError, Secret};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

const MAX_MESSAGE_LEN: usize = 300;

/// A validated `op://vault/item/field` (or `op://vault/item/section/field`) reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OpReference(String);

impl OpReference {
    pub fn parse(text: &str) -> Result<Self, CredentialError> {
        let invalid = |reason: &str| CredentialError::InvalidSource {
            text: text.to_string(),
            reason: reason.to_string(),
        };
        let Some(rest) = text.strip_prefix("op://") else {
            return Err(invalid("a 1Password reference starts with `op://`"));
        };
        if text.chars().any(char::is_control) {
            return Err(invalid("it contains a control character"));
        }
        let path = rest.split_once('?').map_or(rest, |(path, _query)| path);
        let segments: Vec<&str> = path.split('/').collect();
        if !(3..=4).contains(&segments.len()) || segments.iter().any(|s| s.trim().is_empty()) {
            return Err(invalid("expected `op://vault/item/field` or `op://vault/item/section/field`"));
        }
        Ok(OpReference(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OpReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One cache slot per reference. The async lock makes concurrent first reads of the
/// same reference wait for one `op` run instead of starting several.
type Slot = Arc<tokio::sync::Mutex<Option<(Instant, Secret)>>>;

pub(super) struct OpRunner {
    pub(super) binary: PathBuf,
    pub(super) ttl: Duration,
    pub(super) timeout: Duration,
    slots: Mutex<HashMap<OpReference, Slot>>,
}

impl fmt::Debug for OpRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpRunner")
            .field("binary", &self.binary)
            .field("ttl", &self.ttl)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl OpRunner {
    pub(super) fn new(binary: PathBuf, ttl: Duration, timeout: Duration) -> Self {
        OpRunner { binary, ttl, timeout, slots: Mutex::new(HashMap::new()) }
    }

    /// The cached value if younger than the TTL, else a fresh `op read`. Failures are not cached.
    pub(super) async fn read(
        &self,
        reference: &OpReference,
        secrets_dir: &Path,
    ) -> Result<Secret, CredentialError> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            slots.entry(reference.clone()).or_default().clone()
        };
        let mut cached = slot.lock().await;
        if let Some((at, secret)) = cached.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(secret.clone());
        }
        let secret = self.run(reference, secrets_dir).await?;
        *cached = Some((Instant::now(), secret.clone()));
        Ok(secret)
    }

    async fn run(&self, reference: &OpReference, secrets_dir: &Path) -> Result<Secret, CredentialError> {
        let failed =
            |message: String| CredentialError::OpFailed { reference: reference.to_string(), message };
        let mut child = tokio::process::Command::new(&self.binary)
            .arg("read")
            .arg(reference.as_str())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => CredentialError::OpNotInstalled {
                    binary: self.binary.display().to_string(),
                    secrets_dir: secrets_dir.to_path_buf(),
                },
                _ => failed(format!("cannot run `{}`: {e}", self.binary.display())),
            })?;
        let (Some(mut stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(failed("its output could not be read".to_string()));
        };
        let work = async {
            let mut out = Vec::new();
            let mut err = Vec::new();
            let (read_out, read_err, status) =
                tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err), child.wait());
            read_out.and(read_err).and(status).map(|status| (status, out, err))
        };
        let (status, out, err) = match tokio::time::timeout(self.timeout, work).await {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => return Err(failed(format!("reading its output failed: {e}"))),
            // Dropping `child` (kill_on_drop) stops the process.
            Err(_) => {
                return Err(CredentialError::OpTimeout {
                    reference: reference.to_string(),
                    after: self.timeout,
                });
            }
        };
        let value = String::from_utf8(out).ok().map(Secret::new).map(|raw| Secret::new(raw.expose().trim()));
        if !status.success() {
            let message = first_line_without(&err, value.as_ref())
                .unwrap_or_else(|| format!("`op read` exited with {status}"));
            return Err(failed(message));
        }
        match value {
            Some(secret) if !secret.expose().is_empty() => Ok(secret),
            Some(_) => Err(failed("the field is empty".to_string())),
            None => Err(failed("the value is not UTF-8 text".to_string())),
        }
    }
}

/// The first non-empty line of `op`'s stderr, shortened, and withheld if it contains the value
/// `op` printed: an error message must never carry a secret.
fn first_line_without(stderr: &[u8], value: Option<&Secret>) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    if value.is_some_and(|v| !v.expose().is_empty() && line.contains(v.expose())) {
        return Some("`op read` failed (its message was withheld because it contained the value)".into());
    }
    let mut line: String = line.chars().filter(|c| !c.is_control()).collect();
    if line.len() > MAX_MESSAGE_LEN {
        let cut = (0..=MAX_MESSAGE_LEN).rev().find(|i| line.is_char_boundary(*i)).unwrap_or(0);
        line.truncate(cut);
        line.push('…');
    }
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_have_vault_item_and_field() {
        for ok in ["op://Private/GitHub/token", "op://dev/api/section/key", "op://v/i/f?attribute=otp"] {
            assert!(OpReference::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["op://v/i", "op://v//f", "op://a/b/c/d/e", "https://v/i/f", "op://v/i/f\n"] {
            let err = OpReference::parse(bad).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("not valid"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn stderr_is_shortened_and_never_carries_the_value() {
        let value = Secret::new("s3cret");
        assert_eq!(
            first_line_without(b"\n[ERROR] not signed in\nmore\n", Some(&value)).as_deref(),
            Some("[ERROR] not signed in")
        );
        let leaked = first_line_without(b"bad s3cret here", Some(&value)).unwrap_or_default();
        assert!(!leaked.contains("s3cret"), "{leaked}");
        let long = first_line_without("é".repeat(400).as_bytes(), None).unwrap_or_default();
        assert!(long.len() <= MAX_MESSAGE_LEN + '…'.len_utf8(), "{}", long.len());
        assert_eq!(first_line_without(b"  \n", None), None);
    }
}
