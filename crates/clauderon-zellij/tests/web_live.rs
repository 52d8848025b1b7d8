//! Issue 13's flow end to end, nothing faked but the model API (the test kit's fake, the real one
//! is out of reach here): real Chromium (Debian's, through playwright-core) on the web UI of a
//! real daemon with the Zellij backend, running the real Claude Code CLI in a zellij pane. From
//! the browser: create the session from the form, see the reply in Chat, watch the status go
//! from working to idle live, send a follow-up and see it answered, type into the Terminal and
//! read it back, flip the access mode and see it in the Proxy tab with the agent's calls in the
//! audit, delete the session. Once at desktop size, once at phone size (where every page but the
//! terminal has no horizontal scroll and 44 px touch targets); each page kept as a screenshot in
//! `target/web-screenshots/live-*.png`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use clauderon_testkit::browser::Driver;
use clauderon_testkit::terminal_rtt as rtt;
use clauderon_types::AgentKind;
use std::time::Duration;
use support::agents::{LiveDaemon, REPLY};

/// A step may wait for a real agent: its start and a model call through the proxy.
const STEP: Duration = Duration::from_secs(60);

fn shots() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/web-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn sign_in(b: &mut Driver, d: &LiveDaemon) {
    let running = d.daemon.as_ref().unwrap();
    b.sign_in(&format!("http://{}", running.http_addr), running.api_token.expose()).await;
}

/// Every value the session page's status tag takes from now on, in order (a page-side
/// observer, so no change between two polls is missed).
async fn record_statuses(b: &mut Driver) {
    b.eval(
        "(() => { window.__statuses = []; const seen = () => {
            const t = document.querySelector('.session-head [data-field=status]');
            const v = t && t.textContent; const all = window.__statuses;
            if (v && all[all.length - 1] !== v) all.push(v); };
          seen(); new MutationObserver(seen).observe(document.body, {subtree: true, childList: true, characterData: true}); })()",
    )
    .await;
}

async fn statuses(b: &mut Driver) -> Vec<String> {
    let v = b.eval("window.__statuses").await;
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap_or_default().to_string()).collect()
}

/// The whole flow for one session at one viewport size.
async fn flow(d: &LiveDaemon, b: &mut Driver, name: &str, width: u32, height: u32) {
    let shot = |page: &str| shots().join(format!("live-{page}-{width}.png"));
    let phone = width < 500;
    b.viewport(width, height).await;
    b.goto(&format!("http://{}/new", d.daemon.as_ref().unwrap().http_addr)).await;
    b.wait_for("h1", Some("New session")).await;
    b.fill("#repo_path", &d.repo.path().display().to_string()).await;
    b.wait_for("[data-testid=repo-check][data-ok=true]", None).await;
    let prompt = format!("Say hello from the {name} browser test");
    b.fill("#prompt", &prompt).await;
    b.fill("#name", name).await;
    for (select, value) in [("#backend", "zellij"), ("#agent", "claude"), ("#access_mode", "read-write")] {
        b.eval(&format!(
            "(() => {{ const s = document.querySelector('{select}'); s.value = '{value}'; s.dispatchEvent(new Event('change', {{bubbles: true}})); }})()"
        ))
        .await;
    }
    b.screenshot(&shot("create")).await;
    if phone {
        b.assert_fits_a_phone().await;
    }
    b.click_text("button", "Create session").await;
    b.wait_for("h1", Some(name)).await;
    record_statuses(b).await;

    // The reply appears in Chat, after the prompt.
    b.wait_for("li.msg[data-role=user]", Some(&prompt)).await;
    b.wait_for("li.msg[data-role=assistant]", Some(REPLY)).await;
    // Working, then idle once the agent's turn ended, followed live on the page.
    b.wait_for(".session-head [data-field=status]", Some("idle")).await;
    let seen = statuses(b).await;
    let working = seen.iter().position(|s| s == "running");
    let idle = seen.iter().rposition(|s| s == "idle");
    assert!(
        matches!((working, idle), (Some(w), Some(i)) if w < i),
        "the page did not show working then idle: {seen:?}"
    );
    b.screenshot(&shot("chat")).await;
    if phone {
        b.assert_fits_a_phone().await;
    }

    // The Terminal: what is typed reaches the agent's input box and shows back.
    b.click_text("[role=tab]", "terminal").await;
    b.wait_for("[data-testid=terminal] .xterm-rows", Some(REPLY)).await;
    b.click("[data-testid=terminal] .xterm").await;
    b.type_text("echo hi").await;
    b.wait_for("[data-testid=terminal] .xterm-rows", Some("echo hi")).await;
    b.screenshot(&shot("terminal")).await;
    for _ in 0.."echo hi".len() {
        b.press("Backspace").await;
    }

    // Read-only from the Controls: the header and the Proxy tab say so at once.
    b.click_text("[role=tab]", "controls").await;
    b.click_text("button", "Make it read-only").await;
    b.wait_for(".session-head [data-field=access]", Some("read-only")).await;
    b.screenshot(&shot("controls")).await;
    if phone {
        b.assert_fits_a_phone().await;
    }
    b.click_text("[role=tab]", "proxy").await;
    b.wait_for("[data-testid=proxy-mode] strong", Some("read-only")).await;
    b.wait_for(".audit-row[data-decision=injected] .path", Some("/v1/messages")).await;
    let before = b.count(".audit-row .path:text('/v1/messages')").await;
    assert!(before >= 1, "the first model call is not in the audit");

    // A follow-up from Chat, in read-only mode: answered, and its model call joins the audit.
    b.click_text("[role=tab]", "chat").await;
    let follow_up = format!("And now a follow-up for {name}");
    b.fill("#follow-up", &follow_up).await;
    b.click_text("button", "Send").await;
    b.wait_for("li.msg[data-role=user]", Some(&follow_up)).await;
    // Answered (the API's view first: on failure it shows the agent's screen and the model calls).
    d.wait_for_reply_to(name, &follow_up).await;
    b.wait_for(
        &format!("li.msg[data-role=user]:has-text('{follow_up}') ~ li.msg[data-role=assistant]"),
        Some(REPLY),
    )
    .await;
    b.click_text("[role=tab]", "proxy").await;
    b.wait_for(".audit-row[data-decision=injected] .path", Some("/v1/messages")).await;
    for _ in 0..120 {
        if b.count(".audit-row .path:text('/v1/messages')").await > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        b.count(".audit-row .path:text('/v1/messages')").await > before,
        "the follow-up's call is not in the audit"
    );
    b.screenshot(&shot("proxy")).await;
    if phone {
        b.assert_fits_a_phone().await;
    }
    b.click_text("[role=tab]", "details").await;
    b.wait_for("dd", Some(&format!("clauderon/{name}"))).await;
    // The environment as the agent got it: the proxy's password masked, placeholders for keys.
    b.click_text("summary", "Environment as the agent got it").await;
    b.wait_for("[data-testid=env] dt", Some("HTTPS_PROXY")).await;
    let env = b.text("[data-testid=env]").await;
    assert!(env.contains(":***@"), "the proxy URL is not masked: {env}");
    assert!(!env.contains(support::agents::ANTHROPIC_KEY), "the real key is in the page: {env}");
    b.screenshot(&shot("details")).await;
    if phone {
        b.assert_fits_a_phone().await;
    }

    // Delete: forced (the agent may have left files), gone from the API and the list.
    b.click_text("[role=tab]", "controls").await;
    b.click_text("button", "Delete…").await;
    b.click_text("label", "Force").await;
    b.click_text("button", "for good").await;
    b.wait_for("h1", Some("Sessions")).await;
    b.wait_gone(&format!("li[data-session='{name}']")).await;
    let (status, _) = d.request("GET", &format!("/api/sessions/{name}"), None).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_claude_session_from_the_browser_at_desktop_and_phone_size() {
    let d = LiveDaemon::start(&[AgentKind::Claude]).await;
    let mut b = Driver::open(STEP).await;
    sign_in(&mut b, &d).await;
    flow(&d, &mut b, "web-desk", 1280, 800).await;
    flow(&d, &mut b, "web-phone", 390, 844).await;
    // No page error along the way.
    let console = b.send(serde_json::json!({"op": "console"})).await;
    let errors: Vec<_> =
        console.as_array().unwrap().iter().filter(|l| l.to_string().contains("pageerror")).collect();
    assert!(errors.is_empty(), "page errors: {errors:?}");
    b.close().await;
}

/// The floor: a plain `zellij attach` on a pseudo-terminal of the test's own, no daemon.
async fn direct_round_trips(config: &std::path::Path, handle: &str, count: usize) -> Vec<f64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (pty, pts) = pty_process::open().unwrap();
    pty.resize(pty_process::Size::new(30, 120)).unwrap();
    let mut child = pty_process::Command::new(support::zellij())
        .args([std::ffi::OsStr::new("--config"), config.as_os_str()])
        .args(["attach", handle])
        .kill_on_drop(true)
        .spawn(pts)
        .unwrap();
    let (mut reader, mut writer) = pty.into_split();
    let mut buf = vec![0u8; 64 * 1024];
    let drain = async |reader: &mut pty_process::OwnedReadPty, buf: &mut [u8], ms: u64| {
        let until = tokio::time::Instant::now() + Duration::from_millis(ms);
        while let Ok(Ok(n)) = tokio::time::timeout_at(until, reader.read(buf)).await
            && n > 0
        {}
    };
    drain(&mut reader, &mut buf, 500).await;
    let mut out = Vec::new();
    for i in 0..count {
        let c = rtt::KEYS.as_bytes()[i % rtt::KEYS.len()];
        let t0 = std::time::Instant::now();
        writer.write_all(&[c]).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, reader.read(&mut buf)).await
            && n > 0
            && !buf[..n].contains(&c)
        {}
        out.push(t0.elapsed().as_secs_f64() * 1000.0);
        drain(&mut reader, &mut buf, 20).await;
        if i % 40 == 39 {
            writer.write_all(b"\r").await.unwrap();
            drain(&mut reader, &mut buf, 200).await;
        }
    }
    let _ = child.start_kill();
    let _ = child.wait().await;
    out
}

/// Keystroke to echo on a zellij session's terminal (`exec cat`, the tty echoes): in Chromium
/// on the daemon's WebSocket, beside `clauderon attach`'s client on the Unix socket and a plain
/// `zellij attach` on a pseudo-terminal (the floor), alternating batches of 20 in one run. BENCHMARKS.md "Terminal round trip".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement for BENCHMARKS.md"]
async fn terminal_round_trip() {
    let d = LiveDaemon::start(&[]).await;
    let body = serde_json::json!({
        "repo_path": d.repo.path(), "prompt": "", "name": "rtt", "backend": "zellij",
        "options": {"command": "exec cat"},
    });
    let (status, reply) = d.request("POST", "/api/sessions", Some(body)).await;
    assert_eq!(status, 201, "{reply}");
    let mut b = Driver::open(STEP).await;
    sign_in(&mut b, &d).await;
    let client = clauderon_client::Client::new(clauderon_client::Endpoint::Unix(d.socket()));
    let script = rtt::page_script();
    let handle = d.handle("rtt").await;
    let config = d.data.path().join("zellij/zellij.kdl");
    let (mut page, mut cli, mut direct) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        let v = b.eval(&format!("({script})('rtt', 20)")).await;
        page.extend(v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()));
        cli.extend(rtt::client_round_trips(&client, "rtt", 20).await);
        direct.extend(direct_round_trips(&config, handle.as_str(), 20).await);
    }
    let in_page = rtt::summary("browser (Chromium, WebSocket over TCP)", page);
    let attach = rtt::summary("clauderon attach's client (Unix socket)", cli);
    let floor = rtt::summary("plain zellij attach on a pty (no daemon)", direct);
    println!("browser / attach: {:.2}x; browser / plain zellij: {:.2}x", in_page / attach, in_page / floor);
    d.delete("rtt").await;
    b.close().await;
}
