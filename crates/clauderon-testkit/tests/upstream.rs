#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The test upstream, checked directly over real TLS on loopback (no proxy in between).

use clauderon_testkit::upstream::{
    Alpn, DirectResponse, ModelReply, QUESTION_OPTIONS, TestCa, TlsUpstream, UpstreamOptions, get_via,
    pattern_byte, send_via, tls_connect,
};
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Bytes, Incoming};
use hyper::{Request, Version};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const WAIT: Duration = Duration::from_secs(5);

async fn send(
    up: &TlsUpstream,
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> DirectResponse {
    let mut b = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b.body(Full::new(Bytes::from(body.to_owned()))).unwrap();
    DirectResponse::read(send_via(up.addr(), host, up.ca(), Alpn::Http1, req).await).await
}

async fn post_json(up: &TlsUpstream, host: &str, path: &str, body: Value) -> DirectResponse {
    send(up, host, "POST", path, &[("content-type", "application/json")], &body.to_string()).await
}

/// `(event name, data)` of every SSE event in a body.
fn sse_events(body: &str) -> Vec<(String, String)> {
    body.replace("\r\n", "\n")
        .split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let field = |name: &str| {
                e.lines()
                    .filter_map(|l| l.strip_prefix(name))
                    .map(str::trim_start)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            (field("event:"), field("data:"))
        })
        .collect()
}

fn data_json(events: &[(String, String)]) -> Vec<Value> {
    events.iter().filter(|(_, d)| d != "[DONE]").map(|(_, d)| serde_json::from_str(d).unwrap()).collect()
}

#[tokio::test]
async fn direct_https_with_sni_verifies_against_the_test_ca_and_is_recorded() {
    let up = TlsUpstream::start_default().await;
    let resp = send(&up, "api.anthropic.com", "GET", "/small", &[("x-test-marker", "m-1")], "").await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body.len(), 1024);

    let reqs = up.wait_for_requests(1, WAIT).await;
    let r = &reqs[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", "/small"));
    assert_eq!(r.host, "api.anthropic.com");
    assert_eq!(r.sni.as_deref(), Some("api.anthropic.com"));
    assert_eq!(r.header("x-test-marker"), Some("m-1"));
    assert_eq!(r.version, Version::HTTP_11);

    // Every default name verifies, the IP too.
    for host in
        ["api.openai.com", "generativelanguage.googleapis.com", "github.com", "other.test", "127.0.0.1"]
    {
        assert_eq!(get_via(up.addr(), host, "/small", up.ca()).await.status, 200, "{host}");
    }
}

#[tokio::test]
async fn a_client_trusting_another_ca_or_asking_for_an_uncovered_name_is_refused() {
    let up = TlsUpstream::start_default().await;
    let stranger = TestCa::new();
    let tcp = tokio::net::TcpStream::connect(up.addr()).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("api.anthropic.com").unwrap();
    let err = tokio_rustls::TlsConnector::from(stranger.client_config(Alpn::Both)).connect(name, tcp).await;
    assert!(err.is_err(), "a foreign CA must not verify the upstream");

    let tcp = tokio::net::TcpStream::connect(up.addr()).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("evil.example").unwrap();
    let err = tokio_rustls::TlsConnector::from(up.ca().client_config(Alpn::Both)).connect(name, tcp).await;
    assert!(err.is_err(), "a name missing from the certificate must not verify");
}

#[tokio::test]
async fn http2_is_negotiated_when_offered_and_recorded() {
    let up = TlsUpstream::start_default().await;
    let resp = get_via(up.addr(), "api.openai.com", "/small?x=1", up.ca()).await;
    assert_eq!((resp.status, resp.version), (200, Version::HTTP_2));
    let r = &up.wait_for_requests(1, WAIT).await[0];
    assert_eq!(r.version, Version::HTTP_2);
    assert_eq!(r.alpn.as_deref(), Some("h2"));
    assert_eq!(r.host, "api.openai.com");
    assert_eq!(r.path, "/small?x=1");

    up.clear();
    assert!(up.requests().is_empty());
    let h1 = send(&up, "api.openai.com", "GET", "/small", &[], "").await;
    assert_eq!(h1.version, Version::HTTP_11);
    assert_eq!(up.wait_for_requests(1, WAIT).await[0].alpn.as_deref(), Some("http/1.1"));

    let h1_only = TlsUpstream::start(UpstreamOptions { alpn: Alpn::Http1, ..Default::default() }).await;
    assert_eq!(
        get_via(h1_only.addr(), "upstream.test", "/small", h1_only.ca()).await.version,
        Version::HTTP_11
    );
}

#[tokio::test]
async fn echo_reflects_every_header_in_the_body_and_the_secrets_in_headers() {
    let up = TlsUpstream::start_default().await;
    let headers = [
        ("authorization", "Bearer sk-real-1"),
        ("x-api-key", "key-2"),
        ("x-goog-api-key", "goog-3"),
        ("x-custom", "custom-4"),
    ];
    let resp = send(&up, "upstream.test", "POST", "/echo?q=1", &headers, "hello body").await;
    assert_eq!(resp.status, 200);
    let body = resp.json();
    assert_eq!(body["method"], "POST");
    assert_eq!(body["path"], "/echo?q=1");
    assert_eq!(body["body"], "hello body");
    for (k, v) in headers {
        assert_eq!(body["headers"][k], v, "{k} in the echoed body");
    }
    assert_eq!(resp.header("x-echo-authorization"), Some("Bearer sk-real-1"));
    assert_eq!(resp.header("x-echo-x-api-key"), Some("key-2"));
    assert_eq!(resp.header("x-echo-x-goog-api-key"), Some("goog-3"));
    let r = &up.wait_for_requests(1, WAIT).await[0];
    assert_eq!(r.body_text(), "hello body");
    assert_eq!(r.body_len, 10);
}

/// Reads frames until the buffer holds a complete SSE event, or `timeout` passes.
async fn next_event(body: &mut Incoming, buf: &mut String, timeout: Duration) -> Option<String> {
    loop {
        if let Some(end) = buf.find("\n\n") {
            let event = buf[..end].to_owned();
            buf.drain(..end + 2);
            return Some(event);
        }
        let frame = tokio::time::timeout(timeout, body.frame()).await.ok()??.unwrap();
        if let Ok(data) = frame.into_data() {
            buf.push_str(std::str::from_utf8(&data).unwrap());
        }
    }
}

#[tokio::test]
async fn a_gated_sse_stream_holds_everything_after_event_one_until_the_gate_opens() {
    let up = TlsUpstream::start_default().await;
    for alpn in [Alpn::Http1, Alpn::Http2] {
        let gate = format!("gate-{alpn:?}");
        let req = Request::get(format!("/sse?events=4&gate={gate}")).body(Full::new(Bytes::new())).unwrap();
        let resp = send_via(up.addr(), "api.anthropic.com", up.ca(), alpn, req).await;
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        let mut body = resp.into_body();
        let mut buf = String::new();
        let first = next_event(&mut body, &mut buf, WAIT).await.expect("event 1 before the gate opens");
        assert!(first.starts_with("id: 1\n"), "{first}");
        assert!(next_event(&mut body, &mut buf, Duration::from_millis(300)).await.is_none());
        assert!(!body.is_end_stream(), "the stream must still be open while the gate is shut");

        up.open_gate(&gate);
        for i in 2..=4 {
            let e = next_event(&mut body, &mut buf, WAIT).await.expect("the rest after the gate opens");
            assert!(e.starts_with(&format!("id: {i}\n")), "{e}");
        }
        // The stream ends after the last event (HTTP/2 may end it with an empty DATA frame).
        let rest = tokio::time::timeout(WAIT, body.collect()).await.expect("the stream ends").unwrap();
        assert!(rest.to_bytes().is_empty(), "nothing after the last event");
    }

    // Without a gate every event comes at once.
    let all = get_via(up.addr(), "api.anthropic.com", "/sse?events=5", up.ca()).await;
    assert_eq!(sse_events(&all.text()).len(), 5);
}

#[tokio::test]
async fn bytes_streams_exactly_n_bytes_of_the_pattern() {
    let up = TlsUpstream::start_default().await;
    let n: u64 = 5 * 1024 * 1024 + 3;
    for host in ["upstream.test", "127.0.0.1"] {
        let resp = get_via(up.addr(), host, &format!("/bytes/{n}"), up.ca()).await;
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("content-length"), Some(n.to_string().as_str()));
        assert_eq!(resp.body.len() as u64, n);
        assert!(resp.body.iter().enumerate().all(|(i, b)| *b == pattern_byte(i as u64)));
    }
    assert_eq!(get_via(up.addr(), "upstream.test", "/bytes/0", up.ca()).await.body.len(), 0);
}

#[tokio::test]
async fn redirect_and_status_answer_as_asked() {
    let up = TlsUpstream::start_default().await;
    let resp =
        get_via(up.addr(), "github.com", "/redirect?to=https%3A%2F%2Fother.test%2Fsteal%3Fa%3D1", up.ca())
            .await;
    assert_eq!(resp.status, 302);
    assert_eq!(resp.header("location"), Some("https://other.test/steal?a=1"));
    assert_eq!(get_via(up.addr(), "github.com", "/status/418", up.ca()).await.status, 418);
    assert_eq!(get_via(up.addr(), "github.com", "/status/204", up.ca()).await.status, 204);
    assert_eq!(get_via(up.addr(), "github.com", "/status/99", up.ca()).await.status, 400);
    assert_eq!(get_via(up.addr(), "github.com", "/nowhere", up.ca()).await.status, 404);
}

#[tokio::test]
async fn websocket_echo_round_trips_and_its_upgrade_is_recorded() {
    let up = TlsUpstream::start_default().await;
    let tls = tls_connect(up.addr(), "api.openai.com", up.ca(), Alpn::Http1).await;
    let mut req = "wss://api.openai.com/ws".into_client_request().unwrap();
    req.headers_mut().insert("authorization", "Bearer ws-token".parse().unwrap());
    let (mut ws, resp) = tokio_tungstenite::client_async(req, tls).await.unwrap();
    assert_eq!(resp.status(), 101);

    ws.send(Message::text("hello")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("hello"));
    ws.send(Message::binary(vec![0u8, 1, 2, 255])).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::binary(vec![0u8, 1, 2, 255]));
    ws.close(None).await.unwrap();

    let r = &up.wait_for_requests(1, WAIT).await[0];
    assert_eq!(r.path, "/ws");
    assert_eq!(r.header("upgrade"), Some("websocket"));
    assert_eq!(r.header("authorization"), Some("Bearer ws-token"));
}

fn custom_reply() -> ModelReply {
    ModelReply {
        text: "Forty two is the answer".into(),
        input_tokens: 321,
        output_tokens: 54,
        question: None,
    }
}

#[tokio::test]
async fn anthropic_messages_answer_in_json_and_sse_with_the_configured_usage() {
    let up = TlsUpstream::start_default().await;
    up.set_model_reply(custom_reply());
    let ask = |stream| json!({"model": "claude-x", "max_tokens": 10, "stream": stream, "messages": []});

    let plain = post_json(&up, "api.anthropic.com", "/v1/messages", ask(false)).await.json();
    assert_eq!(plain["content"][0]["text"], "Forty two is the answer");
    assert_eq!(plain["usage"], json!({"input_tokens": 321, "output_tokens": 54}));
    assert_eq!(plain["model"], "claude-x");

    let resp = post_json(&up, "api.anthropic.com", "/v1/messages?beta=true", ask(true)).await;
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    let events = sse_events(&resp.text());
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(&names[1..3], ["content_block_start", "ping"]);
    assert_eq!(&names[names.len() - 3..], ["content_block_stop", "message_delta", "message_stop"]);
    let data = data_json(&events);
    let deltas: Vec<&str> = data
        .iter()
        .filter(|d| d["type"] == "content_block_delta")
        .map(|d| d["delta"]["text"].as_str().unwrap())
        .collect();
    assert!(deltas.len() >= 2);
    assert_eq!(deltas.concat(), "Forty two is the answer");
    assert_eq!(data[0]["message"]["usage"]["input_tokens"], 321);
    let delta = data.iter().find(|d| d["type"] == "message_delta").unwrap();
    assert_eq!(
        (delta["delta"]["stop_reason"].as_str(), &delta["usage"]["output_tokens"]),
        (Some("end_turn"), &json!(54))
    );

    let count =
        post_json(&up, "api.anthropic.com", "/v1/messages/count_tokens", json!({"messages": []})).await;
    assert_eq!(count.json(), json!({"input_tokens": 321}));
}

/// A question tool's input asks `question` with the options the fake API offers.
fn assert_asks(question: &str, input: &Value) {
    assert_eq!(input["questions"][0]["question"], question, "{input}");
    let options = input["questions"][0]["options"].as_array().unwrap();
    let labels: Vec<&str> = options.iter().map(|o| o["label"].as_str().unwrap()).collect();
    assert_eq!(labels, QUESTION_OPTIONS);
}

/// With a question set, a request offering `AskUserQuestion` gets that tool called (JSON and
/// SSE); once the last message carries a tool result, or without the tool, the text.
#[tokio::test]
async fn anthropic_messages_ask_the_question_until_a_tool_result_answers_it() {
    let up = TlsUpstream::start_default().await;
    up.set_model_reply(ModelReply { question: Some("Which one, 55b0?".into()), ..custom_reply() });
    let tools =
        json!([{"name": "Bash", "input_schema": {}}, {"name": "AskUserQuestion", "input_schema": {}}]);
    let user = json!({"role": "user", "content": "pick"});
    let answer = json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_testkit_0001", "content": "Cerulean"}]});
    let ask = |stream: bool, tools: &Value, messages: Value| {
        let mut body = json!({"model": "claude-x", "max_tokens": 10, "messages": messages});
        body["stream"] = stream.into();
        body["tools"] = tools.clone();
        body
    };
    let plain =
        post_json(&up, "api.anthropic.com", "/v1/messages", ask(false, &tools, json!([user]))).await.json();
    assert_eq!(
        (plain["stop_reason"].as_str(), plain["content"][0]["type"].as_str()),
        (Some("tool_use"), Some("tool_use"))
    );
    assert_eq!(plain["content"][0]["name"], "AskUserQuestion");
    assert_asks("Which one, 55b0?", &plain["content"][0]["input"]);

    let resp = post_json(&up, "api.anthropic.com", "/v1/messages", ask(true, &tools, json!([user]))).await;
    let data = data_json(&sse_events(&resp.text()));
    let start = data.iter().find(|d| d["type"] == "content_block_start").unwrap();
    assert_eq!(start["content_block"]["name"], "AskUserQuestion");
    let partial: String = data
        .iter()
        .filter(|d| d["type"] == "content_block_delta")
        .map(|d| d["delta"]["partial_json"].as_str().unwrap())
        .collect();
    assert_asks("Which one, 55b0?", &serde_json::from_str(&partial).unwrap());
    let delta = data.iter().find(|d| d["type"] == "message_delta").unwrap();
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");

    // Answered, or no such tool offered: the text.
    for body in [ask(false, &tools, json!([user, answer])), ask(false, &json!([]), json!([user]))] {
        let plain = post_json(&up, "api.anthropic.com", "/v1/messages", body).await.json();
        assert_eq!(plain["content"][0]["text"], "Forty two is the answer", "{plain}");
        assert_eq!(plain["stop_reason"], "end_turn");
    }
}

#[tokio::test]
async fn openai_responses_and_chat_answer_in_json_and_sse_with_the_configured_usage() {
    let up = TlsUpstream::start_default().await;
    up.set_model_reply(custom_reply());
    let usage = json!({"input_tokens": 321, "output_tokens": 54, "total_tokens": 375});
    let pick = |u: &Value| {
        json!({"input_tokens": u["input_tokens"], "output_tokens": u["output_tokens"],
                                   "total_tokens": u["total_tokens"]})
    };

    let plain = post_json(&up, "api.openai.com", "/v1/responses", json!({"model": "gpt-x", "input": "hi"}))
        .await
        .json();
    assert_eq!(plain["output"][0]["content"][0]["text"], "Forty two is the answer");
    assert_eq!(pick(&plain["usage"]), usage);

    let streamed =
        post_json(&up, "api.openai.com", "/v1/responses", json!({"input": "hi", "stream": true})).await;
    let events = sse_events(&streamed.text());
    assert_eq!(events.first().map(|e| e.0.as_str()), Some("response.created"));
    assert_eq!(events.last().map(|e| e.0.as_str()), Some("response.completed"));
    let data = data_json(&events);
    let deltas: Vec<&str> = data
        .iter()
        .filter(|d| d["type"] == "response.output_text.delta")
        .map(|d| d["delta"].as_str().unwrap())
        .collect();
    assert!(deltas.len() >= 2);
    assert_eq!(deltas.concat(), "Forty two is the answer");
    assert_eq!(pick(&data.last().unwrap()["response"]["usage"]), usage);

    let chat = post_json(&up, "api.openai.com", "/v1/chat/completions", json!({"messages": []})).await.json();
    assert_eq!(chat["choices"][0]["message"]["content"], "Forty two is the answer");
    assert_eq!(chat["usage"], json!({"prompt_tokens": 321, "completion_tokens": 54, "total_tokens": 375}));

    let body = json!({"messages": [], "stream": true, "stream_options": {"include_usage": true}});
    let events = sse_events(&post_json(&up, "api.openai.com", "/v1/chat/completions", body).await.text());
    assert_eq!(events.last().unwrap().1, "[DONE]");
    let chunks = data_json(&events);
    let text: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "Forty two is the answer");
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["total_tokens"], 375);
    let without = json!({"messages": [], "stream": true});
    let events = sse_events(&post_json(&up, "api.openai.com", "/v1/chat/completions", without).await.text());
    assert!(data_json(&events).iter().all(|c| c.get("usage").is_none()));
}

#[tokio::test]
async fn a_websocket_attempt_on_openai_responses_is_refused_so_codex_falls_back() {
    let up = TlsUpstream::start_default().await;
    let tls = tls_connect(up.addr(), "api.openai.com", up.ca(), Alpn::Http1).await;
    let err = tokio_tungstenite::client_async("wss://api.openai.com/v1/responses", tls).await.unwrap_err();
    match err {
        tokio_tungstenite::tungstenite::Error::Http(resp) => assert!(resp.status().is_client_error()),
        other => panic!("expected an HTTP refusal, got {other}"),
    }
    assert_eq!(up.wait_for_requests(1, WAIT).await[0].header("upgrade"), Some("websocket"));
}

/// With a question set, a Gemini request declaring `ask_user` gets that function called, whole
/// in one chunk; once the last content carries a function response, the text.
#[tokio::test]
async fn gemini_asks_the_question_until_a_function_response_answers_it() {
    let up = TlsUpstream::start_default().await;
    up.set_model_reply(ModelReply { question: Some("Which one, 0c4d?".into()), ..custom_reply() });
    let host = "generativelanguage.googleapis.com";
    let tools = json!([{"functionDeclarations": [{"name": "read_file"}, {"name": "ask_user"}]}]);
    let user = json!({"role": "user", "parts": [{"text": "pick"}]});
    let answer =
        json!({"role": "user", "parts": [{"functionResponse": {"name": "ask_user", "response": {}}}]});
    let path = "/v1beta/models/gemini-x:streamGenerateContent?alt=sse";

    let streamed = post_json(&up, host, path, json!({"contents": [user], "tools": tools})).await;
    let chunks = data_json(&sse_events(&streamed.text()));
    assert_eq!(chunks.len(), 1, "{chunks:?}");
    let call = &chunks[0]["candidates"][0]["content"]["parts"][0]["functionCall"];
    assert_eq!(call["name"], "ask_user");
    assert_asks("Which one, 0c4d?", &call["args"]);

    let path = "/v1beta/models/gemini-x:generateContent";
    for body in [json!({"contents": [user, answer], "tools": tools}), json!({"contents": [user]})] {
        let plain = post_json(&up, host, path, body).await.json();
        assert_eq!(
            plain["candidates"][0]["content"]["parts"][0]["text"], "Forty two is the answer",
            "{plain}"
        );
    }
}

#[tokio::test]
async fn gemini_generate_content_answers_the_router_and_streams_with_usage() {
    let up = TlsUpstream::start_default().await;
    up.set_model_reply(custom_reply());
    let host = "generativelanguage.googleapis.com";
    let usage = json!({"promptTokenCount": 321, "candidatesTokenCount": 54, "totalTokenCount": 375});
    let ask = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});

    let plain = post_json(&up, host, "/v1beta/models/gemini-x:generateContent", ask.clone()).await.json();
    assert_eq!(plain["candidates"][0]["content"]["parts"][0]["text"], "Forty two is the answer");
    assert_eq!(plain["usageMetadata"], usage);

    let router = json!({"contents": [], "generationConfig": {"responseMimeType": "application/json",
        "responseJsonSchema": {"properties": {"complexity_reasoning": {}, "complexity_score": {}}}}});
    let verdict = post_json(&up, host, "/v1beta/models/gemini-x:generateContent", router).await.json();
    let text = verdict["candidates"][0]["content"]["parts"][0]["text"].as_str().unwrap();
    let verdict: Value = serde_json::from_str(text).unwrap();
    assert!(verdict["complexity_reasoning"].is_string() && verdict["complexity_score"].is_number());

    let path = "/v1beta/models/gemini-x:streamGenerateContent?alt=sse";
    let streamed = post_json(&up, host, path, ask.clone()).await;
    assert_eq!(streamed.header("content-type"), Some("text/event-stream"));
    let chunks = data_json(&sse_events(&streamed.text()));
    assert!(chunks.len() >= 2);
    let text: String =
        chunks.iter().filter_map(|c| c["candidates"][0]["content"]["parts"][0]["text"].as_str()).collect();
    assert_eq!(text, "Forty two is the answer");
    assert_eq!(chunks.last().unwrap()["usageMetadata"], usage);
    assert!(chunks[..chunks.len() - 1].iter().all(|c| c.get("usageMetadata").is_none()));

    let array = post_json(&up, host, "/v1beta/models/gemini-x:streamGenerateContent", ask).await.json();
    assert_eq!(array.as_array().unwrap().last().unwrap()["usageMetadata"], usage);
}

#[tokio::test]
async fn require_header_rejects_a_missing_or_placeholder_credential_like_the_real_api() {
    let up = TlsUpstream::start_default().await;
    up.require_header("api.anthropic.com", "x-api-key", "sk-ant-real");
    let body = json!({"model": "m", "messages": []}).to_string();
    let call = |key: Option<&'static str>| {
        let up = &up;
        let body = body.clone();
        async move {
            let mut headers = vec![("content-type", "application/json")];
            headers.extend(key.map(|k| ("x-api-key", k)));
            send(up, "api.anthropic.com", "POST", "/v1/messages", &headers, &body).await
        }
    };
    let missing = call(None).await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.json()["error"]["type"], "authentication_error");
    assert_eq!(call(Some("placeholder")).await.status, 401);
    assert_eq!(call(Some("sk-ant-real")).await.status, 200);
    let echo = send(&up, "api.anthropic.com", "GET", "/echo", &[("x-api-key", "nope")], "").await;
    assert_eq!(echo.status, 401);
    assert!(!echo.text().contains("sk-ant-real"), "the error must not reveal the expected value");

    // Other hosts are untouched; "*" covers them all.
    assert_eq!(send(&up, "api.openai.com", "GET", "/echo", &[], "").await.status, 200);
    up.require_header("*", "authorization", "Bearer real");
    let openai = post_json(&up, "api.openai.com", "/v1/responses", json!({"input": "x"})).await;
    assert_eq!((openai.status, openai.json()["error"]["code"].as_str()), (401, Some("invalid_api_key")));
    up.clear_requirements();
    assert_eq!(call(None).await.status, 200);
}

#[tokio::test]
async fn wait_for_requests_sees_concurrent_requests_and_the_plain_variant_serves_the_same_routes() {
    let up = TlsUpstream::start_default().await;
    let calls = (0..8)
        .map(|i| get_via(up.addr(), "upstream.test", if i % 2 == 0 { "/small" } else { "/echo" }, up.ca()));
    let results = futures_util::future::join_all(calls).await;
    assert!(results.iter().all(|r| r.status == 200));
    assert_eq!(up.wait_for_requests(8, WAIT).await.len(), 8);
    up.set_recording(false);
    assert_eq!(get_via(up.addr(), "upstream.test", "/small", up.ca()).await.status, 200);
    assert_eq!(up.wait_for_requests(9, WAIT).await.len(), 8, "counted but not recorded");
    assert_eq!(up.request_count(), 9);
    assert_eq!(up.overrides().get("api.anthropic.com"), Some(&up.addr()));
    assert!(!up.overrides().contains_key("127.0.0.1"));
    let dir = tempfile::tempdir().unwrap();
    let pem = up.ca().write_pem(dir.path());
    assert!(std::fs::read_to_string(pem).unwrap().starts_with("-----BEGIN CERTIFICATE-----"));

    let plain = TlsUpstream::start_plain().await;
    let reply =
        clauderon_testkit::http::tcp(plain.addr(), clauderon_testkit::http::Request::new("GET", "/small"))
            .await;
    assert_eq!((reply.status, reply.body.len()), (200, 1024));
    assert_eq!(plain.requests()[0].sni, None);
}

#[tokio::test]
async fn shutdown_closes_the_listener() {
    let up = TlsUpstream::start_default().await;
    let addr = up.addr();
    up.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "nothing listens after shutdown");
}
