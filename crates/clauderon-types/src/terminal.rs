//! The terminal WebSocket (`/ws/sessions/{name}/terminal`) and the logs API: terminal bytes
//! travel as binary frames both ways; control messages are JSON text frames.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A control message on the terminal WebSocket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum TerminalMessage {
    /// Client to daemon: the window's size.
    Resize { cols: u16, rows: u16 },
    /// Daemon to client: this session has no terminal stream; attach by running this program
    /// on the host (a zellij session), then the socket closes.
    Command { program: String, args: Vec<String> },
}

/// `GET /api/sessions/{name}/logs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SessionLogs {
    /// The last lines of the session's output, as the process wrote them (terminal codes kept).
    pub text: String,
}

/// The byte that detaches `clauderon attach` (Ctrl-Q), leaving the session running.
pub const DETACH_BYTE: u8 = 0x11;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn control_messages_are_tagged_json() {
        let m = TerminalMessage::Resize { cols: 80, rows: 24 };
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"type":"resize","cols":80,"rows":24}"#);
        let back: TerminalMessage =
            serde_json::from_str(r#"{"type":"command","program":"zellij","args":["attach","s"]}"#).unwrap();
        assert_eq!(
            back,
            TerminalMessage::Command { program: "zellij".into(), args: vec!["attach".into(), "s".into()] }
        );
    }
}
