//! The proxy under bad input and bad peers: it answers clearly, never panics,
//! and keeps serving everyone else.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use base64::Engine;
use clauderon_testkit::http::{Request, unix};
use clauderon_testkit::{TestDaemon, TestRepo};
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn daemon_with_session(config: clauderon_core::Config) -> (TestDaemon, String) {
    let env = HashMap::from([("ANTHROPIC_API_KEY".to_string(), "sk-ant-REAL-robust".to_string())]);
    let d = TestDaemon::start_with(config, env).await;
    let repo = TestRepo::new().unwrap();
    let body = json!({"repo_path": repo.path(), "prompt": "go", "name": "rob"}).to_string();
    assert_eq!(unix(d.socket(), Request::new("POST", "/api/sessions").json(body)).await.status, 201);
    let access = d.fake.proxy_for("rob").unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("rob:{}", access.secret));
    (d, format!("Basic {auth}"))
}

/// Send raw bytes and read the response head (or nothing, if the proxy just closes).
async fn raw(d: &TestDaemon, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(d.proxy_addr()).await.unwrap();
    let _ = s.write_all(bytes).await;
    read_head(&mut s).await
}

/// Read a response head (up to the blank line).
async fn read_head<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tokio::time::timeout(Duration::from_secs(5), s.read(&mut byte)).await {
            Ok(Ok(1)) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// A CONNECT with the session's identity, answered 200; the stream is then the tunnel.
async fn connect_to(d: &TestDaemon, auth: &str, target: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(d.proxy_addr()).await.unwrap();
    tcp.write_all(format!("CONNECT {target} HTTP/1.1\r\nProxy-Authorization: {auth}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    assert!(read_head(&mut tcp).await.starts_with("HTTP/1.1 200"));
    tcp
}

/// A CONNECT that the proxy accepts and carries out, proving it still serves.
async fn still_serving(d: &TestDaemon, auth: &str) {
    let target = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = target.local_addr().unwrap();
    let mut s = TcpStream::connect(d.proxy_addr()).await.unwrap();
    s.write_all(
        format!("CONNECT {addr} HTTP/1.1\r\nHost: {addr}\r\nProxy-Authorization: {auth}\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let head = read_head(&mut s).await;
    assert!(head.starts_with("HTTP/1.1 200"), "the proxy stopped serving: {head:?}");
    let accepted = tokio::time::timeout(Duration::from_secs(5), target.accept()).await;
    assert!(matches!(accepted, Ok(Ok(_))), "the tunnel never reached its target");
}

#[tokio::test]
async fn malformed_requests_get_400_and_the_proxy_carries_on() {
    let (mut d, auth) = daemon_with_session(clauderon_testkit::daemon::test_config()).await;
    for junk in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET\r\n\r\n",
        b"\x16\x03\x01\x00\xff binary junk\r\n\r\n",
        b"CONNECT nohostport HTTP/1.1\r\n\r\n",
    ] {
        let reply = raw(&d, junk).await;
        assert!(reply.is_empty() || reply.starts_with("HTTP/1.1 4"), "{junk:?} -> {reply:?}");
    }
    // An authenticated CONNECT without a port.
    let reply =
        raw(&d, format!("CONNECT example.test HTTP/1.1\r\nProxy-Authorization: {auth}\r\n\r\n").as_bytes())
            .await;
    assert!(reply.starts_with("HTTP/1.1 4"), "{reply:?}");
    // A request sent to the proxy instead of through it.
    let reply = raw(
        &d,
        format!("GET / HTTP/1.1\r\nHost: x\r\nProxy-Authorization: {auth}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply:?}");
    still_serving(&d, &auth).await;
    d.stop().await;
}

#[tokio::test]
async fn huge_headers_are_refused_without_harm() {
    let (mut d, auth) = daemon_with_session(clauderon_testkit::daemon::test_config()).await;
    let big = "x".repeat(200 * 1024);
    let reply = raw(
        &d,
        format!("CONNECT a.test:443 HTTP/1.1\r\nX-Big: {big}\r\nProxy-Authorization: {auth}\r\n\r\n")
            .as_bytes(),
    )
    .await;
    assert!(
        reply.is_empty() || reply.starts_with("HTTP/1.1 431") || reply.starts_with("HTTP/1.1 400"),
        "{}",
        &reply[..reply.len().min(200)]
    );
    still_serving(&d, &auth).await;
    d.stop().await;
}

#[tokio::test]
async fn idle_clients_do_not_block_others() {
    let (mut d, auth) = daemon_with_session(clauderon_testkit::daemon::test_config()).await;
    let mut idle = Vec::new();
    for _ in 0..100 {
        let mut s = TcpStream::connect(d.proxy_addr()).await.unwrap();
        s.write_all(b"CONNECT slow.test:443 HTTP/1.1\r\n").await.unwrap(); // never finishes its head
        idle.push(s);
    }
    still_serving(&d, &auth).await;
    drop(idle);
    d.stop().await;
}

#[tokio::test]
async fn a_dead_upstream_is_a_clear_502_and_audited() {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap(); // freed: nothing listens
    let mut config = clauderon_testkit::daemon::test_config();
    config.proxy.upstream_overrides = HashMap::from([("api.anthropic.com".to_string(), closed)]);
    let (mut d, auth) = daemon_with_session(config).await;

    // Intercepted host: TLS with the proxy succeeds, the request inside gets a 502 that names the host.
    let tcp = connect_to(&d, &auth, "api.anthropic.com:443").await;
    let mut roots = rustls::RootCertStore::empty();
    for cert in
        <rustls::pki_types::CertificateDer as rustls::pki_types::pem::PemObject>::pem_file_iter(d.ca_cert())
            .unwrap()
    {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect("api.anthropic.com".try_into().unwrap(), tcp)
        .await
        .unwrap();
    tls.write_all(b"GET /v1/models HTTP/1.1\r\nHost: api.anthropic.com\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(15), tls.read_to_end(&mut out)).await;
    let out = String::from_utf8_lossy(&out);
    assert!(out.starts_with("HTTP/1.1 502"), "{out}");
    assert!(out.contains("could not reach api.anthropic.com"), "{out}");
    assert!(!out.contains("sk-ant-REAL-robust"));

    // Tunnelled host: the CONNECT is accepted, then the tunnel closes; the audit says why.
    let mut s = TcpStream::connect(d.proxy_addr()).await.unwrap();
    s.write_all(format!("CONNECT {closed} HTTP/1.1\r\nProxy-Authorization: {auth}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    assert!(read_head(&mut s).await.starts_with("HTTP/1.1 200"));
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest)).await;
    assert!(rest.is_empty(), "the tunnel to a dead port should just close");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let audit = unix(d.socket(), Request::new("GET", "/api/sessions/rob/requests")).await.json();
    let decisions: Vec<String> = audit["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{} {}", e["decision"].as_str().unwrap(), e["reason"].as_str().unwrap_or("")))
        .collect();
    assert!(decisions.iter().filter(|d| d.starts_with("failed")).count() >= 2, "{decisions:?}");
    still_serving(&d, &auth).await;
    d.stop().await;
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_ca_only_hurts_itself() {
    let (mut d, auth) = daemon_with_session(clauderon_testkit::daemon::test_config()).await;
    let tcp = connect_to(&d, &auth, "api.anthropic.com:443").await;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let result = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect("api.anthropic.com".try_into().unwrap(), tcp)
        .await;
    assert!(result.is_err(), "a client trusting nothing must refuse the proxy's certificate");
    still_serving(&d, &auth).await;
    d.stop().await;
}

/// Sandboxes without a network reach the proxy on its Unix socket: same identity rules, and a
/// CONNECT there reaches the target like one over TCP.
#[tokio::test]
async fn the_unix_socket_proxy_checks_identity_and_tunnels() {
    let (d, auth) = daemon_with_session(clauderon_testkit::daemon::test_config()).await;
    let path = d.layout().proxy_socket();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);

    let target = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = target.local_addr().unwrap();
    let mut anon = tokio::net::UnixStream::connect(&path).await.unwrap();
    anon.write_all(format!("CONNECT {addr} HTTP/1.1\r\n\r\n").as_bytes()).await.unwrap();
    assert!(read_head(&mut anon).await.starts_with("HTTP/1.1 407"), "no identity must be refused");

    let mut s = tokio::net::UnixStream::connect(&path).await.unwrap();
    s.write_all(format!("CONNECT {addr} HTTP/1.1\r\nProxy-Authorization: {auth}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    assert!(read_head(&mut s).await.starts_with("HTTP/1.1 200"));
    let (mut inner, _) = target.accept().await.unwrap();
    s.write_all(b"ping").await.unwrap();
    let mut got = [0u8; 4];
    inner.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"ping");
}
