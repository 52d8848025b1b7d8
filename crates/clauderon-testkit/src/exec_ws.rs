//! The one way the test kit's stand-in APIs (Sprites, Kubernetes) carry a command over an exec
//! WebSocket: each binary message starts with a stream byte — 0 stdin (in), 1 stdout and 2
//! stderr (out) — and the end is said in the API's own words (`finish`: the exit code as the
//! Sprites API puts it, or Kubernetes' final `Status`). The command ends when the client goes
//! (as `kubectl exec` ending) or when `cut` resolves (its container ended).

use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use std::future::Future;
use std::process::Stdio;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct ExecEnd {
    /// The message that ends the stream, from the exit code (or the spawn error).
    pub finish: Box<dyn Fn(Result<i32, String>) -> Vec<u8> + Send>,
    /// The stream byte by which the client closes stdin, if the protocol has one.
    pub stdin_eof: Option<u8>,
}

pub async fn pump(
    socket: WebSocket,
    mut command: tokio::process::Command,
    stdin: bool,
    end: ExecEnd,
    cut: impl Future<Output = ()> + Send,
) {
    let (mut sink, mut source) = socket.split();
    let spawned = command
        .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            let _ = sink.send(Message::Binary((end.finish)(Err(e.to_string())).into())).await;
            let _ = sink.send(Message::Close(None)).await;
            return;
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(64);
    let outputs: [(u8, Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>>); 2] = [
        (1, child.stdout.take().map(|p| Box::new(p) as _)),
        (2, child.stderr.take().map(|p| Box::new(p) as _)),
    ];
    for (stream, pipe) in outputs {
        let Some(mut pipe) = pipe else { continue };
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 32 * 1024];
            while let Ok(n) = pipe.read(&mut buf).await {
                if n == 0 || tx.send([&[stream][..], &buf[..n]].concat()).await.is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let mut stdin = child.stdin.take();
    let mut outputs_open = true;
    let mut cut = std::pin::pin!(cut);
    let mut was_cut = false;
    loop {
        tokio::select! {
            out = rx.recv(), if outputs_open => match out {
                Some(bytes) => {
                    if sink.send(Message::Binary(bytes.into())).await.is_err() {
                        return;
                    }
                }
                None => outputs_open = false,
            },
            msg = source.next() => match msg {
                Some(Ok(Message::Binary(data))) => match data.first() {
                    Some(0) => {
                        if let Some(pipe) = stdin.as_mut()
                            && pipe.write_all(&data[1..]).await.is_err()
                        {
                            stdin = None;
                        }
                    }
                    Some(b) if Some(*b) == end.stdin_eof => stdin = None,
                    _ => {}
                },
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            },
            () = &mut cut, if !was_cut => {
                was_cut = true;
                let _ = child.start_kill();
            }
            status = child.wait(), if !outputs_open => {
                let code = status.ok().and_then(|s| s.code()).unwrap_or(137);
                let _ = sink.send(Message::Binary((end.finish)(Ok(code)).into())).await;
                let _ = sink.send(Message::Close(None)).await;
                return;
            }
        }
    }
}
