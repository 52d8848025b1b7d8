//! Secret-echo scrubbing through a real daemon, with real curl: an upstream that reflects the
//! request's credential headers back, in the body and in a response header, split across
//! chunks and compressed every way the proxy can read, never shows the session a real secret —
//! it sees the placeholder it holds, fitted to the secret's length. The same for the key
//! encoded (base64, percent, JSON escapes, hex), under stacked content codings, and in a
//! WebSocket's 101 and stream; a coding the proxy cannot read is refused (issue 11, item 6).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use clauderon_proxy::scrub::fit;
use clauderon_testkit::upstream::TlsUpstream;
use clauderon_testkit::upstream::reflect::BASE64_FORMS;
use common::{ANTHROPIC_KEY, GITHUB_TOKEN, OPENAI_KEY, ProxyFixture, SECRETS, fixture};
use futures_util::StreamExt as _;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::time::Duration;

/// `curl -i` through the session's proxy: the whole response, head and body, as text.
async fn fetch(fx: &ProxyFixture, url: &str, headers: &[&str]) -> String {
    let mut cmd = common::curl();
    cmd.args(["-sS", "-i", "--proxy", &fx.proxy_url(), "--cacert"]).arg(fx.d.ca_cert());
    for h in headers {
        cmd.args(["-H", h]);
    }
    cmd.arg(url);
    let out = common::run(cmd).await;
    assert!(out.status.success(), "curl failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn assert_clean(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what}: a real secret reached the session:\n{text}");
    }
}

fn body_json(response: &str) -> Value {
    let body = response.split("\r\n\r\n").last().unwrap();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {response}"))
}

#[tokio::test]
async fn a_reflected_api_key_is_replaced_by_its_placeholder_in_headers_and_body_at_any_chunking() {
    let fx = fixture().await;
    for chunk in ["", "&chunk=1", "&chunk=7", "&chunk=13"] {
        let url = format!("https://api.anthropic.com/echo?x=1{chunk}");
        let resp = fetch(&fx, &url, &["x-api-key: placeholder"]).await;
        assert_clean(&url, &resp);
        let json = body_json(&resp);
        // The placeholder, fitted to the key's length so the body keeps its length.
        let want = fit("sk-ant-api03-clauderon-placeholder", ANTHROPIC_KEY.len());
        assert_eq!(json["headers"]["x-api-key"], want.as_str(), "{url}: {resp}");
        assert!(
            resp.to_ascii_lowercase().contains(&format!("x-echo-x-api-key: {want}")),
            "{url}: the reflected header was not scrubbed: {resp}"
        );
    }
    // The upstream did get the real key: scrubbing is on the way back only.
    let seen = fx.up.requests();
    assert!(seen.iter().all(|r| r.header("x-api-key") == Some(ANTHROPIC_KEY)));
}

#[tokio::test]
async fn compressed_echoes_are_decoded_scrubbed_and_sent_plain() {
    let fx = fixture().await;
    for encoding in ["gzip", "deflate", "br", "zstd"] {
        for chunk in ["", "&chunk=5"] {
            let url = format!("https://api.openai.com/echo?encoding={encoding}{chunk}");
            let resp =
                fetch(&fx, &url, &["authorization: Bearer placeholder", "accept-encoding: gzip, br"]).await;
            assert_clean(&url, &resp);
            assert!(!resp.to_ascii_lowercase().contains("content-encoding"), "{url}: {resp}");
            let json = body_json(&resp);
            let want = format!("Bearer {}", fit("sk-clauderon-placeholder", OPENAI_KEY.len()));
            assert_eq!(json["headers"]["authorization"], want.as_str(), "{url}");
            // What the upstream was asked to accept is only what the proxy can read.
            let last = fx.up.requests().pop().unwrap();
            assert_eq!(last.header("accept-encoding"), Some("gzip, br"));
            assert_eq!(last.header("authorization"), Some(format!("Bearer {OPENAI_KEY}").as_str()));
        }
    }
}

#[tokio::test]
async fn the_encoded_git_credential_is_scrubbed_too() {
    let fx = fixture().await;
    let resp = fetch(&fx, "https://github.com/echo?chunk=3", &[]).await;
    assert_clean("github echo", &resp);
    let sent = fx.up.requests().pop().unwrap();
    let real = sent.header("authorization").unwrap().to_string();
    assert!(real.starts_with("Basic "));
    assert!(!resp.contains(&real["Basic ".len()..]), "the base64 credential was reflected: {resp}");
    let json = body_json(&resp);
    let shown = json["headers"]["authorization"].as_str().unwrap();
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD.decode(&shown["Basic ".len()..]).unwrap();
    let want = format!("x-access-token:{}", fit("ghp_clauderonplaceholder", GITHUB_TOKEN.len()));
    assert_eq!(String::from_utf8(decoded).unwrap(), want);
    assert!(!resp.contains(GITHUB_TOKEN));
}

#[tokio::test]
async fn scrubbing_off_in_the_config_leaves_responses_alone() {
    let up = clauderon_testkit::TlsUpstream::start_default().await;
    let ca_dir = tempfile::tempdir().unwrap();
    let mut config = clauderon_testkit::daemon::test_config();
    config.policy.scrub = false;
    config.proxy.upstream_overrides = up.overrides();
    config.proxy.extra_ca_files = vec![up.ca().write_pem(ca_dir.path())];
    let env = std::collections::HashMap::from([("ANTHROPIC_API_KEY".to_string(), ANTHROPIC_KEY.to_string())]);
    let d = clauderon_testkit::TestDaemon::start_with(config, env).await;
    let repo = clauderon_testkit::TestRepo::new().unwrap();
    let body = serde_json::json!({"repo_path": repo.path(), "prompt": "go", "name": "agent"}).to_string();
    let reply = clauderon_testkit::http::unix(
        d.socket(),
        clauderon_testkit::http::Request::new("POST", "/api/sessions").json(body),
    )
    .await;
    assert_eq!(reply.status, 201);
    let access = d.fake.proxy_for("agent").unwrap();
    let mut cmd = common::curl();
    cmd.args(["-sS", "--proxy", &format!("http://agent:{}@{}", access.secret, d.proxy_addr()), "--cacert"])
        .arg(d.ca_cert())
        .arg("https://api.anthropic.com/echo");
    let out = common::run(cmd).await;
    // The control case: without scrubbing the echo does carry the key, so the tests above
    // would catch a scrubber that did nothing.
    assert!(String::from_utf8_lossy(&out.stdout).contains(ANTHROPIC_KEY));
    drop(ca_dir);
}

/// A daemon like [`fixture`]'s with `[policy] scrub = false`: the control for each test below,
/// showing the upstream really does hand the session the secret when nothing scrubs it.
async fn unscrubbed() -> ProxyFixture {
    let env = [("ANTHROPIC_API_KEY", ANTHROPIC_KEY), ("OPENAI_API_KEY", OPENAI_KEY)];
    common::fixture_configured(TlsUpstream::start_default().await, &env, true, |c| c.policy.scrub = false)
        .await
}

/// Each `form=text` line of `/echo-forms`, decoded back the way a reader of that form would.
fn decoded_forms(body: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for line in body.lines().filter(|l| !l.is_empty()) {
        let (form, text) = line.split_once('=').unwrap();
        let bytes = if let Some(rest) = form.strip_prefix("base64-") {
            let (engine_name, _) = rest.rsplit_once('-').unwrap();
            let (_, engine) = BASE64_FORMS.iter().find(|(n, _)| *n == engine_name).unwrap();
            engine.decode(text).unwrap_or_else(|e| panic!("{form} is no longer base64 ({e}): {text}"))
        } else {
            match form {
                "jwt" => URL_SAFE_NO_PAD.decode(text.split('.').nth(1).unwrap()).unwrap(),
                "basic" => STANDARD.decode(text.strip_prefix("Basic ").unwrap()).unwrap(),
                "percent-upper" | "percent-lower" | "percent-reserved" => percent_decode(text),
                "json-u" | "json-slash" => {
                    serde_json::from_str::<String>(&format!("\"{text}\"")).unwrap().into_bytes()
                }
                "hex" => (0..text.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
                    .collect(),
                other => panic!("unknown form {other}"),
            }
        };
        out.push((form.to_string(), bytes));
    }
    out
}

fn percent_decode(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn holds(bytes: &[u8], secret: &str) -> bool {
    bytes.windows(secret.len()).any(|w| w == secret.as_bytes())
}

/// Issue 11, item 6: the key echoed base64-encoded (both alphabets, padded or not, at each
/// alignment, in a JWT and a Basic credential), percent-encoded, JSON-escaped and in hex.
#[tokio::test]
async fn every_encoded_form_of_an_echoed_key_is_scrubbed() {
    let url = "https://api.anthropic.com/echo-forms?header=x-api-key";
    // Control: unscrubbed, every line decodes to the real key.
    let off = unscrubbed().await;
    let resp = fetch(&off, url, &["x-api-key: placeholder"]).await;
    let forms = decoded_forms(resp.split("\r\n\r\n").last().unwrap());
    assert_eq!(forms.len(), 4 * 3 + 8, "{resp}");
    for (form, bytes) in &forms {
        assert!(
            holds(bytes, ANTHROPIC_KEY),
            "control: {form} does not carry the key, the test proves nothing"
        );
    }
    drop(off);

    let fx = fixture().await;
    for chunk in ["", "&chunk=3"] {
        let resp = fetch(&fx, &format!("{url}{chunk}"), &["x-api-key: placeholder"]).await;
        assert_clean(url, &resp);
        let forms = decoded_forms(resp.split("\r\n\r\n").last().unwrap());
        assert_eq!(forms.len(), 4 * 3 + 8, "{resp}");
        for (form, bytes) in &forms {
            assert!(!holds(bytes, ANTHROPIC_KEY), "{form}: the session decoded the real key from {resp}");
            // Nor most of it: at most a few bits at the edges of a base64 run stay.
            assert!(!holds(bytes, &ANTHROPIC_KEY[2..ANTHROPIC_KEY.len() - 2]), "{form}: {resp}");
        }
    }
}

/// Issue 11, item 6: stacked codings are undone in order, `identity` is no coding, and a
/// coding the proxy cannot read is refused with a 502 that says why, and audited.
#[tokio::test]
async fn stacked_identity_and_unknown_content_encodings() {
    let off = unscrubbed().await;
    let resp = fetch(&off, "https://api.anthropic.com/echo?encoding=x-custom", &["x-api-key: p"]).await;
    assert!(resp.contains(ANTHROPIC_KEY), "control: an x-custom echo carries the key unscrubbed: {resp}");
    drop(off);

    let fx = fixture().await;
    for encoding in ["gzip,br", "br,zstd,gzip", "identity", "identity,gzip"] {
        let url = format!("https://api.anthropic.com/echo?encoding={encoding}&chunk=11");
        let resp = fetch(&fx, &url, &["x-api-key: p", "accept-encoding: gzip, br, zstd"]).await;
        assert_clean(&url, &resp);
        let json = body_json(&resp);
        assert_eq!(
            json["headers"]["x-api-key"],
            fit("sk-ant-api03-clauderon-placeholder", ANTHROPIC_KEY.len())
        );
    }
    let resp = fetch(&fx, "https://api.anthropic.com/echo?encoding=x-custom", &["x-api-key: p"]).await;
    assert_clean("x-custom", &resp);
    assert!(resp.lines().any(|l| l.starts_with("HTTP/") && l.contains(" 502")), "{resp}");
    assert!(resp.contains("`x-custom`") && resp.contains("cannot decode"), "{resp}");
    let audit = common::audit(&fx).await;
    assert!(
        audit
            .iter()
            .any(|e| e["status"] == 502 && e["reason"].as_str().is_some_and(|r| r.contains("x-custom"))),
        "{audit:?}"
    );
    // A client that names no encoding is taken at its word by the proxy, not by the server:
    // the upstream is asked for `identity`.
    let _ = fetch(&fx, "https://api.anthropic.com/echo", &["x-api-key: p"]).await;
    assert_eq!(fx.up.requests().pop().unwrap().header("accept-encoding"), Some("identity"));
}

/// A WebSocket handshake through the proxy (HTTP/1.1 over the session's tunnel), offering
/// compression; returns the 101's (or refusal's) head and, after a 101, the first message.
async fn websocket(fx: &ProxyFixture, query: &str) -> (u16, hyper::HeaderMap, Option<String>) {
    let tls = common::tunnel(fx, "api.openai.com", &[b"http/1.1"]).await;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.unwrap();
    tokio::spawn(conn.with_upgrades());
    let req = hyper::Request::builder()
        .uri(format!("/ws?{query}"))
        .header("host", "api.openai.com")
        .header("authorization", "Bearer placeholder")
        .header("upgrade", "websocket")
        .header("connection", "upgrade")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-extensions", "permessage-deflate; client_max_window_bits")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let mut resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    if status != 101 {
        return (status, headers, None);
    }
    let io = TokioIo::new(hyper::upgrade::on(&mut resp).await.unwrap());
    let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
        io,
        tokio_tungstenite::tungstenite::protocol::Role::Client,
        None,
    )
    .await;
    // tungstenite joins fragments: this is the whole first message.
    let first = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap().unwrap().unwrap();
    (status, headers, Some(first.to_text().unwrap().to_string()))
}

fn head_text(headers: &hyper::HeaderMap) -> String {
    headers.iter().map(|(k, v)| format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes()))).collect()
}

/// Issue 11, item 6: the 101's headers and the upgraded stream, server to session.
#[tokio::test]
async fn websocket_handshake_headers_and_stream_are_scrubbed() {
    let off = unscrubbed().await;
    let (status, headers, first) = websocket(&off, "reflect=1").await;
    assert_eq!(status, 101);
    assert!(head_text(&headers).contains(OPENAI_KEY), "control: the 101 echoes the key");
    assert!(first.unwrap().contains(OPENAI_KEY), "control: the first message echoes the key");
    let (_, _, first) = websocket(&off, "reflect=1&split=7").await;
    assert!(first.unwrap().contains(OPENAI_KEY), "control: the key split across frames reaches the session");
    let (status, headers, _) = websocket(&off, "reflect=1&extensions=permessage-deflate").await;
    assert_eq!(status, 101, "control: unscrubbed, a forced extension passes");
    assert!(headers.contains_key("sec-websocket-extensions"));
    drop(off);

    let fx = fixture().await;
    let (status, headers, first) = websocket(&fx, "reflect=1").await;
    assert_eq!(status, 101);
    let head = head_text(&headers);
    assert!(!head.contains(OPENAI_KEY), "the 101 carried the key: {head}");
    let want = format!("Bearer {}", fit("sk-clauderon-placeholder", OPENAI_KEY.len()));
    assert!(head.contains(&want), "{head}");
    let first = first.unwrap();
    assert!(!first.contains(OPENAI_KEY) && first.contains(&want), "{first}");
    // Split across frames (7-byte fragments), the key is found and replaced all the same.
    let (_, _, split) = websocket(&fx, "reflect=1&split=7").await;
    let split = split.unwrap();
    assert!(!split.contains(OPENAI_KEY) && split.contains(&want), "{split}");
    // The upstream got the key, and no offer of compression.
    let seen = fx.up.requests().pop().unwrap();
    assert_eq!(seen.header("authorization"), Some(format!("Bearer {OPENAI_KEY}").as_str()));
    assert_eq!(seen.header("sec-websocket-extensions"), None);
    // A server that turns compression on anyway is refused.
    let (status, headers, _) = websocket(&fx, "reflect=1&extensions=permessage-deflate").await;
    assert_eq!(status, 502);
    assert!(!head_text(&headers).contains(OPENAI_KEY));
    let audit = common::audit(&fx).await;
    assert!(
        audit.iter().any(|e| e["status"] == 502
            && e["reason"].as_str().is_some_and(|r| r.contains("WebSocket compression"))),
        "{audit:?}"
    );
}
