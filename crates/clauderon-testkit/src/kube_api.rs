//! A stand-in for a Kubernetes API server, which cannot run here (none is packaged in the
//! registries this machine reaches). It is NOT a cluster: it serves, over plain HTTP on
//! loopback, the part of the API the Kubernetes backend uses — ConfigMaps, Secrets,
//! PersistentVolumeClaims, NetworkPolicies and Pods in one namespace (create, get, list by
//! label selector, delete, pod logs), SelfSubjectAccessReview — and keeps what it is given.
//! Deleting an object deletes what names it as owner, as the garbage collector does.
//!
//! A pod "runs" on this machine: its init containers, then its first container, as processes in
//! a network namespace of their own (only loopback: a pod reaches nothing, as under the
//! NetworkPolicy), in a private mount namespace where its volumes are bound at their mount
//! paths (a claim is a folder that outlives the pod; a ConfigMap or Secret volume, its keys as
//! files), with the environment its spec gives (values, `envFrom` a Secret). The image is not
//! pulled: the programs are this machine's. Not enforced: the security context, resources, the
//! NetworkPolicy's rules (the namespace walls everything). Needs root, `ip` and `unshare`; the
//! mount paths are created on this machine as empty folders.

use crate::netns::Netns;
use axum::Router;
use axum::body::Bytes;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use pods::{Tty, attach, exec, run_pod};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

mod pods;

type Key = (String, String);

struct Run {
    netns: Arc<Netns>,
    /// The pod's containers whose process has ended: what was exec'd into them ends too.
    ended: tokio::sync::watch::Sender<Vec<String>>,
}

impl Drop for Run {
    /// The pod's processes end with it (the task waiting on them then lets the namespace go).
    fn drop(&mut self) {
        self.netns.kill_all();
    }
}

struct KubeState {
    namespace: String,
    root: PathBuf,
    objects: Mutex<BTreeMap<Key, Value>>,
    runs: Mutex<HashMap<String, Run>>,
    /// Every change, for watches: (resource, `ADDED` / `MODIFIED` / `DELETED`, the object).
    changes: tokio::sync::broadcast::Sender<(String, &'static str, Value)>,
    /// The terminal of each pod whose container runs on one (`tty: true`), for attach.
    ttys: Mutex<HashMap<String, Tty>>,
    requests: Mutex<Vec<String>>,
    next_uid: Mutex<u64>,
    /// Creations answered with an error instead: resource → (status, reason, message).
    refusals: Mutex<HashMap<String, (u16, String, String)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running stand-in API server. Dropping it ends every pod it runs.
pub struct FakeKube {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    pub namespace: String,
    state: Arc<KubeState>,
    server: tokio::task::JoinHandle<()>,
    _root: tempfile::TempDir,
}

impl FakeKube {
    pub async fn start(namespace: &str) -> FakeKube {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let state = Arc::new(KubeState {
            namespace: namespace.to_string(),
            root: root.path().to_path_buf(),
            objects: Mutex::new(BTreeMap::new()),
            runs: Mutex::new(HashMap::new()),
            ttys: Mutex::new(HashMap::new()),
            changes: tokio::sync::broadcast::channel(1024).0,
            requests: Mutex::new(Vec::new()),
            next_uid: Mutex::new(0),
            refusals: Mutex::new(HashMap::new()),
        });
        let shared = state.clone();
        let app = Router::new()
            .route("/api/v1/namespaces/{ns}/pods/{name}/exec", axum::routing::get(exec))
            .route("/api/v1/namespaces/{ns}/pods/{name}/attach", axum::routing::get(attach))
            .with_state(state.clone())
            .fallback(move |method: Method, uri: Uri, body: Bytes| {
                let state = shared.clone();
                async move { dispatch(&state, method, uri, body).await }
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("binding the stand-in Kubernetes API: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("local_addr: {e}"));
        // As a real API server's: no Nagle delay on small writes (a relay's frames).
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeKube {
            url: format!("http://{addr}"),
            namespace: namespace.to_string(),
            state,
            server,
            _root: root,
        }
    }

    /// A client of this API server, `namespace` its default.
    pub fn client(&self) -> kube::Client {
        let url = self.url.parse().unwrap_or_else(|e| panic!("{e}"));
        let mut config = kube::Config::new(url);
        config.default_namespace = self.namespace.clone();
        kube::Client::try_from(config).unwrap_or_else(|e| panic!("a client of the stand-in API: {e}"))
    }

    /// Every request as `METHOD /path`, in order.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.state.requests).clone()
    }

    /// Answer every creation of `plural` with this error from now on (`403`, `Forbidden`,
    /// `exceeded quota: …`), as a cluster's quota or admission would.
    pub fn refuse(&self, plural: &str, code: u16, reason: &str, message: &str) {
        lock(&self.state.refusals)
            .insert(plural.to_string(), (code, reason.to_string(), message.to_string()));
    }

    /// The objects of one resource (`pods`, `secrets`…) as stored.
    pub fn objects(&self, plural: &str) -> Vec<Value> {
        lock(&self.state.objects).iter().filter(|((p, _), _)| p == plural).map(|(_, v)| v.clone()).collect()
    }
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        self.server.abort();
        lock(&self.state.runs).clear();
    }
}

fn status(code: StatusCode, reason: &str, message: &str) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code.as_u16(),
    });
    (code, axum::Json(body)).into_response()
}

/// `apiVersion` and `kind` of a resource the stand-in keeps.
fn kind_of(plural: &str) -> Option<(&'static str, &'static str)> {
    Some(match plural {
        "configmaps" => ("v1", "ConfigMap"),
        "secrets" => ("v1", "Secret"),
        "persistentvolumeclaims" => ("v1", "PersistentVolumeClaim"),
        "pods" => ("v1", "Pod"),
        "networkpolicies" => ("networking.k8s.io/v1", "NetworkPolicy"),
        _ => return None,
    })
}

async fn dispatch(state: &Arc<KubeState>, method: Method, uri: Uri, body: Bytes) -> Response {
    lock(&state.requests).push(format!("{method} {}", uri.path()));
    let parts: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    let query: Vec<(String, String)> = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if method == Method::POST && uri.path() == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" {
        let mut review: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        review["status"] = json!({ "allowed": true });
        return (StatusCode::CREATED, axum::Json(review)).into_response();
    }
    // /api/v1/namespaces/{ns}/{plural}[/{name}[/{sub}]] or /apis/{group}/{v}/namespaces/…
    let rest = match parts.as_slice() {
        ["api", "v1", "namespaces", rest @ ..] => rest,
        ["apis", _, _, "namespaces", rest @ ..] => rest,
        _ => return status(StatusCode::NOT_FOUND, "NotFound", "the stand-in does not serve this path"),
    };
    let (ns, plural, name, sub) = match rest {
        [ns, plural] => (*ns, *plural, None, None),
        [ns, plural, name] => (*ns, *plural, Some(*name), None),
        [ns, plural, name, sub] => (*ns, *plural, Some(*name), Some(*sub)),
        _ => return status(StatusCode::NOT_FOUND, "NotFound", "the stand-in does not serve this path"),
    };
    if ns != state.namespace {
        return status(
            StatusCode::FORBIDDEN,
            "Forbidden",
            &format!("the stand-in serves namespace {}", state.namespace),
        );
    }
    let Some((api_version, kind)) = kind_of(plural) else {
        return status(StatusCode::NOT_FOUND, "NotFound", &format!("the stand-in does not keep {plural}"));
    };
    match (method, name, sub) {
        (Method::POST, None, None) => create(state, plural, api_version, kind, &body),
        (Method::GET, None, None) => list(state, plural, kind, &query),
        (Method::GET, Some(name), None) => {
            match lock(&state.objects).get(&(plural.to_string(), name.to_string())) {
                Some(v) => axum::Json(v.clone()).into_response(),
                None => status(StatusCode::NOT_FOUND, "NotFound", &format!("{plural} \"{name}\" not found")),
            }
        }
        (Method::DELETE, Some(name), None) => {
            let state = state.clone();
            let (plural, name) = (plural.to_string(), name.to_string());
            tokio::task::spawn_blocking(move || match delete(&state, &plural, &name) {
                Some(v) => axum::Json(v).into_response(),
                None => status(StatusCode::NOT_FOUND, "NotFound", &format!("{plural} \"{name}\" not found")),
            })
            .await
            .unwrap_or_else(|e| status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", &e.to_string()))
        }
        (Method::GET, Some(name), Some("log")) if plural == "pods" => {
            if !lock(&state.objects).contains_key(&("pods".to_string(), name.to_string())) {
                return status(StatusCode::NOT_FOUND, "NotFound", &format!("pods \"{name}\" not found"));
            }
            let container = query.iter().find(|(k, _)| k == "container").map_or("", |(_, v)| v.as_str());
            let Ok(text) =
                std::fs::read_to_string(state.root.join("logs").join(format!("{name}.{container}")))
            else {
                // As the API server: a container that has not started has no logs to show.
                return status(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    &format!(
                        "container \"{container}\" in pod \"{name}\" is waiting to start: PodInitializing"
                    ),
                );
            };
            let tail =
                query.iter().find(|(k, _)| k == "tailLines").and_then(|(_, v)| v.parse::<usize>().ok());
            let lines: Vec<&str> = text.lines().collect();
            let kept = tail.map_or(&lines[..], |n| &lines[lines.len().saturating_sub(n)..]);
            let mut out = kept.join("\n");
            if !out.is_empty() {
                out.push('\n');
            }
            out.into_response()
        }
        _ => status(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "the stand-in does not do this"),
    }
}

fn create(state: &Arc<KubeState>, plural: &str, api_version: &str, kind: &str, body: &[u8]) -> Response {
    if let Some((code, reason, message)) = lock(&state.refusals).get(plural).cloned() {
        return status(StatusCode::from_u16(code).unwrap_or(StatusCode::FORBIDDEN), &reason, &message);
    }
    let Ok(mut object) = serde_json::from_slice::<Value>(body) else {
        return status(StatusCode::BAD_REQUEST, "BadRequest", "the body is not JSON");
    };
    let Some(name) = object["metadata"]["name"].as_str().map(str::to_string) else {
        return status(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", "metadata.name is required");
    };
    let key = (plural.to_string(), name.clone());
    let mut objects = lock(&state.objects);
    if objects.contains_key(&key) {
        return status(StatusCode::CONFLICT, "AlreadyExists", &format!("{plural} \"{name}\" already exists"));
    }
    let uid = {
        let mut next = lock(&state.next_uid);
        *next += 1;
        format!("00000000-0000-4000-8000-{:012x}", *next)
    };
    object["apiVersion"] = json!(api_version);
    object["kind"] = json!(kind);
    object["metadata"]["uid"] = json!(uid);
    object["metadata"]["namespace"] = json!(state.namespace);
    object["metadata"]["resourceVersion"] = json!("1");
    object["metadata"]["creationTimestamp"] =
        json!(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string());
    if kind == "Secret"
        && let Some(strings) = object.get("stringData").and_then(Value::as_object).cloned()
    {
        for (k, v) in strings {
            let encoded = base64::engine::general_purpose::STANDARD.encode(v.as_str().unwrap_or_default());
            object["data"][k] = json!(encoded);
        }
        if let Some(o) = object.as_object_mut() {
            o.remove("stringData");
        }
    }
    if kind == "Pod" {
        object["status"] = json!({ "phase": "Pending" });
    }
    objects.insert(key, object.clone());
    let _ = state.changes.send((plural.to_string(), "ADDED", object.clone()));
    drop(objects);
    if kind == "Pod" {
        run_pod(state, &name, &object);
    }
    (StatusCode::CREATED, axum::Json(object)).into_response()
}

fn list(state: &KubeState, plural: &str, kind: &str, query: &[(String, String)]) -> Response {
    let selector = selector(query);
    let matches =
        move |v: &Value| selector.iter().all(|(k, want)| v["metadata"]["labels"][k].as_str() == Some(want));
    if query.iter().any(|(k, v)| k == "watch" && (v == "true" || v == "1")) {
        return watch(state, plural, matches);
    }
    let items: Vec<Value> = lock(&state.objects)
        .iter()
        .filter(|((p, _), _)| p == plural)
        .map(|(_, v)| v)
        .filter(|v| matches(v))
        .cloned()
        .collect();
    axum::Json(json!({
        "kind": format!("{kind}List"), "apiVersion": "v1",
        "metadata": {"resourceVersion": "1"}, "items": items,
    }))
    .into_response()
}

/// A watch: what there is now as `ADDED`, then every change, one JSON event per line.
fn watch(state: &KubeState, plural: &str, matches: impl Fn(&Value) -> bool + Send + 'static) -> Response {
    use futures_util::StreamExt;
    let changes = state.changes.subscribe();
    let now: Vec<Value> = lock(&state.objects)
        .iter()
        .filter(|((p, _), v)| p == plural && matches(v))
        .map(|(_, v)| json!({"type": "ADDED", "object": v}))
        .collect();
    let plural = plural.to_string();
    let later = futures_util::stream::unfold(
        (changes, plural, matches),
        |(mut changes, plural, matches)| async move {
            loop {
                match changes.recv().await {
                    Ok((p, kind, object)) if p == plural && matches(&object) => {
                        let event = json!({"type": kind, "object": object});
                        return Some((event, (changes, plural, matches)));
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return None,
                }
            }
        },
    );
    let lines = futures_util::stream::iter(now)
        .chain(later)
        .map(|event| Ok::<_, std::convert::Infallible>(format!("{event}\n")));
    Response::builder()
        .header("content-type", "application/json")
        .body(axum::body::Body::from_stream(lines))
        .unwrap_or_else(|e| status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", &e.to_string()))
}

/// `labelSelector=a=b,c=d` (equality only).
fn selector(query: &[(String, String)]) -> Vec<(String, String)> {
    query
        .iter()
        .find(|(k, _)| k == "labelSelector")
        .map(|(_, v)| {
            v.split(',')
                .filter_map(|pair| pair.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Remove the object and, as the garbage collector, every object it owns.
fn delete(state: &KubeState, plural: &str, name: &str) -> Option<Value> {
    let object = lock(&state.objects).remove(&(plural.to_string(), name.to_string()))?;
    let _ = state.changes.send((plural.to_string(), "DELETED", object.clone()));
    if plural == "pods" {
        lock(&state.runs).remove(name);
        lock(&state.ttys).remove(name);
    }
    if let Some(uid) = object["metadata"]["uid"].as_str() {
        let owned: Vec<Key> = lock(&state.objects)
            .iter()
            .filter(|(_, v)| {
                v["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|refs| refs.iter().any(|r| r["uid"].as_str() == Some(uid)))
            })
            .map(|(k, _)| k.clone())
            .collect();
        for (p, n) in owned {
            delete(state, &p, &n);
        }
    }
    Some(object)
}
