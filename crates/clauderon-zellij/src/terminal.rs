//! A session's terminal for the daemon's WebSocket: a `zellij attach` client on a pseudo-terminal
//! the daemon holds, its screen relayed to the viewer and the viewer's keys and size to it. Each
//! viewer gets its own client (zellij shows one session to many clients at once), run with the
//! same clean environment and settings as every other zellij command (sessions have no key
//! bindings, see [`crate::cli::CONFIG_KDL`]). Closing the viewer ends its client; the session
//! keeps running.

use crate::cli::ZellijCli;
use clauderon_backend::{BackendError, Terminal, TerminalInput};
use clauderon_types::BackendKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// The client's size until the viewer says its own.
const FIRST_SIZE: (u16, u16) = (24, 80);

fn failed(what: &str, e: impl std::fmt::Display) -> BackendError {
    BackendError::Failed { backend: BackendKind::Zellij, message: format!("{what}: {e}") }
}

/// How long the client may take to draw before the lock is let go anyway.
const ATTACH_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Attach a new client to session `name` on a fresh pseudo-terminal. Like every zellij command
/// of clauderon's, the client starts under the shared lock (a client probes every session's
/// socket, and a server probed while it starts can die, or not be found): held until the
/// client has drawn its first screen.
pub async fn open(cli: &ZellijCli, name: &str) -> Result<Terminal, BackendError> {
    let guard = cli.lock(false).await.map_err(BackendError::from)?;
    let (pty, pts) = pty_process::open().map_err(|e| failed("opening a pseudo-terminal", e))?;
    pty.resize(pty_process::Size::new(FIRST_SIZE.0, FIRST_SIZE.1))
        .map_err(|e| failed("sizing the pseudo-terminal", e))?;
    let mut child = pty_process::Command::new(&cli.program)
        .env_clear()
        .envs(cli.env.iter().map(|(k, v)| (k, v)))
        .args([std::ffi::OsStr::new("--config"), cli.config.as_os_str()])
        .args(["attach", name])
        .kill_on_drop(true)
        .spawn(pts)
        .map_err(|e| failed(&format!("running {} attach", cli.program.display()), e))?;
    let (mut reader, writer) = pty.into_split();
    let (out_tx, out_rx) = mpsc::channel::<Vec<u8>>(64);
    let (in_tx, mut in_rx) = mpsc::channel::<TerminalInput>(64);
    // The screen, until the client ends (the pseudo-terminal then reads as an error) or the
    // viewer goes.
    tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        let mut guard = Some(guard);
        let attached = tokio::time::Instant::now() + ATTACH_WAIT;
        loop {
            let read = if guard.is_some() {
                match tokio::time::timeout_at(attached, reader.read(&mut buf)).await {
                    Ok(read) => read,
                    Err(_) => {
                        guard = None;
                        continue;
                    }
                }
            } else {
                reader.read(&mut buf).await
            };
            guard = None;
            match read {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if out_tx.send(buf[..n].to_vec()).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    // The viewer's keys and size; when the viewer goes, its client is ended.
    tokio::spawn(async move {
        let mut writer = writer;
        loop {
            tokio::select! {
                input = in_rx.recv() => match input {
                    Some(TerminalInput::Data(bytes)) => {
                        if writer.write_all(&bytes).await.is_err() {
                            break;
                        }
                    }
                    Some(TerminalInput::Resize { cols, rows }) => {
                        let _ = writer.resize(pty_process::Size::new(rows, cols));
                    }
                    None => break,
                },
                _ = child.wait() => return,
            }
        }
        let _ = child.start_kill();
        let _ = child.wait().await;
    });
    Ok(Terminal { output: out_rx, input: in_tx })
}
