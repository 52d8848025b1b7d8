//! `clauderon`: the daemon and the commands that talk to it.

mod cli;
mod commands;
mod daemon_cmd;
mod doctor;
mod output;

use clap::{CommandFactory, Parser};
use clauderon_client::{Client, Endpoint};
use clauderon_types::DataLayout;
use cli::{Cli, Command};
use output::Style;
use std::process::ExitCode;

fn client_for(cli_url: Option<&str>, layout: &DataLayout) -> anyhow::Result<Client> {
    Ok(match cli_url {
        Some(url) => Client::new(Endpoint::from_url(url, std::env::var("CLAUDERON_API_TOKEN").ok())?),
        None => Client::new(Endpoint::Unix(layout.socket())),
    })
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let layout = DataLayout::from_env()
        .ok_or_else(|| anyhow::anyhow!("cannot find a data dir: set HOME or CLAUDERON_HOME"))?;
    let style = Style::detect(cli.color);
    let client = client_for(cli.url.as_deref(), &layout)?;
    match cli.command {
        Command::Daemon(args) => daemon_cmd::run(args).await?,
        Command::Create(args) => commands::create(&client, args).await?,
        Command::List(args) => commands::list(&client, args, style).await?,
        Command::Show(args) => commands::show(&client, args, style).await?,
        Command::Archive(args) => commands::archive(&client, args, true).await?,
        Command::Unarchive(args) => commands::archive(&client, args, false).await?,
        Command::Delete(args) => commands::delete(&client, args).await?,
        Command::SetAccessMode(args) => commands::set_access_mode(&client, args).await?,
        Command::Config { command } => commands::config(&layout, command)?,
        Command::Version(flag) => commands::version(&client, flag.json).await?,
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "clauderon", &mut std::io::stdout());
        }
        Command::Doctor(flag) => {
            let checks = doctor::run_all(&layout, &client).await;
            if flag.json {
                println!("{}", serde_json::to_string_pretty(&checks)?);
            } else {
                println!("{}", doctor::render(&checks, style.color));
            }
            if doctor::failed(&checks) {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            // One line: what happened and what to do. The chain adds context only when it says more.
            let mut line = e.to_string();
            for cause in e.chain().skip(1) {
                let cause = cause.to_string();
                if !line.contains(&cause) {
                    line.push_str(": ");
                    line.push_str(&cause);
                }
            }
            eprintln!("error: {line}");
            ExitCode::FAILURE
        }
    }
}
