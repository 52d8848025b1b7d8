//! Claude subscription (OAuth) logins end to end, over real TLS through the daemon (issue 3 §3):
//! the daemon refreshes the access token before it expires and keeps the refresh token to
//! itself; a session's own refresh is answered with placeholders and never reaches the token
//! endpoint; a refresh that fails is a clear 503 without secrets.
//!
//! The session's client is curl (trusting only clauderon's CA). The token endpoint and the
//! model API are the test kit's fakes, which the proxy reaches through host overrides; the
//! login is in the daemon's default place, `<data dir>/secrets/anthropic_oauth.json`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use clauderon_proxy::oauth::{DEFAULT_CLIENT_ID, PLACEHOLDER_LIFETIME_SECS, PLACEHOLDER_TOKEN};
use clauderon_testkit::upstream::oauth_api::{
    FAKE_TOKEN_LIFETIME_SECS, refreshed_access_token, rotated_refresh_token,
};
use common::{ProxyFixture, audit, fixture_with};
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

const ACCESS: &str = "sk-ant-oat01-REAL-access-7d2e";
const REFRESH: &str = "sk-ant-ort01-REAL-refresh-91fa";
/// The fake token endpoint refuses refresh tokens containing `revoked`.
const REVOKED: &str = "sk-ant-ort01-REAL-revoked-5c3b";
const MINUTE_MS: i64 = 60 * 1000;

fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    i64::try_from(since_epoch.as_millis()).unwrap()
}

fn login_file(fx: &ProxyFixture) -> PathBuf {
    fx.d.layout().secrets().join("anthropic_oauth.json")
}

/// A Claude credentials file as Claude Code writes it, mode 0600.
fn write_login(fx: &ProxyFixture, access: &str, refresh: &str, expires_at_ms: i64) {
    let doc = json!({"claudeAiOauth": {
        "accessToken": access, "refreshToken": refresh, "expiresAt": expires_at_ms,
        "scopes": ["user:inference", "user:profile"], "subscriptionType": "max"}});
    let path = login_file(fx);
    std::fs::write(&path, doc.to_string()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

async fn login_fixture(access: &str, refresh: &str, expires_at_ms: i64) -> ProxyFixture {
    let fx = fixture_with(&[], true).await;
    write_login(&fx, access, refresh, expires_at_ms);
    fx
}

/// What a session's client got back from one request through the proxy.
struct Reply {
    status: u16,
    /// Status line, headers and body, as `curl -i` prints them.
    all: String,
}

impl Reply {
    fn body_json(&self) -> Value {
        let body = self.all.split("\r\n\r\n").last().unwrap_or("");
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.all))
    }

    fn assert_holds_none_of(&self, what: &str, secrets: &[&str]) {
        for secret in secrets {
            assert!(!self.all.contains(secret), "{what}: the session saw a real token:\n{}", self.all);
        }
    }
}

/// `curl -X POST https://{host}{path}` through the proxy as the `agent` session, holding only
/// the placeholder token, trusting only clauderon's CA.
async fn post(fx: &ProxyFixture, host: &str, path: &str, body: &Value) -> Reply {
    let args = vec![
        "-sS".to_string(),
        "-i".into(),
        "--max-time".into(),
        "20".into(),
        "--proxy".into(),
        fx.proxy_url(),
        "--cacert".into(),
        fx.d.ca_cert().display().to_string(),
        "-H".into(),
        format!("authorization: Bearer {PLACEHOLDER_TOKEN}"),
        "-H".into(),
        "content-type: application/json".into(),
        "-d".into(),
        body.to_string(),
        format!("https://{host}{path}"),
    ];
    let out =
        tokio::task::spawn_blocking(move || common::curl().args(&args).output().unwrap()).await.unwrap();
    assert!(out.status.success(), "curl failed: {}", String::from_utf8_lossy(&out.stderr));
    let all = String::from_utf8_lossy(&out.stdout).into_owned();
    // `curl -i` prints the proxy's answer to CONNECT first: the status is the last one's.
    let status = all
        .lines()
        .rfind(|l| l.starts_with("HTTP/"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Reply { status, all }
}

async fn ask_the_model(fx: &ProxyFixture) -> Reply {
    let body = json!({"model": "claude", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
    post(fx, "api.anthropic.com", "/v1/messages", &body).await
}

fn token_requests(fx: &ProxyFixture) -> Vec<clauderon_testkit::upstream::RecordedRequest> {
    fx.up.requests().into_iter().filter(|r| r.path == "/v1/oauth/token").collect()
}

#[tokio::test]
async fn a_token_about_to_expire_is_refreshed_by_the_daemon_before_use() {
    // Two minutes left: inside the daemon's five-minute margin.
    let fx = login_fixture(ACCESS, REFRESH, now_ms() + 2 * MINUTE_MS).await;
    let (new_access, new_refresh) = (refreshed_access_token(REFRESH), rotated_refresh_token(REFRESH));
    // Like the real API: only the new token is accepted.
    fx.up.require_header("api.anthropic.com", "authorization", &format!("Bearer {new_access}"));

    let before = now_ms();
    let reply = ask_the_model(&fx).await;
    assert_eq!(reply.status, 200, "{}", reply.all);
    reply.assert_holds_none_of("model reply", &[ACCESS, REFRESH, &new_access, &new_refresh]);

    let seen = fx.up.requests();
    assert_eq!(seen.len(), 2, "a refresh, then the model call: {seen:?}");
    let refresh = &seen[0];
    assert_eq!(
        (refresh.host_name().as_str(), refresh.path.as_str()),
        ("platform.claude.com", "/v1/oauth/token")
    );
    let sent = refresh.body_json();
    assert_eq!(sent["grant_type"], "refresh_token");
    assert_eq!(sent["refresh_token"], REFRESH, "the daemon refreshes with the real refresh token");
    assert_eq!(sent["client_id"], DEFAULT_CLIENT_ID);
    assert_eq!(sent["scope"], "user:inference user:profile");
    let model = &seen[1];
    assert_eq!(model.path, "/v1/messages");
    assert_eq!(model.header("authorization").map(str::to_string), Some(format!("Bearer {new_access}")));
    assert!(model.header_all("anthropic-beta").join(",").contains("oauth-2025-04-20"));

    // The new login is saved for the next start: tokens, expiry, still private.
    let path = login_file(&fx);
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let login = &saved["claudeAiOauth"];
    assert_eq!(login["accessToken"], new_access.as_str());
    assert_eq!(login["refreshToken"], new_refresh.as_str());
    let expires_at = login["expiresAt"].as_i64().unwrap();
    let lifetime = i64::try_from(FAKE_TOKEN_LIFETIME_SECS).unwrap() * 1000;
    assert!((before + lifetime - MINUTE_MS..=now_ms() + lifetime).contains(&expires_at), "{expires_at}");
    assert_eq!(login["subscriptionType"], "max", "fields clauderon does not manage are kept");
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);

    // A second request uses the saved token without another refresh.
    assert_eq!(ask_the_model(&fx).await.status, 200);
    assert_eq!(token_requests(&fx).len(), 1, "refreshed again although the new token is fresh");

    let entries = audit(&fx).await;
    let calls: Vec<&Value> = entries.iter().filter(|e| e["path"] == "/v1/messages").collect();
    assert_eq!(calls.len(), 2);
    for e in &entries {
        for secret in [ACCESS, REFRESH, new_access.as_str(), new_refresh.as_str()] {
            assert!(!e.to_string().contains(secret), "a token reached the audit: {e}");
        }
    }
    assert!(calls.iter().all(|e| e["decision"] == "injected" && e["credential"] == "anthropic_oauth_token"));
}

#[tokio::test]
async fn a_sessions_own_refresh_is_answered_with_placeholders_and_never_sent_on() {
    let fx = login_fixture(ACCESS, REFRESH, now_ms() + 60 * MINUTE_MS).await;
    let file_before = std::fs::read(login_file(&fx)).unwrap();
    // What Claude Code sends when it thinks its token expired, holding the placeholder.
    let refresh = json!({"grant_type": "refresh_token", "refresh_token": PLACEHOLDER_TOKEN,
        "client_id": DEFAULT_CLIENT_ID, "scope": "user:profile user:inference"});

    // Current Claude Code's endpoint, and older versions'.
    for host in ["platform.claude.com", "console.anthropic.com"] {
        let reply = post(&fx, host, "/v1/oauth/token", &refresh).await;
        assert_eq!(reply.status, 200, "{host}: {}", reply.all);
        reply.assert_holds_none_of(host, &[ACCESS, REFRESH]);
        let grant = reply.body_json();
        assert_eq!(grant["access_token"], PLACEHOLDER_TOKEN, "{host}");
        assert_eq!(grant["refresh_token"], PLACEHOLDER_TOKEN, "{host}");
        assert_eq!(grant["expires_in"], PLACEHOLDER_LIFETIME_SECS, "{host}");
        assert_eq!(grant["scope"], "user:profile user:inference", "{host}");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        fx.up.requests().is_empty(),
        "a session's refresh reached the token endpoint: {:?}",
        fx.up.requests()
    );
    assert_eq!(std::fs::read(login_file(&fx)).unwrap(), file_before, "the real login was touched");

    // Other requests to the token host are forwarded with what the session sent, nothing real.
    let reply = post(&fx, "platform.claude.com", "/echo", &json!({})).await;
    assert_eq!(reply.status, 200);
    let seen = fx.up.wait_for_requests(1, Duration::from_secs(5)).await;
    assert_eq!(
        seen[0].header("authorization").map(str::to_string),
        Some(format!("Bearer {PLACEHOLDER_TOKEN}"))
    );

    // And the session keeps working with its placeholder: the model call gets the real token.
    assert_eq!(ask_the_model(&fx).await.status, 200);
    let seen = fx.up.wait_for_requests(2, Duration::from_secs(5)).await;
    assert_eq!(seen[1].header("authorization").map(str::to_string), Some(format!("Bearer {ACCESS}")));

    let entries = audit(&fx).await;
    let answered: Vec<&Value> = entries.iter().filter(|e| e["decision"] == "answered").collect();
    assert_eq!(answered.len(), 2, "{entries:?}");
    for e in answered {
        assert_eq!(e["path"], "/v1/oauth/token");
        assert_eq!(e["status"], 200);
        assert!(e["credential"].is_null(), "{e}");
        assert!(e["reason"].as_str().unwrap().contains("placeholders"), "{e}");
    }
}

#[tokio::test]
async fn a_failed_refresh_is_a_clear_503_without_secrets() {
    let fx = login_fixture(ACCESS, REVOKED, now_ms() - MINUTE_MS).await;

    let reply = ask_the_model(&fx).await;
    assert_eq!(reply.status, 503, "{}", reply.all);
    reply.assert_holds_none_of("503", &[ACCESS, REVOKED]);
    for want in ["claude login", "anthropic_oauth.json", "invalid_grant"] {
        assert!(reply.all.contains(want), "the message should mention {want:?}:\n{}", reply.all);
    }
    let seen = fx.up.requests();
    assert_eq!(seen.len(), 1, "only the refresh attempt may reach the upstream: {seen:?}");
    assert_eq!(seen[0].path, "/v1/oauth/token");
    assert_eq!(seen[0].body_json()["refresh_token"], REVOKED);

    // A refused refresh token is not tried again on every request.
    assert_eq!(ask_the_model(&fx).await.status, 503);
    assert_eq!(token_requests(&fx).len(), 1, "the refused refresh token was sent again");

    let entries = audit(&fx).await;
    assert!(entries.len() >= 2);
    for e in &entries {
        assert_eq!(e["decision"], "failed", "{e}");
        assert!(!e.to_string().contains(ACCESS) && !e.to_string().contains(REVOKED), "{e}");
    }

    // The user logs in again on the host and copies the file: it works without a restart.
    write_login(&fx, "sk-ant-oat01-REAL-second-login", REFRESH, now_ms() + 60 * MINUTE_MS);
    let reply = ask_the_model(&fx).await;
    assert_eq!(reply.status, 200, "{}", reply.all);
    let model = fx.up.requests().into_iter().find(|r| r.path == "/v1/messages").unwrap();
    assert_eq!(model.header("authorization"), Some("Bearer sk-ant-oat01-REAL-second-login"));
}
