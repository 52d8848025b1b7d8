//! The terminal WebSocket for Zellij sessions, through a real daemon and real zellij: the daemon
//! attaches a zellij client on a pseudo-terminal it holds and relays it. Keys typed reach the
//! session's process and its output comes back; two viewers see the same screen; a viewer's
//! Ctrl-q (zellij's quit key by default) cannot end the session; a viewer that goes leaves no
//! client behind and the session running.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use clauderon_client::terminal::{TerminalEvent, TerminalReader};
use clauderon_client::{Client, Endpoint};
use clauderon_types::SandboxLevel;
use std::time::Duration;
use support::daemon_env::Env;

/// Read the terminal until what it showed contains `want` (20 s at most).
async fn read_until(reader: &mut TerminalReader, want: &str) -> String {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let text = String::from_utf8_lossy(&seen).into_owned();
        if text.contains(want) {
            return text;
        }
        match tokio::time::timeout_at(deadline, reader.next()).await {
            Ok(Ok(TerminalEvent::Output(bytes))) => seen.extend(bytes),
            Ok(Ok(other)) => {
                panic!("the terminal ended before showing {want:?}: {other:?}; it showed {text:?}")
            }
            Ok(Err(e)) => panic!("the terminal failed before showing {want:?}: {e}; it showed {text:?}"),
            Err(_) => panic!("the terminal never showed {want:?}; it showed {text:?}"),
        }
    }
}

/// The attach clients of this data dir's sessions still running.
fn attach_clients(data: &std::path::Path) -> usize {
    let out = std::process::Command::new("pgrep")
        .args(["-f", &format!("{}.*zellij.kdl attach clauderon-", data.display())])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

async fn wait_clients(data: &std::path::Path, want: usize) {
    for _ in 0..200 {
        if attach_clients(data) == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} attach clients, not {want}", attach_clients(data));
}

#[tokio::test]
async fn a_zellij_sessions_terminal_types_echoes_and_is_shared() {
    let e = Env::start().await;
    // A shell that reads lines: what is typed runs, its output shows.
    e.create("term-a", SandboxLevel::Fs, "exec sh -i").await;
    let client = Client::new(Endpoint::Unix(e.socket()));

    let (mut one, mut keys) = client.terminal("term-a").await.unwrap();
    keys.resize(100, 30).await.unwrap();
    keys.input(b"echo typed-$((20+22))\r").await.unwrap();
    read_until(&mut one, "typed-42").await;

    // A second viewer at once sees what the first one types.
    let (mut two, _keys_two) = client.terminal("term-a").await.unwrap();
    wait_clients(e.data.path(), 2).await;
    keys.input(b"echo shared-$((3*3))\r").await.unwrap();
    read_until(&mut two, "shared-9").await;
    read_until(&mut one, "shared-9").await;

    // Ctrl-q is zellij's quit key by default: through the relay it reaches the shell, not
    // zellij, and the session runs on.
    keys.input(b"\x11").await.unwrap();
    keys.input(b"echo after-quit-key\r").await.unwrap();
    read_until(&mut two, "after-quit-key").await;

    // The viewers go: their clients end, the session stays up and can be opened again.
    keys.close().await;
    drop((one, keys, two, _keys_two));
    wait_clients(e.data.path(), 0).await;
    assert_eq!(e.session("term-a").await["session"]["status"], "running");
    let (mut again, mut keys) = client.terminal("term-a").await.unwrap();
    keys.input(b"echo back-$((1+1))\r").await.unwrap();
    read_until(&mut again, "back-2").await;
    e.delete("term-a").await;
}

#[tokio::test]
async fn a_stopped_zellij_session_has_no_terminal_and_says_how_to_get_one() {
    let e = Env::start().await;
    e.create("term-gone", SandboxLevel::Fs, "exit 0").await;
    let client = Client::new(Endpoint::Unix(e.socket()));
    // Once the process has ended (zellij keeps the pane), the terminal is refused.
    let mut refused = None;
    for _ in 0..200 {
        if let Err(err) = client.terminal("term-gone").await {
            refused = Some(err.to_string());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let err = refused.expect("the ended session's terminal was never refused");
    assert!(err.contains("not running") && err.contains("clauderon start"), "{err}");
    assert_eq!(attach_clients(e.data.path()), 0);
    e.delete("term-gone").await;
}

/// The web UI's Terminal tab in real Chromium on a zellij session: typing runs in the session's
/// shell and shows in xterm.js; the daemon restarts (same port; the session runs on), the tab
/// says it is reconnecting, comes back by itself, and typing works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_terminal_types_and_reconnects_after_a_daemon_restart() {
    use clauderon_testkit::browser::Driver;
    let mut e = Env::start().await;
    e.create("term-web", SandboxLevel::Fs, "exec sh -i").await;
    let addr = e.daemon.as_ref().unwrap().http_addr;
    let token = e.daemon.as_ref().unwrap().api_token.expose().to_string();
    let mut b = Driver::open(Duration::from_secs(20)).await;
    b.sign_in(&format!("http://{addr}"), &token).await;
    b.goto(&format!("http://{addr}/sessions/term-web")).await;
    b.click_text("[role=tab]", "terminal").await;
    // Live, and the shell's prompt drawn.
    b.wait_for("[data-testid=terminal] .xterm-rows", Some("#")).await;
    b.click("[data-testid=terminal] .xterm").await;
    b.type_text("echo one-$((1+1))\n").await;
    b.wait_for("[data-testid=terminal] .xterm-rows", Some("one-2")).await;

    // The same port after the restart, as a daemon restarted by its service would have.
    e.config.daemon.bind = addr;
    e.daemon.take().unwrap().stop().await.unwrap();
    b.wait_for("[data-testid=terminal-state]", Some("reconnecting")).await;
    e.boot().await;
    b.wait_gone("[data-testid=terminal-state]").await;
    b.wait_for("[data-testid=terminal] .xterm-rows", Some("one-2")).await;
    b.click("[data-testid=terminal] .xterm").await;
    b.type_text("echo two-$((2+2))\n").await;
    b.wait_for("[data-testid=terminal] .xterm-rows", Some("two-4")).await;
    b.close().await;
    e.delete("term-web").await;
}
