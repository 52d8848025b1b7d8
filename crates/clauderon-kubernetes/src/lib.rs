//! The Kubernetes backend (issue 17): a session is a Pod in a configurable namespace, with its
//! workspace and HOME on PersistentVolumeClaims, reaching only clauderon's proxy. See `plan` for
//! the objects; ARCHITECTURE.md for the choices (a Pod rather than a StatefulSet, the proxy as a
//! Service of an in-cluster daemon).
//!
//! Stop deletes the Pod and keeps the volumes; start makes the Pod again; delete removes the
//! owner ConfigMap and Kubernetes' garbage collector removes what it owns. The workspace is
//! cloned from the repository's origin through the proxy by an init container the first time:
//! the pod never holds a real token, only the session's proxy identity (in a Secret). Work comes
//! back by the agent pushing its branch through the proxy; the host's worktree does not see it.
//!
//! No API server runs on this machine: the tests drive the backend with kube's mock service
//! (`tower-test`) through the exact requests and answers, and say they are not a cluster;
//! `scripts/k8s-e2e.sh` runs the contract suite against a real cluster given a kubeconfig.

pub mod plan;
mod terminal;

use async_trait::async_trait;
use clauderon_backend::{
    AttachTarget, BackendError, BackendHandle, BackendResource, BackendStatus, SessionBackend, SessionSpec,
};
use clauderon_types::{BackendKind, SessionId};
use k8s_openapi::api::authorization::v1::SelfSubjectAccessReview;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Secret};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, AttachParams, DeleteParams, ListParams, LogParams, PostParams, PropagationPolicy};
use plan::{KubeSettings, Source};
use std::collections::HashMap;
use tokio::sync::OnceCell;

pub struct KubernetesBackend {
    settings: KubeSettings,
    client: std::sync::Arc<OnceCell<Result<kube::Client, String>>>,
    /// The daemon's proxy port each session's create saw (the proxy on the daemon's loopback).
    proxy_ports: std::sync::Mutex<HashMap<String, u16>>,
    /// The tunnel supervisor of each running session (tunnel mode).
    tunnels: std::sync::Mutex<HashMap<String, tokio::task::JoinHandle<()>>>,
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The client, made on first use from the kubeconfig's `context` (else its current one, else the
/// in-cluster config) and kept, or why there is none.
async fn connect(
    cell: &OnceCell<Result<kube::Client, String>>,
    context: Option<&str>,
) -> Result<kube::Client, String> {
    cell.get_or_init(|| async {
        let client = match context {
            None => kube::Client::try_default().await,
            Some(context) => {
                let options = kube::config::KubeConfigOptions {
                    context: Some(context.to_string()),
                    ..Default::default()
                };
                match kube::Config::from_kubeconfig(&options).await {
                    Ok(config) => kube::Client::try_from(config),
                    Err(e) => {
                        return Err(format!(
                            "not available here: kubeconfig context `{context}` cannot be used ({e}); \
                             check `kubectl config get-contexts` and [kubernetes] context"
                        ));
                    }
                }
            }
        };
        client.map_err(|e| {
            format!(
                "not available here: no Kubernetes cluster is configured ({e}); set KUBECONFIG or \
                 ~/.kube/config (kind or k3d for a local one), or use --backend docker"
            )
        })
    })
    .await
    .clone()
}

/// What a pod's state says about its session, for the status feed: the status and, when it
/// ended, how.
fn pod_change(pod: &Pod) -> (BackendStatus, String) {
    match pod_status(pod) {
        Ok(BackendStatus::Stopped) => {
            let status = pod.status.as_ref();
            let terminated = status
                .and_then(|s| s.container_statuses.as_ref())
                .into_iter()
                .flatten()
                .chain(status.and_then(|s| s.init_container_statuses.as_ref()).into_iter().flatten())
                .filter_map(|c| Some((c.name.clone(), c.state.as_ref()?.terminated.as_ref()?.exit_code)))
                .find(|(_, code)| *code != 0)
                .or_else(|| {
                    status.and_then(|s| s.container_statuses.as_ref()).into_iter().flatten().find_map(|c| {
                        Some((c.name.clone(), c.state.as_ref()?.terminated.as_ref()?.exit_code))
                    })
                });
            let reason = status.and_then(|s| s.reason.clone());
            let detail = match (terminated, reason) {
                (_, Some(reason)) => format!("the pod ended: {reason}"),
                (Some((container, code)), None) => format!("{container} exited with code {code}"),
                (None, None) => "the pod ended".into(),
            };
            (BackendStatus::Stopped, detail)
        }
        Ok(status) => (status, String::new()),
        // A pod that cannot start (its image, its config): not running, and why.
        Err(why) => (BackendStatus::Stopped, why),
    }
}

/// Follow the namespace's session pods (a watch, again after each end) and say each change of
/// status, until the receiver goes.
async fn follow_pods(
    cell: std::sync::Arc<OnceCell<Result<kube::Client, String>>>,
    settings: KubeSettings,
    tx: tokio::sync::mpsc::Sender<clauderon_backend::StatusChange>,
) {
    use futures_util::TryStreamExt;
    use kube::api::{WatchEvent, WatchParams};
    let Ok(client) = connect(&cell, settings.context.as_deref()).await else {
        // No cluster here: nothing to follow (creating a session says why).
        return;
    };
    let pods: Api<Pod> = Api::namespaced(client, &settings.namespace);
    let selector = format!(
        "{}=clauderon,{}={}",
        plan::LABEL_MANAGED_BY,
        plan::LABEL_SCOPE,
        plan::scope_label(&settings.scope)
    );
    let mut last: HashMap<String, BackendStatus> = HashMap::new();
    while !tx.is_closed() {
        let stream = match pods.watch(&WatchParams::default().labels(&selector), "0").await {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "watching the session pods; trying again");
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                continue;
            }
        };
        let mut stream = std::pin::pin!(stream.into_stream());
        while let Ok(Some(event)) = stream.try_next().await {
            let (pod, change) = match event {
                WatchEvent::Added(pod) | WatchEvent::Modified(pod) => {
                    let change = pod_change(&pod);
                    (pod, change)
                }
                WatchEvent::Deleted(pod) => (pod, (BackendStatus::Stopped, String::new())),
                WatchEvent::Bookmark(_) => continue,
                WatchEvent::Error(e) => {
                    tracing::info!(error = %e.message, "the pod watch ended; watching again");
                    break;
                }
            };
            let Some(name) = pod.metadata.name else { continue };
            if last.get(&name) == Some(&change.0) {
                continue;
            }
            last.insert(name.clone(), change.0);
            let sent = tx
                .send(clauderon_backend::StatusChange {
                    handle: BackendHandle(name),
                    status: change.0,
                    detail: change.1,
                })
                .await;
            if sent.is_err() {
                return;
            }
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// The container of the pod whose process runs now (the init container's clone, then the
/// session's), for the relay to go into.
fn running_container(pod: &Pod) -> Option<&'static str> {
    let status = pod.status.as_ref()?;
    let running = |list: Option<&Vec<k8s_openapi::api::core::v1::ContainerStatus>>, name: &str| {
        list.into_iter()
            .flatten()
            .any(|c| c.name == name && c.state.as_ref().is_some_and(|s| s.running.is_some()))
    };
    if running(status.init_container_statuses.as_ref(), plan::INIT_CONTAINER) {
        Some(plan::INIT_CONTAINER)
    } else if running(status.container_statuses.as_ref(), plan::SESSION_CONTAINER) {
        Some(plan::SESSION_CONTAINER)
    } else {
        None
    }
}

/// Keep a relay in the pod's running container, its stream carried to the daemon's proxy,
/// until the pod is gone or has ended.
async fn supervise_tunnel(pods: Api<Pod>, name: String, proxy: std::net::SocketAddr) {
    let mut quiet = std::time::Duration::from_millis(200);
    loop {
        let pod = match pods.get(&name).await {
            Ok(pod) => pod,
            Err(e) if is_missing(&e) => return,
            Err(e) => {
                tracing::warn!(pod = name, error = %e, "reading a pod for its proxy tunnel");
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                continue;
            }
        };
        let phase = pod.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
        if phase == "Succeeded" || phase == "Failed" {
            return;
        }
        let Some(container) = running_container(&pod) else {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            continue;
        };
        let ready = plan::relay_ready_file(container);
        let port = clauderon_backend::tunnel::RELAY_PORT.to_string();
        let command = ["node", &format!("{}/relay.js", plan::FILES), port.as_str(), ready.as_str()];
        let params = AttachParams::default().container(container).stdin(true).stdout(true).stderr(false);
        match pods.exec(&name, command, &params).await {
            Ok(mut process) => match (process.stdout(), process.stdin()) {
                (Some(stdout), Some(stdin)) => {
                    let ended = clauderon_backend::tunnel::carry_io(stdout, stdin, proxy, None).await;
                    tracing::info!(pod = name, container, ?ended, "a pod's proxy relay ended");
                    quiet = std::time::Duration::from_millis(200);
                }
                _ => tracing::warn!(pod = name, "the exec gave no streams for the proxy relay"),
            },
            Err(e) => {
                tracing::warn!(pod = name, container, error = %e, "starting the proxy relay in a pod");
                quiet = (quiet * 2).min(std::time::Duration::from_secs(5));
            }
        }
        tokio::time::sleep(quiet).await;
    }
}

fn failed(message: impl Into<String>) -> BackendError {
    BackendError::Failed { backend: BackendKind::Kubernetes, message: message.into() }
}

fn unavailable(reason: impl Into<String>) -> BackendError {
    BackendError::Unavailable { backend: BackendKind::Kubernetes, reason: reason.into() }
}

fn not_found(handle: &BackendHandle) -> BackendError {
    BackendError::NotFound { backend: BackendKind::Kubernetes, handle: handle.0.clone() }
}

/// An API error in words: RBAC and quota refusals say what to do.
fn api_error(e: kube::Error, what: &str) -> BackendError {
    match e {
        kube::Error::Api(s) if s.code == 403 && s.message.contains("exceeded quota") => failed(format!(
            "{what}: the namespace's ResourceQuota refuses it ({}); free some room or raise the quota",
            s.message
        )),
        kube::Error::Api(s) if s.code == 403 => unavailable(format!(
            "{what}: forbidden by the cluster's RBAC ({}); give clauderon's user the Role in the README",
            s.message
        )),
        kube::Error::Api(s) if s.code == 409 => failed(format!(
            "{what}: it already exists ({}): another clauderon data dir, or one left over; delete it with kubectl",
            s.message
        )),
        other => failed(format!("{what}: {other}")),
    }
}

fn is_missing(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// A pod's state as a session status: running (or starting), stopped (ended, evicted), or an
/// error that needs the user (an image that cannot be pulled, a bad config).
pub fn pod_status(pod: &Pod) -> Result<BackendStatus, String> {
    let status = pod.status.as_ref();
    let waiting = status
        .and_then(|s| s.container_statuses.as_ref().or(s.init_container_statuses.as_ref()))
        .into_iter()
        .flatten()
        .chain(status.and_then(|s| s.init_container_statuses.as_ref()).into_iter().flatten())
        .filter_map(|c| c.state.as_ref()?.waiting.as_ref())
        .find(|w| {
            matches!(
                w.reason.as_deref(),
                Some("ImagePullBackOff" | "ErrImagePull" | "InvalidImageName" | "CreateContainerConfigError")
            )
        });
    if let Some(w) = waiting {
        return Err(format!(
            "the pod cannot start: {} ({}); check the image ([kubernetes] image or --image) and the cluster's \
             access to its registry",
            w.reason.as_deref().unwrap_or_default(),
            w.message.as_deref().unwrap_or("no message")
        ));
    }
    Ok(match status.and_then(|s| s.phase.as_deref()) {
        Some("Running" | "Pending") | None => BackendStatus::Running,
        _ => BackendStatus::Stopped,
    })
}

impl KubernetesBackend {
    /// A backend that connects with the kubeconfig (or in-cluster config) on first use.
    pub fn new(settings: KubeSettings) -> Self {
        KubernetesBackend {
            settings,
            client: Default::default(),
            proxy_ports: Default::default(),
            tunnels: Default::default(),
        }
    }

    /// A backend on a given client (the tests' mock service).
    pub fn with_client(settings: KubeSettings, client: kube::Client) -> Self {
        KubernetesBackend {
            settings,
            client: std::sync::Arc::new(OnceCell::new_with(Some(Ok(client)))),
            proxy_ports: Default::default(),
            tunnels: Default::default(),
        }
    }

    /// Start the session's tunnel supervisor unless one runs (tunnel mode only).
    async fn ensure_tunnel(&self, handle: &BackendHandle) -> Result<(), BackendError> {
        if !self.settings.tunnel || lock(&self.tunnels).get(handle.as_str()).is_some_and(|t| !t.is_finished())
        {
            return Ok(());
        }
        let port =
            lock(&self.proxy_ports).get(handle.as_str()).copied().unwrap_or(self.settings.daemon_proxy_port);
        let proxy = std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, port));
        let task = tokio::spawn(supervise_tunnel(self.api::<Pod>().await?, handle.0.clone(), proxy));
        lock(&self.tunnels).insert(handle.0.clone(), task);
        Ok(())
    }

    /// The pods API, when the session's agent container runs (else why not, in words).
    async fn running_agent(&self, handle: &BackendHandle) -> Result<Api<Pod>, BackendError> {
        if self.owner(handle).await?.is_none() {
            return Err(not_found(handle));
        }
        match self.pod(handle).await? {
            None => Err(failed(format!(
                "session pod {} is stopped: `clauderon start` runs it again",
                handle.as_str()
            ))),
            Some(pod) if running_container(&pod) == Some(plan::SESSION_CONTAINER) => self.api().await,
            Some(_) => Err(failed(format!(
                "the agent in pod {} is not running (starting, or ended): `clauderon logs` shows its output",
                handle.as_str()
            ))),
        }
    }

    fn stop_tunnel(&self, handle: &BackendHandle) {
        if let Some(task) = lock(&self.tunnels).remove(handle.as_str()) {
            task.abort();
        }
    }

    async fn client(&self) -> Result<kube::Client, BackendError> {
        connect(&self.client, self.settings.context.as_deref()).await.map_err(unavailable)
    }

    async fn api<K>(&self) -> Result<Api<K>, BackendError>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Ok(Api::namespaced(self.client().await?, &self.settings.namespace))
    }

    async fn owner(&self, handle: &BackendHandle) -> Result<Option<ConfigMap>, BackendError> {
        match self.api::<ConfigMap>().await?.get(handle.as_str()).await {
            Ok(cm) => Ok(Some(cm)),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(api_error(e, "reading the session's ConfigMap")),
        }
    }

    async fn pod(&self, handle: &BackendHandle) -> Result<Option<Pod>, BackendError> {
        match self.api::<Pod>().await?.get(handle.as_str()).await {
            Ok(p) => Ok(Some(p)),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(api_error(e, "reading the session's pod")),
        }
    }

    /// The objects the owner owns: Secret, volumes, NetworkPolicy.
    async fn create_owned(&self, owned: &plan::Objects) -> Result<(), BackendError> {
        let pp = PostParams::default();
        self.api::<Secret>()
            .await?
            .create(&pp, &owned.secret)
            .await
            .map_err(|e| api_error(e, "creating its Secret"))?;
        for volume in &owned.volumes {
            self.api::<PersistentVolumeClaim>()
                .await?
                .create(&pp, volume)
                .await
                .map_err(|e| api_error(e, "creating its volume"))?;
        }
        self.api::<NetworkPolicy>()
            .await?
            .create(&pp, &owned.network_policy)
            .await
            .map_err(|e| api_error(e, "creating its NetworkPolicy"))?;
        Ok(())
    }

    /// Create the pod from what the owner ConfigMap keeps (the source, the session's labels).
    async fn make_pod(
        &self,
        owner: &ConfigMap,
        spec: &SessionSpec,
        source: &Source,
    ) -> Result<(), BackendError> {
        let uid =
            owner.metadata.uid.as_deref().ok_or_else(|| failed("the session's ConfigMap has no uid"))?;
        let pod = plan::pod(spec, &self.settings, source, uid);
        match self.api::<Pod>().await?.create(&PostParams::default(), &pod).await {
            Ok(_) => Ok(()),
            Err(e) => Err(api_error(e, "creating the session's pod")),
        }
    }
}

impl Drop for KubernetesBackend {
    /// The daemon is going: so do the tunnels it held (a relay ends when its stream closes).
    fn drop(&mut self) {
        for (_, task) in lock(&self.tunnels).drain() {
            task.abort();
        }
    }
}

/// `git` on the host, for the session's origin and commit: the hardened host-side git
/// ([`clauderon_backend::host_git`]), run before the session ever does.
async fn git(dir: &std::path::Path, args: &[&str]) -> Result<String, BackendError> {
    let mut cmd = tokio::process::Command::from(clauderon_backend::host_git::command(dir));
    let out = cmd.args(args).output().await.map_err(|e| failed(format!("running git: {e}")))?;
    if !out.status.success() {
        return Err(failed(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// An origin as the pod fetches it: HTTPS with no userinfo (a token written into the URL stays
/// on the host: it would be in the session's ConfigMap and the pod's spec), SSH remotes of the
/// known forges as HTTPS (as a session's gitconfig maps them). `None`: no HTTPS form known.
pub fn https_origin(remote: &str) -> Option<String> {
    if let Some(rest) = remote.strip_prefix("https://") {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        return (!host.is_empty()).then(|| format!("https://{host}/{path}"));
    }
    clauderon_backend::env::FORGES.iter().find_map(|forge| {
        [format!("git@{forge}:"), format!("ssh://git@{forge}/")]
            .iter()
            .find_map(|prefix| remote.strip_prefix(prefix.as_str()))
            .map(|path| format!("https://{forge}/{path}"))
    })
}

/// The session's source: the repository's origin (HTTPS: the pod clones it through the proxy,
/// which injects the token) and the worktree's commit.
/// A folder that is no repository, or one without an origin, gives an empty workspace.
pub async fn source_of(spec: &SessionSpec) -> Result<Source, BackendError> {
    let Ok(remote) = git(&spec.repo, &["remote", "get-url", "origin"]).await else {
        tracing::info!(session = %spec.name, "no origin: the session's workspace starts empty");
        return Ok(Source { origin: String::new(), commit: String::new(), branch: String::new() });
    };
    let Some(origin) = https_origin(&remote) else {
        // The remote is not repeated: it may carry a token.
        return Err(failed(
            "a Kubernetes session clones the origin through clauderon's proxy, which needs HTTPS, and the \
             repository's origin is neither https:// nor an SSH remote of GitHub, GitLab or Bitbucket: set an \
             https:// origin (git remote set-url origin https://…)",
        ));
    };
    let commit = git(&spec.worktree, &["rev-parse", "HEAD"]).await?;
    let branch = git(&spec.worktree, &["rev-parse", "--abbrev-ref", "HEAD"]).await?;
    Ok(Source { origin, commit, branch })
}

#[async_trait]
impl SessionBackend for KubernetesBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Kubernetes
    }

    /// The cluster answers, and RBAC lets clauderon do what sessions need in the namespace.
    async fn check(&self) -> Result<(), BackendError> {
        let client = self.client().await?;
        let reviews: Api<SelfSubjectAccessReview> = Api::all(client);
        let mut needs: Vec<(&str, &str, &str)> = vec![
            ("create", "", "configmaps"),
            ("delete", "", "configmaps"),
            ("create", "", "secrets"),
            ("create", "", "persistentvolumeclaims"),
            ("create", "", "pods"),
            ("get", "", "pods/log"),
            ("create", "", "pods/attach"),
            ("create", "networking.k8s.io", "networkpolicies"),
        ];
        if self.settings.tunnel {
            // The relay goes into the pod through exec.
            needs.push(("create", "", "pods/exec"));
        }
        for (verb, group, resource) in needs {
            let (resource, sub) = resource.split_once('/').map_or((resource, None), |(r, s)| (r, Some(s)));
            let review: SelfSubjectAccessReview = serde_json::from_value(serde_json::json!({
                "spec": {"resourceAttributes": {
                    "namespace": self.settings.namespace, "verb": verb, "group": group,
                    "resource": resource, "subresource": sub,
                }},
            }))
            .map_err(|e| failed(e.to_string()))?;
            let answer = reviews.create(&PostParams::default(), &review).await.map_err(|e| {
                unavailable(format!("the cluster does not answer ({e}); check the kubeconfig's context"))
            })?;
            if !answer.status.is_some_and(|s| s.allowed) {
                let what = sub.map_or(resource.to_string(), |s| format!("{resource}/{s}"));
                return Err(unavailable(format!(
                    "RBAC does not let clauderon {verb} {what} in namespace `{}`: give its user the Role in the README",
                    self.settings.namespace
                )));
            }
        }
        Ok(())
    }

    async fn create(&self, spec: &SessionSpec) -> Result<BackendHandle, BackendError> {
        let source = source_of(spec).await?;
        let ca_pem = std::fs::read_to_string(&spec.proxy.ca_cert)
            .map_err(|e| failed(format!("reading clauderon's CA certificate: {e}")))?;
        let name = plan::object_name(spec);
        let first = plan::objects(spec, &self.settings, &ca_pem, None);
        let mut owner = first.owner;
        owner.data.get_or_insert_default().extend([
            ("origin".to_string(), source.origin.clone()),
            ("commit".to_string(), source.commit.clone()),
            ("branch".to_string(), source.branch.clone()),
            ("spec".to_string(), serde_json::to_string(&spec_record(spec)).unwrap_or_default()),
        ]);
        let owner = self
            .api::<ConfigMap>()
            .await?
            .create(&PostParams::default(), &owner)
            .await
            .map_err(|e| api_error(e, "creating the session's ConfigMap"))?;
        let uid = owner.metadata.uid.clone();
        let owned = plan::objects(spec, &self.settings, &ca_pem, uid.as_deref());
        let handle = BackendHandle(name);
        lock(&self.proxy_ports).insert(handle.0.clone(), spec.proxy.port);
        if let Err(e) = self.create_owned(&owned).await {
            // Nothing half-made is left: the owner takes what was made with it.
            if let Err(cleanup) = self.delete(&handle).await {
                tracing::warn!(handle = handle.as_str(), error = %cleanup, "removing a half-created session");
            }
            return Err(e);
        }
        Ok(handle)
    }

    async fn start(&self, handle: &BackendHandle) -> Result<(), BackendError> {
        let owner = self.owner(handle).await?.ok_or_else(|| not_found(handle))?;
        if self.pod(handle).await?.is_some() {
            return Ok(());
        }
        let data = owner.data.clone().unwrap_or_default();
        let get = |k: &str| data.get(k).cloned().unwrap_or_default();
        let spec: SessionSpec = spec_from_record(&get("spec"))?;
        let source = Source { origin: get("origin"), commit: get("commit"), branch: get("branch") };
        self.make_pod(&owner, &spec, &source).await?;
        self.ensure_tunnel(handle).await
    }

    async fn stop(&self, handle: &BackendHandle) -> Result<(), BackendError> {
        if self.owner(handle).await?.is_none() {
            return Err(not_found(handle));
        }
        self.stop_tunnel(handle);
        match self.api::<Pod>().await?.delete(handle.as_str(), &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(e) if is_missing(&e) => Ok(()),
            Err(e) => Err(api_error(e, "deleting the session's pod")),
        }
    }

    async fn delete(&self, handle: &BackendHandle) -> Result<(), BackendError> {
        self.stop_tunnel(handle);
        let params =
            DeleteParams { propagation_policy: Some(PropagationPolicy::Background), ..Default::default() };
        match self.api::<ConfigMap>().await?.delete(handle.as_str(), &params).await {
            Ok(_) => Ok(()),
            Err(e) if is_missing(&e) => Ok(()),
            Err(e) => Err(api_error(e, "deleting the session")),
        }
    }

    async fn status(&self, handle: &BackendHandle) -> Result<BackendStatus, BackendError> {
        if self.owner(handle).await?.is_none() {
            return Ok(BackendStatus::Missing);
        }
        let status = match self.pod(handle).await? {
            None => BackendStatus::Stopped,
            Some(pod) => pod_status(&pod).map_err(failed)?,
        };
        // A running pod always has its proxy: after a daemon restart the tunnel is opened
        // again here, where the session manager first looks at the session.
        if status == BackendStatus::Running {
            self.ensure_tunnel(handle).await?;
        }
        Ok(status)
    }

    async fn attach_target(&self, handle: &BackendHandle) -> Result<AttachTarget, BackendError> {
        if self.owner(handle).await?.is_none() {
            return Err(not_found(handle));
        }
        Ok(AttachTarget::Command {
            program: "kubectl".into(),
            args: vec![
                "attach".into(),
                "--stdin".into(),
                "--tty".into(),
                "--namespace".into(),
                self.settings.namespace.clone(),
                handle.0.clone(),
                "--container".into(),
                "agent".into(),
            ],
        })
    }

    fn agent_workdir(&self, _worktree: &std::path::Path) -> std::path::PathBuf {
        std::path::PathBuf::from(plan::WORKSPACE)
    }

    /// The session pods' changes from a watch (a pod whose agent exits, one evicted, one whose
    /// image cannot be pulled): sessions follow them without polling.
    fn watch(&self) -> Option<tokio::sync::mpsc::Receiver<clauderon_backend::StatusChange>> {
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(follow_pods(self.client.clone(), self.settings.clone(), tx));
        Some(rx)
    }

    async fn terminal(
        &self,
        handle: &BackendHandle,
    ) -> Result<Option<clauderon_backend::Terminal>, BackendError> {
        let pods = self.running_agent(handle).await?;
        terminal::open(pods, handle.as_str()).await.map(Some)
    }

    async fn send_input(&self, handle: &BackendHandle, text: &str) -> Result<(), BackendError> {
        let pods = self.running_agent(handle).await?;
        terminal::send(pods, handle.as_str(), text).await
    }

    async fn logs(&self, handle: &BackendHandle, tail: usize) -> Result<String, BackendError> {
        if self.owner(handle).await?.is_none() {
            return Err(not_found(handle));
        }
        let params = |container: &str| LogParams {
            container: Some(container.into()),
            tail_lines: Some(i64::try_from(tail).unwrap_or(i64::MAX)),
            ..Default::default()
        };
        let pods = self.api::<Pod>().await?;
        let waiting = |e: &kube::Error| matches!(e, kube::Error::Api(s) if s.code == 400);
        match pods.logs(handle.as_str(), &params(plan::SESSION_CONTAINER)).await {
            Ok(text) => Ok(text),
            // No pod: stopped, nothing to show.
            Err(e) if is_missing(&e) => Ok(String::new()),
            // The agent has not started (its workspace is being cloned, or the clone failed):
            // what the init container said is the news.
            Err(e) if waiting(&e) => match pods.logs(handle.as_str(), &params(plan::INIT_CONTAINER)).await {
                Ok(text) => Ok(text),
                Err(e) if waiting(&e) || is_missing(&e) => Ok(String::new()),
                Err(e) => Err(api_error(e, "reading the pod's logs")),
            },
            Err(e) => Err(api_error(e, "reading the pod's logs")),
        }
    }

    /// Sessions found by their labels (the ConfigMaps; a running pod makes one running): what a
    /// daemon reconciles at start.
    async fn list(&self) -> Result<Vec<BackendResource>, BackendError> {
        let selector = format!(
            "{}=clauderon,{}={}",
            plan::LABEL_MANAGED_BY,
            plan::LABEL_SCOPE,
            plan::scope_label(&self.settings.scope)
        );
        let lp = ListParams::default().labels(&selector);
        let owners =
            self.api::<ConfigMap>().await?.list(&lp).await.map_err(|e| api_error(e, "listing sessions"))?;
        let pods = self.api::<Pod>().await?.list(&lp).await.map_err(|e| api_error(e, "listing pods"))?;
        Ok(owners
            .items
            .into_iter()
            .filter_map(|cm| {
                let name = cm.metadata.name?;
                let labels = cm.metadata.labels.unwrap_or_default();
                let pod = pods.items.iter().find(|p| p.metadata.name.as_deref() == Some(name.as_str()));
                Some(BackendResource {
                    session_id: labels.get(plan::LABEL_SESSION_ID).and_then(|v| v.parse::<SessionId>().ok()),
                    status: pod
                        .map_or(BackendStatus::Stopped, |p| pod_status(p).unwrap_or(BackendStatus::Stopped)),
                    detail: format!("namespace {}", self.settings.namespace),
                    handle: BackendHandle(name),
                })
            })
            .collect())
    }
}

/// What a later start needs of the spec, kept in the owner ConfigMap (no secret: the proxy
/// identity is in the Secret, which the pod reads).
fn spec_record(spec: &SessionSpec) -> serde_json::Value {
    serde_json::json!({
        "session_id": spec.session_id.to_string(),
        "name": spec.name.to_string(),
        "agent": spec.agent.to_string(),
        "prompt": spec.prompt,
        "options": spec.options,
    })
}

fn spec_from_record(text: &str) -> Result<SessionSpec, BackendError> {
    let bad = |what: &str| {
        failed(format!("the session's ConfigMap is damaged ({what}): delete the session and create it again"))
    };
    let v: serde_json::Value = serde_json::from_str(text).map_err(|_| bad("spec"))?;
    let s = |k: &str| v[k].as_str().ok_or_else(|| bad(k));
    Ok(SessionSpec {
        session_id: s("session_id")?.parse().map_err(|_| bad("session id"))?,
        name: clauderon_types::SessionName::parse(s("name")?).map_err(|_| bad("name"))?,
        worktree: std::path::PathBuf::from(plan::WORKSPACE),
        repo: std::path::PathBuf::from(plan::WORKSPACE),
        agent: s("agent")?.parse().map_err(|_| bad("agent"))?,
        prompt: s("prompt")?.to_string(),
        options: serde_json::from_value(v["options"].clone()).map_err(|_| bad("options"))?,
        home: std::path::PathBuf::from(plan::HOME),
        placeholders: Vec::new(),
        proxy: clauderon_backend::ProxyAccess {
            user: String::new(),
            secret: String::new(),
            port: 0,
            ca_cert: std::path::PathBuf::new(),
        },
    })
}
