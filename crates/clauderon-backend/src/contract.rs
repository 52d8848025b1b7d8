//! The contract every [`SessionBackend`] must honour, as a test suite.
//!
//! Use it from an implementation's tests:
//!
//! ```ignore
//! async fn make() -> std::sync::Arc<dyn clauderon_backend::SessionBackend> { ... }
//! clauderon_backend::backend_contract_tests!(make);
//! ```
//!
//! Each case is a plain async function returning `Result<(), String>`, so a
//! failure says which promise was broken.

use crate::{BackendError, BackendHandle, BackendStatus, SessionBackend, SessionSpec};
use clauderon_types::{AgentKind, SessionId, SessionName};
use std::time::Duration;

/// What stands for clauderon's CA certificate in the contract's sessions (none of them makes
/// a TLS connection).
pub const CONTRACT_CA: &str = "-----BEGIN CERTIFICATE-----\nY29udHJhY3Q=\n-----END CERTIFICATE-----\n";

/// A session spec with its own worktree folder. The command prints a marker
/// (so `logs` has something to show) and then stays up.
pub struct Fixture {
    pub spec: SessionSpec,
    pub marker: String,
    _dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new(label: &str) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
        std::fs::create_dir(dir.path().join("home")).map_err(|e| format!("home: {e}"))?;
        // Every real session has clauderon's CA certificate; backends that ship it need a file.
        std::fs::write(dir.path().join("ca.pem"), CONTRACT_CA).map_err(|e| format!("ca.pem: {e}"))?;
        let id = SessionId::new();
        let name =
            SessionName::parse(&format!("contract-{label}-{}", id.short())).map_err(|e| e.to_string())?;
        let marker = format!("contract-marker-{}", id.short());
        let spec = SessionSpec {
            session_id: id,
            name,
            worktree: dir.path().to_path_buf(),
            repo: dir.path().to_path_buf(),
            agent: AgentKind::Claude,
            prompt: String::new(),
            options: clauderon_types::SessionOptions {
                command: Some(format!("printf '%s\\n' {marker}; sleep 300")),
                ..Default::default()
            },
            home: dir.path().join("home"),
            placeholders: Vec::new(),
            proxy: crate::ProxyAccess {
                user: "contract".into(),
                secret: "contract-secret".into(),
                port: 9,
                ca_cert: dir.path().join("ca.pem"),
            },
        };
        Ok(Fixture { spec, marker, _dir: dir })
    }
}

fn check(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(what()) }
}

async fn create_started(b: &dyn SessionBackend, f: &Fixture) -> Result<BackendHandle, String> {
    let h = b.create(&f.spec).await.map_err(|e| format!("create: {e}"))?;
    b.start(&h).await.map_err(|e| format!("start: {e}"))?;
    Ok(h)
}

/// Poll `status` until it is `want`: real backends take a moment to settle.
async fn wait_for(b: &dyn SessionBackend, h: &BackendHandle, want: BackendStatus) -> Result<(), String> {
    let mut last = None;
    for _ in 0..100 {
        match b.status(h).await {
            Ok(s) if s == want => return Ok(()),
            other => last = Some(other),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("status of {} never became {want:?}; last: {last:?}", h.as_str()))
}

pub async fn check_reports_usable(b: &dyn SessionBackend) -> Result<(), String> {
    b.check().await.map_err(|e| format!("check: {e}"))
}

pub async fn created_session_starts_and_runs(b: &dyn SessionBackend) -> Result<(), String> {
    let f = Fixture::new("start")?;
    let h = create_started(b, &f).await?;
    wait_for(b, &h, BackendStatus::Running).await?;
    b.delete(&h).await.map_err(|e| format!("delete: {e}"))
}

pub async fn stop_then_start_again(b: &dyn SessionBackend) -> Result<(), String> {
    let f = Fixture::new("stop")?;
    let h = create_started(b, &f).await?;
    b.stop(&h).await.map_err(|e| format!("stop: {e}"))?;
    wait_for(b, &h, BackendStatus::Stopped).await?;
    b.stop(&h).await.map_err(|e| format!("stopping a stopped resource must be fine: {e}"))?;
    b.start(&h).await.map_err(|e| format!("restart: {e}"))?;
    wait_for(b, &h, BackendStatus::Running).await?;
    b.delete(&h).await.map_err(|e| format!("delete: {e}"))
}

pub async fn delete_is_final_and_idempotent(b: &dyn SessionBackend) -> Result<(), String> {
    let f = Fixture::new("delete")?;
    let h = create_started(b, &f).await?;
    b.delete(&h).await.map_err(|e| format!("delete: {e}"))?;
    wait_for(b, &h, BackendStatus::Missing).await?;
    b.delete(&h).await.map_err(|e| format!("deleting twice must be fine: {e}"))
}

pub async fn unknown_handle_is_missing_not_an_error(b: &dyn SessionBackend) -> Result<(), String> {
    let h = BackendHandle("clauderon-contract-no-such-resource".into());
    let status = b.status(&h).await.map_err(|e| format!("status: {e}"))?;
    check(status == BackendStatus::Missing, || format!("unknown handle reported as {status:?}"))?;
    let attach = b.attach_target(&h).await;
    check(matches!(attach, Err(BackendError::NotFound { .. })), || {
        format!("attach_target of an unknown handle gave {attach:?}, want NotFound")
    })?;
    let logs = b.logs(&h, 10).await;
    check(matches!(logs, Err(BackendError::NotFound { .. })), || {
        format!("logs of an unknown handle gave {logs:?}, want NotFound")
    })
}

pub async fn list_finds_resources_by_session(b: &dyn SessionBackend) -> Result<(), String> {
    let f = Fixture::new("list")?;
    let h = create_started(b, &f).await?;
    let listed = b.list().await.map_err(|e| format!("list: {e}"))?;
    let found = listed.iter().find(|r| r.handle == h);
    check(found.map(|r| r.session_id) == Some(Some(f.spec.session_id)), || {
        format!("list did not report {} with session id {}: {listed:?}", h.as_str(), f.spec.session_id)
    })?;
    b.delete(&h).await.map_err(|e| format!("delete: {e}"))?;
    wait_for(b, &h, BackendStatus::Missing).await?;
    let listed = b.list().await.map_err(|e| format!("list: {e}"))?;
    check(!listed.iter().any(|r| r.handle == h), || format!("deleted {} still listed", h.as_str()))
}

pub async fn logs_show_the_process_output(b: &dyn SessionBackend) -> Result<(), String> {
    let f = Fixture::new("logs")?;
    let h = create_started(b, &f).await?;
    let mut seen = String::new();
    for _ in 0..50 {
        seen = b.logs(&h, 100).await.map_err(|e| format!("logs: {e}"))?;
        if seen.contains(&f.marker) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.delete(&h).await.map_err(|e| format!("delete: {e}"))?;
    check(seen.contains(&f.marker), || format!("logs never showed `{}`; last logs: {seen:?}", f.marker))
}

pub async fn attach_target_names_the_resource(b: &dyn SessionBackend) -> Result<(), String> {
    let f = Fixture::new("attach")?;
    let h = create_started(b, &f).await?;
    let target = b.attach_target(&h).await.map_err(|e| format!("attach_target: {e}"));
    b.delete(&h).await.map_err(|e| format!("delete: {e}"))?;
    let crate::AttachTarget::Command { program, args } = target?;
    check(!program.is_empty(), || "attach target has an empty program".into())?;
    check(args.iter().any(|a| a.contains(h.as_str())), || {
        format!("attach args {args:?} do not name the resource {}", h.as_str())
    })
}

pub async fn sessions_are_independent(b: &dyn SessionBackend) -> Result<(), String> {
    let (fa, fb) = (Fixture::new("a")?, Fixture::new("b")?);
    let ha = create_started(b, &fa).await?;
    let hb = create_started(b, &fb).await?;
    check(ha != hb, || "two sessions got the same handle".into())?;
    b.delete(&ha).await.map_err(|e| format!("delete a: {e}"))?;
    wait_for(b, &ha, BackendStatus::Missing).await?;
    wait_for(b, &hb, BackendStatus::Running).await?;
    b.delete(&hb).await.map_err(|e| format!("delete b: {e}"))
}

/// Two lines with quotes, shell syntax and non-ASCII (one cell wide each, so a screen shows them
/// as they are): what `send_input` must deliver intact.
pub const SEND_INPUT_TEXT: &str = "first \"double\" 'single' $HOME `x` \\n\nsecond: ü é ✓ - end";

/// Poll `logs` until they contain every one of `wanted`.
async fn wait_for_logs(b: &dyn SessionBackend, h: &BackendHandle, wanted: &[String]) -> Result<(), String> {
    let mut seen = String::new();
    for _ in 0..100 {
        seen = b.logs(h, 200).await.map_err(|e| format!("logs: {e}"))?;
        if wanted.iter().all(|w| seen.contains(w.as_str())) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("logs never showed {wanted:?}; last logs: {seen:?}"))
}

/// What `send_input` types reaches the process: each line intact, then Enter. A backend that
/// cannot type into a session says `Unsupported`; none may claim success for a stopped one.
pub async fn send_input_reaches_the_process(b: &dyn SessionBackend) -> Result<(), String> {
    let mut f = Fixture::new("send")?;
    f.spec.options.command = Some(format!(
        "printf '%s\\n' {}; while IFS= read -r l; do printf 'got[%s]\\n' \"$l\"; done",
        f.marker
    ));
    let h = create_started(b, &f).await?;
    let result = async {
        wait_for_logs(b, &h, std::slice::from_ref(&f.marker)).await?;
        match b.send_input(&h, SEND_INPUT_TEXT).await {
            Err(BackendError::Unsupported { .. }) => return Ok(()),
            Err(e) => return Err(format!("send_input: {e}")),
            Ok(()) => {}
        }
        let lines: Vec<String> = SEND_INPUT_TEXT.lines().map(|l| format!("got[{l}]")).collect();
        wait_for_logs(b, &h, &lines).await?;
        b.stop(&h).await.map_err(|e| format!("stop: {e}"))?;
        wait_for(b, &h, BackendStatus::Stopped).await?;
        let stopped = b.send_input(&h, "anyone there?").await;
        check(stopped.is_err(), || "send_input to a stopped session claimed success".into())
    }
    .await;
    b.delete(&h).await.map_err(|e| format!("delete: {e}"))?;
    result
}

/// Generate one `#[tokio::test]` per contract case for the backend that
/// `$make` (an async fn returning `Arc<dyn SessionBackend>`) builds.
#[macro_export]
macro_rules! backend_contract_tests {
    ($make:ident) => {
        $crate::backend_contract_tests!(@cases $make;
            check_reports_usable,
            created_session_starts_and_runs,
            stop_then_start_again,
            delete_is_final_and_idempotent,
            unknown_handle_is_missing_not_an_error,
            list_finds_resources_by_session,
            logs_show_the_process_output,
            attach_target_names_the_resource,
            sessions_are_independent,
            send_input_reaches_the_process,
        );
    };
    (@cases $make:ident; $($case:ident),+ $(,)?) => {
        mod backend_contract {
            $(
                #[tokio::test]
                async fn $case() {
                    let backend = super::$make().await;
                    if let Err(broken) = $crate::contract::$case(backend.as_ref()).await {
                        panic!("backend contract `{}` broken: {broken}", stringify!($case));
                    }
                }
            )+
        }
    };
}
