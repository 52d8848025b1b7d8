//! `version`: this CLI's, and the daemon's when one answers. Exits 0 either way.

use crate::output::{emit, emit_json};
use clauderon_client::{Client, ClientError};
use clauderon_types::VERSION;

pub async fn run(client: &Client, json: bool) -> anyhow::Result<()> {
    let daemon = client.version().await;
    if json {
        let (info, error) = match &daemon {
            Ok(info) => (Some(info), None),
            Err(e) => (None, Some(e.to_string())),
        };
        return emit_json(&serde_json::json!({ "cli": VERSION, "daemon": info, "daemon_error": error }));
    }
    let daemon_line = match daemon {
        Ok(d) if d.version == VERSION => format!("daemon {} (API v{})", d.version, d.api),
        Ok(d) => format!(
            "daemon {} (API v{}): not this CLI's version; restart it with `clauderon daemon` after upgrading",
            d.version, d.api
        ),
        Err(ClientError::DaemonNotRunning { .. }) => {
            "daemon: not running (start it with `clauderon daemon`)".to_string()
        }
        Err(e) => format!("daemon: {e}"),
    };
    emit(&format!("clauderon {VERSION}\n{daemon_line}"))
}
