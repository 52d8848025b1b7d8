//! Live agent sessions: a real daemon in-process (port 0, its own data dir) with the zellij
//! backend, real zellij and bubblewrap, and the real agent CLIs that
//! `scripts/install-agent-clis.sh` installs, running interactively in their panes. Only the
//! model APIs are fakes — the test kit's TLS upstream, which the daemon's proxy reaches as
//! `api.anthropic.com`, `api.openai.com` and `generativelanguage.googleapis.com` — because the
//! real ones are on the internet. The upstream refuses (401) any model call that does not
//! carry the daemon's real key, as the real APIs would.
//!
//! A test that needs a CLI fails with how to install it; it never passes without one.

use clauderon_backend::SessionBackend;
use clauderon_daemon::{LaunchOptions, RunningDaemon, launch};
use clauderon_testkit::TestRepo;
use clauderon_testkit::agent_clis::has_message;
use clauderon_testkit::http::{Request, unix};
use clauderon_testkit::upstream::{ModelReply, TlsUpstream};
use clauderon_types::{AgentKind, DataLayout, SandboxLevel};
use clauderon_zellij::ZellijBackend;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A reply no real model would give, so finding it proves the answer came from the fake API.
pub const REPLY: &str = "Hello from the fake model, reply 5c2e81";
/// The CLIs answer in seconds here (Claude Code's first start takes the longest); past this a
/// wait fails with the pane's screen.
pub const DEADLINE: Duration = Duration::from_secs(120);

/// The daemon's real credentials: the sessions must never see them.
pub const ANTHROPIC_KEY: &str = "sk-ant-REAL-live-agents-7d41c2";
pub const OPENAI_KEY: &str = "sk-REAL-live-agents-0b93aa";
pub const GEMINI_KEY: &str = "AIza-REAL-live-agents-c50f17";

/// How an agent's model calls reach the fake API and carry the key.
pub struct AgentApi {
    pub host: &'static str,
    pub header: &'static str,
    pub value: String,
    /// The path of a model call (prefix).
    pub model_call: &'static str,
}

pub fn api(agent: AgentKind) -> AgentApi {
    match agent {
        AgentKind::Claude => AgentApi {
            host: "api.anthropic.com",
            header: "x-api-key",
            value: ANTHROPIC_KEY.into(),
            model_call: "/v1/messages",
        },
        AgentKind::Codex => AgentApi {
            host: "api.openai.com",
            header: "authorization",
            value: format!("Bearer {OPENAI_KEY}"),
            model_call: "/v1/responses",
        },
        AgentKind::Gemini => AgentApi {
            host: "generativelanguage.googleapis.com",
            header: "x-goog-api-key",
            value: GEMINI_KEY.into(),
            model_call: "/v1beta/models/",
        },
    }
}

/// A daemon with the zellij backend, the fake model APIs and the real keys of all three agents.
pub struct LiveDaemon {
    pub data: tempfile::TempDir,
    pub user_home: tempfile::TempDir,
    _ca_dir: tempfile::TempDir,
    pub up: TlsUpstream,
    pub daemon: Option<RunningDaemon>,
    pub backend: Arc<ZellijBackend>,
    pub repo: TestRepo,
}

impl Drop for LiveDaemon {
    fn drop(&mut self) {
        super::kill_leftovers(self.data.path());
    }
}

impl LiveDaemon {
    /// Everything started; the agents' folders are put first on the sessions' PATH.
    pub async fn start(agents: &[AgentKind]) -> LiveDaemon {
        Self::start_configured(agents, |_| {}).await
    }

    /// The same, with the daemon's config changed first (hooks, say).
    pub async fn start_configured(
        agents: &[AgentKind],
        tweak: impl FnOnce(&mut clauderon_core::Config),
    ) -> LiveDaemon {
        let up = TlsUpstream::start_default().await;
        up.set_model_reply(ModelReply { text: REPLY.into(), ..ModelReply::default() });
        for agent in [AgentKind::Claude, AgentKind::Codex, AgentKind::Gemini] {
            let a = api(agent);
            up.require_header(a.host, a.header, &a.value);
        }
        let ca_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let mut config = clauderon_testkit::daemon::test_config();
        config.proxy.upstream_overrides = up.overrides();
        config.proxy.extra_ca_files = vec![up.ca().write_pem(ca_dir.path())];
        tweak(&mut config);
        let data = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let user_home = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));

        let mut settings = super::settings(data.path(), user_home.path(), SandboxLevel::Off);
        settings.default_sandbox = None; // `full` where bubblewrap works: the real setup
        let mut path: Vec<String> = agents
            .iter()
            .filter_map(|a| {
                clauderon_testkit::agent_clis::agent_bin(*a)
                    .parent()
                    .map(|p| p.to_string_lossy().into_owned())
            })
            .collect();
        path.extend(std::env::var("PATH").ok());
        settings.host_env.retain(|(k, _)| k != "PATH");
        settings.host_env.push(("PATH".into(), path.join(":")));
        let backend = Arc::new(ZellijBackend::new(settings).unwrap_or_else(|e| panic!("backend: {e}")));

        let credential_env = HashMap::from([
            ("ANTHROPIC_API_KEY".to_string(), ANTHROPIC_KEY.to_string()),
            ("OPENAI_API_KEY".to_string(), OPENAI_KEY.to_string()),
            ("GEMINI_API_KEY".to_string(), GEMINI_KEY.to_string()),
        ]);
        let backends: Vec<Arc<dyn SessionBackend>> = vec![backend.clone()];
        let daemon = launch(LaunchOptions {
            layout: DataLayout::new(data.path()),
            config,
            backends,
            credential_env: Some(credential_env),
            extra_proxy_ips: Vec::new(),
        })
        .await
        .unwrap_or_else(|e| panic!("daemon: {e}"));
        let repo = TestRepo::new().unwrap_or_else(|e| panic!("repo: {e}"));
        LiveDaemon { data, user_home, _ca_dir: ca_dir, up, daemon: Some(daemon), backend, repo }
    }

    pub fn socket(&self) -> PathBuf {
        self.daemon.as_ref().map(|d| d.socket.clone()).unwrap_or_else(|| panic!("the daemon is stopped"))
    }

    /// The session's HOME on the host.
    pub fn home(&self, name: &str) -> PathBuf {
        DataLayout::new(self.data.path()).session_home(name)
    }

    pub async fn request(&self, method: &str, path: &str, body: Option<Value>) -> (u16, String) {
        let mut req = Request::new(method, path);
        if let Some(body) = body {
            req = req.json(body.to_string());
        }
        let reply = unix(&self.socket(), req).await;
        (reply.status, reply.body)
    }

    /// A session running `agent` (no `--command`) on the zellij backend with `prompt`.
    pub async fn create_agent_session(&self, name: &str, agent: AgentKind, prompt: &str) -> Value {
        self.create_agent_session_with_model(name, agent, prompt, None).await
    }

    /// The same, with `--model`.
    pub async fn create_agent_session_with_model(
        &self,
        name: &str,
        agent: AgentKind,
        prompt: &str,
        model: Option<&str>,
    ) -> Value {
        let body = json!({
            "repo_path": self.repo.path(),
            "prompt": prompt,
            "name": name,
            "backend": "zellij",
            "agent": agent.to_string(),
            "options": {"model": model},
        });
        let (status, body) = self.request("POST", "/api/sessions", Some(body)).await;
        assert_eq!(status, 201, "{body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }

    /// The pane's screen (`clauderon logs`), for failure messages.
    pub async fn logs(&self, name: &str) -> String {
        let (status, body) = self.request("GET", &format!("/api/sessions/{name}/logs?tail=60"), None).await;
        let text = serde_json::from_str::<Value>(&body).ok().and_then(|v| {
            v.get("text").or_else(|| v.get("logs")).and_then(Value::as_str).map(str::to_string)
        });
        format!("(logs {status})\n{}", text.unwrap_or(body))
    }

    /// What the fake API saw, one line per request, the key shown only as REAL or other.
    pub fn upstream_report(&self) -> String {
        let keys = [ANTHROPIC_KEY, OPENAI_KEY, GEMINI_KEY];
        self.up
            .requests()
            .iter()
            .map(|r| {
                let auth = ["x-api-key", "authorization", "x-goog-api-key"]
                    .iter()
                    .find_map(|h| r.header(h))
                    .map_or("none", |v| if keys.iter().any(|k| v.contains(k)) { "REAL" } else { "other" });
                format!("  {} {}{} (key: {auth})", r.method, r.host_name(), r.path)
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub async fn messages(&self, name: &str) -> Value {
        let (status, body) = self.request("GET", &format!("/api/sessions/{name}/messages"), None).await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }

    /// Wait until the session's messages hold a user message with `prompt` and an assistant
    /// message with [`REPLY`]; fail at [`DEADLINE`] with the screen and the fake API's log.
    pub async fn wait_for_exchange(&self, name: &str, prompt: &str) -> Value {
        let started = Instant::now();
        loop {
            let page = self.messages(name).await;
            if has_message(&page, "user", prompt) && has_message(&page, "assistant", REPLY) {
                return page;
            }
            if started.elapsed() > DEADLINE {
                panic!(
                    "{name}: no exchange in the messages after {:?}\n--- messages\n{page:#}\n--- screen\n{}\n--- upstream\n{}",
                    started.elapsed(),
                    self.logs(name).await,
                    self.upstream_report()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The session's zellij handle.
    pub async fn handle(&self, name: &str) -> clauderon_backend::BackendHandle {
        let (status, body) = self.request("GET", &format!("/api/sessions/{name}"), None).await;
        assert_eq!(status, 200, "{body}");
        let session: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        let handle =
            session["session"]["backend_handle"].as_str().unwrap_or_else(|| panic!("no handle: {session}"));
        clauderon_backend::BackendHandle(handle.to_string())
    }

    /// Model calls the fake API has answered for `agent` so far.
    pub fn model_calls(&self, agent: AgentKind) -> usize {
        let a = api(agent);
        self.up
            .requests()
            .iter()
            .filter(|r| r.host_name() == a.host && r.path.starts_with(a.model_call))
            .count()
    }

    /// Stop the session's process and start it again through the API (`clauderon stop`, then
    /// `clauderon start`), as after a reboot or a crash.
    pub async fn restart(&self, name: &str) {
        // What `clauderon stop` and `clauderon start` do.
        for (step, want) in [("stop", "stopped"), ("start", "running")] {
            let (status, body) = self.request("POST", &format!("/api/sessions/{name}/{step}"), None).await;
            assert_eq!(status, 200, "{step}: {body}");
            let session: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
            assert_eq!(session["status"], want, "after {step}: {body}");
        }
    }

    /// Wait until the pane's screen shows `text`; fail at [`DEADLINE`] with the screen.
    pub async fn wait_for_screen(&self, name: &str, text: &str) -> String {
        let handle = self.handle(name).await;
        let started = Instant::now();
        loop {
            let screen = self.backend.logs(&handle, 200).await.unwrap_or_default();
            if screen.contains(text) {
                return screen;
            }
            if started.elapsed() > DEADLINE {
                panic!("{name}: the screen never showed {text:?} in {DEADLINE:?}\n--- screen\n{screen}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The statuses the agent's hooks reported through the proxy (issue 6 §3), in order, as the
    /// audit recorded the proxy answering them.
    pub async fn status_reports(&self, name: &str) -> Vec<String> {
        let (status, body) =
            self.request("GET", &format!("/api/sessions/{name}/requests?limit=1000"), None).await;
        assert_eq!(status, 200, "{body}");
        let audit: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        let mut reports: Vec<(i64, String)> = audit["requests"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["host"] == "clauderon.internal" && r["decision"] == "answered")
            .filter_map(|r| {
                let status = r["reason"].as_str()?.strip_prefix("agent status: ")?;
                Some((r["id"].as_i64()?, status.to_string()))
            })
            .collect();
        reports.sort();
        reports.into_iter().map(|(_, s)| s).collect()
    }

    /// Wait until the hooks' reports, with repeats folded, end with `want` (`["working",
    /// "idle"]`) and the session shows the last of them; fail at [`DEADLINE`] with the screen.
    pub async fn wait_for_status_reports(&self, name: &str, want: &[&str]) -> Vec<String> {
        let started = Instant::now();
        loop {
            let mut folded = self.status_reports(name).await;
            folded.dedup();
            let (status, body) = self.request("GET", &format!("/api/sessions/{name}"), None).await;
            assert_eq!(status, 200, "{body}");
            let session: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
            let shown = session["session"]["status"].as_str().unwrap_or_default().to_string();
            let last = want.last().map(|s| if *s == "working" { "running" } else { *s });
            if folded.ends_with(&want.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                && Some(shown.as_str()) == last
            {
                return folded;
            }
            if started.elapsed() > DEADLINE {
                panic!(
                    "{name}: the hooks reported {folded:?} (session {shown}), not ending with {want:?}\n--- screen\n{}",
                    self.logs(name).await
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// `clauderon send`: type `text` into the session's agent (issue 6 §4).
    pub async fn send(&self, name: &str, text: &str) {
        let (status, body) =
            self.request("POST", &format!("/api/sessions/{name}/input"), Some(json!({ "text": text }))).await;
        assert_eq!(status, 204, "{body}");
    }

    /// Wait until the messages hold a user message with `prompt` followed by an assistant
    /// message with [`REPLY`]; fail at [`DEADLINE`] with the screen and the fake API's log.
    pub async fn wait_for_reply_to(&self, name: &str, prompt: &str) -> Value {
        let started = Instant::now();
        loop {
            let page = self.messages(name).await;
            let all = page["messages"].as_array().cloned().unwrap_or_default();
            let asked = all
                .iter()
                .position(|m| m["role"] == "user" && m["text"].as_str().is_some_and(|t| t.contains(prompt)));
            let answered = asked.is_some_and(|at| {
                all[at..].iter().any(|m| {
                    m["role"] == "assistant" && m["text"].as_str().is_some_and(|t| t.contains(REPLY))
                })
            });
            if answered {
                return page;
            }
            if started.elapsed() > DEADLINE {
                panic!(
                    "{name}: no reply to {prompt:?} after {:?}\n--- messages\n{page:#}\n--- screen\n{}\n--- upstream\n{}",
                    started.elapsed(),
                    self.logs(name).await,
                    self.upstream_report()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub async fn delete(&self, name: &str) {
        let (status, body) = self.request("DELETE", &format!("/api/sessions/{name}?force=true"), None).await;
        assert!(status < 300, "{body}");
    }
}
