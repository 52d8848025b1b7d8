//! `credentials`: what the proxy can inject and where each value comes from. The daemon's API
//! has names and sources only, so no value can be printed here.

use crate::output::{Style, emit, emit_json};
use clauderon_client::Client;

pub async fn run(client: &Client, json: bool, style: Style) -> anyhow::Result<()> {
    let list = client.credentials().await?;
    if json {
        return emit_json(&list);
    }
    emit(&style.credentials_table(&list.credentials))
}
