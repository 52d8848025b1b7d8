//! The Claude credentials file, as Claude Code writes it (`~/.claude/.credentials.json` on
//! Linux): `{"claudeAiOauth": {"accessToken", "refreshToken", "expiresAt" (ms since the
//! epoch), "scopes": [...], ...}, ...}`. Read only when it is private to its owner (0600);
//! written back atomically (a 0600 temp file renamed over it), keeping every other field.

use crate::secret::{CredentialError, Secret};
use serde_json::{Map, Value};
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The object in the file that holds the subscription login.
const KEY: &str = "claudeAiOauth";

/// One login's tokens. `Debug` shows the tokens as `***`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthTokens {
    pub access: Secret,
    /// `None` for a token that cannot be refreshed.
    pub refresh: Option<Secret>,
    /// When the access token expires, in milliseconds since the epoch; `None`: never.
    pub expires_at_ms: Option<i64>,
    pub scopes: Vec<String>,
}

/// Which version of the file a read saw: any write (ours is a rename, so a new inode) changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileStamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i128,
}

fn unreadable(path: &Path, e: impl ToString) -> CredentialError {
    CredentialError::FileUnreadable { path: path.to_path_buf(), reason: e.to_string() }
}

fn invalid(path: &Path, reason: impl Into<String>) -> CredentialError {
    CredentialError::ClaudeCredentialsInvalid { path: path.to_path_buf(), reason: reason.into() }
}

/// The file's stamp; `Ok(None)` when it does not exist. Refused unless a regular file that only
/// its owner can read.
pub(crate) fn stamp(path: &Path) -> Result<Option<FileStamp>, CredentialError> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(path, e)),
    };
    if !meta.is_file() {
        return Err(unreadable(path, "not a regular file"));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(CredentialError::FileNotPrivate { path: path.to_path_buf() });
    }
    Ok(Some(FileStamp {
        dev: meta.dev(),
        ino: meta.ino(),
        len: meta.len(),
        mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
    }))
}

/// The login in the file: `Ok(None)` when the file is missing or empty.
pub fn read(path: &Path) -> Result<Option<OAuthTokens>, CredentialError> {
    if stamp(path)?.is_none() {
        return Ok(None);
    }
    let text = Secret::new(std::fs::read_to_string(path).map_err(|e| unreadable(path, e))?);
    if text.expose().trim().is_empty() {
        return Ok(None);
    }
    parse(text.expose()).map(Some).map_err(|reason| invalid(path, reason))
}

/// Reasons never quote the file: it is full of secrets.
fn parse(text: &str) -> Result<OAuthTokens, String> {
    let doc: Value = serde_json::from_str(text)
        .map_err(|e| format!("it is not JSON (line {}, column {})", e.line(), e.column()))?;
    let Some(login) = doc.get(KEY).and_then(Value::as_object) else {
        return Err(format!("it has no `{KEY}` object"));
    };
    let token = |field: &str| -> Result<Option<Secret>, String> {
        match login.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) if s.bytes().all(|b| (0x21..0x7f).contains(&b)) => {
                Ok(Some(Secret::new(s.clone())))
            }
            Some(_) => Err(format!("`{KEY}.{field}` is not a token (a string of printable ASCII)")),
        }
    };
    let access = token("accessToken")?.ok_or_else(|| format!("it has no `{KEY}.accessToken`"))?;
    let refresh = token("refreshToken")?;
    let expires_at_ms = match login.get("expiresAt") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .or_else(|| v.as_f64().map(|f| f as i64))
                .ok_or_else(|| format!("`{KEY}.expiresAt` is not a number of milliseconds"))?,
        ),
    };
    let scopes = match login.get("scopes") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    };
    Ok(OAuthTokens { access, refresh, expires_at_ms, scopes })
}

/// Put `tokens` into the file, keeping every other field as it is now on disk: a 0600 temp
/// file next to it, synced, renamed over it.
pub(crate) fn write(path: &Path, tokens: &OAuthTokens) -> Result<(), CredentialError> {
    let mut doc = match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str::<Value>(&text).unwrap_or_else(|_| Value::Object(Map::new())),
        Err(_) => Value::Object(Map::new()),
    };
    if !doc.is_object() {
        doc = Value::Object(Map::new());
    }
    let root = doc.as_object_mut().ok_or_else(|| invalid(path, "its top level is not an object"))?;
    let login = root.entry(KEY).or_insert_with(|| Value::Object(Map::new()));
    if !login.is_object() {
        *login = Value::Object(Map::new());
    }
    if let Value::Object(login) = login {
        login.insert("accessToken".into(), tokens.access.expose().into());
        match &tokens.refresh {
            Some(refresh) => login.insert("refreshToken".into(), refresh.expose().into()),
            None => login.remove("refreshToken"),
        };
        login.insert("expiresAt".into(), tokens.expires_at_ms.map_or(Value::Null, Value::from));
        login.insert("scopes".into(), tokens.scopes.iter().map(|s| Value::from(s.as_str())).collect());
    }
    let text = Secret::new(serde_json::to_string(&doc).map_err(|e| unreadable(path, e))?);
    write_atomically(path, text.expose().as_bytes())
        .map_err(|e| CredentialError::FileUnwritable { path: path.to_path_buf(), reason: e.to_string() })
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp: PathBuf =
        dir.join(format!(".{name}.clauderon-{}-{:08x}.tmp", std::process::id(), rand::random::<u32>()));
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
        return result;
    }
    // Make the rename itself durable; a failure here leaves a correct file, maybe not yet on disk.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"{"claudeAiOauth":{"accessToken":"sk-ant-oat01-AAA","refreshToken":"sk-ant-ort01-RRR",
        "expiresAt":1748658860401,"scopes":["user:inference","user:profile"],"subscriptionType":"max"},
        "mcpOAuth":{"x":{"accessToken":"other"}}}"#;

    fn private_file(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("creds.json");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .unwrap_or_else(|e| panic!("{e}"));
        path
    }

    #[test]
    fn reads_claude_codes_format() {
        let tokens = parse(FILE).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(tokens.access.expose(), "sk-ant-oat01-AAA");
        assert_eq!(tokens.refresh.as_ref().map(Secret::expose), Some("sk-ant-ort01-RRR"));
        assert_eq!(tokens.expires_at_ms, Some(1_748_658_860_401));
        assert_eq!(tokens.scopes, ["user:inference", "user:profile"]);
        let shown = format!("{tokens:?}");
        assert!(!shown.contains("AAA") && !shown.contains("RRR"), "{shown}");
    }

    #[test]
    fn bad_files_say_why_without_quoting_them() {
        for (text, want) in [
            ("{not json sk-ant-SECRET", "not JSON"),
            (r#"{"other":{}}"#, "no `claudeAiOauth` object"),
            (r#"{"claudeAiOauth":{"refreshToken":"sk-ant-SECRET"}}"#, "no `claudeAiOauth.accessToken`"),
            (r#"{"claudeAiOauth":{"accessToken":"sk-ant-SECRET\n"}}"#, "not a token"),
            (r#"{"claudeAiOauth":{"accessToken":"a","expiresAt":"sk-ant-SECRET"}}"#, "expiresAt"),
        ] {
            let err = parse(text).err().unwrap_or_default();
            assert!(err.contains(want) && !err.contains("SECRET"), "{text}: {err}");
        }
    }

    #[test]
    fn a_write_keeps_other_fields_and_stays_private() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = private_file(dir.path(), FILE);
        let before = stamp(&path).ok().flatten();
        let tokens = OAuthTokens {
            access: Secret::new("sk-ant-oat01-NEW"),
            refresh: Some(Secret::new("sk-ant-ort01-NEW")),
            expires_at_ms: Some(42),
            scopes: vec!["user:inference".into()],
        };
        write(&path, &tokens).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read(&path).ok().flatten(), Some(tokens));
        assert_ne!(stamp(&path).ok().flatten(), before, "a write must change the stamp");
        let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
        assert_eq!(mode, 0o600);
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_default()).unwrap_or_default();
        assert_eq!(doc["claudeAiOauth"]["subscriptionType"], "max");
        assert_eq!(doc["mcpOAuth"]["x"]["accessToken"], "other");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).into_iter().flatten().flatten().collect();
        assert_eq!(leftovers.len(), 1, "the temp file was left behind: {leftovers:?}");
    }

    #[test]
    fn a_file_others_can_read_is_refused_and_a_missing_one_is_none() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read(&dir.path().join("absent.json")), Ok(None));
        let path = private_file(dir.path(), FILE);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(read(&path), Err(CredentialError::FileNotPrivate { .. })));
    }
}
