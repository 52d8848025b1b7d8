//! What every backend needs to run a session, whatever runs it: the command line (`--command`
//! through `sh -c`, else the agent's launch script from its profile) and the files clauderon
//! writes into the session's HOME (clauderon's CA alone and as a bundle with the system roots,
//! git settings, and the agent's settings files).

use crate::SessionSpec;
use crate::env::{ca_bundle, gitconfig, host_git_identity};
use clauderon_agents::profile;
use std::os::unix::fs::PermissionsExt;
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

/// Write the agent's settings files into the session's HOME ([`profile::write_agent_files`]:
/// merged over what is there), with workspace trust for `workdir`, the agent's working
/// directory as the session sees it. Every session gets them, `--command` ones too, so the
/// agent can also be started by hand inside one.
pub fn write_agent_files(spec: &SessionSpec, workdir: &Path) -> Result<(), String> {
    write_agent_files_in(spec.agent, &spec.home, workdir, &spec.placeholders)
}

/// [`write_agent_files`] from its parts, for a session whose spec is not at hand (the session
/// manager brings an existing session's files up to date before it starts again).
pub fn write_agent_files_in(
    agent: clauderon_types::AgentKind,
    home: &Path,
    workdir: &Path,
    placeholders: &[(String, String)],
) -> Result<(), String> {
    let ctx = profile::ConfigContext { home, workdir, placeholders };
    profile::write_agent_files(agent, &ctx).map(|_| ()).map_err(|e| e.to_string())
}

/// clauderon's files in the session's HOME: `<home>/.clauderon`.
pub fn files_dir(spec: &SessionSpec) -> PathBuf {
    spec.home.join(".clauderon")
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
pub fn write_trust_files(spec: &SessionSpec) -> Result<TrustFiles, String> {
    let dir = files_dir(spec);
    std::fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
        .map_err(io("setting the mode of", &dir))?;
    let ca = std::fs::read_to_string(&spec.proxy.ca_cert).unwrap_or_default();
    let bundle = ca_bundle(&ca);
    let files = TrustFiles {
        ca_cert: dir.join("ca.pem"),
        ca_bundle: dir.join("ca-bundle.pem"),
        system_roots: bundle.len() > ca.len(),
    };
    for (path, text) in [(&files.ca_cert, ca.as_str()), (&files.ca_bundle, bundle.as_str())] {
        std::fs::write(path, text).map_err(io("writing", path))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
            .map_err(io("setting the mode of", path))?;
    }
    let gitconfig_path = spec.home.join(".gitconfig");
    if !gitconfig_path.exists() {
        let (name, email) = host_git_identity(&spec.repo);
        std::fs::write(&gitconfig_path, gitconfig(name.as_deref(), email.as_deref()))
            .map_err(io("writing", &gitconfig_path))?;
    }
    Ok(files)
}

fn io(what: &'static str, path: &Path) -> impl Fn(std::io::Error) -> String {
    let path = path.display().to_string();
    move |e| format!("{what} {path}: {e}")
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
        write_agent_files(&s, Path::new("/workspace")).unwrap();
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
}
