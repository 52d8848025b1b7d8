use super::*;

fn usage(provider: &str, model: &str, input: u64, output: u64, read: u64, write: u64) -> Option<TokenUsage> {
    Some(TokenUsage {
        provider: provider.into(),
        model: model.into(),
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: read,
        cache_write_tokens: write,
    })
}

fn meter(provider: Provider, ct: Option<&str>, model: Option<&str>, chunks: &[&[u8]]) -> Option<TokenUsage> {
    let mut m = UsageMeter::new(provider, ct, model.map(str::to_owned));
    for c in chunks {
        m.feed(c);
    }
    m.finish()
}

/// The body fed in one piece, byte by byte, and split in two at every position must all
/// give the same answer, which is returned.
fn read(provider: Provider, ct: Option<&str>, model: Option<&str>, body: &str) -> Option<TokenUsage> {
    let body = body.as_bytes();
    let whole = meter(provider, ct, model, &[body]);
    let bytes: Vec<&[u8]> = body.chunks(1).collect();
    assert_eq!(meter(provider, ct, model, &bytes), whole, "fed byte by byte");
    for at in 0..=body.len() {
        let (a, b) = body.split_at(at);
        assert_eq!(meter(provider, ct, model, &[a, b]), whole, "split at {at}");
    }
    whole
}

const JSON: Option<&str> = Some("application/json");
const SSE: Option<&str> = Some("text/event-stream; charset=utf-8");

#[test]
fn anthropic_json() {
    let body = r#"{"id":"msg_1","type":"message","model":"claude-sonnet-4-5","content":[{"type":"text","text":"héllo {\"x\"}"}],
        "usage":{"input_tokens":12,"output_tokens":7,"cache_creation_input_tokens":30,"cache_read_input_tokens":40}}"#;
    assert_eq!(
        read(Provider::Anthropic, JSON, None, body),
        usage("anthropic", "claude-sonnet-4-5", 12, 7, 40, 30)
    );
}

#[test]
fn anthropic_sse_takes_the_last_cumulative_counts() {
    let body = "event: message_start\n\
        data: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-opus-4-1\",\"usage\":{\"input_tokens\":12,\"output_tokens\":1,\"cache_read_input_tokens\":5}}}\n\n\
        event: content_block_delta\n\
        data: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"日本語 data: \"}}\n\n\
        event: message_delta\n\
        data: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":3}}\n\n\
        event: message_delta\n\
        data: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":9,\"cache_creation_input_tokens\":2}}\n\n\
        event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    assert_eq!(
        read(Provider::Anthropic, SSE, None, body),
        usage("anthropic", "claude-opus-4-1", 12, 9, 5, 2)
    );
}

#[test]
fn openai_chat_json_subtracts_cached_tokens() {
    let body = r#"{"id":"c","object":"chat.completion","model":"gpt-4.1","choices":[],
        "usage":{"prompt_tokens":100,"completion_tokens":20,"total_tokens":120,"prompt_tokens_details":{"cached_tokens":64}}}"#;
    assert_eq!(read(Provider::OpenAi, JSON, None, body), usage("openai", "gpt-4.1", 36, 20, 64, 0));
}

#[test]
fn openai_chat_sse_reads_the_usage_chunk_and_ignores_done() {
    let body = "data: {\"model\":\"gpt-4o\",\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\r\n\r\n\
        data: {\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":4}}\r\n\r\n\
        data: [DONE]\r\n\r\n";
    assert_eq!(read(Provider::OpenAi, SSE, None, body), usage("openai", "gpt-4o", 11, 4, 0, 0));
}

#[test]
fn openai_chat_sse_without_include_usage_reports_nothing() {
    let body =
        "data: {\"model\":\"gpt-4o\",\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n";
    assert_eq!(read(Provider::OpenAi, SSE, None, body), None);
}

#[test]
fn openai_responses_json_and_sse() {
    let json = r#"{"id":"r","object":"response","model":"gpt-5-codex","output":[],
        "usage":{"input_tokens":50,"input_tokens_details":{"cached_tokens":10},"output_tokens":8,"output_tokens_details":{"reasoning_tokens":3}}}"#;
    assert_eq!(read(Provider::OpenAi, JSON, None, json), usage("openai", "gpt-5-codex", 40, 8, 10, 0));

    let sse = "event: response.created\n\
        data: {\"type\":\"response.created\",\"response\":{\"model\":\"gpt-5\",\"usage\":null}}\n\n\
        event: response.output_text.delta\n\
        data: {\"type\":\"response.output_text.delta\",\"delta\":\"usage\"}\n\n\
        event: response.completed\n\
        data: {\"type\":\"response.completed\",\"response\":{\"model\":\"gpt-5\",\"usage\":{\"input_tokens\":50,\"output_tokens\":8}}}\n\n";
    assert_eq!(read(Provider::OpenAi, SSE, None, sse), usage("openai", "gpt-5", 50, 8, 0, 0));
}

#[test]
fn gemini_json_counts_thoughts_as_output() {
    let body = r#"{"candidates":[{"content":{"parts":[{"text":"]}"}]}}],"modelVersion":"gemini-2.5-pro",
        "usageMetadata":{"promptTokenCount":30,"candidatesTokenCount":5,"thoughtsTokenCount":7,"cachedContentTokenCount":20}}"#;
    assert_eq!(read(Provider::Gemini, JSON, None, body), usage("gemini", "gemini-2.5-pro", 10, 12, 20, 0));
}

#[test]
fn gemini_streams_take_the_last_usage_and_the_path_model() {
    let a = r#"{"candidates":[],"usageMetadata":{"promptTokenCount":30,"candidatesTokenCount":1}}"#;
    let b = r#"{"candidates":[],"usageMetadata":{"promptTokenCount":30,"candidatesTokenCount":6}}"#;
    let array = format!("[{a},\r\n{b}]");
    let want = usage("gemini", "gemini-2.5-flash", 30, 6, 0, 0);
    assert_eq!(read(Provider::Gemini, JSON, Some("gemini-2.5-flash"), &array), want);
    let sse = format!("data: {a}\r\n\r\ndata: {b}\r\n\r\n");
    assert_eq!(read(Provider::Gemini, SSE, Some("gemini-2.5-flash"), &sse), want);
    // Without a content type the first byte decides.
    assert_eq!(read(Provider::Gemini, None, Some("gemini-2.5-flash"), &sse), want);
    assert_eq!(read(Provider::Gemini, None, Some("gemini-2.5-flash"), &array), want);
}

#[test]
fn sse_line_endings_and_an_unterminated_last_event() {
    // CR alone ends a line too, and the body may end without the blank line.
    let body = "data: {\"type\":\"message_start\",\"message\":{\"model\":\"m\",\"usage\":{\"input_tokens\":1}}}\r\r\
                data: {\"type\":\"message_delta\",\r\
                data: \"usage\":{\"output_tokens\":2}}";
    assert_eq!(read(Provider::Anthropic, SSE, None, body), usage("anthropic", "m", 1, 2, 0, 0));
}

#[test]
fn malformed_input_gives_none_or_what_came_before() {
    for body in
        ["", "not json", "}{", "]]]]", "{\"usage\":", "data: {\n\n", "\u{0}\u{1}\u{ff}", "[1,2,{\"a\":}]"]
    {
        for p in [Provider::Anthropic, Provider::OpenAi, Provider::Gemini] {
            for ct in [JSON, SSE, None] {
                assert_eq!(read(p, ct, None, body), None, "{p:?} {ct:?} {body:?}");
            }
        }
    }
    // Usage before the break is kept; a truncated JSON body reports nothing.
    let partial = "data: {\"type\":\"message_start\",\"message\":{\"model\":\"m\",\"usage\":{\"input_tokens\":4}}}\n\n\
                   data: {\"type\":\"message_delta\",\"usage\":{\"output_tok";
    assert_eq!(read(Provider::Anthropic, SSE, None, partial), usage("anthropic", "m", 4, 0, 0, 0));
    let truncated = r#"{"model":"m","usage":{"input_tokens":4,"output_tokens":2}"#;
    assert_eq!(read(Provider::Anthropic, JSON, None, truncated), None);
    // Numbers of the wrong type are not counts.
    let wrong = r#"{"model":"m","usage":{"input_tokens":-4,"output_tokens":"2"}}"#;
    assert_eq!(read(Provider::Anthropic, JSON, None, wrong), None);
}

#[test]
fn a_document_over_the_cap_is_skipped_quietly() {
    let big = format!(
        r#"{{"model":"m","pad":"{}","usage":{{"input_tokens":1,"output_tokens":1}}}}"#,
        "x".repeat(MAX_DOCUMENT)
    );
    assert_eq!(meter(Provider::Anthropic, JSON, None, &[big.as_bytes()]), None);
    let event = format!("data: {big}\n\ndata: {{\"usage\":{{\"input_tokens\":3,\"output_tokens\":2}}}}\n\n");
    assert_eq!(
        meter(Provider::Anthropic, SSE, Some("m"), &[event.as_bytes()]),
        usage("anthropic", "m", 3, 2, 0, 0),
        "the events after a dropped one are still read"
    );
}

#[test]
fn providers_and_models_from_requests() {
    assert_eq!(provider_for("api.anthropic.com", "/v1/messages?beta=true"), Some(Provider::Anthropic));
    assert_eq!(provider_for("api.anthropic.com", "/v1/messages/count_tokens"), None);
    assert_eq!(provider_for("API.OpenAI.com", "/v1/responses"), Some(Provider::OpenAi));
    assert_eq!(provider_for("api.openai.com", "/v1/responses/resp_1"), None, "a fetch is not a new call");
    assert_eq!(provider_for("api.openai.com", "/v1/chat/completions"), Some(Provider::OpenAi));
    assert_eq!(provider_for("chatgpt.com", "/backend-api/codex/responses"), Some(Provider::OpenAi));
    assert_eq!(provider_for("api.openai.com", "/v1/models"), None);
    let code_assist = "/v1internal:streamGenerateContent?alt=sse";
    assert_eq!(provider_for("cloudcode-pa.googleapis.com", code_assist), Some(Provider::Gemini));
    assert_eq!(model_from_path(code_assist), None);
    let gemini = "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse";
    assert_eq!(provider_for("generativelanguage.googleapis.com", gemini), Some(Provider::Gemini));
    assert_eq!(provider_for("example.com", "/v1/messages"), None);
    assert_eq!(model_from_path(gemini).as_deref(), Some("gemini-2.5-pro"));
    assert_eq!(model_from_path("/v1/messages"), None);
}

#[test]
fn gemini_code_assist_wraps_the_answer_in_response() {
    let event = r#"{"response":{"candidates":[],"modelVersion":"gemini-2.5-pro",
        "usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":4}},"traceId":"t"}"#;
    let sse = format!("data: {}\r\n\r\n", event.replace('\n', ""));
    assert_eq!(read(Provider::Gemini, SSE, None, &sse), usage("gemini", "gemini-2.5-pro", 9, 4, 0, 0));
}
