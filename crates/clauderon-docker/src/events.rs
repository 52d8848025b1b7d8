//! The engine's event stream, turned into status changes of clauderon's containers: `start`
//! means running, `die` means stopped (with the exit code). A started container also gets its
//! terminal size here, whoever started it. Reconnects when the engine goes away and comes back;
//! ends when nobody listens.

use crate::engine::Engine;
use bollard::query_parameters::EventsOptionsBuilder;
use clauderon_backend::{BackendHandle, BackendStatus, StatusChange};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// What one engine event means for a session, if anything.
pub(crate) fn change(action: &str, attributes: &HashMap<String, String>) -> Option<StatusChange> {
    let name = attributes.get("name")?;
    let (status, detail) = match action {
        "start" => (BackendStatus::Running, "started".to_string()),
        "die" => {
            let code = attributes.get("exitCode").map_or("?", String::as_str);
            (BackendStatus::Stopped, format!("exited with code {code}"))
        }
        "destroy" => (BackendStatus::Missing, "removed".to_string()),
        _ => return None,
    };
    Some(StatusChange { handle: BackendHandle(name.clone()), status, detail })
}

/// `labels`: the `key=value` label filters the backend's containers carry.
pub(crate) fn watch(engine: Arc<Engine>, labels: Vec<String>) -> mpsc::Receiver<StatusChange> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let filters = HashMap::from([("type", vec!["container".to_string()]), ("label", labels)]);
        while !tx.is_closed() {
            let docker = match engine.client().await {
                Ok(d) => d,
                Err(_) => {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(5)) => continue,
                        _ = tx.closed() => return,
                    }
                }
            };
            let options = EventsOptionsBuilder::new().filters(&filters).build();
            let mut events = docker.events(Some(options));
            loop {
                tokio::select! {
                    event = events.next() => match event {
                        Some(Ok(e)) => {
                            let attributes = e.actor.and_then(|a| a.attributes).unwrap_or_default();
                            let Some(c) = e.action.as_deref().and_then(|a| change(a, &attributes)) else {
                                continue;
                            };
                            // Started outside clauderon too (`docker start`): a terminal size.
                            if c.status == BackendStatus::Running {
                                crate::give_the_terminal_a_size(&docker, &c.handle).await;
                            }
                            if tx.send(c).await.is_err() {
                                return;
                            }
                        }
                        // The engine went away: try again shortly.
                        Some(Err(_)) | None => break,
                    },
                    _ = tx.closed() => return,
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                _ = tx.closed() => return,
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn die_is_stopped_with_the_exit_code_and_other_actions_are_ignored() {
        let attrs =
            HashMap::from([("name".to_string(), "clauderon-s".to_string()), ("exitCode".into(), "3".into())]);
        let c = change("die", &attrs);
        assert_eq!(
            c,
            Some(StatusChange {
                handle: BackendHandle("clauderon-s".into()),
                status: BackendStatus::Stopped,
                detail: "exited with code 3".into()
            })
        );
        assert_eq!(change("start", &attrs).map(|c| c.status), Some(BackendStatus::Running));
        assert_eq!(change("attach", &attrs), None);
        assert_eq!(change("die", &HashMap::new()), None, "no name, no session");
    }
}
