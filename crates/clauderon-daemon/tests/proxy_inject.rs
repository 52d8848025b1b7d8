//! Credential injection end to end, over real TLS on loopback: a session's
//! client goes through the daemon's proxy (trusting only clauderon's CA) to
//! the test kit's TLS upstream, which the proxy reaches through host overrides
//! and trusts through an extra CA file — as a user would point it at a gateway.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use base64::Engine;
use bytes::Bytes;
use clauderon_testkit::http::{Request as ApiRequest, unix};
use clauderon_testkit::upstream::{DirectResponse, TlsUpstream};
use clauderon_testkit::{TestDaemon, TestRepo};
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::{
    ANTHROPIC_KEY, GEMINI_KEY, GITHUB_TOKEN, OPENAI_KEY, ProxyFixture, SECRETS, audit, fixture, fixture_with,
    tunnel,
};

/// One HTTP/1.1 request through the proxy; the response with its body unread.
async fn send(
    fx: &ProxyFixture,
    host: &str,
    req: Request<Full<Bytes>>,
) -> hyper::Response<hyper::body::Incoming> {
    let tls = tunnel(fx, host, &[b"http/1.1"]).await;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.unwrap();
    tokio::spawn(conn.with_upgrades());
    sender.send_request(req).await.unwrap()
}

fn request(
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Request<Full<Bytes>> {
    let mut b = Request::builder().method(method).uri(path).header("host", host);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(Bytes::from(body.to_string()))).unwrap()
}

async fn call(fx: &ProxyFixture, host: &str, path: &str, headers: &[(&str, &str)]) -> DirectResponse {
    DirectResponse::read(send(fx, host, request("GET", host, path, headers, "")).await).await
}

/// Nothing the client got back holds a real secret: headers nor body.
fn assert_clean(what: &str, resp: &DirectResponse) {
    let mut all = resp.text();
    for (k, v) in &resp.headers {
        all.push_str(&format!("\n{k}: {}", v.to_str().unwrap_or("")));
    }
    for secret in SECRETS {
        assert!(!all.contains(secret), "{what}: the client saw a real secret");
    }
}

#[tokio::test]
async fn each_builtin_rule_puts_the_real_credential_on_its_own_host() {
    let fx = fixture().await;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{GITHUB_TOKEN}"))
    );
    let cases = [
        ("api.anthropic.com", "x-api-key", ANTHROPIC_KEY.to_string(), ("x-api-key", "placeholder")),
        (
            "api.openai.com",
            "authorization",
            format!("Bearer {OPENAI_KEY}"),
            ("authorization", "Bearer placeholder"),
        ),
        (
            "generativelanguage.googleapis.com",
            "x-goog-api-key",
            GEMINI_KEY.to_string(),
            ("x-goog-api-key", "placeholder"),
        ),
        (
            "api.github.com",
            "authorization",
            format!("Bearer {GITHUB_TOKEN}"),
            ("authorization", "Bearer placeholder"),
        ),
        ("github.com", "authorization", basic, ("authorization", "Basic cGxhY2Vob2xkZXI=")),
    ];
    for (host, header, want, placeholder) in cases {
        fx.up.clear();
        let resp = call(&fx, host, "/status/200", &[placeholder]).await;
        assert_eq!(resp.status, 200, "{host}");
        assert_clean(host, &resp);
        let seen = fx.up.wait_for_requests(1, Duration::from_secs(5)).await;
        assert_eq!(seen[0].host_name(), host);
        assert_eq!(
            seen[0].header_all(header),
            vec![want.as_str()],
            "{host}: the placeholder must be replaced, not added to"
        );
        assert_eq!(seen[0].header("proxy-authorization"), None, "{host}: the proxy identity leaked upstream");
    }
    let entries = audit(&fx).await;
    assert!(entries.len() >= 5);
    for e in &entries {
        assert_eq!(e["decision"], "injected", "{e}");
        for secret in SECRETS.iter().chain([&fx.access.secret.as_str()]) {
            assert!(!e.to_string().contains(secret), "a secret reached the audit: {e}");
        }
    }
    let names: Vec<_> = entries.iter().map(|e| e["credential"].as_str().unwrap_or("")).collect();
    assert!(names.contains(&"anthropic_api_key") && names.contains(&"github_token"), "{names:?}");
}

#[tokio::test]
async fn an_oauth_token_is_preferred_and_gets_the_oauth_beta_header() {
    let fx = fixture_with(
        &[("ANTHROPIC_API_KEY", ANTHROPIC_KEY), ("CLAUDE_CODE_OAUTH_TOKEN", "sk-ant-oat-REAL-1")],
        true,
    )
    .await;
    let resp = call(&fx, "api.anthropic.com", "/status/200", &[("anthropic-beta", "tools-2024")]).await;
    assert_eq!(resp.status, 200);
    let seen = fx.up.wait_for_requests(1, Duration::from_secs(5)).await;
    assert_eq!(seen[0].header("authorization"), Some("Bearer sk-ant-oat-REAL-1"));
    assert_eq!(seen[0].header("x-api-key"), None, "the API key must not ride along with the OAuth token");
    let beta = seen[0].header_all("anthropic-beta").join(",");
    assert!(beta.contains("oauth-") && beta.contains("tools-2024"), "{beta}");
}

#[tokio::test]
async fn other_hosts_never_get_a_real_credential() {
    let fx = fixture().await;
    // other.test has no rule: the proxy tunnels it, and only the placeholder arrives.
    let resp = call(&fx, "other.test", "/status/200", &[("x-api-key", "placeholder")]).await;
    assert_eq!(resp.status, 200);
    let seen = fx.up.wait_for_requests(1, Duration::from_secs(5)).await;
    assert_eq!(seen[0].host_name(), "other.test");
    assert_eq!(seen[0].header("x-api-key"), Some("placeholder"));
    for (_, v) in &seen[0].headers {
        for secret in SECRETS {
            assert!(!v.contains(secret), "a real secret went to another host");
        }
    }
    let entries = audit(&fx).await;
    assert_eq!(entries[0]["decision"], "tunneled");
}

#[tokio::test]
async fn redirects_are_returned_not_followed() {
    let fx = fixture().await;
    let resp = call(&fx, "api.anthropic.com", "/redirect?to=https://other.test/echo", &[]).await;
    assert_eq!(resp.status, 302);
    assert_eq!(resp.header("location"), Some("https://other.test/echo"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let seen = fx.up.requests();
    assert_eq!(seen.len(), 1, "the proxy followed the redirect: {seen:?}");
    assert_eq!(seen[0].host_name(), "api.anthropic.com");
}

#[tokio::test]
async fn plain_http_never_carries_a_credential() {
    let up = TlsUpstream::start_plain().await;
    let mut config = clauderon_testkit::daemon::test_config();
    config.proxy.upstream_overrides = up.overrides();
    let env = HashMap::from([("ANTHROPIC_API_KEY".to_string(), ANTHROPIC_KEY.to_string())]);
    let d = TestDaemon::start_with(config, env).await;
    let repo = TestRepo::new().unwrap();
    let body = json!({"repo_path": repo.path(), "prompt": "go", "name": "plain"}).to_string();
    assert_eq!(unix(d.socket(), ApiRequest::new("POST", "/api/sessions").json(body)).await.status, 201);
    let access = d.fake.proxy_for("plain").unwrap();
    let mut tcp = TcpStream::connect(d.proxy_addr()).await.unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("plain:{}", access.secret));
    let head = format!(
        "GET http://api.anthropic.com/status/200 HTTP/1.1\r\nHost: api.anthropic.com\r\nProxy-Authorization: Basic {auth}\r\n\
         x-api-key: placeholder\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut out = String::new();
    tcp.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    let seen = up.wait_for_requests(1, Duration::from_secs(5)).await;
    assert_eq!(seen[0].header("x-api-key"), Some("placeholder"));
    assert_eq!(seen[0].header("proxy-authorization"), None);
}

#[tokio::test]
async fn an_untrusted_upstream_certificate_is_a_clear_502() {
    let fx = fixture_with(&[("ANTHROPIC_API_KEY", ANTHROPIC_KEY)], false).await;
    let resp = call(&fx, "api.anthropic.com", "/status/200", &[]).await;
    assert_eq!(resp.status, 502);
    let text = resp.text();
    assert!(text.contains("certificate") && text.contains("api.anthropic.com"), "{text}");
    assert_clean("502", &resp);
    assert!(fx.up.requests().is_empty(), "a request went to an untrusted server");
}

#[tokio::test]
async fn sse_events_reach_the_client_before_the_stream_ends() {
    let fx = fixture().await;
    let resp =
        send(&fx, "api.anthropic.com", request("GET", "api.anthropic.com", "/sse?events=3&gate=g1", &[], ""))
            .await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    // The upstream holds events 2 and 3 until the gate opens: a buffering proxy would hang here.
    let first = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .expect("the first event did not arrive while the upstream was still streaming")
        .unwrap()
        .unwrap();
    let first = String::from_utf8_lossy(first.data_ref().unwrap()).to_string();
    assert!(first.contains("data:"), "{first}");
    fx.up.open_gate("g1");
    let rest = body.collect().await.unwrap().to_bytes();
    let rest = String::from_utf8_lossy(&rest);
    assert!(rest.matches("data:").count() >= 2, "{rest}");
}

#[tokio::test]
async fn http2_inside_the_interception_works() {
    let fx = fixture().await;
    let tls = tunnel(&fx, "api.openai.com", &[b"h2", b"http/1.1"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = Request::get("https://api.openai.com/status/200").body(Full::new(Bytes::new())).unwrap();
    let resp = DirectResponse::read(sender.send_request(req).await.unwrap()).await;
    assert_eq!(resp.status, 200);
    let seen = fx.up.wait_for_requests(1, Duration::from_secs(5)).await;
    assert_eq!(seen[0].header("authorization").map(str::to_string), Some(format!("Bearer {OPENAI_KEY}")));
}

#[tokio::test]
async fn websocket_upgrades_pass_through_with_the_credential() {
    let fx = fixture().await;
    let tls = tunnel(&fx, "api.openai.com", &[b"http/1.1"]).await;
    let req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        "wss://api.openai.com/ws",
    )
    .unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(req, tls).await.unwrap();
    ws.send(tokio_tungstenite::tungstenite::Message::Text("hello through the proxy".into())).await.unwrap();
    let echoed = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(echoed.to_text().unwrap(), "hello through the proxy");
    let seen = fx.up.wait_for_requests(1, Duration::from_secs(5)).await;
    assert_eq!(seen[0].path, "/ws");
    assert_eq!(seen[0].header("authorization").map(str::to_string), Some(format!("Bearer {OPENAI_KEY}")));
}

#[tokio::test]
async fn curl_through_the_proxy_trusting_only_clauderons_ca() {
    let fx = fixture().await;
    let proxy = fx.proxy_url();
    let ca = fx.d.ca_cert().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        common::curl()
            .args(["-sS", "-i", "--max-time", "10", "--proxy", &proxy, "--cacert"])
            .arg(&ca)
            .args(["-H", "x-api-key: placeholder", "-H", "content-type: application/json"])
            .args(["-d", r#"{"model":"claude","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}"#])
            .arg("https://api.anthropic.com/v1/messages")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "curl failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with("HTTP/1.1 200") || stdout.starts_with("HTTP/2 200"), "{stdout}");
    assert!(stdout.contains(&fx.up.model_reply().text) || stdout.contains("Hello"), "{stdout}");
    assert!(!stdout.contains(ANTHROPIC_KEY), "curl saw the real key");
    let seen = fx.up.wait_for_requests(1, Duration::from_secs(5)).await;
    assert_eq!(seen[0].header("x-api-key"), Some(ANTHROPIC_KEY));
}

#[tokio::test]
async fn a_user_rule_with_a_configured_source_injects_on_its_host_only() {
    let up = TlsUpstream::start_default().await;
    let ca_dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[proxy]\nextra_ca_files = [{:?}]\n\n[[proxy.rules]]\nname = \"corp\"\nhost = \"upstream.test\"\n\
         header = \"x-corp-token\"\ntemplate = \"Token {{}}\"\ncredential = \"corp_token\"\n\n\
         [credentials]\ncorp_token = \"env:CORP_TOKEN\"\n",
        up.ca().write_pem(ca_dir.path()).display().to_string()
    );
    let mut config = clauderon_core::Config::from_toml(&text).unwrap();
    config.daemon.bind = "127.0.0.1:0".parse().unwrap();
    config.proxy.bind = "127.0.0.1:0".parse().unwrap();
    config.proxy.upstream_overrides = up.overrides();
    config.policy = clauderon_testkit::daemon::test_config().policy;
    let env = HashMap::from([("CORP_TOKEN".to_string(), "corp-REAL-token-9".to_string())]);
    let d = TestDaemon::start_with(config, env).await;
    let repo = TestRepo::new().unwrap();
    let body = json!({"repo_path": repo.path(), "prompt": "go", "name": "agent"}).to_string();
    assert_eq!(unix(d.socket(), ApiRequest::new("POST", "/api/sessions").json(body)).await.status, 201);
    let fx = ProxyFixture { access: d.fake.proxy_for("agent").unwrap(), d, up, _ca_dir: ca_dir };

    let resp = call(&fx, "upstream.test", "/status/200", &[("x-corp-token", "Token placeholder")]).await;
    assert_eq!(resp.status, 200);
    let seen = fx.up.wait_for_requests(1, Duration::from_secs(5)).await;
    assert_eq!(seen[0].header_all("x-corp-token"), vec!["Token corp-REAL-token-9"]);
    let creds = unix(fx.d.socket(), ApiRequest::new("GET", "/api/credentials")).await;
    assert!(creds.body.contains("corp_token") && creds.body.contains("env CORP_TOKEN"), "{}", creds.body);
    assert!(!creds.body.contains("corp-REAL-token-9"), "a credential value reached the API");
}

#[tokio::test]
async fn one_session_connection_keeps_one_upstream_connection_and_reopens_it_when_closed() {
    let fx = fixture().await;
    let host = "api.anthropic.com";
    let tls = tunnel(&fx, host, &[b"http/1.1"]).await;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.unwrap();
    tokio::spawn(conn);
    // Two requests, then one the upstream answers and closes the connection after, then two more:
    // all on the session's one connection to the proxy.
    for path in ["/small", "/small", "/close", "/small", "/small"] {
        sender.ready().await.unwrap();
        let resp =
            DirectResponse::read(sender.send_request(request("GET", host, path, &[], "")).await.unwrap())
                .await;
        assert_eq!(resp.status, 200, "{path}: {}", resp.text());
        assert_clean(path, &resp);
    }
    let peers: Vec<_> = fx.up.requests().iter().filter(|r| r.host == host).map(|r| r.peer.unwrap()).collect();
    assert_eq!(peers.len(), 5, "{peers:?}");
    assert!(peers[0] == peers[1] && peers[1] == peers[2], "reused until the upstream closed it: {peers:?}");
    assert!(peers[2] != peers[3] && peers[3] == peers[4], "then a new one, reused: {peers:?}");
    for r in fx.up.requests() {
        assert_eq!(r.header("x-api-key"), Some(ANTHROPIC_KEY), "every request carries the credential");
    }
}
