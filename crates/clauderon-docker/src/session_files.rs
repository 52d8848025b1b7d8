//! The files clauderon writes on the host for a session's container: the shared trust files and
//! gitconfig ([`write_trust_files`]) and the entrypoint beside them; the agent's settings come
//! from `SessionBackend::prepare_start`. The files in the session's HOME go through `clauderon-fs`: no link a
//! session planted there is followed.

use crate::engine;
use crate::plan::ENTRYPOINT_SCRIPT;
use clauderon_backend::session_files::{write_clauderon_file, write_trust_files};
use clauderon_backend::{BackendError, SessionSpec};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

pub struct Written {
    /// The host user, as the owner of the session's HOME (the daemon made it).
    pub uid: u32,
    pub gid: u32,
    /// The host has a system bundle, so the session's bundle may replace the image's store.
    pub system_bundle: bool,
}

pub async fn write(spec: &SessionSpec) -> Result<Written, BackendError> {
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
    // The CA alone and as a bundle, and the gitconfig: the same for every backend.
    let trust = write_trust_files(spec)?;
    write_clauderon_file(spec, "entrypoint.sh", ENTRYPOINT_SCRIPT.as_bytes(), 0o644)?;
    Ok(Written { uid: meta.uid(), gid: meta.gid(), system_bundle: trust.system_roots })
}
