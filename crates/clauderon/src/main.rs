//! `clauderon`: the daemon and the commands that talk to it.

mod apple_setup;
mod attach_cmd;
mod cli;
mod commands;
mod daemon_cmd;
mod docker_setup;
mod doctor;
mod image_cmd;
mod kubernetes_setup;
mod output;
mod report;
mod sprites_setup;
mod zellij_setup;

use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some(zellij_setup::RELAY_SUBCOMMAND) {
        return zellij_setup::relay_main();
    }
    // Usage errors are clap's: its message, the usage line, exit code 2.
    let cli = cli::Cli::parse();
    match commands::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}", report::error_line(&e));
            ExitCode::FAILURE
        }
    }
}
