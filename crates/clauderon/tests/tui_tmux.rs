//! `clauderon tui` for real: the built binary in a detached tmux session against a test daemon
//! (in this process, with the test kit's fake backend: no real backend can run in every test
//! environment), driven with `tmux send-keys` and read with `capture-pane`. Every wait has a
//! deadline and looks at the screen; none is a bare sleep.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use clauderon_testkit::{TestDaemon, TestRepo};
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of this test's own (its own socket), with one session running the TUI.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(d: &TestDaemon) -> Tmux {
        Tmux::start_with(d, "", "")
    }

    /// With `env` (`NAME=value ...`) for the TUI, and `after` run once it has exited.
    fn start_with(d: &TestDaemon, env: &str, after: &str) -> Tmux {
        let socket = format!("clauderon-tui-test-{}", std::process::id());
        let line = format!(
            "env -u CLAUDERON_URL -u CLAUDERON_API_TOKEN CLAUDERON_HOME={} NO_COLOR=1 {env} {} tui; echo TUI-EXITED=$?; {after} sleep 30",
            d.data.path().display(),
            env!("CARGO_BIN_EXE_clauderon")
        );
        let tmux = Tmux { socket };
        tmux.run(&["new-session", "-d", "-s", "tui", "-x", "120", "-y", "40", &line]);
        tmux
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").args(["-L", &self.socket]).args(args).output().expect("running tmux");
        assert!(out.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "tui"];
        args.extend(keys);
        tokio::task::block_in_place(|| self.run(&args));
    }

    fn type_text(&self, text: &str) {
        tokio::task::block_in_place(|| self.run(&["send-keys", "-t", "tui", "-l", text]));
    }

    fn screen(&self) -> String {
        tokio::task::block_in_place(|| self.run(&["capture-pane", "-p", "-t", "tui"]))
    }

    /// Wait until the screen shows something `ok` accepts; the last screen in the failure.
    async fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(Instant::now() < deadline, "waited 15 s for {what}; the screen:\n{screen}");
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.socket, "kill-server"]).output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_watch_attach_and_delete_from_the_tui() {
    if Command::new("tmux").arg("-V").output().is_err() {
        panic!("tmux is needed for this test: apt-get install tmux");
    }
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    let repo_path = repo.path().to_string_lossy().to_string();
    let tui = Tmux::start(&d);
    tui.wait_for("the empty list", |s| s.contains("No sessions here")).await;

    // Create from the dialog.
    tui.keys(&["c"]);
    tui.wait_for("the create dialog", |s| s.contains("Create a session")).await;
    // Not a repository: the API's refusal shows under the repository field.
    tui.type_text("/nonexistent-repo");
    tui.keys(&["Tab"]);
    tui.type_text("p");
    tui.keys(&["C-s"]);
    let screen = tui.wait_for("the API's error", |s| s.contains("✗ ")).await;
    let lines: Vec<&str> = screen.lines().collect();
    let at = lines.iter().position(|l| l.contains("✗ ")).unwrap();
    assert!(lines[..at].iter().rev().take(4).any(|l| l.contains("Repository")), "{screen}");
    tui.keys(&["Escape"]);
    tui.wait_for("the list", |s| !s.contains("Create a session")).await;
    tui.keys(&["c"]);
    tui.wait_for("the create dialog", |s| s.contains("Create a session")).await;
    tui.type_text(&repo_path);
    tui.keys(&["Tab"]);
    tui.type_text("hello from the tui");
    tui.keys(&["C-s"]);
    let screen =
        tui.wait_for("the new session, running", |s| s.contains("Created ") && s.contains("running")).await;
    let name = screen
        .lines()
        .find_map(|l| l.split("Created ").nth(1))
        .map(|rest| rest.trim_end().trim_end_matches('.').to_string())
        .expect("the footer names the session");
    let (ok, out, err) = common::run(&d, &["list", "--json"]).await;
    assert!(ok, "{err}");
    assert!(out.contains(&name) && out.contains("hello from the tui"), "{out}");

    // A status change made elsewhere shows up live.
    let (ok, _, err) = common::run(&d, &["stop", &name]).await;
    assert!(ok, "{err}");
    tui.wait_for("the session stopped", |s| s.lines().any(|l| l.contains(&name) && l.contains("stopped")))
        .await;
    tui.keys(&["x"]);
    tui.wait_for("the session running again", |s| {
        s.lines().any(|l| l.contains(&name) && l.contains("running"))
    })
    .await;

    // Attach hands the screen to `clauderon attach` and comes back to the list. The fake
    // backend has no terminal stream, so the attach ends at once and the TUI says how.
    tui.keys(&["Enter"]);
    tui.wait_for("the list again after the attach", |s| {
        s.contains("Sessions") && s.contains(&name) && !s.contains("Started ")
    })
    .await;

    // Send a prompt: the agent gets it typed.
    tui.keys(&["s"]);
    tui.wait_for("the send dialog", |s| s.contains(&format!("Send to {name}"))).await;
    tui.type_text("now run the tests");
    tui.keys(&["Enter"]);
    tui.wait_for("sent", |s| s.contains(&format!("Sent to {name}."))).await;
    assert!(d.fake.typed(&name).iter().any(|t| t.contains("now run the tests")), "{:?}", d.fake.typed(&name));

    // Access mode: read-only -> read-write.
    tui.keys(&["m"]);
    tui.wait_for("read-write", |s| s.lines().any(|l| l.contains(&name) && l.contains(" rw "))).await;

    // Archive: gone from the active list, there in the archived one; unarchive it back.
    tui.keys(&["a"]);
    tui.wait_for("archived", |s| s.contains(&format!("Archived {name}.")) && s.contains("No sessions here"))
        .await;
    tui.keys(&["Tab"]);
    tui.wait_for("the archived view", |s| s.contains("(archived)") && s.lines().any(|l| l.contains(&name)))
        .await;
    tui.keys(&["a"]);
    tui.wait_for("unarchived", |s| s.contains(&format!("Unarchived {name}."))).await;
    tui.keys(&["Tab", "Tab"]);
    tui.wait_for("the active view again", |s| {
        s.contains("(active)") && s.lines().any(|l| l.contains(&name) && l.contains("running"))
    })
    .await;

    // A lost daemon: the title says so, and the list comes back with the daemon.
    d.stop().await;
    tui.wait_for("reconnecting…", |s| s.lines().next().is_some_and(|l| l.contains("reconnecting…"))).await;
    d.restart().await;
    tui.wait_for("the list live again", |s| {
        !s.contains("reconnecting") && s.lines().any(|l| l.contains(&name) && l.contains("running"))
    })
    .await;

    // Delete with uncommitted work: the daemon refuses, the dialog says so and offers force.
    std::fs::write(d.data.path().join("worktrees").join(&name).join("README.md"), "changed\n").unwrap();
    tui.keys(&["d"]);
    tui.wait_for("the delete dialog", |s| s.contains(&format!("Delete {name}?"))).await;
    tui.keys(&["y"]);
    tui.wait_for("the refusal in the dialog", |s| {
        s.contains("The daemon refused") && s.contains("uncommitted")
    })
    .await;
    tui.keys(&["f"]);
    tui.wait_for("force chosen", |s| s.contains("[x] f")).await;
    tui.keys(&["y"]);
    tui.wait_for("the session gone", |s| {
        s.contains(&format!("Deleted {name}.")) && s.contains("No sessions here")
    })
    .await;
    let (_, out, _) = common::run(&d, &["list", "--json"]).await;
    assert!(!out.contains(&name), "{out}");

    // A resize redraws for the new size: the list's box is 80 wide, and nothing is left over.
    tokio::task::block_in_place(|| tui.run(&["resize-window", "-t", "tui", "-x", "80", "-y", "24"]));
    tui.wait_for("the 80x24 layout", |s| {
        s.lines().nth(1).is_some_and(|l| l.chars().count() == 80 && l.ends_with('┐'))
            && s.lines().count() <= 24
    })
    .await;

    // Quit puts the terminal back: the shell's screen, the exit status 0.
    tui.keys(&["q"]);
    tui.wait_for("the TUI gone, exit status 0", |s| s.contains("TUI-EXITED=0") && !s.contains("Sessions"))
        .await;
}

/// BENCHMARKS.md's event-to-screen figure: the time from a status event reaching a second
/// `/ws/events` subscriber to the tmux-captured screen showing it, over 50 changes.
/// `cargo test -p clauderon --test tui_tmux -- --ignored --nocapture event_to_screen`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run by hand for BENCHMARKS.md"]
async fn event_to_screen_latency() {
    use clauderon_client::{Client, Endpoint};
    use clauderon_types::api::CreateSessionRequest;
    let d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    let client = Client::new(Endpoint::Unix(d.socket().to_path_buf()));
    let req = CreateSessionRequest {
        repo_path: repo.path().to_string_lossy().into_owned(),
        prompt: "p".into(),
        name: Some(clauderon_types::SessionName::parse("latency").unwrap()),
        backend: None,
        agent: None,
        access_mode: None,
        base: None,
        options: Default::default(),
    };
    client.create(&req).await.unwrap();
    let tui = Tmux::start(&d);
    tui.wait_for("the session", |s| s.lines().any(|l| l.contains("latency") && l.contains("running"))).await;
    let mut events = client.events(None).await.unwrap();
    let mut times = Vec::new();
    for i in 0..50u32 {
        let want = if i.is_multiple_of(2) {
            client.stop("latency").await.unwrap();
            "stopped"
        } else {
            client.start("latency").await.unwrap();
            "running"
        };
        // The moment the daemon's event reached a client.
        let seen = loop {
            let ev = events.next().await.unwrap().unwrap();
            if let clauderon_types::EventKind::StatusChanged { to, .. } = ev.kind
                && to.as_str() == want
            {
                break Instant::now();
            }
        };
        let deadline = seen + Duration::from_secs(5);
        loop {
            if tui.screen().lines().any(|l| l.contains("latency") && l.contains(want) && l.contains('│')) {
                times.push(seen.elapsed().as_secs_f64() * 1000.0);
                break;
            }
            assert!(Instant::now() < deadline, "the screen never showed {want}");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "event to screen over {} changes: median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        times.len(),
        times[times.len() / 2],
        times[times.len() * 9 / 10],
        times[times.len() - 1]
    );
}

/// Without a terminal, `tui` says so and what to use instead, and leaves no raw mode behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_terminal_tui_says_what_to_use_instead() {
    let d = TestDaemon::start().await;
    let (ok, _, err) = common::run(&d, &["tui"]).await;
    assert!(!ok);
    assert!(err.contains("needs a terminal") && err.contains("clauderon list --json"), "{err}");
}

/// A panic (a debug build's test switch makes one once the list is on screen) leaves the
/// terminal as it found it: out of raw mode (the line discipline echoes and edits lines again)
/// and out of the alternate screen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_puts_the_terminal_back() {
    let d = TestDaemon::start().await;
    let tmux = Tmux::start_with(
        &d,
        "CLAUDERON_TUI_TEST_PANIC=1 RUST_BACKTRACE=0",
        "echo STTY: $(stty -a | tr '\\n' ' ');",
    );
    let screen = tmux.wait_for("the TUI to exit", |s| s.contains("TUI-EXITED=") && s.contains("STTY:")).await;
    assert!(screen.contains("TUI-EXITED=101"), "the panic is the exit: {screen}");
    assert!(screen.contains("a panic on purpose"), "the panic's message reaches the screen: {screen}");
    let flat = screen.replace('\n', " ");
    let stty = &flat[flat.find("STTY:").unwrap()..];
    for setting in ["icanon", "echo", "isig"] {
        assert!(stty.contains(&format!(" {setting} ")), "{setting} is off after the panic: {stty}");
        assert!(!stty.contains(&format!("-{setting} ")), "{setting} is off after the panic: {stty}");
    }
    let alternate =
        tokio::task::block_in_place(|| tmux.run(&["display-message", "-p", "-t", "tui", "#{alternate_on}"]));
    assert_eq!(alternate.trim(), "0", "still on the alternate screen");
}
