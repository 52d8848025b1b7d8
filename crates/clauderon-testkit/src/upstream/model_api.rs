//! The fake model API: Anthropic Messages, OpenAI Responses and Chat Completions, Gemini
//! generateContent, in the shapes the real CLIs send and accept (see AGENT-CLIS.md), JSON or
//! SSE. Every answer carries the configured `ModelReply` text and token counts, so a test can
//! check that what a proxy meters equals what the API reported.

use super::body::{self, RespBody, sse_event};
use super::routes::Req;
use super::{ModelReply, Shared};
use hyper::{Method, Response, StatusCode};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy)]
enum Api {
    Anthropic,
    OpenAi,
    Gemini,
}

enum Call {
    Messages,
    CountTokens,
    Responses,
    ChatCompletions,
    Generate { model: String, stream: bool },
}

/// `None` when the path is not a model API route.
pub(crate) fn route(shared: &Shared, req: &Req, upgrade: bool) -> Option<Response<RespBody>> {
    let path = req.parts.uri.path();
    let post = req.parts.method == Method::POST;
    let (api, call) = match path {
        "/v1/messages" if post => (Api::Anthropic, Call::Messages),
        "/v1/messages/count_tokens" if post => (Api::Anthropic, Call::CountTokens),
        "/v1/responses" if post => (Api::OpenAi, Call::Responses),
        "/v1/responses" if req.parts.method == Method::GET => {
            // Codex tries a WebSocket first and falls back to POST when it is refused.
            let (status, what) = if upgrade {
                (StatusCode::NOT_FOUND, "the WebSocket transport is not offered here; POST /v1/responses")
            } else {
                (StatusCode::METHOD_NOT_ALLOWED, "use POST /v1/responses")
            };
            return Some(error(Api::OpenAi, status, what));
        }
        "/v1/chat/completions" if post => (Api::OpenAi, Call::ChatCompletions),
        p if post => {
            let rest = p.strip_prefix("/v1beta/models/").or_else(|| p.strip_prefix("/v1/models/"))?;
            let (model, action) = rest.rsplit_once(':')?;
            let stream = match action {
                "generateContent" => false,
                "streamGenerateContent" => true,
                _ => return None,
            };
            (Api::Gemini, Call::Generate { model: model.to_owned(), stream })
        }
        _ => return None,
    };
    if let Err(missing) = shared.check(&req.host, &req.parts.headers) {
        return Some(error(api, StatusCode::UNAUTHORIZED, &format!("missing or invalid {missing}")));
    }
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(e) => {
            return Some(error(api, StatusCode::BAD_REQUEST, &format!("request body is not JSON: {e}")));
        }
    };
    let reply = shared.reply();
    let streaming = body.get("stream").and_then(Value::as_bool) == Some(true);
    Some(match call {
        Call::Messages => anthropic_messages(&reply, &body, streaming),
        Call::CountTokens => body::json(StatusCode::OK, &json!({"input_tokens": reply.input_tokens})),
        Call::Responses => openai_responses(&reply, &body, streaming),
        Call::ChatCompletions => openai_chat(&reply, &body, streaming),
        Call::Generate { model, stream } => {
            let sse = req.query("alt").as_deref() == Some("sse");
            gemini(&reply, &model, &body, req.body.as_ref(), stream, sse)
        }
    })
}

/// An error in the shape each API uses, so clients report it the way they would for real.
fn error(api: Api, status: StatusCode, message: &str) -> Response<RespBody> {
    let auth = status == StatusCode::UNAUTHORIZED;
    let value = match api {
        Api::Anthropic => json!({"type": "error", "error": {
            "type": if auth { "authentication_error" } else { "invalid_request_error" },
            "message": message,
        }}),
        Api::OpenAi => json!({"error": {
            "message": message,
            "type": "invalid_request_error",
            "param": null,
            "code": if auth { Value::from("invalid_api_key") } else { Value::Null },
        }}),
        Api::Gemini => json!({"error": {
            "code": status.as_u16(),
            "message": message,
            "status": if auth { "UNAUTHENTICATED" } else { "INVALID_ARGUMENT" },
        }}),
    };
    body::json(status, &value)
}

/// The reply text in at least two pieces (word by word, or halves of a single word).
pub(crate) fn split_text(text: &str) -> Vec<String> {
    let words: Vec<String> = text.split_inclusive(' ').map(str::to_owned).collect();
    if words.len() >= 2 {
        return words;
    }
    let mid = text.char_indices().nth(text.chars().count() / 2).map_or(text.len(), |(i, _)| i);
    vec![text[..mid].to_owned(), text[mid..].to_owned()]
}

fn model_of<'a>(body: &'a Value, default: &'a str) -> &'a str {
    body.get("model").and_then(Value::as_str).unwrap_or(default)
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Claude Code's tool for asking the user a question.
const ASK_TOOL: &str = "AskUserQuestion";
/// Gemini CLI's.
const GEMINI_ASK_TOOL: &str = "ask_user";

/// The questions to ask with a question tool, when the reply asks one
/// ([`ModelReply::question`]), the request offers the tool and nobody has answered yet.
fn question_input(reply: &ModelReply, offered: bool, answered: bool) -> Option<Value> {
    let question = reply.question.as_deref().filter(|_| offered && !answered)?;
    let options: Vec<Value> = super::QUESTION_OPTIONS
        .iter()
        .map(|o| json!({"label": o, "description": format!("the colour {o}")}))
        .collect();
    Some(json!({"questions": [{
        "question": question, "header": "Colour", "multiSelect": false, "options": options,
    }]}))
}

/// [`question_input`] for an Anthropic request: `AskUserQuestion` offered, no `tool_result` in
/// the last message.
fn question_call(reply: &ModelReply, body: &Value) -> Option<Value> {
    let tools = body.get("tools").and_then(Value::as_array);
    let offered =
        tools.into_iter().flatten().any(|t| t.get("name").and_then(Value::as_str) == Some(ASK_TOOL));
    let last = body.get("messages").and_then(Value::as_array).and_then(|m| m.last());
    let answered = last.and_then(|m| m.get("content")).and_then(Value::as_array).is_some_and(|parts| {
        parts.iter().any(|p| p.get("type").and_then(Value::as_str) == Some("tool_result"))
    });
    question_input(reply, offered, answered)
}

/// [`question_input`] for a Gemini request: `ask_user` declared, no `functionResponse` in the
/// last content.
fn gemini_question_call(reply: &ModelReply, body: &Value) -> Option<Value> {
    let tools = body.get("tools").and_then(Value::as_array).into_iter().flatten();
    let offered = tools
        .filter_map(|t| t.get("functionDeclarations").and_then(Value::as_array))
        .flatten()
        .any(|f| f.get("name").and_then(Value::as_str) == Some(GEMINI_ASK_TOOL));
    let last = body.get("contents").and_then(Value::as_array).and_then(|c| c.last());
    let answered = last
        .and_then(|c| c.get("parts"))
        .and_then(Value::as_array)
        .is_some_and(|parts| parts.iter().any(|p| p.get("functionResponse").is_some()));
    let mut input = question_input(reply, offered, answered)?;
    input["questions"][0]["type"] = "choice".into();
    Some(input)
}

fn anthropic_messages(reply: &ModelReply, body: &Value, streaming: bool) -> Response<RespBody> {
    let model = model_of(body, "claude-testkit");
    let id = "msg_testkit_0001";
    let tool_id = "toolu_testkit_0001";
    let ask = question_call(reply, body);
    let stop_reason = if ask.is_some() { "tool_use" } else { "end_turn" };
    if !streaming {
        let content = match &ask {
            Some(input) => json!([{"type": "tool_use", "id": tool_id, "name": ASK_TOOL, "input": input}]),
            None => json!([{"type": "text", "text": reply.text}]),
        };
        return body::json(
            StatusCode::OK,
            &json!({
                "id": id, "type": "message", "role": "assistant", "model": model,
                "content": content,
                "stop_reason": stop_reason, "stop_sequence": null,
                "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
            }),
        );
    }
    let (block, pieces) = match &ask {
        Some(input) => (
            json!({"type": "tool_use", "id": tool_id, "name": ASK_TOOL, "input": {}}),
            split_text(&input.to_string())
                .into_iter()
                .map(|p| json!({"type": "input_json_delta", "partial_json": p}))
                .collect::<Vec<_>>(),
        ),
        None => (
            json!({"type": "text", "text": ""}),
            split_text(&reply.text).into_iter().map(|p| json!({"type": "text_delta", "text": p})).collect(),
        ),
    };
    let mut events = vec![
        sse_event(
            "message_start",
            &json!({"type": "message_start", "message": {
                "id": id, "type": "message", "role": "assistant", "model": model, "content": [],
                "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": reply.input_tokens, "output_tokens": 1},
            }}),
        ),
        sse_event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": 0, "content_block": block}),
        ),
        sse_event("ping", &json!({"type": "ping"})),
    ];
    for delta in pieces {
        events.push(sse_event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": 0, "delta": delta}),
        ));
    }
    events.push(sse_event("content_block_stop", &json!({"type": "content_block_stop", "index": 0})));
    events.push(sse_event(
        "message_delta",
        &json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null},
                "usage": {"output_tokens": reply.output_tokens}}),
    ));
    events.push(sse_event("message_stop", &json!({"type": "message_stop"})));
    body::sse(events)
}

fn openai_usage(reply: &ModelReply) -> Value {
    json!({
        "input_tokens": reply.input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": reply.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": reply.input_tokens + reply.output_tokens,
    })
}

fn openai_responses(reply: &ModelReply, body: &Value, streaming: bool) -> Response<RespBody> {
    let model = model_of(body, "gpt-testkit");
    let created = now();
    let message = |status: &str, text: &str| {
        json!({"type": "message", "id": "msg_testkit_0001", "status": status, "role": "assistant",
               "content": [{"type": "output_text", "text": text, "annotations": []}]})
    };
    let response = |status: &str, output: Value, usage: Value| {
        json!({"id": "resp_testkit_0001", "object": "response", "created_at": created, "status": status,
               "model": model, "output": output, "usage": usage})
    };
    let done = response("completed", json!([message("completed", &reply.text)]), openai_usage(reply));
    if !streaming {
        return body::json(StatusCode::OK, &done);
    }
    let mut seq = 0u64;
    let mut events = Vec::new();
    let mut push = |name: &str, mut data: Value| {
        data["type"] = name.into();
        data["sequence_number"] = seq.into();
        seq += 1;
        events.push(sse_event(name, &data));
    };
    let empty_part = json!({"type": "output_text", "text": "", "annotations": []});
    push("response.created", json!({"response": response("in_progress", json!([]), Value::Null)}));
    push("response.in_progress", json!({"response": response("in_progress", json!([]), Value::Null)}));
    let mut added = message("in_progress", "");
    added["content"] = json!([]);
    push("response.output_item.added", json!({"output_index": 0, "item": added}));
    let ids = json!({"item_id": "msg_testkit_0001", "output_index": 0, "content_index": 0});
    let with_ids = |extra: Value| {
        let mut v = ids.clone();
        if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
            v.extend(extra.clone());
        }
        v
    };
    push("response.content_part.added", with_ids(json!({"part": empty_part})));
    for piece in split_text(&reply.text) {
        push("response.output_text.delta", with_ids(json!({"delta": piece})));
    }
    push("response.output_text.done", with_ids(json!({"text": reply.text})));
    let part = json!({"type": "output_text", "text": reply.text, "annotations": []});
    push("response.content_part.done", with_ids(json!({"part": part})));
    push("response.output_item.done", json!({"output_index": 0, "item": message("completed", &reply.text)}));
    push("response.completed", json!({"response": done}));
    body::sse(events)
}

fn openai_chat(reply: &ModelReply, body: &Value, streaming: bool) -> Response<RespBody> {
    let model = model_of(body, "gpt-testkit");
    let created = now();
    let usage = json!({
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": reply.input_tokens + reply.output_tokens,
    });
    if !streaming {
        return body::json(
            StatusCode::OK,
            &json!({
                "id": "chatcmpl-testkit", "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.text},
                             "finish_reason": "stop"}],
                "usage": usage,
            }),
        );
    }
    let include_usage = body.pointer("/stream_options/include_usage").and_then(Value::as_bool) == Some(true);
    let chunk = |choices: Value, usage: Value| {
        let mut c = json!({"id": "chatcmpl-testkit", "object": "chat.completion.chunk", "created": created,
                           "model": model, "choices": choices});
        if include_usage {
            c["usage"] = usage;
        }
        format!("data: {c}\n\n")
    };
    let choice = |delta: Value, finish: Value| json!([{"index": 0, "delta": delta, "finish_reason": finish}]);
    let mut events =
        vec![chunk(choice(json!({"role": "assistant", "content": ""}), Value::Null), Value::Null)];
    for piece in split_text(&reply.text) {
        events.push(chunk(choice(json!({"content": piece}), Value::Null), Value::Null));
    }
    events.push(chunk(choice(json!({}), "stop".into()), Value::Null));
    if include_usage {
        events.push(chunk(json!([]), usage));
    }
    events.push("data: [DONE]\n\n".to_owned());
    body::sse(events)
}

fn gemini(
    reply: &ModelReply,
    model: &str,
    body: &Value,
    raw: &[u8],
    stream: bool,
    sse: bool,
) -> Response<RespBody> {
    // The Gemini CLI's router asks for a JSON verdict before the real call.
    let is_router = [b"complexity_score".as_slice(), b"complexity_reasoning"]
        .iter()
        .any(|needle| raw.windows(needle.len()).any(|w| w == *needle));
    let text = if is_router {
        json!({"complexity_reasoning": "A short request from a test.", "complexity_score": 10}).to_string()
    } else {
        reply.text.clone()
    };
    let usage = json!({
        "promptTokenCount": reply.input_tokens,
        "candidatesTokenCount": reply.output_tokens,
        "totalTokenCount": reply.input_tokens + reply.output_tokens,
    });
    let ask = if is_router { None } else { gemini_question_call(reply, body) };
    let chunk = |text: &str, last: bool| {
        let part = match &ask {
            Some(args) => json!({"functionCall": {"name": GEMINI_ASK_TOOL, "args": args}}),
            None => json!({"text": text}),
        };
        let mut candidate = json!({"content": {"parts": [part], "role": "model"}, "index": 0});
        let mut c = json!({"candidates": [], "modelVersion": model, "responseId": "testkit-0001"});
        if last {
            candidate["finishReason"] = "STOP".into();
            c["usageMetadata"] = usage.clone();
        }
        c["candidates"] = json!([candidate]);
        c
    };
    if !stream {
        return body::json(StatusCode::OK, &chunk(&text, true));
    }
    // A function call comes whole, in one chunk.
    let pieces = if ask.is_some() { vec![String::new()] } else { split_text(&text) };
    let chunks: Vec<Value> =
        pieces.iter().enumerate().map(|(i, p)| chunk(p, i + 1 == pieces.len())).collect();
    if sse {
        // The real API ends each event with CRLF CRLF.
        body::sse(chunks.iter().map(|c| format!("data: {c}\r\n\r\n")).collect())
    } else {
        // Without alt=sse the stream is one JSON array, sent element by element.
        let n = chunks.len();
        let parts = chunks.iter().enumerate().map(|(i, c)| {
            let open = if i == 0 { "[" } else { "," };
            let close = if i + 1 == n { "]" } else { "" };
            hyper::body::Bytes::from(format!("{open}{c}{close}"))
        });
        let parts: Vec<_> = parts.collect();
        body::stream(StatusCode::OK, "application/json", futures_util::stream::iter(parts))
    }
}

#[cfg(test)]
mod tests {
    use super::split_text;

    #[test]
    fn reply_text_always_splits_into_at_least_two_pieces() {
        for text in ["", "x", "word", "two words", "three short words"] {
            let pieces = split_text(text);
            assert!(pieces.len() >= 2, "{text:?} gave {pieces:?}");
            assert_eq!(pieces.concat(), text);
        }
    }
}
