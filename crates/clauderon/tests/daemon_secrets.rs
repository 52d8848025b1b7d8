//! The real `clauderon daemon` process, logging at `trace`, proxies requests
//! that get real credentials injected and answers API requests with its token: afterwards no
//! real credential, no session proxy secret and no API token appears in its log file or its
//! stderr, and no real credential in its database.
//! (Sessions are recorded in the store before the start, since the shipped
//! daemon has no backend yet to create them with.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use chrono::Utc;
use clauderon_store::Store;
use clauderon_testkit::TlsUpstream;
use clauderon_types::{EventKind, Session};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const REAL_KEY: &str = "sk-ant-REAL-never-logged-7e3";

fn free_port() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// Every file under `dir`, as text.
fn all_text(dir: &Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.push_str(&all_text(&p));
        } else if let Ok(bytes) = std::fs::read(&p) {
            out.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_logs_or_the_database() {
    let up = TlsUpstream::start_default().await;
    let home = tempfile::tempdir().unwrap();
    let s = clauderon_testkit::session::sample("logged");
    let secret = clauderon_proxy_secret(home.path(), &s);
    let ca_file = up.ca().write_pem(home.path());
    let mut config = format!(
        "[proxy]\nextra_ca_files = [{:?}]\n[proxy.upstream_overrides]\n",
        ca_file.display().to_string()
    );
    for (host, addr) in up.overrides() {
        config.push_str(&format!("{host:?} = \"{addr}\"\n"));
    }
    std::fs::write(home.path().join("config.toml"), config).unwrap();

    let (api, proxy) = (free_port(), free_port());
    // stderr goes to a file: at `trace` it outgrows a pipe nobody reads while the daemon runs.
    let stderr_path = home.path().join("daemon-stderr.txt");
    let child = Command::new(env!("CARGO_BIN_EXE_clauderon"))
        .args(["daemon", "--bind", &api.to_string(), "--proxy-bind", &proxy.to_string(), "--log", "trace"])
        .env("CLAUDERON_HOME", home.path())
        .env("ANTHROPIC_API_KEY", REAL_KEY)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let mut up_yet = false;
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(proxy).await.is_ok() {
            up_yet = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(up_yet, "the daemon did not start");

    let ca = home.path().join("ca/ca.pem");
    let proxy_url = format!("http://logged:{secret}@{proxy}");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("curl")
            .args(["-sS", "--max-time", "10", "--proxy", &proxy_url, "--cacert"])
            .arg(&ca)
            .args(["-H", "x-api-key: placeholder", "https://api.anthropic.com/status/200"])
            .args(["--next", "--proxy", &proxy_url, "--cacert"])
            .arg(&ca)
            .arg("https://api.anthropic.com/v1/models?key=should-be-redacted")
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "curl: {}", String::from_utf8_lossy(&out.stderr));
    let seen = up.wait_for_requests(2, Duration::from_secs(5)).await;
    assert_eq!(
        seen[0].header("x-api-key"),
        Some(REAL_KEY),
        "the credential was not injected, the test proves nothing"
    );

    // The API over TCP with the generated token, and with a wrong one: neither may log it.
    let api_token = std::fs::read_to_string(home.path().join("api-token")).unwrap().trim().to_string();
    let bearer = format!("Authorization: Bearer {api_token}");
    let codes = tokio::task::spawn_blocking(move || {
        let url = format!("http://{api}/api/sessions");
        let code = |auth: &str| {
            let out = Command::new("curl")
                .args(["-sS", "--noproxy", "*", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}"])
                .args(["-H", auth, &url])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        (code(&bearer), code("Authorization: Bearer a-wrong-token-0123456789"))
    })
    .await
    .unwrap();
    assert_eq!(codes, ("200".to_string(), "401".to_string()), "the API requests did not happen as meant");

    // Stop it gracefully (SIGTERM) so logs flush and the database is checkpointed.
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    assert!(output.status.success(), "daemon exit: {:?}", output.status);

    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    let _ = std::fs::remove_file(&stderr_path);
    let logs = all_text(&home.path().join("logs"));
    assert!(logs.len() > 1000, "the trace log is suspiciously empty: {} bytes", logs.len());
    let db = all_text(home.path()).replace(&secret, ""); // the store must hold the session's own secret
    for (place, text) in [("stderr", stderr.as_str()), ("log files", logs.as_str())] {
        assert!(!text.contains(REAL_KEY), "the real key appeared in {place}");
        assert!(!text.contains(&secret), "the session's proxy secret appeared in {place}");
        assert!(!text.contains("should-be-redacted"), "a query secret appeared in {place}");
        assert!(!text.contains(&api_token), "the API token appeared in {place}");
    }
    assert!(!db.contains(REAL_KEY), "the real key was written to the data dir");
    assert!(!db.contains("should-be-redacted"), "a query secret was written to the audit");
}

/// Record a session and its proxy secret in a fresh data dir.
fn clauderon_proxy_secret(home: &Path, s: &Session) -> String {
    let store = Store::open(&home.join("clauderon.db")).unwrap();
    store.insert_session(s, &EventKind::Archived, Utc::now()).unwrap();
    let secret = "proxysecret-ABCDEF0123456789abcdef";
    store.set_proxy_secret(s.id, secret).unwrap();
    store.close().unwrap();
    secret.to_string()
}
