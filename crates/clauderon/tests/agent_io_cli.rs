//! The real `clauderon` binary talking to a session's agent (issue 6 §3, §4): `send` types a
//! follow-up prompt, and `list` shows the status the agent's hooks reported. The daemon runs in
//! this test process with the test kit's fake backend (which records what was typed); the
//! backends' own typing is tested against real zellij and Docker by the contract suite.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use clauderon_testkit::http::{Request, tcp};
use clauderon_testkit::{TestDaemon, TestRepo};
use common::run_with as run;

async fn create(d: &TestDaemon, repo: &TestRepo, name: &str) {
    let repo = repo.path().to_string_lossy().to_string();
    let (ok, _, err) = run(d, &["create", "--repo", &repo, "--prompt", "go", "--name", name], None).await;
    assert!(ok, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_types_the_text_intact_and_says_what_to_do_when_it_cannot() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    create(&d, &repo, "talk").await;

    let text = "now run \"the tests\" & don't stop\nzweite Zeile: ü ✓ 日本";
    let (ok, out, err) = run(&d, &["send", "talk", text], None).await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "sent to talk; `clauderon logs talk --follow` shows the agent at work");
    let (ok, _, err) = run(&d, &["send", "talk", "-"], Some("from a pipe\r\nline two\n")).await;
    assert!(ok, "{err}");
    assert_eq!(d.fake.typed("talk"), [text, "from a pipe\nline two"]);

    // Nothing to send: one line saying how, and nothing typed.
    for (args, stdin) in [(vec!["send", "talk", ""], None), (vec!["send", "talk", "-"], Some("  \n"))] {
        let (ok, _, err) = run(&d, &args, stdin).await;
        assert!(!ok, "{args:?} succeeded");
        assert!(err.contains("nothing to send") && err.contains("clauderon send talk"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    let (ok, _, err) = run(&d, &["send", "talk", "stop\u{3}"], None).await;
    assert!(!ok && err.contains("control character U+0003"), "{err}");
    let (ok, _, err) = run(&d, &["send", "nobody", "hi"], None).await;
    assert!(!ok && err.contains("no session named `nobody`"), "{err}");

    // A stopped session: refused, saying why.
    let handle = d.fake.handles().pop().unwrap();
    d.fake.set_running(&handle, false);
    d.restart().await;
    let (ok, _, err) = run(&d, &["send", "talk", "hello?"], None).await;
    assert!(!ok && err.contains("stopped") && err.contains("clauderon logs"), "{err}");
    assert_eq!(d.fake.typed("talk").len(), 2);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_shows_the_status_the_agents_hooks_reported() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    create(&d, &repo, "busy").await;
    create(&d, &repo, "asking").await;
    for (name, status) in [("busy", "idle"), ("asking", "waiting-for-input")] {
        let access = d.fake.proxy_for(name).unwrap();
        let auth = base64_basic(name, &access.secret);
        let reply = tcp(
            d.proxy_addr(),
            Request::new("POST", "http://clauderon.internal/v1/status")
                .header("host", "clauderon.internal")
                .header("proxy-authorization", auth)
                .json(format!("{{\"status\":\"{status}\"}}")),
        )
        .await;
        assert_eq!(reply.status, 204, "{}", reply.body);
    }
    let (ok, table, err) = run(&d, &["list"], None).await;
    assert!(ok, "{err}");
    let row = |name: &str| table.lines().find(|l| l.starts_with(name)).unwrap_or_default().to_string();
    assert!(row("busy").contains("idle"), "{table}");
    assert!(row("asking").contains("waiting-for-input"), "{table}");
    d.stop().await;
}

fn base64_basic(user: &str, secret: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_and_start_run_the_session_again_and_say_what_to_do_when_they_cannot() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    create(&d, &repo, "nap").await;

    let (ok, out, err) = run(&d, &["stop", "nap"], None).await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "stopped nap; `clauderon start nap` runs it again");
    let (ok, _, err) = run(&d, &["stop", "nap"], None).await;
    assert!(!ok, "stopping a stopped session succeeded");
    assert!(err.contains("nothing to stop") && err.contains("clauderon start nap"), "{err}");

    let (ok, out, err) = run(&d, &["start", "nap", "--json"], None).await;
    assert!(ok, "{err}");
    let session: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(session["status"], "running");
    let (ok, _, err) = run(&d, &["start", "nap"], None).await;
    assert!(!ok, "starting a running session succeeded");
    assert!(err.contains("only a stopped or failed session can be started"), "{err}");
    d.stop().await;
}
