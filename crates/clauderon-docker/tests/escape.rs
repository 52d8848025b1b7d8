//! The escape suite for Docker sessions (issue 11): a container whose own process is an attack
//! script, on both networks, and the host checking afterwards that nothing got out. The attacks
//! are shown to work where there is no wall in `clauderon-zellij/tests/escape.rs` (sandbox
//! `off`, a plain host process) and `clauderon-core/tests/git_containment.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use clauderon_testkit::attacks::{self, GIT_PLANT, REACH_HOST, SocketTrap};
use clauderon_testkit::http::{Request, unix};
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::daemon_fixture::{DaemonFixture, fixture};

async fn api(fx: &DaemonFixture, method: &str, path: &str) -> (u16, String) {
    let reply = unix(&fx.daemon.socket, Request::new(method, path)).await;
    (reply.status, reply.body)
}

fn worktree(fx: &DaemonFixture, base: &str) -> PathBuf {
    fx.data.path().join("worktrees").join(fx.n(base))
}

async fn status(fx: &DaemonFixture, base: &str) -> String {
    let (_, body) = api(fx, "GET", &format!("/api/sessions/{}", fx.n(base))).await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["session"]["status"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_container_cannot_plant_anything_a_host_git_runs() {
    let fx = fixture().await;
    let nonce = attacks::nonce();
    let base = "dk-git";
    fx.create(base, &attacks::session_command(GIT_PLANT, &format!("{nonce} out/outcomes")), "open").await;
    let wt = worktree(&fx, base);
    attacks::wait_for(&wt.join("out/finished")).await;
    let outcomes = attacks::outcomes(&wt.join("out/outcomes")).expect("the attack wrote its outcomes");
    for vector in attacks::GIT_WALLED {
        assert_eq!(outcomes.get(*vector), Some(&false), "{vector} went through: {outcomes:?}");
    }
    // The session can still do its work: commit on its branch.
    let name = fx.n(base);
    let commit = support::docker_cli(&[
        "exec",
        &format!("clauderon-{name}"),
        "sh",
        "-c",
        "cd /workspace && echo work > work.txt && git add work.txt && git -c user.name=a -c user.email=a@b commit -qm work && git log --format=%s -1",
    ]);
    assert!(commit.contains("work"), "a commit on the session's branch failed: {commit}");
    let branch_head = fx.repo.git(&["log", "--format=%s", "-1", &format!("clauderon/{name}")]).unwrap();
    assert_eq!(branch_head, "work");

    // Everything that runs git on the host.
    assert_eq!(api(&fx, "POST", &format!("/api/sessions/{name}/stop")).await.0, 200);
    for _ in 0..100 {
        if status(&fx, base).await == "stopped" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (code, body) = api(&fx, "POST", &format!("/api/sessions/{name}/start")).await;
    assert_eq!(code, 200, "{body}");
    let (code, body) = api(&fx, "DELETE", &format!("/api/sessions/{name}")).await;
    assert_eq!(code, 409, "the planted files are uncommitted work: {body}");
    attacks::review_and_ship(&fx.daemon.socket, &name).await;
    fx.delete(base).await;
    let user =
        std::process::Command::new("git").arg("-C").arg(fx.repo.path()).arg("status").output().unwrap();
    assert!(user.status.success(), "{}", String::from_utf8_lossy(&user.stderr));
    assert_eq!(attacks::pwned(&nonce), Vec::<PathBuf>::new(), "a host git ran what the container planted");
}

#[tokio::test]
async fn a_container_reaches_no_host_socket_and_no_file_of_the_user() {
    let fx = fixture().await;
    let nonce = attacks::nonce();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join(".bashrc"), "export SECRET=bashrc-secret").unwrap();
    let traps = [
        SocketTrap::bind(Path::new(&format!("/run/clauderon-escape-{nonce}.sock"))).unwrap(),
        SocketTrap::bind(Path::new(&format!("/tmp/clauderon-escape-{nonce}.sock"))).unwrap(),
    ];
    let mut paths: Vec<PathBuf> = traps.iter().map(|t| t.path.clone()).collect();
    paths.extend([
        fx.daemon.socket.clone(),
        PathBuf::from("/var/run/docker.sock"),
        home.path().join(".bashrc"),
        fx.repo.path().join("README.md"),
    ]);
    assert!(Path::new("/var/run/docker.sock").exists(), "the engine's socket is there to be attacked");
    for network in ["open", "locked"] {
        let base = format!("dk-reach-{network}");
        let mut args = "out/reach /run/clauderon/proxy.sock".to_string();
        for p in &paths {
            args.push_str(&format!(" '{}'", p.display()));
        }
        fx.create(&base, &attacks::session_command(REACH_HOST, &args), network).await;
        let wt = worktree(&fx, &base);
        attacks::wait_for(&wt.join("out/finished")).await;
        let report = attacks::report(&wt.join("out/reach")).expect("the attack finished");
        for line in &report {
            let reached = line.ends_with(" connected") || line.ends_with(" read");
            assert!(!reached, "{network}: the container reached `{line}`\n{report:#?}");
        }
        for trap in &traps {
            assert_eq!(trap.accepted(), 0, "{network}: {} accepted a connection", trap.path.display());
        }
        fx.delete(&base).await;
    }
}

/// The daemon's TCP API, called from inside containers on both networks, directly and through
/// their own proxy (whose test config allows 127.0.0.1 and localhost), by loopback names and the
/// bridge's gateway: no call gets a 2xx, the session stays read-only, nothing is created.
#[tokio::test]
async fn a_container_gets_nothing_from_the_daemon_api() {
    let fx = fixture().await;
    let api_port = fx.daemon.http_addr.port();
    let bases = [
        format!("http://127.0.0.1:{api_port}"),
        format!("http://localhost:{api_port}"),
        format!("http://{}:{api_port}", fx.gateway),
        format!("http://{}:{}", fx.gateway, fx.proxy_port),
    ];
    let urls = bases.iter().map(|b| format!("'{b}'")).collect::<Vec<_>>().join(" ");
    for network in ["open", "locked"] {
        let base = format!("dk-api-{network}");
        let name = fx.n(&base);
        fx.create(
            &base,
            &attacks::session_command(attacks::REACH_API, &format!("out/api {name} {urls}")),
            network,
        )
        .await;
        let wt = worktree(&fx, &base);
        attacks::wait_for(&wt.join("out/finished")).await;
        let report = attacks::report(&wt.join("out/api")).expect("the attack finished");
        assert!(report.iter().any(|l| l.starts_with("proxy ")), "{report:?}");
        for line in &report {
            let code = line.rsplit(' ').next().unwrap_or("");
            assert!(!code.starts_with('2'), "{network}: the container got `{line}`\n{report:#?}");
        }
        let (_, body) = api(&fx, "GET", &format!("/api/sessions/{name}")).await;
        assert!(body.contains("\"read-only\""), "{body}");
        let (_, list) = api(&fx, "GET", "/api/sessions?view=all").await;
        assert!(!list.contains("\"name\":\"escaped\""), "the container created a session: {list}");
        fx.delete(&base).await;
    }
}
