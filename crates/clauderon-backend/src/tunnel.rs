//! The way a remote session (a sprite, a pod) reaches the daemon's proxy without the proxy being
//! reachable from where it runs: the daemon carries the traffic itself. It runs a small relay in
//! the session ([`RELAY`], Node: the agents' own runtime, in every agent image) over an exec
//! stream that the daemon holds open (the Sprites API's exec WebSocket, the Kubernetes API's
//! exec); the relay listens on the session's loopback ([`RELAY_PORT`]), where its `HTTPS_PROXY`
//! points, and every connection to it becomes frames on the relay's stdout; the daemon turns
//! them into connections to its proxy on its own loopback, and the proxy's answers into frames
//! on the relay's stdin. The session needs no route to the daemon at all.
//!
//! The frames come from inside the session, so they are read as an attacker's: every frame is
//! bounded (a 2-byte length), there is no destination in them (each connection goes to the
//! proxy, nowhere else, and the proxy still wants the session's identity: 407 for anyone
//! else), at most [`MAX_CONNECTIONS`] are open at once, an unknown frame kind ends the tunnel.
//!
//! Frame: `kind (1 byte) | connection (4 bytes, big-endian) | length (2 bytes) | payload`.

use std::collections::HashMap;
use std::net::SocketAddr;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// The relay program (`node relay.js PORT [READY_FILE]`), written into the session.
pub const RELAY: &str = include_str!("tunnel/relay.js");

/// Where the relay listens inside the sprite (its loopback).
pub const RELAY_PORT: u16 = 3128;

/// Connections open at once through one tunnel; more are refused (closed at once).
pub const MAX_CONNECTIONS: usize = 256;

pub const OPEN: u8 = 1;
pub const DATA: u8 = 2;
pub const CLOSE: u8 = 3;
pub const READY: u8 = 4;

const HEADER: usize = 7;

pub fn frame(kind: u8, conn: u32, payload: &[u8]) -> Vec<u8> {
    debug_assert!(payload.len() <= u16::MAX as usize);
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.push(kind);
    out.extend_from_slice(&conn.to_be_bytes());
    out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// One parsed frame.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    pub kind: u8,
    pub conn: u32,
    pub payload: Vec<u8>,
}

/// Splits the relay's byte stream into frames.
#[derive(Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole frame, if there is one. The buffer never holds more than one frame's
    /// worth plus what was last pushed: a frame is at most 7 + 65,535 bytes.
    pub fn next_frame(&mut self) -> Option<Frame> {
        if self.buf.len() < HEADER {
            return None;
        }
        let len = u16::from_be_bytes([self.buf[5], self.buf[6]]) as usize;
        if self.buf.len() < HEADER + len {
            return None;
        }
        let conn = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]);
        let frame = Frame { kind: self.buf[0], conn, payload: self.buf[HEADER..HEADER + len].to_vec() };
        self.buf.drain(..HEADER + len);
        Some(frame)
    }
}

/// What the relay's exec stream delivers.
#[derive(Debug)]
pub enum FromRelay {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    Exit(i32),
}

/// How a tunnel ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The relay exited (code) or its stream closed.
    RelayGone(String),
    /// The relay sent something that is not the protocol: the tunnel was cut.
    Protocol(String),
}

/// Carry the relay's connections to the proxy at `proxy` until the relay goes: `from_relay` is
/// what its exec stream delivers, `to_relay` its stdin. `ready` is told when the relay listens.
pub async fn carry(
    mut from_relay: mpsc::Receiver<FromRelay>,
    to_relay: mpsc::Sender<Vec<u8>>,
    proxy: SocketAddr,
    ready: Option<tokio::sync::oneshot::Sender<()>>,
) -> Ended {
    let mut ready = ready;
    let mut conns: HashMap<u32, mpsc::Sender<Option<Vec<u8>>>> = HashMap::new();
    let mut decoder = Decoder::default();
    let mut stderr_tail = String::new();
    let (closed_tx, mut closed_rx) = mpsc::unbounded_channel::<u32>();
    'outer: loop {
        let event = tokio::select! {
            event = from_relay.recv() => event,
            Some(conn) = closed_rx.recv() => {
                conns.remove(&conn);
                continue;
            }
        };
        match event {
            Some(FromRelay::Stdout(bytes)) => decoder.push(&bytes),
            Some(FromRelay::Stderr(bytes)) => {
                if stderr_tail.len() < 4096 {
                    stderr_tail.push_str(&String::from_utf8_lossy(&bytes));
                }
                continue;
            }
            Some(FromRelay::Exit(code)) => {
                break Ended::RelayGone(relay_words(&format!("exited with code {code}"), &stderr_tail));
            }
            None => break Ended::RelayGone(relay_words("its stream closed", &stderr_tail)),
        }
        while let Some(f) = decoder.next_frame() {
            match f.kind {
                READY => {
                    if let Some(tx) = ready.take() {
                        let _ = tx.send(());
                    }
                }
                OPEN => {
                    if conns.contains_key(&f.conn) || conns.len() >= MAX_CONNECTIONS {
                        let _ = to_relay.send(frame(CLOSE, f.conn, &[])).await;
                        continue;
                    }
                    let (tx, rx) = mpsc::channel(64);
                    conns.insert(f.conn, tx);
                    tokio::spawn(connection(f.conn, proxy, rx, to_relay.clone(), closed_tx.clone()));
                }
                DATA => {
                    if let Some(tx) = conns.get(&f.conn)
                        && tx.send(Some(f.payload)).await.is_err()
                    {
                        conns.remove(&f.conn);
                    }
                }
                CLOSE => {
                    if let Some(tx) = conns.remove(&f.conn) {
                        let _ = tx.send(None).await;
                    }
                }
                other => break 'outer Ended::Protocol(format!("unknown frame kind {other}")),
            }
        }
    }
}

/// [`carry`] over a relay process's own byte streams (its stdout and stdin), as an exec API
/// that gives those (Kubernetes') hands them over.
pub async fn carry_io(
    stdout: impl AsyncRead + Unpin + Send + 'static,
    stdin: impl AsyncWrite + Unpin + Send + 'static,
    proxy: SocketAddr,
    ready: Option<tokio::sync::oneshot::Sender<()>>,
) -> Ended {
    let (events_tx, events) = mpsc::channel(64);
    let (to_relay, mut outbox) = mpsc::channel::<Vec<u8>>(256);
    let reader = tokio::spawn(async move {
        let mut stdout = stdout;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match stdout.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if events_tx.send(FromRelay::Stdout(buf[..n].to_vec())).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    let writer = tokio::spawn(async move {
        let mut stdin = stdin;
        while let Some(bytes) = outbox.recv().await {
            if stdin.write_all(&bytes).await.is_err() || stdin.flush().await.is_err() {
                break;
            }
        }
    });
    let ended = carry(events, to_relay, proxy, ready).await;
    reader.abort();
    writer.abort();
    ended
}

fn relay_words(what: &str, stderr: &str) -> String {
    let stderr = stderr.trim();
    if stderr.is_empty() {
        what.to_string()
    } else {
        format!("{what}: {}", stderr.chars().take(400).collect::<String>())
    }
}

/// One relayed connection: the relay's bytes to the proxy, the proxy's back as frames.
async fn connection(
    conn: u32,
    proxy: SocketAddr,
    mut from_relay: mpsc::Receiver<Option<Vec<u8>>>,
    to_relay: mpsc::Sender<Vec<u8>>,
    closed: mpsc::UnboundedSender<u32>,
) {
    let Ok(tcp) = tokio::net::TcpStream::connect(proxy).await else {
        let _ = to_relay.send(frame(CLOSE, conn, &[])).await;
        let _ = closed.send(conn);
        return;
    };
    let _ = tcp.set_nodelay(true);
    let (mut read, mut write) = tcp.into_split();
    let upstream = async {
        while let Some(Some(bytes)) = from_relay.recv().await {
            if write.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = write.shutdown().await;
    };
    let downstream = async {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to_relay.send(frame(DATA, conn, &buf[..n])).await.is_err() {
                        return;
                    }
                }
            }
        }
        let _ = to_relay.send(frame(CLOSE, conn, &[])).await;
    };
    tokio::join!(upstream, downstream);
    let _ = closed.send(conn);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_whatever_the_cuts() {
        let mut bytes = frame(OPEN, 7, &[]);
        bytes.extend(frame(DATA, 7, b"CONNECT x:443 HTTP/1.1\r\n\r\n"));
        bytes.extend(frame(DATA, 9, &vec![0xAB; 65_535]));
        bytes.extend(frame(CLOSE, 7, &[]));
        for cut in [1, 3, 7, 8, 1000, bytes.len()] {
            let mut d = Decoder::default();
            let mut got = Vec::new();
            for piece in bytes.chunks(cut) {
                d.push(piece);
                while let Some(f) = d.next_frame() {
                    got.push(f);
                }
            }
            assert_eq!(got.len(), 4, "cut {cut}");
            assert_eq!(got[1].payload, b"CONNECT x:443 HTTP/1.1\r\n\r\n");
            assert_eq!(got[2].payload.len(), 65_535);
            assert_eq!((got[3].kind, got[3].conn), (CLOSE, 7));
        }
    }
}
