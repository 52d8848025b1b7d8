//! A raw HTTP/1.1 request with any headers (a test needs to send a forged Host
//! or Origin that a typed client would never send), over TCP or a Unix socket.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::path::Path;

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    /// The response's headers, names in lower case, in order.
    pub headers: Vec<(String, String)>,
}

impl Reply {
    /// The first header of that name (lower case).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("reply is not JSON ({e}): {}", self.body))
    }
}

pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: Vec<(&'a str, String)>,
    pub body: Option<String>,
}

impl<'a> Request<'a> {
    pub fn new(method: &'a str, path: &'a str) -> Self {
        Request { method, path, headers: Vec::new(), body: None }
    }

    pub fn header(mut self, name: &'a str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// `Authorization: Bearer <token>`, what the daemon's TCP listener requires.
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }

    pub fn json(mut self, body: impl Into<String>) -> Self {
        self.headers.push(("content-type", "application/json".into()));
        self.body = Some(body.into());
        self
    }

    fn build(self, default_host: &str) -> hyper::Request<Full<Bytes>> {
        let mut b = hyper::Request::builder().method(self.method).uri(self.path);
        if !self.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            b = b.header("host", default_host);
        }
        for (k, v) in self.headers {
            b = b.header(k, v);
        }
        b.body(Full::new(Bytes::from(self.body.unwrap_or_default())))
            .unwrap_or_else(|e| panic!("building a request: {e}"))
    }
}

async fn exchange<S>(io: S, req: hyper::Request<Full<Bytes>>) -> Reply
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .unwrap_or_else(|e| panic!("handshake: {e}"));
    tokio::spawn(conn);
    let resp = sender.send_request(req).await.unwrap_or_else(|e| panic!("request: {e}"));
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let bytes = resp.into_body().collect().await.unwrap_or_else(|e| panic!("body: {e}")).to_bytes();
    Reply { status, body: String::from_utf8_lossy(&bytes).into_owned(), headers }
}

pub async fn tcp(addr: SocketAddr, req: Request<'_>) -> Reply {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    exchange(stream, req.build(&addr.to_string())).await
}

pub async fn unix(socket: &Path, req: Request<'_>) -> Reply {
    let stream = tokio::net::UnixStream::connect(socket)
        .await
        .unwrap_or_else(|e| panic!("connect {}: {e}", socket.display()));
    exchange(stream, req.build("localhost")).await
}

/// A WebSocket handshake request for `ws://addr/path`, with `Authorization: Bearer <token>`
/// when a token is given (add an Origin or other headers to it before connecting).
pub fn ws_request(
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{addr}{path}")
        .into_client_request()
        .unwrap_or_else(|e| panic!("a WebSocket request for {path}: {e}"));
    if let Some(token) = token {
        let value = format!("Bearer {token}").parse().unwrap_or_else(|e| panic!("token header: {e}"));
        request.headers_mut().insert("authorization", value);
    }
    request
}
