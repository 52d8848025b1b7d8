//! The upstream as an old or small server answers: HTTP/1.1 only, written by hand instead of
//! by hyper, one request per connection, and every response body ended by closing the
//! connection — no `Content-Length`, no chunked encoding (legal HTTP/1.1, the HTTP/1.0 way).
//! The close comes with TLS close_notify or, like many servers, without it
//! ([`Framing::CloseDelimited`]).
//!
//! Requests are parsed here (`httparse`; bodies by `Content-Length` or chunked, `Expect:
//! 100-continue` answered) and answered by the same routes as the hyper-served upstream, so the
//! fake model API works unchanged. Paths under `/raw/` answer in shapes hyper's server never
//! writes:
//! - `/raw/http10`: an `HTTP/1.0` status line and a body ended by the close;
//! - `/raw/early-hints`: a `103 Early Hints` before the `200` (with a `Content-Length`);
//! - `/raw/trailers`: a chunked body in two chunks with an `x-checksum` trailer;
//! - `/raw/long-header?bytes=N`: an `x-long` header N bytes long.

use super::body::RespBody;
use super::routes::{self, Req};
use super::{ConnInfo, Shared};
use http_body_util::BodyExt;
use hyper::body::Bytes;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

/// How the upstream frames its responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Framing {
    /// hyper's server: `Content-Length` or chunked, keep-alive.
    #[default]
    Standard,
    /// Hand-written HTTP/1.1 (see the module documentation): bodies end with the connection,
    /// which ends with TLS close_notify when `close_notify`, else with a bare TCP close.
    CloseDelimited { close_notify: bool },
}

/// Largest request head read.
const MAX_HEAD: usize = 64 * 1024;
/// A request that does not arrive in this time is dropped.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serve one connection: one request, one close-delimited answer, then the close.
pub(crate) async fn serve(
    mut tls: TlsStream<TcpStream>,
    shared: Arc<Shared>,
    info: ConnInfo,
    close_notify: bool,
) {
    let Ok(Some(req)) = tokio::time::timeout(READ_TIMEOUT, read_request(&mut tls, &shared, &info)).await
    else {
        return;
    };
    let path = req.parts.uri.path().to_owned();
    let query = req.parts.uri.query().unwrap_or_default().to_owned();
    let wrote = match path.as_str() {
        "/raw/http10" => {
            tls.write_all(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nan HTTP/1.0 body").await
        }
        "/raw/early-hints" => {
            tls.write_all(
                b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n\
                  HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nafter hints",
            )
            .await
        }
        "/raw/trailers" => {
            tls.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\
                  Trailer: x-checksum\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\nx-checksum: 5eb63bbb\r\n\r\n",
            )
            .await
        }
        "/raw/long-header" => {
            let n: usize = query.strip_prefix("bytes=").and_then(|n| n.parse().ok()).unwrap_or(32 * 1024);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nx-long: {}\r\nContent-Length: 4\r\n\r\nlong",
                "a".repeat(n)
            );
            tls.write_all(head.as_bytes()).await
        }
        _ => {
            let head_only = req.parts.method == hyper::Method::HEAD;
            let resp = routes::route(&shared, req, None).await;
            write_close_delimited(&mut tls, resp, head_only).await
        }
    };
    if wrote.is_err() {
        return;
    }
    let _ = tls.flush().await;
    if close_notify {
        let _ = tls.shutdown().await;
    } else {
        // The bare TCP close: no close_notify goes out.
        let (mut tcp, _) = tls.into_inner();
        let _ = tcp.shutdown().await;
    }
}

/// The route's response with its length and transfer coding dropped, body written as it comes.
async fn write_close_delimited<W: AsyncWrite + Unpin>(
    out: &mut W,
    resp: hyper::Response<RespBody>,
    head_only: bool,
) -> std::io::Result<()> {
    let (parts, mut body) = resp.into_parts();
    let reason = parts.status.canonical_reason().unwrap_or("");
    let mut head = format!("HTTP/1.1 {} {reason}\r\n", parts.status.as_u16());
    for (name, value) in &parts.headers {
        if name == hyper::header::CONTENT_LENGTH
            || name == hyper::header::TRANSFER_ENCODING
            || name == hyper::header::CONNECTION
        {
            continue;
        }
        head.push_str(&format!("{name}: {}\r\n", String::from_utf8_lossy(value.as_bytes())));
    }
    head.push_str("Connection: close\r\n\r\n");
    out.write_all(head.as_bytes()).await?;
    out.flush().await?;
    if head_only {
        return Ok(());
    }
    while let Some(frame) = body.frame().await {
        if let Ok(Ok(data)) = frame.map(|f| f.into_data()) {
            out.write_all(&data).await?;
            // Each piece as it comes: an SSE event must not wait for the next.
            out.flush().await?;
        }
    }
    Ok(())
}

/// Read and record one request; `None` when the peer sent nothing usable.
async fn read_request<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    shared: &Shared,
    info: &ConnInfo,
) -> Option<Req> {
    let mut buf = Vec::new();
    let head_len = loop {
        let mut chunk = [0u8; 4096];
        let n = io.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
    };
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut parsed = httparse::Request::new(&mut headers);
    parsed.parse(&buf[..head_len]).ok()?;
    let mut builder =
        hyper::Request::builder().method(parsed.method?).uri(parsed.path?).version(hyper::Version::HTTP_11);
    let mut length = 0usize;
    let (mut chunked, mut expect) = (false, false);
    for h in parsed.headers.iter() {
        let value = String::from_utf8_lossy(h.value);
        if h.name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse().ok()?;
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if h.name.eq_ignore_ascii_case("expect") {
            expect = value.eq_ignore_ascii_case("100-continue");
        }
        builder = builder.header(h.name, h.value);
    }
    let (parts, ()) = builder.body(()).ok()?.into_parts();
    if expect {
        io.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await.ok()?;
        io.flush().await.ok()?;
    }
    let mut rest = buf.split_off(head_len);
    let body =
        if chunked { read_chunked(io, rest).await? } else { read_exact_len(io, &mut rest, length).await? };
    let host = parts.headers.get("host").map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned());
    let host = host.unwrap_or_default();
    let record = shared.recording().then(|| super::RecordedRequest {
        body: Bytes::from(body.clone()),
        body_len: body.len() as u64,
        ..routes::recorded_head(&parts, &host, info)
    });
    shared.record(record);
    Some(Req { parts, host, body: Bytes::from(body) })
}

/// The first `length` bytes, from `have` and then the stream; `have` keeps what follows.
async fn read_exact_len<S: AsyncRead + Unpin>(
    io: &mut S,
    have: &mut Vec<u8>,
    length: usize,
) -> Option<Vec<u8>> {
    while have.len() < length {
        let mut chunk = vec![0u8; (length - have.len()).min(64 * 1024)];
        let n = io.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        have.extend_from_slice(&chunk[..n]);
    }
    let rest = have.split_off(length);
    Some(std::mem::replace(have, rest))
}

/// A chunked request body, decoded (trailers read and dropped).
async fn read_chunked<S: AsyncRead + Unpin>(io: &mut S, mut have: Vec<u8>) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(io, &mut have).await?;
        let size = usize::from_str_radix(line.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            // Trailers, up to the blank line.
            while !read_line(io, &mut have).await?.is_empty() {}
            return Some(body);
        }
        let data = read_exact_len(io, &mut have, size + 2).await?;
        body.extend_from_slice(&data[..size]);
    }
}

/// One CRLF-ended line from `have`, reading more as needed; `have` keeps what follows.
async fn read_line<S: AsyncRead + Unpin>(io: &mut S, have: &mut Vec<u8>) -> Option<String> {
    loop {
        if let Some(end) = have.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&have[..end]).into_owned();
            have.drain(..end + 2);
            return Some(line);
        }
        let mut chunk = [0u8; 4096];
        let n = io.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        have.extend_from_slice(&chunk[..n]);
    }
}
