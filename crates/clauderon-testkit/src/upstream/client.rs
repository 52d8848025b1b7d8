//! A direct TLS client for the upstream: connect to its address with the SNI of any name on
//! its certificate, trusting only its CA. The baseline for "direct vs through the proxy".

use super::tls::{Alpn, TestCa};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{HeaderMap, Request, Response, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A TLS connection to `addr` presenting `host` as SNI, verified against `ca` only.
pub async fn tls_connect(addr: SocketAddr, host: &str, ca: &TestCa, alpn: Alpn) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let _ = tcp.set_nodelay(true);
    let name = ServerName::try_from(host.to_owned()).unwrap_or_else(|e| panic!("server name {host:?}: {e}"));
    tokio_rustls::TlsConnector::from(ca.client_config(alpn))
        .connect(name, tcp)
        .await
        .unwrap_or_else(|e| panic!("TLS handshake with {addr} as {host}: {e}"))
}

/// Sends one request on a fresh connection (HTTP/2 when ALPN picks it, else HTTP/1.1) and
/// returns the response with its body unread, so a test can stream it. The request's URI may
/// be origin-form (`/path?q`); the host comes from `host`.
pub async fn send_via(
    addr: SocketAddr,
    host: &str,
    ca: &TestCa,
    alpn: Alpn,
    mut req: Request<Full<Bytes>>,
) -> Response<Incoming> {
    let tls = tls_connect(addr, host, ca, alpn).await;
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let io = TokioIo::new(tls);
    if h2 {
        *req.uri_mut() =
            format!("https://{host}{path}").parse().unwrap_or_else(|e| panic!("URI for {host}: {e}"));
        req.headers_mut().remove("host");
        let (mut sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .unwrap_or_else(|e| panic!("HTTP/2 handshake with {host}: {e}"));
        tokio::spawn(conn);
        sender.send_request(req).await.unwrap_or_else(|e| panic!("HTTP/2 request to {host}{path}: {e}"))
    } else {
        *req.uri_mut() = path.parse().unwrap_or_else(|e| panic!("path {path}: {e}"));
        if !req.headers().contains_key("host") {
            let value = host.parse().unwrap_or_else(|e| panic!("Host header {host}: {e}"));
            req.headers_mut().insert("host", value);
        }
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .unwrap_or_else(|e| panic!("HTTP/1.1 handshake with {host}: {e}"));
        tokio::spawn(conn.with_upgrades());
        sender.send_request(req).await.unwrap_or_else(|e| panic!("HTTP/1.1 request to {host}{path}: {e}"))
    }
}

/// A response read to the end.
#[derive(Debug, Clone)]
pub struct DirectResponse {
    pub status: u16,
    pub version: Version,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl DirectResponse {
    pub async fn read(resp: Response<Incoming>) -> DirectResponse {
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.unwrap_or_else(|e| panic!("reading a response body: {e}")).to_bytes();
        DirectResponse { status: parts.status.as_u16(), version: parts.version, headers: parts.headers, body }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {}", self.text()))
    }
}

/// `GET https://{host}{path}` straight to `addr`, trusting only `ca`, offering h2 and http/1.1.
pub async fn get_via(addr: SocketAddr, host: &str, path: &str, ca: &TestCa) -> DirectResponse {
    let req = Request::get(path)
        .body(Full::new(Bytes::new()))
        .unwrap_or_else(|e| panic!("building GET {path}: {e}"));
    DirectResponse::read(send_via(addr, host, ca, Alpn::Both, req).await).await
}
