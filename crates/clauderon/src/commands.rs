//! The subcommands, dispatched. The ones about sessions and the proxy talk to the daemon
//! through the typed client; `config`, `completions` and most of `doctor` work without it.

mod audit;
mod config;
mod credentials;
mod hooks;
mod send;
mod sessions;
mod version;

use crate::cli::{Cli, Command};
use crate::output::{Style, emit, emit_json};
use crate::{daemon_cmd, doctor};
use anyhow::Context;
use clap::CommandFactory;
use clauderon_client::{Client, Endpoint};
use clauderon_types::DataLayout;
use std::process::ExitCode;

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let style = Style::detect(cli.color);
    let url = cli.url.as_deref();
    match cli.command {
        Command::Daemon(args) => daemon_cmd::run(args).await?,
        Command::Create(args) => sessions::create(&client(url)?, args).await?,
        Command::List(args) => sessions::list(&client(url)?, args, style).await?,
        Command::Show(args) => sessions::show(&client(url)?, args, style).await?,
        Command::Diff(args) => sessions::diff(&client(url)?, args, style).await?,
        Command::Commit(args) => sessions::commit(&client(url)?, args).await?,
        Command::Push(args) => sessions::push(&client(url)?, args).await?,
        Command::Pr(args) => sessions::pr(&client(url)?, args).await?,
        Command::Archive(args) => sessions::archive(&client(url)?, args, true).await?,
        Command::Unarchive(args) => sessions::archive(&client(url)?, args, false).await?,
        Command::Stop(args) => sessions::run(&client(url)?, args, false).await?,
        Command::Start(args) => sessions::run(&client(url)?, args, true).await?,
        Command::Delete(args) => sessions::delete(&client(url)?, args).await?,
        Command::SetAccessMode(args) => sessions::set_access_mode(&client(url)?, args).await?,
        Command::AllowHost(args) => sessions::allow_host(&client(url)?, args).await?,
        Command::SetBudget(args) => sessions::set_budget(&client(url)?, args).await?,
        Command::Audit(args) => audit::run(&client(url)?, args, style).await?,
        Command::Credentials(flag) => credentials::run(&client(url)?, flag.json, style).await?,
        Command::Hooks { command } => hooks::run(&client(url)?, command).await?,
        Command::Config { command } => config::run(&layout()?, command, || client(url)).await?,
        Command::Version(flag) => version::run(&client(url)?, flag.json).await?,
        Command::Image { command } => crate::image_cmd::run(&layout()?, command).await?,
        Command::Attach(args) => return crate::attach_cmd::attach(&client(url)?, args).await,
        Command::Logs(args) => return crate::attach_cmd::logs(&client(url)?, args).await,
        Command::Env(args) => return crate::attach_cmd::env(&client(url)?, args).await,
        Command::Send(args) => send::run(&client(url)?, args).await?,
        Command::Tui => tui(client(url)?, style, url).await?,
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "clauderon", &mut script);
            emit(String::from_utf8_lossy(&script).trim_end())?;
        }
        Command::Doctor(flag) => {
            let report = doctor::run_all(DataLayout::from_env().as_ref(), client(url)).await;
            if flag.json {
                emit_json(&report)?;
            } else {
                emit(&doctor::render(&report.checks, style.color))?;
            }
            if report.failed {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `clauderon tui`: attach hands the screen to this same binary's `attach`, pointed at the
/// same daemon.
async fn tui(client: Client, style: Style, url: Option<&str>) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        anyhow::bail!(
            "`clauderon tui` needs a terminal: run it in one (scripts can use `clauderon list --json`)"
        );
    }
    let program = std::env::current_exe().context("finding this program, to run `attach` from the TUI")?;
    let mut attach_args = Vec::new();
    if let Some(url) = url.filter(|u| !u.is_empty()) {
        attach_args.extend(["--url".to_string(), url.to_string()]);
    }
    attach_args.push("attach".to_string());
    let opts = clauderon_tui::Options { client, color: style.color, attach_program: program, attach_args };
    clauderon_tui::run(opts).await.context("running the TUI")
}

/// The data dir: CLAUDERON_HOME, else ~/.clauderon.
fn layout() -> anyhow::Result<DataLayout> {
    DataLayout::from_env().context("cannot find the data dir: set CLAUDERON_HOME or HOME")
}

/// The daemon at `--url` (CLAUDERON_URL), else the socket in the data dir. Over HTTP the token
/// is CLAUDERON_API_TOKEN, else, for a loopback URL only, the one the local daemon uses (its
/// configured token or the data dir's `api-token`): this machine's token is never sent to a
/// daemon elsewhere.
fn client(url: Option<&str>) -> anyhow::Result<Client> {
    let endpoint = match url.filter(|u| !u.is_empty()) {
        Some(url) => {
            let env_token = std::env::var("CLAUDERON_API_TOKEN").ok().filter(|t| !t.is_empty());
            let endpoint = Endpoint::from_url(url, env_token.clone())?;
            if env_token.is_none() && endpoint.is_loopback() {
                endpoint.with_token(config::local_api_token(&layout()?)?)
            } else {
                endpoint
            }
        }
        None => Endpoint::Unix(layout()?.socket()),
    };
    Ok(Client::new(endpoint))
}
