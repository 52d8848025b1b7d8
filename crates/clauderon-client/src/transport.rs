//! One HTTP/1.1 exchange on a fresh connection: over the Unix socket, or TCP.

use crate::{ClientError, Endpoint};
use http_body_util::{BodyExt, Full, Limited};
use hyper::Method;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use std::io;
use std::time::Duration;

/// Replies larger than this are refused (a session list with thousands of sessions is ~1 MiB).
const MAX_REPLY_BYTES: usize = 32 * 1024 * 1024;

pub(crate) struct Reply {
    pub status: u16,
    pub body: Bytes,
}

pub(crate) struct Exchange<'a> {
    pub method: Method,
    /// Path and query, e.g. `/api/sessions?view=all`.
    pub target: &'a str,
    /// The media type asked for: JSON, except for the CA certificate.
    pub accept: &'static str,
    /// A JSON body.
    pub body: Option<Vec<u8>>,
    pub connect_timeout: Duration,
    /// For the whole exchange, connecting included.
    pub timeout: Duration,
}

trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static> Io for T {}

/// Refused or absent means nobody is there; anything else is a problem to show as it is.
pub(crate) fn connect_error(endpoint: &Endpoint, e: &io::Error) -> ClientError {
    let not_running = |reason: String| ClientError::DaemonNotRunning { endpoint: endpoint.clone(), reason };
    match (endpoint, e.kind()) {
        (Endpoint::Unix(path), io::ErrorKind::NotFound) => {
            not_running(format!("no socket at {}", path.display()))
        }
        (Endpoint::Unix(path), io::ErrorKind::ConnectionRefused) => {
            not_running(format!("nothing listens on {}", path.display()))
        }
        (Endpoint::Http { authority, .. }, io::ErrorKind::ConnectionRefused) => {
            not_running(format!("nothing listens on {authority}"))
        }
        _ => ClientError::Unreachable { endpoint: endpoint.clone(), reason: e.to_string() },
    }
}

async fn connect(endpoint: &Endpoint, timeout: Duration) -> Result<Box<dyn Io>, ClientError> {
    let attempt = async {
        match endpoint {
            Endpoint::Unix(path) => {
                tokio::net::UnixStream::connect(path).await.map(|s| Box::new(s) as Box<dyn Io>)
            }
            Endpoint::Http { authority, .. } => {
                tokio::net::TcpStream::connect(authority.as_str()).await.map(|s| Box::new(s) as Box<dyn Io>)
            }
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(io)) => Ok(io),
        Ok(Err(e)) => Err(connect_error(endpoint, &e)),
        Err(_) => Err(ClientError::Unreachable {
            endpoint: endpoint.clone(),
            reason: format!("connecting timed out after {timeout:?}"),
        }),
    }
}

fn build_request(
    endpoint: &Endpoint,
    x: &mut Exchange<'_>,
) -> Result<hyper::Request<Full<Bytes>>, ClientError> {
    let host = match endpoint {
        Endpoint::Unix(_) => "localhost",
        Endpoint::Http { authority, .. } => authority.as_str(),
    };
    let mut builder = hyper::Request::builder()
        .method(x.method.clone())
        .uri(x.target)
        .header(hyper::header::HOST, host)
        .header(hyper::header::ACCEPT, x.accept)
        .header(hyper::header::USER_AGENT, concat!("clauderon/", env!("CARGO_PKG_VERSION")));
    // Only over TCP: on the socket, file permissions are the access control.
    if let Endpoint::Http { token: Some(token), .. } = endpoint {
        builder = builder.header(hyper::header::AUTHORIZATION, format!("Bearer {}", token.expose()));
    }
    if x.body.is_some() {
        builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
    }
    builder
        .body(Full::new(Bytes::from(x.body.take().unwrap_or_default())))
        .map_err(|e| ClientError::Protocol(format!("cannot build the request: {e}")))
}

pub(crate) async fn send(endpoint: &Endpoint, mut x: Exchange<'_>) -> Result<Reply, ClientError> {
    let request = build_request(endpoint, &mut x)?;
    let exchange = async {
        let io = connect(endpoint, x.connect_timeout).await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        // Drives the connection; it ends when the sender and the response are dropped.
        tokio::spawn(conn);
        let response =
            sender.send_request(request).await.map_err(|e| ClientError::Protocol(e.to_string()))?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_REPLY_BYTES)
            .collect()
            .await
            .map_err(|e| ClientError::Protocol(format!("reading the reply: {e}")))?
            .to_bytes();
        Ok(Reply { status, body })
    };
    tokio::time::timeout(x.timeout, exchange).await.map_err(|_| ClientError::Timeout(x.timeout))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn refused_or_absent_means_not_running_and_other_errors_do_not() {
        let sock = Endpoint::Unix(PathBuf::from("/d/clauderon.sock"));
        let http = Endpoint::Http { authority: "127.0.0.1:9".into(), token: None };
        let kind = |k: io::ErrorKind| io::Error::from(k);
        let msg = connect_error(&sock, &kind(io::ErrorKind::NotFound)).to_string();
        assert!(
            msg.contains("no socket at /d/clauderon.sock") && msg.contains("`clauderon daemon`"),
            "{msg}"
        );
        let msg = connect_error(&sock, &kind(io::ErrorKind::ConnectionRefused)).to_string();
        assert!(msg.contains("nothing listens on /d/clauderon.sock"), "{msg}");
        let msg = connect_error(&http, &kind(io::ErrorKind::ConnectionRefused)).to_string();
        assert!(msg.contains("not running (nothing listens on 127.0.0.1:9)"), "{msg}");
        let err = connect_error(&sock, &kind(io::ErrorKind::PermissionDenied));
        assert!(matches!(err, ClientError::Unreachable { .. }), "{err}");
        assert!(
            err.to_string().starts_with("cannot reach the clauderon daemon at /d/clauderon.sock"),
            "{err}"
        );
    }
}
