//! The real `clauderon` binary against a test daemon, shared by the CLI tests: it reaches the
//! daemon through the daemon's data dir (its socket), never an inherited URL or token.

#![allow(dead_code)] // each test binary uses a different part

use clauderon_testkit::TestDaemon;
use std::io::Write;
use std::process::{Command, Stdio};

/// `clauderon ARGS` aimed at `d`, not yet started.
pub fn command(d: &TestDaemon, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_clauderon"));
    c.args(args)
        .env("CLAUDERON_HOME", d.data.path())
        .env_remove("CLAUDERON_URL")
        .env_remove("CLAUDERON_API_TOKEN")
        .env("NO_COLOR", "1");
    c
}

/// Run `clauderon ARGS` with `stdin` (none: empty), off the async threads (the daemon serving
/// the CLI lives on them): whether it succeeded, its stdout and its stderr.
pub async fn run_with(d: &TestDaemon, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let out = tokio::task::block_in_place(|| {
        let mut child = command(d, args)
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running clauderon");
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes()).expect("writing clauderon's stdin");
        }
        child.wait_with_output().expect("waiting for clauderon")
    });
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// [`run_with`] and no input.
pub async fn run(d: &TestDaemon, args: &[&str]) -> (bool, String, String) {
    run_with(d, args, None).await
}
