//! Store-scale benchmark: a real `clauderon daemon` process over a data dir
//! holding N sessions. Measures `GET /api/sessions`, `clauderon list` and the
//! daemon's idle memory, each side by side with a baseline in the same run:
//! 10,000 sessions vs 100, and `clauderon list` vs `clauderon version`.
//!
//! Usage: clauderon-bench [--clauderon PATH] [--iterations N]

use anyhow::{Context, bail};
use chrono::Utc;
use clauderon_store::Store;
use clauderon_testkit::http::{Request, tcp};
use clauderon_types::{
    AccessMode, AgentKind, BackendKind, DataLayout, Session, SessionId, SessionName, SessionStatus,
};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn sessions(n: usize) -> anyhow::Result<Vec<Session>> {
    let now = Utc::now();
    (0..n)
        .map(|i| {
            let name = SessionName::parse(&format!("bench-session-{i:05}"))?;
            Ok(Session {
                id: SessionId::new(),
                repo_path: PathBuf::from("/home/dev/src/project"),
                branch: format!("clauderon/{name}"),
                base_commit: "0123456789abcdef0123456789abcdef01234567".into(),
                worktree_path: PathBuf::from(format!("/home/dev/.clauderon/worktrees/{name}")),
                name,
                backend: BackendKind::Docker,
                agent: AgentKind::Claude,
                access_mode: AccessMode::ReadOnly,
                prompt: "Fix the flaky login test and add a regression test for it".into(),
                options: Default::default(),
                status: SessionStatus::Stopped,
                archived: false,
                backend_handle: Some(format!("container-{i:05}")),
                error: None,
                created_at: now + chrono::Duration::milliseconds(i as i64),
                updated_at: now,
                pull_request: None,
            })
        })
        .collect()
}

struct Daemon {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?)
}

async fn start_daemon(bin: &Path, home: &Path) -> anyhow::Result<Daemon> {
    let addr = free_port()?;
    let child = Command::new(bin)
        .args(["daemon", "--bind", &addr.to_string(), "--log", "warn"])
        .env("CLAUDERON_HOME", home)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting the daemon")?;
    let daemon = Daemon { child, addr };
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(daemon);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    bail!("the daemon did not start listening on {addr}")
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).context("no VmRSS")?;
    Ok(line.split_whitespace().nth(1).context("VmRSS value")?.parse()?)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

struct Stats {
    median_ms: f64,
    p95_ms: f64,
}

fn stats(mut samples: Vec<f64>) -> Stats {
    samples.sort_by(f64::total_cmp);
    Stats { median_ms: percentile(&samples, 0.5), p95_ms: percentile(&samples, 0.95) }
}

async fn time_list_api(
    addr: SocketAddr,
    token: &str,
    expected: usize,
    iterations: usize,
) -> anyhow::Result<Stats> {
    let mut samples = Vec::with_capacity(iterations);
    for i in 0..iterations + 3 {
        let t = Instant::now();
        let reply = tcp(addr, Request::new("GET", "/api/sessions?view=all").bearer(token)).await;
        let elapsed = t.elapsed().as_secs_f64() * 1000.0;
        if reply.status != 200 {
            bail!("list failed: {}", reply.body);
        }
        if i == 0 {
            let n = reply.json()["sessions"].as_array().map(Vec::len).unwrap_or(0);
            if n != expected {
                bail!("listed {n} sessions, expected {expected}");
            }
        }
        if i >= 3 {
            samples.push(elapsed);
        }
    }
    Ok(stats(samples))
}

/// The same list read straight from the store in this process, and its JSON encoding:
/// what the API adds on top is the difference.
fn time_store_list(db: &Path, expected: usize, iterations: usize) -> anyhow::Result<(Stats, Stats)> {
    let store = Store::open(db)?;
    let (mut read, mut encode) = (Vec::new(), Vec::new());
    for i in 0..iterations + 3 {
        let t = Instant::now();
        let list = store.list(clauderon_types::api::ListView::All)?;
        let read_ms = t.elapsed().as_secs_f64() * 1000.0;
        let t = Instant::now();
        let body = serde_json::to_vec(&clauderon_types::api::SessionList {
            sessions: list,
            costs_usd: Default::default(),
        })?;
        let encode_ms = t.elapsed().as_secs_f64() * 1000.0;
        if i == 0 && body.len() < expected * 100 {
            bail!("store listed too little");
        }
        if i >= 3 {
            read.push(read_ms);
            encode.push(encode_ms);
        }
    }
    store.close()?;
    Ok((stats(read), stats(encode)))
}

fn time_command(bin: &Path, home: &Path, args: &[&str], iterations: usize) -> anyhow::Result<Stats> {
    let mut samples = Vec::with_capacity(iterations);
    for i in 0..iterations + 1 {
        let t = Instant::now();
        let out = Command::new(bin).args(args).env("CLAUDERON_HOME", home).output()?;
        let elapsed = t.elapsed().as_secs_f64() * 1000.0;
        if !out.status.success() {
            bail!("clauderon {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        if i > 0 {
            samples.push(elapsed);
        }
    }
    Ok(stats(samples))
}

struct Run {
    store_list: Stats,
    json: Stats,
    idle_rss_kib: u64,
    api: Stats,
    rss_after_kib: u64,
}

/// The daemon and its data dir are returned so the CLI can be timed against them; dropping them stops it.
async fn run(bin: &Path, n: usize, iterations: usize) -> anyhow::Result<(Run, Daemon, tempfile::TempDir)> {
    let home = tempfile::tempdir()?;
    let store = Store::open(&home.path().join("clauderon.db"))?;
    store.insert_many(&sessions(n)?, Utc::now())?;
    store.close()?;
    let (store_list, json) = time_store_list(&home.path().join("clauderon.db"), n, iterations)?;
    let daemon = start_daemon(bin, home.path()).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss_kib = rss_kib(daemon.child.id())?;
    // Every TCP request carries the token the daemon generated into its data dir.
    let token = std::fs::read_to_string(DataLayout::new(home.path()).api_token())
        .context("reading the daemon's API token")?;
    let api = time_list_api(daemon.addr, token.trim(), n, iterations).await?;
    let rss_after_kib = rss_kib(daemon.child.id())?;
    Ok((Run { idle_rss_kib, api, rss_after_kib, store_list, json }, daemon, home))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut bin = std::env::current_exe()?.with_file_name("clauderon");
    let mut iterations = 30;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--clauderon" => bin = PathBuf::from(args.next().context("--clauderon PATH")?),
            "--iterations" => iterations = args.next().context("--iterations N")?.parse()?,
            other => bail!("unknown argument {other}"),
        }
    }
    if !bin.exists() {
        bail!("{} not found: build it with `cargo build --release -p clauderon`", bin.display());
    }

    let (small, small_daemon, _small_home) = run(&bin, 100, iterations).await?;
    drop(small_daemon);
    let (large, _large_daemon, large_home) = run(&bin, 10_000, iterations).await?;
    let cli_list = time_command(&bin, large_home.path(), &["list", "--all", "--json"], iterations.min(15))?;
    let cli_version = time_command(&bin, large_home.path(), &["version"], iterations.min(15))?;

    println!("| measure | 100 sessions | 10,000 sessions | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| GET /api/sessions median (ms) | {:.2} | {:.2} | {:.1}x |",
        small.api.median_ms,
        large.api.median_ms,
        large.api.median_ms / small.api.median_ms
    );
    println!(
        "| store.list() in-process median (ms) | {:.2} | {:.2} | {:.1}x |",
        small.store_list.median_ms,
        large.store_list.median_ms,
        large.store_list.median_ms / small.store_list.median_ms
    );
    println!(
        "| JSON encoding median (ms) | {:.2} | {:.2} | {:.1}x |",
        small.json.median_ms,
        large.json.median_ms,
        large.json.median_ms / small.json.median_ms
    );
    println!("| GET /api/sessions p95 (ms) | {:.2} | {:.2} | |", small.api.p95_ms, large.api.p95_ms);
    println!(
        "| daemon idle RSS (MiB) | {:.1} | {:.1} | {:.2}x |",
        small.idle_rss_kib as f64 / 1024.0,
        large.idle_rss_kib as f64 / 1024.0,
        large.idle_rss_kib as f64 / small.idle_rss_kib as f64
    );
    println!(
        "| daemon RSS after {iterations} lists (MiB) | {:.1} | {:.1} | |",
        small.rss_after_kib as f64 / 1024.0,
        large.rss_after_kib as f64 / 1024.0
    );
    println!();
    println!("| command (10,000 sessions) | median (ms) | p95 (ms) | vs `clauderon version` |");
    println!("|---|---|---|---|");
    println!(
        "| clauderon version (baseline) | {:.1} | {:.1} | 1.0x |",
        cli_version.median_ms, cli_version.p95_ms
    );
    println!(
        "| clauderon list --all --json | {:.1} | {:.1} | {:.1}x |",
        cli_list.median_ms,
        cli_list.p95_ms,
        cli_list.median_ms / cli_version.median_ms
    );
    Ok(())
}
