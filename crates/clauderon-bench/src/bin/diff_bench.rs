//! `clauderon diff` beside git (issue 16): a session over a repository of 5,000 files, with a
//! 1-file change, the same plus one untracked file, and then a 5,000-file change (half
//! committed on the session's branch, half not). Each case times, in the same run and on the
//! same worktree:
//!
//! - `git diff --stat BASE` and `git diff BASE` run by hand in the worktree (the yardstick;
//!   it leaves untracked files out, which clauderon's diff includes);
//! - `clauderon diff NAME --stat` and `clauderon diff NAME` (the real binary, through the daemon);
//! - `GET /api/sessions/NAME/diff?patch=false` over the daemon's socket (no CLI process).
//!
//! The daemon is the test kit's in-process one with the fake backend (no agent runs: the diff
//! reads the worktree only). Usage: diff-bench [--clauderon PATH] [--iterations N]

use anyhow::{Context, bail};
use clauderon_testkit::git::git_in;
use clauderon_testkit::http::{Request, unix};
use clauderon_testkit::{TestDaemon, TestRepo};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const FILES: usize = 5_000;

fn median_ms(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Median wall time of `cmd` (stdout discarded), failing if it fails. One run first, untimed:
/// the first git in a worktree refreshes its index, which every later run (git's and
/// clauderon's alike) then profits from.
fn time_process(make: impl Fn() -> Command, iterations: usize) -> anyhow::Result<f64> {
    let mut samples = Vec::new();
    make().stdout(Stdio::null()).stderr(Stdio::null()).status()?;
    for _ in 0..iterations {
        let start = Instant::now();
        let status = make().stdout(Stdio::null()).stderr(Stdio::null()).status()?;
        samples.push(start.elapsed().as_secs_f64() * 1000.0);
        if !status.success() {
            bail!("{:?} failed", make());
        }
    }
    Ok(median_ms(samples))
}

fn file_text(i: usize, tag: &str) -> String {
    format!("// file {i}\nfn f{i}() -> u32 {{\n    {i}\n}}\n// {tag}\n")
}

struct Case {
    name: &'static str,
    git_stat: f64,
    /// `git status --porcelain`: what git needs to show untracked files, which the diff includes.
    git_status: f64,
    cli_stat: f64,
    api_stat: f64,
    git_patch: f64,
    cli_patch: f64,
}

async fn measure(
    d: &TestDaemon,
    bin: &Path,
    worktree: &Path,
    base: &str,
    name: &'static str,
    iterations: usize,
) -> anyhow::Result<Case> {
    let git = |args: &'static [&'static str]| {
        let worktree = worktree.to_path_buf();
        let base = base.to_string();
        move || {
            let mut c = Command::new("git");
            c.arg("-C").arg(&worktree).args(args).arg(&base);
            c
        }
    };
    let cli = |args: &'static [&'static str]| {
        let data = d.data.path().to_path_buf();
        let bin = bin.to_path_buf();
        move || {
            let mut c = Command::new(&bin);
            c.arg("diff").arg("bench").args(args).env("CLAUDERON_HOME", &data).env("NO_COLOR", "1");
            c.env_remove("CLAUDERON_URL").env_remove("CLAUDERON_API_TOKEN");
            c
        }
    };
    // Files written in the same second as the index are "racily clean": every git reads them
    // again until an index is written a second later. A user's worktree is past that; wait,
    // then let one status write the index, so neither side pays for the race.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    git_in(worktree, &["status", "--porcelain"]).map_err(anyhow::Error::msg)?;
    let git_stat = tokio::task::block_in_place(|| time_process(git(&["diff", "--stat"]), iterations))?;
    let status = || {
        let mut c = Command::new("git");
        c.arg("-C").arg(worktree).args(["status", "--porcelain"]);
        c
    };
    let git_status = tokio::task::block_in_place(|| time_process(status, iterations))?;
    let cli_stat = tokio::task::block_in_place(|| time_process(cli(&["--stat"]), iterations))?;
    let git_patch = tokio::task::block_in_place(|| time_process(git(&["diff"]), iterations))?;
    let cli_patch = tokio::task::block_in_place(|| time_process(cli(&[]), iterations))?;
    let mut api = Vec::new();
    for _ in 0..iterations {
        let start = Instant::now();
        let reply = unix(d.socket(), Request::new("GET", "/api/sessions/bench/diff?patch=false")).await;
        api.push(start.elapsed().as_secs_f64() * 1000.0);
        if reply.status != 200 {
            bail!("the diff API answered {}: {}", reply.status, reply.body);
        }
    }
    Ok(Case { name, git_stat, git_status, cli_stat, api_stat: median_ms(api), git_patch, cli_patch })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut bin = std::env::current_exe()?.with_file_name("clauderon");
    let mut iterations = 15;
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

    let repo = TestRepo::new().map_err(anyhow::Error::msg)?;
    for i in 0..FILES {
        let dir = repo.path().join(format!("src/m{:02}", i % 50));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(format!("f{i}.rs")), file_text(i, "base"))?;
    }
    repo.git(&["add", "-A"]).map_err(anyhow::Error::msg)?;
    repo.git(&["commit", "-q", "-m", "5,000 files"]).map_err(anyhow::Error::msg)?;

    let d = TestDaemon::start().await;
    let body = serde_json::json!({"repo_path": repo.path(), "prompt": "bench", "name": "bench"}).to_string();
    let created = unix(d.socket(), Request::new("POST", "/api/sessions").json(body)).await;
    if created.status != 201 {
        bail!("create: {}", created.body);
    }
    let shown: serde_json::Value =
        serde_json::from_str(&unix(d.socket(), Request::new("GET", "/api/sessions/bench")).await.body)?;
    let worktree = PathBuf::from(shown["session"]["worktree_path"].as_str().context("worktree path")?);
    let base = shown["session"]["base_commit"].as_str().context("base commit")?.to_string();
    let path = |i: usize| worktree.join(format!("src/m{:02}/f{i}.rs", i % 50));

    std::fs::write(path(7), file_text(7, "one change"))?;
    let one = measure(&d, &bin, &worktree, &base, "1 file changed", iterations).await?;
    // An untracked file takes the diff's longer way (marked "intent to add", diffs run again).
    std::fs::write(worktree.join("src/new.rs"), file_text(FILES, "new"))?;
    let untracked = measure(&d, &bin, &worktree, &base, "1 changed + 1 untracked", iterations).await?;
    std::fs::remove_file(worktree.join("src/new.rs"))?;

    for i in 0..FILES / 2 {
        std::fs::write(path(i), file_text(i, "committed change"))?;
    }
    git_in(&worktree, &["commit", "-q", "-am", "half of the work"]).map_err(anyhow::Error::msg)?;
    for i in FILES / 2..FILES {
        std::fs::write(path(i), file_text(i, "uncommitted change"))?;
    }
    let all = measure(&d, &bin, &worktree, &base, "5,000 files changed", iterations).await?;

    println!("Medians of {iterations} runs each, milliseconds.");
    println!();
    println!(
        "| case | `git diff --stat` | `git status` | `clauderon diff --stat` | ratio to diff | ratio to diff + status | API `?patch=false` | `git diff` | `clauderon diff` | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for c in [one, untracked, all] {
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.2}x | {:.2}x | {:.1} | {:.1} | {:.1} | {:.2}x |",
            c.name,
            c.git_stat,
            c.git_status,
            c.cli_stat,
            c.cli_stat / c.git_stat,
            c.cli_stat / (c.git_stat + c.git_status),
            c.api_stat,
            c.git_patch,
            c.cli_patch,
            c.cli_patch / c.git_patch
        );
    }
    Ok(())
}
