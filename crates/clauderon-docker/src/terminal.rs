//! Terminal streams to a session's main process, for the daemon's WebSocket terminal.
