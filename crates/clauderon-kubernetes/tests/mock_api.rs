//! The Kubernetes backend against kube's mock service (`tower-test`): NOT a cluster — no API
//! server can run on this machine. Each test plays the API server's side request by request:
//! it checks the method, path and body clauderon sends and answers as the API does (201 with the
//! object and a uid, 404 / 409 / 403 Status objects). What the objects must hold is asserted on
//! the bodies: the pod locked down, no service account token, only placeholders and the session's
//! proxy identity (in a Secret), owner references to the session's ConfigMap, a NetworkPolicy
//! that reaches only the proxy. `scripts/k8s-e2e.sh` runs the contract suite on a real cluster.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use clauderon_backend::{
    BackendError, BackendHandle, BackendStatus, ProxyAccess, SessionBackend, SessionSpec,
};
use clauderon_kubernetes::KubernetesBackend;
use clauderon_kubernetes::plan::KubeSettings;
use clauderon_testkit::TestRepo;
use clauderon_types::{AgentKind, SessionId, SessionName, SessionOptions};
use serde_json::{Value, json};
use std::collections::BTreeMap;

type Handle = tower_test::mock::Handle<http::Request<kube::client::Body>, http::Response<kube::client::Body>>;

const NS: &str = "clauderon";
const SECRET: &str = "session-proxy-secret-42aa";
const REAL_KEY: &str = "sk-ant-REAL-never-in-a-pod";

fn settings() -> KubeSettings {
    KubeSettings {
        context: None,
        tunnel: false,
        daemon_proxy_port: 9,
        namespace: NS.into(),
        image: "clauderon-agent:test".into(),
        storage_class: Some("fast".into()),
        workspace_size: "10Gi".into(),
        proxy_host: "clauderon-proxy.clauderon.svc".into(),
        proxy_port: 3128,
        proxy_pod_labels: BTreeMap::from([("app.kubernetes.io/name".into(), "clauderon-proxy".into())]),
        scope: "/home/me/.clauderon".into(),
    }
}

fn backend() -> (KubernetesBackend, Handle) {
    let (service, handle) =
        tower_test::mock::pair::<http::Request<kube::client::Body>, http::Response<kube::client::Body>>();
    (KubernetesBackend::with_client(settings(), kube::Client::new(service, NS)), handle)
}

/// Take the next request and answer `status` with what `answer` makes of its JSON body
/// (`Null` when empty); returns its method, path and body.
async fn respond(
    handle: &mut Handle,
    status: u16,
    answer: impl FnOnce(&Value) -> Value,
) -> (String, String, Value) {
    let (request, reply) = handle.next_request().await.expect("clauderon sent no request");
    let (method, path) = (request.method().to_string(), request.uri().path().to_string());
    let bytes = request.into_body().collect_bytes().await.unwrap();
    let sent = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
    let body = kube::client::Body::from(serde_json::to_vec(&answer(&sent)).unwrap());
    reply.send_response(http::Response::builder().status(status).body(body).unwrap());
    (method, path, sent)
}

/// The next request must be `method path`: answered `status` with `body`; returns what was sent.
async fn expect(handle: &mut Handle, method: &str, path: &str, status: u16, body: Value) -> Value {
    let (m, p, sent) = respond(handle, status, |_| body).await;
    assert_eq!((m.as_str(), p.as_str()), (method, path));
    sent
}

/// The next request must read the session's `kind` object (`configmaps`, `pods`): answered
/// `status` with `body`.
async fn get(handle: &mut Handle, kind: &str, session: &BackendHandle, status: u16, body: Value) {
    let path = format!("/api/v1/namespaces/{NS}/{kind}/{}", session.as_str());
    expect(handle, "GET", &path, status, body).await;
}

/// The next request is a create: answered 201 as the API server does, the object back with `uid`.
async fn created_with(handle: &mut Handle, uid: &str) -> (String, Value) {
    let (method, path, sent) = respond(handle, 201, |sent| created(sent.clone(), uid)).await;
    assert_eq!(method, "POST", "{path}");
    (path, sent)
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason, "message": message})
}

/// The object as the API server answers a create: what was sent, with a uid.
fn created(mut sent: Value, uid: &str) -> Value {
    sent["metadata"]["uid"] = json!(uid);
    sent
}

fn spec(repo: &TestRepo, ca: &std::path::Path) -> SessionSpec {
    SessionSpec {
        session_id: SessionId::new(),
        name: SessionName::parse("kube-s").unwrap(),
        worktree: repo.path().to_path_buf(),
        repo: repo.path().to_path_buf(),
        agent: AgentKind::Claude,
        prompt: "Fix the bug".into(),
        options: SessionOptions { milli_cpus: Some(1500), memory_bytes: Some(2 << 30), ..Default::default() },
        home: repo.path().to_path_buf(),
        placeholders: vec![("ANTHROPIC_API_KEY".into(), "clauderon-placeholder".into())],
        proxy: ProxyAccess {
            user: "kube-s".into(),
            secret: SECRET.into(),
            port: 3128,
            ca_cert: ca.to_path_buf(),
        },
    }
}

fn repo_with_origin() -> TestRepo {
    let repo = TestRepo::new().unwrap();
    repo.git(&["remote", "add", "origin", "https://github.com/acme/widgets.git"]).unwrap();
    repo
}

fn ca_file(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").unwrap();
    ca
}

#[tokio::test]
async fn create_and_start_send_locked_down_objects_owned_by_the_session() {
    let (backend, mut api) = backend();
    let repo = repo_with_origin();
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(&repo, &ca_file(&dir));
    let base = format!("/api/v1/namespaces/{NS}");
    // Each create is answered as the API server does: the object back, with a uid.
    let (create, answers) = tokio::join!(backend.create(&spec), async {
        let mut got = Vec::new();
        for _ in 0..5 {
            got.push(created_with(&mut api, "owner-uid-1").await);
        }
        got
    });
    let handle = create.unwrap();
    let paths: Vec<&str> = answers.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            format!("{base}/configmaps").as_str(),
            &format!("{base}/secrets"),
            &format!("{base}/persistentvolumeclaims"),
            &format!("{base}/persistentvolumeclaims"),
            &format!("/apis/networking.k8s.io/v1/namespaces/{NS}/networkpolicies"),
        ]
    );
    let (owner, secret, work, _home, policy) =
        (&answers[0].1, &answers[1].1, &answers[2].1, &answers[3].1, &answers[4].1);
    assert_eq!(owner["metadata"]["labels"]["app.kubernetes.io/managed-by"], "clauderon");
    assert_eq!(owner["data"]["origin"], "https://github.com/acme/widgets.git");
    assert!(owner["data"]["ca.pem"].as_str().unwrap().contains("BEGIN CERTIFICATE"));
    for (what, object) in [("secret", secret), ("volume", work), ("policy", policy)] {
        let refs = &object["metadata"]["ownerReferences"];
        assert_eq!(refs[0]["uid"], "owner-uid-1", "{what} is not owned by the session: {object}");
        assert_eq!(refs[0]["kind"], "ConfigMap");
    }
    // The secret holds the session's proxy identity and placeholders: never a real key.
    let env = &secret["stringData"];
    assert_eq!(env["HTTPS_PROXY"], format!("http://kube-s:{SECRET}@clauderon-proxy.clauderon.svc:3128"));
    assert_eq!(env["ANTHROPIC_API_KEY"], "clauderon-placeholder");
    assert_eq!(work["spec"]["storageClassName"], "fast");
    assert_eq!(work["spec"]["resources"]["requests"]["storage"], "10Gi");
    // Egress: the proxy's pods on its port, and DNS; no ingress at all.
    let egress = policy["spec"]["egress"].as_array().unwrap();
    assert_eq!(egress.len(), 2, "{policy}");
    assert_eq!(egress[0]["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"], "clauderon-proxy");
    assert_eq!(egress[0]["ports"][0]["port"], 3128);
    assert_eq!(egress[1]["ports"][0]["port"], 53);
    assert_eq!(policy["spec"]["ingress"], json!([]));
    assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress", "Egress"]));

    // Start: the pod, made from what the ConfigMap keeps.
    let stored = created(owner.clone(), "owner-uid-1");
    let (started, pod) = tokio::join!(backend.start(&handle), async {
        get(&mut api, "configmaps", &handle, 200, stored.clone()).await;
        get(&mut api, "pods", &handle, 404, status(404, "NotFound", "no pod")).await;
        let (path, pod) = created_with(&mut api, "pod-uid").await;
        assert_eq!(path, format!("{base}/pods"));
        pod
    });
    started.unwrap();
    let spec_json = &pod["spec"];
    assert_eq!(spec_json["automountServiceAccountToken"], false, "{pod}");
    assert_eq!(pod["metadata"]["ownerReferences"][0]["uid"], "owner-uid-1");
    for container in [&spec_json["initContainers"][0], &spec_json["containers"][0]] {
        let sc = &container["securityContext"];
        assert_eq!(sc["runAsNonRoot"], true, "{container}");
        assert_eq!(sc["allowPrivilegeEscalation"], false);
        assert_eq!(sc["readOnlyRootFilesystem"], true);
        assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
        assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
        assert_eq!(container["envFrom"][0]["secretRef"]["name"], handle.as_str());
    }
    let agent = &spec_json["containers"][0];
    assert_eq!(agent["resources"]["limits"]["cpu"], "1500m");
    assert_eq!(agent["resources"]["limits"]["memory"], (2u64 << 30).to_string());
    let init = &spec_json["initContainers"][0];
    assert!(init["command"][2].as_str().unwrap().contains("git clone"), "{init}");
    let everything = format!("{answers:?}{pod}");
    assert!(!everything.contains(REAL_KEY));
    assert!(!pod.to_string().contains(SECRET), "the proxy secret belongs in the Secret, not the pod spec");
}

#[tokio::test]
async fn status_follows_the_pod_and_an_image_that_cannot_be_pulled_says_so() {
    let (backend, mut api) = backend();
    let handle = BackendHandle("clauderon-kube-s-1".into());
    let owner = json!({"metadata": {"name": handle.as_str(), "uid": "u"}});
    let pod = |status: Value| json!({"metadata": {"name": handle.as_str()}, "status": status});
    let cases = [
        (pod(json!({"phase": "Running"})), Ok(BackendStatus::Running)),
        (
            pod(json!({"phase": "Failed", "reason": "Evicted", "message": "The node was low on memory."})),
            Ok(BackendStatus::Stopped),
        ),
        (
            pod(
                json!({"phase": "Pending", "containerStatuses": [{"name": "agent", "image": "x", "imageID": "", "ready": false,
                "restartCount": 0, "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"nope:1\""}}}]}),
            ),
            Err("ImagePullBackOff"),
        ),
    ];
    for (answer, want) in cases {
        let (got, ()) = tokio::join!(backend.status(&handle), async {
            get(&mut api, "configmaps", &handle, 200, owner.clone()).await;
            get(&mut api, "pods", &handle, 200, answer.clone()).await;
        });
        match want {
            Ok(s) => assert_eq!(got.unwrap(), s, "{answer}"),
            Err(reason) => {
                let err = got.unwrap_err().to_string();
                assert!(err.contains(reason) && err.contains("image"), "{err}");
            }
        }
    }
    // No ConfigMap: the session is gone (missing, not an error); no pod: stopped.
    let (got, ()) = tokio::join!(backend.status(&handle), async {
        get(&mut api, "configmaps", &handle, 404, status(404, "NotFound", "gone")).await;
    });
    assert_eq!(got.unwrap(), BackendStatus::Missing);
    let (got, ()) = tokio::join!(backend.status(&handle), async {
        get(&mut api, "configmaps", &handle, 200, owner.clone()).await;
        get(&mut api, "pods", &handle, 404, status(404, "NotFound", "no pod")).await;
    });
    assert_eq!(got.unwrap(), BackendStatus::Stopped);
}

#[tokio::test]
async fn delete_is_idempotent_and_lets_the_collector_remove_what_the_session_owns() {
    let (backend, mut api) = backend();
    let handle = BackendHandle("clauderon-kube-s-1".into());
    let path = format!("/api/v1/namespaces/{NS}/configmaps/{}", handle.as_str());
    let (first, params) = tokio::join!(backend.delete(&handle), async {
        expect(&mut api, "DELETE", &path, 200, json!({"kind": "Status", "status": "Success"})).await
    });
    first.unwrap();
    assert_eq!(params["propagationPolicy"], "Background", "{params}");
    let (again, _) = tokio::join!(backend.delete(&handle), async {
        expect(&mut api, "DELETE", &path, 404, status(404, "NotFound", "configmaps not found")).await
    });
    again.unwrap();
}

#[tokio::test]
async fn conflicts_quota_and_rbac_refusals_say_what_to_do() {
    let (backend, mut api) = backend();
    let repo = repo_with_origin();
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(&repo, &ca_file(&dir));
    let base = format!("/api/v1/namespaces/{NS}");
    let (create, _) = tokio::join!(backend.create(&spec), async {
        expect(
            &mut api,
            "POST",
            &format!("{base}/configmaps"),
            409,
            status(409, "AlreadyExists", "configmaps \"x\" already exists"),
        )
        .await
    });
    let err = create.unwrap_err().to_string();
    assert!(err.contains("already exists") && err.contains("kubectl"), "{err}");

    // A start over the namespace's quota.
    let handle = BackendHandle("clauderon-kube-s-1".into());
    let owner = json!({"metadata": {"name": handle.as_str(), "uid": "u"}, "data": {
        "origin": "https://github.com/acme/widgets.git", "commit": "abc", "branch": "main",
        "spec": serde_json::json!({"session_id": SessionId::new().to_string(), "name": "kube-s", "agent": "claude",
            "prompt": "go", "options": {}}).to_string(),
    }});
    let (start, _) = tokio::join!(backend.start(&handle), async {
        get(&mut api, "configmaps", &handle, 200, owner.clone()).await;
        get(&mut api, "pods", &handle, 404, status(404, "NotFound", "no")).await;
        expect(&mut api, "POST", &format!("{base}/pods"), 403,
            status(403, "Forbidden", "pods \"x\" is forbidden: exceeded quota: compute, requested: cpu=2, used: cpu=4, limited: cpu=4")).await
    });
    let err = start.unwrap_err().to_string();
    assert!(err.contains("ResourceQuota") && err.contains("exceeded quota"), "{err}");

    // check(): RBAC lets it create ConfigMaps but not pods.
    let (check, ()) = tokio::join!(backend.check(), async {
        let path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
        for _ in 0..4 {
            let sent =
                expect(&mut api, "POST", path, 201, json!({"spec": {}, "status": {"allowed": true}})).await;
            assert_eq!(sent["spec"]["resourceAttributes"]["namespace"], NS);
        }
        let sent =
            expect(&mut api, "POST", path, 201, json!({"spec": {}, "status": {"allowed": false}})).await;
        assert_eq!(
            (
                sent["spec"]["resourceAttributes"]["verb"].as_str(),
                sent["spec"]["resourceAttributes"]["resource"].as_str()
            ),
            (Some("create"), Some("pods"))
        );
    });
    match check {
        Err(BackendError::Unavailable { reason, .. }) => {
            assert!(reason.contains("RBAC does not let clauderon create pods"), "{reason}")
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn an_origin_that_is_not_https_is_refused_before_anything_is_sent() {
    let (backend, _api) = backend();
    let repo = TestRepo::new().unwrap();
    repo.git(&["remote", "add", "origin", "deploy@git.example.com:acme/widgets.git"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let err = backend.create(&spec(&repo, &ca_file(&dir))).await.unwrap_err().to_string();
    assert!(err.contains("https://") && err.contains("git remote set-url"), "{err}");
    assert!(!err.contains("deploy@"), "the remote (which may hold a token) is repeated: {err}");
}
