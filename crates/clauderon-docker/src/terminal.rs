//! Terminal streams to a session's main process, for the daemon's WebSocket terminal: one
//! engine attach per watcher (the engine fans the output out), keystrokes written to the
//! process's stdin, window sizes applied to its TTY. And text typed into it (`send`): written
//! to the TTY through an attach of its own, as a paste when the program asked for pastes.

use crate::engine;
use bollard::Docker;
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, LogsOptionsBuilder, ResizeContainerTTYOptionsBuilder,
};
use clauderon_backend::{BackendError, BackendHandle, Terminal, TerminalInput};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// Detach keys the engine would act on: a sequence no keyboard sends, so every key reaches the
/// process and detaching is the client's business (it closes the stream).
const ENGINE_DETACH_KEYS: &str = "ctrl-@,ctrl-@,ctrl-@";

/// The engine would accept an attach to a stopped container and then send nothing: refuse first.
async fn ensure_running(docker: &Docker, handle: &BackendHandle) -> Result<(), BackendError> {
    let info = docker
        .inspect_container(handle.as_str(), None)
        .await
        .map_err(|e| engine::map_handle(e, handle, "inspecting the container"))?;
    let state = info.state.unwrap_or_default();
    if state.running != Some(true) {
        let code = state.exit_code.map_or(String::new(), |c| format!(" (its process exited with code {c})"));
        return Err(engine::error(format!(
            "the session's container is not running{code}: `clauderon logs` shows its last output"
        )));
    }
    Ok(())
}

pub(crate) async fn open(docker: Docker, handle: &BackendHandle) -> Result<Terminal, BackendError> {
    let name = handle.as_str().to_string();
    ensure_running(&docker, handle).await?;
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
                    Some(TerminalInput::Resize { cols, rows }) => resize(&docker, &name, cols, rows).await,
                    // The watcher left: detach, the process keeps running.
                    None => break,
                },
            }
        }
    });
    Ok(Terminal { output: out_rx, input: in_tx })
}

/// Set the container's TTY size. A refusal (the process just ended) is only logged: the
/// terminal goes on or ends by itself.
pub(crate) async fn resize(docker: &Docker, container: &str, cols: u16, rows: u16) {
    let size = ResizeContainerTTYOptionsBuilder::new().w(i32::from(cols)).h(i32::from(rows)).build();
    if let Err(e) = docker.resize_container_tty(container, size).await {
        tracing::debug!(container, error = %e, "resize refused");
    }
}

/// How much of the container's recent output is searched for the program's bracketed paste
/// switch (the engine keeps the whole TTY output; programs turn it on once at start).
const PASTE_MODE_SCAN_LINES: usize = 20_000;
const PASTE_ON: &[u8] = b"\x1b[?2004h";
const PASTE_OFF: &[u8] = b"\x1b[?2004l";
const PASTE_START: &[u8] = b"\x1b[200~";
const PASTE_END: &[u8] = b"\x1b[201~";

/// Did the program last turn bracketed paste on (the agents' TUIs do), as its output says?
async fn wants_pastes(docker: &Docker, handle: &BackendHandle) -> Result<bool, BackendError> {
    let options =
        LogsOptionsBuilder::new().stdout(true).stderr(true).tail(&PASTE_MODE_SCAN_LINES.to_string()).build();
    let mut stream = docker.logs(handle.as_str(), Some(options));
    let mut on = false;
    // A switch split across two chunks is found in the join of the previous chunk's tail.
    let mut carry: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| engine::map_handle(e, handle, "reading the container's output"))?;
        carry.extend_from_slice(chunk.as_ref());
        if let Some(state) = last_paste_switch(&carry) {
            on = state;
        }
        let keep = carry.len().saturating_sub(PASTE_ON.len() - 1);
        carry.drain(..keep);
    }
    Ok(on)
}

/// The last bracketed paste switch in `bytes`: `Some(true)` for on, `Some(false)` for off.
fn last_paste_switch(bytes: &[u8]) -> Option<bool> {
    let last = |needle: &[u8]| bytes.windows(needle.len()).rposition(|w| w == needle);
    match (last(PASTE_ON), last(PASTE_OFF)) {
        (Some(on), Some(off)) => Some(on > off),
        (Some(_), None) => Some(true),
        (None, Some(_)) => Some(false),
        (None, None) => None,
    }
}

/// The bytes that type `text`: wrapped as a paste when the program takes pastes.
fn typed(text: &str, paste: bool) -> Vec<u8> {
    if paste { [PASTE_START, text.as_bytes(), PASTE_END].concat() } else { text.as_bytes().to_vec() }
}

/// How long [`until_drawn`] waits for the program to show what it was typed, at most.
const DRAW_WAIT: std::time::Duration = std::time::Duration::from_secs(3);
/// Output quiet this long after the program started drawing: it has drawn the text.
const DRAWN_QUIET: std::time::Duration = std::time::Duration::from_millis(150);

/// Wait until the program has drawn what was typed (its output started and then settled), or
/// [`DRAW_WAIT`]. A fixed pause before Enter is not enough on a loaded machine: an agent's TUI
/// still busy with the paste reads the Enter with it, as a line break inside the prompt, and
/// the prompt is never submitted.
async fn until_drawn<S, T, E>(output: &mut S)
where
    S: futures_util::Stream<Item = Result<T, E>> + Unpin,
{
    until_quiet(output, false, DRAWN_QUIET, DRAW_WAIT).await
}

/// Wait until the program's output has been still for [`clauderon_backend::SETTLE_QUIET`] (at
/// most [`clauderon_backend::SETTLE_WAIT`]): a TUI that is still animating (Gemini CLI's
/// spinner while its hooks run, just after it reported idle) takes keys differently, and an
/// Enter then became a line break (a CI run showed it).
async fn until_settled<S, T, E>(output: &mut S)
where
    S: futures_util::Stream<Item = Result<T, E>> + Unpin,
{
    until_quiet(output, true, clauderon_backend::SETTLE_QUIET, clauderon_backend::SETTLE_WAIT).await
}

/// Wait until `output` has been quiet for `quiet` — counted from now when `from_now`, else only
/// once some output has come — or the stream ends, or `wait` has passed.
async fn until_quiet<S, T, E>(
    output: &mut S,
    from_now: bool,
    quiet: std::time::Duration,
    wait: std::time::Duration,
) where
    S: futures_util::Stream<Item = Result<T, E>> + Unpin,
{
    let deadline = tokio::time::Instant::now() + wait;
    let mut counting = from_now;
    loop {
        let until = if counting { (tokio::time::Instant::now() + quiet).min(deadline) } else { deadline };
        match tokio::time::timeout_at(until, output.next()).await {
            Ok(Some(Ok(_))) => counting = true,
            // The stream ended or broke (the process exited), or the output settled, or time is up.
            Ok(_) | Err(_) => return,
        }
    }
}

/// Type `text` into the container's TTY once its program is still ([`until_settled`]), then
/// press Enter once the program has drawn it ([`until_drawn`]) and [`clauderon_backend::SUBMIT_DELAY`] more has passed (as the Zellij
/// backend does). The attach is the
/// engine's, like a watcher's; it ends here, and the process keeps its stdin (the container is
/// not `stdin_once`).
pub(crate) async fn send(docker: Docker, handle: &BackendHandle, text: &str) -> Result<(), BackendError> {
    ensure_running(&docker, handle).await?;
    let paste = wants_pastes(&docker, handle).await?;
    // Output too (new output only): to see the program draw what it was given.
    let options = AttachContainerOptionsBuilder::new()
        .stdin(true)
        .stdout(true)
        .stderr(true)
        .stream(true)
        .logs(false)
        .detach_keys(ENGINE_DETACH_KEYS)
        .build();
    let mut attached = docker
        .attach_container(handle.as_str(), Some(options))
        .await
        .map_err(|e| engine::map_handle(e, handle, "attaching to the container"))?;
    let broken =
        |e: std::io::Error| engine::error(format!("typing into the session's container failed: {e}"));
    until_settled(&mut attached.output).await;
    attached.input.write_all(&typed(text, paste)).await.map_err(broken)?;
    attached.input.flush().await.map_err(broken)?;
    until_drawn(&mut attached.output).await;
    tokio::time::sleep(clauderon_backend::SUBMIT_DELAY).await;
    attached.input.write_all(&[clauderon_backend::ENTER]).await.map_err(broken)?;
    attached.input.flush().await.map_err(broken)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_paste_switch_wins_and_pastes_are_wrapped_only_when_on() {
        assert_eq!(last_paste_switch(b"plain output"), None);
        assert_eq!(last_paste_switch(b"\x1b[?2004hdraw"), Some(true));
        assert_eq!(last_paste_switch(b"\x1b[?2004h...\x1b[?2004l$ "), Some(false));
        assert_eq!(last_paste_switch(b"\x1b[?2004l\x1b[?2004h"), Some(true));
        assert_eq!(typed("a\nb", false), b"a\nb");
        assert_eq!(typed("a\nb", true), b"\x1b[200~a\nb\x1b[201~");
    }

    /// Output chunks at the given offsets (ms after the start), then the stream stays open.
    fn drawing_at(offsets: &[u64]) -> impl futures_util::Stream<Item = Result<(), ()>> + Unpin {
        let start = tokio::time::Instant::now();
        let chunks = futures_util::stream::iter(offsets.to_vec()).then(move |ms| async move {
            tokio::time::sleep_until(start + std::time::Duration::from_millis(ms)).await;
            Ok(())
        });
        Box::pin(chunks.chain(futures_util::stream::pending()))
    }

    async fn waited(offsets: &[u64]) -> u128 {
        let start = tokio::time::Instant::now();
        until_drawn(&mut drawing_at(offsets)).await;
        start.elapsed().as_millis()
    }

    #[tokio::test(start_paused = true)]
    async fn enter_waits_until_the_program_has_drawn_what_it_was_typed() {
        // A slow program (a loaded machine) that draws after 900 ms, in three frames: Enter
        // comes once the output has been quiet for DRAWN_QUIET after the last frame.
        assert_eq!(waited(&[900, 950, 1000]).await, 1150);
        // A quick one.
        assert_eq!(waited(&[20]).await, 170);
        // One that draws nothing, or never stops drawing: DRAW_WAIT at most.
        assert_eq!(waited(&[]).await, 3000);
        let endless: Vec<u64> = (1..100).map(|i| i * 100).collect();
        assert_eq!(waited(&endless).await, 3000);
    }

    #[tokio::test(start_paused = true)]
    async fn typing_waits_until_the_program_is_still() {
        let settled = |offsets: Vec<u64>| async move {
            let start = tokio::time::Instant::now();
            until_settled(&mut drawing_at(&offsets)).await;
            start.elapsed().as_millis()
        };
        // A quiet program: SETTLE_QUIET.
        assert_eq!(settled(vec![]).await, 300);
        // A spinner for a second (frames every 100 ms), then still: 300 ms after its last frame.
        assert_eq!(settled((0..10).map(|i| i * 100).collect()).await, 1200);
        // One that never stops: SETTLE_WAIT at most.
        assert_eq!(settled((0..100).map(|i| i * 100).collect()).await, 5000);
    }
}
