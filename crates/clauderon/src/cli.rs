//! The command line, as clap definitions. Parsing only; the commands live in `commands/`.

use crate::daemon_cmd::DaemonArgs;
use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use clauderon_types::{AccessMode, AgentKind, BackendKind, NetworkMode, ParseKindError, SandboxLevel};
use std::ffi::OsStr;
use std::path::PathBuf;
use std::str::FromStr;

#[derive(Debug, Parser)]
#[command(
    name = "clauderon",
    version,
    about = "Run AI coding agents in isolated sessions that never hold a real credential"
)]
pub struct Cli {
    /// Talk to the daemon over HTTP, e.g. http://127.0.0.1:3030, instead of its Unix socket.
    /// Every TCP request carries the API token: CLAUDERON_API_TOKEN, else for a loopback URL
    /// the local daemon's (`clauderon config api-token`).
    #[arg(long, global = true, env = "CLAUDERON_URL", value_name = "URL", help_heading = "Global options")]
    pub url: Option<String>,
    /// When to use colours [NO_COLOR turns them off in auto].
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, help_heading = "Global options")]
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

/// Every subcommand. `attach`, `env`, `logs` and `tui` join when they can do their job.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: HTTP API on 127.0.0.1:3030, the Unix socket, the session manager.
    Daemon(DaemonArgs),
    /// Create a session: a branch and worktree of the repository, and an agent working in it.
    Create(CreateArgs),
    /// List sessions (archived ones only when asked).
    #[command(alias = "ls")]
    List(ListArgs),
    /// Show one session: every field, its worktree's disk use, its recent events.
    Show(ShowArgs),
    /// A session's work against its base: committed and uncommitted, untracked files included.
    Diff(DiffArgs),
    /// Commit the agent's uncommitted work on the session's branch (as you, without hooks).
    Commit(CommitArgs),
    /// Push a session's branch to its repository's origin, through clauderon's proxy: the token
    /// is put on the request there, never given to git. Read-only sessions too.
    Push(PushArgs),
    /// Push a session's branch and open a pull request for it on GitHub (through the proxy);
    /// `--refresh` reads its state, review and checks again.
    Pr(PrArgs),
    /// Hide a session from the default list; it keeps its worktree.
    Archive(NameArgs),
    /// Bring an archived session back to the list.
    Unarchive(NameArgs),
    /// Stop a session's process; its worktree and HOME stay, `start` runs it again.
    Stop(NameArgs),
    /// Start a stopped session again: its agent resumes its conversation.
    Start(NameArgs),
    /// Delete a session: its backend resource and its worktree. The branch is kept.
    #[command(alias = "rm")]
    Delete(DeleteArgs),
    /// Switch a session between read-only and read-write, effective at once.
    SetAccessMode(SetAccessModeArgs),
    /// Let a session reach one more host through the proxy, from its next request.
    AllowHost(AllowHostArgs),
    /// Set a session's model budget (tokens and/or dollars); once reached, model calls are refused.
    SetBudget(SetBudgetArgs),
    /// The requests sessions made through the credential proxy: what was injected, forwarded, denied.
    Audit(AuditArgs),
    /// The credentials the proxy can inject and where each comes from. Never their values.
    Credentials(JsonFlag),
    /// The configured hooks (`[[hooks]]` in the config): their delivery log, or a test of one.
    Hooks {
        #[command(subcommand)]
        command: HooksCommand,
    },
    /// The configuration: where it is, what is in effect, a commented example, the CA certificate.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Check this machine: git, docker, zellij, bubblewrap, the data dir, the daemon.
    Doctor(JsonFlag),
    /// Print a shell completion script, e.g. `clauderon completions bash > ~/.local/share/bash-completion/completions/clauderon`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the versions of this CLI and of the running daemon.
    Version(JsonFlag),
    /// Attach a terminal to a session's process through the daemon (Ctrl-Q detaches).
    Attach(crate::attach_cmd::AttachArgs),
    /// Print a session's output; --follow keeps printing it.
    Logs(crate::attach_cmd::LogsArgs),
    /// Print a session's environment as its process got it (the proxy password masked).
    Env(crate::attach_cmd::EnvArgs),
    /// Type a follow-up prompt into a session's agent, then Enter.
    Send(SendArgs),
    /// Every session on one screen, live; keys to create, attach, send, stop, delete (? for help).
    Tui,
    /// clauderon's agent image for Docker sessions.
    Image {
        #[command(subcommand)]
        command: crate::image_cmd::ImageCommand,
    },
}

#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Print JSON (the API's own, where there is one) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The repository, or a folder inside it.
    #[arg(long, value_name = "PATH", default_value = ".")]
    pub repo: PathBuf,
    /// The agent's first prompt (optional with --command).
    #[arg(long, value_name = "TEXT", required_unless_present = "command")]
    pub prompt: Option<String>,
    /// Run this shell command in the session instead of the agent (`sh -c`), e.g. a shell.
    #[arg(long, value_name = "SHELL COMMAND")]
    pub command: Option<String>,
    /// The agent's model, e.g. claude-sonnet-4-5 [default: the agent's own].
    #[arg(long)]
    pub model: Option<String>,
    /// Container image (docker) [default: clauderon's agent image, built on first use].
    #[arg(long, help_heading = "Backend")]
    pub image: Option<String>,
    /// Container network (docker): `locked` leaves the proxy as the only reachable address, `open` the Docker bridge [default: locked with clauderon's image, open with --image].
    #[arg(long, help_heading = "Backend", value_parser = KindParser::<NetworkMode>::new())]
    pub network: Option<NetworkMode>,
    /// Host sandbox (zellij) [default: full where bubblewrap works, else off].
    #[arg(long, help_heading = "Backend", value_parser = KindParser::<SandboxLevel>::new())]
    pub sandbox: Option<SandboxLevel>,
    /// CPU limit in cores, e.g. 2 or 1.5 (docker).
    #[arg(long, help_heading = "Backend", value_parser = clauderon_types::options::parse_cpus)]
    pub cpus: Option<u32>,
    /// Memory limit, e.g. 512m or 4g (docker).
    #[arg(long, help_heading = "Backend", value_parser = clauderon_types::options::parse_memory)]
    pub memory: Option<u64>,
    /// Let the session reach this host too (repeatable); `*.example.com` for its subdomains.
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_hosts: Vec<String>,
    /// Model budget in tokens (input, output and cached): model calls are refused once it is reached.
    #[arg(long, value_name = "N")]
    pub budget_tokens: Option<u64>,
    /// Model budget in dollars, e.g. 5 or 2.50.
    #[arg(long, value_name = "DOLLARS", value_parser = parse_usd_cents)]
    pub budget_usd: Option<u64>,
    /// Session name: letters, digits and dashes [default: generated].
    #[arg(long)]
    pub name: Option<String>,
    /// Where the session runs [default: config, else the only backend the daemon has].
    #[arg(long, value_parser = KindParser::<BackendKind>::new())]
    pub backend: Option<BackendKind>,
    /// The coding agent [default: config, else claude].
    #[arg(long, value_parser = KindParser::<AgentKind>::new())]
    pub agent: Option<AgentKind>,
    /// What the session may do with credentials [default: config, else read-only].
    #[arg(long, value_parser = KindParser::<AccessMode>::new())]
    pub access_mode: Option<AccessMode>,
    /// Start the session's branch from this ref instead of the repository's HEAD.
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
    #[command(flatten)]
    pub out: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only archived sessions.
    #[arg(long, conflicts_with = "all")]
    pub archived: bool,
    /// Every session, archived or not.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub out: JsonFlag,
}

#[derive(Debug, Args)]
pub struct NameArgs {
    /// The session's name.
    pub name: String,
    #[command(flatten)]
    pub out: JsonFlag,
}

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// The session's name.
    pub name: String,
    /// The commit message.
    #[arg(short, long)]
    pub message: String,
    #[command(flatten)]
    pub out: JsonFlag,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The session's name.
    pub name: String,
    /// Overwrite the remote branch even when it has commits the session's branch does not.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub out: JsonFlag,
}

#[derive(Debug, Args)]
pub struct PrArgs {
    /// The session's name.
    pub name: String,
    /// Default: the first line of the session's prompt.
    #[arg(long)]
    pub title: Option<String>,
    /// Default: the session's prompt and its commits. `-` reads it from stdin.
    #[arg(long)]
    pub body: Option<String>,
    /// Open it as a draft.
    #[arg(long)]
    pub draft: bool,
    /// The branch to merge into. Default: the repository's default branch.
    #[arg(long)]
    pub base: Option<String>,
    /// Only read the session's pull request again (state, review, checks).
    #[arg(long, conflicts_with_all = ["title", "body", "draft", "base"])]
    pub refresh: bool,
    #[command(flatten)]
    pub out: JsonFlag,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The session's name.
    pub name: String,
    /// Files with their +/- counts instead of the patch.
    #[arg(long, conflicts_with = "name_only")]
    pub stat: bool,
    /// Only the changed files' paths.
    #[arg(long)]
    pub name_only: bool,
    #[command(flatten)]
    pub out: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The session's name.
    pub name: String,
    /// Print the agent's conversation instead of the session's detail.
    #[arg(long)]
    pub messages: bool,
    /// With --messages: only the messages after this cursor (the `next` an earlier page printed).
    #[arg(long, requires = "messages")]
    pub after: Option<usize>,
    /// With --messages: at most this many messages (default 200, at most 1000).
    #[arg(long, requires = "messages")]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub out: JsonFlag,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The session's name.
    pub name: String,
    /// Delete even with uncommitted work in the worktree (it is lost).
    #[arg(long)]
    pub force: bool,
    /// Also delete the session's branch.
    #[arg(long)]
    pub delete_branch: bool,
    #[command(flatten)]
    pub out: JsonFlag,
}

#[derive(Debug, Args)]
pub struct SetAccessModeArgs {
    /// The session's name.
    pub name: String,
    /// The new access mode.
    #[arg(value_parser = KindParser::<AccessMode>::new())]
    pub mode: AccessMode,
    #[command(flatten)]
    pub out: JsonFlag,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// The session's name.
    pub name: String,
    /// What to type (line breaks, quotes and any Unicode arrive as they are). `-` or nothing
    /// reads it from standard input.
    pub text: Option<String>,
}

#[derive(Debug, Args)]
pub struct AllowHostArgs {
    /// The session's name.
    pub name: String,
    /// A host name, or `*.example.com` for its subdomains.
    pub host: String,
    #[command(flatten)]
    pub out: JsonFlag,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("bound").required(true).multiple(true).args(["tokens", "usd", "none"]))]
pub struct SetBudgetArgs {
    /// The session's name.
    pub name: String,
    /// Most tokens (input, output and cached, every model) the session may use.
    #[arg(long, value_name = "N")]
    pub tokens: Option<u64>,
    /// Most dollars the session may spend, e.g. 5 or 2.50 (priced with the config's price table).
    #[arg(long, value_name = "DOLLARS", value_parser = parse_usd_cents)]
    pub usd: Option<u64>,
    /// Remove the budget.
    #[arg(long, conflicts_with_all = ["tokens", "usd"])]
    pub none: bool,
    #[command(flatten)]
    pub out: JsonFlag,
}

/// `2.50` dollars -> 250 cents.
pub fn parse_usd_cents(text: &str) -> Result<u64, String> {
    let dollars: f64 = text
        .trim()
        .trim_start_matches('$')
        .parse()
        .map_err(|_| format!("`{text}` is not an amount: give dollars such as 5 or 2.50"))?;
    if !(dollars.is_finite() && (0.0..1e9).contains(&dollars)) {
        return Err(format!("`{text}` is not an amount: give dollars such as 5 or 2.50"));
    }
    Ok((dollars * 100.0).round() as u64)
}

#[derive(Debug, Subcommand)]
pub enum HooksCommand {
    /// Every hook run and webhook delivery: time, hook, event, session, outcome, status, attempts.
    Log {
        /// Keep printing new deliveries as they come, until Ctrl-C.
        #[arg(long, short)]
        follow: bool,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Fire a sample event (a session starting to wait for input) at one hook, now.
    Test {
        /// The hook's name.
        name: String,
        #[command(flatten)]
        out: JsonFlag,
    },
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this session's requests [default: every session's].
    pub name: Option<String>,
    /// Keep printing new requests as they come, until Ctrl-C. With --json, one JSON object a line.
    #[arg(long, short)]
    pub follow: bool,
    /// How many of the latest requests to show [default: 100].
    #[arg(long, short = 'n', value_name = "N", value_parser = clap::value_parser!(u16).range(1..=10_000))]
    pub limit: Option<u16>,
    #[command(flatten)]
    pub out: JsonFlag,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the config file's path.
    Path,
    /// Print the settings in effect (defaults < file < environment), secrets hidden.
    Show,
    /// Print a commented example config.
    Example,
    /// Print clauderon's CA certificate (PEM), for a client that should trust the proxy.
    CaCert,
    /// Print the API token the local daemon requires on TCP (for CLAUDERON_API_TOKEN elsewhere).
    ApiToken,
}

/// The kinds from `clauderon-types`, as clap sees them.
pub trait Kind: FromStr<Err = ParseKindError> + Copy + PartialEq + Send + Sync + 'static {
    const ALL: &'static [Self];
    fn name(self) -> &'static str;
}

impl Kind for BackendKind {
    const ALL: &'static [Self] = BackendKind::ALL;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Kind for AgentKind {
    const ALL: &'static [Self] = AgentKind::ALL;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Kind for AccessMode {
    const ALL: &'static [Self] = AccessMode::ALL;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Kind for NetworkMode {
    const ALL: &'static [Self] = NetworkMode::ALL;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Kind for SandboxLevel {
    const ALL: &'static [Self] = SandboxLevel::ALL;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

/// Parses a kind with its own `FromStr` and offers its names to help and completions.
#[derive(Debug, Clone, Copy)]
pub struct KindParser<K>(std::marker::PhantomData<K>);

impl<K: Kind> KindParser<K> {
    pub fn new() -> Self {
        KindParser(std::marker::PhantomData)
    }
}

impl<K: Kind> TypedValueParser for KindParser<K> {
    type Value = K;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<K, clap::Error> {
        // A closure parser, so the error reads like clap's own: "invalid value 'x' for '--y': …".
        let parse = |text: &str| {
            text.parse::<K>().map_err(|e| {
                let choices: Vec<&str> = K::ALL.iter().map(|k| k.name()).collect();
                format!("unknown {} `{}`: expected one of {}", e.what, e.given, choices.join(", "))
            })
        };
        parse.parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(K::ALL.iter().map(|k| PossibleValue::new(k.name()))))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, String> {
        let mut argv = vec!["clauderon"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).map_err(|e| e.to_string())
    }

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn create_parses_every_option() {
        let cli = parse(&[
            "create",
            "--repo",
            "src/app",
            "--prompt",
            "hi",
            "--name",
            "fix-it",
            "--backend",
            "docker",
            "--agent",
            "codex",
            "--access-mode",
            "read-write",
            "--base",
            "main",
            "--json",
        ])
        .unwrap();
        let Command::Create(args) = cli.command else { panic!("not create") };
        assert_eq!(args.repo, PathBuf::from("src/app"));
        assert_eq!(args.name.as_deref(), Some("fix-it"));
        assert_eq!(args.backend, Some(BackendKind::Docker));
        assert_eq!(args.agent, Some(AgentKind::Codex));
        assert_eq!(args.access_mode, Some(AccessMode::ReadWrite));
        assert_eq!(args.base.as_deref(), Some("main"));
        assert!(args.out.json);
        let Command::Create(args) = parse(&["create", "--prompt", "hi"]).unwrap().command else {
            panic!("not create")
        };
        assert_eq!((args.repo, args.backend), (PathBuf::from("."), None));
        assert!(parse(&["create", "--repo", "."]).unwrap_err().contains("--prompt"));
    }

    #[test]
    fn a_bad_kind_lists_the_choices() {
        let err = parse(&["create", "--prompt", "x", "--backend", "podman"]).unwrap_err();
        assert!(err.contains("unknown backend `podman`: expected one of zellij, docker"), "{err}");
        assert!(
            parse(&["create", "--prompt", "x", "--backend", "fake"]).is_err(),
            "no test backend in the CLI"
        );
        let err = parse(&["set-access-mode", "s", "write"]).unwrap_err();
        assert!(err.contains("expected one of read-only, read-write"), "{err}");
    }

    #[test]
    fn help_and_completions_offer_the_visible_kinds_only() {
        let mut cmd = Cli::command();
        let help = cmd.find_subcommand_mut("create").unwrap().render_long_help().to_string();
        assert!(help.contains("zellij") && help.contains("docker") && help.contains("gemini"), "{help}");
        assert!(
            help.contains("kubernetes") && help.contains("apple-container") && help.contains("sprites"),
            "{help}"
        );
        assert!(!help.contains("fake"), "{help}");
        let mut script = Vec::new();
        clap_complete::generate(clap_complete::Shell::Bash, &mut Cli::command(), "clauderon", &mut script);
        let script = String::from_utf8(script).unwrap();
        assert!(script.contains("zellij") && script.contains("sprites") && !script.contains("fake"));
    }

    #[test]
    fn list_views_and_global_flags() {
        assert!(parse(&["list", "--archived", "--all"]).is_err());
        let cli = parse(&["ls", "--all", "--json", "--color", "never", "--url", "http://h:1"]).unwrap();
        assert_eq!(cli.color, ColorChoice::Never);
        assert_eq!(cli.url.as_deref(), Some("http://h:1"));
        let Command::List(args) = cli.command else { panic!("not list") };
        assert!(args.all && !args.archived && args.out.json);
    }

    #[test]
    fn audit_takes_an_optional_name_and_a_bounded_limit() {
        let Command::Audit(args) = parse(&["audit"]).unwrap().command else { panic!("not audit") };
        assert!(args.name.is_none() && !args.follow && !args.out.json && args.limit.is_none());
        let Command::Audit(args) =
            parse(&["audit", "fix-it", "-f", "--json", "--limit", "10000"]).unwrap().command
        else {
            panic!("not audit")
        };
        assert_eq!((args.name.as_deref(), args.limit), (Some("fix-it"), Some(10_000)));
        assert!(args.follow && args.out.json);
        for bad in ["0", "10001", "-1", "many"] {
            assert!(parse(&["audit", "--limit", bad]).is_err(), "--limit {bad}");
        }
        assert!(matches!(
            parse(&["config", "ca-cert"]).unwrap().command,
            Command::Config { command: ConfigCommand::CaCert }
        ));
        assert!(
            matches!(parse(&["credentials", "--json"]).unwrap().command, Command::Credentials(f) if f.json)
        );
    }

    #[test]
    fn delete_flags_and_aliases() {
        let Command::Delete(args) = parse(&["rm", "s1", "--force", "--delete-branch"]).unwrap().command
        else {
            panic!("not delete")
        };
        assert!(args.force && args.delete_branch && !args.out.json);
        assert_eq!(args.name, "s1");
        assert!(parse(&["delete"]).is_err());
    }

    #[test]
    fn set_budget_needs_a_bound_and_reads_dollars_as_cents() {
        let Command::SetBudget(args) =
            parse(&["set-budget", "s1", "--usd", "2.50", "--tokens", "9000"]).unwrap().command
        else {
            panic!("not set-budget")
        };
        assert_eq!((args.usd, args.tokens, args.none), (Some(250), Some(9000), false));
        assert!(parse(&["set-budget", "s1"]).is_err(), "a budget command without a bound");
        assert!(parse(&["set-budget", "s1", "--none", "--usd", "1"]).is_err());
        assert!(parse(&["set-budget", "s1", "--usd", "lots"]).unwrap_err().to_string().contains("2.50"));
        let Command::AllowHost(args) = parse(&["allow-host", "s1", "*.example.com"]).unwrap().command else {
            panic!("not allow-host")
        };
        assert_eq!(args.host, "*.example.com");
    }
}
