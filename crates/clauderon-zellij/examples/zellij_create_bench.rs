//! Create-to-running time of zellij sessions, without a sandbox, in the `fs` sandbox and in the
//! `full` one (worktree creation excluded: the backend gets a ready folder, as the manager gives
//! it one). Each run: `create` (files, launch script) + `start` (zellij server) until `status`
//! says running, and, to compare, until the session's process has actually run (it writes a file).
//!
//! `cargo run --release -p clauderon-zellij --example zellij_create_bench -- [RUNS] [--relay PATH]`
//! (the relay defaults to the `clauderon` binary beside this example's target folder; the crate's
//! `clauderon-sandbox-relay` works too).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use clauderon_backend::{BackendStatus, ProxyAccess, SessionBackend, SessionSpec};
use clauderon_types::{AgentKind, DataLayout, SandboxLevel, SessionId, SessionName, SessionOptions};
use clauderon_zellij::{ZellijBackend, ZellijSettings};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn spec(root: &Path, level: SandboxLevel, i: usize) -> (SessionSpec, PathBuf) {
    let id = SessionId::new();
    let worktree = root.join(format!("wt-{level}-{i}"));
    let home = root.join(format!("home-{level}-{i}"));
    std::fs::create_dir_all(&worktree).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    let ran = worktree.join("ran");
    let spec = SessionSpec {
        session_id: id,
        name: SessionName::parse(&format!("bench-{level}-{i}")).unwrap(),
        worktree: worktree.clone(),
        repo: worktree,
        agent: AgentKind::Claude,
        prompt: String::new(),
        options: SessionOptions {
            command: Some("touch ran; sleep 60".into()),
            sandbox: Some(level),
            ..Default::default()
        },
        home,
        placeholders: vec![("ANTHROPIC_API_KEY".into(), "placeholder".into())],
        proxy: ProxyAccess {
            user: "bench".into(),
            secret: "s".into(),
            port: 3128,
            ca_cert: root.join("ca.pem"),
        },
    };
    (spec, ran)
}

fn stats(mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    let median = v[v.len() / 2];
    let max = v[v.len() - 1];
    format!("{median:>8.0} {max:>8.0}")
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mut runs = 10usize;
    let mut relay: Option<PathBuf> = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--relay" => relay = args.next().map(PathBuf::from),
            n => runs = n.parse().expect("RUNS is a number"),
        }
    }
    let relay = relay.unwrap_or_else(|| {
        let exe = std::env::current_exe().unwrap();
        exe.parent().and_then(Path::parent).unwrap().join("clauderon")
    });
    assert!(relay.is_file(), "no relay at {}: build `clauderon` first or pass --relay", relay.display());

    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let socket = std::os::unix::net::UnixListener::bind(data.join("proxy.sock")).unwrap();
    // `clauderon` runs the relay as a subcommand; the crate's own relay program needs none.
    let mut relay_cmd = vec![relay.to_string_lossy().into_owned()];
    if relay.file_name().is_some_and(|n| n == "clauderon") {
        relay_cmd.push("sandbox-relay".into());
    }
    let settings = ZellijSettings::new(&DataLayout::new(&data), relay_cmd, |k| std::env::var(k).ok());
    let backend = ZellijBackend::new(settings).unwrap();
    backend.check().await.expect("zellij is not usable here");

    println!("zellij sessions, {runs} runs each, milliseconds (median, max)");
    println!("{:<10} {:>17} {:>17}", "sandbox", "to running", "to process ran");
    // The floor: zellij alone starting a background session whose pane runs the same command.
    let zellij =
        clauderon_zellij::resolve_program(Path::new("zellij"), std::env::var("PATH").ok().as_deref());
    let mut plain = Vec::new();
    for i in 0..runs {
        let dir = root.path().join(format!("plain-{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let name = format!("clauderon-bench-plain-{}-{i}", std::process::id());
        let t = Instant::now();
        let status = std::process::Command::new(&zellij)
            .current_dir(&dir)
            .args(["attach", "--create-background", &name, "--", "/bin/sh", "-c", "touch ran; sleep 60"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        while !dir.join("ran").exists() {
            assert!(t.elapsed() < Duration::from_secs(10), "plain zellij never ran its command");
            std::thread::sleep(Duration::from_millis(1));
        }
        plain.push(t.elapsed().as_secs_f64() * 1000.0);
        let _ = std::process::Command::new(&zellij).args(["kill-session", &name]).output();
        std::thread::sleep(Duration::from_millis(200));
    }
    println!("{:<10} {:>17} {}", "zellij -b", "", stats(plain));
    for level in [SandboxLevel::Off, SandboxLevel::Fs, SandboxLevel::Full] {
        let (mut to_running, mut to_ran) = (Vec::new(), Vec::new());
        for i in 0..runs {
            let (spec, ran) = spec(root.path(), level, i);
            let t = Instant::now();
            let h = backend.create(&spec).await.unwrap();
            backend.start(&h).await.unwrap();
            while backend.status(&h).await.unwrap() != BackendStatus::Running {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            to_running.push(t.elapsed().as_secs_f64() * 1000.0);
            while !ran.exists() {
                assert!(t.elapsed() < Duration::from_secs(10), "the {level} session never ran its command");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            to_ran.push(t.elapsed().as_secs_f64() * 1000.0);
            backend.delete(&h).await.unwrap();
        }
        println!("{:<10} {} {}", level.to_string(), stats(to_running), stats(to_ran));
    }
    drop(socket);
}
