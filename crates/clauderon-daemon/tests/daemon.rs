//! A whole daemon on port 0 and a Unix socket in a temp data dir, with the
//! test kit's fake backend (no real backend exists yet).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use clauderon_core::Config;
use clauderon_daemon::{DaemonError, LaunchOptions, launch};
use clauderon_testkit::http::{Request, tcp, unix};
use clauderon_testkit::{TestDaemon, TestRepo};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

async fn create(d: &TestDaemon, repo: &TestRepo, name: &str) -> Value {
    let body = json!({"repo_path": repo.path(), "prompt": "go", "name": name}).to_string();
    let reply = unix(d.socket(), Request::new("POST", "/api/sessions").json(body)).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.json()
}

async fn session(d: &TestDaemon, name: &str) -> Value {
    let reply = unix(d.socket(), Request::new("GET", &format!("/api/sessions/{name}"))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["session"].clone()
}

#[tokio::test]
async fn serves_the_same_api_on_tcp_and_the_socket() {
    let mut d = TestDaemon::start().await;
    let over_tcp = d.tcp(Request::new("GET", "/api/health")).await;
    let over_socket = unix(d.socket(), Request::new("GET", "/api/health")).await;
    assert_eq!((over_tcp.status, over_socket.status), (200, 200));
    assert_eq!(over_tcp.json()["backends"], json!(["zellij"]));
    assert_eq!(over_tcp.json(), over_socket.json());
    let mode =
        std::fs::metadata(d.socket()).map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()));
    assert_eq!(mode.ok().map(|m| m & 0o777), Some(0o600));
    // A page on a rebinding name (its Origin is that name) is refused even with the token; the
    // socket does not care about Host.
    let forged = d
        .tcp(
            Request::new("GET", "/api/health")
                .header("host", "evil.example:3030")
                .header("origin", "http://evil.example:3030"),
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    d.stop().await;
}

#[tokio::test]
async fn sessions_survive_a_restart_and_reconcile_fixes_statuses() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    let kept = create(&d, &repo, "kept").await;
    let vanished = create(&d, &repo, "vanished").await;
    let stopped = create(&d, &repo, "stopped").await;
    d.stop().await;

    // While the daemon is down: one resource disappears, one stops, one stray appears.
    d.fake.remove_behind_our_back(vanished["backend_handle"].as_str().unwrap());
    d.fake.set_running(stopped["backend_handle"].as_str().unwrap(), false);
    d.fake.add_stray("fake-stray-1");
    d.restart().await;

    assert_eq!(session(&d, "kept").await["status"], "running");
    assert_eq!(session(&d, "kept").await["id"], kept["id"]);
    let v = session(&d, "vanished").await;
    assert_eq!(v["status"], "failed");
    assert!(v["error"].as_str().unwrap().contains("no longer exists"), "{v}");
    assert_eq!(session(&d, "stopped").await["status"], "stopped");

    let report = d.reconcile().clone();
    assert_eq!(report.fixed.len(), 2, "{report:?}");
    assert_eq!(report.orphans.len(), 1);
    assert_eq!(report.orphans[0].handle, "fake-stray-1");
    assert!(d.fake.handles().contains(&"fake-stray-1".to_string()), "orphans are reported, never deleted");
    let health = unix(d.socket(), Request::new("GET", "/api/health")).await.json();
    assert_eq!(health["reconcile"]["orphans"][0]["handle"], "fake-stray-1");
    d.stop().await;
}

#[tokio::test]
async fn a_second_daemon_on_the_same_data_dir_names_the_holder() {
    let mut d = TestDaemon::start().await;
    let second = launch(LaunchOptions {
        layout: d.layout(),
        config: clauderon_testkit::daemon::test_config(),
        backends: Vec::new(),
        credential_env: Some(Default::default()),
        extra_proxy_ips: Vec::new(),
    })
    .await;
    match second {
        Err(DaemonError::Locked(message)) => {
            assert!(message.contains(&format!("pid {}", std::process::id())), "{message}")
        }
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("a second daemon started on the same data dir"),
    }
    // The first one is unharmed.
    assert_eq!(unix(d.socket(), Request::new("GET", "/api/version")).await.status, 200);
    d.stop().await;
}

#[tokio::test]
async fn non_loopback_bind_without_a_token_refuses_to_start() {
    let data = tempfile::tempdir().unwrap();
    let mut config: Config = clauderon_testkit::daemon::test_config();
    config.daemon.bind = "0.0.0.0:0".parse().unwrap();
    let result = launch(LaunchOptions {
        layout: clauderon_types::DataLayout::new(data.path()),
        config,
        backends: Vec::new(),
        credential_env: Some(Default::default()),
        extra_proxy_ips: Vec::new(),
    })
    .await;
    let message = result.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("without an API token"), "{message}");
    assert!(!data.path().join("clauderon.db").exists(), "nothing is created before the refusal");
}

/// A proxy port already taken: the error names the address and the flag that picks another,
/// and the data dir is left unlocked for the next try.
#[tokio::test]
async fn a_proxy_port_in_use_says_which_flag_picks_another() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut config: Config = clauderon_testkit::daemon::test_config();
    config.proxy.bind = taken.local_addr().unwrap();
    let options = || LaunchOptions {
        layout: clauderon_types::DataLayout::new(data.path()),
        config: config.clone(),
        backends: Vec::new(),
        credential_env: Some(Default::default()),
        extra_proxy_ips: Vec::new(),
    };
    let message = launch(options()).await.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains(&taken.local_addr().unwrap().to_string()), "{message}");
    assert!(message.contains("--proxy-bind"), "{message}");
    drop(taken);
    let d = launch(options()).await.unwrap();
    d.stop().await.unwrap();
}

#[tokio::test]
async fn websocket_streams_events_live_and_replays_after_a_cursor() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(d.ws_request("/ws/events")).await.unwrap();
    create(&d, &repo, "watched").await;

    let mut seen = Vec::new();
    while seen.len() < 2 {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap().unwrap().unwrap();
        if let Message::Text(text) = msg {
            seen.push(serde_json::from_str::<Value>(&text).unwrap());
        }
    }
    assert_eq!(seen[0]["type"], "created");
    assert_eq!(seen[0]["session_name"], "watched");
    assert_eq!((seen[1]["type"].as_str(), seen[1]["to"].as_str()), (Some("status-changed"), Some("running")));

    // Reconnect with ?since=<first seq>: the second event is replayed, nothing else.
    let since = seen[0]["seq"].as_i64().unwrap();
    let (mut ws2, _) =
        tokio_tungstenite::connect_async(d.ws_request(&format!("/ws/events?since={since}"))).await.unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(5), ws2.next()).await.unwrap().unwrap().unwrap();
    let replayed: Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
    assert_eq!(replayed["seq"], seen[1]["seq"]);

    // Stopping the daemon closes open streams instead of hanging on them.
    tokio::time::timeout(Duration::from_secs(10), d.stop())
        .await
        .expect("shutdown hung on an open websocket");
}

#[tokio::test]
async fn websocket_from_a_foreign_origin_is_refused() {
    let mut d = TestDaemon::start().await;
    let mut request = d.ws_request("/ws/events");
    request.headers_mut().insert("origin", "https://attacker.example".parse().unwrap());
    let err =
        tokio_tungstenite::connect_async(request).await.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("403"), "{err}");
    d.stop().await;
}

#[tokio::test]
async fn graceful_stop_closes_the_store_cleanly() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    create(&d, &repo, "durable").await;
    let data = d.data.path().to_path_buf();
    d.stop().await;
    let wal = data.join("clauderon.db-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0, "WAL not checkpointed");
    assert!(!data.join("clauderon.sock").exists(), "socket left behind");
    let store = clauderon_store::Store::open(&data.join("clauderon.db")).unwrap();
    assert_eq!(store.count().unwrap(), 1);
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_create_finish() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    d.fake.delay_creates(Some(Duration::from_millis(700)));
    let socket = d.socket().to_path_buf();
    let body = json!({"repo_path": repo.path(), "prompt": "go", "name": "in-flight"}).to_string();
    let request =
        tokio::spawn(async move { unix(&socket, Request::new("POST", "/api/sessions").json(body)).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    d.stop().await;
    let reply = request.await.unwrap();
    assert_eq!(reply.status, 201, "the in-flight create was cut: {}", reply.body);
    d.fake.delay_creates(None);
    d.restart().await;
    assert_eq!(session(&d, "in-flight").await["status"], "running");
    d.stop().await;
}

#[tokio::test]
async fn concurrent_creates_of_one_name_make_one_session() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    d.fake.delay_creates(Some(Duration::from_millis(300)));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let socket = d.socket().to_path_buf();
        let body = json!({"repo_path": repo.path(), "prompt": "go", "name": "race"}).to_string();
        tasks.push(tokio::spawn(async move {
            unix(&socket, Request::new("POST", "/api/sessions").json(body)).await
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap().status);
    }
    statuses.sort();
    assert_eq!(statuses, [201, 409, 409, 409]);
    assert_eq!(d.fake.handles().len(), 1);
    assert_eq!(repo.worktrees().unwrap().len(), 1);
    d.stop().await;
}

#[tokio::test]
async fn a_token_guards_tcp_but_not_the_socket() {
    let data = tempfile::tempdir().unwrap();
    let mut config = clauderon_testkit::daemon::test_config();
    config.daemon.api_token =
        Some(clauderon_core::config::parse_api_token("0123456789abcdef0123", "test").unwrap());
    let d = launch(LaunchOptions {
        layout: clauderon_types::DataLayout::new(data.path()),
        config,
        backends: Vec::new(),
        credential_env: Some(Default::default()),
        extra_proxy_ips: Vec::new(),
    })
    .await
    .unwrap();
    assert!(!data.path().join("api-token").exists(), "a token was generated beside the configured one");
    let without = tcp(d.http_addr, Request::new("GET", "/api/sessions")).await;
    assert_eq!(without.status, 401, "{}", without.body);
    assert!(!without.body.contains("0123456789abcdef"), "the token leaked into an error");
    let wrong =
        tcp(d.http_addr, Request::new("GET", "/api/sessions").header("authorization", "Bearer nope")).await;
    assert_eq!(wrong.status, 401);
    let right = tcp(
        d.http_addr,
        Request::new("GET", "/api/sessions").header("authorization", "Bearer 0123456789abcdef0123"),
    )
    .await;
    assert_eq!(right.status, 200, "{}", right.body);
    assert_eq!(unix(&d.socket, Request::new("GET", "/api/sessions")).await.status, 200);
    d.stop().await.unwrap();
}

/// A backend can ask for the proxy on more addresses (a container bridge's gateway): each
/// listens on the main proxy port and refuses requests without a session identity.
#[tokio::test]
async fn the_proxy_listens_on_extra_addresses_on_its_own_port() {
    let data = tempfile::tempdir().unwrap();
    let extra: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    let d = launch(LaunchOptions {
        credential_env: Some(Default::default()),
        extra_proxy_ips: vec![extra],
        ..LaunchOptions::new(
            clauderon_types::DataLayout::new(data.path()),
            clauderon_testkit::daemon::test_config(),
        )
    })
    .await
    .unwrap();
    let want = std::net::SocketAddr::new(extra, d.proxy_addr.port());
    assert_eq!(d.proxy_addrs, vec![d.proxy_addr, want]);
    let resp = tcp(want, Request::new("GET", "http://example.test/")).await;
    assert_eq!(resp.status, 407, "{}", resp.body);
    d.stop().await.unwrap();
    assert!(!data.path().join("proxy.sock").exists(), "the proxy socket is removed at stop");
}
