//! Secret-echo scrubbing through a real daemon, with real curl: an upstream that reflects the
//! request's credential headers back, in the body and in a response header, split across
//! chunks and compressed every way the proxy can read, never shows the session a real secret —
//! it sees the placeholder it holds, fitted to the secret's length.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use clauderon_proxy::scrub::fit;
use common::{ANTHROPIC_KEY, Fx, GITHUB_TOKEN, OPENAI_KEY, SECRETS, fixture};
use serde_json::Value;

/// `curl -i` through the session's proxy: the whole response, head and body, as text.
async fn fetch(fx: &Fx, url: &str, headers: &[&str]) -> String {
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
