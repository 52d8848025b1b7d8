//! The credential proxy inside a real daemon: identities, tunnels, the audit.
//! Upstreams are local servers on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use base64::Engine;
use clauderon_testkit::http::{Request, unix};
use clauderon_testkit::{TestDaemon, TestRepo};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn create(d: &TestDaemon, repo: &TestRepo, name: &str) {
    let body = json!({"repo_path": repo.path(), "prompt": "go", "name": name}).to_string();
    let reply = unix(d.socket(), Request::new("POST", "/api/sessions").json(body)).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
}

fn basic(user: &str, secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}")))
}

/// Send a CONNECT and return the proxy's status line and the open stream.
async fn connect(d: &TestDaemon, target: &str, auth: Option<String>) -> (String, TcpStream) {
    let mut s = TcpStream::connect(d.proxy_addr()).await.unwrap();
    let mut head = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(a) = auth {
        head.push_str(&format!("Proxy-Authorization: {a}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut byte)).await.unwrap().unwrap();
        assert!(n > 0, "proxy closed: {}", String::from_utf8_lossy(&buf));
        buf.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&buf).to_string();
    (text.lines().next().unwrap_or("").to_string(), s)
}

async fn audit(d: &TestDaemon, name: &str, want: usize) -> Vec<Value> {
    for _ in 0..50 {
        let reply = unix(d.socket(), Request::new("GET", &format!("/api/sessions/{name}/requests"))).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let list = reply.json()["requests"].as_array().unwrap().clone();
        if list.len() >= want {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the audit never held {want} entries for {name}");
}

#[tokio::test]
async fn no_or_wrong_identity_gets_407_and_nothing_is_forwarded() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    create(&d, &repo, "alpha").await;
    create(&d, &repo, "beta").await;
    let alpha = d.fake.proxy_for("alpha").expect("alpha's proxy access");
    let beta = d.fake.proxy_for("beta").expect("beta's proxy access");
    assert_ne!(alpha.secret, beta.secret);
    assert_eq!(alpha.port, d.proxy_addr().port());

    // A local server that must never see a connection from a refused request.
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = upstream.local_addr().unwrap().to_string();
    for auth in
        [None, Some(basic("alpha", "wrong")), Some(basic("alpha", &beta.secret)), Some("Bearer x".into())]
    {
        let (status, _) = connect(&d, &target, auth.clone()).await;
        assert!(status.contains("407"), "{auth:?}: {status}");
    }
    let accepted = tokio::time::timeout(Duration::from_millis(300), upstream.accept()).await;
    assert!(accepted.is_err(), "a refused request reached the upstream");
    d.stop().await;
}

#[tokio::test]
async fn other_hosts_are_tunnelled_and_audited_by_bytes() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    create(&d, &repo, "tunnel").await;
    let access = d.fake.proxy_for("tunnel").unwrap();

    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = upstream.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move {
        let (mut s, _) = upstream.accept().await.unwrap();
        let mut got = [0u8; 4];
        s.read_exact(&mut got).await.unwrap();
        s.write_all(b"pong-pong").await.unwrap();
        got
    });
    let (status, mut s) = connect(&d, &target, Some(basic("tunnel", &access.secret))).await;
    assert!(status.contains("200"), "{status}");
    s.write_all(b"ping").await.unwrap();
    let mut reply = [0u8; 9];
    s.read_exact(&mut reply).await.unwrap();
    assert_eq!(&reply, b"pong-pong");
    assert_eq!(&server.await.unwrap(), b"ping");
    drop(s);

    let entries = audit(&d, "tunnel", 1).await;
    let e = &entries[0];
    assert_eq!(e["decision"], "tunneled");
    assert_eq!(e["method"], "CONNECT");
    assert_eq!(e["host"], "127.0.0.1");
    assert_eq!((e["bytes_up"].as_u64(), e["bytes_down"].as_u64()), (Some(4), Some(9)));
    assert!(!e.to_string().contains(&access.secret), "the session's secret reached the audit");
    d.stop().await;
}

#[tokio::test]
async fn identities_survive_a_restart_and_die_with_the_session() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    create(&d, &repo, "keeper").await;
    let access = d.fake.proxy_for("keeper").unwrap();
    d.restart().await;
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = upstream.local_addr().unwrap().to_string();
    let (status, _) = connect(&d, &target, Some(basic("keeper", &access.secret))).await;
    assert!(status.contains("200"), "identity lost over a restart: {status}");

    let reply = unix(d.socket(), Request::new("DELETE", "/api/sessions/keeper?force=true")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let (status, _) = connect(&d, &target, Some(basic("keeper", &access.secret))).await;
    assert!(status.contains("407"), "a deleted session's identity still works: {status}");
    d.restart().await;
    let (status, _) = connect(&d, &target, Some(basic("keeper", &access.secret))).await;
    assert!(status.contains("407"), "a deleted session's identity came back after a restart: {status}");
    d.stop().await;
}
