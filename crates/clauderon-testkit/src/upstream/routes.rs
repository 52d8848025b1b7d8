//! Records every request, then routes it: test routes here, model API routes in
//! `model_api`, paths under a repository of the git root to `git_backend`. Any host is
//! served the same routes.

use super::body::{self, PatternBody, RespBody};
use super::{ConnInfo, RecordedRequest, Shared, git_backend, github_api, model_api, oauth_api, reflect};
use futures_util::{SinkExt, StreamExt};
use http_body_util::BodyExt;
use hyper::body::{Bytes, Incoming};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;
use std::sync::Arc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;

/// The fixed body of `GET /small`.
pub(crate) const SMALL_BODY: &[u8; 1024] = &[b'x'; 1024];

/// Response headers that reflect a request header back (for secret-echo scrubbing tests).
const ECHOED: &[(&str, &str)] = &[
    ("authorization", "x-echo-authorization"),
    ("x-api-key", "x-echo-x-api-key"),
    ("x-goog-api-key", "x-echo-x-goog-api-key"),
];

/// A request after its body has been read (up to the cap) and recorded.
pub(crate) struct Req {
    pub(crate) parts: Parts,
    pub(crate) host: String,
    pub(crate) body: Bytes,
}

impl Req {
    pub(crate) fn query(&self, name: &str) -> Option<String> {
        query_param(self.parts.uri.query().unwrap_or(""), name)
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub(crate) async fn handle(
    shared: Arc<Shared>,
    info: Arc<ConnInfo>,
    mut req: Request<Incoming>,
) -> Response<RespBody> {
    let on_upgrade = req.headers().contains_key("upgrade").then(|| hyper::upgrade::on(&mut req));
    let (parts, incoming) = req.into_parts();
    let host = parts
        .uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| parts.headers.get("host").map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned()))
        .unwrap_or_default();
    // Git streams its request body into the CGI, so it is routed before the body is read.
    if let Some(root) = git_backend::repo_root(shared.git_root.as_deref(), parts.uri.path()) {
        if let Err(missing) = shared.check(&host, &parts.headers) {
            // As GitHub answers a git client without credentials: a Basic challenge.
            let mut resp = unauthorized(&missing);
            resp.headers_mut().insert(
                "www-authenticate",
                hyper::header::HeaderValue::from_static("Basic realm=\"GitHub\""),
            );
            return resp;
        }
        return git_backend::serve(shared, &info, root, parts, host, incoming).await;
    }
    let (body, body_len) = read_capped(incoming, shared.body_cap).await;
    let record = shared.recording().then(|| RecordedRequest {
        body: body.clone(),
        body_len,
        ..recorded_head(&parts, &host, &info)
    });
    shared.record(record);
    route(&shared, Req { parts, host, body }, on_upgrade).await
}

/// What the record holds of a request before its body is read (the body empty).
pub(crate) fn recorded_head(parts: &Parts, host: &str, info: &ConnInfo) -> RecordedRequest {
    RecordedRequest {
        method: parts.method.to_string(),
        host: host.to_owned(),
        path: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned()),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        body: Bytes::new(),
        body_len: 0,
        version: parts.version,
        sni: info.sni.clone(),
        alpn: info.alpn.clone(),
        peer: info.peer,
        received_at: std::time::SystemTime::now(),
    }
}

/// Reads the whole body, keeping at most `cap` bytes; a body that breaks off keeps what came.
async fn read_capped(mut incoming: Incoming, cap: usize) -> (Bytes, u64) {
    let mut kept = Vec::new();
    let mut total = 0u64;
    while let Some(Ok(frame)) = incoming.frame().await {
        if let Ok(data) = frame.into_data() {
            total += data.len() as u64;
            let room = cap.saturating_sub(kept.len());
            kept.extend_from_slice(&data[..data.len().min(room)]);
        }
    }
    (kept.into(), total)
}

pub(crate) async fn route(
    shared: &Shared,
    req: Req,
    on_upgrade: Option<hyper::upgrade::OnUpgrade>,
) -> Response<RespBody> {
    let path = req.parts.uri.path().to_owned();
    let get = req.parts.method == Method::GET;
    match path.as_str() {
        "/small" if get => body::full(StatusCode::OK, "text/plain", Bytes::from_static(SMALL_BODY)),
        // The small body, then the upstream closes the connection.
        "/close" if get => {
            let mut resp = body::full(StatusCode::OK, "text/plain", Bytes::from_static(SMALL_BODY));
            resp.headers_mut()
                .insert(hyper::header::CONNECTION, hyper::header::HeaderValue::from_static("close"));
            resp
        }
        "/v1/oauth/token" if req.parts.method == Method::POST => oauth_api::token(&req),
        "/echo" => match shared.check(&req.host, &req.parts.headers) {
            Ok(()) => echo(&req).await,
            Err(missing) => unauthorized(&missing),
        },
        "/echo-forms" if get => match shared.check(&req.host, &req.parts.headers) {
            Ok(()) => reflect::echo_forms(&req),
            Err(missing) => unauthorized(&missing),
        },
        "/sse" if get => sse(shared, &req),
        "/redirect" if get => redirect(&req),
        "/ws" if get => match shared.check(&req.host, &req.parts.headers) {
            Ok(()) => websocket(shared, &req, on_upgrade),
            Err(missing) => unauthorized(&missing),
        },
        p if get && p.starts_with("/bytes/") => match p["/bytes/".len()..].parse::<u64>() {
            Ok(n) => body::finish(
                Response::builder()
                    .header("content-type", "application/octet-stream")
                    .header("content-length", n),
                body::boxed(PatternBody::new(n)),
            ),
            Err(_) => bad_request("/bytes/{n} needs a byte count"),
        },
        p if p.starts_with("/status/") => status(&p["/status/".len()..]),
        // `/flaky/{key}/{n}`: the first n requests with that key get 503, the later ones 200.
        p if p.starts_with("/flaky/") => {
            let rest = &p["/flaky/".len()..];
            match rest.rsplit_once('/').and_then(|(key, n)| Some((key, n.parse::<u32>().ok()?))) {
                Some((key, n)) if shared.flaky_take(key) < n => {
                    body::json(StatusCode::SERVICE_UNAVAILABLE, &json!({"error": "flaky: try again"}))
                }
                Some(_) => body::json(StatusCode::OK, &json!({"ok": true})),
                None => bad_request("/flaky/{key}/{n} needs a key and a count"),
            }
        }
        // `/hang`: never answers (until the upstream stops).
        "/hang" => {
            let mut stop = shared.shutdown.clone();
            let _ = stop.wait_for(|s| *s).await;
            body::empty(StatusCode::SERVICE_UNAVAILABLE)
        }
        p if p.starts_with("/repos/") && super::host_without_port(&req.host) == "api.github.com" => {
            match shared.check(&req.host, &req.parts.headers) {
                Ok(()) => github_api::route(shared, &req).unwrap_or_else(|| {
                    body::json(StatusCode::NOT_FOUND, &json!({"message": "Not Found", "path": path}))
                }),
                Err(missing) => body::json(
                    StatusCode::UNAUTHORIZED,
                    &json!({"message": format!("Bad credentials ({missing})")}),
                ),
            }
        }
        _ => match model_api::route(shared, &req, on_upgrade.is_some()) {
            Some(resp) => resp,
            None => body::json(
                StatusCode::NOT_FOUND,
                &json!({"error": "no such route on the test upstream", "method": req.parts.method.as_str(), "path": path}),
            ),
        },
    }
}

pub(crate) fn bad_request(message: &str) -> Response<RespBody> {
    body::json(StatusCode::BAD_REQUEST, &json!({"error": message}))
}

fn unauthorized(missing: &str) -> Response<RespBody> {
    body::json(
        StatusCode::UNAUTHORIZED,
        &json!({"error": {"type": "authentication_error", "message": format!("missing or wrong {missing}")}}),
    )
}

/// The request reflected as JSON, its credential headers also reflected as `x-echo-*` response
/// headers. `?encoding=gzip|deflate|br|zstd` compresses the body, a list (`gzip,br`) stacks
/// codings in that order, `identity` and `x-custom` (a coding no client knows) send it as it
/// is under that name; `?chunk=N` sends it in N-byte pieces a millisecond apart, so whatever
/// it holds is split across reads.
async fn echo(req: &Req) -> Response<RespBody> {
    let mut headers = serde_json::Map::new();
    for (name, value) in &req.parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            Some(serde_json::Value::String(prev)) => *prev = format!("{prev}, {value}"),
            _ => {
                headers.insert(name.as_str().to_owned(), value.into());
            }
        }
    }
    let reflected = json!({
        "method": req.parts.method.as_str(),
        "path": req.parts.uri.path_and_query().map_or("/", |p| p.as_str()),
        "host": req.host,
        "version": format!("{:?}", req.parts.version),
        "headers": headers,
        "body": String::from_utf8_lossy(&req.body),
    });
    let mut b = Response::builder().status(StatusCode::OK).header("content-type", "application/json");
    for (from, to) in ECHOED {
        for value in req.parts.headers.get_all(*from) {
            b = b.header(*to, value.clone());
        }
    }
    let mut bytes = reflected.to_string().into_bytes();
    if let Some(encoding) = req.query("encoding") {
        for coding in encoding.split(',').map(str::trim) {
            match compress(coding, &bytes).await {
                Some(c) => bytes = c,
                None => return bad_request("encoding must be gzip, deflate, br, zstd, identity or x-custom"),
            }
        }
        b = b.header("content-encoding", encoding.replace(',', ", "));
    }
    match req.query("chunk").and_then(|n| n.parse::<usize>().ok()).filter(|n| *n > 0) {
        None => body::finish(b, body::boxed(http_body_util::Full::new(Bytes::from(bytes)))),
        Some(n) => {
            let pieces: Vec<Bytes> = bytes.chunks(n).map(Bytes::copy_from_slice).collect();
            let frames = futures_util::stream::iter(pieces).then(|piece| async move {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(piece))
            });
            body::finish(b, body::boxed(http_body_util::StreamBody::new(frames)))
        }
    }
}

async fn compress(encoding: &str, data: &[u8]) -> Option<Vec<u8>> {
    use async_compression::tokio::write::{BrotliEncoder, GzipEncoder, ZlibEncoder, ZstdEncoder};
    use tokio::io::AsyncWriteExt;
    async fn run<W: tokio::io::AsyncWrite + Unpin>(mut w: W, data: &[u8]) -> W {
        let _ = w.write_all(data).await;
        let _ = w.shutdown().await;
        w
    }
    Some(match encoding {
        "gzip" => run(GzipEncoder::new(Vec::new()), data).await.into_inner(),
        "deflate" => run(ZlibEncoder::new(Vec::new()), data).await.into_inner(),
        "br" => run(BrotliEncoder::new(Vec::new()), data).await.into_inner(),
        "zstd" => run(ZstdEncoder::new(Vec::new()), data).await.into_inner(),
        "identity" | "x-custom" => data.to_vec(),
        _ => return None,
    })
}

/// `events` SSE events; with `gate`, event 1 goes out at once and the rest wait for the gate.
fn sse(shared: &Shared, req: &Req) -> Response<RespBody> {
    let Some(events) = req.query("events").map_or(Some(3), |n| n.parse::<u64>().ok()) else {
        return bad_request("events must be a number");
    };
    let gate = req.query("gate").map(|name| shared.gate(&name));
    let frames = futures_util::stream::unfold((1u64, gate), move |(i, mut gate)| async move {
        if i > events {
            return None;
        }
        if i == 2
            && let Some(gate) = gate.as_mut()
        {
            // Err means the upstream is gone: send the rest rather than hang.
            let _ = gate.wait_for(|open| *open).await;
        }
        let event = format!("id: {i}\nevent: tick\ndata: {}\n\n", json!({"n": i, "of": events}));
        Some((Bytes::from(event), (i + 1, gate)))
    });
    body::stream(StatusCode::OK, "text/event-stream", frames)
}

fn redirect(req: &Req) -> Response<RespBody> {
    let Some(to) = req.query("to") else {
        return bad_request("/redirect needs ?to=URL");
    };
    let Ok(location) = hyper::header::HeaderValue::from_str(&to) else {
        return bad_request("?to= is not a valid Location");
    };
    let b = Response::builder().status(StatusCode::FOUND).header("location", location);
    body::finish(b, body::boxed(http_body_util::Full::new(Bytes::from(format!("redirecting to {to}")))))
}

fn status(code: &str) -> Response<RespBody> {
    match code
        .parse::<u16>()
        .ok()
        .filter(|c| (200..=599).contains(c))
        .and_then(|c| StatusCode::from_u16(c).ok())
    {
        Some(s) if s == StatusCode::NO_CONTENT || s == StatusCode::NOT_MODIFIED => body::empty(s),
        Some(s) => body::json(s, &json!({"status": s.as_u16()})),
        None => bad_request("/status/{code} needs a code from 200 to 599"),
    }
}

/// WebSocket echo. The credential headers are reflected as `x-echo-*` headers on the 101 and,
/// with `?reflect=1`, sent as the first text message (`&split=N`: in fragments of N < 126
/// bytes); `?extensions=X` answers with
/// `Sec-WebSocket-Extensions: X` whatever the client offered (a server turning compression on).
fn websocket(
    shared: &Shared,
    req: &Req,
    on_upgrade: Option<hyper::upgrade::OnUpgrade>,
) -> Response<RespBody> {
    let is_ws = req.header("upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    let (Some(on_upgrade), true, Some(key)) = (on_upgrade, is_ws, req.header("sec-websocket-key")) else {
        return bad_request("/ws needs an HTTP/1.1 WebSocket upgrade");
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut stop = shared.shutdown.clone();
    let first = (req.query("reflect").as_deref() == Some("1")).then(|| {
        let echoed: Vec<String> = ECHOED
            .iter()
            .flat_map(|(from, _)| req.parts.headers.get_all(*from))
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        format!("credentials: {}", echoed.join(", "))
    });
    let split = req.query("split").and_then(|n| n.parse::<usize>().ok()).filter(|n| *n > 0);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else { return };
        let mut io = hyper_util::rt::TokioIo::new(upgraded);
        if let (Some(text), Some(n)) = (&first, split) {
            // The first message in fragments of n bytes, written as raw frames (tungstenite
            // sends a message whole): a server that splits what it echoes.
            use tokio::io::AsyncWriteExt;
            let pieces: Vec<&[u8]> = text.as_bytes().chunks(n).collect();
            for (i, piece) in pieces.iter().enumerate() {
                let fin = if i + 1 == pieces.len() { 0x80 } else { 0 };
                let opcode = if i == 0 { 1 } else { 0 };
                let mut frame = vec![fin | opcode, piece.len() as u8];
                frame.extend_from_slice(piece);
                if io.write_all(&frame).await.is_err() || io.flush().await.is_err() {
                    return;
                }
            }
        }
        let mut ws = WebSocketStream::from_raw_socket(io, Role::Server, None).await;
        if let (Some(text), None) = (first, split)
            && ws.send(Message::Text(text.into())).await.is_err()
        {
            return;
        }
        loop {
            let msg = tokio::select! {
                m = ws.next() => m,
                _ = stop.wait_for(|s| *s) => break,
            };
            match msg {
                Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => {
                    if ws.send(m).await.is_err() {
                        break;
                    }
                }
                // Pings and closes are answered by tungstenite on the next read.
                Some(Ok(_)) => {}
                None | Some(Err(_)) => break,
            }
        }
    });
    let mut b = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("upgrade", "websocket")
        .header("connection", "upgrade")
        .header("sec-websocket-accept", accept);
    for (from, to) in ECHOED {
        for value in req.parts.headers.get_all(*from) {
            b = b.header(*to, value.clone());
        }
    }
    if let Some(ext) = req.query("extensions") {
        b = b.header("sec-websocket-extensions", ext);
    }
    body::finish(b, body::boxed(http_body_util::Empty::new()))
}

/// The first value of `name` in a query string, percent- and plus-decoded.
pub(crate) fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find_map(|(k, v)| (percent_decode(k) == name).then(|| percent_decode(v)))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_decoded() {
        let q = "to=https%3A%2F%2Fother.test%2Fx%3Fa%3Db&events=5&gate=g+1&bad=%zz&end=%4";
        assert_eq!(query_param(q, "to").as_deref(), Some("https://other.test/x?a=b"));
        assert_eq!(query_param(q, "events").as_deref(), Some("5"));
        assert_eq!(query_param(q, "gate").as_deref(), Some("g 1"));
        assert_eq!(query_param(q, "bad").as_deref(), Some("%zz"));
        assert_eq!(query_param(q, "end").as_deref(), Some("%4"));
        assert_eq!(query_param(q, "missing"), None);
    }
}
