//! Upstream connections that end without TLS close_notify.
//!
//! A response with neither `Content-Length` nor chunked encoding ends when the server closes
//! the connection. Many servers close TCP without sending TLS close_notify first; rustls
//! reports that as an `UnexpectedEof` error, and hyper then ended the body with an error, so
//! the session got a cut response. Browsers take such a close as the end of the body, and so
//! does the proxy: [`LenientEof`] turns that error into an ordinary end of stream and raises
//! the connection's [`UncleanClose`] flag, which the audit record reads.
//!
//! Framed bodies stay safe: hyper reports a `Content-Length` or chunked body that ends early
//! as incomplete, whatever ended the stream.

use futures_util::future::BoxFuture;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

/// Raised when an upstream connection ended without TLS close_notify. It rides in the
/// response's extensions (hyper copies connection extras there).
#[derive(Debug, Clone, Default)]
pub struct UncleanClose(Arc<AtomicBool>);

impl UncleanClose {
    pub fn happened(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn raise(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// What the audit record says when a response ended with an unclean close.
pub const UNCLEAN_CLOSE_NOTE: &str =
    "the upstream closed the connection without TLS close_notify; the body was taken to end there";

/// An upstream stream whose TLS end without close_notify reads as an ordinary end.
pub struct LenientEof<T> {
    inner: T,
    unclean: UncleanClose,
}

impl<T> LenientEof<T> {
    pub fn new(inner: T) -> Self {
        LenientEof { inner, unclean: UncleanClose::default() }
    }

    pub fn unclean(&self) -> UncleanClose {
        self.unclean.clone()
    }
}

impl<T: Read + Unpin> Read for LenientEof<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            // Nothing was read into `buf`: returning Ok now is how a stream says "ended".
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                self.unclean.raise();
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl<T: Write + Unpin> Write for LenientEof<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
}

impl<T: Connection> Connection for LenientEof<T> {
    fn connected(&self) -> Connected {
        self.inner.connected().extra(self.unclean.clone())
    }
}

/// A connector whose connections are [`LenientEof`].
#[derive(Clone, Debug)]
pub struct LenientConnector<C>(pub C);

impl<C> tower_service::Service<http::Uri> for LenientConnector<C>
where
    C: tower_service::Service<http::Uri>,
    C::Future: Send + 'static,
{
    type Response = LenientEof<C::Response>;
    type Error = C::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let connecting = self.0.call(uri);
        Box::pin(async move { connecting.await.map(LenientEof::new) })
    }
}
