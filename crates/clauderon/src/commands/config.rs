//! `config path|show|example` over `clauderon_core::config` (the daemon's own loader),
//! `config ca-cert` from the daemon, or from its data dir when it is not running, and
//! `config api-token`, the token the local daemon requires over TCP.

use crate::cli::ConfigCommand;
use crate::output::{emit, emit_raw};
use anyhow::Context;
use clauderon_client::{Client, ClientError, Endpoint};
use clauderon_core::Config;
use clauderon_core::config::EXAMPLE_CONFIG;
use clauderon_types::DataLayout;
use std::path::PathBuf;

/// `client` is called only by the command that talks to the daemon.
pub async fn run(
    layout: &DataLayout,
    command: ConfigCommand,
    client: impl FnOnce() -> anyhow::Result<Client>,
) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Path => emit(&layout.config_file().display().to_string()),
        ConfigCommand::Example => emit(EXAMPLE_CONFIG.trim_end()),
        ConfigCommand::Show => emit(Config::load(layout)?.to_toml_string().trim_end()),
        ConfigCommand::CaCert => ca_cert(layout, &client()?).await,
        ConfigCommand::ApiToken => match local_api_token(layout)? {
            Some(token) => emit(token.expose()),
            None => anyhow::bail!(
                "no API token yet: the daemon writes {} when it first starts (`clauderon daemon`)",
                layout.api_token().display()
            ),
        },
    }
}

/// The token the daemon of `layout` requires over TCP: the configured one (the daemon's own
/// loader, so CLAUDERON_API_TOKEN and daemon.api_token_file count), else the one it generated.
pub fn local_api_token(layout: &DataLayout) -> anyhow::Result<Option<clauderon_core::config::ApiToken>> {
    let config = Config::load(layout)?;
    Ok(config.api_token_for_local_client(layout)?)
}

/// The daemon's CA certificate. When the daemon behind the data dir's socket is not running,
/// the file it wrote there: the same certificate. Not for `--url`: a daemon elsewhere has its
/// own CA, and a local file would be the wrong one.
async fn ca_cert(layout: &DataLayout, client: &Client) -> anyhow::Result<()> {
    let pem = match client.ca_pem().await {
        Ok(pem) => pem,
        Err(e @ ClientError::DaemonNotRunning { .. }) if matches!(client.endpoint(), Endpoint::Unix(_)) => {
            let file = ca_file(layout);
            if !file.exists() {
                return Err(e.into());
            }
            std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?
        }
        Err(e) => return Err(e.into()),
    };
    emit_raw(&pem)
}

/// Where the daemon keeps its CA certificate (`launch` writes `<data dir>/ca/ca.pem`).
fn ca_file(layout: &DataLayout) -> PathBuf {
    layout.root().join("ca").join("ca.pem")
}
