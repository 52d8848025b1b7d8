//! A session's output, input and terminal: `GET /api/sessions/{name}/logs?tail=N`,
//! `POST /api/sessions/{name}/input` (a follow-up prompt typed into the agent), and the WebSocket
//! `/ws/sessions/{name}/terminal` (binary frames are terminal bytes both ways; text frames are
//! [`TerminalMessage`]s). Any number of clients may watch one session; closing the socket
//! detaches and leaves the session running.

use crate::error::ApiError;
use crate::routes::{ApiJson, ApiQuery};
use crate::state::AppState;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use clauderon_backend::{AttachTarget, Terminal, TerminalInput};
use clauderon_core::SessionTerminal;
use clauderon_types::api::{ErrorBody, SendInputRequest};
use clauderon_types::terminal::{SessionEnv, SessionLogs, TerminalMessage};
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogsQuery {
    /// How many lines from the end (default 200).
    tail: Option<usize>,
}

#[utoipa::path(get, path = "/api/sessions/{name}/logs", tag = "sessions", params(("name" = String, Path), LogsQuery),
    responses((status = 200, body = SessionLogs), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn logs(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<LogsQuery>,
) -> Result<ApiJson<SessionLogs>, ApiError> {
    let text = state.io.logs(&name, q.tail.unwrap_or(200)).await?;
    Ok(ApiJson(SessionLogs { text }))
}

#[utoipa::path(get, path = "/api/sessions/{name}/env", tag = "sessions", params(("name" = String, Path)),
    responses((status = 200, body = SessionEnv), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn env(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<ApiJson<SessionEnv>, ApiError> {
    Ok(ApiJson(SessionEnv { vars: state.io.environment(&name).await? }))
}

#[utoipa::path(post, path = "/api/sessions/{name}/input", tag = "sessions", params(("name" = String, Path)),
    request_body = SendInputRequest,
    responses((status = 204, description = "typed into the agent, then Enter"), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn send_input(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<SendInputRequest>,
) -> Result<StatusCode, ApiError> {
    state.io.send_input(&name, &req.text).await?;
    tracing::info!(session = %name, bytes = req.text.len(), "input sent to the session");
    Ok(StatusCode::NO_CONTENT)
}

pub async fn terminal(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    // Open it before upgrading, so a missing session or a stopped engine is a plain HTTP error.
    let terminal = state.io.terminal(&name).await?;
    let shutdown = state.shutdown.clone();
    Ok(ws.protocols([crate::security::WS_PROTOCOL]).on_upgrade(move |socket| async move {
        match terminal {
            SessionTerminal::Stream(t) => relay(socket, t, shutdown).await,
            SessionTerminal::Command(target) => tell_command(socket, target).await,
        }
    }))
}

async fn tell_command(mut socket: WebSocket, target: AttachTarget) {
    let AttachTarget::Command { program, args } = target;
    if let Ok(text) = serde_json::to_string(&TerminalMessage::Command { program, args }) {
        let _ = socket.send(Message::Text(text.into())).await;
    }
    let _ = socket.send(Message::Close(None)).await;
}

/// Until either side ends, or the daemon stops (the viewer is told by the close and reconnects
/// to the next daemon; the session runs on).
async fn relay(mut socket: WebSocket, mut t: Terminal, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            () = async { let _ = shutdown.wait_for(|stopping| *stopping).await; } => {
                let _ = socket.send(Message::Close(None)).await;
                break;
            }
            out = t.output.recv() => match out {
                Some(bytes) => {
                    if socket.send(Message::Binary(bytes.into())).await.is_err() {
                        break;
                    }
                }
                None => {
                    // The process ended.
                    let _ = socket.send(Message::Close(None)).await;
                    break;
                }
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Binary(bytes))) => {
                    if t.input.send(TerminalInput::Data(bytes.to_vec())).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<TerminalMessage>(&text) {
                    Ok(TerminalMessage::Resize { cols, rows }) if cols > 0 && rows > 0 => {
                        let _ = t.input.send(TerminalInput::Resize { cols, rows }).await;
                    }
                    _ => tracing::debug!("ignoring an unknown terminal control message"),
                },
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
}
