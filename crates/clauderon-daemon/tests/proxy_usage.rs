//! Usage metering through a real daemon (issue 4 §5): a session's model calls go through the
//! proxy to the test kit's fake model APIs, and `GET /api/sessions/{name}/usage` then holds
//! exactly the token counts each API sent, for every provider, streamed and not.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use clauderon_testkit::ModelReply;
use clauderon_testkit::http::{Request as ApiRequest, unix};
use common::{ProxyFixture, fixture};
use serde_json::{Value, json};
use std::time::Duration;

/// POST `body` to `url` through the session's proxy with curl, as an agent would.
async fn post(fx: &ProxyFixture, url: &str, body: Value) -> String {
    let mut cmd = common::curl();
    cmd.args(["-sS", "--fail", "--proxy", &fx.proxy_url(), "--cacert"])
        .arg(fx.d.ca_cert())
        .args(["-H", "content-type: application/json", "-H", "x-api-key: placeholder"])
        .args(["-d", &body.to_string(), url]);
    let out = common::run(cmd).await;
    assert!(out.status.success(), "curl {url}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The session's usage report once the batched writer has stored `calls` calls.
async fn usage(fx: &ProxyFixture, calls: u64) -> Value {
    for _ in 0..50 {
        let reply = unix(fx.d.socket(), ApiRequest::new("GET", "/api/sessions/agent/usage")).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let report = reply.json();
        let seen: u64 =
            report["totals"].as_array().unwrap().iter().map(|t| t["requests"].as_u64().unwrap()).sum();
        if seen >= calls {
            return report;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the usage of {calls} calls was never recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_usage_equals_what_each_model_api_sent() {
    let fx = fixture().await;
    let reply = ModelReply {
        text: "counted through the proxy".into(),
        input_tokens: 321,
        output_tokens: 45,
        question: None,
    };
    fx.up.set_model_reply(reply.clone());
    let messages = json!([{"role": "user", "content": "hi"}]);
    let gemini = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let base = "https://generativelanguage.googleapis.com/v1beta/models";
    // One model name per shape, so each shape has its own row in the report.
    let calls = [
        (
            "anthropic",
            "claude-sonnet-4-5-json",
            "https://api.anthropic.com/v1/messages".to_string(),
            json!({"model": "claude-sonnet-4-5-json", "max_tokens": 9, "messages": messages}),
        ),
        (
            "anthropic",
            "claude-sonnet-4-5-sse",
            "https://api.anthropic.com/v1/messages".into(),
            json!({"model": "claude-sonnet-4-5-sse", "max_tokens": 9, "messages": messages, "stream": true}),
        ),
        (
            "openai",
            "responses-json",
            "https://api.openai.com/v1/responses".into(),
            json!({"model": "responses-json", "input": "hi"}),
        ),
        (
            "openai",
            "responses-sse",
            "https://api.openai.com/v1/responses".into(),
            json!({"model": "responses-sse", "input": "hi", "stream": true}),
        ),
        (
            "openai",
            "chat-json",
            "https://api.openai.com/v1/chat/completions".into(),
            json!({"model": "chat-json", "messages": messages}),
        ),
        (
            "openai",
            "chat-sse",
            "https://api.openai.com/v1/chat/completions".into(),
            json!({"model": "chat-sse", "messages": messages, "stream": true, "stream_options": {"include_usage": true}}),
        ),
        ("gemini", "gemini-json", format!("{base}/gemini-json:generateContent"), gemini.clone()),
        ("gemini", "gemini-sse", format!("{base}/gemini-sse:streamGenerateContent?alt=sse"), gemini.clone()),
        ("gemini", "gemini-array", format!("{base}/gemini-array:streamGenerateContent"), gemini.clone()),
    ];
    for (_, _, url, body) in &calls {
        let answer = post(&fx, url, body.clone()).await;
        assert!(answer.contains("counted") || answer.contains("complexity"), "{url}: {answer}");
    }

    let report = usage(&fx, calls.len() as u64).await;
    let totals = report["totals"].as_array().unwrap();
    assert_eq!(totals.len(), calls.len(), "{report}");
    for (provider, model, url, _) in &calls {
        let row = totals.iter().find(|t| t["model"] == *model).unwrap_or_else(|| panic!("{url}: {report}"));
        assert_eq!(row["provider"], *provider, "{url}");
        assert_eq!(row["requests"], 1, "{url}");
        assert_eq!(
            (row["input_tokens"].as_u64(), row["output_tokens"].as_u64()),
            (Some(321), Some(45)),
            "{url}"
        );
    }
    assert_eq!(report["total_tokens"], 9 * (321 + 45));
    // The two Claude Sonnet calls have a list price ($3 in, $15 out per million); the rest none.
    let want = 2.0 * (321.0 * 3.0 + 45.0 * 15.0) / 1e6;
    assert!((report["total_cost_usd"].as_f64().unwrap() - want).abs() < 1e-12, "{report}");
}
