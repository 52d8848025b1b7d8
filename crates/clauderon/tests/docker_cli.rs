//! The real `clauderon` binary with the real Docker engine: a `clauderon daemon` process, then
//! `clauderon create --backend docker --command …` which first builds clauderon's image (missing)
//! with progress, `clauderon logs`, and `clauderon delete`, which leaves no container behind.
//! The image is built on the locally made test base (no registry here) without agent CLIs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn base_image() -> String {
    std::env::var("CLAUDERON_TEST_BASE_IMAGE").unwrap_or_else(|_| "clauderon-test-base:bookworm-2".into())
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker: this test needs the Docker CLI");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

struct Env {
    home: tempfile::TempDir,
    image: String,
}

impl Env {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_clauderon"));
        c.args(args)
            .env("CLAUDERON_HOME", self.home.path())
            .env("CLAUDERON_BIND", "127.0.0.1:0")
            .env("CLAUDERON_PROXY_BIND", "127.0.0.1:0")
            .env("CLAUDERON_DOCKER_IMAGE", &self.image)
            .env("CLAUDERON_DOCKER_BASE_IMAGE", base_image())
            .env("CLAUDERON_DOCKER_AGENT_PACKAGES", "none")
            .env("NO_COLOR", "1");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = self.cmd(args).output().unwrap();
        assert!(
            out.status.success(),
            "clauderon {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

#[tokio::test]
async fn create_with_docker_builds_the_image_runs_the_command_and_delete_cleans_up() {
    assert!(
        Command::new("docker").arg("info").output().is_ok_and(|o| o.status.success()),
        "this test needs a running Docker engine (scripts/start-dockerd.sh)"
    );
    assert!(!docker(&["images", "-q", &base_image()]).is_empty(), "run scripts/docker-test-image.sh first");
    let tag = format!("clauderon-agent-test:cli-{}", std::process::id());
    let env = Env { home: tempfile::tempdir().unwrap(), image: tag.clone() };
    let repo = clauderon_testkit::TestRepo::new().unwrap();
    let name = format!("cli-docker-{}", std::process::id());

    let mut daemon = env.cmd(&["daemon"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let socket = env.home.path().join("clauderon.sock");
    for _ in 0..100 {
        if socket.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(socket.exists(), "the daemon did not start");

    let repo_path = repo.path().to_str().unwrap().to_string();
    let created = env.run(&[
        "create",
        "--backend",
        "docker",
        "--repo",
        &repo_path,
        "--name",
        &name,
        "--command",
        "echo hello-from-$((40+2)); exec sh -i",
    ]);
    let stderr = String::from_utf8_lossy(&created.stderr);
    assert!(stderr.contains(&format!("building {tag}")), "no build progress shown: {stderr}");
    assert!(stderr.contains("] 1/"), "no steps in the progress: {stderr}");
    let container = format!("clauderon-{name}");
    assert_eq!(docker(&["inspect", "-f", "{{.State.Running}}", &container]), "true");

    let mut logs = String::new();
    for _ in 0..50 {
        logs = String::from_utf8_lossy(&env.run(&["logs", &name]).stdout).into_owned();
        if logs.contains("hello-from-42") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(logs.contains("hello-from-42"), "clauderon logs: {logs:?}");

    // `clauderon attach` on a real terminal (script(1) gives it a pty): keys reach the shell,
    // Ctrl-Q detaches, the session keeps running.
    let bin = env!("CARGO_BIN_EXE_clauderon");
    // `clauderon logs --follow` watching meanwhile sees what the attached terminal makes happen.
    let follow = env.cmd(&["logs", &name, "--follow", "--tail", "5"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut attach = Command::new("script")
        .args(["-q", "-e", "-c", &format!("{bin} attach {name}"), "/dev/null"])
        .env("CLAUDERON_HOME", env.home.path())
        .env("TERM", "dumb")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux gives attach a pseudo-terminal");
    let mut stdin = attach.stdin.take().unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    use std::io::Write;
    stdin.write_all(b"echo attached-$((2+3))\r").unwrap();
    stdin.flush().unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    stdin.write_all(&[0x11]).unwrap();
    stdin.flush().unwrap();
    let pid = attach.id().to_string();
    let waited = tokio::time::timeout(
        Duration::from_secs(15),
        tokio::task::spawn_blocking(move || attach.wait_with_output()),
    )
    .await;
    let Ok(done) = waited else {
        let _ = Command::new("kill").arg(&pid).status();
        panic!("clauderon attach did not end after Ctrl-Q");
    };
    let done = done.unwrap().unwrap();
    let shown = String::from_utf8_lossy(&done.stdout).into_owned();
    assert!(shown.contains("attached-5"), "the shell did not get the keys: {shown:?}");
    assert!(shown.contains("detached from"), "Ctrl-Q did not detach: {shown:?}");
    let follow_pid = follow.id().to_string();
    let _ = Command::new("kill").arg(&follow_pid).status();
    let followed = String::from_utf8_lossy(&follow.wait_with_output().unwrap().stdout).into_owned();
    assert!(followed.contains("hello-from-42"), "logs --follow did not start with the tail: {followed:?}");
    assert!(followed.contains("attached-5"), "logs --follow did not follow: {followed:?}");
    assert_eq!(docker(&["inspect", "-f", "{{.State.Running}}", &container]), "true", "detaching stopped it");

    let vars = String::from_utf8_lossy(&env.run(&["env", &name]).stdout).into_owned();
    assert!(vars.contains("HOME=/home/clauderon"), "clauderon env: {vars}");
    assert!(vars.lines().any(|l| l.starts_with("HTTPS_PROXY=http://") && l.contains(":***@")), "{vars}");

    env.run(&["delete", &name, "--force"]);
    assert!(
        docker(&["ps", "-aq", "--filter", &format!("name=^{container}$")]).is_empty(),
        "container left behind"
    );
    let _ = Command::new("kill").args(["-TERM", &daemon.id().to_string()]).status();
    let _ = daemon.wait();
    // The image stays: removing it could break a build that uses its layers as cache right now
    // (tests run side by side); a rebuild with the cache gives the same image, so tags are free.
}
