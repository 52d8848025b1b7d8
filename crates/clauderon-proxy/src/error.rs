//! The proxy crate's setup errors. Per-request failures become HTTP answers
//! to the session (see `server`), never errors here.

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// A setting is wrong; the message says which and how to fix it.
    #[error("proxy configuration: {0}")]
    Config(String),
    #[error("proxy cannot listen on {addr}: {reason}")]
    Bind { addr: String, reason: String },
}
