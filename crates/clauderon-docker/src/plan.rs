//! What a session's container is made of, decided without talking to the engine: mounts, user,
//! environment, limits, network and the files clauderon writes for it on the host. Pure apart
//! from reading file metadata, so the choices are unit-tested.

use clauderon_backend::SessionSpec;
use clauderon_backend::env::{SessionView, session_env};
use clauderon_backend::host_git::GitMounts;
use clauderon_backend::session_files::{files_dir, session_command};
use clauderon_types::NetworkMode;
use std::path::{Path, PathBuf};

/// Where things are inside the container.
pub const WORKSPACE: &str = "/workspace";
pub const HOME: &str = "/home/clauderon";
/// clauderon's files for the session (CA, bundle, entrypoint), mounted read-only.
pub const FILES: &str = "/etc/clauderon";
pub const CA_CERT: &str = "/etc/clauderon/ca.pem";
pub const CA_BUNDLE: &str = "/etc/clauderon/ca-bundle.pem";
pub const ENTRYPOINT: &str = "/etc/clauderon/entrypoint.sh";
/// The proxy's Unix socket, in locked sessions.
pub const PROXY_SOCKET: &str = "/run/clauderon/proxy.sock";
/// Debian's system store: replaced (read-only) by the bundle with clauderon's CA added.
pub const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Labels that mark clauderon's containers.
pub const LABEL_MANAGED: &str = "dev.clauderon.managed";
pub const LABEL_SESSION_ID: &str = "dev.clauderon.session-id";
pub const LABEL_SESSION_NAME: &str = "dev.clauderon.session-name";
/// Which daemon a container belongs to (its data dir), so daemons on other data dirs leave it be.
pub const LABEL_SCOPE: &str = "dev.clauderon.scope";

/// The entrypoint: in a locked session, a loopback port relayed to the proxy's Unix socket (the
/// container has no network at all), then the session's command.
pub const ENTRYPOINT_SCRIPT: &str = r#"#!/bin/sh
# Written by clauderon. Runs before the session's command.
if [ -S /run/clauderon/proxy.sock ]; then
  if ! command -v socat >/dev/null 2>&1; then
    echo "clauderon: --network locked needs socat in the image (apt-get install socat), or use clauderon's image" >&2
    exit 70
  fi
  socat "TCP-LISTEN:${CLAUDERON_PROXY_PORT},bind=127.0.0.1,fork,reuseaddr" UNIX-CONNECT:/run/clauderon/proxy.sock &
  i=0
  while [ $i -lt 50 ] && ! (exec 3<>"/dev/tcp/127.0.0.1/${CLAUDERON_PROXY_PORT}") 2>/dev/null; do
    i=$((i + 1)); sleep 0.05
  done
fi
exec "$@"
"#;

/// One bind mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub source: PathBuf,
    pub target: String,
    pub read_only: bool,
}

/// Everything the container is created with.
#[derive(Debug, Clone)]
pub struct ContainerPlan {
    pub name: String,
    pub image: String,
    /// `uid:gid`.
    pub user: String,
    pub env: Vec<(String, String)>,
    pub binds: Vec<Bind>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub network: NetworkMode,
    pub nano_cpus: Option<i64>,
    pub memory: Option<i64>,
    pub labels: Vec<(String, String)>,
}

/// The container's name for a session.
pub fn container_name(spec: &SessionSpec) -> String {
    format!("clauderon-{}", spec.name)
}

/// Decide the container for a session. `proxy_host` is how an open session reaches the proxy
/// (the bridge's gateway); a locked session reaches it on its own loopback. `uid`/`gid` are the
/// host user's; `system_bundle` says whether the bundle written for the session may replace the
/// image's system store.
pub struct PlanInputs<'a> {
    pub spec: &'a SessionSpec,
    pub image: &'a str,
    pub proxy_host: &'a str,
    pub uid: u32,
    pub gid: u32,
    pub system_bundle: bool,
    /// The proxy's Unix socket on the host, for locked sessions.
    pub proxy_socket: Option<&'a Path>,
    /// The daemon's scope label value (its data dir), if any.
    pub scope: Option<&'a str>,
    /// What of the repository's git dir the session gets ([`clauderon_backend::host_git::mounts`]).
    pub git: Option<&'a GitMounts>,
    /// Limits for sessions that give none (the config's `[docker]`).
    pub default_milli_cpus: Option<u32>,
    pub default_memory_bytes: Option<u64>,
}

/// The network a session gets: the one it asked for; else `locked` (no network but the proxy)
/// when it runs clauderon's image (which has the relay's `socat`) and the daemon gave the proxy's
/// socket, and `open` for an image of the user's (which may not have `socat`).
pub fn default_network(spec: &SessionSpec, have_proxy_socket: bool) -> NetworkMode {
    match spec.options.network {
        Some(mode) => mode,
        None if spec.options.image.is_none() && have_proxy_socket => NetworkMode::Locked,
        None => NetworkMode::Open,
    }
}

/// Why a session cannot be planned as a container.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{} is not valid UTF-8: Docker cannot mount it", .0.display())]
    NotUtf8(PathBuf),
    #[error(
        "--network locked needs the proxy's Unix socket, which this daemon did not give the Docker backend"
    )]
    NoProxySocket,
}

pub fn plan(i: &PlanInputs<'_>) -> Result<ContainerPlan, PlanError> {
    let spec = i.spec;
    let network = default_network(spec, i.proxy_socket.is_some());
    let proxy_host = match network {
        NetworkMode::Open => i.proxy_host,
        NetworkMode::Locked => "127.0.0.1",
    };
    let view = SessionView { proxy_host, ca_cert: CA_CERT, ca_bundle: CA_BUNDLE, home: HOME };
    let mut env = session_env(spec, &view);
    env.push(("CLAUDERON_PROXY_PORT".into(), spec.proxy.port.to_string()));
    env.push(("USER".into(), "clauderon".into()));

    let mut binds = vec![
        Bind { source: spec.worktree.clone(), target: WORKSPACE.into(), read_only: false },
        Bind { source: spec.home.clone(), target: HOME.into(), read_only: false },
        Bind { source: files_dir(spec), target: FILES.into(), read_only: true },
    ];
    if i.system_bundle {
        binds.push(Bind {
            source: files_dir(spec).join("ca-bundle.pem"),
            target: SYSTEM_BUNDLE.into(),
            read_only: true,
        });
    }
    // The shared git dir at its host path (the worktree's `.git` file names it): read-only but
    // for the objects, clauderon's branches and the worktree's own metadata, so commits land on
    // the session's branch while nothing that decides what a git on the host runs can change.
    // The engine mounts parents before children, whatever the order here.
    let dot_git = spec.worktree.join(".git");
    if let Some(git) = i.git {
        let at = |p: &Path| path_str(p);
        binds.push(Bind { source: git.common_dir.clone(), target: at(&git.common_dir)?, read_only: true });
        for path in &git.writable {
            binds.push(Bind { source: path.clone(), target: at(path)?, read_only: false });
        }
        for path in git.read_only.iter().filter(|p| **p != dot_git) {
            binds.push(Bind { source: path.clone(), target: at(path)?, read_only: true });
        }
    }
    if std::fs::symlink_metadata(&dot_git).is_ok() {
        binds.push(Bind { source: dot_git, target: format!("{WORKSPACE}/.git"), read_only: true });
    }
    if network == NetworkMode::Locked {
        let socket = i.proxy_socket.ok_or(PlanError::NoProxySocket)?;
        binds.push(Bind { source: socket.to_path_buf(), target: PROXY_SOCKET.into(), read_only: false });
    }

    let mut labels = vec![
        (LABEL_MANAGED.into(), "true".into()),
        (LABEL_SESSION_ID.into(), spec.session_id.to_string()),
        (LABEL_SESSION_NAME.into(), spec.name.to_string()),
    ];
    if let Some(scope) = i.scope {
        labels.push((LABEL_SCOPE.into(), scope.to_string()));
    }
    Ok(ContainerPlan {
        name: container_name(spec),
        image: i.image.to_string(),
        user: format!("{}:{}", i.uid, i.gid),
        env,
        binds,
        entrypoint: vec!["/bin/sh".into(), ENTRYPOINT.into()],
        cmd: session_command(spec),
        network,
        nano_cpus: spec.options.milli_cpus.or(i.default_milli_cpus).map(|m| i64::from(m) * 1_000_000),
        memory: spec.options.memory_bytes.or(i.default_memory_bytes).and_then(|b| i64::try_from(b).ok()),
        labels,
    })
}

fn path_str(p: &Path) -> Result<String, PlanError> {
    p.to_str().map(str::to_string).ok_or_else(|| PlanError::NotUtf8(p.to_path_buf()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clauderon_backend::contract::Fixture;
    use clauderon_types::SessionOptions;

    /// The contract suite's session, with this repository and these options.
    fn spec(repo: &Path, options: SessionOptions) -> SessionSpec {
        let mut spec = Fixture::new("plan").unwrap().spec;
        spec.repo = repo.to_path_buf();
        spec.prompt = "fix it".into();
        spec.options = options;
        spec.proxy.port = 3128;
        spec
    }

    fn inputs<'a>(spec: &'a SessionSpec, socket: Option<&'a Path>) -> PlanInputs<'a> {
        PlanInputs {
            git: None,
            spec,
            image: "img",
            proxy_host: "172.17.0.1",
            uid: 1000,
            gid: 1001,
            system_bundle: true,
            proxy_socket: socket,
            scope: None,
            default_milli_cpus: None,
            default_memory_bytes: Some(1 << 30),
        }
    }

    fn env<'a>(p: &'a ContainerPlan, k: &str) -> Option<&'a str> {
        p.env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn open_session_uses_the_gateway_and_mounts_the_git_dir_read_only_but_objects_and_branch() {
        let repo = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(repo.path().join(".git/hooks")).unwrap();
        let options =
            SessionOptions { milli_cpus: Some(1500), network: Some(NetworkMode::Open), ..Default::default() };
        let s = spec(repo.path(), options);
        std::fs::create_dir_all(&s.worktree).unwrap();
        std::fs::write(s.worktree.join(".git"), "gitdir: x").unwrap();
        let layout = clauderon_types::SessionGit::new(repo.path(), &s.worktree).unwrap();
        std::fs::create_dir_all(layout.git_dir()).unwrap();
        std::fs::write(layout.git_dir().join("commondir"), "../..").unwrap();
        let mounts = clauderon_backend::host_git::mounts(&layout).unwrap();
        let p = plan(&PlanInputs { git: mounts.as_ref(), ..inputs(&s, None) }).unwrap();
        assert_eq!(env(&p, "HTTPS_PROXY"), Some("http://contract:contract-secret@172.17.0.1:3128"));
        assert_eq!(env(&p, "SSL_CERT_FILE"), Some(CA_BUNDLE));
        assert_eq!(env(&p, "HOME"), Some(HOME));
        assert_eq!(p.user, "1000:1001");
        assert_eq!(p.nano_cpus, Some(1_500_000_000));
        assert_eq!(p.memory, Some(1 << 30), "the config's default when the session gives none");
        let git = repo.path().join(".git");
        let bind = |source: &Path| p.binds.iter().find(|b| b.source == source);
        assert!(bind(&git).unwrap().read_only, "config, hooks, info, commondir: read-only");
        assert!(!bind(&git.join("objects")).unwrap().read_only, "commits must be possible");
        assert!(!bind(&git.join("refs/heads/clauderon")).unwrap().read_only);
        assert!(!bind(layout.git_dir()).unwrap().read_only);
        assert!(bind(&layout.git_dir().join("commondir")).unwrap().read_only);
        assert!(bind(&git.join("objects/info")).unwrap().read_only, "no alternates of the session's");
        assert!(bind(&git.join("refs/heads")).is_none(), "the user's branches stay read-only");
        let dot_git = bind(&s.worktree.join(".git")).unwrap();
        assert!(dot_git.read_only && dot_git.target == "/workspace/.git", "{dot_git:?}");
        assert_eq!(p.cmd, session_command(&s), "the agent's launch script from its profile");
        assert!(
            p.cmd[2].ends_with("exec 'claude' '--dangerously-skip-permissions' '--' 'fix it'\n"),
            "{}",
            p.cmd[2]
        );
    }

    #[test]
    fn sessions_on_clauderons_image_are_locked_unless_they_ask_otherwise() {
        let repo = tempfile::tempdir().unwrap();
        let plain = spec(repo.path(), SessionOptions::default());
        assert_eq!(default_network(&plain, true), NetworkMode::Locked);
        assert_eq!(default_network(&plain, false), NetworkMode::Open, "no socket to relay to");
        let own_image =
            spec(repo.path(), SessionOptions { image: Some("mine".into()), ..Default::default() });
        assert_eq!(default_network(&own_image, true), NetworkMode::Open, "it may have no socat");
        let asked =
            spec(repo.path(), SessionOptions { network: Some(NetworkMode::Open), ..Default::default() });
        assert_eq!(default_network(&asked, true), NetworkMode::Open);
    }

    #[test]
    fn locked_session_goes_through_its_loopback_and_the_proxy_socket() {
        let repo = tempfile::tempdir().unwrap();
        let options = SessionOptions {
            network: Some(NetworkMode::Locked),
            command: Some("echo hi".into()),
            ..Default::default()
        };
        let s = spec(repo.path(), options);
        assert!(matches!(plan(&inputs(&s, None)), Err(PlanError::NoProxySocket)));
        let socket = Path::new("/data/proxy.sock");
        let p = plan(&inputs(&s, Some(socket))).unwrap();
        assert_eq!(env(&p, "https_proxy"), Some("http://contract:contract-secret@127.0.0.1:3128"));
        assert!(p.binds.iter().any(|b| b.source == socket && b.target == PROXY_SOCKET));
        assert!(!p.binds.iter().any(|b| b.target.contains(".git")), "no .git in a plain folder");
        assert_eq!(p.cmd, vec!["/bin/sh", "-c", "echo hi"]);
    }
}
