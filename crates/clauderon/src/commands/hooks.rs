//! `hooks log [--follow]` and `hooks test NAME`: what the configured hooks did.

use crate::cli::HooksCommand;
use crate::output::{emit, emit_json, emit_open};
use anyhow::Context;
use clauderon_client::Client;
use clauderon_types::hooks::HookDelivery;
use std::time::Duration;

/// How often `--follow` asks for new deliveries.
const POLL_EVERY: Duration = Duration::from_secs(1);

pub async fn run(client: &Client, command: HooksCommand) -> anyhow::Result<()> {
    match command {
        HooksCommand::Test { name, out } => {
            let d = client.test_hook(&name).await?;
            if out.json {
                return emit_json(&d);
            }
            emit(&line(&d))
        }
        HooksCommand::Log { follow, out } => {
            let list = client.hook_deliveries(None, None).await?;
            if !follow {
                if out.json {
                    return emit_json(&list);
                }
                if list.deliveries.is_empty() {
                    return emit(
                        "no hook deliveries yet (hooks are set in [[hooks]]: `clauderon config example`)",
                    );
                }
                return emit(&list.deliveries.iter().map(line).collect::<Vec<_>>().join("\n"));
            }
            let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
                .context("listening for Ctrl-C")?;
            let printing = async {
                let mut batch = list.deliveries;
                let mut last = 0;
                loop {
                    for d in &batch {
                        last = d.id;
                        let text = if out.json { serde_json::to_string(d)? } else { line(d) };
                        if !emit_open(&text)? {
                            return Ok(());
                        }
                    }
                    tokio::time::sleep(POLL_EVERY).await;
                    batch = client.hook_deliveries(Some(last), Some(1000)).await?.deliveries;
                }
            };
            tokio::select! {
                r = printing => r,
                _ = interrupt.recv() => Ok(()),
            }
        }
    }
}

/// `2026-12-05 10:00:01  notify  status-changed  fix-login  ok  0  1 attempt  12 ms  command`
fn line(d: &HookDelivery) -> String {
    let status = d.status.map_or_else(|| "-".to_string(), |s| s.to_string());
    let mut text = format!(
        "{}  {}  {}  {}  {}  {}  {} attempt{}  {} ms  {}",
        d.at.format("%Y-%m-%d %H:%M:%S"),
        d.hook,
        d.event,
        d.session_name.as_deref().unwrap_or("-"),
        d.outcome.as_str(),
        status,
        d.attempts,
        if d.attempts == 1 { "" } else { "s" },
        d.duration_ms,
        d.target
    );
    if let Some(detail) = &d.detail {
        let first = detail.lines().next().unwrap_or("");
        let shown: String = first.chars().map(|c| if c.is_control() { '?' } else { c }).take(120).collect();
        text.push_str(&format!("  {shown}"));
    }
    text
}
