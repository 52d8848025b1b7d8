//! The engine connection (DOCKER_HOST honoured, API version agreed once) and the mapping of its
//! errors to the backend's, with messages that say what to do.

use bollard::Docker;
use bollard::errors::Error;
use clauderon_backend::{BackendError, BackendHandle};
use clauderon_types::BackendKind;
use tokio::sync::Mutex;

const NOT_RUNNING: &str = "Docker is not running or not reachable: start it (`sudo systemctl start docker`, \
     or `dockerd`), check DOCKER_HOST, or pick `--backend zellij`";

pub(crate) struct Engine {
    /// `unix:///path` or `tcp://host:port`; `None`: DOCKER_HOST, else the local socket.
    host: Option<String>,
    /// The client once the engine has answered; tried again on every call until then, so a
    /// daemon started before Docker picks it up later.
    negotiated: Mutex<Option<Docker>>,
}

impl Engine {
    pub(crate) fn new(host: Option<String>) -> Self {
        Engine { host, negotiated: Mutex::new(None) }
    }

    fn connect(&self) -> Result<Docker, Error> {
        const TIMEOUT_SECS: u64 = 120;
        match self.host.as_deref() {
            None => Docker::connect_with_defaults(),
            Some(h) if h.starts_with("unix://") => {
                Docker::connect_with_unix(h, TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
            }
            Some(h) => Docker::connect_with_http(h, TIMEOUT_SECS, bollard::API_DEFAULT_VERSION),
        }
    }

    /// The client, speaking the newest API version both sides know.
    pub(crate) async fn client(&self) -> Result<Docker, BackendError> {
        let mut slot = self.negotiated.lock().await;
        if let Some(d) = slot.as_ref() {
            return Ok(d.clone());
        }
        let raw = self.connect().map_err(|e| unavailable(&e))?;
        let docker = raw.negotiate_version().await.map_err(|e| unavailable(&e))?;
        *slot = Some(docker.clone());
        Ok(docker)
    }
}

/// The engine answered 404: no such container, image or network.
pub fn is_missing(e: &Error) -> bool {
    matches!(e, Error::DockerResponseServerError { status_code: 404, .. })
}

/// The engine could not be reached at all.
pub fn unavailable(e: &Error) -> BackendError {
    let what = match io_kind(e) {
        _ if matches!(e, Error::SocketNotFoundError(_)) => NO_SOCKET,
        Some(std::io::ErrorKind::NotFound) => NO_SOCKET,
        Some(std::io::ErrorKind::PermissionDenied) => NO_PERMISSION,
        _ => NOT_RUNNING,
    };
    BackendError::Unavailable { backend: BackendKind::Docker, reason: format!("{what} ({e})") }
}

const NO_SOCKET: &str = "Docker is not running (no engine socket): start it (`sudo systemctl start docker`, \
     or `dockerd`; install it with `apt-get install docker.io`), check DOCKER_HOST, or pick `--backend zellij`";
const NO_PERMISSION: &str = "no permission to use the Docker engine's socket: add yourself to the docker group \
     (`sudo usermod -aG docker $USER`, then log in again)";

/// The kind of the IO error under `e`, if one caused it.
fn io_kind(e: &Error) -> Option<std::io::ErrorKind> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        cur = err.source();
    }
    None
}

fn is_connection(e: &Error) -> bool {
    !matches!(
        e,
        Error::DockerResponseServerError { .. }
            | Error::JsonDataError { .. }
            | Error::JsonSerdeError { .. }
            | Error::DockerStreamError { .. }
    )
}

pub(crate) fn error(message: impl Into<String>) -> BackendError {
    BackendError::Failed { backend: BackendKind::Docker, message: message.into() }
}

/// An engine error while doing `what`.
pub(crate) fn map(e: Error, what: &str) -> BackendError {
    match e {
        Error::DockerResponseServerError { message, .. } => error(format!("{what}: {message}")),
        other if is_connection(&other) => unavailable(&other),
        other => error(format!("{what}: {other}")),
    }
}

/// As [`map`], with a 404 meaning the session's container is gone.
pub(crate) fn map_handle(e: Error, handle: &BackendHandle, what: &str) -> BackendError {
    if is_missing(&e) {
        BackendError::NotFound { backend: BackendKind::Docker, handle: handle.as_str().to_string() }
    } else {
        map(e, what)
    }
}

pub(crate) fn failed(what: &'static str) -> impl Fn(Error) -> BackendError {
    move |e| map(e, what)
}
