//! `clauderon doctor`: what this machine has, what is missing, what to do.

use clauderon_client::Client;
use clauderon_types::DataLayout;
use serde::Serialize;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
    Missing,
}

#[derive(Debug, Clone, Serialize)]
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

/// The Docker engine socket from DOCKER_HOST (unix://…) or the default.
fn docker_socket() -> Option<String> {
    match std::env::var("DOCKER_HOST") {
        Ok(h) if !h.is_empty() => h.strip_prefix("unix://").map(str::to_string),
        _ => Some("/var/run/docker.sock".to_string()),
    }
}

pub fn check_docker() -> Check {
    let Some(client) = version_of("docker", &["--version"]) else {
        return Check::bad(
            "docker",
            Level::Missing,
            "not found (needed for --backend docker)",
            "install the engine: `apt-get install docker.io`, then start `dockerd`",
        );
    };
    match docker_socket() {
        Some(sock) if std::os::unix::net::UnixStream::connect(&sock).is_ok() => {
            Check::ok("docker", format!("{client}; engine reachable at {sock}"))
        }
        Some(sock) => Check::bad(
            "docker",
            Level::Warn,
            format!("{client}; but no engine answers at {sock}"),
            "start the engine: `sudo systemctl start docker` (or run `dockerd`)",
        ),
        None => Check::ok("docker", format!("{client}; DOCKER_HOST is not a Unix socket, not probed")),
    }
}

pub fn check_zellij() -> Check {
    match version_of("zellij", &["--version"]) {
        Some(v) => Check::ok("zellij", v),
        None => Check::bad(
            "zellij",
            Level::Missing,
            "not found (needed for --backend zellij)",
            "install it: `cargo install --locked zellij`",
        ),
    }
}

pub fn check_bwrap() -> Check {
    match version_of("bwrap", &["--version"]) {
        Some(v) => Check::ok("bubblewrap", v),
        None => Check::bad(
            "bubblewrap",
            Level::Warn,
            "not found (optional: sandboxes zellij sessions)",
            "install it: `apt-get install bubblewrap`",
        ),
    }
}

pub fn check_data_dir(root: &Path) -> Check {
    let name = "data dir";
    match std::fs::metadata(root) {
        Ok(m) if !m.is_dir() => Check::bad(
            name,
            Level::Missing,
            format!("{} is not a directory", root.display()),
            "move it away or set CLAUDERON_HOME",
        )
        .required(),
        Ok(m) => {
            let mode = m.permissions().mode() & 0o777;
            let probe = root.join(".doctor-write-probe");
            let writable = std::fs::write(&probe, b"").is_ok();
            let _ = std::fs::remove_file(&probe);
            if !writable {
                Check::bad(
                    name,
                    Level::Missing,
                    format!("{} is not writable", root.display()),
                    "fix its owner or set CLAUDERON_HOME",
                )
                .required()
            } else if mode & 0o077 != 0 {
                Check::bad(
                    name,
                    Level::Warn,
                    format!("{} is readable by others (mode {mode:o})", root.display()),
                    format!("run `chmod 700 {}`", root.display()),
                )
                .required()
            } else {
                Check::ok(name, format!("{} (mode {mode:o})", root.display())).required()
            }
        }
        Err(_) => {
            let parent_ok = root.parent().is_some_and(|p| p.exists());
            if parent_ok {
                Check::ok(name, format!("{} (created when the daemon first starts)", root.display()))
                    .required()
            } else {
                Check::bad(
                    name,
                    Level::Missing,
                    format!("{} cannot be created", root.display()),
                    "set CLAUDERON_HOME",
                )
                .required()
            }
        }
    }
}

pub async fn check_daemon(client: &Client) -> Check {
    match client.health().await {
        Ok(h) => {
            let backends: Vec<_> = h.backends.iter().map(|b| b.as_str()).collect();
            let backends = if backends.is_empty() { "none yet".to_string() } else { backends.join(", ") };
            Check::ok("daemon", format!("{} at {}; backends: {backends}", h.version, client.endpoint()))
        }
        Err(e) => Check::bad("daemon", Level::Warn, e.to_string(), "start it with `clauderon daemon`"),
    }
}

pub async fn run_all(layout: &DataLayout, client: &Client) -> Vec<Check> {
    vec![
        check_git(),
        check_data_dir(layout.root()),
        check_daemon(client).await,
        check_docker(),
        check_zellij(),
        check_bwrap(),
    ]
}

/// Something required is broken.
pub fn failed(checks: &[Check]) -> bool {
    checks.iter().any(|c| c.required && c.level == Level::Missing)
}

pub fn render(checks: &[Check], color: bool) -> String {
    let mut out = String::new();
    for c in checks {
        let (mark, code) = match c.level {
            Level::Ok => ("ok     ", "32"),
            Level::Warn => ("warn   ", "33"),
            Level::Missing => ("missing", "31"),
        };
        let mark = if color { format!("\u{1b}[{code}m{mark}\u{1b}[0m") } else { mark.to_string() };
        out.push_str(&format!("{mark}  {:<11} {}\n", c.name, c.detail));
        if let Some(hint) = &c.hint {
            out.push_str(&format!("{:<9}  {:<11} -> {hint}\n", "", ""));
        }
    }
    out.pop();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_required_missing_checks_fail() {
        let optional = Check::bad("zellij", Level::Missing, "not found", "install");
        let warn_required = Check::bad("data dir", Level::Warn, "open", "chmod").required();
        assert!(!failed(&[optional.clone(), warn_required]));
        let broken = Check::bad("git", Level::Missing, "not found", "install git").required();
        assert!(failed(&[optional, broken]));
    }

    #[test]
    fn render_shows_hints_under_problems() {
        let out = render(
            &[
                Check::ok("git", "git version 2"),
                Check::bad("zellij", Level::Missing, "not found", "cargo install --locked zellij"),
            ],
            false,
        );
        let lines: Vec<_> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert!(lines[0].starts_with("ok"));
        assert!(lines[1].starts_with("missing") && lines[1].contains("zellij"));
        assert!(lines[2].contains("-> cargo install --locked zellij"));
    }

    #[test]
    fn data_dir_checks_permissions() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(check_data_dir(dir.path()).level, Level::Warn);
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(check_data_dir(dir.path()).level, Level::Ok);
        assert_eq!(check_data_dir(&dir.path().join("new")).level, Level::Ok);
        assert_eq!(check_data_dir(Path::new("/no/such/parent/x")).level, Level::Missing);
    }
}
