//! The daemon's end of a remote session's proxy tunnel, fed what a hostile session could write
//! into the relay's stream (it can write to the relay process's stdout): frames are bounded,
//! carry no destination (every connection goes to the proxy and nowhere else), at most
//! `MAX_CONNECTIONS` are open at once, a frame of an unknown kind cuts the tunnel, and a frame
//! for a connection that was never opened goes nowhere. Then the real relay (`relay.js`, run
//! with this machine's node) carrying real connections.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use clauderon_backend::tunnel::{
    self, CLOSE, DATA, Decoder, Ended, FromRelay, MAX_CONNECTIONS, OPEN, READY, frame,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

struct Relay {
    events: mpsc::Sender<FromRelay>,
    stdin: mpsc::Receiver<Vec<u8>>,
}

fn start(
    proxy: std::net::SocketAddr,
    ready: Option<tokio::sync::oneshot::Sender<()>>,
) -> (Relay, tokio::task::JoinHandle<Ended>) {
    let (events, from_relay) = mpsc::channel(64);
    let (to_relay, stdin) = mpsc::channel(256);
    let carried = tokio::spawn(tunnel::carry(from_relay, to_relay, proxy, ready));
    (Relay { events, stdin }, carried)
}

impl Relay {
    async fn print(&self, bytes: Vec<u8>) {
        self.events.send(FromRelay::Stdout(bytes)).await.unwrap();
    }

    /// Frames the daemon sent back, until `until` says stop or 5 s of silence.
    async fn frames_back(&mut self, until: impl Fn(&[tunnel::Frame]) -> bool) -> Vec<tunnel::Frame> {
        let mut decoder = Decoder::default();
        let mut got = Vec::new();
        while !until(&got) {
            let Ok(Some(bytes)) = tokio::time::timeout(Duration::from_secs(5), self.stdin.recv()).await
            else {
                break;
            };
            decoder.push(&bytes);
            while let Some(f) = decoder.next_frame() {
                got.push(f);
            }
        }
        got
    }
}

/// A stand-in for the proxy: counts connections, answers what it gets in upper case.
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

#[tokio::test]
async fn a_connection_goes_to_the_proxy_and_its_answer_comes_back() {
    let (addr, count) = proxy().await;
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (mut relay, carried) = start(addr, Some(ready_tx));
    relay.print(frame(READY, 0, b"3128")).await;
    ready_rx.await.unwrap();
    relay.print(frame(OPEN, 1, &[])).await;
    relay.print(frame(DATA, 1, b"connect api.anthropic.com:443")).await;
    // Data for a connection never opened goes nowhere (and the tunnel goes on).
    relay.print(frame(DATA, 77, b"to nowhere")).await;
    let back = relay.frames_back(|f| f.iter().any(|f| f.kind == DATA)).await;
    let data: Vec<u8> =
        back.iter().filter(|f| f.kind == DATA && f.conn == 1).flat_map(|f| f.payload.clone()).collect();
    assert_eq!(data, b"CONNECT API.ANTHROPIC.COM:443");
    assert!(back.iter().all(|f| f.conn == 1), "{back:?}");
    assert_eq!(count.load(Ordering::SeqCst), 1);
    // The relay closes its end: the daemon's connection to the proxy goes, and says so.
    relay.print(frame(CLOSE, 1, &[])).await;
    let back = relay.frames_back(|f| f.iter().any(|f| f.kind == CLOSE)).await;
    assert!(back.iter().any(|f| f.kind == CLOSE && f.conn == 1), "{back:?}");
    relay.events.send(FromRelay::Exit(0)).await.unwrap();
    assert!(matches!(carried.await.unwrap(), Ended::RelayGone(why) if why.contains("code 0")));
}

#[tokio::test]
async fn connections_past_the_cap_are_refused_and_none_goes_anywhere_but_the_proxy() {
    let (addr, count) = proxy().await;
    let (mut relay, _carried) = start(addr, None);
    let extra = 20;
    let mut opens = Vec::new();
    for conn in 1..=(MAX_CONNECTIONS + extra) as u32 {
        opens.extend(frame(OPEN, conn, &[]));
    }
    relay.print(opens).await;
    let back = relay.frames_back(|f| f.iter().filter(|f| f.kind == CLOSE).count() >= extra).await;
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
    let (relay, carried) = start(addr, None);
    relay.print(frame(9, 1, b"GET http://127.0.0.1:3030/api/sessions")).await;
    let ended = tokio::time::timeout(Duration::from_secs(5), carried).await.unwrap().unwrap();
    assert_eq!(ended, Ended::Protocol("unknown frame kind 9".into()));
}

#[tokio::test]
async fn a_frame_cut_anywhere_is_put_back_together() {
    let (addr, _) = proxy().await;
    let (mut relay, _carried) = start(addr, None);
    let mut bytes = frame(OPEN, 3, &[]);
    bytes.extend(frame(DATA, 3, b"split across messages"));
    for piece in bytes.chunks(3) {
        relay.print(piece.to_vec()).await;
    }
    let back = relay
        .frames_back(|f| f.iter().filter(|f| f.kind == DATA).map(|f| f.payload.len()).sum::<usize>() >= 21)
        .await;
    let data: Vec<u8> = back.iter().filter(|f| f.kind == DATA).flat_map(|f| f.payload.clone()).collect();
    assert_eq!(data, b"SPLIT ACROSS MESSAGES");
}

/// The real relay (this machine's node) under the daemon's end: clients connect to the relay's
/// port and talk to the proxy through it, several at once, large messages intact.
#[tokio::test]
async fn the_relay_program_carries_real_connections() {
    let (addr, count) = proxy().await;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("relay.js");
    std::fs::write(&script, tunnel::RELAY).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let ready_file = dir.path().join("ready");
    let mut child = tokio::process::Command::new("node")
        .arg(&script)
        .arg(port.to_string())
        .arg(&ready_file)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node (the agents' runtime) runs the relay");
    let (stdout, stdin) = (child.stdout.take().unwrap(), child.stdin.take().unwrap());
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let carried = tokio::spawn(tunnel::carry_io(stdout, stdin, addr, Some(ready_tx)));
    tokio::time::timeout(Duration::from_secs(10), ready_rx).await.unwrap().unwrap();
    assert!(ready_file.exists(), "the relay did not write its ready file");
    let mut clients = Vec::new();
    for i in 0..8 {
        clients.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            let sent = format!("client {i} ").repeat(20_000);
            let (mut r, mut w) = s.split();
            let write = async {
                w.write_all(sent.as_bytes()).await.unwrap();
            };
            let mut got = vec![0u8; sent.len()];
            let read = async {
                r.read_exact(&mut got).await.unwrap();
            };
            tokio::join!(write, read);
            assert_eq!(got, sent.to_uppercase().into_bytes(), "client {i} got something else back");
        }));
    }
    for c in clients {
        tokio::time::timeout(Duration::from_secs(20), c).await.unwrap().unwrap();
    }
    assert_eq!(count.load(Ordering::SeqCst), 8);
    child.kill().await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(5), carried).await.unwrap().unwrap();
    assert!(matches!(ended, Ended::RelayGone(_)), "{ended:?}");
}

/// The relay's own cost, without any API between (`relay.js` on a pipe, the daemon's end, an echo
/// server standing for the proxy): small round trips on one connection and new connections,
/// through the relay and straight to the echo server, side by side.
/// `cargo test -p clauderon-backend --test tunnel -- --ignored --nocapture relay_cost`
#[tokio::test]
#[ignore = "a benchmark: run by hand"]
async fn relay_cost() {
    let (addr, _) = proxy().await;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("relay.js");
    std::fs::write(&script, tunnel::RELAY).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = tokio::process::Command::new("node")
        .arg(&script)
        .arg(port.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let (stdout, stdin) = (child.stdout.take().unwrap(), child.stdin.take().unwrap());
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(tunnel::carry_io(stdout, stdin, addr, Some(ready_tx)));
    ready_rx.await.unwrap();
    let relay = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    async fn round_trips(to: std::net::SocketAddr, n: usize) -> f64 {
        let mut s = tokio::net::TcpStream::connect(to).await.unwrap();
        s.set_nodelay(true).unwrap();
        let mut buf = [0u8; 100];
        let start = std::time::Instant::now();
        for _ in 0..n {
            s.write_all(&[b'x'; 100]).await.unwrap();
            s.read_exact(&mut buf).await.unwrap();
        }
        start.elapsed().as_secs_f64() * 1000.0 / n as f64
    }
    async fn connections(to: std::net::SocketAddr, n: usize) -> f64 {
        let start = std::time::Instant::now();
        for _ in 0..n {
            let mut s = tokio::net::TcpStream::connect(to).await.unwrap();
            s.set_nodelay(true).unwrap();
            let mut buf = [0u8; 5];
            s.write_all(b"hello").await.unwrap();
            s.read_exact(&mut buf).await.unwrap();
        }
        start.elapsed().as_secs_f64() * 1000.0 / n as f64
    }
    for round in 0..2 {
        let (r, d) = (round_trips(relay, 500).await, round_trips(addr, 500).await);
        let (rc, dc) = (connections(relay, 100).await, connections(addr, 100).await);
        if round == 1 {
            println!("round trip on one connection: relay {r:.3} ms, direct {d:.3} ms ({:.1}x)", r / d);
            println!(
                "new connection + one round trip: relay {rc:.3} ms, direct {dc:.3} ms ({:.1}x)",
                rc / dc
            );
        }
    }
}
