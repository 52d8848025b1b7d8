//! The typed client of the daemon's HTTP API. One API, two transports: the
//! Unix socket in the data dir (default) or HTTP to `--url`.

use clauderon_types::api::{
    CreateSessionRequest, DeleteQuery, ErrorBody, Health, ListView, SessionDetail, SessionList,
    SetAccessModeRequest, VersionInfo,
};
use clauderon_types::{AccessMode, DataLayout, Session};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Creating or deleting a session may build an image or stop a container.
const SLOW_REQUEST_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Where the daemon is.
#[derive(Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    /// `host:port`, and the API token to send, if any.
    Http {
        authority: String,
        token: Option<String>,
    },
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "Unix({})", p.display()),
            Endpoint::Http { authority, token } => {
                write!(f, "Http({authority}, token: {})", if token.is_some() { "***" } else { "none" })
            }
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "{}", p.display()),
            Endpoint::Http { authority, .. } => write!(f, "http://{authority}"),
        }
    }
}

impl Endpoint {
    /// `http://host:port` (a trailing `/` allowed) to an endpoint.
    pub fn from_url(url: &str, token: Option<String>) -> Result<Self, ClientError> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            ClientError::Usage(format!("`{url}` is not an http:// URL (e.g. http://127.0.0.1:3030)"))
        })?;
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            return Err(ClientError::Usage(format!("`{url}` should be just http://HOST:PORT")));
        }
        Ok(Endpoint::Http { authority: authority.to_string(), token })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the clauderon daemon is not running ({where_}): start it with `clauderon daemon`")]
    DaemonNotRunning { where_: String },
    /// The daemon answered with an error; its message is for the user.
    #[error("{}", body.message)]
    Api { status: u16, body: ErrorBody },
    #[error("unexpected reply from the daemon: {0}")]
    Protocol(String),
    #[error("the daemon did not answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Usage(String),
}

impl ClientError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Client {
    endpoint: Endpoint,
}

fn query_string(pairs: &[(&str, String)]) -> String {
    let parts: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) }
}

impl Client {
    pub fn new(endpoint: Endpoint) -> Self {
        Client { endpoint }
    }

    /// `CLAUDERON_URL` (+ `CLAUDERON_API_TOKEN`) when set, else the socket in `layout`.
    pub fn from_env(layout: &DataLayout) -> Result<Self, ClientError> {
        match std::env::var("CLAUDERON_URL").ok().filter(|u| !u.is_empty()) {
            Some(url) => {
                Ok(Client::new(Endpoint::from_url(&url, std::env::var("CLAUDERON_API_TOKEN").ok())?))
            }
            None => Ok(Client::new(Endpoint::Unix(layout.socket()))),
        }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    async fn send_raw(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        timeout: Duration,
    ) -> Result<(u16, Bytes), ClientError> {
        let not_running = |detail: String| ClientError::DaemonNotRunning { where_: detail };
        let host = match &self.endpoint {
            Endpoint::Unix(_) => "localhost".to_string(),
            Endpoint::Http { authority, .. } => authority.clone(),
        };
        let mut builder = hyper::Request::builder().method(method).uri(path).header("host", host);
        if let Endpoint::Http { token: Some(token), .. } = &self.endpoint {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        if body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        let request = builder
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| ClientError::Usage(format!("bad request: {e}")))?;

        let exchange = async {
            let connect = async {
                match &self.endpoint {
                    Endpoint::Unix(path) => tokio::net::UnixStream::connect(path)
                        .await
                        .map(|s| Box::new(s) as Box<dyn Io>)
                        .map_err(|_| not_running(format!("no socket at {}", path.display()))),
                    Endpoint::Http { authority, .. } => tokio::net::TcpStream::connect(authority.as_str())
                        .await
                        .map(|s| Box::new(s) as Box<dyn Io>)
                        .map_err(|e| not_running(format!("cannot connect to {authority}: {e}"))),
                }
            };
            let io = tokio::time::timeout(CONNECT_TIMEOUT, connect)
                .await
                .map_err(|_| not_running(format!("connecting to {} timed out", self.endpoint)))??;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
                .await
                .map_err(|e| ClientError::Protocol(e.to_string()))?;
            tokio::spawn(conn);
            let resp =
                sender.send_request(request).await.map_err(|e| ClientError::Protocol(e.to_string()))?;
            let status = resp.status().as_u16();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| ClientError::Protocol(e.to_string()))?
                .to_bytes();
            Ok((status, bytes))
        };
        tokio::time::timeout(timeout, exchange).await.map_err(|_| ClientError::Timeout(timeout))?
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&impl Serialize>,
        timeout: Duration,
    ) -> Result<T, ClientError> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| ClientError::Usage(format!("encoding the request: {e}")))?;
        let (status, bytes) = self.send_raw(method, path, body, timeout).await?;
        if (200..300).contains(&status) {
            serde_json::from_slice(&bytes)
                .map_err(|e| ClientError::Protocol(format!("{e} (status {status})")))
        } else {
            let body = serde_json::from_slice::<ErrorBody>(&bytes).unwrap_or_else(|_| ErrorBody {
                error: "http".into(),
                message: format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes).trim()),
            });
            Err(ClientError::Api { status, body })
        }
    }

    pub async fn health(&self) -> Result<Health, ClientError> {
        self.call("GET", "/api/health", None::<&()>, REQUEST_TIMEOUT).await
    }

    pub async fn version(&self) -> Result<VersionInfo, ClientError> {
        self.call("GET", "/api/version", None::<&()>, REQUEST_TIMEOUT).await
    }

    pub async fn list(&self, view: ListView) -> Result<SessionList, ClientError> {
        let view = match view {
            ListView::Active => "active",
            ListView::Archived => "archived",
            ListView::All => "all",
        };
        self.call("GET", &format!("/api/sessions?view={view}"), None::<&()>, REQUEST_TIMEOUT).await
    }

    pub async fn create(&self, req: &CreateSessionRequest) -> Result<Session, ClientError> {
        self.call("POST", "/api/sessions", Some(req), SLOW_REQUEST_TIMEOUT).await
    }

    pub async fn get(&self, name: &str) -> Result<SessionDetail, ClientError> {
        self.call("GET", &format!("/api/sessions/{}", segment(name)?), None::<&()>, REQUEST_TIMEOUT).await
    }

    pub async fn delete(&self, name: &str, q: &DeleteQuery) -> Result<Session, ClientError> {
        let mut pairs = Vec::new();
        if q.force {
            pairs.push(("force", "true".to_string()));
        }
        if q.delete_branch {
            pairs.push(("delete_branch", "true".to_string()));
        }
        let path = format!("/api/sessions/{}{}", segment(name)?, query_string(&pairs));
        self.call("DELETE", &path, None::<&()>, SLOW_REQUEST_TIMEOUT).await
    }

    pub async fn archive(&self, name: &str) -> Result<Session, ClientError> {
        self.call("POST", &format!("/api/sessions/{}/archive", segment(name)?), None::<&()>, REQUEST_TIMEOUT)
            .await
    }

    pub async fn unarchive(&self, name: &str) -> Result<Session, ClientError> {
        self.call(
            "POST",
            &format!("/api/sessions/{}/unarchive", segment(name)?),
            None::<&()>,
            REQUEST_TIMEOUT,
        )
        .await
    }

    pub async fn set_access_mode(&self, name: &str, mode: AccessMode) -> Result<Session, ClientError> {
        let path = format!("/api/sessions/{}/access-mode", segment(name)?);
        self.call("PUT", &path, Some(&SetAccessModeRequest { mode }), REQUEST_TIMEOUT).await
    }
}

/// A session name as a path segment: validated here so a typo never turns into another route.
fn segment(name: &str) -> Result<&str, ClientError> {
    clauderon_types::SessionName::parse(name).map_err(|e| ClientError::Usage(e.to_string()))?;
    Ok(name)
}

trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static> Io for T {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_debug() {
        let e = Endpoint::from_url("http://127.0.0.1:3030/", Some("secret-token-value".into())).unwrap();
        assert_eq!(
            e,
            Endpoint::Http { authority: "127.0.0.1:3030".into(), token: Some("secret-token-value".into()) }
        );
        assert!(!format!("{e:?}").contains("secret"));
        assert!(Endpoint::from_url("https://x", None).is_err());
        assert!(Endpoint::from_url("http://x/api", None).is_err());
    }

    #[tokio::test]
    async fn missing_socket_says_how_to_start_the_daemon() {
        let dir = tempfile_dir();
        let client = Client::new(Endpoint::Unix(dir.join("clauderon.sock")));
        let err = client.health().await.unwrap_err().to_string();
        assert!(err.contains("not running"), "{err}");
        assert!(err.contains("clauderon daemon"), "{err}");
    }

    #[tokio::test]
    async fn bad_names_never_reach_the_wire() {
        let client = Client::new(Endpoint::Unix(PathBuf::from("/nonexistent/sock")));
        let err = client.get("../health").await.unwrap_err();
        assert!(matches!(err, ClientError::Usage(_)), "{err}");
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("clauderon-client-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        dir
    }
}
