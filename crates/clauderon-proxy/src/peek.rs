//! Looking at the first byte a client sends on a CONNECT tunnel, then handing the stream on as
//! if nothing had been read: how the proxy tells TLS (which it can intercept) from other
//! protocols (which it can only tunnel).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// The first byte of every TLS connection (a handshake record).
pub const TLS_HANDSHAKE: u8 = 0x16;

/// How long to wait for the client to speak first. Protocols where the server speaks first
/// (SMTP, MySQL…) send nothing: after this they are tunnelled as they are.
pub const PEEK_TIMEOUT: Duration = Duration::from_secs(1);

/// What the client did first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum First {
    Byte(u8),
    /// Said nothing within [`PEEK_TIMEOUT`]: it waits for the server.
    Silent,
    Closed,
}

pub async fn first_byte<S: AsyncRead + Unpin>(io: &mut S) -> First {
    let mut b = [0u8; 1];
    match tokio::time::timeout(PEEK_TIMEOUT, io.read(&mut b)).await {
        Ok(Ok(1)) => First::Byte(b[0]),
        Ok(_) => First::Closed,
        Err(_) => First::Silent,
    }
}

impl First {
    /// The bytes to put back in front of the stream.
    pub fn prefix(self) -> Vec<u8> {
        match self {
            First::Byte(b) => vec![b],
            First::Silent | First::Closed => Vec::new(),
        }
    }
}

/// A stream with bytes already read from it put back in front.
pub struct Prefixed<S> {
    prefix: Vec<u8>,
    offset: usize,
    inner: S,
}

impl<S> Prefixed<S> {
    pub fn new(prefix: Vec<u8>, inner: S) -> Self {
        Prefixed { prefix, offset: 0, inner }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.offset < self.prefix.len() {
            let n = (self.prefix.len() - self.offset).min(buf.remaining());
            let start = self.offset;
            buf.put_slice(&self.prefix[start..start + n]);
            self.offset += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn the_peeked_byte_is_read_again_first() {
        let (mut a, b) = tokio::io::duplex(64);
        a.write_all(b"hello").await.unwrap();
        let mut b = b;
        let first = first_byte(&mut b).await;
        assert_eq!(first, First::Byte(b'h'));
        let mut p = Prefixed::new(first.prefix(), b);
        let mut out = [0u8; 5];
        p.read_exact(&mut out).await.unwrap();
        assert_eq!(&out, b"hello");
        p.write_all(b"back").await.unwrap();
        let mut back = [0u8; 4];
        a.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"back");
    }

    #[tokio::test]
    async fn silent_and_closed_clients_are_told_apart_and_give_no_prefix() {
        let (_a, mut b) = tokio::io::duplex(64);
        assert_eq!(first_byte(&mut b).await, First::Silent);
        assert!(First::Silent.prefix().is_empty());
        let (a, mut b) = tokio::io::duplex(64);
        drop(a);
        assert_eq!(first_byte(&mut b).await, First::Closed);
    }
}
