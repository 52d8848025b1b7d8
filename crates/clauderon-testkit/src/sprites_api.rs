//! A stand-in for the Sprites API (`api.sprites.dev`), which cannot be reached from here. It is
//! NOT the real service: it serves the documented subset clauderon uses, over plain HTTP on
//! loopback, and runs each "sprite" on this machine as what a sprite is to its programs:
//!
//! - its own network namespace with only loopback up: a program in it reaches nothing of this
//!   machine (not the daemon's API, not its proxy), as a sprite on Fly's side cannot reach a
//!   laptop; the only way out is what clauderon itself carries over the API;
//! - its own home at `/home/sprite` (a folder of the fake bind-mounted there in a private mount
//!   namespace per command), user-visible paths as on a real sprite;
//! - commands run over the exec WebSocket with the documented binary protocol (non-TTY: one
//!   stream byte, 0 stdin, 1 stdout, 2 stderr, 3 exit, 4 stdin EOF; TTY: raw bytes, JSON text
//!   messages for resize and exit);
//! - processes that detach (a tmux server) keep running between execs, as on a sprite.
//!
//! Differences from the real service, on purpose: a non-TTY command is killed as soon as its
//! WebSocket closes (the real one waits `max_run_after_disconnect`, 10 s by default); there is
//! no hibernation (status is `running` while a process lives, else `warm`); the network policy
//! is stored and returned but not enforced (the namespace already walls everything off).
//!
//! Needs root, `ip` (iproute2) and `unshare` (util-linux), which CI has.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::netns::Netns;

/// Where every fake sprite's home is mounted, as on the real service.
pub const SPRITE_HOME: &str = "/home/sprite";

/// Binds each command's sprite home over [`SPRITE_HOME`] in its own mount namespace.
const ENTER: &str = r#"mount --bind "$0" /home/sprite && cd /home/sprite && exec "$@""#;

struct Sprite {
    id: String,
    netns: Arc<Netns>,
    created_at: String,
    policy: Value,
}

struct FakeState {
    token: String,
    root: PathBuf,
    sprites: Mutex<BTreeMap<String, Sprite>>,
    requests: Mutex<Vec<String>>,
    /// Bodies of the requests and the exec commands, for tests that look for a secret in them.
    seen: Mutex<Vec<String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running fake of the Sprites API. Dropping it deletes every sprite it made.
pub struct FakeSprites {
    /// `http://127.0.0.1:<port>`: the API's base URL.
    pub url: String,
    /// The one token it accepts (`Authorization: Bearer <token>`).
    pub token: String,
    state: Arc<FakeState>,
    server: tokio::task::JoinHandle<()>,
    _root: tempfile::TempDir,
}

impl FakeSprites {
    pub async fn start() -> FakeSprites {
        crate::netns::mount_points(&[SPRITE_HOME]);
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let token = format!("sprites-token-{}", uuid_ish());
        let state = Arc::new(FakeState {
            token: token.clone(),
            root: root.path().to_path_buf(),
            sprites: Mutex::new(BTreeMap::new()),
            requests: Mutex::new(Vec::new()),
            seen: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/v1/sprites", post(create).get(list))
            .route("/v1/sprites/{name}", get(show).delete(destroy))
            .route("/v1/sprites/{name}/policy/network", get(get_policy).post(set_policy))
            .route("/v1/sprites/{name}/exec", get(exec))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("binding the fake Sprites API: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("local_addr: {e}"));
        // As a real API server's: no Nagle delay on small writes (a relay's frames).
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeSprites { url: format!("http://{addr}"), token, state, server, _root: root }
    }

    /// Every request as `METHOD /path`, in order.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.state.requests).clone()
    }

    /// Every request body and exec command line the fake received.
    pub fn seen(&self) -> String {
        lock(&self.state.seen).join("\n")
    }

    pub fn exists(&self, name: &str) -> bool {
        lock(&self.state.sprites).contains_key(name)
    }

    /// The sprite's home on this machine (what its programs see as `/home/sprite`).
    pub fn home(&self, name: &str) -> PathBuf {
        self.state.root.join(name).join("home")
    }

    /// The network policy last set on a sprite.
    pub fn policy(&self, name: &str) -> Option<Value> {
        lock(&self.state.sprites).get(name).map(|s| s.policy.clone())
    }
}

impl Drop for FakeSprites {
    fn drop(&mut self) {
        self.server.abort();
        let names: Vec<String> = lock(&self.state.sprites).keys().cloned().collect();
        for name in names {
            remove_sprite(&self.state, &name);
        }
    }
}

fn uuid_ish() -> String {
    crate::netns::unique("")
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// `None` when the request carries the token; else the 401 to answer.
fn unauthorized(state: &FakeState, headers: &HeaderMap, what: String) -> Option<Response> {
    lock(&state.requests).push(what);
    let ok = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t == state.token);
    (!ok).then(|| error(StatusCode::UNAUTHORIZED, "missing or invalid token"))
}

fn sprite_json(name: &str, s: &Sprite) -> Value {
    let running = !s.netns.pids().is_empty();
    json!({
        "id": s.id,
        "name": name,
        "status": if running { "running" } else { "warm" },
        "organization": "fake",
        "url": format!("https://{name}-fake.sprites.app"),
        "url_settings": { "auth": "sprite" },
        "created_at": s.created_at,
        "updated_at": s.created_at,
    })
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
}

async fn create(State(state): State<Arc<FakeState>>, headers: HeaderMap, body: String) -> Response {
    if let Some(r) = unauthorized(&state, &headers, "POST /v1/sprites".into()) {
        return r;
    }
    lock(&state.seen).push(body.clone());
    let Ok(request) = serde_json::from_str::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "body is not JSON");
    };
    let Some(name) = request["name"].as_str().map(str::to_string) else {
        return error(StatusCode::BAD_REQUEST, "name is required");
    };
    if !valid_name(&name) {
        return error(StatusCode::BAD_REQUEST, "invalid sprite name");
    }
    if lock(&state.sprites).contains_key(&name) {
        return error(StatusCode::CONFLICT, "a sprite with this name already exists");
    }
    let home = state.root.join(&name).join("home");
    let made = std::fs::create_dir_all(&home)
        .and_then(|()| std::fs::create_dir_all(state.root.join(&name).join("tmux")))
        .map_err(|e| e.to_string())
        .and_then(|()| Netns::new("clsp"));
    let netns = match made {
        Ok(ns) => Arc::new(ns),
        Err(e) => {
            return error(StatusCode::INTERNAL_SERVER_ERROR, &format!("fake could not make the sprite: {e}"));
        }
    };
    let sprite = Sprite {
        id: format!("sprite-{}", uuid_ish()),
        netns,
        created_at: chrono::Utc::now().to_rfc3339(),
        policy: json!({ "rules": [] }),
    };
    let answer = sprite_json(&name, &sprite);
    lock(&state.sprites).insert(name, sprite);
    (StatusCode::CREATED, Json(answer)).into_response()
}

async fn list(State(state): State<Arc<FakeState>>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    if let Some(r) = unauthorized(&state, &headers, "GET /v1/sprites".into()) {
        return r;
    }
    let prefix = query_pairs(q.as_deref()).into_iter().find(|(k, _)| k == "prefix").map(|(_, v)| v);
    let sprites = lock(&state.sprites);
    let listed: Vec<Value> = sprites
        .iter()
        .filter(|(name, _)| prefix.as_deref().is_none_or(|p| name.starts_with(p)))
        .map(|(name, s)| sprite_json(name, s))
        .collect();
    Json(json!({ "sprites": listed, "has_more": false })).into_response()
}

async fn show(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    UrlPath(name): UrlPath<String>,
) -> Response {
    if let Some(r) = unauthorized(&state, &headers, format!("GET /v1/sprites/{name}")) {
        return r;
    }
    match lock(&state.sprites).get(&name) {
        Some(s) => Json(sprite_json(&name, s)).into_response(),
        None => error(StatusCode::NOT_FOUND, "sprite not found"),
    }
}

fn remove_sprite(state: &FakeState, name: &str) -> bool {
    let Some(sprite) = lock(&state.sprites).remove(name) else {
        return false;
    };
    // Every process of the sprite, then its namespace and files.
    sprite.netns.kill_all();
    drop(sprite);
    let _ = std::fs::remove_dir_all(state.root.join(name));
    true
}

async fn destroy(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    UrlPath(name): UrlPath<String>,
) -> Response {
    if let Some(r) = unauthorized(&state, &headers, format!("DELETE /v1/sprites/{name}")) {
        return r;
    }
    let state2 = state.clone();
    let removed = tokio::task::spawn_blocking(move || remove_sprite(&state2, &name)).await.unwrap_or(false);
    if removed {
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(StatusCode::NOT_FOUND, "sprite not found")
    }
}

async fn get_policy(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    UrlPath(name): UrlPath<String>,
) -> Response {
    if let Some(r) = unauthorized(&state, &headers, format!("GET /v1/sprites/{name}/policy/network")) {
        return r;
    }
    match lock(&state.sprites).get(&name) {
        Some(s) => Json(s.policy.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "sprite not found"),
    }
}

async fn set_policy(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    UrlPath(name): UrlPath<String>,
    body: String,
) -> Response {
    if let Some(r) = unauthorized(&state, &headers, format!("POST /v1/sprites/{name}/policy/network")) {
        return r;
    }
    let Ok(policy) = serde_json::from_str::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "body is not JSON");
    };
    if !policy["rules"].is_array() {
        return error(StatusCode::BAD_REQUEST, "rules is required");
    }
    match lock(&state.sprites).get_mut(&name) {
        Some(s) => {
            s.policy = policy.clone();
            Json(policy).into_response()
        }
        None => error(StatusCode::NOT_FOUND, "sprite not found"),
    }
}

fn query_pairs(q: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(q.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

struct ExecParams {
    cmd: Vec<String>,
    tty: bool,
    stdin: bool,
    cols: u16,
    rows: u16,
}

fn exec_params(q: Option<&str>) -> ExecParams {
    let pairs = query_pairs(q);
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let flag = |k: &str| get(k).map(|v| v == "true" || v == "1");
    let tty = flag("tty").unwrap_or(false);
    ExecParams {
        cmd: pairs.iter().filter(|(k, _)| k == "cmd").map(|(_, v)| v.clone()).collect(),
        tty,
        stdin: flag("stdin").unwrap_or(tty),
        cols: get("cols").and_then(|v| v.parse().ok()).unwrap_or(80),
        rows: get("rows").and_then(|v| v.parse().ok()).unwrap_or(24),
    }
}

async fn exec(
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    UrlPath(name): UrlPath<String>,
    RawQuery(q): RawQuery,
    ws: WebSocketUpgrade,
) -> Response {
    if let Some(r) = unauthorized(&state, &headers, format!("WSS /v1/sprites/{name}/exec")) {
        return r;
    }
    let params = exec_params(q.as_deref());
    lock(&state.seen).push(params.cmd.join(" "));
    let Some(netns) = lock(&state.sprites).get(&name).map(|s| s.netns.clone()) else {
        return error(StatusCode::NOT_FOUND, "sprite not found");
    };
    let dir = state.root.join(&name);
    ws.on_upgrade(move |socket| async move {
        if params.tty {
            exec_tty(socket, &netns, &dir, params).await
        } else {
            exec_plain(socket, &netns, &dir, params).await
        }
    })
}

/// The command in the sprite's namespace with its home over [`SPRITE_HOME`].
fn sprite_argv(netns: &Netns, dir: &Path, cmd: &[String]) -> (String, Vec<String>) {
    let mut args = vec![dir.join("home").display().to_string()];
    if cmd.is_empty() {
        args.push("bash".into());
    } else {
        args.extend(cmd.iter().cloned());
    }
    netns.argv(ENTER, &args)
}

fn sprite_env(dir: &Path, tty: bool) -> Vec<(String, String)> {
    let mut env = vec![
        ("HOME".to_string(), SPRITE_HOME.to_string()),
        ("USER".into(), "sprite".into()),
        ("PATH".into(), std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())),
        ("LANG".into(), "C.UTF-8".into()),
        ("TMUX_TMPDIR".into(), dir.join("tmux").display().to_string()),
    ];
    if tty {
        env.push(("TERM".into(), "xterm-256color".into()));
    }
    env
}

async fn exec_plain(socket: WebSocket, netns: &Netns, dir: &Path, params: ExecParams) {
    let (program, args) = sprite_argv(netns, dir, &params.cmd);
    let mut command = tokio::process::Command::new(program);
    command.args(args).env_clear().envs(sprite_env(dir, false));
    let end = crate::exec_ws::ExecEnd {
        // Stream byte 3 and the exit code; a command that cannot start: 127, as a shell says.
        finish: Box::new(|code| vec![3u8, code.map_or(127, |c| c as u8)]),
        stdin_eof: Some(4),
    };
    crate::exec_ws::pump(socket, command, params.stdin, end, std::future::pending()).await
}

async fn exec_tty(socket: WebSocket, netns: &Netns, dir: &Path, params: ExecParams) {
    let (program, args) = sprite_argv(netns, dir, &params.cmd);
    let (mut sink, mut stream) = socket.split();
    let opened = pty_process::open().and_then(|(pty, pts)| {
        pty.resize(pty_process::Size::new(params.rows, params.cols))?;
        let child = pty_process::Command::new(program)
            .args(args)
            .env_clear()
            .envs(sprite_env(dir, true))
            .kill_on_drop(true)
            .spawn(pts)?;
        Ok((pty, child))
    });
    let (pty, mut child) = match opened {
        Ok(x) => x,
        Err(e) => {
            let _ = sink
                .send(Message::Text(json!({"type": "error", "error": e.to_string()}).to_string().into()))
                .await;
            return;
        }
    };
    let (mut reader, mut writer) = pty.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(64);
    tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut screen_open = true;
    loop {
        tokio::select! {
            bytes = rx.recv(), if screen_open => match bytes {
                Some(bytes) => {
                    if sink.send(Message::Binary(bytes.into())).await.is_err() {
                        return;
                    }
                }
                None => screen_open = false,
            },
            msg = stream.next() => match msg {
                Some(Ok(Message::Binary(data))) => {
                    let _ = writer.write_all(&data).await;
                }
                Some(Ok(Message::Text(text))) => {
                    let v: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                    if v["type"] == "resize"
                        && let (Some(cols), Some(rows)) = (v["cols"].as_u64(), v["rows"].as_u64())
                    {
                        let _ = writer.resize(pty_process::Size::new(rows as u16, cols as u16));
                    }
                }
                Some(Ok(_)) => {}
                // A TTY command keeps running after a disconnect on the real service; here the
                // client is the terminal, and it goes with it.
                Some(Err(_)) | None => return,
            },
            status = child.wait() => {
                // What the terminal still has to show, then the exit.
                while let Ok(Some(bytes)) = tokio::time::timeout(std::time::Duration::from_millis(50), rx.recv()).await {
                    let _ = sink.send(Message::Binary(bytes.into())).await;
                }
                let code = status.ok().and_then(|s| s.code()).unwrap_or(255);
                let _ = sink.send(Message::Text(json!({"type": "exit", "exit_code": code}).to_string().into())).await;
                let _ = sink.send(Message::Close(None)).await;
                return;
            }
        }
    }
}
