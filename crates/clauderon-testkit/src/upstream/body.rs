//! Response bodies: fixed, JSON, a deterministic byte pattern of any length that never
//! allocates more than one chunk, and event streams sent frame by frame.

use futures_util::{Stream, StreamExt};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Body, Bytes, Frame, SizeHint};
use hyper::{Response, StatusCode};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

pub(crate) type RespBody = UnsyncBoxBody<Bytes, Infallible>;

/// The pattern repeats every 251 bytes (a prime, so it never lines up with chunk sizes).
const PERIOD: u64 = 251;
const CHUNK: usize = 64 * 1024;

/// Byte `i` of every `/bytes/{n}` body.
pub fn pattern_byte(i: u64) -> u8 {
    (i % PERIOD) as u8
}

fn pattern() -> &'static Bytes {
    static PATTERN: OnceLock<Bytes> = OnceLock::new();
    PATTERN.get_or_init(|| (0..(CHUNK as u64 + PERIOD)).map(pattern_byte).collect::<Vec<u8>>().into())
}

/// `len` bytes of the pattern in chunks of up to 64 KiB, each a slice of one shared buffer.
pub(crate) struct PatternBody {
    pos: u64,
    len: u64,
}

impl PatternBody {
    pub(crate) fn new(len: u64) -> Self {
        PatternBody { pos: 0, len }
    }
}

impl Body for PatternBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.pos >= this.len {
            return Poll::Ready(None);
        }
        let n = (this.len - this.pos).min(CHUNK as u64) as usize;
        let start = (this.pos % PERIOD) as usize;
        this.pos += n as u64;
        Poll::Ready(Some(Ok(Frame::data(pattern().slice(start..start + n)))))
    }

    fn is_end_stream(&self) -> bool {
        self.pos >= self.len
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len - self.pos)
    }
}

pub(crate) fn boxed<B>(body: B) -> RespBody
where
    B: Body<Data = Bytes, Error = Infallible> + Send + 'static,
{
    body.boxed_unsync()
}

fn builder(status: StatusCode, content_type: &str) -> hyper::http::response::Builder {
    Response::builder().status(status).header("content-type", content_type)
}

pub(crate) fn finish(b: hyper::http::response::Builder, body: RespBody) -> Response<RespBody> {
    b.body(body).unwrap_or_else(|e| panic!("building a test upstream response: {e}"))
}

pub(crate) fn full(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<RespBody> {
    finish(builder(status, content_type), boxed(Full::new(body.into())))
}

pub(crate) fn json(status: StatusCode, value: &serde_json::Value) -> Response<RespBody> {
    full(status, "application/json", value.to_string())
}

pub(crate) fn empty(status: StatusCode) -> Response<RespBody> {
    finish(Response::builder().status(status), boxed(http_body_util::Empty::new()))
}

/// A response whose body is `frames`, each sent as its own frame as soon as it is produced.
pub(crate) fn stream<S>(status: StatusCode, content_type: &str, frames: S) -> Response<RespBody>
where
    S: Stream<Item = Bytes> + Send + 'static,
{
    let body = StreamBody::new(frames.map(|b| Ok::<_, Infallible>(Frame::data(b))));
    finish(builder(status, content_type).header("cache-control", "no-cache"), boxed(body))
}

/// An SSE response of already-formatted events.
pub(crate) fn sse(events: Vec<String>) -> Response<RespBody> {
    stream(
        StatusCode::OK,
        "text/event-stream",
        futures_util::stream::iter(events.into_iter().map(Bytes::from)),
    )
}

/// One SSE event with a name and a JSON payload.
pub(crate) fn sse_event(name: &str, data: &serde_json::Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pattern_body_is_exact_across_chunk_boundaries() {
        let len = 3 * CHUNK as u64 + 17;
        let bytes = PatternBody::new(len).collect().await.unwrap_or_else(|e| match e {}).to_bytes();
        assert_eq!(bytes.len() as u64, len);
        assert!(bytes.iter().enumerate().all(|(i, b)| *b == pattern_byte(i as u64)));
    }
}
