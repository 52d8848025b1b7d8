//! The client's transport and decoding against a stand-in for the daemon: a small axum app
//! that answers the way the API is specified and records what it was sent. It is not the
//! daemon; the real daemon is exercised end to end through the CLI in `crates/clauderon/tests`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use clauderon_client::{Client, ClientError, Endpoint, Timeouts};
use clauderon_types::api::{
    AuditList, CreateSessionRequest, CredentialList, CredentialView, DeleteQuery, ErrorBody, ListView,
    SessionDetail, SessionList, SetAccessModeRequest, VersionInfo, WorktreeInfo,
};
use clauderon_types::audit::{AuditEntry, Decision};
use clauderon_types::{AccessMode, AgentKind, BackendKind, Session, SessionId, SessionName, SessionStatus};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as the stand-in received it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    host: Option<String>,
    accept: Option<String>,
    authorization: Option<String>,
    body: String,
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Seen>>>);

impl Recorder {
    fn last(&self) -> Seen {
        self.0.lock().unwrap().last().cloned().expect("the stand-in saw no request")
    }
}

fn session(name: &str) -> Session {
    let now = chrono::Utc::now();
    Session {
        id: SessionId::new(),
        name: SessionName::parse(name).unwrap(),
        repo_path: PathBuf::from("/src/app"),
        branch: format!("clauderon/{name}"),
        base_commit: "0123456789abcdef".into(),
        worktree_path: PathBuf::from("/data/worktrees").join(name),
        backend: BackendKind::Docker,
        agent: AgentKind::Claude,
        access_mode: AccessMode::ReadOnly,
        prompt: "do it".into(),
        options: Default::default(),
        status: SessionStatus::Running,
        archived: false,
        backend_handle: None,
        error: None,
        created_at: now,
        updated_at: now,
        pull_request: None,
    }
}

/// One audited request of `session`, with the id the daemon would have given it.
fn audit_entry(id: i64, session: &str, decision: Decision) -> AuditEntry {
    AuditEntry {
        id,
        at: chrono::Utc::now(),
        session_id: Some(SessionId::new()),
        session_name: Some(session.to_string()),
        method: "GET".into(),
        host: "api.github.com".into(),
        path: "/user?token=***".into(),
        status: Some(200),
        bytes_up: 12,
        bytes_down: 3400,
        duration_ms: 87,
        credential: Some("github_token".into()),
        note: None,
        decision,
    }
}

const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIBstandin\n-----END CERTIFICATE-----\n";

fn json(status: StatusCode, value: impl serde::Serialize) -> Response {
    (status, axum::Json(value)).into_response()
}

async fn stand_in(State(rec): State<Recorder>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let seen = Seen {
        method: parts.method.to_string(),
        target: parts.uri.path_and_query().map(|p| p.to_string()).unwrap_or_default(),
        host: header("host"),
        accept: header("accept"),
        authorization: header("authorization"),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    rec.0.lock().unwrap().push(seen.clone());

    let path = parts.uri.path();
    let name = path.strip_prefix("/api/sessions/").map(|rest| rest.split('/').next().unwrap_or(""));
    match (seen.method.as_str(), path, name) {
        ("GET", "/api/version", _) => json(StatusCode::OK, VersionInfo { version: "9.9.9".into(), api: 1 }),
        ("GET", "/api/requests", _) => json(
            StatusCode::OK,
            AuditList {
                requests: vec![
                    audit_entry(7, "one", Decision::Injected),
                    audit_entry(8, "two", Decision::Denied { reason: "read-only session".into() }),
                ],
            },
        ),
        ("GET", "/api/credentials", _) => json(
            StatusCode::OK,
            CredentialList {
                credentials: vec![CredentialView {
                    name: "github_token".into(),
                    description: "GitHub API and git over HTTPS".into(),
                    source: Some("env GH_TOKEN".into()),
                    searched: vec!["env GH_TOKEN".into(), "env GITHUB_TOKEN".into()],
                    problem: None,
                }],
            },
        ),
        ("GET", "/api/proxy/ca.pem", _) => {
            ([(axum::http::header::CONTENT_TYPE, "application/x-pem-file")], PEM).into_response()
        }
        ("GET", "/api/health", _) => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            StatusCode::OK.into_response()
        }
        ("GET", "/api/sessions", _) => json(
            StatusCode::OK,
            SessionList { sessions: vec![session("one"), session("two")], costs_usd: Default::default() },
        ),
        ("POST", "/api/sessions", _) => {
            let req: CreateSessionRequest = serde_json::from_slice(&body).unwrap();
            let mut s = session(req.name.as_ref().map_or("generated", |n| n.as_str()));
            s.prompt = req.prompt;
            json(StatusCode::CREATED, s)
        }
        (_, _, Some("ghost")) => json(
            StatusCode::NOT_FOUND,
            ErrorBody { error: "not-found".into(), message: "no session named `ghost`".into() },
        ),
        (_, _, Some("garbage")) => (StatusCode::OK, Body::from("this is not JSON")).into_response(),
        ("GET", p, Some(name)) if p.ends_with("/requests") => json(
            StatusCode::OK,
            AuditList {
                requests: vec![audit_entry(3, name, Decision::Failed { reason: "upstream down".into() })],
            },
        ),
        ("GET", _, Some(name)) => json(
            StatusCode::OK,
            SessionDetail {
                session: session(name),
                worktree: WorktreeInfo { exists: true, disk_bytes: Some(4096) },
                events: vec![],
            },
        ),
        ("PUT", p, Some(name)) if p.ends_with("/access-mode") => {
            let req: SetAccessModeRequest = serde_json::from_slice(&body).unwrap();
            let mut s = session(name);
            s.access_mode = req.mode;
            json(StatusCode::OK, s)
        }
        ("POST", p, Some(name)) if p.ends_with("/archive") => {
            let mut s = session(name);
            s.archived = true;
            json(StatusCode::OK, s)
        }
        ("POST", p, Some(name)) if p.ends_with("/unarchive") => json(StatusCode::OK, session(name)),
        ("DELETE", _, Some(name)) => {
            let mut s = session(name);
            s.status = SessionStatus::Deleted;
            json(StatusCode::OK, s)
        }
        _ => json(StatusCode::NOT_FOUND, ErrorBody { error: "not-found".into(), message: "no route".into() }),
    }
}

fn app(rec: &Recorder) -> Router {
    Router::new().fallback(stand_in).with_state(rec.clone())
}

/// The stand-in on a Unix socket in a temp dir.
async fn on_socket() -> (tempfile::TempDir, Recorder, Client) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clauderon.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let rec = Recorder::default();
    tokio::spawn(axum::serve(listener, app(&rec)).into_future());
    (dir, rec, Client::new(Endpoint::Unix(path)))
}

/// The stand-in on 127.0.0.1, port 0; returns its `http://` URL.
async fn on_tcp() -> (Recorder, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let rec = Recorder::default();
    tokio::spawn(axum::serve(listener, app(&rec)).into_future());
    (rec, url)
}

#[tokio::test]
async fn every_call_over_the_socket_sends_the_specified_request_and_decodes_the_reply() {
    let (_dir, rec, client) = on_socket().await;

    assert_eq!(client.version().await.unwrap().version, "9.9.9");
    assert_eq!(rec.last().target, "/api/version");
    assert_eq!(rec.last().host.as_deref(), Some("localhost"));

    let list = client.list(ListView::Archived).await.unwrap();
    assert_eq!(list.sessions.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["one", "two"]);
    assert_eq!(rec.last().target, "/api/sessions?view=archived");
    client.list(ListView::All).await.unwrap();
    assert_eq!(rec.last().target, "/api/sessions?view=all");

    let req = CreateSessionRequest {
        repo_path: "/src/app".into(),
        prompt: "fix the bug".into(),
        name: Some(SessionName::parse("fix-it").unwrap()),
        backend: Some(BackendKind::Docker),
        agent: None,
        access_mode: Some(AccessMode::ReadWrite),
        base: None,
        options: clauderon_types::SessionOptions { command: Some("make test".into()), ..Default::default() },
    };
    let created = client.create(&req).await.unwrap();
    assert_eq!((created.name.as_str(), created.prompt.as_str()), ("fix-it", "fix the bug"));
    let sent = rec.last();
    assert_eq!((sent.method.as_str(), sent.target.as_str()), ("POST", "/api/sessions"));
    assert_eq!(serde_json::from_str::<CreateSessionRequest>(&sent.body).unwrap(), req);

    let detail = client.get("fix-it").await.unwrap();
    assert_eq!(detail.worktree.disk_bytes, Some(4096));

    let s = client.set_access_mode("fix-it", AccessMode::ReadWrite).await.unwrap();
    assert_eq!(s.access_mode, AccessMode::ReadWrite);
    let sent = rec.last();
    assert_eq!((sent.method.as_str(), sent.target.as_str()), ("PUT", "/api/sessions/fix-it/access-mode"));
    assert_eq!(sent.body, r#"{"mode":"read-write"}"#);

    assert!(client.archive("fix-it").await.unwrap().archived);
    assert_eq!(rec.last().target, "/api/sessions/fix-it/archive");
    assert!(!client.unarchive("fix-it").await.unwrap().archived);
    assert_eq!(rec.last().target, "/api/sessions/fix-it/unarchive");

    let gone = client.delete("fix-it", DeleteQuery { force: true, delete_branch: true }).await.unwrap();
    assert_eq!(gone.status, SessionStatus::Deleted);
    assert_eq!(rec.last().target, "/api/sessions/fix-it?force=true&delete_branch=true");
    client.delete("fix-it", DeleteQuery::default()).await.unwrap();
    assert_eq!((rec.last().method.as_str(), rec.last().target.as_str()), ("DELETE", "/api/sessions/fix-it"));

    assert!(rec.0.lock().unwrap().iter().all(|s| s.authorization.is_none()), "a token went over the socket");
}

#[tokio::test]
async fn the_audit_calls_send_their_filters_and_decode_every_decision() {
    let (_dir, rec, client) = on_socket().await;

    let list = client.session_requests("fix-it", None, None).await.unwrap();
    assert_eq!(rec.last().target, "/api/sessions/fix-it/requests");
    assert_eq!(list.requests.len(), 1);
    assert_eq!(list.requests[0].decision, Decision::Failed { reason: "upstream down".into() });
    assert_eq!(list.requests[0].session_name.as_deref(), Some("fix-it"));
    client.session_requests("fix-it", Some(41), Some(500)).await.unwrap();
    assert_eq!(rec.last().target, "/api/sessions/fix-it/requests?after=41&limit=500");

    let all = client.requests(None, None, None).await.unwrap();
    assert_eq!(rec.last().target, "/api/requests");
    let seen: Vec<_> = all.requests.iter().map(|e| (e.id, e.decision.label(), e.decision.reason())).collect();
    assert_eq!(seen, [(7, "injected", None), (8, "denied", Some("read-only session"))]);
    assert_eq!(all.requests[0].credential.as_deref(), Some("github_token"));
    client.requests(Some("one"), Some(8), None).await.unwrap();
    assert_eq!(rec.last().target, "/api/requests?session=one&after=8");
    client.requests(None, None, Some(3)).await.unwrap();
    assert_eq!(rec.last().target, "/api/requests?limit=3");

    // A name that is not a name never reaches the query string or another route.
    let before = rec.0.lock().unwrap().len();
    for bad in ["one&limit=1", "../health"] {
        assert!(matches!(client.requests(Some(bad), None, None).await, Err(ClientError::InvalidName(_))));
        assert!(matches!(client.session_requests(bad, None, None).await, Err(ClientError::InvalidName(_))));
    }
    assert_eq!(rec.0.lock().unwrap().len(), before, "an invalid name was sent");

    let err = client.session_requests("ghost", None, None).await.unwrap_err();
    assert_eq!((err.status(), err.to_string().as_str()), (Some(404), "no session named `ghost`"));
}

#[tokio::test]
async fn credentials_are_names_and_sources() {
    let (_dir, rec, client) = on_socket().await;
    let list = client.credentials().await.unwrap();
    assert_eq!(rec.last().target, "/api/credentials");
    let c = &list.credentials[0];
    assert_eq!(
        (c.name.as_str(), c.source.as_deref(), c.problem.as_deref()),
        ("github_token", Some("env GH_TOKEN"), None)
    );
    assert_eq!(c.searched, ["env GH_TOKEN", "env GITHUB_TOKEN"]);
}

#[tokio::test]
async fn the_ca_certificate_is_the_text_body_as_sent() {
    let (_dir, rec, client) = on_socket().await;
    assert_eq!(client.ca_pem().await.unwrap(), PEM);
    let sent = rec.last();
    assert_eq!((sent.method.as_str(), sent.target.as_str()), ("GET", "/api/proxy/ca.pem"));
    assert_eq!(sent.accept.as_deref(), Some("application/x-pem-file"));
    client.credentials().await.unwrap();
    assert_eq!(rec.last().accept.as_deref(), Some("application/json"), "JSON calls still ask for JSON");

    // Over HTTP too, with the token.
    let (rec, url) = on_tcp().await;
    let client = Client::new(Endpoint::from_url(&url, Some("s3cret".into())).unwrap());
    assert_eq!(client.ca_pem().await.unwrap(), PEM);
    assert_eq!(rec.last().authorization.as_deref(), Some("Bearer s3cret"));
}

#[tokio::test]
async fn an_error_reply_becomes_the_daemons_one_sentence() {
    let (_dir, _rec, client) = on_socket().await;
    let err = client.get("ghost").await.unwrap_err();
    assert!(matches!(&err, ClientError::Api { status: 404, body } if body.error == "not-found"), "{err:?}");
    assert_eq!(err.to_string(), "no session named `ghost`");
}

#[tokio::test]
async fn a_reply_that_is_not_the_api_is_a_protocol_error() {
    let (_dir, _rec, client) = on_socket().await;
    let err = client.get("garbage").await.unwrap_err();
    assert!(matches!(err, ClientError::Protocol(_)), "{err:?}");
    assert!(err.to_string().contains("GET /api/sessions/garbage answered 200"), "{err}");
}

#[tokio::test]
async fn the_bearer_token_goes_over_http_only_when_configured() {
    let (rec, url) = on_tcp().await;
    let with_token = Client::new(Endpoint::from_url(&url, Some("s3cret".into())).unwrap());
    with_token.list(ListView::Active).await.unwrap();
    assert_eq!(rec.last().authorization.as_deref(), Some("Bearer s3cret"));
    assert_eq!(rec.last().host.as_deref(), url.strip_prefix("http://"));

    let without = Client::new(Endpoint::from_url(&url, None).unwrap());
    without.list(ListView::Active).await.unwrap();
    assert_eq!(rec.last().authorization, None);
}

#[tokio::test]
async fn a_missing_socket_says_the_daemon_is_not_running_and_how_to_start_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clauderon.sock");
    let err = Client::new(Endpoint::Unix(path.clone())).list(ListView::Active).await.unwrap_err();
    assert!(matches!(err, ClientError::DaemonNotRunning { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "the clauderon daemon is not running (no socket at {}): start it with `clauderon daemon`",
            path.display()
        )
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_stale_socket_or_a_closed_port_also_mean_not_running() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clauderon.sock");
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap()); // the file stays, nobody listens
    let err = Client::new(Endpoint::Unix(path)).version().await.unwrap_err();
    assert!(matches!(err, ClientError::DaemonNotRunning { .. }), "{err:?}");
    assert!(err.to_string().contains("nothing listens on"), "{err}");

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let client = Client::new(Endpoint::from_url(&format!("http://127.0.0.1:{port}"), None).unwrap());
    let err = client.version().await.unwrap_err();
    assert!(matches!(err, ClientError::DaemonNotRunning { .. }), "{err:?}");
    assert!(err.to_string().contains(&format!("nothing listens on 127.0.0.1:{port}")), "{err}");
}

#[tokio::test]
async fn a_daemon_that_does_not_answer_times_out() {
    let (_dir, _rec, client) = on_socket().await;
    let quick = Duration::from_millis(200);
    let client = client.with_timeouts(Timeouts { request: quick, ..Timeouts::default() });
    let err = client.health().await.unwrap_err();
    assert!(matches!(err, ClientError::Timeout(d) if d == quick), "{err:?}");
    assert_eq!(err.to_string(), "the daemon did not answer within 200ms");
}
