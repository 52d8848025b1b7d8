//! Terminal streams to a session's main process, for the daemon's WebSocket terminal: one
//! engine attach per watcher (the engine fans the output out), keystrokes written to the
//! process's stdin, window sizes applied to its TTY.

use crate::engine;
use bollard::Docker;
use bollard::query_parameters::{AttachContainerOptionsBuilder, ResizeContainerTTYOptionsBuilder};
use clauderon_backend::{BackendError, BackendHandle, Terminal, TerminalInput};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// Detach keys the engine would act on: a sequence no keyboard sends, so every key reaches the
/// process and detaching is the client's business (it closes the stream).
const ENGINE_DETACH_KEYS: &str = "ctrl-@,ctrl-@,ctrl-@";

pub(crate) async fn open(docker: Docker, handle: &BackendHandle) -> Result<Terminal, BackendError> {
    let name = handle.as_str().to_string();
    // The engine would accept an attach to a stopped container and then send nothing.
    let info = docker
        .inspect_container(&name, None)
        .await
        .map_err(|e| engine::map_handle(e, handle, "inspecting the container"))?;
    let state = info.state.unwrap_or_default();
    if state.running != Some(true) {
        let code = state.exit_code.map_or(String::new(), |c| format!(" (its process exited with code {c})"));
        return Err(engine::error(format!(
            "the session's container is not running{code}: `clauderon logs` shows its last output"
        )));
    }
    let options = AttachContainerOptionsBuilder::new()
        .stdin(true)
        .stdout(true)
        .stderr(true)
        .stream(true)
        .logs(false)
        .detach_keys(ENGINE_DETACH_KEYS)
        .build();
    let attached = docker
        .attach_container(&name, Some(options))
        .await
        .map_err(|e| engine::map_handle(e, handle, "attaching to the container"))?;
    let (out_tx, out_rx) = mpsc::channel::<Vec<u8>>(64);
    let (in_tx, mut in_rx) = mpsc::channel::<TerminalInput>(64);
    let mut output = attached.output;
    let mut stdin = attached.input;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                chunk = output.next() => match chunk {
                    Some(Ok(chunk)) => {
                        if out_tx.send(chunk.into_bytes().to_vec()).await.is_err() {
                            break;
                        }
                    }
                    // The process ended or the engine went away: the watcher sees the end.
                    Some(Err(_)) | None => break,
                },
                input = in_rx.recv() => match input {
                    Some(TerminalInput::Data(bytes)) => {
                        if stdin.write_all(&bytes).await.is_err() || stdin.flush().await.is_err() {
                            break;
                        }
                    }
                    Some(TerminalInput::Resize { cols, rows }) => {
                        let size = ResizeContainerTTYOptionsBuilder::new().w(i32::from(cols)).h(i32::from(rows)).build();
                        if let Err(e) = docker.resize_container_tty(&name, size).await {
                            tracing::debug!(container = %name, error = %e, "resize refused");
                        }
                    }
                    // The watcher left: detach, the process keeps running.
                    None => break,
                },
            }
        }
    });
    Ok(Terminal { output: out_rx, input: in_tx })
}
