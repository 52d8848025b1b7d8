//! The bubblewrap sandbox around a session's process. `fs`: the whole filesystem read-only,
//! the worktree, the session's HOME and the repository's git objects writable, the user's secret
//! places, the clauderon data dir, `/tmp` and the runtime dir (zellij's sockets) replaced by
//! empty ones, a private `/proc` (no other process's environment). `full`: `fs` plus a network
//! namespace with only loopback, where the relay listens on the proxy's port and forwards each
//! connection to the proxy's Unix socket, bound in from the host.

use std::path::{Path, PathBuf};

/// The user's secret places hidden by default (`~` is the user's HOME; a trailing `*` matches
/// every entry of the folder that starts with the rest).
pub const DEFAULT_HIDDEN: &[&str] = &[
    "~/.ssh",
    "~/.aws",
    "~/.azure",
    "~/.config/gh",
    "~/.config/gcloud",
    "~/.config/op",
    "~/.config/hub",
    "~/.gnupg",
    "~/.netrc",
    "~/.git-credentials",
    "~/.docker",
    "~/.kube",
    "~/.claude*",
    "~/.codex",
    "~/.gemini",
    "~/.npmrc",
    "~/.pypirc",
    "~/.cargo/credentials",
    "~/.cargo/credentials.toml",
    "~/.password-store",
    "~/.local/share/keyrings",
    "~/.vault-token",
    "~/.terraform.d/credentials.tfrc.json",
];

/// What the sandbox is built from, decided by the backend for one session.
#[derive(Debug, Clone)]
pub struct SandboxPlan<'a> {
    pub bwrap: &'a Path,
    pub worktree: &'a Path,
    pub home: &'a Path,
    /// `<repo>/.git` when the repository's git dir is a folder: writable (commits), with its
    /// hooks and config read-only over it.
    pub git_dir: Option<&'a Path>,
    /// Paths to hide: existing folders become empty ones, existing files empty files.
    pub hidden: &'a [PathBuf],
    /// `full`: the relay program (bound in read-only) and the proxy's Unix socket on the host.
    pub network: Option<NetworkPlan<'a>>,
}

#[derive(Debug, Clone)]
pub struct NetworkPlan<'a> {
    pub relay: &'a Path,
    /// The folder holding the link to the proxy's socket (see [`crate::proxy_link`]).
    pub proxy_socket_mount: &'a Path,
}

/// The `bwrap` command line up to (and including) `--`; the session's command follows.
pub fn bwrap_args(p: &SandboxPlan<'_>) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    let mut push = |items: &[&str]| a.extend(items.iter().map(|s| (*s).to_string()));
    push(&["--die-with-parent", "--unshare-pid", "--unshare-ipc", "--ro-bind", "/", "/"]);
    push(&["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/var/tmp"]);
    for path in p.hidden {
        let s = path.to_string_lossy();
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => push(&["--tmpfs", &s]),
            Ok(_) => push(&["--ro-bind", "/dev/null", &s]),
            Err(_) => {}
        }
    }
    let bind = |a: &mut Vec<String>, flag: &str, src: &Path, dst: &Path| {
        a.push(flag.into());
        a.push(src.to_string_lossy().into_owned());
        a.push(dst.to_string_lossy().into_owned());
    };
    bind(&mut a, "--bind", p.worktree, p.worktree);
    bind(&mut a, "--bind", p.home, p.home);
    if let Some(git) = p.git_dir {
        bind(&mut a, "--bind", git, git);
        for ro in ["hooks", "config"] {
            let path = git.join(ro);
            if path.exists() {
                bind(&mut a, "--ro-bind", &path, &path);
            }
        }
    }
    if let Some(net) = &p.network {
        a.push("--unshare-net".into());
        bind(&mut a, "--ro-bind", net.relay, net.relay);
        // At its own path (under the hidden data dir, so the mount point can be made there); a
        // folder, so a renewed link inside it is seen.
        bind(&mut a, "--bind", net.proxy_socket_mount, net.proxy_socket_mount);
    }
    a.push("--chdir".into());
    a.push(p.worktree.to_string_lossy().into_owned());
    a.push("--".into());
    a
}

/// Expand the configured hidden places against the user's HOME: `~/x` is under `user_home`,
/// `x*` every entry of its folder whose name starts with `x`. Absolute paths are kept; relative
/// ones (other than `~/`) are ignored as meaningless.
pub fn expand_hidden(patterns: &[String], user_home: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for pattern in patterns {
        let path = match pattern.strip_prefix("~/") {
            Some(rest) => user_home.join(rest),
            None if pattern.starts_with('/') => PathBuf::from(pattern),
            None => continue,
        };
        let text = path.to_string_lossy();
        match text.strip_suffix('*') {
            Some(prefix) => {
                let prefix = Path::new(prefix);
                let (Some(dir), Some(start)) = (prefix.parent(), prefix.file_name()) else { continue };
                let start = start.to_string_lossy();
                let Ok(entries) = std::fs::read_dir(dir) else { continue };
                let mut found: Vec<PathBuf> = entries
                    .filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().starts_with(start.as_ref()))
                    .map(|e| e.path())
                    .collect();
                found.sort();
                out.extend(found);
            }
            None => out.push(path),
        }
    }
    out
}

/// Does bubblewrap work here, with the namespaces the sandbox uses? `Err` says why not.
pub async fn probe(bwrap: &Path) -> Result<String, String> {
    let out = tokio::process::Command::new(bwrap)
        .args(["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-pid", "--unshare-net"])
        .args(["--", "/bin/true"])
        .env_clear()
        .output()
        .await
        .map_err(|e| {
            format!("cannot run {}: {e}; install bubblewrap (`apt-get install bubblewrap`)", bwrap.display())
        })?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(format!(
            "bubblewrap cannot create namespaces here ({why}): allow unprivileged user namespaces \
             (sysctl kernel.unprivileged_userns_clone=1) or use --sandbox off"
        ));
    }
    let version = tokio::process::Command::new(bwrap).arg("--version").env_clear().output().await;
    Ok(version.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pos(args: &[String], seq: &[&str]) -> Option<usize> {
        args.windows(seq.len()).position(|w| w.iter().zip(seq).all(|(a, b)| a == b))
    }

    #[test]
    fn hidden_places_expand_home_and_prefixes() {
        let home = tempfile::tempdir().unwrap();
        for d in [".claude", ".claude-work", ".ssh"] {
            std::fs::create_dir(home.path().join(d)).unwrap();
        }
        std::fs::write(home.path().join(".claude.json"), "{}").unwrap();
        let got = expand_hidden(
            &["~/.claude*".into(), "~/.ssh".into(), "/etc/secret".into(), "relative".into()],
            home.path(),
        );
        let h = home.path();
        assert_eq!(
            got,
            vec![
                h.join(".claude"),
                h.join(".claude-work"),
                h.join(".claude.json"),
                h.join(".ssh"),
                PathBuf::from("/etc/secret")
            ]
        );
    }

    #[test]
    fn secrets_are_hidden_before_the_session_paths_are_bound_back() {
        let dir = tempfile::tempdir().unwrap();
        let ssh = dir.path().join(".ssh");
        std::fs::create_dir(&ssh).unwrap();
        let netrc = dir.path().join(".netrc");
        std::fs::write(&netrc, "machine x password y").unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let (wt, home) = (data.join("worktrees/s"), data.join("homes/s"));
        let hidden = vec![ssh.clone(), netrc.clone(), data.clone(), dir.path().join("absent")];
        let socket = data.join("proxy.sock");
        let p = SandboxPlan {
            bwrap: Path::new("/usr/bin/bwrap"),
            worktree: &wt,
            home: &home,
            git_dir: None,
            hidden: &hidden,
            network: Some(NetworkPlan { relay: Path::new("/bin/relay"), proxy_socket_mount: &socket }),
        };
        let a = bwrap_args(&p);
        let s = |p: &Path| p.to_string_lossy().into_owned();
        let hide_data = pos(&a, &["--tmpfs", &s(&data)]).unwrap();
        let bind_wt = pos(&a, &["--bind", &s(&wt), &s(&wt)]).unwrap();
        assert!(hide_data < bind_wt, "{a:?}");
        assert!(pos(&a, &["--tmpfs", &s(&ssh)]).is_some());
        assert!(pos(&a, &["--ro-bind", "/dev/null", &s(&netrc)]).is_some());
        assert!(!a.iter().any(|x| x.contains("absent")), "a missing path is not mounted over");
        let bind_sock = pos(&a, &["--bind", &s(&socket), &s(&socket)]).unwrap();
        assert!(hide_data < bind_sock, "{a:?}");
        assert!(a.contains(&"--unshare-net".to_string()));
        assert_eq!(a.last().map(String::as_str), Some("--"));
        let no_net = bwrap_args(&SandboxPlan { network: None, ..p });
        assert!(!no_net.contains(&"--unshare-net".to_string()));
    }
}
