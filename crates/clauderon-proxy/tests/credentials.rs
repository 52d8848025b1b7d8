#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Credential sources from the outside. The environment is a map handed to the store, so
//! no test touches the process environment. 1Password cannot run here: its `op` CLI is
//! stood in for by small shell scripts that answer `op read` the way the real one does.

use clauderon_proxy::credentials::{
    BUILTIN_CREDENTIALS, CredentialError, CredentialSource, CredentialStore, OpReference, Secret,
};
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Spawning a script while another thread still holds it open for writing fails with
/// "text file busy"; tests that write and run fake `op` scripts take turns.
static OP_SCRIPTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |name| vars.get(name).cloned()
}

fn secrets_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    (dir, secrets)
}

fn write_secret(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

async fn value(store: &CredentialStore, name: &str) -> Option<String> {
    store.resolve(name).await.unwrap().map(|s| s.expose().to_string())
}

#[tokio::test]
async fn env_vars_supply_builtins_in_their_order() {
    let (_d, secrets) = secrets_dir();
    let store = CredentialStore::new(
        secrets,
        vec![],
        env(&[
            ("ANTHROPIC_API_KEY", "sk-ant"),
            ("GOOGLE_API_KEY", "g-2"),
            ("GH_TOKEN", "gh-1"),
            ("GITHUB_TOKEN", "gh-2"),
        ]),
    );
    assert_eq!(value(&store, "anthropic_api_key").await.as_deref(), Some("sk-ant"));
    assert_eq!(
        value(&store, "gemini_api_key").await.as_deref(),
        Some("g-2"),
        "GOOGLE_API_KEY is the fallback"
    );
    assert_eq!(value(&store, "github_token").await.as_deref(), Some("gh-1"), "GH_TOKEN before GITHUB_TOKEN");
    assert_eq!(value(&store, "openai_api_key").await, None);
    assert_eq!(value(&store, "some_user_credential").await, None);
    let empty = CredentialStore::new(PathBuf::from("/nonexistent"), vec![], env(&[("OPENAI_API_KEY", " ")]));
    assert_eq!(value(&empty, "openai_api_key").await, None, "an empty variable is not configured");
}

#[tokio::test]
async fn secret_files_must_be_private() {
    let (_d, secrets) = secrets_dir();
    let store = CredentialStore::new(secrets.clone(), vec![], env(&[]));
    let file = secrets.join("github_token");
    write_secret(&file, "ghp_file_value\n", 0o600);
    assert_eq!(value(&store, "github_token").await.as_deref(), Some("ghp_file_value"));

    write_secret(&file, "ghp_file_value\n", 0o644);
    let err = store.resolve("github_token").await.unwrap_err();
    assert!(matches!(err, CredentialError::FileNotPrivate { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&format!("chmod 600 {}", file.display())), "{message}");
    assert!(!message.contains("ghp_file_value"), "{message}");

    write_secret(&file, "\n", 0o600);
    assert_eq!(value(&store, "github_token").await, None, "an empty file is not configured");
}

#[tokio::test]
async fn an_override_beats_env_which_beats_the_file() {
    let (_d, secrets) = secrets_dir();
    write_secret(&secrets.join("openai_api_key"), "from-file", 0o600);
    let vars = [("OPENAI_API_KEY", "from-env"), ("MY_OPENAI", "from-override")];
    let overrides = vec![("openai_api_key".to_string(), CredentialSource::Env("MY_OPENAI".into()))];

    let store = CredentialStore::new(secrets.clone(), overrides.clone(), env(&vars));
    assert_eq!(value(&store, "openai_api_key").await.as_deref(), Some("from-override"));
    let store = CredentialStore::new(secrets.clone(), overrides, env(&vars[..1]));
    assert_eq!(
        value(&store, "openai_api_key").await.as_deref(),
        Some("from-env"),
        "unset override falls through"
    );
    let store = CredentialStore::new(secrets.clone(), vec![], env(&[]));
    assert_eq!(value(&store, "openai_api_key").await.as_deref(), Some("from-file"));

    // An override file for a user-defined credential.
    let elsewhere = secrets.parent().unwrap().join("corp.token");
    write_secret(&elsewhere, "corp-value", 0o600);
    let store = CredentialStore::new(
        secrets,
        vec![("corp_token".into(), CredentialSource::File(elsewhere))],
        env(&[]),
    );
    assert_eq!(value(&store, "corp_token").await.as_deref(), Some("corp-value"));
    assert!(matches!(store.resolve("../corp_token").await, Err(CredentialError::InvalidName(_))));
}

/// Writes a stand-in `op` that appends each call to `calls` and then runs `body`.
fn fake_op(dir: &Path, body: &str) -> (PathBuf, PathBuf) {
    let script = dir.join("op");
    let calls = dir.join("calls");
    std::fs::write(&script, format!("#!/bin/sh\necho \"$@\" >> '{}'\n{body}\n", calls.display())).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, calls)
}

fn call_count(calls: &Path) -> usize {
    std::fs::read_to_string(calls).map(|t| t.lines().count()).unwrap_or(0)
}

fn op_store(secrets: PathBuf, op: PathBuf) -> CredentialStore {
    let reference =
        CredentialSource::OnePassword(OpReference::parse("op://Private/Anthropic/credential").unwrap());
    CredentialStore::new(secrets, vec![("anthropic_api_key".into(), reference)], env(&[])).with_op_binary(op)
}

#[tokio::test]
async fn op_values_are_cached_for_the_ttl() {
    let _turn = OP_SCRIPTS.lock().await;
    let (dir, secrets) = secrets_dir();
    let (op, calls) = fake_op(dir.path(), "printf 'sk-from-1password\\n'");
    let store = op_store(secrets.clone(), op.clone());
    assert_eq!(value(&store, "anthropic_api_key").await.as_deref(), Some("sk-from-1password"));
    assert_eq!(value(&store, "anthropic_api_key").await.as_deref(), Some("sk-from-1password"));
    assert_eq!(call_count(&calls), 1, "the second read came from the cache");
    assert_eq!(std::fs::read_to_string(&calls).unwrap().trim(), "read op://Private/Anthropic/credential");

    let uncached = op_store(secrets, op).with_op_ttl(Duration::ZERO);
    value(&uncached, "anthropic_api_key").await;
    value(&uncached, "anthropic_api_key").await;
    assert_eq!(call_count(&calls), 3, "with a zero TTL every read runs op");
}

#[tokio::test]
async fn concurrent_first_reads_run_op_once() {
    let _turn = OP_SCRIPTS.lock().await;
    let (dir, secrets) = secrets_dir();
    let (op, calls) = fake_op(dir.path(), "sleep 0.2; printf 'v'");
    let store = std::sync::Arc::new(op_store(secrets, op));
    let reads: Vec<_> = (0..5)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { value(&store, "anthropic_api_key").await })
        })
        .collect();
    for read in reads {
        assert_eq!(read.await.unwrap().as_deref(), Some("v"));
    }
    assert_eq!(call_count(&calls), 1);
}

#[tokio::test]
async fn a_missing_op_says_how_to_do_without_it() {
    let (dir, secrets) = secrets_dir();
    let store = op_store(secrets.clone(), dir.path().join("no-such-op"));
    let err = store.resolve("anthropic_api_key").await.unwrap_err();
    assert!(matches!(err, CredentialError::OpNotInstalled { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("1Password CLI `op` is not installed"), "{message}");
    assert!(message.contains(&secrets.display().to_string()), "{message}");
}

#[tokio::test]
async fn a_signed_out_op_reports_its_message_but_never_a_value() {
    let _turn = OP_SCRIPTS.lock().await;
    let (dir, secrets) = secrets_dir();
    let (op, _calls) = fake_op(
        dir.path(),
        "printf 'leaked-value'; echo '[ERROR] 2026/11/29 10:00:00 not signed in' >&2; echo second >&2; exit 1",
    );
    let err = op_store(secrets, op).resolve("anthropic_api_key").await.unwrap_err();
    assert!(err.is_retryable());
    let message = err.to_string();
    assert!(message.contains("[ERROR] 2026/11/29 10:00:00 not signed in"), "{message}");
    assert!(message.contains("op signin"), "{message}");
    assert!(!message.contains("leaked-value") && !message.contains("second"), "{message}");
}

#[tokio::test]
async fn a_hanging_op_times_out() {
    let _turn = OP_SCRIPTS.lock().await;
    let (dir, secrets) = secrets_dir();
    let (op, _calls) = fake_op(dir.path(), "exec sleep 10");
    let store = op_store(secrets, op).with_op_timeout(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let err = store.resolve("anthropic_api_key").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(matches!(err, CredentialError::OpTimeout { .. }), "{err:?}");
    assert!(err.to_string().contains("did not answer within"), "{err}");
}

#[tokio::test]
async fn debug_and_display_never_show_values() {
    let _turn = OP_SCRIPTS.lock().await;
    let secret = Secret::new("sk-very-secret");
    assert_eq!(format!("{secret:?}"), "***");
    assert_eq!(format!("{secret}"), "***");
    assert_eq!(secret.expose(), "sk-very-secret");

    let (dir, secrets) = secrets_dir();
    let (op, _calls) = fake_op(dir.path(), "printf 'sk-op-cached'");
    write_secret(&secrets.join("github_token"), "ghp-file", 0o600);
    let store = op_store(secrets, op);
    assert_eq!(value(&store, "anthropic_api_key").await.as_deref(), Some("sk-op-cached"));
    let resolved = store.resolve("github_token").await;
    assert_eq!(resolved.as_ref().ok().and_then(|v| v.as_ref()).map(Secret::expose), Some("ghp-file"));
    for shown in [format!("{store:?}"), format!("{:?}", store.describe()), format!("{resolved:?}")] {
        for value in ["ghp-file", "sk-op-cached"] {
            assert!(!shown.contains(value), "{value} in {shown}");
        }
    }
}

#[test]
fn describe_says_where_each_credential_comes_from() {
    let (_d, secrets) = secrets_dir();
    write_secret(&secrets.join("openai_api_key"), "sk-openai-file", 0o600);
    write_secret(&secrets.join("gemini_api_key"), "g-file", 0o640);
    let overrides = vec![
        ("anthropic_api_key".to_string(), "op://Private/Anthropic/key".parse::<CredentialSource>().unwrap()),
        ("corp_token".to_string(), CredentialSource::Env("CORP".into())),
    ];
    let store = CredentialStore::new(secrets.clone(), overrides, env(&[("GITHUB_TOKEN", "ghp-env")]))
        .with_known_names(["rule_only".to_string()]);
    let infos = store.describe();
    let names: Vec<&str> = infos.iter().map(|i| i.name.as_str()).collect();
    let mut expected: Vec<&str> = BUILTIN_CREDENTIALS.iter().map(|c| c.name).collect();
    expected.extend(["corp_token", "rule_only"]);
    assert_eq!(names, expected);
    let info = |name: &str| infos.iter().find(|i| i.name == name).unwrap();

    assert_eq!(info("anthropic_api_key").source.as_deref(), Some("1Password op://Private/Anthropic/key"));
    assert_eq!(info("github_token").source.as_deref(), Some("env GITHUB_TOKEN"));
    assert_eq!(
        info("github_token").searched,
        [
            "env GH_TOKEN".to_string(),
            "env GITHUB_TOKEN".into(),
            format!("file {}", secrets.join("github_token").display())
        ]
    );
    let openai_file = format!("file {}", secrets.join("openai_api_key").display());
    assert_eq!(info("openai_api_key").source.as_deref(), Some(openai_file.as_str()));
    assert!(!info("anthropic_oauth_token").configured());
    assert!(!info("corp_token").configured());
    assert_eq!(info("corp_token").description, "user-defined");
    let gemini = info("gemini_api_key");
    assert!(!gemini.configured());
    assert!(gemini.problem.as_deref().unwrap_or("").contains("chmod 600"), "{gemini:?}");
    let json = serde_json::to_string(&infos).unwrap();
    for value in ["sk-openai-file", "g-file", "ghp-env"] {
        assert!(!json.contains(value), "{json}");
    }
}
