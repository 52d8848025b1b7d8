//! The daemon's end of a sprite's proxy tunnel, fed what a hostile session could write into the
//! relay's stream (it can write to the relay process's stdout): frames are bounded, carry no
//! destination (every connection goes to the proxy and nowhere else), at most
//! `MAX_CONNECTIONS` are open at once, a frame of an unknown kind cuts the tunnel, and a frame
//! for a connection that was never opened goes nowhere. In process: a WebSocket over an
//! in-memory pipe stands for the exec stream.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use clauderon_sprites::api::{ExecSocket, Io, stream};
use clauderon_sprites::tunnel::{self, CLOSE, DATA, Decoder, Ended, MAX_CONNECTIONS, OPEN, READY, frame};
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

type RelaySide = tokio_tungstenite::WebSocketStream<tokio::io::DuplexStream>;

async fn pair() -> (ExecSocket, RelaySide) {
    let (a, b) = tokio::io::duplex(1 << 20);
    let server = tokio::spawn(async move { tokio_tungstenite::accept_async(b).await.unwrap() });
    let io: Box<dyn Io> = Box::new(a);
    let (client, _) = tokio_tungstenite::client_async("ws://relay/", io).await.unwrap();
    (client, server.await.unwrap())
}

/// What the relay writes: frames on its stdout.
async fn send(relay: &mut RelaySide, bytes: Vec<u8>) {
    let mut msg = vec![stream::STDOUT];
    msg.extend(bytes);
    relay.send(Message::Binary(msg.into())).await.unwrap();
}

/// A stand-in for the proxy: counts connections, echoes back what it gets in upper case.
async fn proxy() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let _ = s.write_all(&buf[..n].to_ascii_uppercase()).await;
                }
            });
        }
    });
    (addr, count)
}

/// Frames the daemon sent back to the relay, until `until` says stop or a second of silence.
async fn frames_back(relay: &mut RelaySide, until: impl Fn(&[tunnel::Frame]) -> bool) -> Vec<tunnel::Frame> {
    let mut decoder = Decoder::default();
    let mut got = Vec::new();
    while !until(&got) {
        let Ok(Some(Ok(Message::Binary(data)))) =
            tokio::time::timeout(Duration::from_secs(5), relay.next()).await
        else {
            break;
        };
        assert_eq!(data.first(), Some(&stream::STDIN), "the daemon writes only to the relay's stdin");
        decoder.push(&data[1..]);
        while let Some(f) = decoder.next_frame() {
            got.push(f);
        }
    }
    got
}

#[tokio::test]
async fn a_connection_goes_to_the_proxy_and_its_answer_comes_back() {
    let (addr, count) = proxy().await;
    let (exec, mut relay) = pair().await;
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let carried = tokio::spawn(tunnel::carry(exec, addr, Some(ready_tx)));
    send(&mut relay, frame(READY, 0, b"3128")).await;
    ready_rx.await.unwrap();
    send(&mut relay, frame(OPEN, 1, &[])).await;
    send(&mut relay, frame(DATA, 1, b"connect api.anthropic.com:443")).await;
    // Data for a connection never opened goes nowhere (and the tunnel goes on).
    send(&mut relay, frame(DATA, 77, b"to nowhere")).await;
    let back = frames_back(&mut relay, |f| f.iter().any(|f| f.kind == DATA)).await;
    let data: Vec<u8> =
        back.iter().filter(|f| f.kind == DATA && f.conn == 1).flat_map(|f| f.payload.clone()).collect();
    assert_eq!(data, b"CONNECT API.ANTHROPIC.COM:443");
    assert!(back.iter().all(|f| f.conn == 1), "{back:?}");
    assert_eq!(count.load(Ordering::SeqCst), 1);
    // The relay closes its end: the daemon's connection to the proxy goes.
    send(&mut relay, frame(CLOSE, 1, &[])).await;
    let back = frames_back(&mut relay, |f| f.iter().any(|f| f.kind == CLOSE)).await;
    assert!(back.iter().any(|f| f.kind == CLOSE && f.conn == 1), "{back:?}");
    drop(relay);
    assert!(matches!(carried.await.unwrap(), Ended::RelayGone(_)));
}

#[tokio::test]
async fn connections_past_the_cap_are_refused_and_none_goes_anywhere_but_the_proxy() {
    let (addr, count) = proxy().await;
    let (exec, mut relay) = pair().await;
    let _carried = tokio::spawn(tunnel::carry(exec, addr, None));
    let extra = 20;
    let mut opens = Vec::new();
    for conn in 1..=(MAX_CONNECTIONS + extra) as u32 {
        opens.extend(frame(OPEN, conn, &[]));
    }
    send(&mut relay, opens).await;
    let back = frames_back(&mut relay, |f| f.iter().filter(|f| f.kind == CLOSE).count() >= extra).await;
    let refused: Vec<u32> = back.iter().filter(|f| f.kind == CLOSE).map(|f| f.conn).collect();
    assert_eq!(
        refused,
        ((MAX_CONNECTIONS + 1) as u32..=(MAX_CONNECTIONS + extra) as u32).collect::<Vec<_>>()
    );
    for _ in 0..100 {
        if count.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(count.load(Ordering::SeqCst), MAX_CONNECTIONS, "the proxy got another number of connections");
}

#[tokio::test]
async fn an_unknown_frame_kind_cuts_the_tunnel() {
    let (addr, _) = proxy().await;
    let (exec, mut relay) = pair().await;
    let carried = tokio::spawn(tunnel::carry(exec, addr, None));
    send(&mut relay, frame(9, 1, b"GET http://127.0.0.1:3030/api/sessions")).await;
    let ended = tokio::time::timeout(Duration::from_secs(5), carried).await.unwrap().unwrap();
    assert_eq!(ended, Ended::Protocol("unknown frame kind 9".into()));
}

#[tokio::test]
async fn a_frame_cut_anywhere_is_put_back_together() {
    let (addr, _) = proxy().await;
    let (exec, mut relay) = pair().await;
    let _carried = tokio::spawn(tunnel::carry(exec, addr, None));
    let mut bytes = frame(OPEN, 3, &[]);
    bytes.extend(frame(DATA, 3, b"split across messages"));
    for piece in bytes.chunks(3) {
        send(&mut relay, piece.to_vec()).await;
    }
    let back = frames_back(&mut relay, |f| {
        f.iter().filter(|f| f.kind == DATA).map(|f| f.payload.len()).sum::<usize>() >= 21
    })
    .await;
    let data: Vec<u8> = back.iter().filter(|f| f.kind == DATA).flat_map(|f| f.payload.clone()).collect();
    assert_eq!(data, b"SPLIT ACROSS MESSAGES");
}
