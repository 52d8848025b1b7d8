//! Usage metering: token counts read from model API responses as their bytes pass by.
//!
//! The meter only observes: the proxy hands it each (decoded) body chunk after forwarding
//! it, and asks for the result when the body ends. Memory is bounded: a JSON document (or
//! one element of a streamed JSON array, or one SSE event) larger than [`MAX_DOCUMENT`] is
//! skipped quietly. Malformed input gives `None` or what was read before it, never a panic.
//!
//! Counts come out as a [`TokenUsage`], normalised so that input tokens exclude cached ones
//! on every provider.

use crate::identity::SessionIdentity;
use clauderon_types::usage::TokenUsage;
use serde_json::Value;

/// The largest JSON document or SSE event the meter holds; larger ones are not metered.
pub const MAX_DOCUMENT: usize = 8 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Anthropic,
    OpenAi,
    Gemini,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Anthropic => "anthropic",
            Provider::OpenAi => "openai",
            Provider::Gemini => "gemini",
        }
    }
}

/// The model API a request goes to, if it is one the meter reads. `host` without a port.
/// Only the calls that generate: a response fetched again (`GET /v1/responses/{id}`) or a
/// token count is not a new use.
pub fn provider_for(host: &str, path: &str) -> Option<Provider> {
    // Called for every intercepted response: no allocation.
    let host = host.trim_end_matches('.');
    let is = |name: &str| host.eq_ignore_ascii_case(name);
    let path = path.split('?').next().unwrap_or(path);
    let gemini = path.ends_with(":generateContent") || path.ends_with(":streamGenerateContent");
    if is("api.anthropic.com") && path == "/v1/messages" {
        Some(Provider::Anthropic)
    } else if (is("api.openai.com") && (path == "/v1/responses" || path == "/v1/chat/completions"))
        // Codex signed in with ChatGPT: the Responses API under another path.
        || (is("chatgpt.com") && path == "/backend-api/codex/responses")
    {
        Some(Provider::OpenAi)
    } else if gemini
        // The Gemini API, and Code Assist (the Gemini CLI signed in with Google).
        && (is("generativelanguage.googleapis.com") || is("cloudcode-pa.googleapis.com"))
    {
        Some(Provider::Gemini)
    } else {
        None
    }
}

/// The model a request path names (Gemini's `/v1beta/models/{model}:generateContent`); the
/// other providers name it in the body, and the response repeats it.
pub fn model_from_path(path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap_or(path);
    let rest = path.split_once("/models/")?.1;
    let model = rest.split_once(':').map_or(rest, |(m, _)| m);
    (!model.is_empty() && !model.contains('/')).then(|| model.to_owned())
}

/// Where metered usage goes. `record` must not block: the proxy calls it on its
/// response path.
pub trait UsageSink: Send + Sync {
    fn record(&self, session: &SessionIdentity, usage: TokenUsage);
}

/// Counts as seen so far; the latest report of each kind wins (every shape reports
/// cumulative counts).
#[derive(Debug, Default)]
struct Counts {
    model: Option<String>,
    input: Option<u64>,
    output: Option<u64>,
    cache_read: Option<u64>,
    cache_write: Option<u64>,
}

fn number(v: &Value, key: &str) -> Option<u64> {
    v.get(key).and_then(Value::as_u64)
}

fn nested(v: &Value, pointer: &str) -> Option<u64> {
    v.pointer(pointer).and_then(Value::as_u64)
}

impl Counts {
    fn model_from(&mut self, v: Option<&Value>) {
        if let Some(m) = v.and_then(Value::as_str).filter(|m| !m.is_empty()) {
            self.model = Some(m.to_owned());
        }
    }

    /// Anthropic's `usage`: uncached input, output and both cache kinds, each optional
    /// (a `message_delta` may carry only the output count).
    fn anthropic(&mut self, usage: &Value) {
        let fields = [
            ("input_tokens", &mut self.input),
            ("output_tokens", &mut self.output),
            ("cache_read_input_tokens", &mut self.cache_read),
            ("cache_creation_input_tokens", &mut self.cache_write),
        ];
        for (key, slot) in fields {
            if let Some(n) = number(usage, key) {
                *slot = Some(n);
            }
        }
    }

    /// OpenAI's `usage`: Chat Completions (`prompt_tokens`) or Responses (`input_tokens`),
    /// whose input count includes the cached tokens.
    fn openai(&mut self, usage: &Value) {
        let (input, output, cached) = if let Some(prompt) = number(usage, "prompt_tokens") {
            (
                prompt,
                number(usage, "completion_tokens"),
                nested(usage, "/prompt_tokens_details/cached_tokens"),
            )
        } else if let Some(input) = number(usage, "input_tokens") {
            (input, number(usage, "output_tokens"), nested(usage, "/input_tokens_details/cached_tokens"))
        } else {
            return;
        };
        let cached = cached.unwrap_or(0);
        self.input = Some(input.saturating_sub(cached));
        self.cache_read = Some(cached);
        if output.is_some() {
            self.output = output;
        }
    }

    /// Gemini's `usageMetadata`: the prompt count includes cached content, the output is
    /// candidates plus thoughts.
    fn gemini(&mut self, meta: &Value) {
        let Some(prompt) = number(meta, "promptTokenCount") else { return };
        let cached = number(meta, "cachedContentTokenCount").unwrap_or(0);
        self.input = Some(prompt.saturating_sub(cached));
        self.cache_read = Some(cached);
        let output = number(meta, "candidatesTokenCount")
            .unwrap_or(0)
            .saturating_add(number(meta, "thoughtsTokenCount").unwrap_or(0));
        self.output = Some(output);
    }

    /// One JSON document: a whole response, one SSE event's data, or one element of a
    /// streamed JSON array.
    fn observe(&mut self, provider: Provider, v: &Value) {
        match provider {
            Provider::Anthropic => {
                // A whole message, or the SSE `message_start` (which wraps one) and
                // `message_delta` events.
                let message = v.get("message").filter(|m| m.is_object()).unwrap_or(v);
                self.model_from(message.get("model"));
                if let Some(usage) = message.get("usage").or_else(|| v.get("usage")) {
                    self.anthropic(usage);
                }
            }
            Provider::OpenAi => {
                // Responses' SSE events wrap the response; `response.completed` has the usage.
                let response = v.get("response").filter(|r| r.is_object()).unwrap_or(v);
                self.model_from(response.get("model"));
                if let Some(usage) = response.get("usage").filter(|u| u.is_object()) {
                    self.openai(usage);
                }
            }
            Provider::Gemini => {
                // Code Assist wraps the API's answer in `response`.
                let v = v.get("response").filter(|r| r.is_object()).unwrap_or(v);
                self.model_from(v.get("modelVersion"));
                if let Some(meta) = v.get("usageMetadata").filter(|m| m.is_object()) {
                    self.gemini(meta);
                }
            }
        }
    }

    fn seen(&self) -> bool {
        self.input.is_some() || self.output.is_some()
    }
}

/// Cuts a JSON byte stream into documents: the top-level object, or each object element of
/// a top-level array (Gemini streams `[{..},{..}]` without `alt=sse`).
#[derive(Debug, Default)]
struct JsonSplitter {
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// The top level is an array: documents are its elements.
    array: bool,
    capturing: bool,
    buf: Vec<u8>,
    /// Too large, or not JSON: nothing more is read.
    gave_up: bool,
}

impl JsonSplitter {
    fn feed(&mut self, chunk: &[u8], mut done: impl FnMut(&[u8])) {
        for &b in chunk {
            if self.gave_up {
                return;
            }
            if self.capturing {
                if self.buf.len() >= MAX_DOCUMENT {
                    self.give_up();
                    return;
                }
                self.buf.push(b);
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => {
                    let starts = match self.depth {
                        0 => {
                            self.array = b == b'[';
                            !self.array
                        }
                        1 => self.array && b == b'{',
                        _ => false,
                    };
                    if starts {
                        self.capturing = true;
                        self.buf.clear();
                        self.buf.push(b);
                    }
                    self.depth += 1;
                }
                b'}' | b']' => {
                    let Some(depth) = self.depth.checked_sub(1) else {
                        self.give_up();
                        return;
                    };
                    self.depth = depth;
                    let base = u32::from(self.array);
                    if self.capturing && depth == base {
                        self.capturing = false;
                        done(&self.buf);
                        self.buf.clear();
                    }
                }
                _ => {}
            }
        }
    }

    fn give_up(&mut self) {
        self.gave_up = true;
        self.capturing = false;
        self.buf = Vec::new();
    }
}

/// Server-sent events, parsed line by line across chunk boundaries; only `data` matters.
#[derive(Debug, Default)]
struct SseParser {
    line: Vec<u8>,
    /// The previous byte was a CR: a following LF belongs to the same line end.
    after_cr: bool,
    /// The current line is too long: it is dropped, and so is its event.
    line_dropped: bool,
    data: Vec<u8>,
    has_data: bool,
    event_dropped: bool,
}

impl SseParser {
    fn feed(&mut self, chunk: &[u8], mut done: impl FnMut(&[u8])) {
        for &b in chunk {
            if std::mem::take(&mut self.after_cr) && b == b'\n' {
                continue;
            }
            match b {
                b'\r' | b'\n' => {
                    self.after_cr = b == b'\r';
                    self.end_line(&mut done);
                }
                _ if self.line_dropped => {}
                _ if self.line.len() >= MAX_DOCUMENT => {
                    self.line_dropped = true;
                    self.line = Vec::new();
                }
                _ => self.line.push(b),
            }
        }
    }

    fn end_line(&mut self, done: &mut impl FnMut(&[u8])) {
        if std::mem::take(&mut self.line_dropped) {
            self.event_dropped = true;
            return;
        }
        if self.line.is_empty() {
            self.dispatch(done);
            return;
        }
        if let Some(value) = self.line.strip_prefix(b"data:") {
            let value = value.strip_prefix(b" ").unwrap_or(value);
            if !self.event_dropped {
                if self.data.len() + value.len() >= MAX_DOCUMENT {
                    self.event_dropped = true;
                    self.data = Vec::new();
                } else {
                    if self.has_data {
                        self.data.push(b'\n');
                    }
                    self.data.extend_from_slice(value);
                }
            }
            self.has_data = true;
        }
        self.line.clear();
    }

    fn dispatch(&mut self, done: &mut impl FnMut(&[u8])) {
        if self.has_data && !self.event_dropped {
            done(&self.data);
        }
        self.data.clear();
        self.has_data = false;
        self.event_dropped = false;
    }

    /// The body ended: an event without its closing blank line still counts.
    fn finish(&mut self, done: &mut impl FnMut(&[u8])) {
        if !self.line.is_empty() || self.line_dropped {
            self.end_line(done);
        }
        self.dispatch(done);
    }
}

#[derive(Debug)]
enum Framing {
    /// Not known from the content type: decided by the first non-blank byte.
    Undecided,
    Json(JsonSplitter),
    Sse(SseParser),
}

/// Reads one response's token usage from its body, chunk by chunk.
#[derive(Debug)]
pub struct UsageMeter {
    provider: Provider,
    request_model: Option<String>,
    framing: Framing,
    counts: Counts,
}

impl UsageMeter {
    /// `content_type` is the response's; `request_model` the model the request named (used
    /// when the response does not say).
    pub fn new(provider: Provider, content_type: Option<&str>, request_model: Option<String>) -> Self {
        let essence = content_type.map(|c| c.split(';').next().unwrap_or(c).trim().to_ascii_lowercase());
        let framing = match essence.as_deref() {
            Some("text/event-stream") => Framing::Sse(SseParser::default()),
            Some(c) if c.ends_with("json") => Framing::Json(JsonSplitter::default()),
            _ => Framing::Undecided,
        };
        UsageMeter { provider, request_model, framing, counts: Counts::default() }
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        if let Framing::Undecided = self.framing {
            match chunk.iter().find(|b| !b.is_ascii_whitespace()) {
                None => return,
                Some(b'{' | b'[') => self.framing = Framing::Json(JsonSplitter::default()),
                Some(_) => self.framing = Framing::Sse(SseParser::default()),
            }
        }
        let (provider, counts) = (self.provider, &mut self.counts);
        let mut done = |doc: &[u8]| {
            if let Ok(v) = serde_json::from_slice::<Value>(doc) {
                counts.observe(provider, &v);
            }
        };
        match &mut self.framing {
            Framing::Undecided => {}
            Framing::Json(json) => json.feed(chunk, done),
            Framing::Sse(sse) => sse.feed(chunk, &mut done),
        }
    }

    /// The usage the response reported, or `None` if it reported none.
    pub fn finish(mut self) -> Option<TokenUsage> {
        if let Framing::Sse(sse) = &mut self.framing {
            let (provider, counts) = (self.provider, &mut self.counts);
            sse.finish(&mut |doc: &[u8]| {
                if let Ok(v) = serde_json::from_slice::<Value>(doc) {
                    counts.observe(provider, &v);
                }
            });
        }
        let c = self.counts;
        if !c.seen() {
            return None;
        }
        Some(TokenUsage {
            provider: self.provider.as_str().to_owned(),
            model: c.model.or(self.request_model).unwrap_or_else(|| "unknown".to_owned()),
            input_tokens: c.input.unwrap_or(0),
            output_tokens: c.output.unwrap_or(0),
            cache_read_tokens: c.cache_read.unwrap_or(0),
            cache_write_tokens: c.cache_write.unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests;
