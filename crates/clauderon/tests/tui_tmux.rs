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
        let socket = format!("clauderon-tui-test-{}", std::process::id());
        let line = format!(
            "env -u CLAUDERON_URL -u CLAUDERON_API_TOKEN CLAUDERON_HOME={} NO_COLOR=1 {} tui; echo TUI-EXITED=$?; sleep 30",
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
    let d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    let repo_path = repo.path().to_string_lossy().to_string();
    let tui = Tmux::start(&d);
    tui.wait_for("the empty list", |s| s.contains("No sessions here")).await;

    // Create from the dialog.
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

    // Delete, with the confirmation.
    tui.keys(&["d"]);
    tui.wait_for("the delete dialog", |s| s.contains(&format!("Delete {name}?"))).await;
    tui.keys(&["y"]);
    tui.wait_for("the session gone", |s| {
        s.contains(&format!("Deleted {name}.")) && s.contains("No sessions here")
    })
    .await;
    let (_, out, _) = common::run(&d, &["list", "--json"]).await;
    assert!(!out.contains(&name), "{out}");

    // Quit puts the terminal back: the shell's screen, the exit status 0.
    tui.keys(&["q"]);
    tui.wait_for("the TUI gone, exit status 0", |s| s.contains("TUI-EXITED=0") && !s.contains("Sessions"))
        .await;
}
