//! The terminal WebSocket for a backend without a terminal stream (the test kit's fake): the
//! daemon tells the client which program attaches, then closes. Docker's stream is tested with
//! the real engine in clauderon-docker's tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use clauderon_client::terminal::TerminalEvent;
use clauderon_client::{Client, Endpoint};
use clauderon_testkit::http::{Request as ApiRequest, unix};
use clauderon_testkit::{TestDaemon, TestRepo};
use serde_json::json;

#[tokio::test]
async fn a_session_without_a_stream_is_attached_by_the_program_its_backend_names() {
    let d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    let body = json!({"repo_path": repo.path(), "prompt": "go", "name": "hostside"}).to_string();
    let reply = unix(d.socket(), ApiRequest::new("POST", "/api/sessions").json(body)).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let client = Client::new(Endpoint::Unix(d.socket().to_path_buf()));
    let (mut reader, _writer) = client.terminal("hostside").await.unwrap();
    match reader.next().await.unwrap() {
        TerminalEvent::Command { program, args } => {
            assert_eq!(program, "true");
            assert_eq!(args.len(), 1, "{args:?}");
        }
        other => panic!("expected the program to run, got {other:?}"),
    }
    assert_eq!(reader.next().await.unwrap(), TerminalEvent::Closed);
    // The logs route reads the backend's output.
    let logs = client.logs("hostside", 10).await.unwrap();
    assert!(logs.contains("fake: started"), "{logs}");
}

#[tokio::test]
async fn logs_of_an_unknown_session_are_not_found() {
    let d = TestDaemon::start().await;
    let client = Client::new(Endpoint::Unix(d.socket().to_path_buf()));
    let err = client.logs("missing", 10).await.unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");
}

#[tokio::test]
async fn the_logs_and_env_routes_are_in_the_openapi_document() {
    let d = TestDaemon::start().await;
    let reply = unix(d.socket(), ApiRequest::new("GET", "/api/openapi.json")).await;
    let doc = reply.json();
    for path in ["/api/sessions/{name}/logs", "/api/sessions/{name}/env"] {
        assert!(doc["paths"][path]["get"].is_object(), "{path} missing from the OpenAPI document");
    }
}
