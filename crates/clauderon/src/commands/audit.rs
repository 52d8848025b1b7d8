//! `audit [NAME] [--follow]`: the requests sessions made through the credential proxy.

use crate::cli::AuditArgs;
use crate::output::{AuditTable, Style, emit, emit_json, emit_open};
use anyhow::Context;
use clauderon_client::Client;
use clauderon_types::api::AuditList;
use clauderon_types::audit::AuditEntry;
use std::time::Duration;

/// How often `--follow` asks for new requests.
const POLL_EVERY: Duration = Duration::from_secs(1);
/// `--follow` fetches new requests this many at a time; a full page is followed at once by the next.
const FOLLOW_PAGE: usize = 1000;

pub async fn run(client: &Client, args: AuditArgs, style: Style) -> anyhow::Result<()> {
    let audit = Audit { client, name: args.name.as_deref() };
    let limit = args.limit.map(usize::from);
    if args.follow {
        return follow(&audit, limit, args.out.json, style).await;
    }
    let list = audit.fetch(None, limit).await?;
    if args.out.json {
        return emit_json(&list);
    }
    emit(&AuditTable::fitted(style, audit.name.is_none(), &list.requests).render(&list.requests))
}

/// One session's audit, or every session's.
struct Audit<'a> {
    client: &'a Client,
    name: Option<&'a str>,
}

impl Audit<'_> {
    async fn fetch(&self, after: Option<i64>, limit: Option<usize>) -> anyhow::Result<AuditList> {
        Ok(match self.name {
            Some(name) => self.client.session_requests(name, after, limit).await?,
            None => self.client.requests(None, after, limit).await?,
        })
    }
}

/// The latest requests, then every new one as it is recorded, until Ctrl-C (a success) or
/// until stdout is closed. Text rows line up under one header; `--json` is one object a line.
async fn follow(audit: &Audit<'_>, limit: Option<usize>, json: bool, style: Style) -> anyhow::Result<()> {
    // Listening from here on, so that a Ctrl-C during the first request also ends cleanly.
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("listening for Ctrl-C")?;
    let printing = async {
        let mut batch = audit.fetch(None, limit).await?.requests;
        let table = AuditTable::streaming(style, audit.name.is_none(), &batch);
        if !json && !emit_open(&table.header())? {
            return Ok(());
        }
        let mut last_id = 0;
        loop {
            if let Some(last) = batch.last() {
                last_id = last.id;
                if !emit_open(&lines(&batch, &table, json)?)? {
                    return Ok(());
                }
            }
            if batch.len() < FOLLOW_PAGE {
                tokio::time::sleep(POLL_EVERY).await;
            }
            batch = audit.fetch(Some(last_id), Some(FOLLOW_PAGE)).await?.requests;
        }
    };
    tokio::select! {
        done = printing => done,
        _ = interrupt.recv() => Ok(()),
    }
}

fn lines(batch: &[AuditEntry], table: &AuditTable, json: bool) -> anyhow::Result<String> {
    let lines: Vec<String> = if json {
        batch.iter().map(serde_json::to_string).collect::<Result<_, _>>()?
    } else {
        batch.iter().map(|e| table.row(e)).collect()
    };
    Ok(lines.join("\n"))
}
