//! Each real agent CLI (Claude Code, Codex, Gemini CLI) completes a prompt through the proxy
//! against model APIs unlike the test kit's usual upstream (issue 12): one that speaks HTTP/1.1
//! only (Codex and Node offer HTTP/2 to the proxy), and one that ends every body by closing
//! the connection without TLS close_notify. Only the model API is a fake (the test kit's
//! upstream, reached as the real host names); the CLIs, the proxy and TLS are real.
//!
//! Each CLI runs in its non-interactive mode, with the HOME clauderon writes for a session of
//! that agent (`clauderon_agents::profile`) and a session's environment: the proxy with the
//! session's identity, clauderon's CA, placeholders for the keys.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use clauderon_agents::profile::{ConfigContext, agent_env, write_agent_files};
use clauderon_testkit::TestRepo;
use clauderon_testkit::agent_clis::agent_bin;
use clauderon_testkit::upstream::{ModelReply, TlsUpstream};
use clauderon_types::AgentKind;
use common::{ANTHROPIC_KEY, GEMINI_KEY, OPENAI_KEY, ProxyFixture, SECRETS, fixture_on};
use std::process::Stdio;
use std::time::Duration;

const PLACEHOLDER: &str = "placeholder-not-a-key";
/// A reply no real model would give.
const REPLY: &str = "Fidelity reply 2c7e51 through an odd upstream";
const CLI_TIMEOUT: Duration = Duration::from_secs(120);

/// The host, header and value of `agent`'s model API call with the real key.
fn model_api(agent: AgentKind) -> (&'static str, &'static str, String) {
    match agent {
        AgentKind::Claude => ("api.anthropic.com", "x-api-key", ANTHROPIC_KEY.into()),
        AgentKind::Codex => ("api.openai.com", "authorization", format!("Bearer {OPENAI_KEY}")),
        AgentKind::Gemini => ("generativelanguage.googleapis.com", "x-goog-api-key", GEMINI_KEY.into()),
    }
}

async fn daemon_before(up: TlsUpstream) -> ProxyFixture {
    let env = [
        ("ANTHROPIC_API_KEY", ANTHROPIC_KEY),
        ("OPENAI_API_KEY", OPENAI_KEY),
        ("GEMINI_API_KEY", GEMINI_KEY),
    ];
    let fx = fixture_on(up, &env, true).await;
    fx.up.set_model_reply(ModelReply { text: REPLY.into(), ..ModelReply::default() });
    let (host, header, value) = model_api(AgentKind::Claude);
    fx.up.require_header(host, header, &value);
    let (host, header, value) = model_api(AgentKind::Codex);
    fx.up.require_header(host, header, &value);
    let (host, header, value) = model_api(AgentKind::Gemini);
    fx.up.require_header(host, header, &value);
    fx
}

/// Run `agent` non-interactively through the proxy as the `agent` session; its exit, stdout
/// and a report for failures.
async fn run_agent(fx: &ProxyFixture, agent: AgentKind) -> (bool, String, String) {
    let home = tempfile::tempdir().unwrap();
    let repo = TestRepo::new().unwrap();
    let placeholders: Vec<(String, String)> = ["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY"]
        .iter()
        .map(|k| ((*k).to_string(), PLACEHOLDER.to_string()))
        .collect();
    let ctx = ConfigContext { home: home.path(), workdir: repo.path(), placeholders: &placeholders };
    write_agent_files(agent, &ctx).unwrap();
    let pem = std::fs::read_to_string(fx.d.ca_cert()).unwrap();
    let bundle = home.path().join("ca-bundle.pem");
    std::fs::write(&bundle, clauderon_backend::env::ca_bundle(&pem)).unwrap();
    let tmp = home.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();

    let prompt = "Say hello";
    let args: Vec<&str> = match agent {
        AgentKind::Claude => vec!["-p", prompt, "--output-format", "json"],
        AgentKind::Codex => vec!["exec", "--skip-git-repo-check", prompt],
        AgentKind::Gemini => vec!["-p", prompt, "--output-format", "json"],
    };
    let proxy = fx.proxy_url();
    let mut cmd = tokio::process::Command::new(agent_bin(agent));
    cmd.args(&args)
        .current_dir(repo.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("TMPDIR", &tmp)
        .env("CLAUDE_CODE_MAX_RETRIES", "0");
    for var in ["HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"] {
        cmd.env(var, &proxy);
    }
    for var in ["NO_PROXY", "no_proxy"] {
        cmd.env(var, clauderon_backend::env::NO_PROXY);
    }
    for var in clauderon_backend::env::CA_BUNDLE_VARS {
        cmd.env(var, &bundle);
    }
    for var in clauderon_backend::env::CA_EXTRA_VARS {
        cmd.env(var, fx.d.ca_cert());
    }
    cmd.envs(agent_env(agent)).envs(placeholders.iter().cloned());
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let child = cmd.spawn().unwrap();
    let out = match tokio::time::timeout(CLI_TIMEOUT, child.wait_with_output()).await {
        Ok(out) => out.unwrap(),
        Err(_) => panic!("{agent} did not finish within {CLI_TIMEOUT:?}"),
    };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let seen: Vec<String> = fx
        .up
        .requests()
        .iter()
        .map(|r| format!("{} {}{} alpn={:?} {:?}", r.method, r.host_name(), r.path, r.alpn, r.version))
        .collect();
    let report = format!(
        "{agent}: {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- upstream\n{seen:#?}",
        out.status
    );
    for secret in SECRETS {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "a real secret reached the CLI: {report}"
        );
    }
    (out.status.success(), stdout, report)
}

async fn answers_through(agent: AgentKind, up: TlsUpstream) {
    let fx = daemon_before(up).await;
    let (ok, stdout, report) = run_agent(&fx, agent).await;
    assert!(ok, "{report}");
    assert!(stdout.contains(REPLY), "the fake model's reply is missing: {report}");
    let (host, header, value) = model_api(agent);
    let calls: Vec<_> =
        fx.up.requests().into_iter().filter(|r| r.host_name() == host && r.method == "POST").collect();
    assert!(!calls.is_empty(), "no model call arrived: {report}");
    for r in &calls {
        assert_eq!(r.header(header), Some(value.as_str()), "{report}");
        // The upstream spoke HTTP/1.1 only, whatever the CLI offered the proxy.
        assert_eq!(r.alpn.as_deref(), Some("http/1.1"), "{report}");
    }
}

#[tokio::test]
async fn claude_code_answers_through_an_http1_only_upstream() {
    answers_through(AgentKind::Claude, TlsUpstream::start_http1_only().await).await;
}

#[tokio::test]
async fn codex_answers_through_an_http1_only_upstream() {
    answers_through(AgentKind::Codex, TlsUpstream::start_http1_only().await).await;
}

#[tokio::test]
async fn gemini_cli_answers_through_an_http1_only_upstream() {
    answers_through(AgentKind::Gemini, TlsUpstream::start_http1_only().await).await;
}

#[tokio::test]
async fn claude_code_answers_through_close_delimited_bodies_without_close_notify() {
    answers_through(AgentKind::Claude, TlsUpstream::start_close_delimited(false).await).await;
}

#[tokio::test]
async fn codex_answers_through_close_delimited_bodies_without_close_notify() {
    answers_through(AgentKind::Codex, TlsUpstream::start_close_delimited(false).await).await;
}

#[tokio::test]
async fn gemini_cli_answers_through_close_delimited_bodies_without_close_notify() {
    answers_through(AgentKind::Gemini, TlsUpstream::start_close_delimited(false).await).await;
}
