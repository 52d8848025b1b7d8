//! The objects of a Kubernetes session, as pure functions of the session and the settings: a
//! ConfigMap that stands for the session (every other object is owned by it, so deleting it
//! removes everything) and carries clauderon's CA certificate; a Secret with the session's proxy
//! identity and environment; two PersistentVolumeClaims (workspace, HOME); a NetworkPolicy that
//! lets the pod reach only the proxy (and DNS); the Pod, locked down.

use clauderon_backend::SessionSpec;
use clauderon_backend::env::{SessionView, session_env};
use clauderon_backend::session_files::session_command;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Secret};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde_json::json;
use std::collections::BTreeMap;

pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const LABEL_SESSION_ID: &str = "clauderon.dev/session-id";
pub const LABEL_SESSION_NAME: &str = "clauderon.dev/session-name";
pub const LABEL_SCOPE: &str = "clauderon.dev/scope";
pub const WORKSPACE: &str = "/workspace";
pub const HOME: &str = "/home/clauderon";
pub const FILES: &str = "/etc/clauderon";
/// The relay's ready file for a container (`/tmp` is the pod's, shared by its containers).
pub fn relay_ready_file(container: &str) -> String {
    format!("/tmp/.clauderon-relay-{container}")
}
pub const INIT_CONTAINER: &str = "clone";
pub const SESSION_CONTAINER: &str = "agent";

/// What the cluster side needs to know.
#[derive(Debug, Clone)]
pub struct KubeSettings {
    /// The kubeconfig context; `None`: the current one (or the in-cluster config).
    pub context: Option<String>,
    pub namespace: String,
    pub image: String,
    pub storage_class: Option<String>,
    /// The workspace volume's size (`10Gi`).
    pub workspace_size: String,
    /// How pods reach the proxy: through the daemon's own tunnel (`true`: a relay in the pod,
    /// the pod has no egress at all), or at `proxy_host:proxy_port`, a Service of an in-cluster
    /// daemon's proxy (`false`).
    pub tunnel: bool,
    /// The daemon's proxy port on its loopback, where the tunnel carries pods' connections (for
    /// sessions whose create this daemon did not see: after a restart).
    pub daemon_proxy_port: u16,
    /// The proxy as pods reach it without the tunnel: a Service's name
    /// (`clauderon-proxy.clauderon.svc`) and port.
    pub proxy_host: String,
    pub proxy_port: u16,
    /// The labels of the proxy's pods, for the NetworkPolicy's one egress rule.
    pub proxy_pod_labels: BTreeMap<String, String>,
    /// The daemon's scope label value (its data dir), so two daemons never adopt each other's.
    pub scope: String,
}

/// Where the session's repository comes from: its origin over HTTPS (through the proxy) and the
/// commit its worktree is at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Empty: no origin, the workspace starts empty.
    pub origin: String,
    pub commit: String,
    pub branch: String,
}

/// Everything created for a session, in creation order after the owner.
pub struct Objects {
    pub owner: ConfigMap,
    pub secret: Secret,
    pub volumes: [PersistentVolumeClaim; 2],
    pub network_policy: NetworkPolicy,
}

/// Kubernetes names: the session name is already `[a-z0-9-]`; the id keeps two daemons' sessions
/// of the same name apart.
pub fn object_name(spec: &SessionSpec) -> String {
    format!("clauderon-{}-{}", spec.name, spec.session_id.short())
}

pub fn labels(spec: &SessionSpec, scope: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_MANAGED_BY.to_string(), "clauderon".to_string()),
        (LABEL_SESSION_ID.to_string(), spec.session_id.to_string()),
        (LABEL_SESSION_NAME.to_string(), spec.name.to_string()),
        (LABEL_SCOPE.to_string(), scope_label(scope)),
    ])
}

/// A label value may hold 63 characters of `[A-Za-z0-9._-]`, starting and ending with an
/// alphanumeric: a data dir path, folded, its last 63 characters kept.
pub fn scope_label(scope: &str) -> String {
    let folded: Vec<char> = scope
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
        .collect();
    let tail: String = folded[folded.len().saturating_sub(63)..].iter().collect();
    tail.trim_matches(|c: char| !c.is_ascii_alphanumeric()).to_string()
}

fn from<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    // The JSON below is ours and matches the types: a mismatch is a bug caught by the tests.
    serde_json::from_value(v).unwrap_or_else(|e| panic!("a clauderon Kubernetes object does not parse: {e}"))
}

/// The owner, the Secret, the volumes and the NetworkPolicy (the Pod comes later, when the
/// owner's uid is known: [`pod`]).
pub fn objects(spec: &SessionSpec, s: &KubeSettings, ca_pem: &str, owner_uid: Option<&str>) -> Objects {
    let name = object_name(spec);
    let labels = labels(spec, &s.scope);
    let owned = owner_refs(&name, owner_uid);
    // Through the tunnel the session's proxy is the relay on the pod's loopback; else the
    // Service's port (not the daemon's own: that is where the daemon listens, not the pod).
    let mut spec = spec.clone();
    spec.proxy.port = if s.tunnel { clauderon_backend::tunnel::RELAY_PORT } else { s.proxy_port };
    let spec = &spec;
    let view = SessionView {
        proxy_host: if s.tunnel { "127.0.0.1" } else { &s.proxy_host },
        ca_cert: &format!("{FILES}/ca.pem"),
        ca_bundle: &format!("{FILES}/ca-bundle.pem"),
        home: HOME,
    };
    let env: BTreeMap<String, String> = session_env(spec, &view).into_iter().collect();
    let owner = from(json!({
        "metadata": {"name": name, "namespace": s.namespace, "labels": labels},
        "data": {
            "ca.pem": ca_pem,
            "ca-bundle.pem": clauderon_backend::env::ca_bundle(ca_pem),
            "relay.js": clauderon_backend::tunnel::RELAY,
        },
    }));
    let secret = from(json!({
        "metadata": {"name": name, "namespace": s.namespace, "labels": labels, "ownerReferences": owned},
        "type": "Opaque",
        "stringData": env,
    }));
    let volume = |suffix: &str, size: &str| {
        let mut spec_json = json!({
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": size}},
        });
        if let Some(class) = &s.storage_class {
            spec_json["storageClassName"] = json!(class);
        }
        from::<PersistentVolumeClaim>(json!({
            "metadata": {"name": format!("{name}-{suffix}"), "namespace": s.namespace, "labels": labels, "ownerReferences": owned},
            "spec": spec_json,
        }))
    };
    // Through the tunnel the pod needs no egress at all; else only the proxy's pods and DNS.
    let egress = if s.tunnel {
        json!([])
    } else {
        json!([
            {"to": [{"podSelector": {"matchLabels": s.proxy_pod_labels}}], "ports": [{"protocol": "TCP", "port": s.proxy_port}]},
            {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
             "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
        ])
    };
    let network_policy = from(json!({
        "metadata": {"name": name, "namespace": s.namespace, "labels": labels, "ownerReferences": owned},
        "spec": {
            "podSelector": {"matchLabels": {LABEL_SESSION_ID: spec.session_id.to_string()}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": egress,
        },
    }));
    Objects {
        owner,
        secret,
        volumes: [volume("work", &s.workspace_size), volume("home", "1Gi")],
        network_policy,
    }
}

fn owner_refs(name: &str, owner_uid: Option<&str>) -> serde_json::Value {
    match owner_uid {
        Some(uid) => {
            json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": name, "uid": uid, "blockOwnerDeletion": true}])
        }
        None => json!([]),
    }
}

/// The session's pod: an init container that clones the origin through the proxy into the
/// workspace volume the first time, then the agent, both non-root, no privilege, no
/// capabilities, RuntimeDefault seccomp, a read-only root filesystem (scratch in an emptyDir),
/// no service account token.
pub fn pod(spec: &SessionSpec, s: &KubeSettings, source: &Source, owner_uid: &str) -> Pod {
    let name = object_name(spec);
    let image = spec.options.image.clone().unwrap_or_else(|| s.image.clone());
    let security = json!({
        "runAsNonRoot": true,
        "runAsUser": 1000,
        "runAsGroup": 1000,
        "allowPrivilegeEscalation": false,
        "readOnlyRootFilesystem": true,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    });
    let mounts = json!([
        {"name": "work", "mountPath": WORKSPACE},
        {"name": "home", "mountPath": HOME},
        {"name": "files", "mountPath": FILES, "readOnly": true},
        {"name": "tmp", "mountPath": "/tmp"},
    ]);
    let env_from = json!([{"secretRef": {"name": name}}]);
    let clone = format!(
        "set -e; if [ -n \"$CLAUDERON_ORIGIN\" ] && [ ! -d {WORKSPACE}/.git ]; then \
         git clone --no-checkout \"$CLAUDERON_ORIGIN\" {WORKSPACE}; \
         git -C {WORKSPACE} checkout -b \"$CLAUDERON_BRANCH\" \"$CLAUDERON_BASE\"; fi"
    );
    // Through the tunnel a container waits for the daemon's relay before its command runs.
    let wrap = |container: &str, command: Vec<String>| -> Vec<String> {
        if !s.tunnel {
            return command;
        }
        let wait = format!(
            "until [ -e {ready} ]; do sleep 0.2; done; exec \"$@\"",
            ready = relay_ready_file(container)
        );
        [vec!["/bin/sh".to_string(), "-c".into(), wait, "clauderon-wait".into()], command].concat()
    };
    let mut resources = json!({});
    if let Some(m) = spec.options.milli_cpus {
        resources["requests"]["cpu"] = json!(format!("{m}m"));
        resources["limits"]["cpu"] = json!(format!("{m}m"));
    }
    if let Some(b) = spec.options.memory_bytes {
        resources["requests"]["memory"] = json!(b.to_string());
        resources["limits"]["memory"] = json!(b.to_string());
    }
    from(json!({
        "metadata": {
            "name": name, "namespace": s.namespace, "labels": labels(spec, &s.scope),
            "ownerReferences": owner_refs(&name, Some(owner_uid)),
        },
        "spec": {
            "automountServiceAccountToken": false,
            "restartPolicy": "Never",
            "securityContext": {"runAsNonRoot": true, "fsGroup": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
            "initContainers": [{
                "name": INIT_CONTAINER,
                "image": image,
                "command": wrap(INIT_CONTAINER, vec!["/bin/sh".into(), "-c".into(), clone]),
                "env": [
                    {"name": "CLAUDERON_ORIGIN", "value": source.origin},
                    {"name": "CLAUDERON_BASE", "value": source.commit},
                    {"name": "CLAUDERON_BRANCH", "value": source.branch},
                ],
                "envFrom": env_from,
                "securityContext": security,
                "volumeMounts": mounts,
            }],
            "containers": [{
                "name": SESSION_CONTAINER,
                "image": image,
                "command": wrap(SESSION_CONTAINER, session_command(spec)),
                "workingDir": WORKSPACE,
                "envFrom": env_from,
                "securityContext": security,
                "volumeMounts": mounts,
                "resources": resources,
                "stdin": true,
                "tty": true,
            }],
            "volumes": [
                {"name": "work", "persistentVolumeClaim": {"claimName": format!("{name}-work")}},
                {"name": "home", "persistentVolumeClaim": {"claimName": format!("{name}-home")}},
                {"name": "files", "configMap": {"name": name}},
                {"name": "tmp", "emptyDir": {}},
            ],
        },
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn settings(tunnel: bool) -> KubeSettings {
        KubeSettings {
            context: None,
            tunnel,
            daemon_proxy_port: 3128,
            namespace: "ns".into(),
            image: "img".into(),
            storage_class: None,
            workspace_size: "1Gi".into(),
            proxy_host: "proxy.ns.svc".into(),
            proxy_port: 8080,
            proxy_pod_labels: [("app".to_string(), "proxy".to_string())].into(),
            scope: "s".into(),
        }
    }

    #[test]
    fn through_the_tunnel_a_pod_has_no_egress_and_waits_for_the_relay() {
        let f = clauderon_backend::contract::Fixture::new("plan").unwrap();
        let tunnel = objects(&f.spec, &settings(true), "CA", Some("uid"));
        let egress = serde_json::to_value(&tunnel.network_policy).unwrap()["spec"]["egress"].clone();
        assert_eq!(egress, json!([]));
        let env = serde_json::to_value(&tunnel.secret).unwrap()["stringData"].clone();
        assert_eq!(env["HTTPS_PROXY"], "http://contract:contract-secret@127.0.0.1:3128");
        assert!(tunnel.owner.data.unwrap().contains_key("relay.js"));
        let source = Source { origin: String::new(), commit: String::new(), branch: String::new() };
        let tunnelled = serde_json::to_value(pod(&f.spec, &settings(true), &source, "uid")).unwrap();
        for (list, name) in [("initContainers", INIT_CONTAINER), ("containers", SESSION_CONTAINER)] {
            let command = tunnelled["spec"][list][0]["command"].to_string();
            assert!(
                command.contains(&relay_ready_file(name)),
                "{list} does not wait for its relay: {command}"
            );
        }
        // Without the tunnel: the Service, and egress to the proxy's pods and DNS only.
        let service = objects(&f.spec, &settings(false), "CA", Some("uid"));
        let env = serde_json::to_value(&service.secret).unwrap()["stringData"].clone();
        assert_eq!(env["HTTPS_PROXY"], "http://contract:contract-secret@proxy.ns.svc:8080");
        let egress = serde_json::to_value(&service.network_policy).unwrap()["spec"]["egress"].clone();
        assert_eq!(egress.as_array().unwrap().len(), 2);
        let direct = serde_json::to_value(pod(&f.spec, &settings(false), &source, "uid")).unwrap();
        assert!(!direct.to_string().contains(".clauderon-relay"), "{direct}");
    }

    #[test]
    fn a_scope_becomes_a_valid_label_value() {
        assert_eq!(scope_label("/home/me/.clauderon"), "home_me_.clauderon");
        let long = format!("/{}", "a/".repeat(60));
        let v = scope_label(&long);
        assert!(v.len() <= 63 && v.starts_with('a') && v.ends_with('a'), "{v}");
        assert!(v.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)), "{v}");
    }
}
