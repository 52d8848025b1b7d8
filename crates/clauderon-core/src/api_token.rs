//! The API token every TCP client of the daemon must send, loopback included.
//!
//! A session shares the user's uid and, in the `fs` sandbox or without one, the host's
//! network: "it comes from 127.0.0.1" says nothing about who is asking. The token is what a
//! session does not have. It is the configured one (`CLAUDERON_API_TOKEN`,
//! `daemon.api_token_file`), else one the daemon generates at its first start into
//! `<data dir>/api-token` (0600 in the 0700 data dir, which no sandbox mounts) and reuses
//! after. This module owns that file: the daemon creates it, the CLI and `config api-token`
//! read it through the same functions.

use crate::error::CoreError;
use clauderon_types::ApiToken;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Shorter configured tokens are refused: they could be guessed.
const MIN_TOKEN_LEN: usize = 16;
/// Random bytes in a generated token (hex-encoded: 64 characters).
const GENERATED_BYTES: usize = 32;

/// Validate an API token read from `from` (a variable or file name, for the message).
pub fn parse(value: &str, from: &str) -> Result<ApiToken, CoreError> {
    let value = value.trim();
    if value.len() < MIN_TOKEN_LEN {
        return Err(CoreError::Config(format!(
            "the API token from {from} is shorter than {MIN_TOKEN_LEN} characters: use a long random one, e.g. `openssl rand -hex 32`"
        )));
    }
    Ok(ApiToken::new(value))
}

/// Read a token file that only its owner may read (`from` names it in messages).
pub(crate) fn read_private(path: &Path, from: &str) -> Result<ApiToken, CoreError> {
    let meta = std::fs::metadata(path).map_err(|e| CoreError::Config(format!("{from}: {e}")))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(CoreError::Config(format!(
            "{from} is readable by other users: run `chmod 600 {}`",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| CoreError::Config(format!("{from}: {e}")))?;
    parse(&text, from)
}

/// The generated token in `path`, if the daemon has made one. A symlink there is refused, not
/// followed: the file must be the one the daemon wrote.
pub fn read_generated(path: &Path) -> Result<Option<ApiToken>, CoreError> {
    let from = format!("the API token file {}", path.display());
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CoreError::Config(format!("{from}: {e}"))),
        Ok(m) if !m.file_type().is_file() => Err(CoreError::Config(format!(
            "{from} is not a regular file: delete it, and the daemon makes a new token at its next start"
        ))),
        Ok(_) => read_private(path, &from).map(Some),
    }
}

/// The daemon's token when none is configured: the one in `path`, or a new one written there.
/// The file appears whole or not at all (written aside, then linked into place), so a client
/// never reads half a token, and two daemons racing keep the first one's.
pub fn load_or_create(path: &Path) -> Result<ApiToken, CoreError> {
    if let Some(token) = read_generated(path)? {
        return Ok(token);
    }
    let from = format!("the API token file {}", path.display());
    let err = |e: std::io::Error| CoreError::Config(format!("creating {from}: {e}"));
    let mut bytes = [0u8; GENERATED_BYTES];
    rand::Rng::fill(&mut rand::rng(), &mut bytes);
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("api-token");
    let tmp =
        path.with_file_name(format!(".{name}.{}-{:08x}.tmp", std::process::id(), rand::random::<u32>()));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        file.write_all(token.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::hard_link(&tmp, path)
    })();
    let _ = std::fs::remove_file(&tmp);
    match written {
        Ok(()) => Ok(ApiToken::new(token)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read_generated(path)?.ok_or_else(|| CoreError::Config(format!("{from} vanished while created")))
        }
        Err(e) => Err(err(e)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::Config;
    use clauderon_types::DataLayout;

    #[test]
    fn generated_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api-token");
        let first = load_or_create(&path).unwrap();
        assert_eq!(first.expose().len(), 2 * GENERATED_BYTES);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(load_or_create(&path).unwrap(), first, "a second start makes no new token");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(left.len(), 1, "temporary files left behind: {left:?}");
    }

    #[test]
    fn a_token_file_others_can_read_or_a_symlink_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api-token");
        std::fs::write(&path, "0123456789abcdef0123\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
        assert!(!err.contains("0123456789abcdef"), "the token leaked into an error: {err}");

        let elsewhere = dir.path().join("elsewhere");
        std::fs::write(&elsewhere, "0123456789abcdef0123\n").unwrap();
        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o600)).unwrap();
        let link = dir.path().join("linked");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        let err = read_generated(&link).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
    }

    #[test]
    fn the_configured_token_wins_over_the_generated_file() {
        let dir = tempfile::tempdir().unwrap();
        let layout = DataLayout::new(dir.path());
        let mut config = Config::from_toml("").unwrap();
        assert_eq!(config.api_token_for_local_client(&layout).unwrap(), None, "no daemon has run yet");
        let generated = load_or_create(&layout.api_token()).unwrap();
        assert_eq!(config.api_token_for_local_client(&layout).unwrap(), Some(generated));
        let chosen = parse("a-token-the-user-chose", "test").unwrap();
        config.daemon.api_token = Some(chosen.clone());
        assert_eq!(config.api_token_for_local_client(&layout).unwrap(), Some(chosen));
    }
}
