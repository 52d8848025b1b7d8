//! The proxy crate's setup errors. Per-request failures become HTTP answers
//! to the session (see `server`), never errors here.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// A setting is wrong; the message says which and how to fix it.
    #[error("proxy configuration: {0}")]
    Config(String),
    #[error("proxy cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    /// A file or folder the proxy keeps (its CA) cannot be read or made.
    #[error("{}: {reason}", path.display())]
    Files { path: PathBuf, reason: String },
}
