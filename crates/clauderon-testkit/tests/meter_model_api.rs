#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The proxy's usage meter against the test kit's fake model APIs, over real TLS on loopback:
//! for every provider and shape, streamed and not, the meter reads exactly the token counts
//! the API sent, fed the body frame by frame as it arrives.

use clauderon_proxy::meter::{Provider, UsageMeter, model_from_path, provider_for};
use clauderon_testkit::upstream::{Alpn, ModelReply, TlsUpstream, send_via};
use clauderon_types::usage::TokenUsage;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;
use serde_json::{Value, json};

/// POST `body` to `host` + `path` and meter the response as the proxy would.
async fn metered(up: &TlsUpstream, host: &str, path: &str, body: Value) -> (Option<TokenUsage>, usize) {
    let provider = provider_for(host, path).unwrap_or_else(|| panic!("{host}{path} is not a model API"));
    let req = Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let resp = send_via(up.addr(), host, up.ca(), Alpn::Both, req).await;
    assert_eq!(resp.status(), 200, "{host}{path}");
    let content_type = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let model =
        body.get("model").and_then(Value::as_str).map(str::to_owned).or_else(|| model_from_path(path));
    let mut meter = UsageMeter::new(provider, content_type.as_deref(), model);
    let mut body = resp.into_body();
    let mut frames = 0;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            meter.feed(&data);
            frames += 1;
        }
    }
    (meter.finish(), frames)
}

fn want(provider: Provider, model: &str, reply: &ModelReply) -> Option<TokenUsage> {
    Some(TokenUsage {
        provider: provider.as_str().into(),
        model: model.into(),
        input_tokens: reply.input_tokens,
        output_tokens: reply.output_tokens,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
    })
}

#[tokio::test]
async fn the_meter_reads_what_each_fake_model_api_sent() {
    let up = TlsUpstream::start_default().await;
    let reply = ModelReply {
        text: "metered words, several of them".into(),
        input_tokens: 1234,
        output_tokens: 567,
        question: None,
    };
    up.set_model_reply(reply.clone());
    let messages = json!([{"role": "user", "content": "hi"}]);

    let anthropic = "api.anthropic.com";
    for stream in [false, true] {
        let body =
            json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": messages, "stream": stream});
        let (got, frames) = metered(&up, anthropic, "/v1/messages", body).await;
        assert_eq!(got, want(Provider::Anthropic, "claude-sonnet-4-5", &reply), "anthropic stream={stream}");
        assert!(!stream || frames > 1, "the SSE body came in one frame: the test would not cross events");
    }

    let openai = "api.openai.com";
    for stream in [false, true] {
        let body = json!({"model": "gpt-5-codex", "input": "hi", "stream": stream});
        let (got, _) = metered(&up, openai, "/v1/responses", body).await;
        assert_eq!(got, want(Provider::OpenAi, "gpt-5-codex", &reply), "responses stream={stream}");

        let body = json!({"model": "gpt-4.1", "messages": messages, "stream": stream,
                          "stream_options": {"include_usage": true}});
        let (got, _) = metered(&up, openai, "/v1/chat/completions", body).await;
        assert_eq!(got, want(Provider::OpenAi, "gpt-4.1", &reply), "chat stream={stream}");
    }
    // Without include_usage a streamed chat completion reports no usage at all.
    let body = json!({"model": "gpt-4.1", "messages": messages, "stream": true});
    assert_eq!(metered(&up, openai, "/v1/chat/completions", body).await.0, None);

    let gemini = "generativelanguage.googleapis.com";
    let contents = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    for path in [
        "/v1beta/models/gemini-2.5-pro:generateContent",
        "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
        "/v1beta/models/gemini-2.5-pro:streamGenerateContent",
    ] {
        let (got, _) = metered(&up, gemini, path, contents.clone()).await;
        assert_eq!(got, want(Provider::Gemini, "gemini-2.5-pro", &reply), "{path}");
    }
}
