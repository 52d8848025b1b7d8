//! Time from `create` to the session's process running, against a plain `docker run` of the
//! same image in the same run, and a bare `git worktree add` (issue 5 §6).
//!
//! `cargo run --release -p clauderon-docker --example docker_create_bench [-- ITERATIONS]`
//! Needs a running engine and the test base image (scripts/docker-test-image.sh).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use clauderon_daemon::{LaunchOptions, launch};
use clauderon_docker::{DockerBackend, DockerSettings};
use clauderon_testkit::TestRepo;
use clauderon_testkit::http::{Request as ApiRequest, unix};
use clauderon_types::DataLayout;
use serde_json::json;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn image() -> String {
    std::env::var("CLAUDERON_TEST_BASE_IMAGE").unwrap_or_else(|_| "clauderon-test-base:bookworm-2".into())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn stats(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let median = v[v.len() / 2];
    let p90 = v[((v.len() * 9) / 10).min(v.len() - 1)];
    (median, p90)
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn running(name: &str) -> bool {
    Command::new("docker")
        .args(["inspect", "-f", "{{.State.Running}}", name])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "true")
        .unwrap_or(false)
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let image = image();

    // Plain docker run: the CLI returns once the container is started.
    let mut plain = Vec::new();
    for i in 0..n + 1 {
        let name = format!("clauderon-bench-plain-{i}");
        let t = Instant::now();
        docker(&["run", "-d", "--init", "--name", &name, &image, "sh", "-c", "sleep 300"]);
        while !running(&name) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let took = t.elapsed();
        docker(&["rm", "-f", &name]);
        if i > 0 {
            plain.push(ms(took));
        }
    }

    // git worktree add alone, on the same kind of repository.
    let repo = TestRepo::new().unwrap();
    let mut worktree = Vec::new();
    for i in 0..n {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wt");
        let t = Instant::now();
        repo.git(&["worktree", "add", "-q", "-b", &format!("bench-{i}"), path.to_str().unwrap()]).unwrap();
        worktree.push(ms(t.elapsed()));
        repo.git(&["worktree", "remove", "--force", path.to_str().unwrap()]).unwrap();
    }

    // clauderon: a real daemon with the Docker backend; create over the API until the
    // container's process runs.
    let data = tempfile::tempdir().unwrap();
    let layout = DataLayout::new(data.path());
    let settings = DockerSettings {
        image: image.clone(),
        proxy_socket: Some(layout.proxy_socket()),
        ..Default::default()
    };
    let backend = Arc::new(DockerBackend::new(settings));
    let mut options = LaunchOptions::new(layout, clauderon_testkit::daemon::test_config());
    options.extra_proxy_ips = backend.proxy_ips().await.unwrap();
    options.backends.push(backend);
    let daemon = launch(options).await.unwrap();
    let mut created = Vec::new();
    for i in 0..n + 1 {
        let name = format!("bench-{i}");
        let body = json!({"repo_path": repo.path(), "prompt": "", "name": name, "backend": "docker",
            "options": {"command": "sleep 300"}});
        let t = Instant::now();
        let reply =
            unix(&daemon.socket, ApiRequest::new("POST", "/api/sessions").json(body.to_string())).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        let container = format!("clauderon-{name}");
        while !running(&container) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let took = t.elapsed();
        let path = format!("/api/sessions/{name}?force=true&delete_branch=true");
        let reply = unix(&daemon.socket, ApiRequest::new("DELETE", &path)).await;
        assert!(reply.status < 300, "{}", reply.body);
        if i > 0 {
            created.push(ms(took));
        }
    }
    daemon.stop().await.unwrap();

    let (pm, p9) = stats(plain);
    let (wm, w9) = stats(worktree);
    let (cm, c9) = stats(created);
    println!("create to running, {n} runs each (first run of each kind discarded), image {image}");
    println!("| measure | median (ms) | p90 (ms) |");
    println!("|---|---|---|");
    println!("| docker run -d (CLI, until running) | {pm:.0} | {p9:.0} |");
    println!("| git worktree add | {wm:.0} | {w9:.0} |");
    println!("| clauderon create --backend docker (API, until running) | {cm:.0} | {c9:.0} |");
    println!(
        "target: create <= 1.3 x (docker run + worktree) = {:.0} ms; measured {:.2}x",
        1.3 * (pm + wm),
        cm / (pm + wm)
    );
}
