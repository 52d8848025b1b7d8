//! `/ws/events`: session events, live. `?since=SEQ` first replays what was
//! stored after SEQ, so a client that reconnects misses nothing. A client
//! that falls behind the bus is caught up from the store, not dropped.

use crate::error::ApiError;
use crate::routes::ApiQuery;
use crate::state::AppState;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use clauderon_types::SessionEvent;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

const REPLAY_PAGE: usize = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    since: Option<i64>,
}

pub async fn events(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<EventsQuery>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    // A page offers the `clauderon` subprotocol beside its key; it must get one back.
    Ok(ws.protocols([crate::security::WS_PROTOCOL]).on_upgrade(move |socket| stream(state, socket, q.since)))
}

async fn send(socket: &mut WebSocket, event: &SessionEvent) -> bool {
    match serde_json::to_string(event) {
        Ok(text) => socket.send(Message::Text(text.into())).await.is_ok(),
        Err(e) => {
            tracing::error!(error = %e, "could not encode an event");
            true
        }
    }
}

/// Send stored events after `*last` until caught up. `false` when the client went away.
async fn replay(state: &AppState, socket: &mut WebSocket, last: &mut i64) -> bool {
    loop {
        let page = match state.reads.events_since(*last, REPLAY_PAGE).await {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(error = %e, "event replay failed");
                return true;
            }
        };
        let full = page.len() == REPLAY_PAGE;
        for event in page {
            *last = event.seq;
            if !send(socket, &event).await {
                return false;
            }
        }
        if !full {
            return true;
        }
    }
}

async fn stream(state: AppState, mut socket: WebSocket, since: Option<i64>) {
    // Subscribe before replaying so nothing falls between the two.
    let mut rx = state.manager.bus().subscribe();
    let mut shutdown = state.shutdown.clone();
    let mut last: Option<i64> = since;
    if let Some(seq) = last.as_mut()
        && !replay(&state, &mut socket, seq).await
    {
        return;
    }
    loop {
        tokio::select! {
            received = rx.recv() => match received {
                Ok(event) => {
                    if last.is_some_and(|seq| event.seq <= seq) {
                        continue;
                    }
                    last = Some(event.seq);
                    if !send(&mut socket, &event).await {
                        return;
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "event subscriber lagged; catching up from the store");
                    if let Some(seq) = last.as_mut()
                        && !replay(&state, &mut socket, seq).await
                    {
                        return;
                    }
                }
                Err(RecvError::Closed) => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            _ = shutdown.changed() => break,
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}
