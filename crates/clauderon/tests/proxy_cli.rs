//! `audit`, `credentials` and `config ca-cert` with the real binary against a daemon in a temp
//! data dir (the test kit's, with its fake backend; the CLI reaches it over the Unix socket).
//!
//! Proxy traffic itself is tested with the proxy. To have a populated audit here, entries are
//! written straight into the daemon's store (`Store::append_audit` on its database, which is
//! what the proxy's audit writer does), either while the daemon is stopped or, for `--follow`,
//! through a second connection while it runs (SQLite in WAL mode allows both).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use clauderon_store::Store;
use clauderon_testkit::daemon::test_config;
use clauderon_testkit::{TestDaemon, TestRepo};
use clauderon_types::SessionId;
use clauderon_types::audit::{AuditEntry, Decision};
use common::command;
use std::collections::HashMap;
use std::io::BufRead;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Run off the async threads: the daemon serving the CLI lives on them.
async fn run(d: &TestDaemon, args: &[&str]) -> Output {
    tokio::task::block_in_place(|| command(d, args).output().expect("running clauderon"))
}

async fn ok(d: &TestDaemon, args: &[&str]) -> String {
    let out = run(d, args).await;
    assert!(out.status.success(), "clauderon {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Exit code 1, nothing on stdout, and one line on stderr: `error: …`.
async fn fails(d: &TestDaemon, args: &[&str]) -> String {
    let out = run(d, args).await;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "clauderon {args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "clauderon {args:?} printed {}", String::from_utf8_lossy(&out.stdout));
    assert!(stderr.starts_with("error: ") && stderr.lines().count() == 1, "{stderr:?}");
    stderr.trim_end().to_string()
}

/// A session through the CLI; returns its id.
async fn create_session(d: &TestDaemon, repo: &TestRepo, name: &str) -> SessionId {
    let repo_path = repo.path().to_string_lossy().to_string();
    ok(d, &["create", "--repo", &repo_path, "--prompt", "work", "--name", name]).await;
    let list: serde_json::Value = serde_json::from_str(&ok(d, &["list", "--json"]).await).unwrap();
    let session = list["sessions"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap();
    serde_json::from_value(session["id"].clone()).unwrap()
}

fn entry(session: Option<(SessionId, &str)>, host: &str, path: &str, decision: Decision) -> AuditEntry {
    AuditEntry {
        id: 0,
        at: chrono::Utc::now(),
        session_id: session.map(|(id, _)| id),
        session_name: session.map(|(_, name)| name.to_string()),
        method: "GET".into(),
        host: host.into(),
        path: path.into(),
        status: Some(200),
        bytes_up: 100,
        bytes_down: 2048,
        duration_ms: 42,
        credential: Some("github_token".into()),
        note: None,
        decision,
    }
}

fn append(d: &TestDaemon, entries: &[AuditEntry]) {
    let store = Store::open(&d.layout().database()).unwrap();
    store.append_audit(entries).unwrap();
    store.close().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_name_their_source_and_never_print_a_value() {
    let env = HashMap::from([
        ("GH_TOKEN".to_string(), "ghp_realvalue123".to_string()),
        ("ANTHROPIC_API_KEY".to_string(), "sk-ant-realvalue456".to_string()),
    ]);
    let mut d = TestDaemon::start_with(test_config(), env).await;

    let out = run(&d, &["credentials"]).await;
    let (table, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("NAME") && lines[0].contains("SOURCE") && lines[0].contains("PROBLEM"));
    let row = |name: &str| {
        *lines
            .iter()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name}:\n{table}"))
    };
    assert!(row("github_token").ends_with("env GH_TOKEN"), "{table}");
    assert!(row("anthropic_api_key").ends_with("env ANTHROPIC_API_KEY"), "{table}");
    assert!(row("openai_api_key").ends_with("not configured"), "{table}");

    let out = run(&d, &["credentials", "--json"]).await;
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let github =
        json["credentials"].as_array().unwrap().iter().find(|c| c["name"] == "github_token").unwrap();
    assert_eq!(github["source"], "env GH_TOKEN");
    assert!(github["problem"].is_null());

    for output in [&table.to_string(), &stderr.to_string(), &String::from_utf8_lossy(&out.stdout).to_string()]
    {
        for secret in ["ghp_realvalue123", "sk-ant-realvalue456"] {
            assert!(!output.contains(secret), "a credential value was printed:\n{output}");
        }
    }
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_ca_cert_is_the_daemons_certificate_even_when_it_is_stopped() {
    let mut d = TestDaemon::start().await;
    let file = d.ca_cert().to_path_buf();
    let on_disk = std::fs::read_to_string(&file).unwrap();

    let pem = ok(&d, &["config", "ca-cert"]).await;
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    assert_eq!(pem, on_disk, "not byte for byte the daemon's CA file");
    assert_eq!(ok(&d, &["--url", &d.base_url(), "config", "ca-cert"]).await, on_disk);

    // Stopped: the file in the data dir, and nothing else.
    d.stop().await;
    let out = run(&d, &["config", "ca-cert"]).await;
    assert!(out.status.success() && out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), on_disk);

    // No file either: the usual advice.
    std::fs::remove_file(&file).unwrap();
    let err = fails(&d, &["config", "ca-cert"]).await;
    assert!(
        err.contains("daemon is not running") && err.ends_with("start it with `clauderon daemon`"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_ca_cert_over_a_url_never_falls_back_to_the_local_file() {
    let mut d = TestDaemon::start().await;
    let url = d.base_url();
    d.stop().await;
    let err = fails(&d, &["--url", &url, "config", "ca-cert"]).await;
    assert!(err.contains("daemon is not running"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_of_an_unknown_session_is_the_daemons_message_in_one_line() {
    let mut d = TestDaemon::start().await;
    for args in [&["audit", "ghost"][..], &["audit", "ghost", "--json"], &["audit", "ghost", "--follow"]] {
        let err = fails(&d, args).await;
        assert!(err.starts_with("error: no session named `ghost`"), "{args:?}: {err}");
    }
    let err = fails(&d, &["audit", "../etc"]).await;
    assert!(err.contains("only letters, digits and dashes"), "{err}");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_of_a_quiet_session_is_an_empty_table() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    create_session(&d, &repo, "quiet").await;

    let table = ok(&d, &["audit", "quiet"]).await;
    assert_eq!(table.lines().count(), 1, "{table}");
    assert!(table.starts_with("TIME (UTC)  METHOD  HOST  PATH") && table.trim_end().ends_with("DECISION"));
    let json: serde_json::Value = serde_json::from_str(&ok(&d, &["audit", "quiet", "--json"]).await).unwrap();
    assert_eq!(json, serde_json::json!({ "requests": [] }));
    let all = ok(&d, &["audit"]).await;
    assert!(all.starts_with("TIME (UTC)  SESSION  METHOD") && all.lines().count() == 1, "{all}");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_lists_recorded_requests_per_session_and_in_all() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    let one = create_session(&d, &repo, "one").await;
    let two = create_session(&d, &repo, "two").await;

    d.stop().await;
    let mut entries: Vec<AuditEntry> = (0..5)
        .map(|i| entry(Some((one, "one")), "api.github.com", &format!("/repos/{i}"), Decision::Injected))
        .collect();
    entries.push(entry(
        Some((two, "two")),
        "evil.example",
        "/upload",
        Decision::Denied { reason: "host not allowed".into() },
    ));
    append(&d, &entries);
    d.restart().await;

    let table = ok(&d, &["audit", "one"]).await;
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 6, "{table}");
    assert!(!lines[0].contains("SESSION"), "{table}");
    let path_column = lines[0].find("PATH").unwrap();
    assert_eq!(lines[1][path_column..].split("  ").next(), Some("/repos/0"), "oldest first:\n{table}");
    for field in ["GET", "api.github.com", "200", "github_token", "100 B", "2.0 KiB", "42ms", "injected"] {
        assert!(lines[1].contains(field), "no `{field}`:\n{table}");
    }

    let latest = ok(&d, &["audit", "one", "--limit", "2"]).await;
    assert_eq!(latest.lines().count(), 3, "{latest}");
    assert!(latest.contains("/repos/3") && latest.contains("/repos/4") && !latest.contains("/repos/2"));

    let all = ok(&d, &["audit"]).await;
    let last = all.lines().last().unwrap();
    assert!(last.contains("two") && last.ends_with("denied: host not allowed"), "{all}");

    let json: serde_json::Value = serde_json::from_str(&ok(&d, &["audit", "two", "--json"]).await).unwrap();
    let requests = json["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        (&requests[0]["decision"], &requests[0]["reason"]),
        (&"denied".into(), &"host not allowed".into())
    );
    d.stop().await;
}

/// `clauderon audit … --follow` as a child whose stdout lines arrive on a channel.
struct Follower {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
}

impl Follower {
    fn start(d: &TestDaemon, args: &[&str]) -> Self {
        let mut child = command(d, args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Follower { child, lines }
    }

    fn next(&self) -> String {
        tokio::task::block_in_place(|| self.lines.recv_timeout(Duration::from_secs(15)))
            .expect("no line from `audit --follow` within 15s")
    }

    /// Ctrl-C, then its exit status.
    fn interrupt(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let kill = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(kill.success());
        tokio::task::block_in_place(|| self.child.wait()).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_follow_prints_new_requests_as_they_come_and_ctrl_c_ends_it_cleanly() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    let id = create_session(&d, &repo, "busy").await;
    let busy = Some((id, "busy"));
    append(&d, &[entry(busy, "api.github.com", "/before", Decision::Injected)]);

    let json = Follower::start(&d, &["audit", "busy", "--follow", "--json"]);
    let text = Follower::start(&d, &["audit", "--follow"]);
    let first: AuditEntry = serde_json::from_str(&json.next()).unwrap();
    assert_eq!(first.path, "/before");
    let header = text.next();
    assert!(header.starts_with("TIME (UTC) ") && header.contains(" SESSION "), "{header}");
    assert!(text.next().contains("/before"));

    // Recorded while both follow.
    append(
        &d,
        &[
            entry(busy, "api.github.com", "/after", Decision::Failed { reason: "upstream down".into() }),
            entry(None, "unknown.example", "/", Decision::Denied { reason: "no session".into() }),
        ],
    );
    let after: AuditEntry = serde_json::from_str(&json.next()).unwrap();
    assert_eq!((after.path.as_str(), after.decision.reason()), ("/after", Some("upstream down")));
    assert!(after.id > first.id);
    let row = text.next();
    assert!(row.contains("/after") && row.ends_with("failed: upstream down"), "{row}");
    assert_eq!(header.find("PATH"), row.find("/after"), "rows line up under the header:\n{header}\n{row}");
    let row = text.next();
    assert!(row.contains("unknown.example") && row.ends_with("denied: no session"), "{row}");

    assert!(json.interrupt().success(), "Ctrl-C is how --follow ends: exit 0");
    assert!(text.interrupt().success());
    d.stop().await;
}
