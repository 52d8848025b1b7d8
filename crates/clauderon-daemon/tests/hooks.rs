//! `[[hooks]]` (issue 15, first slice): commands and webhooks run on session events, off the
//! event bus, each delivery in the log. Real `sh` for commands; for webhooks the test kit's local
//! HTTPS upstream as the receiver (its own CA, trusted through `extra_ca_files`), which records
//! what it got, answers 503 on purpose (`/flaky`) or never (`/hang`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use clauderon_core::Config;
use clauderon_core::config::hooks::{Hook, HookAction, HookFormat};
use clauderon_testkit::http::{Reply, Request, unix};
use clauderon_testkit::{TestDaemon, TestRepo, TlsUpstream, UpstreamOptions};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const GITHUB_TOKEN: &str = "ghp_REAL_hooks_never_see_this";
const HOOK_SECRET: &str = "hook-signing-s3cret";

fn hook(name: &str, on: &[&str], action: HookAction, timeout: u64) -> Hook {
    Hook {
        name: name.into(),
        on: on.iter().map(|s| s.to_string()).collect(),
        session: None,
        action,
        timeout: Duration::from_secs(timeout),
    }
}

async fn daemon(config: Config) -> TestDaemon {
    let env: HashMap<String, String> = [("GH_TOKEN", GITHUB_TOKEN), ("HOOK_SECRET", HOOK_SECRET)]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    TestDaemon::start_with(config, env).await
}

async fn create(d: &TestDaemon, repo: &TestRepo, name: &str) -> Reply {
    let body = json!({"repo_path": repo.path(), "prompt": "go", "name": name}).to_string();
    unix(d.socket(), Request::new("POST", "/api/sessions").json(body)).await
}

/// The delivery log once it holds `n` rows (15 s at most).
async fn deliveries(d: &TestDaemon, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let reply = unix(d.socket(), Request::new("GET", "/api/hooks/deliveries")).await;
        let rows =
            serde_json::from_str::<Value>(&reply.body).unwrap()["deliveries"].as_array().unwrap().clone();
        if rows.len() >= n {
            return rows;
        }
        assert!(Instant::now() < deadline, "waited for {n} deliveries, have {}: {rows:?}", rows.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn by_hook<'a>(rows: &'a [Value], hook: &str) -> Vec<&'a Value> {
    rows.iter().filter(|r| r["hook"] == hook).collect()
}

#[tokio::test]
async fn a_command_hook_gets_the_event_on_stdin_and_no_credential_in_its_environment() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().display();
    let mut config = clauderon_testkit::daemon::test_config();
    let command = format!(
        "cat > {dir}/$CLAUDERON_EVENT-$CLAUDERON_STATUS.json; env > {dir}/env-$CLAUDERON_EVENT.txt; echo ran"
    );
    config.hooks = vec![
        hook("record", &["created", "status:stopped"], HookAction::Command(command), 10),
        hook("failing", &["created"], HookAction::Command("echo oops >&2; exit 3".into()), 10),
    ];
    let d = daemon(config).await;
    let repo = TestRepo::new().unwrap();
    assert_eq!(create(&d, &repo, "hooked").await.status, 201);
    let stopped = unix(d.socket(), Request::new("POST", "/api/sessions/hooked/stop")).await;
    assert_eq!(stopped.status, 200, "{}", stopped.body);

    let rows = deliveries(&d, 3).await;
    let record = by_hook(&rows, "record");
    assert_eq!(record.len(), 2, "{rows:?}");
    for r in &record {
        assert_eq!(
            (r["outcome"].as_str(), r["status"].as_i64(), r["target"].as_str()),
            (Some("ok"), Some(0), Some("command")),
            "{r}"
        );
        assert_eq!(r["detail"], "ran");
        assert_eq!(r["session_name"], "hooked");
    }
    let failing = by_hook(&rows, "failing");
    assert_eq!((failing[0]["outcome"].as_str(), failing[0]["status"].as_i64()), (Some("failed"), Some(3)));
    assert_eq!(failing[0]["detail"], "oops");

    let created: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("created-.json")).unwrap()).unwrap();
    assert_eq!(
        (created["type"].as_str(), created["session_name"].as_str()),
        (Some("created"), Some("hooked"))
    );
    let stop: Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("status-changed-stopped.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(stop["to"], "stopped");

    // The environment: only the allowlisted variables, clauderon's three, and what sh sets itself.
    let env = std::fs::read_to_string(out.path().join("env-created.txt")).unwrap();
    let allowed = [
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LC_ALL",
        "TZ",
        "TMPDIR",
        "TERM",
        "XDG_RUNTIME_DIR",
        "DBUS_SESSION_BUS_ADDRESS",
        "DISPLAY",
        "WAYLAND_DISPLAY",
        "CLAUDERON_EVENT",
        "CLAUDERON_SESSION",
        "CLAUDERON_STATUS",
        "PWD",
        "SHLVL",
        "_",
        "OLDPWD",
    ];
    for line in env.lines() {
        let var = line.split('=').next().unwrap();
        assert!(allowed.contains(&var), "the hook's environment holds `{var}`: {env}");
    }
    for secret in [GITHUB_TOKEN, HOOK_SECRET] {
        assert!(!env.contains(secret), "{env}");
    }
    assert!(env.contains("CLAUDERON_SESSION=hooked"), "{env}");

    // `hooks test` fires a sample event at one hook; an unknown name says which exist.
    let tested = unix(d.socket(), Request::new("POST", "/api/hooks/record/test")).await;
    assert_eq!(tested.status, 200, "{}", tested.body);
    let t: Value = serde_json::from_str(&tested.body).unwrap();
    assert_eq!(
        (t["event"].as_str(), t["outcome"].as_str(), t["seq"].as_i64()),
        (Some("test"), Some("ok"), None)
    );
    assert!(out.path().join("status-changed-waiting-for-input.json").exists());
    let unknown = unix(d.socket(), Request::new("POST", "/api/hooks/nope/test")).await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.body.contains("record, failing"), "{}", unknown.body);
}

#[tokio::test]
async fn webhooks_are_signed_retried_on_5xx_given_up_after_three_and_timed_out() {
    let up =
        TlsUpstream::start(UpstreamOptions { hosts: vec!["hooks.test".into()], ..Default::default() }).await;
    let ca_dir = tempfile::tempdir().unwrap();
    let base = format!("https://hooks.test:{}", up.addr().port());
    let toml = "[credentials]\nhook_secret = \"env:HOOK_SECRET\"\n";
    let mut config = Config::from_toml(toml).unwrap();
    config.daemon.bind = clauderon_testkit::daemon::test_config().daemon.bind;
    config.proxy.bind = clauderon_testkit::daemon::test_config().proxy.bind;
    config.proxy.extra_ca_files = vec![up.ca().write_pem(ca_dir.path())];
    config.proxy.upstream_overrides = up.overrides();
    let webhook = |url: String, format: HookFormat, secret: Option<&str>| HookAction::Webhook {
        url,
        format,
        secret: secret.map(str::to_string),
    };
    config.hooks = vec![
        hook(
            "signed",
            &["created"],
            webhook(format!("{base}/echo?token=T0K3N"), HookFormat::Json, Some("hook_secret")),
            5,
        ),
        hook("flaky", &["created"], webhook(format!("{base}/flaky/k/2"), HookFormat::Json, None), 5),
        hook("down", &["created"], webhook(format!("{base}/flaky/d/9"), HookFormat::Json, None), 5),
        hook("slow", &["created"], webhook(format!("{base}/hang"), HookFormat::Json, None), 1),
        hook("slack", &["created"], webhook(format!("{base}/echo?to=slack"), HookFormat::Slack, None), 5),
    ];
    let d = daemon(config).await;
    let repo = TestRepo::new().unwrap();
    assert_eq!(create(&d, &repo, "webbed").await.status, 201);
    let rows = deliveries(&d, 5).await;
    let one = |h: &str| by_hook(&rows, h)[0].clone();

    let signed = one("signed");
    assert_eq!(
        (signed["outcome"].as_str(), signed["status"].as_i64(), signed["attempts"].as_u64()),
        (Some("ok"), Some(200), Some(1))
    );
    assert_eq!(signed["target"], base, "the url's path and query (a token) never reach the log");
    assert!(!rows.iter().any(|r| r.to_string().contains("T0K3N")));
    let got = up.requests().into_iter().find(|r| r.path == "/echo?token=T0K3N").unwrap();
    let body: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!((body["type"].as_str(), body["session_name"].as_str()), (Some("created"), Some("webbed")));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, HOOK_SECRET.as_bytes());
    let hex: String = ring::hmac::sign(&key, &got.body).as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        got.header("x-clauderon-signature"),
        Some(format!("sha256={hex}").as_str()),
        "the receiver verifies it"
    );
    assert!(!format!("{:?}", got.headers).contains(HOOK_SECRET));

    let flaky = one("flaky");
    assert_eq!(
        (flaky["outcome"].as_str(), flaky["status"].as_i64(), flaky["attempts"].as_u64()),
        (Some("ok"), Some(200), Some(3))
    );
    let down = one("down");
    assert_eq!(
        (down["outcome"].as_str(), down["status"].as_i64(), down["attempts"].as_u64()),
        (Some("failed"), Some(503), Some(3))
    );
    let slow = one("slow");
    assert_eq!((slow["outcome"].as_str(), slow["attempts"].as_u64()), (Some("timeout"), Some(3)));

    let slack = up.requests().into_iter().find(|r| r.path == "/echo?to=slack").unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&slack.body).unwrap(),
        json!({"text": "clauderon: webbed: created"})
    );
}

#[tokio::test]
async fn a_hook_that_hangs_never_delays_a_create_or_the_event_stream_and_is_stopped() {
    let marker = format!("clauderon-hook-hang-{}", std::process::id());
    let mut config = clauderon_testkit::daemon::test_config();
    config.hooks = vec![hook("stuck", &["created"], HookAction::Command(format!("sleep 30 # {marker}")), 2)];
    let d = daemon(config).await;
    let repo = TestRepo::new().unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(d.ws_request("/ws/events")).await.unwrap();
    let started = Instant::now();
    assert_eq!(create(&d, &repo, "unhurried").await.status, 201);
    // The created event reaches a subscriber while the hook still sleeps.
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(2), ws.next())
            .await
            .expect("no event within 2 s")
            .unwrap()
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(t) = msg
            && serde_json::from_str::<Value>(&t).unwrap()["type"] == "created"
        {
            break;
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "create waited for the hook: {:?}",
        started.elapsed()
    );
    let rows = deliveries(&d, 1).await;
    assert_eq!(rows[0]["outcome"], "timeout", "{rows:?}");
    // The whole process group went with it: no `sleep` of this hook is left.
    let left = std::process::Command::new("pgrep").args(["-f", &marker]).output().unwrap();
    assert!(left.stdout.is_empty(), "left running: {}", String::from_utf8_lossy(&left.stdout));
}
