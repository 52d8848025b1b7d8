//! The in-process event bus: every session change is published here after it
//! is stored. The WebSocket, hooks and the TUI subscribe.

use clauderon_types::SessionEvent;
use tokio::sync::broadcast;

/// How many events a slow subscriber may fall behind before it is told it lagged.
const CAPACITY: usize = 1024;

#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<SessionEvent>,
}

impl EventBus {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(CAPACITY);
        EventBus { tx }
    }

    pub fn publish(&self, events: impl IntoIterator<Item = SessionEvent>) {
        for e in events {
            // No subscriber is not an error: events are in the store anyway.
            let _ = self.tx.send(e);
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<SessionEvent> {
        self.tx.subscribe()
    }
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new()
    }
}
