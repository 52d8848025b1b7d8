//! Each agent, live, in a Docker session (issue 6 §1 and §5): a session created with
//! `--agent claude|codex|gemini` and a prompt, no `--command`, runs the real CLI interactively
//! in its container on a locked network (the proxy is the only address it can reach), through
//! a real daemon's proxy, against the test kit's fake model API. The session holds only
//! placeholders; the fake API saw the daemon's real key; the session's messages, read from the
//! transcript the agent wrote in the session's HOME, hold the prompt and the fake reply; the
//! agent's hooks reported through the proxy, so the session went working → idle. A two-line
//! follow-up typed with `send` (issue 6 §4) arrives as one prompt, is answered, and takes the
//! session from idle to working and back.
//!
//! The image is clauderon's own Dockerfile built through the product's image build on the
//! test base image, with the CLIs `scripts/install-agent-clis.sh` installed on this machine
//! copied in (`--agents-from`, no npm inside containers here) and this machine's node beside
//! them (`DIR/node/bin/node`) for Codex and Gemini CLI. Cached by a tag naming the CLI
//! versions and the Dockerfile; built once even when the tests run at the same time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use clauderon_daemon::{LaunchOptions, RunningDaemon, launch};
use clauderon_docker::DockerSettings;
use clauderon_docker::image::{BuildRequest, DOCKERFILE};
use clauderon_testkit::TestRepo;
use clauderon_testkit::agent_clis::{has_message, install_dir, pinned_version};
use clauderon_testkit::files::files_containing;
use clauderon_testkit::http::{Request, unix};
use clauderon_testkit::upstream::{ModelReply, TlsUpstream};
use clauderon_types::{AgentKind, DataLayout};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const REPLY: &str = "Hello from the fake model in a container, reply 3e7a90";
const ANTHROPIC_KEY: &str = "sk-ant-REAL-docker-agents-41b2";
const OPENAI_KEY: &str = "sk-REAL-docker-agents-9c07";
const GEMINI_KEY: &str = "AIza-REAL-docker-agents-e218";
const AGENTS: [AgentKind; 3] = [AgentKind::Claude, AgentKind::Codex, AgentKind::Gemini];
/// The CLIs answer in seconds; past this a wait fails with the container's screen.
const DEADLINE: Duration = Duration::from_secs(120);

/// Where an agent's model calls go and the credential they must carry there.
fn model_api(agent: AgentKind) -> (&'static str, &'static str, String, &'static str) {
    match agent {
        AgentKind::Claude => ("api.anthropic.com", "x-api-key", ANTHROPIC_KEY.into(), "/v1/messages"),
        AgentKind::Codex => {
            ("api.openai.com", "authorization", format!("Bearer {OPENAI_KEY}"), "/v1/responses")
        }
        AgentKind::Gemini => {
            ("generativelanguage.googleapis.com", "x-goog-api-key", GEMINI_KEY.into(), "/v1beta/models/")
        }
    }
}

/// `clauderon-test-agents:<versions>-<dockerfile hash>`, built through the product's image build.
async fn agents_image() -> String {
    let versions: Vec<String> = AGENTS.iter().map(|a| pinned_version(*a)).collect();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (DOCKERFILE, support::base_image()).hash(&mut hasher);
    let tag = format!("clauderon-test-agents:{}-{:08x}", versions.join("-"), hasher.finish() as u32);
    // One build at a time across test processes: the others wait, then find the image.
    let lock = tokio::task::spawn_blocking(|| {
        let file =
            std::fs::File::create(std::env::temp_dir().join("clauderon-test-agents-image.lock")).unwrap();
        file.lock().unwrap();
        file
    })
    .await
    .unwrap();
    let backend = support::backend().await;
    let docker = backend.docker().await.unwrap();
    if docker.inspect_image(&tag).await.is_err() {
        let context = tokio::task::spawn_blocking(agents_folder).await.unwrap();
        let req = BuildRequest {
            base_image: support::base_image(),
            tag: tag.clone(),
            agent_packages: String::new(),
            agents_from: Some(context.path().to_path_buf()),
        };
        clauderon_docker::image::build(&docker, &req, |_| {})
            .await
            .unwrap_or_else(|e| panic!("building {tag}: {e}"));
    }
    drop(lock);
    tag
}

/// The three CLI installs (hard links where the file system allows) and this machine's node.
fn agents_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for agent in AGENTS {
        let install = install_dir(agent);
        let linked = Command::new("cp").arg("-al").arg(&install).arg(dir.path()).status().unwrap();
        if !linked.success() {
            let copied = Command::new("cp").arg("-a").arg(&install).arg(dir.path()).status().unwrap();
            assert!(copied.success(), "copying {}", install.display());
        }
    }
    let node = Command::new("sh").args(["-c", "command -v node"]).output().unwrap();
    let node = PathBuf::from(String::from_utf8_lossy(&node.stdout).trim());
    assert!(node.is_file(), "node is missing: the agent CLIs need it (install node 20)");
    std::fs::create_dir_all(dir.path().join("node/bin")).unwrap();
    std::fs::copy(std::fs::canonicalize(&node).unwrap(), dir.path().join("node/bin/node")).unwrap();
    dir
}

struct Live {
    daemon: RunningDaemon,
    data: tempfile::TempDir,
    _ca: tempfile::TempDir,
    up: TlsUpstream,
    repo: TestRepo,
}

impl Live {
    async fn start(image: &str) -> Live {
        let up = TlsUpstream::start_default().await;
        up.set_model_reply(ModelReply { text: REPLY.into(), ..ModelReply::default() });
        for agent in AGENTS {
            let (host, header, value, _) = model_api(agent);
            up.require_header(host, header, &value);
        }
        let data = tempfile::tempdir().unwrap();
        let ca = tempfile::tempdir().unwrap();
        let layout = DataLayout::new(data.path());
        let mut config = clauderon_testkit::daemon::test_config();
        config.proxy.upstream_overrides = up.overrides();
        config.proxy.extra_ca_files = vec![up.ca().write_pem(ca.path())];
        let backend = support::backend_with(DockerSettings {
            image: image.to_string(),
            proxy_socket: Some(layout.proxy_socket()),
            ..Default::default()
        })
        .await;
        let mut options = LaunchOptions::new(layout, config);
        options.extra_proxy_ips = backend.proxy_ips().await.unwrap();
        options.backends.push(backend);
        options.credential_env = Some(HashMap::from([
            ("ANTHROPIC_API_KEY".to_string(), ANTHROPIC_KEY.to_string()),
            ("OPENAI_API_KEY".to_string(), OPENAI_KEY.to_string()),
            ("GEMINI_API_KEY".to_string(), GEMINI_KEY.to_string()),
        ]));
        let daemon = launch(options).await.unwrap();
        Live { daemon, data, _ca: ca, up, repo: TestRepo::new().unwrap() }
    }

    async fn request(&self, method: &str, path: &str, body: Option<Value>) -> (u16, String) {
        let mut req = Request::new(method, path);
        if let Some(body) = body {
            req = req.json(body.to_string());
        }
        let reply = unix(&self.daemon.socket, req).await;
        (reply.status, reply.body)
    }

    async fn json(&self, path: &str) -> Value {
        let (status, body) = self.request("GET", path, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Wait for the prompt and the fake reply in the messages; fail with the screen at the deadline.
    async fn wait_for_exchange(&self, name: &str, prompt: &str) -> Value {
        let started = Instant::now();
        loop {
            let page = self.json(&format!("/api/sessions/{name}/messages")).await;
            if has_message(&page, "user", prompt) && has_message(&page, "assistant", REPLY) {
                return page;
            }
            if started.elapsed() > DEADLINE {
                let (_, logs) =
                    self.request("GET", &format!("/api/sessions/{name}/logs?tail=60"), None).await;
                let seen: Vec<String> = self
                    .up
                    .requests()
                    .iter()
                    .map(|r| format!("{} {}{}", r.method, r.host_name(), r.path))
                    .collect();
                panic!(
                    "{name}: no exchange after {DEADLINE:?}\n--- messages\n{page:#}\n--- screen\n{logs}\n--- upstream\n{seen:#?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Wait until the session's status is `want`; its status changes (`from->to`, from its events).
    async fn wait_for_status(&self, name: &str, want: &str) -> Vec<String> {
        let started = Instant::now();
        loop {
            let detail = self.json(&format!("/api/sessions/{name}")).await;
            let history: Vec<String> = detail["events"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| e["type"] == "status-changed")
                .map(|e| {
                    format!("{}->{}", e["from"].as_str().unwrap_or("?"), e["to"].as_str().unwrap_or("?"))
                })
                .collect();
            if detail["session"]["status"] == want || started.elapsed() > DEADLINE {
                assert_eq!(detail["session"]["status"], want, "{name}: {detail:#}");
                return history;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

async fn answers_in_a_container(agent: AgentKind) {
    let image = agents_image().await;
    let live = Live::start(&image).await;
    let name = format!("docker-{agent}-{}", clauderon_types::SessionId::new().short());
    let prompt = format!("Say hello to the {agent} container test 58c1");
    let body = json!({"repo_path": live.repo.path(), "prompt": prompt, "name": name, "backend": "docker",
        "agent": agent.to_string(), "options": {"network": "locked"}});
    let (status, created) = live.request("POST", "/api/sessions", Some(body)).await;
    assert_eq!(status, 201, "{created}");

    let page = live.wait_for_exchange(&name, &prompt).await;
    let history = live.wait_for_status(&name, "idle").await;

    // Send (issue 6 §4): a follow-up typed into the container's TTY is a second prompt; the fake
    // API sees it, the agent answers, and its hooks take it from idle to working and back.
    // Two lines: sent as one paste, they make one prompt (a line break must not submit early).
    let follow_up = format!("Now say \"goodbye\" to the {agent} container test 4b1d,\nü ✓ then stop 5e77");
    let (status, body) = live
        .request("POST", &format!("/api/sessions/{name}/input"), Some(json!({ "text": follow_up })))
        .await;
    assert_eq!(status, 204, "{body}");
    let second = live.wait_for_exchange(&name, "then stop 5e77").await;
    let one_prompt = second["messages"].as_array().into_iter().flatten().any(|m| {
        m["role"] == "user" && m["text"].as_str().is_some_and(|t| t.contains("4b1d") && t.contains("5e77"))
    });
    assert!(one_prompt, "{agent}: the two lines did not arrive as one prompt: {second:#}");
    let started = Instant::now();
    loop {
        let again = live.wait_for_status(&name, "idle").await;
        let seen = live
            .up
            .requests()
            .iter()
            .any(|r| r.body_text().contains("4b1d") && r.body_text().contains("5e77"));
        if seen && again.iter().any(|s| s == "idle->running") {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "{agent}: the follow-up was not answered: {again:?}, seen {seen}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Stopped and started again (`clauderon stop`, `clauderon start`), the same container runs
    // the agent's resume command (its launch script found the transcript) and sends no prompt
    // again: no new model call (other startup requests, like Claude Code's settings fetch, are
    // fine). With nobody attached, its terminal still has a size, so the resumed TUI draws the
    // conversation: the output since the restart shows the reply again.
    let calls = live.up.requests().len();
    let restarted_at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    for (step, want) in [("stop", "stopped"), ("start", "running")] {
        let (status, body) = live.request("POST", &format!("/api/sessions/{name}/{step}"), None).await;
        assert_eq!(status, 200, "{step}: {body}");
        assert!(body.contains(&format!("\"status\":\"{want}\"")), "after {step}: {body}");
    }
    let resume = clauderon_agents::profile::resume_command(agent, None).join(" ");
    let container = format!("clauderon-{name}");
    let started = Instant::now();
    loop {
        let processes = support::docker_cli(&["top", &container]);
        if processes.contains(&resume) {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "{agent}: the restarted container does not run `{resume}`:\n{processes}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let since = restarted_at.to_string();
    let started = Instant::now();
    loop {
        let output = support::docker_cli(&["logs", "--since", &since, &container]);
        if squeezed(&without_escapes(&output)).contains(&squeezed(REPLY)) {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "{agent}: the resumed agent did not show the conversation:\n{}",
            without_escapes(&output)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let model_call = model_api(agent).3;
    let after: Vec<String> = live.up.requests()[calls..]
        .iter()
        .filter(|r| r.path.starts_with(model_call))
        .map(|r| {
            format!(
                "{} {}{} {}",
                r.method,
                r.host_name(),
                r.path,
                r.body_text().chars().take(300).collect::<String>()
            )
        })
        .collect();
    assert!(after.is_empty(), "{agent}: the restart sent the prompt again instead of resuming: {after:#?}");

    let (host, header, value, model_call) = model_api(agent);
    let requests = live.up.requests();
    assert!(
        requests.iter().any(|r| r.host_name() == host
            && r.path.starts_with(model_call)
            && r.header(header) == Some(&value)),
        "no model call to {host} carried the real key"
    );
    let (_, env) = live.request("GET", &format!("/api/sessions/{name}/env"), None).await;
    let (_, screen) = live.request("GET", &format!("/api/sessions/{name}/logs?tail=10000"), None).await;
    let layout = DataLayout::new(live.data.path());
    let (home, worktree) = (layout.session_home(&name), layout.worktrees().join(&name));
    for key in [ANTHROPIC_KEY, OPENAI_KEY, GEMINI_KEY] {
        assert!(!env.contains(key), "the session's environment holds a real key");
        assert!(!screen.contains(key), "the agent's screen shows a real key");
        let found = files_containing(&worktree, key);
        assert!(found.is_empty(), "a real key is readable in the session's worktree: {found:?}");
        assert!(!page.to_string().contains(key), "the messages hold a real key");
        assert!(!second.to_string().contains(key), "the messages hold a real key");
        let found = files_containing(&home, key);
        assert!(found.is_empty(), "a real key is readable in the session's HOME: {found:?}");
    }
    let (status, body) = live.request("DELETE", &format!("/api/sessions/{name}?force=true"), None).await;
    assert!(status < 300, "{body}");
    live.daemon.stop().await.unwrap();
    // The hooks reported through the proxy: the agent worked, then went idle.
    assert!(history.iter().any(|s| s == "running->idle"), "{agent}: never went working -> idle: {history:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn claude_code_answers_its_prompt_in_a_docker_session() {
    answers_in_a_container(AgentKind::Claude).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn codex_answers_its_prompt_in_a_docker_session() {
    answers_in_a_container(AgentKind::Codex).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gemini_cli_answers_its_prompt_in_a_docker_session() {
    answers_in_a_container(AgentKind::Gemini).await;
}

/// Terminal output without its control sequences (CSI `ESC [ … final`, OSC `ESC ] … BEL/ST`,
/// two-byte escapes): the text a screen would show, in the order it was written.
fn without_escapes(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\x07' || (c == '\x1b' && chars.next_if_eq(&'\\').is_some()) {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Without whitespace: TUIs move the cursor over blanks instead of writing spaces.
fn squeezed(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}
