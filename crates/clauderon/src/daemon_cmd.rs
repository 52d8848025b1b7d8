//! `clauderon daemon`: load the config, set up logging, launch, and stop
//! gracefully on Ctrl-C or SIGTERM.

use anyhow::Context;
use clauderon_core::Config;
use clauderon_core::config::{EnvLayer, FlagLayer};
use clauderon_daemon::{LaunchOptions, launch};
use clauderon_types::DataLayout;
use std::net::SocketAddr;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Debug, Clone, clap::Args)]
pub struct DaemonArgs {
    /// Address of the HTTP API and web UI [default: 127.0.0.1:3030; config `daemon.bind`; env CLAUDERON_BIND].
    /// Any non-loopback address requires an API token.
    #[arg(long)]
    pub bind: Option<SocketAddr>,
    /// Address of the credential proxy sessions use [default: 127.0.0.1:3128; config `proxy.bind`; env CLAUDERON_PROXY_BIND].
    #[arg(long)]
    pub proxy_bind: Option<SocketAddr>,
    /// Log filter, e.g. `debug` or `clauderon_core=trace` [config `daemon.log`; env CLAUDERON_LOG].
    #[arg(long)]
    pub log: Option<String>,
}

/// Log to stderr and to a daily file in the data dir. The guard flushes the file on drop.
fn init_logging(
    layout: &DataLayout,
    filter: &str,
) -> anyhow::Result<tracing_appender::non_blocking::WorkerGuard> {
    let filter = EnvFilter::try_new(filter).with_context(|| format!("invalid log filter `{filter}`"))?;
    std::fs::create_dir_all(layout.logs())
        .with_context(|| format!("creating {}", layout.logs().display()))?;
    let file = tracing_appender::rolling::daily(layout.logs(), "daemon.log");
    let (file, guard) = tracing_appender::non_blocking(file);
    tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(tracing_subscriber::fmt::layer().with_ansi(false).with_writer(file))
        .try_init()
        .context("setting up logging")?;
    Ok(guard)
}

async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
}

pub async fn run(args: DaemonArgs) -> anyhow::Result<()> {
    let layout = DataLayout::from_env().context("cannot find a data dir: set HOME or CLAUDERON_HOME")?;
    let flags = FlagLayer { bind: args.bind, proxy_bind: args.proxy_bind, log: args.log };
    let config = Config::load_layers(&layout, &EnvLayer::from_process(), &flags)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    std::fs::create_dir_all(layout.root())
        .with_context(|| format!("creating {}", layout.root().display()))?;
    let _log_guard = init_logging(&layout, &config.daemon.log_filter)?;

    // Real backends register here as they land (Docker, Zellij…).
    let mut options = LaunchOptions::new(layout.clone(), config);
    crate::docker_setup::register(&mut options, &layout).await;
    crate::zellij_setup::register(&mut options, &layout);
    crate::apple_setup::register(&mut options, &layout);
    crate::kubernetes_setup::register(&mut options, &layout);
    crate::sprites_setup::register(&mut options, &layout);
    let daemon = launch(options).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    eprintln!(
        "clauderon daemon {} listening on http://{} (API token required: `clauderon config api-token`) and {}",
        clauderon_types::VERSION,
        daemon.http_addr,
        daemon.socket.display()
    );
    for line in &daemon.reconcile.fixed {
        eprintln!("reconciled: {line}");
    }
    for orphan in &daemon.reconcile.orphans {
        eprintln!("found a {} resource without a session (left alone): {}", orphan.backend, orphan.handle);
    }
    stop_signal().await;
    tracing::info!("shutting down: finishing in-flight requests");
    daemon.stop().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}
