//! A client for the part of the Sprites API the backend uses: sprites (create, get, list,
//! delete), the network policy, and exec over WebSocket (the binary protocol of non-TTY
//! commands, raw bytes for TTY ones). The token goes only in the `Authorization` header of
//! requests to the API's own host, marked sensitive; no error or log line carries it.

use async_trait::async_trait;
use bytes::Bytes;
use clauderon_backend::tunnel::FromRelay;
use futures_util::{SinkExt, StreamExt};
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// The documented API's address.
pub const DEFAULT_API_URL: &str = "https://api.sprites.dev";

/// Exec's stream bytes (non-TTY): the first byte of every binary message.
pub mod stream {
    pub const STDIN: u8 = 0;
    pub const STDOUT: u8 = 1;
    pub const STDERR: u8 = 2;
    pub const EXIT: u8 = 3;
    pub const STDIN_EOF: u8 = 4;
}

/// Where the backend gets its API token each time it needs one (a credential source of the
/// daemon's: `sprites_token`). Never a credential the proxy injects for sessions.
#[async_trait]
pub trait TokenSource: Send + Sync {
    /// The token, or why there is none (and what to configure).
    async fn token(&self) -> Result<String, String>;
}

/// A fixed token (tests, or a token read once).
pub struct FixedToken(pub String);

#[async_trait]
impl TokenSource for FixedToken {
    async fn token(&self) -> Result<String, String> {
        Ok(self.0.clone())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("no Sprites API token: {0}")]
    NoToken(String),
    #[error("the Sprites API refused the token (401): create a new one at sprites.dev/account")]
    Unauthorized,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("the Sprites API answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("the Sprites API at {url} could not be reached: {message}")]
    Unreachable { url: String, message: String },
}

/// What a one-shot command printed and how it ended.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).trim().to_string()
    }
}

/// An exec command to run.
#[derive(Debug, Clone)]
pub struct ExecRequest {
    pub cmd: Vec<String>,
    pub tty: bool,
    pub stdin: bool,
    pub size: Option<(u16, u16)>,
}

impl ExecRequest {
    pub fn plain(cmd: &[&str], stdin: bool) -> ExecRequest {
        ExecRequest { cmd: cmd.iter().map(|s| s.to_string()).collect(), tty: false, stdin, size: None }
    }
}

/// The connection under an exec WebSocket: TCP, or TLS over it.
pub trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// An open exec WebSocket.
pub type ExecSocket = WebSocketStream<Box<dyn Io>>;

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

pub struct Api {
    base: Uri,
    tls: bool,
    host: String,
    port: u16,
    token: Arc<dyn TokenSource>,
    http: Client<Https, Full<Bytes>>,
    ws_tls: Arc<rustls::ClientConfig>,
}

/// Longest a REST call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest answer read from the API.
const MAX_ANSWER: usize = 4 * 1024 * 1024;

impl Api {
    /// `base`: `https://api.sprites.dev`, or `http://127.0.0.1:<port>` for a local stand-in.
    /// `extra_roots`: certificates to trust besides the public roots (a corporate gateway).
    pub fn new(
        base: &str,
        token: Arc<dyn TokenSource>,
        extra_roots: Vec<rustls_pki_types::CertificateDer<'static>>,
    ) -> Result<Api, String> {
        let uri: Uri =
            base.trim_end_matches('/').parse().map_err(|e| format!("`{base}` is not a URL: {e}"))?;
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => {
                return Err(format!(
                    "`{base}`: the Sprites API URL must start with https:// (or http:// for a local stand-in)"
                ));
            }
        };
        let host = uri.host().ok_or_else(|| format!("`{base}` has no host"))?.to_string();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for cert in extra_roots {
            roots.add(cert).map_err(|e| format!("an extra CA certificate: {e}"))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS settings: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut ws_config = config.clone();
        ws_config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Api {
            base: uri,
            tls,
            host,
            port,
            token,
            http: Client::builder(TokioExecutor::new()).build(https),
            ws_tls: Arc::new(ws_config),
        })
    }

    pub fn base(&self) -> String {
        self.base.to_string().trim_end_matches('/').to_string()
    }

    async fn bearer(&self) -> Result<HeaderValue, ApiError> {
        let token = self.token.token().await.map_err(ApiError::NoToken)?;
        let mut value = HeaderValue::from_str(&format!("Bearer {}", token.trim()))
            .map_err(|_| ApiError::NoToken("the token holds characters a header cannot carry".into()))?;
        value.set_sensitive(true);
        Ok(value)
    }

    fn unreachable(&self, e: impl std::fmt::Display) -> ApiError {
        ApiError::Unreachable { url: self.base(), message: e.to_string() }
    }

    /// One REST call: the status and the JSON answer (`Null` when empty).
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, Value), ApiError> {
        let uri = format!("{}{path}", self.base());
        let mut request =
            Request::builder().method(method).uri(&uri).header(AUTHORIZATION, self.bearer().await?);
        if body.is_some() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        let request = request.body(Full::new(Bytes::from(payload))).map_err(|e| self.unreachable(e))?;
        let answer = tokio::time::timeout(CALL_TIMEOUT, async {
            let response = self.http.request(request).await.map_err(|e| self.unreachable(e))?;
            let status = response.status();
            let bytes = Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| self.unreachable(e))?
                .to_bytes();
            Ok::<_, ApiError>((status, bytes))
        })
        .await
        .map_err(|_| self.unreachable(format!("no answer in {} s", CALL_TIMEOUT.as_secs())))??;
        let (status, bytes) = answer;
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        match status {
            s if s.is_success() => Ok((s, json)),
            StatusCode::UNAUTHORIZED => Err(ApiError::Unauthorized),
            StatusCode::NOT_FOUND => Err(ApiError::NotFound),
            StatusCode::CONFLICT => Err(ApiError::Conflict(message_of(&json, &bytes))),
            s => Err(ApiError::Status { status: s.as_u16(), message: message_of(&json, &bytes) }),
        }
    }

    pub async fn create_sprite(&self, name: &str) -> Result<Value, ApiError> {
        let body = serde_json::json!({ "name": name, "url_settings": { "auth": "sprite" } });
        self.call(Method::POST, "/v1/sprites", Some(body)).await.map(|(_, v)| v)
    }

    /// The sprite, or `None` when there is none by that name.
    pub async fn get_sprite(&self, name: &str) -> Result<Option<Value>, ApiError> {
        match self.call(Method::GET, &format!("/v1/sprites/{name}"), None).await {
            Ok((_, v)) => Ok(Some(v)),
            Err(ApiError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every sprite whose name starts with `prefix`, across pages.
    pub async fn list_sprites(&self, prefix: &str) -> Result<Vec<Value>, ApiError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..100 {
            let query = {
                let mut query = form_urlencoded::Serializer::new(String::new());
                query.append_pair("prefix", prefix);
                if let Some(t) = &token {
                    query.append_pair("continuation_token", t);
                }
                query.finish()
            };
            let (_, v) = self.call(Method::GET, &format!("/v1/sprites?{query}"), None).await?;
            out.extend(v["sprites"].as_array().cloned().unwrap_or_default());
            token = v["next_continuation_token"].as_str().filter(|t| !t.is_empty()).map(str::to_string);
            if token.is_none() || v["has_more"] == Value::Bool(false) {
                break;
            }
        }
        Ok(out)
    }

    /// Delete the sprite; one that is not there is fine.
    pub async fn delete_sprite(&self, name: &str) -> Result<(), ApiError> {
        match self.call(Method::DELETE, &format!("/v1/sprites/{name}"), None).await {
            Ok(_) | Err(ApiError::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn set_network_policy(&self, name: &str, rules: Value) -> Result<(), ApiError> {
        let body = serde_json::json!({ "rules": rules });
        self.call(Method::POST, &format!("/v1/sprites/{name}/policy/network"), Some(body)).await.map(|_| ())
    }

    /// Open an exec WebSocket.
    pub async fn exec(&self, name: &str, request: &ExecRequest) -> Result<ExecSocket, ApiError> {
        let query = exec_query(request);
        let scheme = if self.tls { "wss" } else { "ws" };
        let url = format!("{scheme}://{}:{}/v1/sprites/{name}/exec?{query}", self.host, self.port);
        let mut ws_request = url.into_client_request().map_err(|e| self.unreachable(e))?;
        ws_request.headers_mut().insert(AUTHORIZATION, self.bearer().await?);
        let connect = async {
            let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|e| self.unreachable(e))?;
            let _ = tcp.set_nodelay(true);
            let io: Box<dyn Io> = if self.tls {
                let server = rustls_pki_types::ServerName::try_from(self.host.clone())
                    .map_err(|e| self.unreachable(e))?;
                let connector = tokio_rustls::TlsConnector::from(self.ws_tls.clone());
                Box::new(connector.connect(server, tcp).await.map_err(|e| self.unreachable(e))?)
            } else {
                Box::new(tcp)
            };
            tokio_tungstenite::client_async(ws_request, io).await.map_err(|e| match e {
                tokio_tungstenite::tungstenite::Error::Http(response) => match response.status() {
                    StatusCode::NOT_FOUND => ApiError::NotFound,
                    StatusCode::UNAUTHORIZED => ApiError::Unauthorized,
                    s => ApiError::Status { status: s.as_u16(), message: "exec refused".into() },
                },
                other => self.unreachable(other),
            })
        };
        let (socket, _) = tokio::time::timeout(CALL_TIMEOUT, connect)
            .await
            .map_err(|_| self.unreachable(format!("no answer in {} s", CALL_TIMEOUT.as_secs())))??;
        Ok(socket)
    }

    /// Run a command to its end (non-TTY), with `input` on its stdin, `limit` bytes of output
    /// kept per stream.
    pub async fn run(
        &self,
        name: &str,
        cmd: &[&str],
        input: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Output, ApiError> {
        let socket = self.exec(name, &ExecRequest::plain(cmd, input.is_some())).await?;
        tokio::time::timeout(timeout, run_socket(socket, input))
            .await
            .map_err(|_| {
                self.unreachable(format!("`{}` did not end in {} s", cmd.join(" "), timeout.as_secs()))
            })?
            .map_err(|e| self.unreachable(e))
    }
}

/// An exec stream as a relay's: what it prints (stream bytes 1, 2, 3) and its stdin (stream
/// byte 0), for [`clauderon_backend::tunnel::carry`]. The socket is pumped until either side ends.
pub fn relay_streams(socket: ExecSocket) -> (mpsc::Receiver<FromRelay>, mpsc::Sender<Vec<u8>>) {
    let (events_tx, events) = mpsc::channel(64);
    let (to_relay, mut outbox) = mpsc::channel::<Vec<u8>>(256);
    tokio::spawn(async move {
        let (mut sink, mut source) = socket.split();
        loop {
            tokio::select! {
                msg = source.next() => {
                    let event = match msg {
                        Some(Ok(Message::Binary(data))) => match data.first() {
                            Some(&stream::STDOUT) => FromRelay::Stdout(data[1..].to_vec()),
                            Some(&stream::STDERR) => FromRelay::Stderr(data[1..].to_vec()),
                            Some(&stream::EXIT) => FromRelay::Exit(data.get(1).copied().map_or(-1, i32::from)),
                            _ => continue,
                        },
                        Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                        Some(Ok(_)) => continue,
                    };
                    if events_tx.send(event).await.is_err() {
                        break;
                    }
                }
                bytes = outbox.recv() => {
                    let Some(bytes) = bytes else { break };
                    let mut msg = Vec::with_capacity(bytes.len() + 1);
                    msg.push(stream::STDIN);
                    msg.extend_from_slice(&bytes);
                    if sink.send(Message::Binary(msg.into())).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = sink.close().await;
    });
    (events, to_relay)
}

fn exec_query(request: &ExecRequest) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for part in &request.cmd {
        query.append_pair("cmd", part);
    }
    query.append_pair("tty", if request.tty { "true" } else { "false" });
    query.append_pair("stdin", if request.stdin { "true" } else { "false" });
    if let Some((cols, rows)) = request.size {
        query.append_pair("cols", &cols.to_string());
        query.append_pair("rows", &rows.to_string());
    }
    query.finish()
}

/// Largest output kept per stream of a one-shot command.
const MAX_OUTPUT: usize = 8 * 1024 * 1024;

async fn run_socket(socket: ExecSocket, input: Option<&[u8]>) -> Result<Output, String> {
    let (mut sink, mut source) = socket.split();
    let send_all = async {
        if let Some(input) = input {
            for chunk in input.chunks(64 * 1024) {
                let mut frame = Vec::with_capacity(chunk.len() + 1);
                frame.push(stream::STDIN);
                frame.extend_from_slice(chunk);
                sink.send(Message::Binary(frame.into())).await.map_err(|e| e.to_string())?;
            }
            sink.send(Message::Binary(vec![stream::STDIN_EOF].into())).await.map_err(|e| e.to_string())?;
        }
        Ok::<_, String>(sink)
    };
    let read_all = async {
        let mut out: Output = Output { code: -1, ..Default::default() };
        while let Some(msg) = source.next().await {
            match msg.map_err(|e| e.to_string())? {
                Message::Binary(data) => match data.first() {
                    Some(&stream::STDOUT) if out.stdout.len() < MAX_OUTPUT => {
                        out.stdout.extend_from_slice(&data[1..])
                    }
                    Some(&stream::STDERR) if out.stderr.len() < MAX_OUTPUT => {
                        out.stderr.extend_from_slice(&data[1..])
                    }
                    Some(&stream::EXIT) => {
                        out.code = data.get(1).copied().map(i32::from).unwrap_or(-1);
                        return Ok::<Output, String>(out);
                    }
                    _ => {}
                },
                Message::Text(text) => {
                    let v: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                    if v["type"] == "exit" {
                        out.code = v["exit_code"].as_i64().unwrap_or(-1) as i32;
                        return Ok(out);
                    }
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
        if out.code == -1 {
            return Err::<Output, String>("the command's stream ended without an exit code".into());
        }
        Ok(out)
    };
    let (sent, read) = tokio::join!(send_all, read_all);
    let output = read?;
    if let Ok(mut sink) = sent {
        let _ = sink.close().await;
    }
    Ok(output)
}

/// The API's own words from an error answer, kept short.
fn message_of(json: &Value, bytes: &[u8]) -> String {
    let text = json["error"]
        .as_str()
        .or_else(|| json["message"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned());
    let text = text.trim();
    match text.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}
