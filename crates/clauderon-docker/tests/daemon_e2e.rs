//! End to end through a real daemon with the Docker backend: a container session makes HTTPS
//! requests through the credential proxy to the test kit's TLS upstream (which listens on the
//! host's loopback, where the proxy, not the container, connects). The upstream gets the real
//! credential; the container's environment, its files and its output never hold it. A locked
//! session reaches the proxy and nothing else.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use clauderon_daemon::{LaunchOptions, launch};
use clauderon_docker::{DockerBackend, DockerSettings};
use clauderon_testkit::TestRepo;
use clauderon_testkit::http::{Request as ApiRequest, unix};
use clauderon_testkit::upstream::TlsUpstream;
use clauderon_types::DataLayout;
use serde_json::json;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use support::daemon_fixture::{Cleanup, DaemonFixture, REAL_KEY, fixture, fixture_on_port, scope, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A plain HTTP server on the bridge's gateway, outside the proxy: what a direct connection
/// from a container would reach.
async fn direct_server(ip: IpAddr) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\ndirect-ok")
                .await;
        }
    });
    addr
}

#[tokio::test]
async fn container_session_gets_the_credential_injected_and_never_holds_it() {
    let fx = fixture().await;
    let command = r#"
        curl -sS -o /dev/null -w 'STATUS=%{http_code}\n' https://api.anthropic.com/small -H "x-api-key: $ANTHROPIC_API_KEY"
        curl -sS https://api.anthropic.com/small | head -c 5; echo
        id -u
        env | sort
        echo FINISHED
        sleep 300
    "#;
    fx.create("e2e", command, "open").await;
    let logs = fx.output_until("e2e", "FINISHED").await;
    assert!(logs.contains("STATUS=200"), "the proxied request failed: {logs}");
    assert!(logs.contains("xxxxx"), "no body through the proxy: {logs}");
    // The upstream got the real key, injected by the proxy.
    let requests = fx.up.wait_for_requests(1, Duration::from_secs(5)).await;
    assert!(
        requests.iter().any(|r| r.header("x-api-key") == Some(REAL_KEY)),
        "upstream never got the real key"
    );
    // The container never held it: its output and env, docker inspect, PID 1's environ, its files.
    assert!(logs.contains("ANTHROPIC_API_KEY="), "no placeholder for a configured credential: {logs}");
    assert!(!logs.contains(REAL_KEY), "the real key reached the session's output");
    let inspect = support::docker_cli(&["inspect", &format!("clauderon-{}", fx.n("e2e"))]);
    assert!(inspect.contains("HTTPS_PROXY="), "inspect did not show the env: {inspect}");
    assert!(!inspect.contains(REAL_KEY), "the real key is in the container's config");
    let environ =
        support::docker_cli(&["exec", &format!("clauderon-{}", fx.n("e2e")), "cat", "/proc/1/environ"]);
    assert!(environ.contains("HTTPS_PROXY"), "could not read PID 1's environ: {environ}");
    assert!(!environ.contains(REAL_KEY));
    let grep = support::docker_cli(&[
        "exec",
        &format!("clauderon-{}", fx.n("e2e")),
        "sh",
        "-c",
        &format!("grep -rl {REAL_KEY} /workspace /home /etc /tmp /run 2>/dev/null; echo GREP-DONE"),
    ]);
    assert_eq!(grep.trim(), "GREP-DONE", "files in the container hold the real key");
    // `clauderon env`: what the process got, the proxy password masked, no real credential.
    let client = clauderon_client::Client::new(clauderon_client::Endpoint::Unix(fx.daemon.socket.clone()));
    let vars = client.env(&fx.n("e2e")).await.unwrap();
    let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let secret = inspect.split("HTTPS_PROXY=http://").nth(1).unwrap().split('@').next().unwrap();
    let secret = secret.split_once(':').unwrap().1;
    assert!(get("HTTPS_PROXY").contains(":***@"), "{vars:?}");
    assert!(!vars.iter().any(|(_, v)| v.contains(secret)), "clauderon env shows the proxy secret");
    assert!(!get("ANTHROPIC_API_KEY").is_empty() && get("ANTHROPIC_API_KEY") != REAL_KEY);
    assert!(!vars.iter().any(|(_, v)| v.contains(REAL_KEY)));
    fx.delete("e2e").await;
    assert!(
        support::docker_cli(&["ps", "-aq", "--filter", &format!("name=^clauderon-{}$", fx.n("e2e"))])
            .trim()
            .is_empty()
    );
}

#[tokio::test]
async fn locked_network_reaches_the_proxy_and_nothing_else() {
    let fx = fixture().await;
    let direct = direct_server(fx.gateway).await;
    let probe = format!(
        r#"
        curl -sS --noproxy '*' -m 3 http://{direct}/ && echo " DIRECT-REACHED" || echo DIRECT-FAILED
        curl -sS -o /dev/null -w 'PROXIED=%{{http_code}}\n' -m 10 https://api.anthropic.com/small
        echo FINISHED
        sleep 300
    "#
    );
    // The same probe in an open session shows the direct server is reachable there.
    fx.create("open", &probe, "open").await;
    fx.create("locked", &probe, "locked").await;
    let open = fx.output_until("open", "FINISHED").await;
    let locked = fx.output_until("locked", "FINISHED").await;
    fx.delete("open").await;
    fx.delete("locked").await;
    assert!(open.contains("direct-ok DIRECT-REACHED"), "the open session could not reach the host: {open}");
    assert!(open.contains("PROXIED=200"), "{open}");
    assert!(locked.contains("DIRECT-FAILED"), "a locked session reached another address: {locked}");
    assert!(locked.contains("PROXIED=200"), "a locked session could not use the proxy: {locked}");
}

/// Read terminal output until it contains `want`.
async fn read_until(reader: &mut clauderon_client::terminal::TerminalReader, want: &str) -> String {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match reader.next().await.unwrap() {
                clauderon_client::terminal::TerminalEvent::Output(b) => {
                    seen.extend_from_slice(&b);
                    if String::from_utf8_lossy(&seen).contains(want) {
                        return;
                    }
                }
                other => panic!("the terminal ended before {want}: {other:?}"),
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&seen).into_owned();
    assert!(found.is_ok(), "never saw {want} on the terminal; saw {text:?}");
    text
}

#[tokio::test]
async fn two_clients_attach_through_the_daemon_type_resize_and_detach_leaving_it_running() {
    let fx = fixture().await;
    fx.create("term", "exec sh -i", "open").await;
    let client = clauderon_client::Client::new(clauderon_client::Endpoint::Unix(fx.daemon.socket.clone()));
    let (mut r1, mut w1) = client.terminal(&fx.n("term")).await.unwrap();
    let (mut r2, mut w2) = client.terminal(&fx.n("term")).await.unwrap();
    w1.resize(101, 33).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    w1.input(b"echo marker-$((6*7)); stty size\n").await.unwrap();
    let one = read_until(&mut r1, "33 101").await;
    let two = read_until(&mut r2, "33 101").await;
    assert!(one.contains("marker-42") && two.contains("marker-42"), "{one:?} / {two:?}");
    // Detach both: the session's shell keeps running and a new client can use it.
    w1.close().await;
    w2.close().await;
    drop((r1, r2));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = clauderon_backend::SessionBackend::status(
        fx.backend.as_ref(),
        &clauderon_backend::BackendHandle(format!("clauderon-{}", fx.n("term"))),
    )
    .await
    .unwrap();
    assert_eq!(status, clauderon_backend::BackendStatus::Running, "detaching stopped the session");
    let (mut r3, mut w3) = client.terminal(&fx.n("term")).await.unwrap();
    w3.input(b"echo again-$((1+1))\n").await.unwrap();
    read_until(&mut r3, "again-2").await;
    // The logs route has what the shell printed.
    let logs = client.logs(&fx.n("term"), 100).await.unwrap();
    assert!(logs.contains("marker-42"), "{logs}");
    fx.delete("term").await;
}

#[tokio::test]
async fn terminal_of_an_unknown_session_is_a_clear_error() {
    let fx = fixture().await;
    let client = clauderon_client::Client::new(clauderon_client::Endpoint::Unix(fx.daemon.socket.clone()));
    let err = client.terminal("nope").await.err().unwrap();
    assert_eq!(err.status(), Some(404), "{err}");
}

/// A port free on loopback and on the bridge gateway, for a daemon that must keep its proxy
/// port across a restart (a container's proxy address does not change).
async fn free_port(gateway: IpAddr) -> u16 {
    loop {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        if tokio::net::TcpListener::bind(SocketAddr::new(gateway, port)).await.is_ok() {
            return port;
        }
    }
}

#[tokio::test]
async fn a_daemon_restart_keeps_the_session_its_terminal_and_its_proxy_identity() {
    let probe = support::backend().await;
    let gateway = probe.proxy_ips().await.unwrap()[0];
    let port = free_port(gateway).await;
    let mut fx = fixture_on_port(port).await;
    fx.create("restart", "echo READY; exec sh -i", "open").await;
    fx.output_until("restart", "READY").await;
    fx.daemon.stop().await.unwrap();
    let (daemon, backend, _) = start(&fx.data, &fx.up, &fx.ca_dir, port).await;
    fx.daemon = daemon;
    fx.backend = backend;
    assert_eq!(fx.daemon.proxy_addr.port(), fx.proxy_port);
    let reply =
        unix(&fx.daemon.socket, ApiRequest::new("GET", &format!("/api/sessions/{}", fx.n("restart")))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json()["session"]["status"].as_str().or(reply.json()["status"].as_str()),
        Some("running"),
        "{}",
        reply.body
    );
    // Attach through the new daemon and use the proxy with the identity the session was given.
    let client = clauderon_client::Client::new(clauderon_client::Endpoint::Unix(fx.daemon.socket.clone()));
    let (mut r, mut w) = client.terminal(&fx.n("restart")).await.unwrap();
    w.input(b"curl -sS -o /dev/null -w 'AFTER=%{http_code}\\n' https://api.anthropic.com/small\n")
        .await
        .unwrap();
    let seen = read_until(&mut r, "AFTER=").await;
    let seen = seen + &read_until(&mut r, "\n").await;
    assert!(seen.contains("AFTER=200"), "the proxy refused the session after a restart: {seen:?}");
    fx.delete("restart").await;
}

/// The session's status as the API reports it.
async fn status(fx: &DaemonFixture, base: &str) -> String {
    let reply =
        unix(&fx.daemon.socket, ApiRequest::new("GET", &format!("/api/sessions/{}", fx.n(base)))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let v = reply.json();
    v["session"]["status"].as_str().or(v["status"].as_str()).unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_session_follows_its_container_exiting_and_starting_again() {
    let fx = fixture().await;
    fx.create("exits", "sleep 1; exit 3", "open").await;
    assert_eq!(status(&fx, "exits").await, "running");
    let mut seen = String::new();
    for _ in 0..100 {
        seen = status(&fx, "exits").await;
        if seen == "stopped" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, "stopped", "the session did not follow its container's exit");
    // The exit code is on the session's record, as an event.
    let mut detail = serde_json::Value::Null;
    let mut ended = None;
    for _ in 0..30 {
        detail = unix(&fx.daemon.socket, ApiRequest::new("GET", &format!("/api/sessions/{}", fx.n("exits"))))
            .await
            .json();
        ended = detail["events"].as_array().unwrap().iter().find(|e| e["type"] == "process-ended").cloned();
        if ended.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ended = ended.unwrap_or_else(|| panic!("no process-ended event: {detail}"));
    assert_eq!(ended["detail"], "exited with code 3", "{ended}");
    // Started again behind clauderon's back: the session follows that too.
    support::docker_cli(&["start", &format!("clauderon-{}", fx.n("exits"))]);
    for _ in 0..50 {
        seen = status(&fx, "exits").await;
        if seen == "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen, "running", "the session did not follow its container starting");
    fx.delete("exits").await;
}

#[tokio::test]
async fn a_labelled_container_without_a_session_is_reported_at_start_and_left_alone() {
    let (up, data, ca_dir) =
        (TlsUpstream::start_default().await, tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let short = clauderon_types::SessionId::new().short();
    let _cleanup = Cleanup(short.clone());
    let mut names = Vec::new();
    // One of this daemon's (its data dir as scope) and one of another daemon's.
    for (which, scope_label) in [("ours", scope(&data)), ("theirs", "/some/other/data-dir".to_string())] {
        let name = format!("clauderon-orphan-{which}-{short}");
        support::docker_cli(&[
            "create",
            "--name",
            &name,
            "--label",
            "dev.clauderon.managed=true",
            "--label",
            &format!("dev.clauderon.session-id={}", clauderon_types::SessionId::new()),
            "--label",
            &format!("dev.clauderon.scope={scope_label}"),
            &support::base_image(),
            "true",
        ]);
        names.push(name);
    }
    let (daemon, _, _) = start(&data, &up, &ca_dir, 0).await;
    let orphans: Vec<String> = daemon.reconcile.orphans.iter().map(|o| o.handle.clone()).collect();
    daemon.stop().await.unwrap();
    assert!(orphans.contains(&names[0]), "its own orphan was not reported: {orphans:?}");
    assert!(!orphans.contains(&names[1]), "another daemon's container was reported: {orphans:?}");
    for name in &names {
        assert!(
            !support::docker_cli(&["ps", "-aq", "--filter", &format!("name=^{name}$")]).is_empty(),
            "{name} was removed"
        );
    }
}

#[tokio::test]
async fn an_unknown_image_through_the_daemon_is_a_clear_error_and_leaves_nothing_behind() {
    let fx = fixture().await;
    let name = fx.n("badimg");
    let body = json!({
        "repo_path": fx.repo.path(), "prompt": "go", "name": name, "backend": "docker",
        "options": {"command": "true", "image": "clauderon-no-such-image:1"},
    });
    let reply =
        unix(&fx.daemon.socket, ApiRequest::new("POST", "/api/sessions").json(body.to_string())).await;
    assert!(reply.status >= 400, "{}", reply.body);
    assert!(reply.body.contains("docker pull clauderon-no-such-image:1"), "{}", reply.body);
    let list = unix(&fx.daemon.socket, ApiRequest::new("GET", "/api/sessions?view=all")).await;
    assert!(!list.body.contains(&name), "the session was kept: {}", list.body);
    assert!(!fx.repo.branches().unwrap().iter().any(|b| b.contains(&name)), "the branch was kept");
    assert!(!fx.data.path().join("worktrees").join(&name).exists(), "the worktree was kept");
    assert!(support::docker_cli(&["ps", "-aq", "--filter", &format!("name=^clauderon-{name}$")]).is_empty());
}

#[tokio::test]
async fn docker_not_running_is_a_503_that_says_what_to_do_and_leaves_nothing_behind() {
    let data = tempfile::tempdir().unwrap();
    let layout = DataLayout::new(data.path());
    let settings = DockerSettings {
        docker_host: Some("unix:///nonexistent/clauderon-test/docker.sock".into()),
        ..Default::default()
    };
    let mut options = LaunchOptions::new(layout, clauderon_testkit::daemon::test_config());
    options.backends.push(Arc::new(DockerBackend::new(settings)));
    let daemon = launch(options).await.unwrap();
    let repo = TestRepo::new().unwrap();
    let body = json!({"repo_path": repo.path(), "prompt": "go", "name": "down", "backend": "docker",
        "options": {"command": "true"}});
    let reply = unix(&daemon.socket, ApiRequest::new("POST", "/api/sessions").json(body.to_string())).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(
        reply.body.contains("Docker is not running") && reply.body.contains("start it"),
        "{}",
        reply.body
    );
    let list = unix(&daemon.socket, ApiRequest::new("GET", "/api/sessions?view=all")).await;
    assert!(!list.body.contains("\"down\""), "the session was kept: {}", list.body);
    assert!(!repo.branches().unwrap().iter().any(|b| b.contains("down")), "the branch was kept");
    daemon.stop().await.unwrap();
}

#[tokio::test]
async fn attaching_to_a_session_whose_process_ended_says_so() {
    let fx = fixture().await;
    fx.create("ended", "echo bye; exit 4", "open").await;
    fx.output_until("ended", "bye").await;
    let client = clauderon_client::Client::new(clauderon_client::Endpoint::Unix(fx.daemon.socket.clone()));
    let mut err = String::new();
    for _ in 0..50 {
        match client.terminal(&fx.n("ended")).await {
            Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => {
                err = e.to_string();
                break;
            }
        }
    }
    assert!(err.contains("not running") && err.contains("code 4"), "{err}");
    fx.delete("ended").await;
}

/// Issue 11 §4 from inside a container: the session replaces `~/.claude`, `~/.claude.json`,
/// `~/.codex` and `~/.gemini` with links to a host folder (paths that mean nothing inside the
/// container, everything to a daemon that follows them); stop and start through the API refuse
/// them with events, and nothing crosses either way (`clauderon_testkit::home_links`).
#[tokio::test]
async fn links_a_container_plants_in_its_home_are_refused_not_followed() {
    use clauderon_testkit::home_links::{HostFolder, assert_links_refused, wait_for_links};
    let fx = fixture().await;
    let host = HostFolder::new();
    fx.create("links", &host.plant_command(), "locked").await;
    let name = fx.n("links");
    let home = DataLayout::new(fx.data.path()).session_home(&name);
    wait_for_links(&home).await;
    assert_links_refused(&fx.daemon.socket, &name, &home, &host).await;
    fx.delete("links").await;
}
