//! The bubblewrap sandbox around a session's process, built from an allowlist: the session sees
//! the system's folders and the toolchains on its PATH read-only ([`exposed_places`]), its
//! worktree and HOME writable, the repository's git objects and its own branch and worktree
//! metadata writable with everything that decides what git runs read-only
//! ([`clauderon_backend::host_git::mounts`]) — and nothing else of the host: not the user's
//! HOME, other checkouts or shell files, not `/run`, `/var` or `/tmp` (so no host Unix socket:
//! Docker, D-Bus, ssh-agent, X11, clauderon's own), not the data dir. Secret places inside an
//! exposed folder (`~/.cargo/credentials.toml`, `/etc/shadow`) are replaced by empty ones.
//! A private `/proc` (no other process's environment), its own `/tmp`.
//!
//! `fs`: that, on the host's network. `full`: plus a network namespace with only loopback, where
//! the relay listens on the proxy's port and forwards each connection to the proxy's Unix socket,
//! bound in from the host.

use clauderon_backend::host_git::GitMounts;
use std::path::{Component, Path, PathBuf};

/// The system's folders a session sees, read-only (those that exist).
pub const SYSTEM_PLACES: &[&str] =
    &["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt", "/sys", "/nix"];

/// Toolchains kept in the user's HOME that a session sees read-only when they exist (their
/// `bin` folders are usually on PATH, and what those run lives beside them).
pub const HOME_TOOLCHAINS: &[&str] = &[
    "~/.rustup",
    "~/.cargo",
    "~/.pyenv",
    "~/.nvm",
    "~/.volta",
    "~/.bun",
    "~/.deno",
    "~/.local/bin",
    "~/.local/lib",
    "~/go",
    "~/.sdkman",
    "~/.asdf",
];

/// The user's secret places hidden by default (`~` is the user's HOME; a trailing `*` matches
/// every entry of the folder that starts with the rest). Most of the user's HOME is not in the
/// sandbox at all; these matter where an exposed folder holds them, and for `[zellij] expose`.
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
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/shadow-",
    "/etc/gshadow-",
    "/etc/ssh",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/docker",
    "/etc/clauderon",
];

/// What the sandbox is built from, decided by the backend for one session.
#[derive(Debug, Clone)]
pub struct SandboxPlan<'a> {
    pub bwrap: &'a Path,
    pub worktree: &'a Path,
    pub home: &'a Path,
    /// What of the repository's git dir the session gets (`None`: none of it).
    pub git: Option<&'a GitMounts>,
    /// Host places the session sees read-only ([`exposed_places`]).
    pub exposed: &'a [PathBuf],
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
    // bwrap starts from an empty root: only what is mounted below exists.
    push(&["--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]);
    for place in p.exposed {
        let s = place.to_string_lossy();
        match std::fs::symlink_metadata(place) {
            // `/bin -> usr/bin` on merged-/usr systems: the same link, so paths resolve as on the host.
            Ok(m) if m.file_type().is_symlink() => match std::fs::read_link(place) {
                Ok(target) if target.is_relative() => push(&["--symlink", &target.to_string_lossy(), &s]),
                _ => push(&["--ro-bind", &s, &s]),
            },
            Ok(_) => push(&["--ro-bind", &s, &s]),
            Err(_) => {}
        }
    }
    push(&["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/var/tmp"]);
    for path in p.hidden {
        let s = path.to_string_lossy();
        if !p.exposed.iter().any(|e| path.starts_with(e)) {
            continue; // not in the sandbox anyway
        }
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
    if let Some(git) = p.git {
        bind(&mut a, "--ro-bind", &git.common_dir, &git.common_dir);
        for path in &git.writable {
            bind(&mut a, "--bind", path, path);
        }
        for path in &git.read_only {
            bind(&mut a, "--ro-bind", path, path);
        }
    } else {
        // Without the repository's git dir the worktree's `.git` file still must not move.
        let dot_git = p.worktree.join(".git");
        if dot_git.exists() {
            bind(&mut a, "--ro-bind", &dot_git, &dot_git);
        }
    }
    if let Some(net) = &p.network {
        a.push("--unshare-net".into());
        bind(&mut a, "--ro-bind", net.relay, net.relay);
        // At its own path (the data dir is not in the sandbox, so the mount point is made in the
        // sandbox's own root); a folder, so a renewed link inside it is seen.
        bind(&mut a, "--bind", net.proxy_socket_mount, net.proxy_socket_mount);
    }
    // Nothing new appears at the top of the sandbox's own root.
    a.push("--remount-ro".into());
    a.push("/".into());
    a.push("--chdir".into());
    a.push(p.worktree.to_string_lossy().into_owned());
    a.push("--".into());
    a
}

/// The host places a session sees read-only: [`SYSTEM_PLACES`], each folder of the daemon's
/// PATH (the prefix above it when it is a `bin` folder, so what its programs link to is there),
/// the [`HOME_TOOLCHAINS`] that exist, and the user's own additions (`[zellij] expose`, `~/`
/// allowed). Never a place that contains the user's HOME, the data dir or the repository (a
/// PATH of `.` or `~` does not expose them), nor anything relative.
pub fn exposed_places(
    path_var: Option<&str>,
    user_home: Option<&Path>,
    extra: &[String],
    never_above: &[&Path],
) -> Vec<PathBuf> {
    let too_wide = |place: &Path| place == Path::new("/") || never_above.iter().any(|p| p.starts_with(place));
    let mut out: Vec<PathBuf> = SYSTEM_PLACES.iter().map(PathBuf::from).collect();
    for dir in path_var.unwrap_or("").split(':').filter(|d| d.starts_with('/')) {
        let dir = Path::new(dir);
        let prefix = match (dir.file_name().and_then(|n| n.to_str()), dir.parent()) {
            (Some("bin" | "sbin" | ".bin" | "shims"), Some(parent)) if !too_wide(parent) => parent,
            _ => dir,
        };
        out.push(prefix.to_path_buf());
    }
    // Name resolution for `fs` sandboxes where /etc/resolv.conf links into /run: that file only.
    if let Ok(resolv) = std::fs::canonicalize("/etc/resolv.conf")
        && !resolv.starts_with("/etc")
    {
        out.push(resolv);
    }
    let home_relative = HOME_TOOLCHAINS.iter().map(|s| (*s).to_string()).chain(extra.iter().cloned());
    for pattern in home_relative {
        match (pattern.strip_prefix("~/"), user_home) {
            (Some(rest), Some(home)) => out.push(home.join(rest)),
            (None, _) if pattern.starts_with('/') => out.push(PathBuf::from(pattern)),
            _ => {}
        }
    }
    let mut kept: Vec<PathBuf> = Vec::new();
    for place in out {
        let normal = place.components().all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
        let covered = kept.iter().any(|k| place.starts_with(k));
        if normal && !too_wide(&place) && !covered && std::fs::symlink_metadata(&place).is_ok() {
            kept.retain(|k| !k.starts_with(&place));
            kept.push(place);
        }
    }
    kept
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
pub async fn probe(bwrap: &Path) -> Result<String, crate::ZellijError> {
    let out = tokio::process::Command::new(bwrap)
        .args(["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-pid", "--unshare-net"])
        .args(["--", "/bin/true"])
        .env_clear()
        .output()
        .await
        .map_err(|e| {
            crate::ZellijError::Sandbox(format!(
                "cannot run {}: {e}; install bubblewrap (`apt-get install bubblewrap`)",
                bwrap.display()
            ))
        })?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(crate::ZellijError::Sandbox(format!(
            "bubblewrap cannot create namespaces here ({why}): allow unprivileged user namespaces \
             (sysctl kernel.unprivileged_userns_clone=1) or use --sandbox off"
        )));
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
    fn the_sandbox_holds_only_exposed_places_and_the_sessions_own() {
        let dir = tempfile::tempdir().unwrap();
        let tools = dir.path().join("tools");
        let creds = tools.join("credentials.toml");
        std::fs::create_dir(&tools).unwrap();
        std::fs::write(&creds, "token = \"x\"").unwrap();
        let ssh = dir.path().join(".ssh");
        std::fs::create_dir(&ssh).unwrap();
        let data = dir.path().join("data");
        let (wt, home) = (data.join("worktrees/s"), data.join("homes/s"));
        std::fs::create_dir_all(&wt).unwrap();
        std::fs::write(wt.join(".git"), "gitdir: /r/.git/worktrees/s").unwrap();
        let hidden = vec![ssh.clone(), creds.clone(), data.clone(), dir.path().join("absent")];
        let exposed = vec![tools.clone()];
        let socket = data.join("proxy");
        let p = SandboxPlan {
            bwrap: Path::new("/usr/bin/bwrap"),
            worktree: &wt,
            home: &home,
            git: None,
            exposed: &exposed,
            hidden: &hidden,
            network: Some(NetworkPlan { relay: Path::new("/bin/relay"), proxy_socket_mount: &socket }),
        };
        let a = bwrap_args(&p);
        let s = |p: &Path| p.to_string_lossy().into_owned();
        assert!(pos(&a, &["--remount-ro", "/"]).is_some(), "{a:?}");
        assert!(pos(&a, &["--ro-bind", "/", "/"]).is_none(), "the host's root is not in the sandbox");
        let expose = pos(&a, &["--ro-bind", &s(&tools), &s(&tools)]).unwrap();
        let hide = pos(&a, &["--ro-bind", "/dev/null", &s(&creds)]).unwrap();
        assert!(expose < hide, "{a:?}");
        assert!(pos(&a, &["--tmpfs", &s(&ssh)]).is_none(), "not exposed, so nothing to hide: {a:?}");
        assert!(pos(&a, &["--tmpfs", &s(&data)]).is_none());
        assert!(!a.iter().any(|x| x.contains("absent")));
        let bind_wt = pos(&a, &["--bind", &s(&wt), &s(&wt)]).unwrap();
        let ro_git = pos(&a, &["--ro-bind", &s(&wt.join(".git")), &s(&wt.join(".git"))]).unwrap();
        assert!(bind_wt < ro_git, "the worktree's .git file is read-only over the worktree: {a:?}");
        assert!(pos(&a, &["--bind", &s(&socket), &s(&socket)]).is_some());
        assert!(a.contains(&"--unshare-net".to_string()));
        assert_eq!(a.last().map(String::as_str), Some("--"));
        let no_net = bwrap_args(&SandboxPlan { network: None, ..p });
        assert!(!no_net.contains(&"--unshare-net".to_string()));
    }

    #[test]
    fn git_dirs_are_read_only_but_for_objects_branches_and_the_worktrees_own_metadata() {
        let (wt, home) = (PathBuf::from("/d/worktrees/s"), PathBuf::from("/d/homes/s"));
        let git = GitMounts {
            common_dir: "/r/.git".into(),
            writable: vec!["/r/.git/objects".into(), "/r/.git/worktrees/s".into()],
            read_only: vec!["/r/.git/worktrees/s/commondir".into(), "/d/worktrees/s/.git".into()],
        };
        let p = SandboxPlan {
            bwrap: Path::new("/usr/bin/bwrap"),
            worktree: &wt,
            home: &home,
            git: Some(&git),
            exposed: &[],
            hidden: &[],
            network: None,
        };
        let a = bwrap_args(&p);
        let common = pos(&a, &["--ro-bind", "/r/.git", "/r/.git"]).unwrap();
        let objects = pos(&a, &["--bind", "/r/.git/objects", "/r/.git/objects"]).unwrap();
        let meta = pos(&a, &["--bind", "/r/.git/worktrees/s", "/r/.git/worktrees/s"]).unwrap();
        let commondir =
            pos(&a, &["--ro-bind", "/r/.git/worktrees/s/commondir", "/r/.git/worktrees/s/commondir"])
                .unwrap();
        let dot_git = pos(&a, &["--ro-bind", "/d/worktrees/s/.git", "/d/worktrees/s/.git"]).unwrap();
        let worktree = pos(&a, &["--bind", "/d/worktrees/s", "/d/worktrees/s"]).unwrap();
        assert!(worktree < common && common < objects && objects < meta && meta < commondir, "{a:?}");
        assert!(worktree < dot_git, "{a:?}");
    }

    #[test]
    fn exposed_places_take_path_prefixes_but_never_home_data_or_root() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let data = home.join(".clauderon");
        for d in [".cargo/bin", "bin", ".rustup", ".local/bin", "node/lib/node_modules/.bin"] {
            std::fs::create_dir_all(home.join(d)).unwrap();
        }
        std::fs::create_dir_all(&data).unwrap();
        let path = [
            home.join(".cargo/bin"),
            home.join("bin"),
            home.join("node/lib/node_modules/.bin"),
            home.clone(),
            PathBuf::from("/bin"),
            PathBuf::from("/usr/local/bin"),
        ]
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .chain([".".to_string(), "relative/bin".to_string()])
        .collect::<Vec<_>>()
        .join(":");
        let got = exposed_places(Some(&path), Some(&home), &["~/.ssh-not-there".into()], &[&home, &data]);
        assert!(got.contains(&home.join(".cargo")), "{got:?}");
        assert!(got.contains(&home.join("bin")), "a bin folder right in HOME is exposed alone: {got:?}");
        assert!(got.contains(&home.join("node/lib/node_modules")), "{got:?}");
        assert!(got.contains(&home.join(".rustup")) && got.contains(&home.join(".local/bin")), "{got:?}");
        assert!(!got.contains(&home), "{got:?}");
        assert!(!got.iter().any(|p| p == Path::new("/") || p.is_relative()), "{got:?}");
        assert!(!got.iter().any(|p| p.starts_with("/usr/local")), "covered by /usr: {got:?}");
        assert!(got.contains(&PathBuf::from("/usr")), "{got:?}");
    }
}
