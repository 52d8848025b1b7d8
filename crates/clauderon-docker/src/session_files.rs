//! The files clauderon writes on the host for a session's container: its CA (alone and as a
//! bundle with the system roots), the entrypoint, the git settings in its HOME, and an empty
//! hooks folder in the repository's git dir so it can be mounted read-only.

use crate::engine;
use crate::plan::{self, ENTRYPOINT_SCRIPT};
use clauderon_backend::env::{ca_bundle, gitconfig, host_git_identity};
use clauderon_backend::{BackendError, SessionSpec};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

pub(crate) struct Written {
    /// The host user, as the owner of the session's HOME (the daemon made it).
    pub uid: u32,
    pub gid: u32,
    /// The host has a system bundle, so the session's bundle may replace the image's store.
    pub system_bundle: bool,
}

pub(crate) async fn write(spec: &SessionSpec) -> Result<Written, BackendError> {
    let spec = spec.clone();
    tokio::task::spawn_blocking(move || write_blocking(&spec))
        .await
        .map_err(|e| engine::error(format!("writing the session's files: {e}")))?
}

fn io(what: &str, path: &Path) -> impl Fn(std::io::Error) -> BackendError {
    let msg = format!("{what} {}", path.display());
    move |e| engine::error(format!("{msg}: {e}"))
}

fn write_blocking(spec: &SessionSpec) -> Result<Written, BackendError> {
    let meta = std::fs::metadata(&spec.home).map_err(io("reading the session's home", &spec.home))?;
    let dir = plan::files_dir(spec);
    std::fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
    // The container's user reads these; nothing in them is secret (the CA key stays with the daemon).
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
        .map_err(io("setting modes of", &dir))?;
    let ca = std::fs::read_to_string(&spec.proxy.ca_cert).unwrap_or_default();
    let bundle = ca_bundle(&ca);
    let system_bundle = bundle.len() > ca.len();
    for (name, text) in
        [("ca.pem", ca.as_str()), ("ca-bundle.pem", bundle.as_str()), ("entrypoint.sh", ENTRYPOINT_SCRIPT)]
    {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(io("writing", &path))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .map_err(io("setting modes of", &path))?;
    }
    let gitconfig_path = spec.home.join(".gitconfig");
    if !gitconfig_path.exists() {
        let (name, email) = host_git_identity(&spec.repo);
        std::fs::write(&gitconfig_path, gitconfig(name.as_deref(), email.as_deref()))
            .map_err(io("writing", &gitconfig_path))?;
    }
    if let Some(git) = plan::git_common_dir(&spec.repo) {
        let hooks = git.join("hooks");
        if !hooks.exists() {
            std::fs::create_dir_all(&hooks).map_err(io("creating", &hooks))?;
        }
        let config = git.join("config");
        if !config.is_file() {
            return Err(engine::error(format!(
                "{} is missing: is {} a git repository?",
                config.display(),
                spec.repo.display()
            )));
        }
    }
    Ok(Written { uid: meta.uid(), gid: meta.gid(), system_bundle })
}
