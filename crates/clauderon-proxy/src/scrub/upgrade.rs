//! Upgraded connections (WebSocket): the server-to-session bytes go through the same streaming
//! matcher as response bodies — a WebSocket's by frame payloads ([`super::frames`]), so a
//! secret split across frames is found too; another protocol's as plain bytes. The proxy takes
//! `Sec-WebSocket-Extensions` off the upgrade request so frames are not compressed
//! (`permessage-deflate` would hide a secret), and refuses a 101 that turns one on anyway.
//!
//! What remains (said in ARCHITECTURE.md): a secret whose pieces come further apart than
//! [`HOLD_LIMIT`] passes, as the held start goes out when the wait is over.

use super::frames::FrameScrub;
use super::{ScrubStream, Scrubber};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// How long bytes held back as the possible start of a secret wait for the rest. An
/// interactive stream must not stall on a message that happens to end like a secret begins.
pub const HOLD_LIMIT: Duration = Duration::from_millis(100);

const BUFFER: usize = 16 * 1024;

/// Relay an upgraded connection both ways until both directions end, scrubbing what the
/// upstream sends when there is a `scrubber` (by frames when the protocol is `websocket`).
/// Returns the bytes sent (up, down).
pub async fn relay_upgraded<C, U>(
    client: C,
    upstream: U,
    scrubber: Option<Arc<Scrubber>>,
    websocket: bool,
) -> (u64, u64)
where
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    let Some(scrubber) = scrubber else {
        let (mut client, mut upstream) = (client, upstream);
        return tokio::io::copy_bidirectional(&mut client, &mut upstream).await.unwrap_or((0, 0));
    };
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut upstream_read, mut upstream_write) = tokio::io::split(upstream);
    let up = async {
        let sent = tokio::io::copy(&mut client_read, &mut upstream_write).await.unwrap_or(0);
        let _ = upstream_write.shutdown().await;
        sent
    };
    let down = async {
        let state = if websocket {
            Scrub::Frames(FrameScrub::new(scrubber))
        } else {
            Scrub::Bytes(ScrubStream::new(scrubber))
        };
        let sent = scrub_copy(&mut upstream_read, &mut client_write, state).await;
        let _ = client_write.shutdown().await;
        sent
    };
    tokio::join!(up, down)
}

/// The server side's scrubbing: by WebSocket frames, or over plain bytes.
enum Scrub {
    Frames(FrameScrub),
    Bytes(ScrubStream),
}

impl Scrub {
    fn holding(&self) -> bool {
        match self {
            Scrub::Frames(f) => f.holding(),
            Scrub::Bytes(b) => b.holding(),
        }
    }

    fn push(&mut self, chunk: &[u8]) -> Bytes {
        match self {
            Scrub::Frames(f) => Bytes::from(f.push(chunk)),
            Scrub::Bytes(b) => b.push(Bytes::copy_from_slice(chunk)),
        }
    }

    fn finish(&mut self) -> Bytes {
        match self {
            Scrub::Frames(f) => Bytes::from(f.finish()),
            Scrub::Bytes(b) => b.finish(),
        }
    }
}

/// Copy `from` to `to` through `stream`; returns the bytes read.
async fn scrub_copy<R, W>(from: &mut R, to: &mut W, mut stream: Scrub) -> u64
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; BUFFER];
    let mut total = 0u64;
    loop {
        let read = if stream.holding() {
            match tokio::time::timeout(HOLD_LIMIT, from.read(&mut buf)).await {
                Ok(read) => read,
                Err(_) => {
                    // Nothing more came: what is held never became a secret in time.
                    if to.write_all(&stream.finish()).await.is_err() || to.flush().await.is_err() {
                        return total;
                    }
                    continue;
                }
            }
        } else {
            from.read(&mut buf).await
        };
        let n = match read {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        total += n as u64;
        let out = stream.push(&buf[..n]);
        if to.write_all(&out).await.is_err() || to.flush().await.is_err() {
            return total;
        }
    }
    let _ = to.write_all(&stream.finish()).await;
    total
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    use crate::scrub::test_scrubber::{SECRET, scrubber};

    #[tokio::test]
    async fn the_server_to_client_stream_is_scrubbed_and_the_other_way_is_not() {
        let (client, mut session) = tokio::io::duplex(64);
        let (upstream, mut server) = tokio::io::duplex(64);
        let relay = tokio::spawn(relay_upgraded(client, upstream, Some(scrubber()), false));
        session.write_all(format!("up {SECRET}").as_bytes()).await.unwrap();
        let mut got = vec![0u8; 3 + SECRET.len()];
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(got, format!("up {SECRET}").as_bytes(), "session to server is not touched");
        // The secret in two writes: the first half is held until the second arrives.
        server.write_all(format!("down {}", &SECRET[..10]).as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        server.write_all(&SECRET.as_bytes()[10..]).await.unwrap();
        drop(server);
        let mut all = Vec::new();
        session.read_to_end(&mut all).await.unwrap();
        let all = String::from_utf8(all).unwrap();
        assert!(!all.contains(SECRET) && all.starts_with("down placeholder"), "{all}");
        drop(session);
        relay.await.unwrap();
    }

    #[tokio::test]
    async fn a_held_prefix_is_released_after_the_hold_limit() {
        let (client, mut session) = tokio::io::duplex(64);
        let (upstream, mut server) = tokio::io::duplex(64);
        let _relay = tokio::spawn(relay_upgraded(client, upstream, Some(scrubber()), false));
        server.write_all(b"message ends with sk-an").await.unwrap();
        let mut got = vec![0u8; "message ends with sk-an".len()];
        tokio::time::timeout(Duration::from_secs(2), session.read_exact(&mut got)).await.unwrap().unwrap();
        assert_eq!(&got, b"message ends with sk-an");
    }
}
