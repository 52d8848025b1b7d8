//! What every backend needs to run a session, whatever runs it: the command line (`--command`
//! through `sh -c`, else the agent's launch script from its profile) and the files clauderon
//! writes into the session's HOME (clauderon's CA alone and as a bundle with the system roots,
//! git settings, and the agent's settings files).
//!
//! The HOME is the session's to write, so every file here is written through `clauderon-fs`
//! (no link on the way is followed; one the session planted is [`BackendError::Refused`]).

use crate::env::{ca_bundle, gitconfig, host_git_identity};
use crate::{BackendError, SessionSpec};
use clauderon_agents::{AgentsError, profile};
use clauderon_fs::{FsError, Place, SessionRoot};
use std::path::{Path, PathBuf};

/// The session's command: `--command` through `sh -c`, else the agent's launch script
/// ([`profile::launch_command`]): each time the process starts, it resumes the conversation
/// the session's HOME already holds, or starts the agent with the prompt when there is none.
pub fn session_command(spec: &SessionSpec) -> Vec<String> {
    if let Some(c) = &spec.options.command {
        return vec!["/bin/sh".into(), "-c".into(), c.clone()];
    }
    profile::launch_command(spec.agent, spec.options.model.as_deref(), &spec.prompt)
}

/// A confined IO failure as the backend reports it: a refusal stays one.
pub fn fs_error(e: FsError) -> BackendError {
    match e {
        FsError::Refused(r) => BackendError::Refused(r),
        other => BackendError::Files { message: other.to_string() },
    }
}

fn agents_error(e: AgentsError) -> BackendError {
    match e {
        AgentsError::Refused(r) => BackendError::Refused(r),
        other => BackendError::Files { message: other.to_string() },
    }
}

/// Write the agent's settings files into the session's HOME ([`profile::write_agent_files`]:
/// merged over what is there), with workspace trust for `workdir`, the agent's working
/// directory as the session sees it. Every session gets them, `--command` ones too, so the
/// agent can also be started by hand inside one. Backends reach it through
/// [`crate::SessionBackend::prepare_start`].
pub(crate) fn write_agent_files_in(
    agent: clauderon_types::AgentKind,
    home: &Path,
    workdir: &Path,
    placeholders: &[(String, String)],
) -> Result<(), BackendError> {
    let ctx = profile::ConfigContext { home, workdir, placeholders };
    profile::write_agent_files(agent, &ctx).map(|_| ()).map_err(agents_error)
}

/// clauderon's files in the session's HOME: `<home>/.clauderon`.
pub fn files_dir(spec: &SessionSpec) -> PathBuf {
    spec.home.join(FILES_DIR)
}

const FILES_DIR: &str = ".clauderon";

/// Write `bytes` to `name` in [`files_dir`] (mode `mode`), through `clauderon-fs`. Returns its
/// path on the host.
pub fn write_clauderon_file(
    spec: &SessionSpec,
    name: &str,
    bytes: &[u8],
    mode: u32,
) -> Result<PathBuf, BackendError> {
    let home = SessionRoot::open(&spec.home, Place::Home).map_err(fs_error)?;
    let rel = format!("{FILES_DIR}/{name}");
    home.write(&rel, bytes, mode).map_err(fs_error)?;
    Ok(home.host_path(&rel))
}

/// Where [`write_trust_files`] put things, on the host.
#[derive(Debug, Clone)]
pub struct TrustFiles {
    /// clauderon's CA alone.
    pub ca_cert: PathBuf,
    /// The system roots followed by clauderon's CA.
    pub ca_bundle: PathBuf,
    /// The host had a system root bundle (so the bundle may stand in for a system store).
    pub system_roots: bool,
}

/// Write clauderon's CA and the bundle into [`files_dir`] (0644: nothing in them is secret, the
/// CA key stays with the daemon), and `<home>/.gitconfig` (SSH remotes over HTTPS, the host
/// user's identity) unless the session already has one. A missing CA file gives an empty
/// `ca.pem`: the session then trusts only the system roots and intercepted hosts fail.
pub fn write_trust_files(spec: &SessionSpec) -> Result<TrustFiles, BackendError> {
    let home = SessionRoot::open(&spec.home, Place::Home).map_err(fs_error)?;
    let dir = home.create_dirs(FILES_DIR, 0o755).map_err(fs_error)?;
    dir.set_mode(0o755).map_err(fs_error)?;
    // The daemon's own CA file, not the session's.
    let ca = std::fs::read_to_string(&spec.proxy.ca_cert).unwrap_or_default();
    let bundle = ca_bundle(&ca);
    for (name, text) in [("ca.pem", ca.as_str()), ("ca-bundle.pem", bundle.as_str())] {
        dir.write(name, text.as_bytes(), 0o644).map_err(fs_error)?;
    }
    let files = TrustFiles {
        ca_cert: home.host_path(&format!("{FILES_DIR}/ca.pem")),
        ca_bundle: home.host_path(&format!("{FILES_DIR}/ca-bundle.pem")),
        system_roots: bundle.len() > ca.len(),
    };
    // A link planted as `.gitconfig` is refused here, never written through.
    if home.kind(".gitconfig").map_err(fs_error)?.is_none() {
        let (name, email) = host_git_identity(&spec.repo);
        let text = gitconfig(name.as_deref(), email.as_deref());
        home.write(".gitconfig", text.as_bytes(), 0o644).map_err(fs_error)?;
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ProxyAccess;
    use clauderon_types::{AgentKind, SessionId, SessionName, SessionOptions};

    fn spec(dir: &Path, options: SessionOptions) -> SessionSpec {
        SessionSpec {
            session_id: SessionId::new(),
            name: SessionName::parse("s1").unwrap(),
            worktree: dir.into(),
            repo: dir.into(),
            agent: AgentKind::Codex,
            prompt: "fix it".into(),
            options,
            home: dir.join("home"),
            placeholders: Vec::new(),
            proxy: ProxyAccess {
                user: "s1".into(),
                secret: "x".into(),
                port: 1,
                ca_cert: dir.join("ca.pem"),
            },
        }
    }

    #[test]
    fn command_wins_over_the_agent_and_the_agent_gets_model_and_prompt() {
        let dir = Path::new("/nowhere");
        let o = SessionOptions { command: Some("echo hi".into()), ..Default::default() };
        assert_eq!(session_command(&spec(dir, o)), ["/bin/sh", "-c", "echo hi"]);
        let o = SessionOptions { model: Some("o3".into()), ..Default::default() };
        let cmd = session_command(&spec(dir, o));
        assert_eq!(cmd, profile::launch_command(AgentKind::Codex, Some("o3"), "fix it"));
        assert!(cmd[2].contains("'--model' 'o3' '--' 'fix it'"), "{}", cmd[2]);
    }

    #[test]
    fn agent_files_trust_the_workdir_as_the_session_sees_it() {
        let dir = tempfile::tempdir().unwrap();
        let s = spec(dir.path(), SessionOptions::default());
        std::fs::create_dir(&s.home).unwrap();
        write_agent_files_in(s.agent, &s.home, Path::new("/workspace"), &s.placeholders).unwrap();
        let config = std::fs::read_to_string(s.home.join(".codex/config.toml")).unwrap();
        assert!(config.contains("[projects.\"/workspace\"]"), "{config}");
    }

    #[test]
    fn trust_files_hold_the_ca_and_keep_an_existing_gitconfig() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), "OURS\n").unwrap();
        let s = spec(dir.path(), SessionOptions::default());
        std::fs::create_dir(&s.home).unwrap();
        std::fs::write(s.home.join(".gitconfig"), "mine").unwrap();
        let files = write_trust_files(&s).unwrap();
        assert_eq!(std::fs::read_to_string(&files.ca_cert).unwrap(), "OURS\n");
        assert!(std::fs::read_to_string(&files.ca_bundle).unwrap().ends_with("OURS\n"));
        assert_eq!(std::fs::read_to_string(s.home.join(".gitconfig")).unwrap(), "mine");
    }

    /// A session that linked `.gitconfig` (dangling) or `.clauderon` to host places gets a
    /// refusal; nothing is created or written on the host (issue 11 §4). Without the wall the
    /// old `exists()` + `std::fs::write` created the link's target.
    #[test]
    fn trust_files_refuse_links_the_session_planted() {
        let dir = tempfile::tempdir().unwrap();
        let s = spec(dir.path(), SessionOptions::default());
        std::fs::create_dir(&s.home).unwrap();
        let host = dir.path().join("host");
        std::fs::create_dir(&host).unwrap();
        let target = host.join("gitconfig-made-through-a-link");
        std::os::unix::fs::symlink(&target, s.home.join(".gitconfig")).unwrap();
        assert!(!s.home.join(".gitconfig").exists(), "the old check saw no file");
        match write_trust_files(&s) {
            Err(BackendError::Refused(r)) => assert_eq!(r.path, ".gitconfig"),
            other => panic!("{other:?}"),
        }
        assert!(!target.exists());

        std::fs::remove_file(s.home.join(".gitconfig")).unwrap();
        std::fs::remove_dir_all(s.home.join(".clauderon")).unwrap();
        std::os::unix::fs::symlink(&host, s.home.join(".clauderon")).unwrap();
        match write_trust_files(&s) {
            Err(BackendError::Refused(r)) => assert_eq!(r.path, ".clauderon"),
            other => panic!("{other:?}"),
        }
        assert_eq!(std::fs::read_dir(&host).unwrap().count(), 0, "something was written on the host");
    }
}
