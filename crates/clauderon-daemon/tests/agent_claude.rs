//! The real Claude Code CLI completes a prompt through the daemon's proxy while holding only a
//! placeholder key (issue 3, §6). Only the model API is a fake — the test kit's TLS upstream,
//! which the proxy reaches as `api.anthropic.com` — because the real one is on the internet;
//! the CLI, the proxy, TLS and the injection are all real.
//!
//! Besides the model call (`POST /v1/messages?beta=true`) the CLI asks `api.anthropic.com` for
//! `/api/claude_code/settings` and `/api/claude_code/policy_limits`; the fake answers 404,
//! which the CLI accepts. No base URL is set: through the proxy, api.anthropic.com is the fake.
//!
//! With a Claude subscription login instead of a key, the CLI holds a placeholder login whose
//! token has expired: it refreshes it at the token endpoint, the proxy answers with placeholders
//! (the real login stays with the daemon), and its model call carries the daemon's real token.
//!
//! The CLI comes from `scripts/install-agent-clis.sh` (CI and `scripts/test.sh` run it), found
//! through `CLAUDERON_TEST_CLAUDE_BIN` or the script's default cache folder.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use clauderon_proxy::oauth::PLACEHOLDER_TOKEN;
use clauderon_testkit::TestRepo;
use clauderon_testkit::agent_clis::agent_bin;
use clauderon_testkit::files::files_containing;
use clauderon_testkit::upstream::{ModelReply, RecordedRequest};
use clauderon_types::AgentKind;
use common::{ANTHROPIC_KEY, ProxyFixture, SECRETS, audit, fixture, fixture_with};
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};

/// What the agent holds instead of the key; the proxy must replace it.
const PLACEHOLDER: &str = "placeholder-not-a-key";
/// A reply no real model would give, so finding it proves the answer came from the fake API.
const REPLY: &str = "Hello through clauderon, reply 6f1d93";
/// The CLI answers in about a second here; past this the test kills it and fails.
const CLI_TIMEOUT: Duration = Duration::from_secs(120);

/// A child's output pipe read to the end in the background; what arrived is kept even when
/// the pipe never closes (a grandchild may hold it after the CLI was killed).
struct Captured {
    buf: Arc<Mutex<Vec<u8>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Captured {
    fn start(mut pipe: impl AsyncRead + Unpin + Send + 'static) -> Captured {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let task = tokio::spawn(async move {
            let mut chunk = [0u8; 8192];
            while let Ok(n @ 1..) = pipe.read(&mut chunk).await {
                sink.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        });
        Captured { buf, task }
    }

    async fn finish(self) -> String {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
        String::from_utf8_lossy(&self.buf.lock().unwrap()).into_owned()
    }
}

fn describe(requests: &[RecordedRequest]) -> String {
    requests
        .iter()
        .map(|r| {
            let key =
                r.header("x-api-key").map_or("none", |k| if k == ANTHROPIC_KEY { "REAL" } else { "other" });
            format!("  {} {}{} (x-api-key: {key})", r.method, r.host_name(), r.path)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One `claude -p` run through the proxy as the `agent` session, and what it printed.
struct Run {
    status: Option<std::process::ExitStatus>,
    stdout: String,
    stderr: String,
    report: String,
}

/// Runs `claude -p "Say hello"` in a fresh checkout with `home` as its HOME, through the proxy,
/// trusting clauderon's CA, with `auth` as its credential environment.
async fn run_claude(fx: &ProxyFixture, home: &Path, auth: &[(&str, &str)]) -> Run {
    let claude = agent_bin(AgentKind::Claude);
    let tmp = home.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let repo = TestRepo::new().unwrap();
    let proxy = fx.proxy_url();
    let mut cmd = tokio::process::Command::new(&claude);
    cmd.args(["-p", "Say hello", "--output-format", "json"])
        .current_dir(repo.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("TMPDIR", &tmp) // the CLI leaves probe folders in its temp dir
        .env("HTTPS_PROXY", &proxy)
        .env("https_proxy", &proxy)
        .env("NO_PROXY", "localhost,127.0.0.1")
        .env("no_proxy", "localhost,127.0.0.1")
        .env("NODE_EXTRA_CA_CERTS", fx.d.ca_cert())
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_TELEMETRY", "1")
        // No retries: a fault in the proxy must fail the test, not hide behind a retry, and a
        // refused key (401) would otherwise be retried for minutes.
        .env("CLAUDE_CODE_MAX_RETRIES", "0")
        .envs(auth.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let started = std::time::Instant::now();
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("starting {}: {e}", claude.display()));
    let stdout = Captured::start(child.stdout.take().unwrap());
    let stderr = Captured::start(child.stderr.take().unwrap());
    let status = match tokio::time::timeout(CLI_TIMEOUT, child.wait()).await {
        Ok(status) => Some(status.unwrap()),
        Err(_) => {
            let _ = child.kill().await;
            None
        }
    };
    let (stdout, stderr) = (stdout.finish().await, stderr.finish().await);
    let report = format!(
        "claude {} after {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- upstream requests\n{}",
        status.map_or_else(
            || format!("did not finish within {CLI_TIMEOUT:?} and was killed"),
            |s| s.to_string()
        ),
        started.elapsed(),
        describe(&fx.up.requests())
    );
    Run { status, stdout, stderr, report }
}

#[tokio::test]
async fn claude_code_completes_a_prompt_through_the_proxy_holding_only_a_placeholder() {
    let fx = fixture().await;
    fx.up.set_model_reply(ModelReply { text: REPLY.into(), ..ModelReply::default() });
    // The fake API refuses any model call without the real key, as the real API would.
    fx.up.require_header("api.anthropic.com", "x-api-key", ANTHROPIC_KEY);

    let home = tempfile::tempdir().unwrap();
    let Run { status, stdout, stderr, report } =
        run_claude(&fx, home.path(), &[("ANTHROPIC_API_KEY", PLACEHOLDER)]).await;
    let requests = fx.up.requests();

    assert!(status.is_some_and(|s| s.success()), "{report}");
    let result: Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {report}"));
    assert_eq!(result["is_error"], false, "{report}");
    assert!(
        result["result"].as_str().is_some_and(|r| r.contains(REPLY)),
        "the fake model's reply is missing: {report}"
    );

    // The model call arrived with the real key, which the CLI never had.
    let calls: Vec<_> = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.split('?').next() == Some("/v1/messages"))
        .collect();
    assert!(!calls.is_empty(), "no POST /v1/messages reached the upstream: {report}");
    for r in &calls {
        assert_eq!(r.host_name(), "api.anthropic.com", "{report}");
        assert_eq!(r.header_all("x-api-key"), vec![ANTHROPIC_KEY], "{report}");
    }
    for r in &requests {
        assert!(
            r.headers.iter().all(|(_, v)| !v.contains(PLACEHOLDER)),
            "the placeholder reached the upstream on {} {}: {report}",
            r.method,
            r.path
        );
    }

    // Nothing the CLI printed or stored holds a real secret.
    for secret in SECRETS {
        assert!(!stdout.contains(secret) && !stderr.contains(secret), "the CLI saw a real secret: {report}");
        let leaked = files_containing(home.path(), secret);
        assert!(leaked.is_empty(), "a real secret reached the CLI's files: {leaked:?}");
    }

    let entries = audit(&fx).await;
    let injected = entries.iter().any(|e| {
        e["host"] == "api.anthropic.com"
            && e["path"].as_str().is_some_and(|p| p.starts_with("/v1/messages"))
            && e["decision"] == "injected"
            && e["credential"] == "anthropic_api_key"
    });
    assert!(injected, "no injected model call in the audit: {entries:#?}");
    // Only the fake API on loopback was asked: any other host would have meant leaving the machine.
    let elsewhere: Vec<_> = entries.iter().filter(|e| e["host"] != "api.anthropic.com").collect();
    assert!(elsewhere.is_empty(), "the CLI went to other hosts through the proxy: {elsewhere:#?}");
    for e in &entries {
        for secret in SECRETS.iter().chain([&fx.access.secret.as_str()]) {
            assert!(!e.to_string().contains(secret), "a secret reached the audit: {e}");
        }
    }
}

#[tokio::test]
async fn claude_code_with_an_expired_subscription_login_refreshes_through_the_proxy() {
    const REAL_ACCESS: &str = "sk-ant-oat01-REAL-daemon-login-3e8a";
    const REAL_REFRESH: &str = "sk-ant-ort01-REAL-daemon-login-b71c";
    let now_ms = i64::try_from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis(),
    )
    .unwrap();
    let private_json = |path: &Path, doc: &Value| {
        std::fs::write(path, doc.to_string()).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    let scopes = ["user:inference", "user:profile", "user:sessions:claude_code"];

    // The daemon holds the real login, fresh for an hour; no API key anywhere.
    let fx = fixture_with(&[], true).await;
    let daemon_login = fx.d.layout().secrets().join("anthropic_oauth.json");
    private_json(
        &daemon_login,
        &json!({"claudeAiOauth": {"accessToken": REAL_ACCESS, "refreshToken": REAL_REFRESH,
            "expiresAt": now_ms + 3_600_000, "scopes": scopes, "subscriptionType": "max"}}),
    );
    let daemon_login_before = std::fs::read(&daemon_login).unwrap();
    fx.up.set_model_reply(ModelReply { text: REPLY.into(), ..ModelReply::default() });
    fx.up.require_header("api.anthropic.com", "authorization", &format!("Bearer {REAL_ACCESS}"));

    // The session holds a placeholder login that expired a minute ago: the CLI refreshes it first.
    let home = tempfile::tempdir().unwrap();
    let cli_login = home.path().join(".claude/.credentials.json");
    std::fs::create_dir_all(cli_login.parent().unwrap()).unwrap();
    private_json(
        &cli_login,
        &json!({"claudeAiOauth": {"accessToken": PLACEHOLDER_TOKEN, "refreshToken": PLACEHOLDER_TOKEN,
            "expiresAt": now_ms - 60_000, "scopes": scopes, "subscriptionType": "max"}}),
    );
    let Run { status, stdout, stderr, report } = run_claude(&fx, home.path(), &[]).await;

    assert!(status.is_some_and(|s| s.success()), "{report}");
    let result: Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {report}"));
    assert!(result["result"].as_str().is_some_and(|r| r.contains(REPLY)), "{report}");

    // Its refresh was answered by the proxy: nothing reached a token endpoint, and the CLI
    // stored the placeholder with the new expiry.
    let requests = fx.up.requests();
    assert!(requests.iter().all(|r| !r.path.contains("oauth/token")), "{report}");
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(&cli_login).unwrap()).unwrap();
    assert_eq!(stored["claudeAiOauth"]["accessToken"], PLACEHOLDER_TOKEN, "{report}");
    assert!(
        stored["claudeAiOauth"]["expiresAt"].as_i64().unwrap() > now_ms,
        "the CLI did not refresh: {stored}"
    );
    assert_eq!(std::fs::read(&daemon_login).unwrap(), daemon_login_before, "the real login was touched");

    // Its model call carried the daemon's real token, which the CLI never saw.
    let calls: Vec<_> =
        requests.iter().filter(|r| r.path.split('?').next() == Some("/v1/messages")).collect();
    assert!(!calls.is_empty(), "{report}");
    for r in calls {
        assert_eq!(r.header_all("authorization"), vec![format!("Bearer {REAL_ACCESS}")], "{report}");
    }
    for secret in [REAL_ACCESS, REAL_REFRESH] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret), "the CLI saw a real token: {report}");
        let leaked = files_containing(home.path(), secret);
        assert!(leaked.is_empty(), "a real token reached the CLI's files: {leaked:?}");
    }
    let entries = audit(&fx).await;
    let answered = entries.iter().any(|e| {
        e["decision"] == "answered" && e["host"] == "platform.claude.com" && e["path"] == "/v1/oauth/token"
    });
    assert!(answered, "no answered refresh in the audit: {entries:#?}");
}

/// The transcript the real CLI writes is where `clauderon-agents` looks for it, reads back as
/// the exchange (prompt, then reply, with timestamps, in order), and the session's messages API
/// serves it from the session's HOME, paged after a cursor (issue 6, §2).
#[tokio::test]
async fn claude_code_transcript_reads_back_as_the_sessions_messages() {
    use clauderon_agents::transcript::{self, Role};
    use clauderon_testkit::http::{Request as ApiRequest, unix};

    let fx = fixture().await;
    fx.up.set_model_reply(ModelReply { text: REPLY.into(), ..ModelReply::default() });
    // The CLI runs with the session's own HOME, as a backend gives it.
    let home = fx.d.layout().session_home("agent");
    std::fs::create_dir_all(&home).unwrap();
    let Run { status, report, .. } = run_claude(&fx, &home, &[("ANTHROPIC_API_KEY", PLACEHOLDER)]).await;
    assert!(status.is_some_and(|s| s.success()), "{report}");

    let path = transcript::newest_claude_transcript_anywhere(&home)
        .unwrap()
        .unwrap_or_else(|| panic!("no transcript under {}: {report}", home.display()));
    let raw = std::fs::read_to_string(&path).unwrap();
    // Its folder is named after the working directory the CLI recorded.
    let cwd = raw
        .lines()
        .find_map(|l| serde_json::from_str::<Value>(l).ok()?.get("cwd")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no line of {} names its cwd:\n{raw}", path.display()));
    assert_eq!(
        transcript::newest_claude_transcript(&home, Path::new(&cwd)).unwrap().as_ref(),
        Some(&path),
        "the CLI wrote {} for cwd {cwd}",
        path.display()
    );

    let read =
        clauderon_agents::profile::read_transcript(clauderon_types::AgentKind::Claude, &home, &path).unwrap();
    assert!(read.notes.is_clean(), "{:?} in:\n{raw}", read.notes);
    let said: Vec<(Role, &str)> = read.messages.iter().map(|m| (m.role, m.text.as_str())).collect();
    assert_eq!(said, [(Role::User, "Say hello"), (Role::Assistant, REPLY)], "from:\n{raw}");
    let (asked, answered) = (read.messages[0].timestamp.unwrap(), read.messages[1].timestamp.unwrap());
    assert!(asked <= answered, "{asked} after {answered}");
    assert!((chrono::Utc::now() - asked).num_minutes() < 10, "a stale timestamp {asked}");

    // The same exchange through the API: all of it, then only what follows a cursor.
    let page = unix(fx.d.socket(), ApiRequest::new("GET", "/api/sessions/agent/messages")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let page = page.json();
    assert_eq!(page["transcript"], path.display().to_string());
    assert_eq!((page["total"].as_u64(), page["next"].as_u64()), (Some(2), Some(2)), "{page}");
    assert_eq!(page["messages"][0]["role"], "user");
    assert_eq!(page["messages"][0]["text"], "Say hello");
    assert_eq!(page["messages"][1]["text"], REPLY);
    let rest =
        unix(fx.d.socket(), ApiRequest::new("GET", "/api/sessions/agent/messages?after=1&limit=5")).await;
    let rest = rest.json();
    assert_eq!(rest["messages"].as_array().map(Vec::len), Some(1), "{rest}");
    assert_eq!(rest["messages"][0]["role"], "assistant");
}
