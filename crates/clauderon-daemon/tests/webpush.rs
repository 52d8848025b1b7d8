//! Web Push (issue 15): a session's agent reporting that it waits for input (through the
//! proxy, as its hook does) makes the daemon push an RFC 8291-encrypted, VAPID-signed
//! notification to every subscribed browser. The push service is a stand-in — the test kit's
//! local HTTPS upstream on a made-up host (`push.test`), recording what it got — since the real
//! push services (FCM, Mozilla's, Apple's) are out of reach here. The test holds the browser's
//! side: its P-256 key and auth secret, made as a browser makes them; it decrypts the payload
//! and verifies the VAPID JWT with the daemon's public key. Also: a muted session pushes
//! nothing, a subscription the push service says is gone (410) is removed, bad subscriptions
//! are refused, and the daemon's VAPID private key is nowhere in the API.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use clauderon_backend::ProxyAccess;
use clauderon_testkit::http::{Reply, Request, tcp, unix};
use clauderon_testkit::push::Browser;
use clauderon_testkit::upstream::RecordedRequest;
use clauderon_testkit::{TestDaemon, TestRepo, TlsUpstream, UpstreamOptions};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use web_push_native::jwt_simple::prelude::{
    ECDSAP256PublicKeyLike, ES256PublicKey, NoCustomClaims, VerificationOptions,
};

async fn api(d: &TestDaemon, method: &str, path: &str, body: Option<Value>) -> Reply {
    let mut req = Request::new(method, path);
    if let Some(body) = body {
        req = req.json(body.to_string());
    }
    unix(d.socket(), req).await
}

/// What the agent's hook sends: a status report through the proxy with the session's identity.
async fn report(d: &TestDaemon, access: &ProxyAccess, status: &str) {
    let auth = format!("Basic {}", STANDARD.encode(format!("{}:{}", access.user, access.secret)));
    let req = Request::new("POST", "http://clauderon.internal/v1/status")
        .header("host", "clauderon.internal")
        .header("proxy-authorization", &auth)
        .json(json!({ "status": status }).to_string());
    let reply = tcp(d.proxy_addr(), req).await;
    assert!(reply.status < 300, "{} {}", reply.status, reply.body);
}

/// The pushes the stand-in received at `path` once there are `n` (10 s at most).
async fn pushes(up: &TlsUpstream, path: &str, n: usize) -> Vec<RecordedRequest> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got: Vec<_> = up.requests().into_iter().filter(|r| r.path == path).collect();
        if got.len() >= n {
            return got;
        }
        assert!(Instant::now() < deadline, "{} pushes to {path}, waited for {n}", got.len());
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The delivery log once a row matches `wanted` (10 s at most: a row is written once the push
/// service has answered, after it recorded the request).
async fn log_with(d: &TestDaemon, wanted: impl Fn(&Value) -> bool) -> (Value, Reply) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reply = api(d, "GET", "/api/hooks/deliveries", None).await;
        if let Some(row) = reply.json()["deliveries"].as_array().unwrap().iter().find(|r| wanted(r)) {
            return (row.clone(), reply);
        }
        assert!(Instant::now() < deadline, "no such row in the delivery log: {}", reply.body);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn start() -> (TestDaemon, TlsUpstream, tempfile::TempDir) {
    let up =
        TlsUpstream::start(UpstreamOptions { hosts: vec!["push.test".into()], ..Default::default() }).await;
    let ca_dir = tempfile::tempdir().unwrap();
    let mut config = clauderon_testkit::daemon::test_config();
    config.proxy.extra_ca_files = vec![up.ca().write_pem(ca_dir.path())];
    config.proxy.upstream_overrides = up.overrides();
    let d = TestDaemon::start_with(config, Default::default()).await;
    (d, up, ca_dir)
}

async fn session(d: &TestDaemon, repo: &TestRepo, name: &str) -> ProxyAccess {
    let body = json!({"repo_path": repo.path(), "prompt": "go", "name": name});
    let reply = api(d, "POST", "/api/sessions", Some(body)).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    d.fake.proxy_for(name).unwrap()
}

#[tokio::test]
async fn waiting_for_input_reaches_a_subscribed_browser_encrypted_and_signed() {
    let (d, up, _ca) = start().await;
    let repo = TestRepo::new().unwrap();
    let access = session(&d, &repo, "asker").await;
    let browser = Browser::new("https://push.test/echo?browser=1");
    let key = api(&d, "GET", "/api/push/key", None).await;
    assert_eq!(key.status, 200, "{}", key.body);
    let public_key = key.json()["public_key"].as_str().unwrap().to_string();
    let reply = api(&d, "POST", "/api/push/subscriptions", Some(browser.subscription())).await;
    assert_eq!(reply.status, 204, "{}", reply.body);

    report(&d, &access, "working").await;
    report(&d, &access, "waiting-for-input").await;
    let push = pushes(&up, "/echo?browser=1", 1).await.remove(0);
    assert_eq!(push.method, "POST");
    assert_eq!(push.header("content-encoding"), Some("aes128gcm"));
    assert_eq!(push.header("ttl"), Some("3600"));
    let payload = browser.decrypt(&push.body);
    assert_eq!(payload["session"], "asker", "{payload}");
    assert_eq!(payload["event"], "status:waiting-for-input", "{payload}");
    assert_eq!(payload["title"], "asker needs you", "{payload}");
    assert_eq!(payload["url"], "/sessions/asker", "{payload}");
    assert!(!String::from_utf8_lossy(&push.body).contains("asker"), "the body is not plain text");

    // VAPID: `vapid t=<JWT>, k=<the daemon's public key>`, the JWT signed by that key, for the
    // push service's origin, expiring within a day, with a contact.
    let authorization = push.header("authorization").unwrap().to_string();
    let (token, k) = authorization
        .strip_prefix("vapid t=")
        .and_then(|rest| rest.split_once(", k="))
        .unwrap_or_else(|| panic!("not a VAPID header: {authorization}"));
    assert_eq!(k, public_key);
    let verifier = ES256PublicKey::from_bytes(&URL_SAFE_NO_PAD.decode(k).unwrap()).unwrap();
    let options = VerificationOptions {
        allowed_audiences: Some(HashSet::from(["https://push.test".to_string()])),
        ..Default::default()
    };
    let claims = verifier.verify_token::<NoCustomClaims>(token, Some(options)).expect("the JWT verifies");
    assert!(claims.subject.unwrap().starts_with("mailto:"));
    let expires = claims.expires_at.unwrap().as_secs();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(expires > now && expires <= now + 24 * 3600, "exp {expires}, now {now}");
    // Another key does not verify it.
    let other = web_push_native::jwt_simple::prelude::ES256KeyPair::generate().public_key();
    assert!(other.verify_token::<NoCustomClaims>(token, None).is_err());

    // The delivery log has it, naming the push service's origin only.
    let (row, log) = log_with(&d, |r| r["hook"] == "web-push").await;
    assert_eq!((row["outcome"].as_str(), row["status"].as_i64()), (Some("ok"), Some(200)), "{row}");
    assert_eq!(row["target"], "https://push.test", "{row}");
    assert!(!log.body.contains("browser=1"), "the endpoint's path is a capability: {}", log.body);

    // The private key is the daemon's alone: 0600 on disk, in no answer.
    let key_file = d.data.path().join("webpush-vapid.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    let private = std::fs::read_to_string(&key_file).unwrap();
    for reply in [key, log, api(&d, "GET", "/api/sessions/asker", None).await] {
        assert!(!reply.body.contains(private.trim()), "the private key leaked: {}", reply.body);
    }
}

#[tokio::test]
async fn a_muted_session_pushes_nothing_and_a_gone_subscription_is_removed() {
    let (d, up, _ca) = start().await;
    let repo = TestRepo::new().unwrap();
    let quiet = session(&d, &repo, "quiet").await;
    let loud = session(&d, &repo, "loud").await;
    let browser = Browser::new("https://push.test/echo?browser=2");
    let gone = Browser::new("https://push.test/status/410");
    for b in [&browser, &gone] {
        let reply = api(&d, "POST", "/api/push/subscriptions", Some(b.subscription())).await;
        assert_eq!(reply.status, 204, "{}", reply.body);
    }
    let muted = api(&d, "PUT", "/api/sessions/quiet/push-mute", Some(json!({"muted": true}))).await;
    assert_eq!(muted.status, 200, "{}", muted.body);
    assert_eq!(api(&d, "GET", "/api/sessions/quiet/push-mute", None).await.json()["muted"], true);

    // The muted session's question comes first; the other one's after it. Only the second is
    // pushed (one queue, in order: had the first been sent, it would have arrived first).
    report(&d, &quiet, "waiting-for-input").await;
    report(&d, &loud, "waiting-for-input").await;
    let got = pushes(&up, "/echo?browser=2", 1).await;
    assert_eq!(browser.decrypt(&got[0].body)["session"], "loud");

    // The push service said 410 for the other subscription: it is gone, and not tried again.
    assert_eq!(pushes(&up, "/status/410", 1).await.len(), 1);
    log_with(&d, |r| {
        r["status"] == 410 && r["detail"].as_str().is_some_and(|d| d.contains("subscription removed"))
    })
    .await;
    report(&d, &loud, "working").await;
    report(&d, &loud, "idle").await;
    let got = pushes(&up, "/echo?browser=2", 2).await;
    assert_eq!(browser.decrypt(&got[1].body)["event"], "status:idle");
    assert_eq!(up.requests().iter().filter(|r| r.path == "/status/410").count(), 1);
    assert_eq!(got.len(), 2, "nothing from the muted session");

    // Unmuted, it pushes again.
    api(&d, "PUT", "/api/sessions/quiet/push-mute", Some(json!({"muted": false}))).await;
    report(&d, &quiet, "working").await;
    report(&d, &quiet, "idle").await;
    let got = pushes(&up, "/echo?browser=2", 3).await;
    assert_eq!(browser.decrypt(&got[2].body)["session"], "quiet");
}

#[tokio::test]
async fn bad_subscriptions_are_refused_with_what_is_wrong() {
    let (d, _up, _ca) = start().await;
    let good = Browser::new("https://push.test/echo").subscription();
    let cases = [
        (json!({"endpoint": "http://push.test/x", "keys": good["keys"]}), "https://"),
        (
            json!({"endpoint": "https://push.test/x", "keys": {"p256dh": "AAAA", "auth": good["keys"]["auth"]}}),
            "P-256",
        ),
        (
            json!({"endpoint": "https://push.test/x", "keys": {"p256dh": good["keys"]["p256dh"], "auth": "AAAA"}}),
            "16 bytes",
        ),
    ];
    for (body, why) in cases {
        let reply = api(&d, "POST", "/api/push/subscriptions", Some(body.clone())).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert!(reply.body.contains(why), "{body}: {}", reply.body);
    }
    // Not the shape at all: the body's own error (422), naming what is missing.
    let shapeless =
        api(&d, "POST", "/api/push/subscriptions", Some(json!({"endpoint": "https://push.test/x"}))).await;
    assert_eq!(shapeless.status, 422, "{}", shapeless.body);
    assert!(shapeless.body.contains("keys"), "{}", shapeless.body);
    // At most 64 browsers: the 65th is refused with what to do; a known one still renews.
    for i in 0..64 {
        let b = Browser::new(&format!("https://push.test/echo?b={i}"));
        assert_eq!(api(&d, "POST", "/api/push/subscriptions", Some(b.subscription())).await.status, 204);
    }
    let extra = Browser::new("https://push.test/echo?b=64");
    let full = api(&d, "POST", "/api/push/subscriptions", Some(extra.subscription())).await;
    assert_eq!(full.status, 409, "{}", full.body);
    assert!(full.body.contains("unsubscribe one"), "{}", full.body);
    let renew = Browser::new("https://push.test/echo?b=7");
    assert_eq!(api(&d, "POST", "/api/push/subscriptions", Some(renew.subscription())).await.status, 204);
    let missing = api(&d, "PUT", "/api/sessions/nobody/push-mute", Some(json!({"muted": true}))).await;
    assert_eq!(missing.status, 404, "{}", missing.body);
}
