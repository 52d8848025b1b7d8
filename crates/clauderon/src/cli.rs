//! The command line, as clap definitions. Parsing only; commands live elsewhere.

use crate::daemon_cmd::DaemonArgs;
use clap::{Args, Parser, Subcommand, ValueEnum};
use clauderon_types::{AccessMode, AgentKind, BackendKind};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "clauderon",
    version,
    about = "Run AI coding agents in isolated sessions that never hold a real credential"
)]
pub struct Cli {
    /// Talk to the daemon over HTTP instead of its Unix socket (token from CLAUDERON_API_TOKEN).
    #[arg(long, global = true, env = "CLAUDERON_URL")]
    pub url: Option<String>,
    /// When to use colours.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: HTTP API on 127.0.0.1:3030, the Unix socket, the session manager.
    Daemon(DaemonArgs),
    /// Create a session: a branch and worktree of the repository, and an agent working in it.
    Create(CreateArgs),
    /// List sessions (not archived ones unless asked).
    #[command(alias = "ls")]
    List(ListArgs),
    /// Show one session: every field, its worktree's disk use, its recent events.
    Show(NameArgs),
    /// Hide a session from the default list; it keeps its worktree.
    Archive(NameArgs),
    /// Bring an archived session back to the list.
    Unarchive(NameArgs),
    /// Delete a session: its backend resource and its worktree. The branch is kept.
    #[command(alias = "rm")]
    Delete(DeleteArgs),
    /// Switch a session between read-only and read-write, effective at once.
    SetAccessMode(SetAccessModeArgs),
    /// The configuration: where it is, what is in effect, a commented example.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Check this machine: git, docker, zellij, bubblewrap, the data dir, the daemon.
    Doctor(JsonFlag),
    /// Print a shell completion script, e.g. `clauderon completions bash > /etc/bash_completion.d/clauderon`.
    Completions { shell: clap_complete::Shell },
    /// Print the versions of this CLI and of the running daemon.
    Version(JsonFlag),
}

#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

fn parse_backend(s: &str) -> Result<BackendKind, String> {
    s.parse().map_err(|e: clauderon_types::ParseKindError| e.to_string())
}
fn parse_agent(s: &str) -> Result<AgentKind, String> {
    s.parse().map_err(|e: clauderon_types::ParseKindError| e.to_string())
}
fn parse_mode(s: &str) -> Result<AccessMode, String> {
    s.parse().map_err(|e: clauderon_types::ParseKindError| e.to_string())
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The repository (or a folder inside it).
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// The agent's first prompt.
    #[arg(long)]
    pub prompt: String,
    /// Session name: letters, digits and dashes [default: generated].
    #[arg(long)]
    pub name: Option<String>,
    /// Where the session runs: zellij, docker, kubernetes, sprites, apple-container [default: config, or the only one available].
    #[arg(long, value_parser = parse_backend)]
    pub backend: Option<BackendKind>,
    /// The agent: claude, codex, gemini [default: config, else claude].
    #[arg(long, value_parser = parse_agent)]
    pub agent: Option<AgentKind>,
    /// read-only or read-write [default: config, else read-only].
    #[arg(long, value_parser = parse_mode)]
    pub access_mode: Option<AccessMode>,
    /// Start the session's branch from this ref instead of the repository's HEAD.
    #[arg(long)]
    pub base: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only archived sessions.
    #[arg(long, conflicts_with = "all")]
    pub archived: bool,
    /// Every session, archived or not.
    #[arg(long)]
    pub all: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct NameArgs {
    pub name: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    pub name: String,
    /// Delete even with uncommitted work in the worktree (it is lost).
    #[arg(long)]
    pub force: bool,
    /// Also delete the session's branch.
    #[arg(long)]
    pub delete_branch: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SetAccessModeArgs {
    pub name: String,
    /// read-only or read-write.
    #[arg(value_parser = parse_mode)]
    pub mode: AccessMode,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the config file's path.
    Path,
    /// Print the settings in effect (defaults, file, environment), secrets hidden.
    Show,
    /// Print a commented example config.
    Example,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn create_parses_kinds_and_lists_choices_on_error() {
        let cli = Cli::try_parse_from([
            "clauderon",
            "create",
            "--prompt",
            "hi",
            "--agent",
            "codex",
            "--access-mode",
            "read-write",
        ])
        .unwrap();
        let Command::Create(args) = cli.command else { panic!("not create") };
        assert_eq!(args.agent, Some(AgentKind::Codex));
        assert_eq!(args.access_mode, Some(AccessMode::ReadWrite));
        let err = Cli::try_parse_from(["clauderon", "create", "--prompt", "x", "--backend", "podman"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected one of zellij, docker"), "{err}");
    }

    #[test]
    fn list_flags_conflict() {
        assert!(Cli::try_parse_from(["clauderon", "list", "--archived", "--all"]).is_err());
    }
}
