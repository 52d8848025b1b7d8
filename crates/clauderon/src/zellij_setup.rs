//! The zellij backend in the shipped daemon: its settings from `[zellij]`, and the sandbox relay
//! that this same binary runs inside `full` sandboxes (`clauderon sandbox-relay …`, hidden: only
//! the backend's launch scripts call it).

use clauderon_daemon::LaunchOptions;
use clauderon_types::DataLayout;
use clauderon_zellij::{ZellijBackend, ZellijSettings};
use std::process::ExitCode;
use std::sync::Arc;

/// The hidden subcommand, recognised before the command line is parsed.
pub const RELAY_SUBCOMMAND: &str = "sandbox-relay";

/// Add the zellij backend. It registers even without zellij installed: creating a session then
/// says what to install.
pub fn register(options: &mut LaunchOptions, layout: &DataLayout) {
    let relay = match std::env::current_exe() {
        Ok(exe) => vec![exe.to_string_lossy().into_owned(), RELAY_SUBCOMMAND.to_string()],
        Err(e) => {
            tracing::warn!(
                "cannot find this program's path ({e}): zellij sessions cannot use --sandbox full"
            );
            Vec::new()
        }
    };
    let mut settings = ZellijSettings::new(layout, relay, |k| std::env::var(k).ok());
    let config = &options.config.zellij;
    if let Some(program) = &config.program {
        settings.program = program.clone();
    }
    settings.default_sandbox = config.sandbox;
    settings.hidden.extend(config.hide.iter().cloned());
    settings.exposed.extend(config.expose.iter().cloned());
    match ZellijBackend::new(settings) {
        Ok(backend) => options.backends.push(Arc::new(backend)),
        Err(e) => tracing::warn!("the zellij backend is off: {e}"),
    }
}

/// `clauderon sandbox-relay ARGS`: runs inside the sandbox (see `clauderon_zellij::relay`).
pub fn relay_main() -> ExitCode {
    let mut args = std::env::args();
    let me = args.next().unwrap_or_default();
    let me = std::env::current_exe().map(|p| p.to_string_lossy().into_owned()).unwrap_or(me);
    let rest: Vec<String> = args.skip(1).collect();
    let result = clauderon_zellij::relay::parse(&rest)
        .and_then(|a| clauderon_zellij::relay::run(a, &[me, RELAY_SUBCOMMAND.to_string()]));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(70)
        }
    }
}
