//! A local HTTPS upstream for the proxy's tests and benchmarks: its own throwaway CA, a leaf
//! for the real API host names (so a proxy can point `api.anthropic.com` at it and still
//! verify the name), HTTP/1.1 and HTTP/2, a record of every request it receives, test routes
//! (echo, byte streams, gated SSE, redirects, WebSocket echo) and a fake model API in the
//! shapes the real agent CLIs use (Anthropic, OpenAI, Gemini).
//!
//! Everything listens on 127.0.0.1 port 0; nothing here reaches the network.
//!
//! Routes, on any host:
//! - `/echo` (any method): 200 JSON `{method, path, host, version, headers, body}` (repeated
//!   headers joined with ", "), and `authorization`, `x-api-key`, `x-goog-api-key` reflected
//!   in `x-echo-authorization`, `x-echo-x-api-key`, `x-echo-x-goog-api-key`; `?encoding=`
//!   one content coding or a stacked list, `identity` or `x-custom` included.
//! - `GET /echo-forms?header=NAME`: that header's value in every encoded form (see [`reflect`]).
//! - `GET /small`: 1 KiB; `GET /bytes/{n}`: n bytes of [`pattern_byte`] in 64 KiB chunks.
//! - `/flaky/{key}/{n}` (any method): 503 for the first n requests with that key, then 200;
//!   `/hang`: never answers (webhook retries and timeouts).
//! - `GET /sse?events=N&gate=NAME`: event 1 at once, the rest after [`TlsUpstream::open_gate`].
//! - `GET /redirect?to=URL` (302), `/status/{code}`, `GET /ws` (WebSocket echo over HTTP/1.1;
//!   `?reflect=1` sends the credential headers first, `?extensions=X` forces an extension).
//! - The model API: `POST /v1/messages[/count_tokens]`, `POST /v1/responses`,
//!   `POST /v1/chat/completions`, `POST /v1beta/models/{m}:generateContent` and
//!   `:streamGenerateContent[?alt=sse]`; `GET /v1/responses` (Codex's WebSocket try) is refused.
//! - `POST /v1/oauth/token`: a fake OAuth token endpoint that answers refresh grants (see [`oauth_api`]).
//! - With a `git_root`, any path under one of its repositories (`/{owner}/{repo}.git/...`):
//!   Git's smart HTTP protocol, served by the real `git http-backend` (clone, fetch, push).

mod body;
mod client;
pub mod git_backend;
pub mod github_api;
mod model_api;
pub mod oauth_api;
mod raw;
pub mod reflect;
mod routes;
mod tls;

pub use body::pattern_byte;
pub use client::{DirectResponse, get_via, send_via, tls_connect};
pub use raw::Framing;
pub use tls::{Alpn, TestCa};

use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// The names on the upstream's certificate unless the options say otherwise.
pub const DEFAULT_HOSTS: &[&str] = &[
    "api.anthropic.com",
    "api.openai.com",
    "generativelanguage.googleapis.com",
    "api.github.com",
    "github.com",
    "platform.claude.com",
    "console.anthropic.com",
    "upstream.test",
    "other.test",
    // A stand-in push service (Web Push): the real ones are out of reach.
    "push.test",
    "localhost",
    "127.0.0.1",
];

/// How long a TLS handshake with the upstream may take before it drops the connection.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct UpstreamOptions {
    /// DNS names and IP addresses on the leaf certificate.
    pub hosts: Vec<String>,
    /// What the server offers in ALPN (`Both` lets the client pick h2), and all it speaks:
    /// `Http1` serves HTTP/1.1 only, `Http2` HTTP/2 only (a client offering only the other
    /// protocol is refused in the handshake).
    pub alpn: Alpn,
    /// How responses are framed; [`Framing::CloseDelimited`] serves HTTP/1.1 only, over TLS.
    pub framing: Framing,
    /// `false` serves plain HTTP (HTTP/1.1, and HTTP/2 with prior knowledge) instead of TLS.
    pub tls: bool,
    /// The CA that signs the leaf; a fresh one when `None`. Share one between upstreams so a
    /// proxy needs a single extra CA file.
    pub ca: Option<Arc<TestCa>>,
    /// Request bodies are recorded (and handed to the routes) up to this many bytes; the rest
    /// is read and counted but dropped, so large uploads do not fill memory.
    pub body_cap: usize,
    /// Keep a record of each request. A benchmark turns this off so a long run does not
    /// grow memory; requests are still counted for [`TlsUpstream::wait_for_requests`].
    pub record: bool,
    /// Serve the bare repositories under this folder (`{root}/{owner}/{repo}.git`) over Git's
    /// smart HTTP protocol; see [`git_backend`].
    pub git_root: Option<PathBuf>,
}

impl Default for UpstreamOptions {
    fn default() -> Self {
        UpstreamOptions {
            hosts: DEFAULT_HOSTS.iter().map(|h| (*h).to_owned()).collect(),
            alpn: Alpn::Both,
            framing: Framing::Standard,
            tls: true,
            ca: None,
            body_cap: 1 << 20,
            record: true,
            git_root: None,
        }
    }
}

/// One request as the upstream received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    /// The `Host` header, or the HTTP/2 `:authority`, as sent (it may carry a port).
    pub host: String,
    /// Path and query.
    pub path: String,
    /// Every header in arrival order, names lower-case, values lossily decoded.
    pub headers: Vec<(String, String)>,
    /// The body, up to the options' `body_cap`.
    pub body: Bytes,
    /// How many body bytes arrived in total.
    pub body_len: u64,
    pub version: hyper::Version,
    /// The TLS server name the client sent (`None` over plain HTTP or without SNI).
    pub sni: Option<String>,
    /// The ALPN protocol negotiated on the connection.
    pub alpn: Option<String>,
    /// The client's address: requests with the same one came on the same connection.
    pub peer: Option<std::net::SocketAddr>,
    /// When its head arrived (wall clock, for latency measurements across processes).
    pub received_at: std::time::SystemTime,
}

impl RecordedRequest {
    /// The first value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every value of a header, in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }

    /// The host without a port, lower-case.
    pub fn host_name(&self) -> String {
        host_without_port(&self.host)
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn body_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("recorded body is not JSON ({e}): {}", self.body_text()))
    }
}

/// What the fake model API answers, on every API shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelReply {
    pub text: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Ask the user first (Anthropic and Gemini): a request that offers the agent's question
    /// tool (Claude Code's `AskUserQuestion`, Gemini CLI's `ask_user`) and carries no tool
    /// result yet is answered with a call of that tool asking this question, with the options
    /// [`QUESTION_OPTIONS`]; the request that carries the user's answer gets `text`. The agents
    /// show such a question and wait, with permission prompts off too.
    pub question: Option<String>,
}

/// The options [`ModelReply::question`] offers.
pub const QUESTION_OPTIONS: [&str; 2] = ["Vermilion", "Cerulean"];

impl Default for ModelReply {
    fn default() -> Self {
        ModelReply {
            text: "Hello from the fake model API.".into(),
            input_tokens: 12,
            output_tokens: 7,
            question: None,
        }
    }
}

#[derive(Debug, Clone)]
struct Requirement {
    host: Option<String>,
    name: String,
    value: String,
}

/// State the routes share with the test's handle.
pub(crate) struct Shared {
    requests: Mutex<Vec<RecordedRequest>>,
    seen: watch::Sender<usize>,
    gates: Mutex<HashMap<String, watch::Sender<bool>>>,
    reply: Mutex<ModelReply>,
    requirements: Mutex<Vec<Requirement>>,
    github: Mutex<github_api::FakeGitHub>,
    /// `/flaky/{key}/{n}`: how many requests each key has had.
    flaky: Mutex<HashMap<String, u32>>,
    recording: AtomicBool,
    pub(crate) body_cap: usize,
    pub(crate) git_root: Option<PathBuf>,
    pub(crate) shutdown: watch::Receiver<bool>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn host_without_port(host: &str) -> String {
    let h = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        host.rsplit_once(':')
            .map_or(host, |(h, p)| if p.chars().all(|c| c.is_ascii_digit()) { h } else { host })
    };
    h.to_ascii_lowercase()
}

impl Shared {
    pub(crate) fn recording(&self) -> bool {
        self.recording.load(Ordering::Relaxed)
    }

    /// Counts a request, keeping its record when recording is on.
    pub(crate) fn record(&self, req: Option<RecordedRequest>) {
        if let Some(req) = req {
            lock(&self.requests).push(req);
        }
        self.seen.send_modify(|n| *n += 1);
    }

    pub(crate) fn gate(&self, name: &str) -> watch::Receiver<bool> {
        lock(&self.gates).entry(name.to_owned()).or_insert_with(|| watch::channel(false).0).subscribe()
    }

    /// The number of earlier requests for `/flaky/{key}/..`, counting this one for the next.
    pub(crate) fn flaky_take(&self, key: &str) -> u32 {
        let mut map = lock(&self.flaky);
        let n = map.entry(key.to_owned()).or_insert(0);
        *n += 1;
        *n - 1
    }

    pub(crate) fn github(&self) -> MutexGuard<'_, github_api::FakeGitHub> {
        lock(&self.github)
    }

    pub(crate) fn reply(&self) -> ModelReply {
        lock(&self.reply).clone()
    }

    /// `Err(header name)` when a required header is missing or has another value.
    pub(crate) fn check(&self, host: &str, headers: &hyper::HeaderMap) -> Result<(), String> {
        let host = host_without_port(host);
        for r in lock(&self.requirements).iter() {
            if r.host.as_ref().is_some_and(|h| *h != host) {
                continue;
            }
            let ok = headers.get_all(r.name.as_str()).iter().any(|v| v.as_bytes() == r.value.as_bytes());
            if !ok {
                return Err(r.name.clone());
            }
        }
        Ok(())
    }
}

/// A running upstream; dropping it stops the server and every connection.
pub struct TlsUpstream {
    addr: SocketAddr,
    ca: Arc<TestCa>,
    hosts: Vec<String>,
    tls: bool,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for TlsUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsUpstream")
            .field("addr", &self.addr)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl TlsUpstream {
    pub async fn start(opts: UpstreamOptions) -> TlsUpstream {
        let ca = opts.ca.clone().unwrap_or_else(|| Arc::new(TestCa::new()));
        let alpn = if opts.framing == Framing::Standard { opts.alpn } else { Alpn::Http1 };
        let acceptor = opts.tls.then(|| tokio_rustls::TlsAcceptor::from(ca.server_config(&opts.hosts, alpn)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("binding the test upstream on 127.0.0.1:0: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("test upstream address: {e}"));
        let (stop, stop_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            requests: Mutex::new(Vec::new()),
            seen: watch::channel(0).0,
            gates: Mutex::new(HashMap::new()),
            reply: Mutex::new(ModelReply::default()),
            requirements: Mutex::new(Vec::new()),
            github: Mutex::new(github_api::FakeGitHub::default()),
            flaky: Mutex::new(HashMap::new()),
            recording: AtomicBool::new(opts.record),
            body_cap: opts.body_cap,
            git_root: opts.git_root.clone(),
            shutdown: stop_rx.clone(),
        });
        let serving = Serving { acceptor, alpn: opts.tls.then_some(alpn), framing: opts.framing };
        let task = tokio::spawn(accept_loop(listener, serving, shared.clone(), stop_rx));
        TlsUpstream { addr, ca, hosts: opts.hosts, tls: opts.tls, shared, stop, task: Some(task) }
    }

    /// The default upstream: TLS, every default host, h2 and http/1.1.
    pub async fn start_default() -> TlsUpstream {
        Self::start(UpstreamOptions::default()).await
    }

    /// An upstream that speaks HTTP/1.1 only (a corporate gateway, a small server).
    pub async fn start_http1_only() -> TlsUpstream {
        Self::start(UpstreamOptions { alpn: Alpn::Http1, ..UpstreamOptions::default() }).await
    }

    /// An HTTP/1.1-only upstream whose bodies end when it closes the connection, with or
    /// without TLS close_notify ([`Framing::CloseDelimited`]).
    pub async fn start_close_delimited(close_notify: bool) -> TlsUpstream {
        let framing = Framing::CloseDelimited { close_notify };
        Self::start(UpstreamOptions { framing, ..UpstreamOptions::default() }).await
    }

    /// The same routes over plain HTTP.
    pub async fn start_plain() -> TlsUpstream {
        Self::start(UpstreamOptions { tls: false, ..UpstreamOptions::default() }).await
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn ca(&self) -> &TestCa {
        &self.ca
    }

    pub fn shared_ca(&self) -> Arc<TestCa> {
        self.ca.clone()
    }

    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The names and addresses on the certificate.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// Every DNS name on the certificate mapped to this server: a proxy's per-host upstream
    /// address overrides.
    pub fn overrides(&self) -> HashMap<String, SocketAddr> {
        self.hosts
            .iter()
            .filter(|h| h.parse::<std::net::IpAddr>().is_err())
            .map(|h| (h.clone(), self.addr))
            .collect()
    }

    /// Every request so far, in arrival order (recorded once its body has been read).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// Turns the request record on or off (counting continues either way).
    pub fn set_recording(&self, on: bool) {
        self.shared.recording.store(on, Ordering::Relaxed);
    }

    pub fn clear(&self) {
        lock(&self.shared.requests).clear();
        self.shared.seen.send_replace(0);
    }

    /// How many requests arrived since the start or the last [`clear`](Self::clear).
    pub fn request_count(&self) -> usize {
        *self.shared.seen.borrow()
    }

    /// Waits until at least `n` requests arrived (recorded, unless recording is off); panics with what did arrive on timeout.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<RecordedRequest> {
        let mut rx = self.shared.seen.subscribe();
        if tokio::time::timeout(timeout, rx.wait_for(|seen| *seen >= n)).await.is_err() {
            let got: Vec<String> =
                self.requests().iter().map(|r| format!("{} {}{}", r.method, r.host, r.path)).collect();
            let seen = self.request_count();
            panic!("the upstream saw {seen} requests within {timeout:?}, wanted {n}; recorded: {got:?}");
        }
        self.requests()
    }

    /// Lets every `/sse?gate=NAME` stream, current and future, send the rest of its events.
    pub fn open_gate(&self, name: &str) {
        lock(&self.shared.gates)
            .entry(name.to_owned())
            .or_insert_with(|| watch::channel(false).0)
            .send_replace(true);
    }

    pub fn set_model_reply(&self, reply: ModelReply) {
        *lock(&self.shared.reply) = reply;
    }

    pub fn model_reply(&self) -> ModelReply {
        self.shared.reply()
    }

    /// Model, echo, WebSocket and git routes answer 401 unless the request carries `name: value`
    /// (git's with a Basic challenge, as GitHub does).
    /// `host` is a host name (port ignored) or `"*"` for any host. Requirements add up: a
    /// request must satisfy every one that applies to its host.
    pub fn require_header(&self, host: &str, name: &str, value: &str) {
        let host = (host != "*").then(|| host_without_port(host));
        let req = Requirement { host, name: name.to_ascii_lowercase(), value: value.to_owned() };
        lock(&self.shared.requirements).push(req);
    }

    /// The stand-in for GitHub's REST API on `api.github.com` ([`github_api`]): add
    /// repositories, then merge, review and set checks on the pull requests it holds.
    pub fn github(&self) -> MutexGuard<'_, github_api::FakeGitHub> {
        self.shared.github()
    }

    pub fn clear_requirements(&self) {
        lock(&self.shared.requirements).clear();
    }

    /// Stops accepting, closes every connection and waits for the server task.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TlsUpstream {
    fn drop(&mut self) {
        self.stop.send_replace(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Per-connection facts the recorder adds to each request.
#[derive(Debug, Default)]
pub(crate) struct ConnInfo {
    pub(crate) sni: Option<String>,
    pub(crate) alpn: Option<String>,
    pub(crate) peer: Option<std::net::SocketAddr>,
}

/// How the accept loop serves each connection.
#[derive(Clone)]
struct Serving {
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    /// The protocols offered in ALPN, and spoken (`None`: plain HTTP, either version).
    alpn: Option<Alpn>,
    framing: Framing,
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    serving: Serving,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    // Connections live in this set: leaving the loop drops it, which aborts them all.
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.wait_for(|s| *s) => break,
        };
        let Ok((tcp, peer)) = accepted else {
            // Out of file descriptors or similar: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let shared = shared.clone();
        let serving = serving.clone();
        conns.spawn(async move {
            match serving.acceptor {
                None => {
                    let info = ConnInfo { peer: Some(peer), ..ConnInfo::default() };
                    serve(TokioIo::new(tcp), shared, info, None).await
                }
                Some(acceptor) => {
                    let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
                    else {
                        return;
                    };
                    let (_, conn) = tls.get_ref();
                    let info = ConnInfo {
                        sni: conn.server_name().map(str::to_owned),
                        alpn: conn.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned()),
                        peer: Some(peer),
                    };
                    match serving.framing {
                        Framing::Standard => serve(TokioIo::new(tls), shared, info, serving.alpn).await,
                        Framing::CloseDelimited { close_notify } => {
                            raw::serve(tls, shared, info, close_notify).await
                        }
                    }
                }
            }
        });
    }
}

async fn serve<I>(io: I, shared: Arc<Shared>, info: ConnInfo, alpn: Option<Alpn>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let info = Arc::new(info);
    let service = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        let info = info.clone();
        async move { Ok::<_, Infallible>(routes::handle(shared, info, req).await) }
    });
    // A server that offers one protocol speaks only that one.
    match alpn {
        Some(Alpn::Http1) => {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .with_upgrades()
                .await;
        }
        Some(Alpn::Http2) => {
            let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(io, service)
                .await;
        }
        _ => {
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(io, service)
                .await;
        }
    }
}
