//! What a session's sprite holds and the scripts that set it up and run it. Everything is under
//! the sprite user's home ([`crate::SPRITE_HOME`]):
//!
//! - `.clauderon/env.sh` (0600): the session's environment — placeholders and the proxy URL with
//!   the session's identity on the relay's port, never a credential;
//! - `.clauderon/run.sh`: the session's command in `~/workspace` with that environment;
//! - `.clauderon/relay.js`: the proxy relay ([`clauderon_backend::tunnel`]);
//! - `.clauderon/ca.pem`, `.clauderon/ca-bundle.pem`: clauderon's CA certificate (never its
//!   key), alone and after the sprite's own roots;
//! - the session's HOME as clauderon wrote it on the host (agent settings, hooks, trust);
//! - `workspace/`: the session branch cloned from a bundle (or the folder's files).

use crate::{SPRITE_HOME, TMUX_SESSION, sh_quote};
use clauderon_backend::{BackendError, SessionSpec, env, host_git, session_files, tunnel};
use clauderon_types::BackendKind;
use std::path::Path;

/// Where the session's work is, in the sprite.
pub const WORKSPACE: &str = "/home/sprite/workspace";

/// The archive unpacked at create, and how to finish the workspace from it.
pub struct Bundle {
    pub archive: Vec<u8>,
    /// The branch of the git bundle in the archive, when the worktree is a git checkout.
    pub branch: Option<String>,
}

fn files_error(what: &str, e: impl std::fmt::Display) -> BackendError {
    BackendError::Failed { backend: BackendKind::Sprites, message: format!("{what}: {e}") }
}

fn add_file(tar: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32, data: &[u8]) -> Result<(), BackendError> {
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(mode);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mtime(0);
    tar.append_data(&mut header, path, data).map_err(|e| files_error("building the sprite's archive", e))
}

/// The session's environment as the sprite's processes see it.
pub fn environment(spec: &SessionSpec) -> Vec<(String, String)> {
    let mut spec = spec.clone();
    spec.proxy.port = tunnel::RELAY_PORT;
    let ca_cert = format!("{SPRITE_HOME}/.clauderon/ca.pem");
    let ca_bundle = format!("{SPRITE_HOME}/.clauderon/ca-bundle.pem");
    let view = env::SessionView {
        proxy_host: "127.0.0.1",
        ca_cert: &ca_cert,
        ca_bundle: &ca_bundle,
        home: SPRITE_HOME,
    };
    env::session_env(&spec, &view)
}

/// `env.sh`: one `export K='v'` per variable.
pub fn env_script(vars: &[(String, String)]) -> String {
    let mut out = String::from("# Written by clauderon: this session's environment (no credential in it).\n");
    for (k, v) in vars {
        if k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !k.is_empty() {
            out.push_str(&format!("export {k}={}\n", sh_quote(v)));
        }
    }
    out
}

fn run_script(spec: &SessionSpec) -> String {
    let command: Vec<String> = session_files::session_command(spec).iter().map(|a| sh_quote(a)).collect();
    format!(
        "# Written by clauderon: the session's command.\n. {SPRITE_HOME}/.clauderon/env.sh\ncd {WORKSPACE}\nexec {}\n",
        command.join(" ")
    )
}

const TMUX_CONF: &str =
    "set -g history-limit 20000\nset -g default-terminal xterm-256color\nset -g status off\n";

/// Everything the sprite gets at create, as one tar archive.
pub fn setup_archive(spec: &SessionSpec) -> Result<Bundle, BackendError> {
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    // The session's HOME first: clauderon's own files below win over anything of the same name.
    if spec.home.is_dir() {
        tar.append_dir_all(".", &spec.home).map_err(|e| files_error("archiving the session's HOME", e))?;
    }
    let ca = std::fs::read(&spec.proxy.ca_cert).unwrap_or_default();
    add_file(&mut tar, ".clauderon/ca.pem", 0o644, &ca)?;
    add_file(&mut tar, ".clauderon/env.sh", 0o600, env_script(&environment(spec)).as_bytes())?;
    add_file(&mut tar, ".clauderon/run.sh", 0o755, run_script(spec).as_bytes())?;
    add_file(&mut tar, ".clauderon/relay.js", 0o755, tunnel::RELAY.as_bytes())?;
    add_file(&mut tar, ".clauderon/tmux.conf", 0o644, TMUX_CONF.as_bytes())?;
    let (name, email) = env::host_git_identity(&spec.repo);
    add_file(&mut tar, ".gitconfig", 0o644, env::gitconfig(name.as_deref(), email.as_deref()).as_bytes())?;
    let branch = git_branch(&spec.worktree);
    match &branch {
        Some(branch) => {
            let bundle = git_bundle(&spec.worktree, branch)?;
            add_file(&mut tar, ".clauderon/workspace.bundle", 0o600, &bundle)?;
        }
        None => {
            tar.append_dir_all("workspace", &spec.worktree)
                .map_err(|e| files_error("archiving the worktree", e))?;
        }
    }
    let archive = tar.into_inner().map_err(|e| files_error("building the sprite's archive", e))?;
    Ok(Bundle { archive, branch })
}

/// The worktree's branch, when it is a git checkout on a branch.
fn git_branch(worktree: &Path) -> Option<String> {
    if std::fs::symlink_metadata(worktree.join(".git")).is_err() {
        return None;
    }
    let out = host_git::command(worktree).args(["symbolic-ref", "--short", "-q", "HEAD"]).output().ok()?;
    let branch = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !branch.is_empty()).then_some(branch)
}

fn git_bundle(worktree: &Path, branch: &str) -> Result<Vec<u8>, BackendError> {
    let dir = tempfile::tempdir().map_err(|e| files_error("a temporary folder", e))?;
    let file = dir.path().join("workspace.bundle");
    let out = host_git::command(worktree)
        .arg("bundle")
        .arg("create")
        .arg(&file)
        .arg(format!("refs/heads/{branch}"))
        .output()
        .map_err(|e| files_error("running git bundle", e))?;
    if !out.status.success() {
        return Err(files_error("bundling the session branch", String::from_utf8_lossy(&out.stderr).trim()));
    }
    std::fs::read(&file).map_err(|e| files_error("reading the bundle", e))
}

/// Unpack the archive (stdin) and finish the workspace.
pub fn setup_script(bundle: &Bundle) -> String {
    let mut script = format!(
        "set -e\ncd {SPRITE_HOME}\nmkdir -p .clauderon\ntar -x -f -\nchmod 600 .clauderon/env.sh\n\
         : > .clauderon/ca-bundle.pem\n\
         for f in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do\n\
         \x20 if [ -f \"$f\" ]; then cat \"$f\" > .clauderon/ca-bundle.pem; break; fi\ndone\n\
         cat .clauderon/ca.pem >> .clauderon/ca-bundle.pem\n"
    );
    if let Some(branch) = &bundle.branch {
        script.push_str(&format!(
            "git clone -q -b {b} .clauderon/workspace.bundle workspace\nrm -f .clauderon/workspace.bundle\n\
             git -C workspace remote remove origin\n",
            b = sh_quote(branch)
        ));
    }
    script.push_str("mkdir -p workspace\n");
    script
}

/// Start the agent in tmux unless it runs; its output also goes to a log for after it ends.
pub fn start_script() -> String {
    format!(
        "cd {SPRITE_HOME}\n\
         tmux has-session -t {TMUX_SESSION} 2>/dev/null && exit 0\n\
         set -e\n\
         tmux -f .clauderon/tmux.conf new-session -d -s {TMUX_SESSION} -x 200 -y 50 'sh {SPRITE_HOME}/.clauderon/run.sh'\n\
         tmux pipe-pane -t {TMUX_SESSION} -o 'cat >> {SPRITE_HOME}/.clauderon/output.log' 2>/dev/null || true\n"
    )
}

/// The last `tail` lines: the agent's pane while it runs, else the log it left.
pub fn logs_script(tail: usize) -> String {
    format!(
        "tmux capture-pane -p -J -S -{tail} -t {TMUX_SESSION} 2>/dev/null || tail -n {tail} {SPRITE_HOME}/.clauderon/output.log 2>/dev/null; true"
    )
}

/// The sprite reaches no domain by name: its traffic goes through clauderon's proxy over the
/// tunnel. (The policy filters DNS; a connection to a literal address is not stopped by it, and
/// carries no credential: only the proxy has them.)
pub fn network_policy() -> serde_json::Value {
    serde_json::json!([{ "action": "deny", "domain": "*" }])
}

/// The session's HOME from the host, as a tar archive (links stored as links, never followed).
pub fn home_archive(home: &Path) -> Result<Vec<u8>, BackendError> {
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    tar.append_dir_all(".", home).map_err(|e| files_error("archiving the session's HOME", e))?;
    tar.into_inner().map_err(|e| files_error("archiving the session's HOME", e))
}
