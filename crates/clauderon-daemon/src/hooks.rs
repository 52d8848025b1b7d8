//! `[[hooks]]` at work: session events from the bus, delivered to each matching hook's command
//! or webhook, every delivery in the log (`hook_deliveries`).
//!
//! One dispatcher reads the bus and hands each event to the hooks it matches, each through its
//! own bounded queue and worker: a slow or dead hook never delays a session, the bus or another
//! hook; a full queue drops the event for that hook with a warning and a `dropped` row.
//!
//! A command runs as `sh -c COMMAND` in its own process group (killed whole at the timeout),
//! with the event as JSON on stdin and an environment built from an allowlist of the daemon's
//! variables (PATH, HOME, the locale, the desktop session's bus and display), never a
//! credential. A webhook is a POST over HTTPS (web roots and `[proxy] extra_ca_files`; `[proxy]
//! upstream_overrides` honoured), signed with HMAC-SHA256 when the hook names a `secret` (a
//! credential, resolved like every other), retried on 5xx and timeouts (3 attempts).

use bytes::Bytes;
use clauderon_core::config::hooks::{Hook, HookAction, HookFormat};
use clauderon_proxy::OverrideResolver;
use clauderon_proxy::credentials::CredentialStore;
use clauderon_store::Store;
use clauderon_types::hooks::{DeliveryOutcome, HookDelivery};
use clauderon_types::{EventKind, SessionEvent, SessionId, SessionName, SessionStatus};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;

/// Events waiting for one hook before new ones are dropped for it.
const QUEUE: usize = 256;
/// What of a command's output the log keeps.
const MAX_OUTPUT: usize = 4096;
/// Webhook attempts (the first and two retries), and the pause before the first retry (doubled
/// each time).
const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// The daemon's variables a hook command gets (everything else, credentials included, is left
/// out).
const PASSED_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LC_ALL",
    "TZ",
    "TMPDIR",
    "TERM",
    "XDG_RUNTIME_DIR",
    "DBUS_SESSION_BUS_ADDRESS",
    "DISPLAY",
    "WAYLAND_DISPLAY",
];

pub(crate) type HttpsClient =
    Client<hyper_rustls::HttpsConnector<HttpConnector<OverrideResolver>>, Full<Bytes>>;

/// What a delivery needs besides the hook and the event.
struct Deliverer {
    store: Arc<Store>,
    credentials: Option<Arc<CredentialStore>>,
    http: HttpsClient,
}

/// The running hooks: each one's queue, for the dispatcher and for `hooks test`.
#[derive(Clone)]
pub struct HookRunner {
    hooks: Arc<Vec<Hook>>,
    deliverer: Arc<Deliverer>,
}

/// The webhook client: web roots plus `extra_ca_files`, names through the overrides first.
pub(crate) fn https_client(
    extra_ca_files: &[PathBuf],
    overrides: HashMap<String, SocketAddr>,
) -> Result<HttpsClient, String> {
    let roots = clauderon_proxy::root_store(extra_ca_files).map_err(|e| e.to_string())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = HttpConnector::new_with_resolver(OverrideResolver::new(overrides));
    http.enforce_http(false);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

impl HookRunner {
    /// Start the dispatcher and one worker per hook; they end with `shutdown`.
    pub fn start(
        hooks: Vec<Hook>,
        events: broadcast::Receiver<SessionEvent>,
        store: Arc<Store>,
        credentials: Option<Arc<CredentialStore>>,
        extra_ca_files: &[PathBuf],
        overrides: HashMap<String, SocketAddr>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(HookRunner, Vec<JoinHandle<()>>), String> {
        let http = https_client(extra_ca_files, overrides)?;
        let deliverer = Arc::new(Deliverer { store, credentials, http });
        let runner = HookRunner { hooks: Arc::new(hooks), deliverer };
        let mut tasks = Vec::new();
        let mut queues = Vec::new();
        for hook in runner.hooks.iter() {
            let (tx, mut rx) = mpsc::channel::<SessionEvent>(QUEUE);
            queues.push((hook.clone(), tx));
            let (hook, deliverer, mut stop) = (hook.clone(), runner.deliverer.clone(), shutdown.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let event = tokio::select! {
                        e = rx.recv() => match e { Some(e) => e, None => return },
                        _ = stop.changed() => break,
                    };
                    let row = tokio::select! {
                        row = deliverer.attempt(&hook, &event, false) => row,
                        _ = stop.changed() => {
                            deliverer.dropped(&hook, &event, "the daemon stopped during its delivery").await;
                            break;
                        }
                    };
                    deliverer.record(row).await;
                }
                // Stopping: what is still queued is in the log as dropped, never silently gone.
                rx.close();
                while let Ok(event) = rx.try_recv() {
                    deliverer.dropped(&hook, &event, "the daemon stopped before its delivery").await;
                }
            }));
        }
        if !queues.is_empty() {
            tasks.push(tokio::spawn(dispatch(events, queues, runner.deliverer.clone(), shutdown)));
        }
        Ok((runner, tasks))
    }

    pub fn names(&self) -> Vec<String> {
        self.hooks.iter().map(|h| h.name.clone()).collect()
    }

    /// Fire a sample event (a session named `hook-test` starting to wait for input) at the hook
    /// `name`, now, and return its delivery.
    pub async fn test(&self, name: &str) -> Option<HookDelivery> {
        let hook = self.hooks.iter().find(|h| h.name == name)?;
        let event = SessionEvent {
            seq: 0,
            session_id: SessionId::new(),
            session_name: SessionName::parse("hook-test").ok()?,
            at: chrono::Utc::now(),
            kind: EventKind::StatusChanged {
                from: SessionStatus::Running,
                to: SessionStatus::WaitingForInput,
            },
        };
        Some(self.deliverer.deliver(hook, &event, true).await)
    }
}

/// The event's `type` and, for a status change, the status it changed to.
fn kind_of(event: &SessionEvent) -> (&'static str, Option<&'static str>) {
    let to = match &event.kind {
        EventKind::StatusChanged { to, .. } => Some(to.as_str()),
        _ => None,
    };
    (event.kind.tag(), to)
}

/// The bus's next event for a reader of it (`who`, for the log), or `None` once the daemon
/// stops or the bus closes. Falling behind is logged and skipped, never fatal.
pub(crate) async fn next_event(
    events: &mut broadcast::Receiver<SessionEvent>,
    shutdown: &mut watch::Receiver<bool>,
    who: &str,
) -> Option<SessionEvent> {
    loop {
        let received = tokio::select! {
            e = events.recv() => e,
            _ = shutdown.changed() => return None,
        };
        match received {
            Ok(e) => return Some(e),
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "{who} fell behind the event bus: {n} events were skipped");
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        }
    }
}

async fn dispatch(
    mut events: broadcast::Receiver<SessionEvent>,
    queues: Vec<(Hook, mpsc::Sender<SessionEvent>)>,
    deliverer: Arc<Deliverer>,
    mut shutdown: watch::Receiver<bool>,
) {
    while let Some(event) = next_event(&mut events, &mut shutdown, "hooks").await {
        let (kind, to) = kind_of(&event);
        for (hook, queue) in &queues {
            if !hook.matches(kind, to, event.session_name.as_str()) {
                continue;
            }
            if queue.try_send(event.clone()).is_err() {
                tracing::warn!(hook = %hook.name, event = %kind, "hook queue full: event dropped for this hook");
                deliverer.dropped(hook, &event, &format!("the hook's queue ({QUEUE} events) was full")).await;
            }
        }
    }
}

/// `scheme://host[:port]` of a URL: its path and query may hold a token, and are never logged.
pub(crate) fn url_origin(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", rest.split(['/', '?', '#']).next().unwrap_or("")),
        None => "webhook".into(),
    }
}

/// The first `MAX_OUTPUT` bytes of a stream, reading (and dropping) the rest.
async fn capped(mut r: impl tokio::io::AsyncRead + Unpin) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = r.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = MAX_OUTPUT.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
    }
    kept
}

impl Deliverer {
    /// A row saying `event` was not delivered to `hook`, and why.
    async fn dropped(&self, hook: &Hook, event: &SessionEvent, why: &str) {
        let row = self.row(hook, event, kind_of(event).0, false);
        self.record(HookDelivery { outcome: DeliveryOutcome::Dropped, detail: Some(why.to_string()), ..row })
            .await;
    }

    fn row(&self, hook: &Hook, event: &SessionEvent, kind: &str, test: bool) -> HookDelivery {
        HookDelivery {
            id: 0,
            at: chrono::Utc::now(),
            hook: hook.name.clone(),
            event: if test { "test".into() } else { kind.to_string() },
            session_name: Some(event.session_name.to_string()),
            seq: (!test).then_some(event.seq),
            target: match &hook.action {
                HookAction::Command(_) => "command".into(),
                HookAction::Webhook { url, .. } => url_origin(url),
            },
            outcome: DeliveryOutcome::Ok,
            status: None,
            attempts: 1,
            duration_ms: 0,
            detail: None,
        }
    }

    async fn record(&self, mut d: HookDelivery) -> HookDelivery {
        let store = self.store.clone();
        let row = d.clone();
        match tokio::task::spawn_blocking(move || store.record_delivery(&row)).await {
            Ok(Ok(id)) => d.id = id,
            Ok(Err(e)) => tracing::warn!(hook = %d.hook, error = %e, "recording a hook delivery failed"),
            Err(e) => tracing::warn!(hook = %d.hook, error = %e, "recording a hook delivery failed"),
        }
        d
    }

    async fn deliver(&self, hook: &Hook, event: &SessionEvent, test: bool) -> HookDelivery {
        let row = self.attempt(hook, event, test).await;
        self.record(row).await
    }

    /// Run the command or call the webhook (its retries included): the row to record. Nothing
    /// is written yet, so a daemon that stops meanwhile can drop it and record that instead.
    async fn attempt(&self, hook: &Hook, event: &SessionEvent, test: bool) -> HookDelivery {
        let (kind, to) = kind_of(event);
        let started = Instant::now();
        let mut row = self.row(hook, event, kind, test);
        let (outcome, status, attempts, detail) = match &hook.action {
            HookAction::Command(command) => self.run_command(hook, command, event, kind, to).await,
            HookAction::Webhook { url, format, secret } => {
                self.post(hook, url, *format, secret.as_deref(), event, kind, to).await
            }
        };
        row.outcome = outcome;
        row.status = status;
        row.attempts = attempts;
        row.detail = detail;
        row.duration_ms = started.elapsed().as_millis().try_into().unwrap_or(u64::MAX);
        if outcome != DeliveryOutcome::Ok {
            tracing::warn!(hook = %hook.name, event = %kind, outcome = outcome.as_str(), "hook delivery did not succeed");
        }
        row
    }

    async fn run_command(
        &self,
        hook: &Hook,
        command: &str,
        event: &SessionEvent,
        kind: &str,
        to: Option<&str>,
    ) -> (DeliveryOutcome, Option<i64>, u32, Option<String>) {
        let mut cmd = tokio::process::Command::new("sh");
        cmd.arg("-c").arg(command).env_clear();
        for var in PASSED_ENV {
            if let Some(v) = std::env::var_os(var) {
                cmd.env(var, v);
            }
        }
        cmd.env("CLAUDERON_EVENT", kind)
            .env("CLAUDERON_SESSION", event.session_name.as_str())
            .env("CLAUDERON_STATUS", to.unwrap_or(""))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => return (DeliveryOutcome::Failed, None, 1, Some(format!("could not run sh: {e}"))),
        };
        let group = child.id().and_then(|id| i32::try_from(id).ok()).and_then(rustix::process::Pid::from_raw);
        let input = serde_json::to_vec(event).unwrap_or_default();
        let (stdin, stdout, stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let run = async {
            if let Some(mut stdin) = stdin {
                // A command that does not read its input is not an error.
                let _ = stdin.write_all(&input).await;
            }
            let out = async {
                match stdout {
                    Some(s) => capped(s).await,
                    None => Vec::new(),
                }
            };
            let err = async {
                match stderr {
                    Some(s) => capped(s).await,
                    None => Vec::new(),
                }
            };
            let (out, err, status) = tokio::join!(out, err, child.wait());
            (out, err, status)
        };
        match tokio::time::timeout(hook.timeout, run).await {
            Ok((out, err, status)) => {
                let mut text = String::from_utf8_lossy(&out).into_owned();
                text.push_str(&String::from_utf8_lossy(&err));
                let detail = (!text.trim().is_empty()).then(|| text.trim_end().to_string());
                match status {
                    Ok(s) if s.success() => (DeliveryOutcome::Ok, Some(0), 1, detail),
                    Ok(s) => (DeliveryOutcome::Failed, s.code().map(i64::from), 1, detail),
                    Err(e) => {
                        (DeliveryOutcome::Failed, None, 1, Some(format!("waiting for the command: {e}")))
                    }
                }
            }
            Err(_) => {
                if let Some(group) = group {
                    let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
                }
                let detail = format!("stopped after {} s (timeout_secs)", hook.timeout.as_secs());
                (DeliveryOutcome::Timeout, None, 1, Some(detail))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn post(
        &self,
        hook: &Hook,
        url: &str,
        format: HookFormat,
        secret: Option<&str>,
        event: &SessionEvent,
        kind: &str,
        to: Option<&str>,
    ) -> (DeliveryOutcome, Option<i64>, u32, Option<String>) {
        let name = event.session_name.as_str();
        let what = match to {
            Some(status) => format!("{name} is {status}"),
            None => format!("{name}: {kind}"),
        };
        let (body, content_type) = match format {
            HookFormat::Json => (serde_json::to_vec(event).unwrap_or_default(), "application/json"),
            HookFormat::Slack => {
                (json!({ "text": format!("clauderon: {what}") }).to_string().into_bytes(), "application/json")
            }
            HookFormat::Ntfy => (what.clone().into_bytes(), "text/plain; charset=utf-8"),
        };
        let signature = match secret {
            None => None,
            Some(secret_name) => {
                let value = match &self.credentials {
                    Some(c) => c.resolve(secret_name).await.ok().flatten(),
                    None => None,
                };
                let Some(value) = value else {
                    let detail = format!(
                        "the signing secret `{secret_name}` is not set: configure it like any credential \
                         ([credentials] {secret_name} = \"env:VAR\", or <data dir>/secrets/{secret_name})"
                    );
                    return (DeliveryOutcome::Failed, None, 0, Some(detail));
                };
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, value.expose().as_bytes());
                let tag = ring::hmac::sign(&key, &body);
                let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
                Some(format!("sha256={hex}"))
            }
        };
        let mut last = (DeliveryOutcome::Failed, None, Some("not sent".to_string()));
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=ATTEMPTS {
            let mut req = http::Request::post(url)
                .header("content-type", content_type)
                .header("user-agent", concat!("clauderon/", env!("CARGO_PKG_VERSION")))
                .header("x-clauderon-event", kind);
            if format == HookFormat::Ntfy {
                req = req.header("title", "clauderon");
            }
            if let Some(sig) = &signature {
                req = req.header("x-clauderon-signature", sig.as_str());
            }
            let req = match req.body(Full::new(Bytes::from(body.clone()))) {
                Ok(r) => r,
                Err(e) => return (DeliveryOutcome::Failed, None, attempt, Some(format!("the request: {e}"))),
            };
            let exchange = async {
                let resp = self.http.request(req).await.map_err(|e| format!("{e}"))?;
                let status = resp.status();
                // The answer is read (bounded) so the connection can be reused, and dropped.
                let _ = Limited::new(resp.into_body(), 64 << 10).collect().await;
                Ok::<_, String>(status)
            };
            let retry = match tokio::time::timeout(hook.timeout, exchange).await {
                Ok(Ok(status)) if status.is_success() => {
                    return (DeliveryOutcome::Ok, Some(i64::from(status.as_u16())), attempt, None);
                }
                Ok(Ok(status)) => {
                    last = (
                        DeliveryOutcome::Failed,
                        Some(i64::from(status.as_u16())),
                        Some(format!("answered {status}")),
                    );
                    status.is_server_error()
                }
                Ok(Err(e)) => {
                    last = (
                        DeliveryOutcome::Failed,
                        None,
                        Some(format!("could not deliver: {}", e.replace(url, &url_origin(url)))),
                    );
                    true
                }
                Err(_) => {
                    last = (
                        DeliveryOutcome::Timeout,
                        None,
                        Some(format!("no answer in {} s", hook.timeout.as_secs())),
                    );
                    true
                }
            };
            if !retry || attempt == ATTEMPTS {
                return (last.0, last.1, attempt, last.2);
            }
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
        (last.0, last.1, ATTEMPTS, last.2)
    }
}
