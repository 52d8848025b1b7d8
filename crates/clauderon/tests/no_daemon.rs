//! The real `clauderon` binary with no daemon behind it: the commands that work offline,
//! and the one-line errors of those that need a daemon. Each run gets its own temp data dir.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::Path;
use std::process::Output;

fn clauderon(home: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_clauderon"))
        .args(args)
        .env("CLAUDERON_HOME", home)
        .env_remove("CLAUDERON_URL")
        .env_remove("CLAUDERON_API_TOKEN")
        .env_remove("SPRITES_TOKEN")
        .env_remove("SPRITE_TOKEN")
        .env_remove("NO_COLOR")
        .output()
        .expect("running clauderon")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit code 1 and exactly one line on stderr: `error: …`.
fn assert_one_line_error(out: &Output) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with("error: ") && err.ends_with('\n'), "{err:?}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(stdout(out).is_empty(), "{}", stdout(out));
    err
}

#[test]
fn without_a_daemon_list_says_how_to_start_one() {
    let home = tempfile::tempdir().unwrap();
    let err = assert_one_line_error(&clauderon(home.path(), &["list"]));
    let socket = home.path().join("clauderon.sock");
    assert_eq!(
        err.trim_end(),
        format!(
            "error: the clauderon daemon is not running (no socket at {}): start it with `clauderon daemon`",
            socket.display()
        )
    );
}

#[test]
fn a_stale_socket_means_not_running_too() {
    let home = tempfile::tempdir().unwrap();
    drop(std::os::unix::net::UnixListener::bind(home.path().join("clauderon.sock")).unwrap());
    let err = assert_one_line_error(&clauderon(home.path(), &["show", "some-session"]));
    assert!(err.contains("not running (nothing listens on") && err.contains("`clauderon daemon`"), "{err}");
}

#[test]
fn over_http_a_closed_port_means_not_running() {
    let home = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let err = assert_one_line_error(&clauderon(home.path(), &["--url", &url, "list", "--all"]));
    assert!(err.contains(&format!("not running (nothing listens on 127.0.0.1:{port})")), "{err}");
}

#[test]
fn a_bad_url_is_one_line_that_shows_the_expected_form() {
    let home = tempfile::tempdir().unwrap();
    let err = assert_one_line_error(&clauderon(home.path(), &["--url", "https://h:1", "list"]));
    assert!(
        err.contains("invalid daemon URL `https://h:1`") && err.contains("http://127.0.0.1:3030"),
        "{err}"
    );
}

#[test]
fn a_bad_session_name_is_refused_before_anything_is_sent() {
    let home = tempfile::tempdir().unwrap();
    let err = assert_one_line_error(&clauderon(home.path(), &["delete", "../etc"]));
    assert!(err.contains("only letters, digits and dashes"), "{err}");
}

#[test]
fn usage_errors_are_clap_s_with_exit_code_2() {
    let home = tempfile::tempdir().unwrap();
    let out = clauderon(home.path(), &["create", "--prompt", "x", "--backend", "podman"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(
            "unknown backend `podman`: expected one of zellij, docker, apple-container, kubernetes, sprites\n"
        ),
        "{err}"
    );
    assert!(!err.contains("fake"), "{err}");
}

#[test]
fn version_works_without_a_daemon() {
    let home = tempfile::tempdir().unwrap();
    let out = clauderon(home.path(), &["version"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with(&format!("clauderon {}", env!("CARGO_PKG_VERSION"))), "{text}");
    assert!(text.contains("daemon: not running (start it with `clauderon daemon`)"), "{text}");
    let json: serde_json::Value =
        serde_json::from_slice(&clauderon(home.path(), &["version", "--json"]).stdout).unwrap();
    assert_eq!(json["cli"], env!("CARGO_PKG_VERSION"));
    assert!(json["daemon"].is_null() && json["daemon_error"].as_str().unwrap().contains("not running"));
}

#[test]
fn doctor_reports_every_check_and_fails_only_on_required_ones() {
    let home = tempfile::tempdir().unwrap();
    let out = clauderon(home.path(), &["doctor", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("doctor --json");
    let checks = report["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "git",
            "data dir",
            "daemon",
            "docker",
            "zellij",
            "bubblewrap",
            "apple container",
            "kubernetes",
            "sprites"
        ]
    );
    let check = |name: &str| checks.iter().find(|c| c["name"] == name).unwrap();
    // Not macOS here: a warning saying so and what to use, never a failure.
    assert_eq!(check("apple container")["level"], "warn");
    assert!(check("apple container")["hint"].as_str().unwrap().contains("not available here"));
    assert_eq!(check("daemon")["level"], "warn");
    assert_eq!(check("daemon")["hint"], "start it with `clauderon daemon`");
    // No Sprites token: a warning that says where to put one (and no call to the API).
    assert_eq!(check("sprites")["level"], "warn");
    let hint = check("sprites")["hint"].as_str().unwrap();
    assert!(hint.contains("SPRITES_TOKEN") && hint.contains("secrets/sprites_token"), "{hint}");
    let git_ok = check("git")["level"] == "ok";
    assert_eq!(report["failed"], !git_ok);
    assert_eq!(out.status.success(), git_ok, "the exit code follows the required checks");

    let text = stdout(&clauderon(home.path(), &["doctor"]));
    assert!(text.lines().any(|l| l.starts_with("warn") && l.contains("daemon")), "{text}");
    assert!(!text.contains('\u{1b}'), "colour codes without a terminal:\n{text}");
}

#[test]
fn doctor_fails_when_the_data_dir_cannot_exist() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let out = clauderon(&file, &["doctor"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).lines().any(|l| l.starts_with("missing") && l.contains("is not a directory")));
}

#[test]
fn completions_and_config_work_offline() {
    let home = tempfile::tempdir().unwrap();
    let bash = clauderon(home.path(), &["completions", "bash"]);
    assert!(bash.status.success());
    assert!(stdout(&bash).contains("set-access-mode"));
    let example = clauderon(home.path(), &["config", "example"]);
    assert!(clauderon_core::Config::from_toml(&stdout(&example)).is_ok());
    let path = clauderon(home.path(), &["config", "path"]);
    assert_eq!(stdout(&path).trim(), home.path().join("config.toml").to_string_lossy());

    std::fs::write(home.path().join("config.toml"), "[sessions]\nagent = \"codex\"\n").unwrap();
    let shown = stdout(&clauderon(home.path(), &["config", "show"]));
    assert!(shown.contains("agent = \"codex\"") && shown.contains("read from"), "{shown}");
    std::fs::write(home.path().join("config.toml"), "[sessions\n").unwrap();
    let err = assert_one_line_error(&clauderon(home.path(), &["config", "show"]));
    assert!(err.contains("config.toml"), "{err}");
}
