//! `/ws/events`: the daemon's session events, live, for the TUI (and any client that follows).

use crate::terminal::Socket;
use crate::{Client, ClientError};
use clauderon_types::SessionEvent;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

/// The events after a sequence number, as the daemon sends them.
pub struct EventStream(Socket);

impl EventStream {
    /// The next event; `Ok(None)` when the daemon closed the stream (it is shutting down).
    pub async fn next(&mut self) -> Result<Option<SessionEvent>, ClientError> {
        loop {
            match self.0.next().await {
                None | Some(Ok(Message::Close(_))) => return Ok(None),
                Some(Ok(Message::Text(t))) => {
                    return serde_json::from_str(&t).map(Some).map_err(|e| {
                        ClientError::Protocol(format!("an event this client cannot read: {e}"))
                    });
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(ClientError::Protocol(format!("event stream: {e}"))),
            }
        }
    }
}

impl Client {
    /// Follow `/ws/events`. With `since`, the stored events after that `seq` come first, so a
    /// client that reconnects misses nothing.
    pub async fn events(&self, since: Option<i64>) -> Result<EventStream, ClientError> {
        let path = match since {
            Some(seq) => format!("/ws/events?since={seq}"),
            None => "/ws/events".to_string(),
        };
        Ok(EventStream(self.websocket(&path).await?))
    }
}
