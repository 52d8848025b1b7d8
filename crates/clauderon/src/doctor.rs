//! `clauderon doctor`: what this machine has, what is missing, what to do about it.
//! Each check is a small function returning a `Check`; only `failed` decides the exit code.

use clauderon_client::{Client, ClientError};
use clauderon_types::api::Health;
use clauderon_types::{DataLayout, SandboxLevel};
use serde::Serialize;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
    Missing,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub level: Level,
    pub detail: String,
    /// What to do about it, when something is wrong.
    pub hint: Option<String>,
    /// Sessions cannot work at all without it.
    pub required: bool,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Self {
        Check { name, level: Level::Ok, detail: detail.into(), hint: None, required: false }
    }
    fn bad(name: &'static str, level: Level, detail: impl Into<String>, hint: impl Into<String>) -> Self {
        Check { name, level, detail: detail.into(), hint: Some(hint.into()), required: false }
    }
    fn required(mut self) -> Self {
        self.required = true;
        self
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
    /// Something required is broken: the command exits non-zero.
    pub failed: bool,
}

pub async fn run_all(layout: Option<&DataLayout>, client: anyhow::Result<Client>) -> Report {
    // The credentials are the daemon's: asked only when it answers.
    let credentials = match &client {
        Ok(c) => c.credentials().await.ok(),
        Err(_) => None,
    };
    // The config file, read once: `.` stands for the data dir when there is none.
    let home = layout.cloned().unwrap_or_else(|| DataLayout::new("."));
    let config = clauderon_core::Config::load(&home).ok();
    let mut checks = vec![
        check_git(),
        check_data_dir(layout.map(DataLayout::root)),
        check_daemon(client).await,
        check_docker().await,
        check_zellij(),
        check_bwrap(layout.and(config.as_ref()).and_then(|c| c.zellij.sandbox)),
        check_apple_container(layout).await,
        check_kubernetes(&home, config.as_ref()).await,
        check_sprites(&home, config.as_ref()).await,
    ];
    if let Some(list) = credentials {
        checks.push(check_credentials(&list));
    }
    Report { failed: failed(&checks), checks }
}

/// Only a required check that is missing fails the run; warnings never do.
pub fn failed(checks: &[Check]) -> bool {
    checks.iter().any(|c| c.required && c.level == Level::Missing)
}

/// One line per check, and the hint under it when there is one.
pub fn render(checks: &[Check], color: bool) -> String {
    let mut lines = Vec::new();
    for c in checks {
        let (mark, code) = match c.level {
            Level::Ok => ("ok     ", "32"),
            Level::Warn => ("warn   ", "33"),
            Level::Missing => ("missing", "31"),
        };
        let mark = if color { format!("\u{1b}[{code}m{mark}\u{1b}[0m") } else { mark.to_string() };
        lines.push(format!("{mark}  {:<11} {}", c.name, c.detail));
        if let Some(hint) = &c.hint {
            // Under the detail column: 7 (mark) + 2 + 11 (name) + 1.
            lines.push(format!("{:21}-> {hint}", ""));
        }
    }
    lines.join("\n")
}

/// First line of `program args…`'s output, or None if it cannot run.
fn version_of(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some(text.lines().next().unwrap_or("").trim().to_string())
}

pub fn check_git() -> Check {
    match version_of("git", &["--version"]) {
        Some(v) => Check::ok("git", v),
        None => Check::bad("git", Level::Missing, "not found", "install git: `apt-get install git`"),
    }
    .required()
}

pub fn check_zellij() -> Check {
    match version_of("zellij", &["--version"]) {
        Some(v) => Check::ok("zellij", v),
        None => Check::bad(
            "zellij",
            Level::Missing,
            "not found (needed for --backend zellij)",
            "install it: `cargo install --locked zellij` (about 12 minutes), then put it on PATH or set [zellij] program",
        ),
    }
}

/// Is bubblewrap there, does it work here (the namespaces the sandbox uses), and which sandbox
/// level zellij sessions get when they do not ask for one (`configured`: `[zellij] sandbox`).
pub fn check_bwrap(configured: Option<SandboxLevel>) -> Check {
    let Some(version) = version_of("bwrap", &["--version"]) else {
        let detail = match configured {
            Some(SandboxLevel::Off) | None => "not found: zellij sessions run without a sandbox".to_string(),
            Some(level) => {
                format!("not found, but [zellij] sandbox = \"{level}\": zellij sessions will fail")
            }
        };
        return Check::bad("bubblewrap", Level::Warn, detail, "install it: `apt-get install bubblewrap`");
    };
    let probe = Command::new("bwrap")
        .args(["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-pid", "--unshare-net"])
        .args(["--", "/bin/true"])
        .output();
    match probe {
        Ok(out) if out.status.success() => {
            let level = configured.unwrap_or(SandboxLevel::Full);
            Check::ok("bubblewrap", format!("{version}, works here: zellij sessions get --sandbox {level}"))
        }
        other => {
            let why = match other {
                Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_string(),
                Err(e) => e.to_string(),
            };
            Check::bad(
                "bubblewrap",
                Level::Warn,
                format!(
                    "{version} cannot make namespaces here ({why}): zellij sessions run without a sandbox"
                ),
                "allow unprivileged user namespaces (`sysctl kernel.unprivileged_userns_clone=1`, or the \
                 AppArmor rule for bwrap on Ubuntu), or set [zellij] sandbox = \"off\"",
            )
        }
    }
}

/// The Docker engine, asked by the Docker backend itself (DOCKER_HOST honoured, as the daemon
/// does); the `docker` CLI is not needed.
pub async fn check_docker() -> Check {
    check_docker_at(None).await
}

async fn check_docker_at(host: Option<String>) -> Check {
    let settings = clauderon_docker::DockerSettings { docker_host: host, ..Default::default() };
    let backend = clauderon_docker::DockerBackend::new(settings);
    match tokio::time::timeout(PROBE_TIMEOUT, backend.engine_version()).await {
        Ok(Ok(version)) => Check::ok("docker", format!("{version} answers")),
        Ok(Err(e)) => Check::bad(
            "docker",
            Level::Warn,
            "the engine does not answer (needed for --backend docker)",
            match e {
                clauderon_backend::BackendError::Unavailable { reason, .. } => reason,
                other => other.to_string(),
            },
        ),
        Err(_) => Check::bad(
            "docker",
            Level::Warn,
            format!("the engine did not answer within {}s", PROBE_TIMEOUT.as_secs()),
            "check that dockerd is running and DOCKER_HOST points at it",
        ),
    }
}

/// A backend's own `check`, as a doctor line: `ok` when it passes, else a warning with its
/// reason (never a failure: a backend not used here is fine); `slow` is what to do when it does
/// not answer in time.
async fn backend_check(
    name: &'static str,
    backend: &dyn clauderon_backend::SessionBackend,
    ok: String,
    slow: &str,
) -> Check {
    match tokio::time::timeout(PROBE_TIMEOUT, backend.check()).await {
        Ok(Ok(())) => Check::ok(name, ok),
        Ok(Err(e)) => Check::bad(
            name,
            Level::Warn,
            format!("unavailable (needed for --backend {})", backend.kind()),
            match e {
                clauderon_backend::BackendError::Unavailable { reason, .. } => reason,
                other => other.to_string(),
            },
        ),
        Err(_) => {
            Check::bad(name, Level::Warn, format!("did not answer within {}s", PROBE_TIMEOUT.as_secs()), slow)
        }
    }
}

/// Apple Container: usable here, or why not (on Linux always not: it runs only on macOS 26).
pub async fn check_apple_container(layout: Option<&DataLayout>) -> Check {
    let root = layout.map_or_else(|| std::path::PathBuf::from("."), |l| l.root().to_path_buf());
    let settings = clauderon_apple::AppleSettings::new(&root, |k| std::env::var(k).ok());
    let backend = clauderon_apple::AppleContainerBackend::new(settings);
    let ok = "the container system service answers".to_string();
    backend_check("apple container", &backend, ok, "run `container system start`").await
}

/// Kubernetes: the cluster of the kubeconfig answers and RBAC lets clauderon do what sessions
/// need (SelfSubjectAccessReview), or why not.
pub async fn check_kubernetes(layout: &DataLayout, config: Option<&clauderon_core::Config>) -> Check {
    let Some(config) = config else { return unreadable_config("kubernetes") };
    let settings =
        crate::kubernetes_setup::settings(&config.kubernetes, config.proxy.bind.port(), layout, |k| {
            std::env::var(k).ok()
        });
    let ok = format!("the cluster answers; RBAC allows sessions in `{}`", settings.namespace);
    let backend = clauderon_kubernetes::KubernetesBackend::new(settings);
    backend_check("kubernetes", &backend, ok, "check the kubeconfig's current context").await
}

/// A backend's check when the config file that sets it up cannot be read.
fn unreadable_config(name: &'static str) -> Check {
    Check::bad(name, Level::Warn, "the config file cannot be read", "run `clauderon config show`")
}

/// Sprites: a token is configured and the API takes it, or why not (no token: a warning, the
/// backend is optional).
pub async fn check_sprites(layout: &DataLayout, config: Option<&clauderon_core::Config>) -> Check {
    let Some(config) = config else { return unreadable_config("sprites") };
    let settings = crate::sprites_setup::settings(config, layout);
    let ok = format!("the Sprites API ({}) takes the token", settings.api_url);
    let backend = clauderon_sprites::SpritesBackend::new(settings);
    backend_check("sprites", &backend, ok, "set SPRITES_TOKEN (or <data dir>/secrets/sprites_token)").await
}

/// The data dir exists (or can be created), is writable, and only its owner can read it.
pub fn check_data_dir(root: Option<&Path>) -> Check {
    let name = "data dir";
    let Some(root) = root else {
        return Check::bad(
            name,
            Level::Missing,
            "neither CLAUDERON_HOME nor HOME is set",
            "set CLAUDERON_HOME",
        )
        .required();
    };
    let shown = root.display();
    let check = match std::fs::metadata(root) {
        Ok(m) if !m.is_dir() => Check::bad(
            name,
            Level::Missing,
            format!("{shown} is not a directory"),
            "move it away or set CLAUDERON_HOME",
        ),
        Ok(m) => {
            let mode = m.permissions().mode() & 0o777;
            if !can_create_in(root) {
                Check::bad(
                    name,
                    Level::Missing,
                    format!("{shown} is not writable"),
                    "fix its owner or set CLAUDERON_HOME",
                )
            } else if mode & 0o077 != 0 {
                Check::bad(
                    name,
                    Level::Warn,
                    format!("{shown} can be read by other users (mode {mode:o})"),
                    format!("run `chmod 700 {shown}`"),
                )
            } else {
                Check::ok(name, format!("{shown} (mode {mode:o})"))
            }
        }
        Err(_) => match root.ancestors().skip(1).find(|a| a.is_dir()) {
            Some(base) if can_create_in(base) => {
                Check::ok(name, format!("{shown} (created when the daemon first starts)"))
            }
            _ => Check::bad(
                name,
                Level::Missing,
                format!("{shown} does not exist and cannot be created"),
                "create it (`mkdir -m 700 DIR`) or set CLAUDERON_HOME",
            ),
        },
    };
    check.required()
}

/// Creates and removes an empty directory in `dir`: the exact permission the daemon needs.
fn can_create_in(dir: &Path) -> bool {
    let probe = dir.join(format!(".clauderon-doctor-{}", std::process::id()));
    let created = std::fs::create_dir(&probe).is_ok();
    let _ = std::fs::remove_dir(&probe);
    created
}

pub async fn check_daemon(client: anyhow::Result<Client>) -> Check {
    match client {
        Ok(client) => daemon_check(client.health().await, &client.endpoint().to_string()),
        Err(e) => {
            Check::bad("daemon", Level::Warn, e.to_string(), "check --url / CLAUDERON_URL and CLAUDERON_HOME")
        }
    }
}

/// Which credentials the daemon can inject, and which are missing: a session gets a
/// placeholder only for a configured one, so its agent cannot use the others' services.
pub fn check_credentials(list: &clauderon_types::api::CredentialList) -> Check {
    let name = "credentials";
    let configured: Vec<&str> =
        list.credentials.iter().filter(|c| c.source.is_some()).map(|c| c.name.as_str()).collect();
    let missing: Vec<&str> =
        list.credentials.iter().filter(|c| c.source.is_none()).map(|c| c.name.as_str()).collect();
    if let Some(bad) = list.credentials.iter().find(|c| c.problem.is_some()) {
        return Check::bad(
            name,
            Level::Warn,
            format!("{}: {}", bad.name, bad.problem.as_deref().unwrap_or_default()),
            "fix it, then `clauderon credentials` shows where each credential comes from",
        );
    }
    if configured.is_empty() {
        return Check::bad(
            name,
            Level::Warn,
            "none configured: sessions get no placeholders, and their agents cannot reach a model API",
            "give the daemon ANTHROPIC_API_KEY (or CLAUDE_CODE_OAUTH_TOKEN, OPENAI_API_KEY, GEMINI_API_KEY, \
             GH_TOKEN), or a 0600 file in <data dir>/secrets/; `clauderon credentials` lists every place looked at",
        );
    }
    let detail = if missing.is_empty() {
        format!("configured: {}", configured.join(", "))
    } else {
        format!(
            "configured: {}; missing: {} (sessions get no placeholder for these)",
            configured.join(", "),
            missing.join(", ")
        )
    };
    Check::ok(name, detail)
}

fn daemon_check(health: Result<Health, ClientError>, at: &str) -> Check {
    let name = "daemon";
    match health {
        Ok(h) if h.version != clauderon_types::VERSION => Check::bad(
            name,
            Level::Warn,
            format!("{} at {at}, but this CLI is {}", h.version, clauderon_types::VERSION),
            "restart the daemon (`clauderon daemon`) with this version",
        ),
        Ok(h) if h.backends.is_empty() => Check::bad(
            name,
            Level::Warn,
            format!("{} at {at}, with no backend to run sessions on", h.version),
            "install Docker or Zellij (see their lines), then restart the daemon",
        ),
        Ok(h) => {
            let backends: Vec<&str> = h.backends.iter().map(|b| b.as_str()).collect();
            Check::ok(name, format!("{} at {at}; backends: {}", h.version, backends.join(", ")))
        }
        Err(ClientError::DaemonNotRunning { reason, .. }) => Check::bad(
            name,
            Level::Warn,
            format!("not running ({reason})"),
            "start it with `clauderon daemon`",
        ),
        Err(e @ ClientError::Api { status: 401 | 403, .. }) => Check::bad(
            name,
            Level::Warn,
            e.to_string(),
            "set CLAUDERON_API_TOKEN to the daemon's API token (`clauderon config api-token` on its machine)",
        ),
        Err(e) => {
            Check::bad(name, Level::Warn, e.to_string(), "check --url / CLAUDERON_URL and the daemon's log")
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clauderon_types::BackendKind;
    use clauderon_types::api::ReconcileReport;

    #[test]
    fn credentials_say_which_are_missing_and_warn_when_none_or_broken() {
        use clauderon_types::api::{CredentialList, CredentialView};
        let view = |name: &str, source: Option<&str>, problem: Option<&str>| CredentialView {
            name: name.into(),
            description: String::new(),
            source: source.map(str::to_string),
            searched: vec![],
            problem: problem.map(str::to_string),
        };
        let list = CredentialList {
            credentials: vec![
                view("anthropic_api_key", Some("env ANTHROPIC_API_KEY"), None),
                view("gemini_api_key", None, None),
            ],
        };
        let c = check_credentials(&list);
        assert_eq!(c.level, Level::Ok);
        assert!(
            c.detail.contains("configured: anthropic_api_key")
                && c.detail.contains("missing: gemini_api_key"),
            "{}",
            c.detail
        );
        let none = CredentialList { credentials: vec![view("gemini_api_key", None, None)] };
        let c = check_credentials(&none);
        assert_eq!(c.level, Level::Warn);
        assert!(c.hint.unwrap().contains("ANTHROPIC_API_KEY"));
        let broken = CredentialList {
            credentials: vec![view("github_token", None, Some("file is readable by others: chmod 600 it"))],
        };
        assert!(check_credentials(&broken).detail.contains("chmod 600"));
        assert!(!failed(&[check_credentials(&none)]), "a credential warning never fails doctor");
    }

    #[test]
    fn only_a_missing_required_check_fails_the_run() {
        let optional = Check::bad("zellij", Level::Missing, "not found", "install");
        let warn_required = Check::bad("data dir", Level::Warn, "open", "chmod").required();
        assert!(!failed(&[optional.clone(), warn_required, Check::ok("git", "2").required()]));
        let broken = Check::bad("git", Level::Missing, "not found", "install git").required();
        assert!(failed(&[optional, broken]));
    }

    #[test]
    fn render_is_one_line_per_check_with_hints_under_problems() {
        let checks = [
            Check::ok("git", "git version 2"),
            Check::bad("zellij", Level::Missing, "not found", "cargo install --locked zellij"),
            Check::bad("bubblewrap", Level::Warn, "not found", "apt-get install bubblewrap"),
        ];
        let out = render(&checks, false);
        let lines: Vec<_> = out.lines().collect();
        assert_eq!(lines.len(), 5, "{out}");
        assert_eq!(lines[0], "ok       git         git version 2");
        assert_eq!(lines[2], "                     -> cargo install --locked zellij");
        assert!(lines[1].starts_with("missing") && lines[1].contains("zellij"));
        assert!(lines[2].trim_start().starts_with("-> cargo install --locked zellij"));
        assert!(lines[3].starts_with("warn"));
        assert!(!out.contains('\u{1b}'));
        assert!(render(&checks, true).contains("\u{1b}[31mmissing"));
    }

    #[test]
    fn the_data_dir_must_be_private_and_writable() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let open = check_data_dir(Some(dir.path()));
        assert_eq!(open.level, Level::Warn);
        assert!(open.hint.unwrap().contains("chmod 700"));
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(check_data_dir(Some(dir.path())).level, Level::Ok);
        assert_eq!(check_data_dir(Some(&dir.path().join("new/deeper"))).level, Level::Ok);
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert_eq!(check_data_dir(Some(&file)).level, Level::Missing);
        assert_eq!(check_data_dir(None).level, Level::Missing);
        assert!(check_data_dir(None).required);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "the probe left something behind");
    }

    #[tokio::test]
    async fn docker_is_asked_through_the_backend_and_says_what_to_do() {
        use std::io::Write;
        let nobody = check_docker_at(Some("unix:///nonexistent/docker.sock".into())).await;
        assert_eq!(nobody.level, Level::Warn, "{nobody:?}");
        assert!(!nobody.required);
        let hint = nobody.hint.unwrap_or_default();
        assert!(hint.contains("no engine socket") && hint.contains("dockerd"), "{hint}");

        // Something listens there, but not an engine.
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("not-docker.sock");
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let mut conn = conn;
                let _ = conn.write_all(b"SSH-2.0-OpenSSH\r\n");
            }
        });
        let wrong = check_docker_at(Some(format!("unix://{}", socket.display()))).await;
        assert_eq!(wrong.level, Level::Warn, "{wrong:?}");
    }

    /// The machine's engine (CI starts one): found where DOCKER_HOST or the default socket says.
    #[tokio::test]
    async fn a_running_engine_answers_with_its_version() {
        let up = check_docker().await;
        assert_eq!(up.level, Level::Ok, "{up:?}");
        assert!(up.detail.contains("Docker engine"), "{up:?}");
    }

    #[test]
    fn the_daemon_check_says_what_to_do() {
        let health = |version: &str, backends: Vec<BackendKind>| Health {
            status: "ok".into(),
            version: version.into(),
            backends,
            reconcile: ReconcileReport::default(),
        };
        let ok = daemon_check(Ok(health(clauderon_types::VERSION, vec![BackendKind::Docker])), "/s");
        assert_eq!(ok.level, Level::Ok);
        assert!(ok.detail.contains("backends: docker"));
        assert_eq!(daemon_check(Ok(health(clauderon_types::VERSION, vec![])), "/s").level, Level::Warn);
        assert!(
            daemon_check(Ok(health("0.0.1", vec![BackendKind::Docker])), "/s").detail.contains("this CLI is")
        );
        let down = daemon_check(
            Err(ClientError::DaemonNotRunning {
                endpoint: clauderon_client::Endpoint::Unix("/s".into()),
                reason: "no socket at /s".into(),
            }),
            "/s",
        );
        assert_eq!(down.detail, "not running (no socket at /s)");
        assert_eq!(down.hint.as_deref(), Some("start it with `clauderon daemon`"));
        assert!(!down.required, "doctor must not fail just because the daemon is down");
        let denied = daemon_check(
            Err(ClientError::Api {
                status: 401,
                body: clauderon_types::api::ErrorBody {
                    error: "unauthorized".into(),
                    message: "token?".into(),
                },
            }),
            "http://h:1",
        );
        assert!(denied.hint.unwrap().contains("CLAUDERON_API_TOKEN"));
    }
}
