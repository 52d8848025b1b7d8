//! `POST /api/sessions/{name}/input` (issue 6 §4): the route behind `clauderon send`, against the
//! test kit's fake backend (which records what was typed). Real typing into zellij and Docker is
//! the backend contract suite's `send_input_reaches_the_process`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use clauderon_testkit::http::{Request, unix};
use clauderon_testkit::{TestDaemon, TestRepo};
use serde_json::json;

#[tokio::test]
async fn input_is_typed_into_the_named_session_and_bad_input_is_a_clear_4xx() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    for name in ["one", "two"] {
        let body = json!({"repo_path": repo.path(), "prompt": "go", "name": name}).to_string();
        assert_eq!(unix(d.socket(), Request::new("POST", "/api/sessions").json(body)).await.status, 201);
    }
    let text = "line \"one\"\n'two' ü";
    let send = |name: &str, body: String| {
        let path = format!("/api/sessions/{name}/input");
        let socket = d.socket().to_path_buf();
        async move { unix(&socket, Request::new("POST", &path).json(body)).await }
    };
    let reply = send("two", json!({ "text": text }).to_string()).await;
    assert_eq!((reply.status, reply.body.as_str()), (204, ""));
    assert_eq!(d.fake.typed("two"), [text]);
    assert!(d.fake.typed("one").is_empty());

    for (name, body, status, says) in [
        ("two", json!({"text": ""}).to_string(), 400, "nothing to send"),
        ("two", json!({"text": "x", "session": "one"}).to_string(), 422, "unknown field"),
        ("two", "not json".to_string(), 400, "invalid JSON"),
        ("ghost", json!({"text": "x"}).to_string(), 404, "no session named"),
    ] {
        let reply = send(name, body).await;
        assert_eq!(reply.status, status, "{}", reply.body);
        assert!(reply.body.contains(says), "{}", reply.body);
    }
    assert_eq!(d.fake.typed("two").len(), 1);

    let doc = unix(d.socket(), Request::new("GET", "/api/openapi.json")).await.json();
    assert!(doc["paths"]["/api/sessions/{name}/input"]["post"].is_object(), "route missing from OpenAPI");
    assert!(doc["components"]["schemas"]["SendInputRequest"]["properties"]["text"].is_object());
    d.stop().await;
}
