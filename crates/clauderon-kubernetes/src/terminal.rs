//! A session's terminal through the Kubernetes API's attach (a WebSocket to the agent
//! container's TTY): one attach per viewer, keystrokes to its stdin, window sizes to its TTY.
//! And text typed into it (`send`): through an attach of its own, as a paste when the program
//! asked for pastes (its recent output says so), then Enter.

use crate::plan::SESSION_CONTAINER;
use clauderon_backend::{BackendError, Terminal, TerminalInput};
use clauderon_types::BackendKind;
use futures_util::SinkExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, AttachedProcess, LogParams, TerminalSize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

fn failed(message: String) -> BackendError {
    BackendError::Failed { backend: BackendKind::Kubernetes, message }
}

async fn attach(pods: &Api<Pod>, pod: &str) -> Result<AttachedProcess, BackendError> {
    let params = AttachParams::interactive_tty().container(SESSION_CONTAINER);
    pods.attach(pod, &params).await.map_err(|e| failed(format!("attaching to the session's pod: {e}")))
}

pub(crate) async fn open(pods: Api<Pod>, pod: &str) -> Result<Terminal, BackendError> {
    let mut attached = attach(&pods, pod).await?;
    let (Some(mut stdin), Some(mut stdout)) = (attached.stdin(), attached.stdout()) else {
        return Err(failed("the attach gave no terminal streams".into()));
    };
    let mut sizes = attached.terminal_size();
    let (out_tx, out_rx) = mpsc::channel::<Vec<u8>>(64);
    let (in_tx, mut in_rx) = mpsc::channel::<TerminalInput>(64);
    tokio::spawn(async move {
        // Held for the terminal's life: dropping it ends the attach (the process keeps running).
        let _attached = attached;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            tokio::select! {
                read = stdout.read(&mut buf) => match read {
                    Ok(n) if n > 0 => {
                        if out_tx.send(buf[..n].to_vec()).await.is_err() {
                            break;
                        }
                    }
                    _ => break,
                },
                input = in_rx.recv() => match input {
                    Some(TerminalInput::Data(bytes)) => {
                        if stdin.write_all(&bytes).await.is_err() || stdin.flush().await.is_err() {
                            break;
                        }
                    }
                    Some(TerminalInput::Resize { cols, rows }) => {
                        if let Some(sizes) = sizes.as_mut() {
                            let _ = sizes.send(TerminalSize { width: cols, height: rows }).await;
                        }
                    }
                    None => break,
                },
            }
        }
    });
    Ok(Terminal { output: out_rx, input: in_tx })
}

const PASTE_ON: &[u8] = b"\x1b[?2004h";
const PASTE_OFF: &[u8] = b"\x1b[?2004l";
const PASTE_START: &[u8] = b"\x1b[200~";
const PASTE_END: &[u8] = b"\x1b[201~";

/// Did the program last turn bracketed paste on, as its recent output says?
fn wants_pastes(output: &[u8]) -> bool {
    let last = |needle: &[u8]| output.windows(needle.len()).rposition(|w| w == needle);
    match (last(PASTE_ON), last(PASTE_OFF)) {
        (Some(on), Some(off)) => on > off,
        (Some(_), None) => true,
        _ => false,
    }
}

/// The bytes that type `text`: wrapped as a paste when the program takes pastes.
fn typed(text: &str, paste: bool) -> Vec<u8> {
    if paste { [PASTE_START, text.as_bytes(), PASTE_END].concat() } else { text.as_bytes().to_vec() }
}

pub(crate) async fn send(pods: Api<Pod>, pod: &str, text: &str) -> Result<(), BackendError> {
    let params = LogParams {
        container: Some(SESSION_CONTAINER.into()),
        tail_lines: Some(20_000),
        ..Default::default()
    };
    let recent = pods.logs(pod, &params).await.unwrap_or_default();
    let mut attached = attach(&pods, pod).await?;
    let Some(mut stdin) = attached.stdin() else {
        return Err(failed("the attach gave no stdin".into()));
    };
    let write = |e: std::io::Error| failed(format!("typing into the session: {e}"));
    stdin.write_all(&typed(text, wants_pastes(recent.as_bytes()))).await.map_err(write)?;
    stdin.flush().await.map_err(write)?;
    tokio::time::sleep(clauderon_backend::SUBMIT_DELAY).await;
    stdin.write_all(&[clauderon_backend::ENTER]).await.map_err(write)?;
    stdin.flush().await.map_err(write)?;
    // Let the attach carry the bytes before it closes.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    attached.abort();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paste_mode_follows_the_last_switch() {
        assert!(wants_pastes(b"x\x1b[?2004hy"));
        assert!(!wants_pastes(b"\x1b[?2004h...\x1b[?2004l"));
        assert!(!wants_pastes(b"plain"));
        assert_eq!(typed("a\nb", true), b"\x1b[200~a\nb\x1b[201~".to_vec());
        assert_eq!(typed("a", false), b"a".to_vec());
    }
}
