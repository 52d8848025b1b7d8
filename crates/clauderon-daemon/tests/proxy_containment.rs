//! Issue 11, items 3 and 8, from the session's side of the proxy: a session that knows
//! clauderon's code tries to reach the daemon's API, the proxy itself and other services on the
//! host through its own proxy, keeps using a connection after its session was deleted, and
//! floods `clauderon.internal` with status reports. Each attack first shows its target answers
//! when called directly (so the test can fail), then that the proxy stops it.
//! Everything is a real daemon on loopback, its real proxy, real curl and the test kit's upstream.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use base64::Engine;
use bytes::Bytes;
use clauderon_backend::ProxyAccess;
use clauderon_core::Config;
use clauderon_testkit::http::{Request as ApiRequest, tcp, unix};
use clauderon_testkit::{TestDaemon, TestRepo};
use common::{ANTHROPIC_KEY, curl, fixture, run, tunnel};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const API_TOKEN: &str = "containment-test-token-0123456789";

/// The test kit's config (which names `127.0.0.1` on the allowlist) with `policy` on top, an
/// API token so the test itself can prove the API answers, and the given egress mode.
fn config(policy_toml: &str) -> Config {
    let mut config = Config::from_toml(policy_toml).unwrap();
    let base = clauderon_testkit::daemon::test_config();
    config.daemon.bind = base.daemon.bind;
    config.proxy.bind = base.proxy.bind;
    config.daemon.api_token = Some(clauderon_core::config::parse_api_token(API_TOKEN, "test").unwrap());
    config
}

/// The egress settings the attacks run under: the test kit's (loopback named), and open.
fn egress_matrix() -> Vec<(&'static str, Config)> {
    vec![
        ("allowlist naming 127.0.0.1", config(TEST_POLICY)),
        ("egress open", config("[policy]\negress = \"open\"\n")),
        ("egress open, 127.0.0.1 named", config(&format!("{TEST_POLICY}egress = \"open\"\n"))),
    ]
}

const TEST_POLICY: &str = "[policy]\nallow_hosts = [\"upstream.test\", \"127.0.0.1\", \"localhost\"]\n";

async fn session(d: &TestDaemon, name: &str, mode: &str) -> ProxyAccess {
    let repo = TestRepo::new().unwrap();
    let body =
        json!({"repo_path": repo.path(), "prompt": "go", "name": name, "access_mode": mode}).to_string();
    let reply = unix(d.socket(), ApiRequest::new("POST", "/api/sessions").json(body)).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    d.fake.proxy_for(name).unwrap()
}

fn basic(a: &ProxyAccess) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", a.user, a.secret)))
}

fn proxy_url(d: &TestDaemon, a: &ProxyAccess) -> String {
    format!("http://{}:{}@{}", a.user, a.secret, d.proxy_addr())
}

/// A plain-HTTP absolute-form request through the proxy, exactly as written (no client
/// normalises the host): what a hand-written attack sends.
async fn forward(d: &TestDaemon, a: &ProxyAccess, url: &str) -> (u16, String) {
    let authority = url.trim_start_matches("http://").split('/').next().unwrap().to_string();
    let req = ApiRequest::new("GET", url)
        .header("host", authority)
        .header("proxy-authorization", basic(a))
        .header("authorization", format!("Bearer {API_TOKEN}"));
    let reply = tcp(d.proxy_addr(), req).await;
    (reply.status, reply.body)
}

/// curl through the session's proxy URL (as HTTP_PROXY / HTTPS_PROXY), its output.
async fn curl_via(proxy: &str, args: &[&str], url: String) -> String {
    let mut c = curl();
    c.args(args).arg("-x").arg(proxy).arg(url);
    String::from_utf8_lossy(&run(c).await.stdout).into_owned()
}

/// A CONNECT through the proxy; the status code and the open stream.
async fn connect(d: &TestDaemon, a: &ProxyAccess, target: &str) -> (u16, TcpStream) {
    let mut s = TcpStream::connect(d.proxy_addr()).await.unwrap();
    let head =
        format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nProxy-Authorization: {}\r\n\r\n", basic(a));
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut byte)).await.unwrap().unwrap();
        assert!(n > 0, "the proxy closed during CONNECT {target}: {}", String::from_utf8_lossy(&buf));
        buf.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&buf).lines().next().unwrap_or_default().to_string();
    (line.split(' ').nth(1).unwrap_or("0").parse().unwrap(), s)
}

/// The session's audit, with `at_least` entries once the batched writer has stored them.
async fn audit(d: &TestDaemon, name: &str, at_least: usize) -> Vec<Value> {
    for _ in 0..60 {
        let reply =
            unix(d.socket(), ApiRequest::new("GET", &format!("/api/sessions/{name}/requests?limit=1000")))
                .await;
        let list = reply.json()["requests"].as_array().cloned().unwrap_or_default();
        if list.len() >= at_least {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the audit of {name} never held {at_least} entries");
}

/// A loopback HTTP service on the host (a dev database, a metadata endpoint…) that counts the
/// connections it accepts and answers `ok` to each request.
struct HostService {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

impl HostService {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                        .await;
                });
            }
        });
        HostService { addr, accepted }
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn the_daemons_api_and_proxy_are_never_reachable_through_the_proxy_whatever_the_egress_policy() {
    for (label, config) in egress_matrix() {
        let mut d = TestDaemon::start_with(config, HashMap::new()).await;
        let a = session(&d, "agent", "read-write").await;
        let api = d.http_addr();
        // The target is real: the API answers the test itself (with the user's token).
        let direct = tcp(
            api,
            ApiRequest::new("GET", "/api/sessions").header("authorization", format!("Bearer {API_TOKEN}")),
        )
        .await;
        assert_eq!(direct.status, 200, "{label}: the API must answer directly: {}", direct.body);

        // Even a session that somehow holds the token gets no answer from the API: plain
        // forwards by every spelling of the address, and CONNECT tunnels.
        let port = api.port();
        for url in [
            format!("http://127.0.0.1:{port}/api/sessions"),
            format!("http://localhost:{port}/api/sessions"),
            format!("http://127.1:{port}/api/sessions"),
            format!("http://2130706433:{port}/api/sessions"),
            format!("http://0x7f000001:{port}/api/sessions"),
            format!("http://[::ffff:127.0.0.1]:{port}/api/sessions"),
            format!("http://0.0.0.0:{port}/api/sessions"),
            format!("http://{}/", d.proxy_addr()),
        ] {
            let (status, body) = forward(&d, &a, &url).await;
            assert_eq!(status, 403, "{label}: {url} answered {status}: {body}");
            // Refused by the wall, or by egress first where the allowlist does not name the spelling.
            assert!(body.contains("refused"), "{label}: {url}: {body}");
            assert!(!body.contains("\"sessions\""), "{label}: the API's answer came through: {body}");
        }
        for target in [format!("127.0.0.1:{port}"), format!("localhost:{port}"), d.proxy_addr().to_string()] {
            let (status, _) = connect(&d, &a, &target).await;
            assert_eq!(status, 403, "{label}: CONNECT {target}");
        }
        // curl as an agent would run it, through HTTPS_PROXY (CONNECT) and HTTP_PROXY.
        let out = curl_via(
            &proxy_url(&d, &a),
            &["-s", "-o", "/dev/null", "-w", "%{http_connect} %{http_code}"],
            format!("https://127.0.0.1:{port}/api/sessions"),
        )
        .await;
        assert_eq!(out, "403 000", "{label}: curl over CONNECT");
        let out = curl_via(
            &proxy_url(&d, &a),
            &["-s", "-w", "\n%{http_code}", "-H", &format!("Authorization: Bearer {API_TOKEN}")],
            format!("http://localhost:{port}/api/sessions"),
        )
        .await;
        let text = out;
        assert!(text.ends_with("\n403") && text.contains("clauderon's own API or proxy"), "{label}: {text}");

        let entries = audit(&d, "agent", 13).await;
        let reason = |e: &Value| e["reason"].as_str().unwrap_or("").to_string();
        let denied = entries.iter().filter(|e| e["decision"] == "denied").collect::<Vec<_>>();
        assert_eq!(denied.len(), 13, "{label}: every refusal is audited: {entries:?}");
        assert!(
            denied.iter().all(|e| reason(e).starts_with("address wall") || reason(e).starts_with("egress"))
        );
        assert!(
            denied.iter().filter(|e| reason(e).starts_with("address wall")).count() >= 8,
            "{label}: the wall's refusals say so: {denied:?}"
        );
        d.stop().await;
    }
}

#[tokio::test]
async fn host_services_on_loopback_are_walled_by_address_not_by_name() {
    let service = HostService::start().await;
    let port = service.port();
    // Reachable directly, as any host service is.
    let direct = tcp(service.addr, ApiRequest::new("GET", "/")).await;
    assert_eq!((direct.status, direct.body.as_str()), (200, "ok"));
    for (label, config) in egress_matrix() {
        let before = service.accepted();
        let named = label.contains("127.0.0.1 named") || label.starts_with("allowlist");
        let mut d = TestDaemon::start_with(config, HashMap::new()).await;
        let a = session(&d, "agent", "read-write").await;
        // Names and numeric spellings that resolve to loopback are refused whatever the rules.
        for host in ["localhost", "127.1", "2130706433", "0x7f000001", "[::ffff:127.0.0.1]", "0.0.0.0"] {
            let (status, body) = forward(&d, &a, &format!("http://{host}:{port}/")).await;
            assert_eq!(status, 403, "{label}: {host}: {body}");
            assert!(body.contains("allow_hosts"), "{label}: the refusal says how to allow: {body}");
            let (status, _) = connect(&d, &a, &format!("{host}:{port}")).await;
            assert_eq!(status, 403, "{label}: CONNECT {host}");
        }
        assert_eq!(service.accepted(), before, "{label}: a refused request reached the service");
        // The literal address is open only when an allow rule names it.
        let (status, body) = forward(&d, &a, &format!("http://127.0.0.1:{port}/")).await;
        if named {
            assert_eq!((status, body.as_str()), (200, "ok"), "{label}: the named address must pass");
        } else {
            assert_eq!(status, 403, "{label}: 127.0.0.1 is named by no rule: {body}");
        }
        let out = curl_via(
            &proxy_url(&d, &a),
            &["-s", "-w", "\n%{http_code}"],
            format!("http://localhost:{port}/"),
        )
        .await;
        assert!(out.ends_with("\n403"), "{label}: curl to localhost");
        d.stop().await;
    }
}

#[tokio::test]
async fn a_sessions_own_allow_rule_opens_its_exact_ip_for_that_session_only() {
    let service = HostService::start().await;
    let url = format!("http://127.0.0.1:{}/", service.port());
    let mut d = TestDaemon::start_with(config("[policy]\negress = \"open\"\n"), HashMap::new()).await;
    let repo = TestRepo::new().unwrap();
    let body = json!({"repo_path": repo.path(), "prompt": "go", "name": "db",
                      "access_mode": "read-write", "options": {"allow_hosts": ["127.0.0.1"]}});
    let reply = unix(d.socket(), ApiRequest::new("POST", "/api/sessions").json(body.to_string())).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let db = d.fake.proxy_for("db").unwrap();
    let other = session(&d, "other", "read-write").await;
    // Both ways the pooled client could be asked: the other session first, then after.
    let (status, body) = forward(&d, &other, &url).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("clauderon allow-host other 127.0.0.1"), "{body}");
    assert_eq!(forward(&d, &db, &url).await, (200, "ok".to_string()), "the session that named it");
    assert_eq!(forward(&d, &other, &url).await.0, 403, "a rule of another session opened the wall");
    d.stop().await;
}

#[tokio::test]
async fn non_tls_connect_tunnels_are_checked_for_egress_and_address() {
    let service = HostService::start().await;
    let target = format!("127.0.0.1:{}", service.port());
    // The default allowlist: 127.0.0.1 is not on it, so the tunnel is refused by egress.
    let mut d = TestDaemon::start_with(config("[policy]\n"), HashMap::new()).await;
    let rw = session(&d, "rw", "read-write").await;
    let ro = session(&d, "ro", "read-only").await;
    for a in [&rw, &ro] {
        let (status, _) = connect(&d, a, &target).await;
        assert_eq!(status, 403, "{}: not on the allowlist", a.user);
    }
    let entries = audit(&d, "rw", 1).await;
    assert!(entries[0]["reason"].as_str().unwrap().starts_with("egress"), "{entries:?}");
    d.stop().await;

    // Named: a plain-text tunnel works (read-only sessions peek, see no TLS, and tunnel), so
    // the wall is what stops the same bytes under egress open.
    for (label, policy, open) in [
        ("named", TEST_POLICY.to_string(), true),
        ("egress open", "[policy]\negress = \"open\"\n".to_string(), false),
    ] {
        let mut d = TestDaemon::start_with(config(&policy), HashMap::new()).await;
        let rw = session(&d, "rw", "read-write").await;
        let ro = session(&d, "ro", "read-only").await;
        for a in [&rw, &ro] {
            let (status, mut s) = connect(&d, a, &target).await;
            if open {
                assert_eq!(status, 200, "{label} {}", a.user);
                s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
                let mut out = Vec::new();
                let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
                assert!(
                    String::from_utf8_lossy(&out).ends_with("ok"),
                    "{label} {}: the tunnel carried nothing",
                    a.user
                );
            } else {
                assert_eq!(status, 403, "{label} {}", a.user);
            }
        }
        d.stop().await;
    }
}

/// The request an agent makes to the model API, on an open connection.
fn models_request() -> hyper::Request<Empty<Bytes>> {
    hyper::Request::get("https://api.anthropic.com/v1/models")
        .header("host", "api.anthropic.com")
        .header("x-api-key", "sk-ant-placeholder")
        .body(Empty::new())
        .unwrap()
}

async fn delete_agent(fx: &common::ProxyFixture) {
    let reply = unix(fx.d.socket(), ApiRequest::new("DELETE", "/api/sessions/agent?force=true")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

/// Credentials that reached the upstream.
fn keys_seen(fx: &common::ProxyFixture) -> usize {
    fx.up.requests().iter().filter(|r| r.header("x-api-key") == Some(ANTHROPIC_KEY)).count()
}

#[tokio::test]
async fn a_deleted_sessions_keep_alive_connection_gets_no_more_credentials() {
    // Issue 11, item 8: HTTP/1.1 keep-alive inside an intercepted CONNECT.
    let mut fx = fixture().await;
    let tls = tunnel(&fx, "api.anthropic.com", &[b"http/1.1"]).await;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.unwrap();
    tokio::spawn(conn);
    let resp = sender.send_request(models_request()).await.unwrap();
    assert_ne!(resp.status(), 407);
    resp.into_body().collect().await.unwrap();
    assert_eq!(keys_seen(&fx), 1, "the live session's first request must get the credential");

    delete_agent(&fx).await;
    let second = async {
        sender.ready().await?;
        sender.send_request(models_request()).await
    };
    match tokio::time::timeout(Duration::from_secs(10), second).await.unwrap() {
        Ok(resp) => assert_eq!(resp.status(), 407, "a deleted session's request was served"),
        Err(_closed) => {}
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(keys_seen(&fx), 1, "a deleted session's request got the real credential");
    fx.d.stop().await;
}

#[tokio::test]
async fn a_deleted_sessions_http2_connection_gets_no_more_credentials() {
    let mut fx = fixture().await;
    let tls = tunnel(&fx, "api.anthropic.com", &[b"h2"]).await;
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls)).await.unwrap();
    tokio::spawn(conn);
    let resp = sender.send_request(models_request()).await.unwrap();
    assert_ne!(resp.status(), 407);
    resp.into_body().collect().await.unwrap();
    assert_eq!(keys_seen(&fx), 1, "the live session's first stream must get the credential");

    delete_agent(&fx).await;
    let second = async {
        sender.ready().await?;
        sender.send_request(models_request()).await
    };
    match tokio::time::timeout(Duration::from_secs(10), second).await.unwrap() {
        Ok(resp) => assert_eq!(resp.status(), 407, "a deleted session's stream was served"),
        Err(_closed) => {}
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(keys_seen(&fx), 1, "a deleted session's stream got the real credential");
    fx.d.stop().await;
}

#[tokio::test]
async fn a_deleted_sessions_plain_keep_alive_connection_is_refused() {
    // The plain-HTTP path authenticates every request (a guard: it did before issue 11 too).
    let service = HostService::start().await;
    let mut d = TestDaemon::start_with(config(TEST_POLICY), HashMap::new()).await;
    let a = session(&d, "agent", "read-write").await;
    let tcp = TcpStream::connect(d.proxy_addr()).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.unwrap();
    tokio::spawn(conn);
    let get = || {
        hyper::Request::get(format!("http://127.0.0.1:{}/", service.port()))
            .header("host", format!("127.0.0.1:{}", service.port()))
            .header("proxy-authorization", basic(&a))
            .body(Empty::<Bytes>::new())
            .unwrap()
    };
    let resp = sender.send_request(get()).await.unwrap();
    assert_eq!(resp.status(), 200, "the named loopback service answers through the proxy");
    resp.into_body().collect().await.unwrap();
    let served = service.accepted();

    let reply = unix(d.socket(), ApiRequest::new("DELETE", "/api/sessions/agent?force=true")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    sender.ready().await.unwrap();
    let resp = sender.send_request(get()).await.unwrap();
    assert_eq!(resp.status(), 407, "a deleted session's next request on its connection");
    assert_eq!(service.accepted(), served);
    d.stop().await;
}

#[tokio::test]
async fn a_deleted_sessions_open_tunnel_is_closed() {
    // A service that holds every connection open and echoes what it gets.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    let mut d = TestDaemon::start_with(config(TEST_POLICY), HashMap::new()).await;
    let a = session(&d, "agent", "read-write").await;
    let (status, mut s) = connect(&d, &a, &target).await;
    assert_eq!(status, 200);
    s.write_all(b"ping").await.unwrap();
    let mut echo = [0u8; 4];
    s.read_exact(&mut echo).await.unwrap();
    assert_eq!(&echo, b"ping", "the tunnel carries bytes while its session lives");

    let reply = unix(d.socket(), ApiRequest::new("DELETE", "/api/sessions/agent?force=true")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "a deleted session's tunnel stayed open");
    d.stop().await;
}

/// Status reports on one keep-alive connection, as a looping hook would send them.
async fn reports(d: &TestDaemon, a: &ProxyAccess, n: usize) -> (usize, usize) {
    let tcp = TcpStream::connect(d.proxy_addr()).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.unwrap();
    tokio::spawn(conn);
    let (mut accepted, mut limited) = (0, 0);
    for i in 0..n {
        let status = if i % 2 == 0 { "working" } else { "idle" };
        let req = hyper::Request::post("http://clauderon.internal/v1/status")
            .header("host", "clauderon.internal")
            .header("proxy-authorization", basic(a))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(format!("{{\"status\":\"{status}\"}}"))))
            .unwrap();
        sender.ready().await.unwrap();
        let resp = sender.send_request(req).await.unwrap();
        match resp.status().as_u16() {
            204 => accepted += 1,
            429 => limited += 1,
            other => panic!("report {i}: {other}"),
        }
        resp.into_body().collect().await.unwrap();
    }
    (accepted, limited)
}

#[tokio::test]
async fn a_flood_of_status_reports_is_cut_to_the_bucket_and_resumes_after_a_pause() {
    let mut d = TestDaemon::start().await;
    let a = session(&d, "agent", "read-write").await;
    let other = session(&d, "other", "read-write").await;
    let started = Instant::now();
    let (accepted, limited) = reports(&d, &a, 200).await;
    let elapsed = started.elapsed().as_secs_f64();
    // Burst 10, 2 a second after that (clauderon_proxy::status_host::REPORT_BURST / _REFILL_PER_SEC).
    let most = 10 + (elapsed * 2.0).ceil() as usize;
    assert!((10..=most).contains(&accepted), "{accepted} of 200 accepted in {elapsed:.1}s (at most {most})");
    assert_eq!(accepted + limited, 200);
    // Another session has its own bucket.
    assert_eq!(reports(&d, &other, 1).await, (1, 0));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (resumed, _) = reports(&d, &a, 2).await;
    assert_eq!(resumed, 2, "reports must resume after a pause");
    let entries = audit(&d, "agent", 200).await;
    let cut = entries
        .iter()
        .filter(|e| e["decision"] == "denied" && e["reason"].as_str().unwrap_or("").contains("rate limited"))
        .count();
    assert_eq!(cut, limited, "every refused report is audited");
    d.stop().await;
}
