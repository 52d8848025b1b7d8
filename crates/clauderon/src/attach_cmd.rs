//! `clauderon attach NAME` and `clauderon logs NAME [--follow]`: through the daemon's terminal
//! WebSocket, so a browser terminal can use the same stream. A session whose backend attaches by
//! running a program on this machine (zellij) gets that program run here instead.

use anyhow::Context;
use clauderon_client::Client;
use clauderon_client::terminal::{TerminalEvent, TerminalReader, TerminalWriter};
use clauderon_types::terminal::DETACH_BYTE;
use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct AttachArgs {
    /// The session.
    pub name: String,
}

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// The session.
    pub name: String,
    /// Keep printing what the session writes, until it ends or Ctrl-C.
    #[arg(long, short)]
    pub follow: bool,
    /// How many lines from the end to print first.
    #[arg(long, default_value_t = 200)]
    pub tail: usize,
}

#[derive(Debug, clap::Args)]
pub struct EnvArgs {
    /// The session.
    pub name: String,
    /// Print JSON (`{"vars": [[name, value], …]}`).
    #[arg(long)]
    pub json: bool,
}

/// `clauderon env NAME`: the session's environment as its process got it, the proxy password
/// masked, so a user can see that no real credential is there.
pub async fn env(client: &Client, args: EnvArgs) -> anyhow::Result<ExitCode> {
    let vars = client.env(&args.name).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut out = std::io::stdout();
    if args.json {
        let body = clauderon_types::terminal::SessionEnv { vars };
        writeln!(out, "{}", serde_json::to_string_pretty(&body)?)?;
    } else {
        for (k, v) in vars {
            writeln!(out, "{k}={v}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Puts the terminal back as it was, however attach ends.
struct RawMode(bool);

impl RawMode {
    fn enable() -> Self {
        let on = std::io::stdin().is_terminal() && crossterm::terminal::enable_raw_mode().is_ok();
        RawMode(on)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if self.0 {
            let _ = crossterm::terminal::disable_raw_mode();
        }
    }
}

pub async fn attach(client: &Client, args: AttachArgs) -> anyhow::Result<ExitCode> {
    let (mut reader, mut writer) = client.terminal(&args.name).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    // A stream session sends output as it comes; a host-program session says what to run first.
    let first = tokio::time::timeout(std::time::Duration::from_millis(300), reader.next()).await;
    let first = match first {
        Ok(event) => Some(event.map_err(|e| anyhow::anyhow!("{e}"))?),
        Err(_) => None,
    };
    if let Some(TerminalEvent::Command { program, args: argv }) = &first {
        let status = std::process::Command::new(program)
            .args(argv)
            .status()
            .with_context(|| format!("running `{program}` to attach: is it installed on this machine?"))?;
        return Ok(if status.success() { ExitCode::SUCCESS } else { ExitCode::FAILURE });
    }
    eprint!("attached to {} (Ctrl-Q detaches, the session keeps running)\r\n", args.name);
    let raw = RawMode::enable();
    let detached = relay(&mut reader, &mut writer, first).await?;
    drop(raw);
    if detached {
        eprintln!(
            "\ndetached from {}; it keeps running (`clauderon attach {}` to come back)",
            args.name, args.name
        );
    } else {
        eprintln!("\nthe session's process ended");
    }
    Ok(ExitCode::SUCCESS)
}

/// Copy output to stdout and keystrokes to the session until detach (`true`) or the end.
async fn relay(
    reader: &mut TerminalReader,
    writer: &mut TerminalWriter,
    first: Option<TerminalEvent>,
) -> anyhow::Result<bool> {
    let mut stdout = std::io::stdout();
    if let Some(TerminalEvent::Output(bytes)) = first {
        stdout.write_all(&bytes)?;
        stdout.flush()?;
    }
    if let Ok((cols, rows)) = crossterm::terminal::size() {
        writer.resize(cols, rows).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let mut keys = stdin_chunks();
    let mut winch = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
        .context("watching the window size")?;
    loop {
        tokio::select! {
            event = reader.next() => match event.map_err(|e| anyhow::anyhow!("{e}"))? {
                TerminalEvent::Output(bytes) => {
                    stdout.write_all(&bytes)?;
                    stdout.flush()?;
                }
                TerminalEvent::Closed => return Ok(false),
                TerminalEvent::Command { .. } => {}
            },
            chunk = keys.recv() => {
                let Some(chunk) = chunk else {
                    // stdin ended (not a terminal): stay and watch, like `docker attach`.
                    keys = never();
                    continue;
                };
                let (before, detach) = split_at_detach(&chunk);
                if !before.is_empty() {
                    writer.input(before).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                }
                if detach {
                    writer.close().await;
                    return Ok(true);
                }
            }
            _ = winch.recv() => {
                if let Ok((cols, rows)) = crossterm::terminal::size() {
                    let _ = writer.resize(cols, rows).await;
                }
            }
        }
    }
}

/// The keys before the detach key, and whether it was pressed.
pub fn split_at_detach(chunk: &[u8]) -> (&[u8], bool) {
    match chunk.iter().position(|b| *b == DETACH_BYTE) {
        Some(i) => (&chunk[..i], true),
        None => (chunk, false),
    }
}

/// stdin, read on a thread (it blocks), in chunks as they come.
fn stdin_chunks() -> tokio::sync::mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 4096];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

/// A receiver that never yields (its sender lives forever in a leaked-free task).
fn never() -> tokio::sync::mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        tx.closed().await;
    });
    rx
}

pub async fn logs(client: &Client, args: LogsArgs) -> anyhow::Result<ExitCode> {
    let text = client.logs(&args.name, args.tail).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut stdout = std::io::stdout();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }
    let (mut reader, _writer) = client.terminal(&args.name).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    loop {
        match reader.next().await.map_err(|e| anyhow::anyhow!("{e}"))? {
            TerminalEvent::Output(bytes) => {
                stdout.write_all(&bytes)?;
                stdout.flush()?;
            }
            TerminalEvent::Closed => return Ok(ExitCode::SUCCESS),
            TerminalEvent::Command { .. } => {
                anyhow::bail!(
                    "{} has no output stream to follow: attach to it with `clauderon attach {}`",
                    args.name,
                    args.name
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_detach_key_cuts_the_input() {
        assert_eq!(split_at_detach(b"ls\r"), (&b"ls\r"[..], false));
        assert_eq!(split_at_detach(b"ab\x11cd"), (&b"ab"[..], true));
        assert_eq!(split_at_detach(b"\x11"), (&b""[..], true));
    }
}
