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

/// `GET /api/sessions/{name}/env`: the session's environment as its process got it, with the
/// password of every `scheme://user:password@host` value (the session's proxy identity) masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SessionEnv {
    pub vars: Vec<(String, String)>,
}

/// `http://user:secret@host:3128` -> `http://user:***@host:3128`; other values unchanged.
pub fn mask_url_password(value: &str) -> String {
    let Some((scheme, rest)) = value.split_once("://") else { return value.to_string() };
    let Some((userinfo, host)) = rest.split_once('@') else { return value.to_string() };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => value.to_string(),
    }
}

/// The byte that detaches `clauderon attach` (Ctrl-Q), leaving the session running.
pub const DETACH_BYTE: u8 = 0x11;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn proxy_passwords_are_masked_and_other_values_kept() {
        assert_eq!(mask_url_password("http://s1:sek-123@172.17.0.1:3128"), "http://s1:***@172.17.0.1:3128");
        assert_eq!(mask_url_password("https://example.com/a@b"), "https://example.com/a@b");
        assert_eq!(mask_url_password("/home/clauderon"), "/home/clauderon");
        assert_eq!(mask_url_password("clauderon-placeholder"), "clauderon-placeholder");
    }

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
