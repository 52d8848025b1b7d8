//! How the stand-in runs pods: each container a process on this machine in the pod's network
//! namespace, its volumes bound at their mount paths in a private mount namespace, its
//! environment from the spec; `exec` and `attach` over the API's channel protocol.

use super::{KubeState, Run, lock, status};
use crate::netns::Netns;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use base64::Engine;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

/// Set the status of pod `pod` if it is still the one with `uid` (not one made again since).
fn set_pod_status(state: &KubeState, pod: &str, uid: &str, status: Value) {
    if let Some(object) = lock(&state.objects).get_mut(&("pods".to_string(), pod.to_string()))
        && object["metadata"]["uid"].as_str() == Some(uid)
    {
        object["status"] = status;
        let _ = state.changes.send(("pods".to_string(), "MODIFIED", object.clone()));
    }
}

/// The folder a volume is on this machine, made ready (a ConfigMap's or Secret's keys written).
fn volume_dir(state: &KubeState, pod: &str, volume: &Value) -> Result<PathBuf, String> {
    let name = volume["name"].as_str().unwrap_or("volume");
    let objects = lock(&state.objects);
    let write_keys = |dir: &Path, data: &Value, decode: bool| -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        for (k, v) in data.as_object().into_iter().flatten() {
            let text = v.as_str().unwrap_or_default();
            let bytes = if decode {
                base64::engine::general_purpose::STANDARD.decode(text).map_err(|e| e.to_string())?
            } else {
                text.as_bytes().to_vec()
            };
            std::fs::write(dir.join(k), bytes).map_err(|e| e.to_string())?;
        }
        Ok(())
    };
    let dir = if let Some(claim) = volume["persistentVolumeClaim"]["claimName"].as_str() {
        if !objects.contains_key(&("persistentvolumeclaims".to_string(), claim.to_string())) {
            return Err(format!("persistentvolumeclaim \"{claim}\" not found"));
        }
        let dir = state.root.join("claims").join(claim);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        dir
    } else if let Some(cm) = volume["configMap"]["name"].as_str() {
        let data = objects.get(&("configmaps".to_string(), cm.to_string())).map(|v| v["data"].clone());
        let dir = state.root.join("pods").join(pod).join(name);
        write_keys(&dir, &data.ok_or_else(|| format!("configmap \"{cm}\" not found"))?, false)?;
        dir
    } else if let Some(secret) = volume["secret"]["secretName"].as_str() {
        let data = objects.get(&("secrets".to_string(), secret.to_string())).map(|v| v["data"].clone());
        let dir = state.root.join("pods").join(pod).join(name);
        write_keys(&dir, &data.ok_or_else(|| format!("secret \"{secret}\" not found"))?, true)?;
        dir
    } else {
        let dir = state.root.join("pods").join(pod).join(name);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        dir
    };
    Ok(dir)
}

/// A container's environment from its spec: `env` values and `envFrom` Secrets/ConfigMaps.
fn container_env(state: &KubeState, container: &Value) -> Result<Vec<(String, String)>, String> {
    let objects = lock(&state.objects);
    let mut env =
        vec![("PATH".to_string(), std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()))];
    for from in container["envFrom"].as_array().into_iter().flatten() {
        if let Some(name) = from["secretRef"]["name"].as_str() {
            let secret = objects
                .get(&("secrets".to_string(), name.to_string()))
                .ok_or(format!("secret \"{name}\" not found"))?;
            for (k, v) in secret["data"].as_object().into_iter().flatten() {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(v.as_str().unwrap_or_default())
                    .map_err(|e| e.to_string())?;
                env.push((k.clone(), String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
        if let Some(name) = from["configMapRef"]["name"].as_str() {
            let cm = objects
                .get(&("configmaps".to_string(), name.to_string()))
                .ok_or(format!("configmap \"{name}\" not found"))?;
            for (k, v) in cm["data"].as_object().into_iter().flatten() {
                env.push((k.clone(), v.as_str().unwrap_or_default().to_string()));
            }
        }
    }
    for var in container["env"].as_array().into_iter().flatten() {
        if let (Some(k), Some(v)) = (var["name"].as_str(), var["value"].as_str()) {
            env.push((k.to_string(), v.to_string()));
        }
    }
    Ok(env)
}

/// Binds each `(source, target)` given as arguments, then runs the command in the working dir:
/// `sh -c MOUNT pod <workdir> <src> <dst>… -- <command>…`.
const MOUNT: &str = r#"wd=$1; shift
while [ "$1" != "--" ]; do mount --bind "$1" "$2" || exit 125; shift 2; done
shift; cd "$wd" || exit 126; exec "$@""#;

fn container_argv(
    state: &KubeState,
    netns: &Netns,
    pod: &str,
    spec: &Value,
    c: &Value,
) -> Result<(String, Vec<String>), String> {
    let volumes: HashMap<String, PathBuf> = spec["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| Ok((v["name"].as_str().unwrap_or_default().to_string(), volume_dir(state, pod, v)?)))
        .collect::<Result<_, String>>()?;
    let mut args = vec!["pod".to_string(), c["workingDir"].as_str().unwrap_or("/").to_string()];
    for m in c["volumeMounts"].as_array().into_iter().flatten() {
        let (Some(name), Some(path)) = (m["name"].as_str(), m["mountPath"].as_str()) else { continue };
        let source = volumes.get(name).ok_or(format!("volume \"{name}\" is not in the pod"))?;
        crate::netns::mount_points(&[path]);
        args.push(source.display().to_string());
        args.push(path.to_string());
    }
    args.push("--".into());
    for part in
        c["command"].as_array().into_iter().flatten().chain(c["args"].as_array().into_iter().flatten())
    {
        args.push(part.as_str().unwrap_or_default().to_string());
    }
    Ok(netns.argv(MOUNT, &args))
}

/// `exec` into a running pod's container: the command in the pod's network namespace with the
/// container's volumes and environment, over the API's WebSocket channel protocol (v4: one
/// leading byte per message, 0 stdin, 1 stdout, 2 stderr, 3 the final `Status`).
pub(super) async fn exec(
    axum::extract::State(state): axum::extract::State<Arc<KubeState>>,
    axum::extract::Path((ns, name)): axum::extract::Path<(String, String)>,
    uri: Uri,
    ws: axum::extract::ws::WebSocketUpgrade,
) -> Response {
    lock(&state.requests).push(format!("EXEC {}", uri.path()));
    if ns != state.namespace {
        return status(StatusCode::FORBIDDEN, "Forbidden", "another namespace");
    }
    let query: Vec<(String, String)> = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let command: Vec<String> = query.iter().filter(|(k, _)| k == "command").map(|(_, v)| v.clone()).collect();
    let container = query.iter().find(|(k, _)| k == "container").map(|(_, v)| v.clone());
    let Some(pod) = lock(&state.objects).get(&("pods".to_string(), name.clone())).cloned() else {
        return status(StatusCode::NOT_FOUND, "NotFound", &format!("pods \"{name}\" not found"));
    };
    let Some((netns, ended)) = lock(&state.runs).get(&name).map(|r| (r.netns.clone(), r.ended.subscribe()))
    else {
        return status(StatusCode::BAD_REQUEST, "BadRequest", "the pod does not run");
    };
    let spec = pod["spec"].clone();
    let all: Vec<Value> = spec["initContainers"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(spec["containers"].as_array().into_iter().flatten())
        .cloned()
        .collect();
    let Some(mut c) = all.into_iter().find(|c| container.as_deref().is_none_or(|n| c["name"] == n)) else {
        return status(StatusCode::BAD_REQUEST, "BadRequest", "no such container");
    };
    let cname = c["name"].as_str().unwrap_or_default().to_string();
    if ended.borrow().contains(&cname) {
        return status(StatusCode::BAD_REQUEST, "BadRequest", &format!("container {cname} is not running"));
    }
    c["command"] = json!(command);
    c["args"] = json!([]);
    let prepared = container_argv(&state, &netns, &name, &spec, &c)
        .and_then(|argv| Ok((argv, container_env(&state, &c)?)));
    let ((program, args), env) = match prepared {
        Ok(p) => p,
        Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", &e),
    };
    ws.protocols(["v4.channel.k8s.io"])
        .on_upgrade(move |socket| exec_stream(socket, program, args, env, ended, cname))
}

async fn exec_stream(
    socket: axum::extract::ws::WebSocket,
    program: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    mut ended: tokio::sync::watch::Receiver<Vec<String>>,
    container: String,
) {
    let mut command = tokio::process::Command::new(program);
    command.args(args).env_clear().envs(env);
    // Kubernetes' final word on channel 3: a `Status`.
    let finish = |code: Result<i32, String>| {
        let status = match code {
            Ok(0) => json!({"metadata": {}, "status": "Success"}),
            Ok(code) => json!({"metadata": {}, "status": "Failure",
                "message": format!("command terminated with non-zero exit code: {code}"),
                "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]}}),
            Err(e) => json!({"metadata": {}, "status": "Failure", "message": e}),
        };
        [&[3u8][..], status.to_string().as_bytes()].concat()
    };
    // What was exec'd into a container ends with it.
    let cut = async move {
        while !ended.borrow().contains(&container) {
            if ended.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    };
    let end = crate::exec_ws::ExecEnd { finish: Box::new(finish), stdin_eof: None };
    crate::exec_ws::pump(socket, command, true, end, cut).await
}

/// What reaches a container's pseudo-terminal, and what it prints.
#[derive(Clone)]
pub(super) struct Tty {
    /// The pod's uid: a pod made again under the same name has another.
    uid: String,
    input: tokio::sync::mpsc::Sender<TtyInput>,
    output: tokio::sync::broadcast::Sender<Vec<u8>>,
}

enum TtyInput {
    Data(Vec<u8>),
    Resize(u16, u16),
}

/// Run a container on a pseudo-terminal: its screen to the log and to every attach, attach's
/// keys and sizes to it.
fn spawn_on_tty(
    state: &Arc<KubeState>,
    pod: &str,
    program: &str,
    args: &[String],
    env: Vec<(String, String)>,
    log_path: PathBuf,
    uid: &str,
) -> Result<tokio::process::Child, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (pty, pts) = pty_process::open().map_err(|e| e.to_string())?;
    pty.resize(pty_process::Size::new(50, 200)).map_err(|e| e.to_string())?;
    let child = pty_process::Command::new(program)
        .args(args)
        .env_clear()
        .envs(env)
        .env("TERM", "xterm-256color")
        .kill_on_drop(true)
        .spawn(pts)
        .map_err(|e| e.to_string())?;
    let (mut reader, mut writer) = pty.into_split();
    let (output, _) = tokio::sync::broadcast::channel::<Vec<u8>>(256);
    let (input, mut keys) = tokio::sync::mpsc::channel::<TtyInput>(64);
    lock(&state.ttys).insert(pod.to_string(), Tty { uid: uid.to_string(), input, output: output.clone() });
    tokio::spawn(async move {
        let mut log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path).ok();
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n) = reader.read(&mut buf).await {
            if n == 0 {
                break;
            }
            if let Some(log) = log.as_mut() {
                let _ = std::io::Write::write_all(log, &buf[..n]);
            }
            let _ = output.send(buf[..n].to_vec());
        }
    });
    tokio::spawn(async move {
        while let Some(key) = keys.recv().await {
            match key {
                TtyInput::Data(bytes) => {
                    if writer.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
                TtyInput::Resize(cols, rows) => {
                    let _ = writer.resize(pty_process::Size::new(rows, cols));
                }
            }
        }
    });
    Ok(child)
}

/// `attach` to a pod's container that runs on a terminal: the channel protocol as for exec
/// (0 stdin, 1 stdout, 4 the terminal's size as `{"Width":…,"Height":…}`).
pub(super) async fn attach(
    axum::extract::State(state): axum::extract::State<Arc<KubeState>>,
    axum::extract::Path((ns, name)): axum::extract::Path<(String, String)>,
    uri: Uri,
    ws: axum::extract::ws::WebSocketUpgrade,
) -> Response {
    lock(&state.requests).push(format!("ATTACH {}", uri.path()));
    if ns != state.namespace {
        return status(StatusCode::FORBIDDEN, "Forbidden", "another namespace");
    }
    let Some(tty) = lock(&state.ttys).get(&name).cloned() else {
        return status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "the pod has no running container with a terminal",
        );
    };
    ws.protocols(["v4.channel.k8s.io"]).on_upgrade(move |socket| attach_stream(socket, tty))
}

async fn attach_stream(socket: axum::extract::ws::WebSocket, tty: Tty) {
    use axum::extract::ws::Message;
    use futures_util::{SinkExt, StreamExt};
    let (mut sink, mut source) = socket.split();
    let mut screen = tty.output.subscribe();
    loop {
        tokio::select! {
            bytes = screen.recv() => match bytes {
                Ok(bytes) => {
                    if sink.send(Message::Binary([&[1u8][..], &bytes].concat().into())).await.is_err() {
                        return;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => {
                    let done = json!({"metadata": {}, "status": "Success"});
                    let _ = sink.send(Message::Binary([&[3u8][..], done.to_string().as_bytes()].concat().into())).await;
                    let _ = sink.send(Message::Close(None)).await;
                    return;
                }
            },
            msg = source.next() => match msg {
                Some(Ok(Message::Binary(data))) => match data.first() {
                    Some(0) => {
                        let _ = tty.input.send(TtyInput::Data(data[1..].to_vec())).await;
                    }
                    Some(4) => {
                        let size: Value = serde_json::from_slice(&data[1..]).unwrap_or(Value::Null);
                        if let (Some(w), Some(h)) = (size["Width"].as_u64(), size["Height"].as_u64()) {
                            let _ = tty.input.send(TtyInput::Resize(w as u16, h as u16)).await;
                        }
                    }
                    _ => {}
                },
                Some(Ok(_)) => {}
                // The viewer went; the container keeps running.
                Some(Err(_)) | None => return,
            },
        }
    }
}

pub(super) fn run_pod(state: &Arc<KubeState>, name: &str, pod: &Value) {
    let uid = pod["metadata"]["uid"].as_str().unwrap_or_default().to_string();
    let netns = match Netns::new("clk8s") {
        Ok(ns) => Arc::new(ns),
        Err(e) => {
            set_pod_status(state, name, &uid, json!({"phase": "Failed", "message": e}));
            return;
        }
    };
    let (ended, _) = tokio::sync::watch::channel(Vec::new());
    let ended_tx = ended.clone();
    lock(&state.runs).insert(name.to_string(), Run { netns: netns.clone(), ended });
    let (state, name, spec) = (state.clone(), name.to_string(), pod["spec"].clone());
    let logs = state.root.join("logs");
    let _ = std::fs::create_dir_all(&logs);
    // A pod made again under the same name starts with empty logs.
    for c in spec["initContainers"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(spec["containers"].as_array().into_iter().flatten())
    {
        let _ =
            std::fs::remove_file(logs.join(format!("{name}.{}", c["name"].as_str().unwrap_or("container"))));
    }
    tokio::spawn(async move {
        let inits: Vec<Value> = spec["initContainers"].as_array().cloned().unwrap_or_default();
        let mains: Vec<Value> = spec["containers"].as_array().cloned().unwrap_or_default();
        let mut init_statuses = Vec::new();
        for (i, c) in inits.iter().chain(mains.iter().take(1)).enumerate() {
            let is_main = i == inits.len();
            let cname = c["name"].as_str().unwrap_or("container").to_string();
            let log_path = logs.join(format!("{name}.{cname}"));
            let started = container_argv(&state, &netns, &name, &spec, c)
                .and_then(|argv| Ok((argv, container_env(&state, c)?)))
                .and_then(|((program, args), env)| {
                    // A container with `tty: true` runs on a pseudo-terminal that attach reaches.
                    if c["tty"] == true && is_main {
                        return spawn_on_tty(&state, &name, &program, &args, env, log_path.clone(), &uid);
                    }
                    let log = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&log_path)
                        .map_err(|e| e.to_string())?;
                    let err = log.try_clone().map_err(|e| e.to_string())?;
                    tokio::process::Command::new(program)
                        .args(args)
                        .env_clear()
                        .envs(env)
                        .stdin(Stdio::null())
                        .stdout(log)
                        .stderr(err)
                        .kill_on_drop(true)
                        .spawn()
                        .map_err(|e| e.to_string())
                });
            let mut child = match started {
                Ok(child) => child,
                Err(e) => {
                    let waiting = json!([{"name": cname, "ready": false, "restartCount": 0, "image": c["image"], "imageID": "",
                        "state": {"waiting": {"reason": "CreateContainerConfigError", "message": e}}}]);
                    let key = if is_main { "containerStatuses" } else { "initContainerStatuses" };
                    set_pod_status(&state, &name, &uid, json!({"phase": "Pending", key: waiting}));
                    return;
                }
            };
            if !is_main {
                let mut shown = init_statuses.clone();
                shown.push(json!({"name": cname, "ready": false, "restartCount": 0, "image": c["image"], "imageID": "",
                    "state": {"running": {}}}));
                set_pod_status(
                    &state,
                    &name,
                    &uid,
                    json!({"phase": "Pending", "initContainerStatuses": shown}),
                );
            }
            if is_main {
                set_pod_status(
                    &state,
                    &name,
                    &uid,
                    json!({
                        "phase": "Running", "initContainerStatuses": init_statuses,
                        "containerStatuses": [{"name": cname, "ready": true, "restartCount": 0, "image": c["image"], "imageID": "",
                            "state": {"running": {}}}],
                    }),
                );
            }
            let code = child.wait().await.ok().and_then(|s| s.code()).unwrap_or(137);
            ended_tx.send_modify(|v| v.push(cname.clone()));
            if is_main {
                let mut ttys = lock(&state.ttys);
                if ttys.get(&name).is_some_and(|t| t.uid == uid) {
                    ttys.remove(&name);
                }
            }
            let terminated = json!({"name": cname, "ready": false, "restartCount": 0, "image": c["image"], "imageID": "",
                "state": {"terminated": {"exitCode": code}}});
            if is_main {
                let phase = if code == 0 { "Succeeded" } else { "Failed" };
                set_pod_status(
                    &state,
                    &name,
                    &uid,
                    json!({"phase": phase, "initContainerStatuses": init_statuses, "containerStatuses": [terminated]}),
                );
                return;
            }
            init_statuses.push(terminated);
            if code != 0 {
                set_pod_status(
                    &state,
                    &name,
                    &uid,
                    json!({"phase": "Failed", "initContainerStatuses": init_statuses}),
                );
                return;
            }
        }
    });
}
