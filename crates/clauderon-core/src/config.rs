//! Configuration, layered: built-in defaults < config file < environment < flags.
//!
//! Raw settings (all optional, as written by a user) are parsed once into a
//! validated [`Config`]; the rest of the code never re-validates.

use crate::error::CoreError;

pub mod hooks;
mod policy;
use crate::pricing::{PriceTable, RawPrice};
use clauderon_proxy::credentials::CredentialSource;
use clauderon_proxy::oauth::{DEFAULT_CLIENT_ID, DEFAULT_TOKEN_URL, OAuthSettings};
use clauderon_proxy::policy::PolicySettings;
use clauderon_proxy::rules::UserRuleConfig;
use clauderon_types::{AccessMode, AgentKind, BackendKind, DataLayout, SandboxLevel};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub const DEFAULT_BIND: &str = "127.0.0.1:3030";
pub const DEFAULT_PROXY_BIND: &str = "127.0.0.1:3128";

/// A commented example, printed by `clauderon config example`. Its values are the defaults.
pub const EXAMPLE_CONFIG: &str = r#"# clauderon configuration: <data dir>/config.toml (data dir: $CLAUDERON_HOME or ~/.clauderon).
# Precedence: built-in defaults < this file < environment variables < command-line flags.

[daemon]
# Address of the HTTP API and web UI. Env: CLAUDERON_BIND. Flag: clauderon daemon --bind.
# Any address that is not loopback requires a token you chose (below); the daemon refuses to start without one.
bind = "127.0.0.1:3030"
# Every request over TCP (loopback too) must send `Authorization: Bearer <token>`; only the Unix
# socket in the data dir needs none. Without this setting (or env CLAUDERON_API_TOKEN, which wins)
# the daemon generates a token at its first start into <data dir>/api-token (0600) and keeps it;
# `clauderon config api-token` prints it. The file set here must be mode 0600.
# api_token_file = "/home/me/.config/clauderon-api-token"
# Log filter (tracing EnvFilter syntax). Env: CLAUDERON_LOG.
log = "info"

[proxy]
# The credential proxy sessions send their traffic through. Env: CLAUDERON_PROXY_BIND. Flag: daemon --proxy-bind.
bind = "127.0.0.1:3128"
# Extra CA certificates (PEM files) to trust for upstream servers: a corporate gateway, a test server.
extra_ca_files = []

# Connect to another address for a host, keeping the host name for TLS checks (a regional gateway):
# [proxy.upstream_overrides]
# "api.anthropic.com" = "10.0.0.5:443"

# Your own injection rules, tried before the built-in ones:
# [[proxy.rules]]
# name = "corp-api"
# host = "*.corp.example"          # exact host, or *.domain for its subdomains
# header = "authorization"
# template = "Bearer {}"           # {} is where the credential goes
# credential = "corp_token"
# basic_auth_username = "x"        # optional: send Basic base64("x:<credential>") in the {}

# Where the daemon refreshes a Claude subscription login (see anthropic_oauth_token below).
# The defaults are what Claude Code itself uses.
[proxy.anthropic_oauth]
token_url = "https://platform.claude.com/v1/oauth/token"
client_id = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"

[credentials]
# Where a credential comes from, when not the defaults (the daemon's environment,
# e.g. ANTHROPIC_API_KEY, or a 0600 file <data dir>/secrets/<name>):
# github_token = "op://Private/GitHub/token"    # 1Password, read with `op read`
# corp_token = "env:CORP_TOKEN"
# openai_api_key = "file:/home/me/.config/openai-key"
# A Claude subscription login, in Claude Code's own file format (mode 0600). The daemon
# refreshes its access token before it expires and writes the new tokens back to the file;
# sessions never see either token. Without this line the daemon looks for
# <data dir>/secrets/anthropic_oauth.json (a copy of ~/.claude/.credentials.json).
# anthropic_oauth_token = "claude-credentials:/home/me/.claude/.credentials.json"

[policy]
# Egress: "allowlist" (sessions reach only the hosts below) or "open" (any host; credentials
# still go only to their own hosts). Either way, loopback, private and link-local addresses
# (and the daemon's own API and proxy, always) are walled off.
egress = "allowlist"
# The built-in list: model APIs, GitHub, the common package registries (`clauderon config show`
# lists them). Set to false to allow only what you list here and per session (--allow-host).
builtin_allow_hosts = true
# More hosts every session may reach; `*.example.com` for the subdomains of example.com. An exact
# IP such as "10.0.0.5" also opens the wall for that private address (sessions must use the IP).
allow_hosts = []
# Model APIs besides the built-in ones (Anthropic, OpenAI, Gemini): read-only sessions may call
# them with any method, and budgets count their use.
inference_hosts = []
# Hosts read-only sessions tunnel without interception (clients that pin certificates). Their
# requests are then not checked for writes.
tunnel_hosts = []
# Replace a real secret that a response echoes back (headers or body, compressed or not) by its
# placeholder before the session reads it.
scrub = true

[sessions]
# Defaults for `clauderon create` when a flag is not given.
# backend = "docker"        # zellij | docker | sprites | kubernetes | apple-container
agent = "claude"            # claude | codex | gemini
access_mode = "read-only"   # read-only | read-write
# When a session's pull request (`clauderon pr`) is seen merged: stop the session, archive it
# and remove its worktree if it holds no uncommitted work (the branch is kept).
archive_on_merge = false

# Hooks: a command or a webhook run on session events. `on` takes "*", an event type
# ("created", "deleted", "budget-exceeded", "pushed", "pull-request-changed", ...) or
# "status:<status>" ("status:waiting-for-input", "status:idle"). A command gets the event as
# JSON on stdin and CLAUDERON_EVENT, CLAUDERON_SESSION, CLAUDERON_STATUS in an environment that
# holds no credential; a webhook POSTs it. Both run off the event bus, each hook in its own
# queue: a slow one never delays a session. `clauderon hooks log` shows every delivery.
# [[hooks]]
# name = "desktop"
# on = ["status:waiting-for-input"]
# command = "notify-send \"clauderon: $CLAUDERON_SESSION needs you\""
# [[hooks]]
# name = "team"
# on = ["status:waiting-for-input", "budget-exceeded"]
# session = "fix-*"              # optional: a session name pattern
# url = "https://hooks.slack.com/services/..."
# format = "slack"               # json | slack | ntfy
# secret = "team_hook_secret"    # a credential name: the body is signed (X-Clauderon-Signature)
# timeout_secs = 10              # per run, or per webhook attempt (3 attempts on 5xx / timeout)

[zellij]
# The zellij program (looked up on PATH).
# program = "zellij"
# Sandbox (bubblewrap) for sessions that do not pass --sandbox: off | fs | full. When absent:
# full where bubblewrap works, else off.
# sandbox = "full"
# A sandboxed session sees the system's folders (/usr, /etc, /opt…), the folders on the daemon's
# PATH (a `bin` folder with the prefix above it) and toolchains in your HOME (~/.rustup,
# ~/.cargo, ~/.nvm, ~/.pyenv…) read-only, and its own worktree and HOME; nothing else of this
# machine. More places it may read (`~/` is your HOME):
expose = []
# Places inside those that it must not see, besides ~/.ssh, ~/.aws, ~/.config/gh, ~/.gnupg,
# ~/.netrc, ~/.docker, ~/.kube, ~/.claude*, ~/.codex, ~/.cargo/credentials.toml, /etc/shadow,
# /etc/ssh and others (`name*` matches every entry starting with `name`).
hide = []

[docker]
# The image Docker sessions run when they give no --image [default: clauderon-agent:<version>,
# built on first use; env CLAUDERON_DOCKER_IMAGE].
# image = "clauderon-agent:0.1.0"
# The base clauderon's image is built from [env CLAUDERON_DOCKER_BASE_IMAGE].
# base_image = "node:20-bookworm-slim"
# npm packages clauderon's image installs; [] installs none [env CLAUDERON_DOCKER_AGENT_PACKAGES].
# agent_packages = ["@anthropic-ai/claude-code", "@openai/codex", "@google/gemini-cli"]
# Agent CLIs installed on this machine to copy in (for containers that cannot reach npm), e.g.
# the cache scripts/install-agent-clis.sh fills.
# agents_from = "/home/me/.cache/clauderon/agent-clis"
# Limits for sessions that give no --cpus / --memory.
# cpus = "2"
# memory = "4g"

[sprites]
# Sessions on sprites.dev (`--backend sprites`). The API token is the credential `sprites_token`:
# env SPRITES_TOKEN, <data dir>/secrets/sprites_token (0600), or a source under [credentials]
# (`sprites_token = "op://Private/Sprites/token"`). Only the daemon uses it; no session sees it.
# api_url = "https://api.sprites.dev"

[kubernetes]
# Sessions as pods (`--backend kubernetes`). Each setting has an environment variable that wins:
# CLAUDERON_K8S_CONTEXT, _NAMESPACE, _IMAGE, _STORAGE_CLASS, _PROXY.
# context = "kind-clauderon"             # default: the kubeconfig's current context
# namespace = "clauderon"
# image = "clauderon-agent:0.1.0"
# storage_class = "standard"
# proxy = "clauderon-proxy.clauderon.svc:3128"   # the proxy's Service, as pods reach it

# Model prices in USD per million tokens, for the usage report and dollar budgets. The shipped
# table has list prices as of 2026 for Anthropic, OpenAI and Gemini models; entries here win
# over it. `model` is a name or a pattern with `*`; the longest matching pattern wins. Cache
# prices default to the input price.
# [[prices]]
# model = "claude-sonnet-4*"
# input = 3.0
# output = 15.0
# cache_read = 0.3
# cache_write = 3.75
"#;

pub use clauderon_proxy::ProxySettings;
pub use clauderon_types::ApiToken;

pub use crate::api_token::parse as parse_api_token;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonSettings {
    pub bind: SocketAddr,
    pub api_token: Option<ApiToken>,
    pub log_filter: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDefaults {
    /// `None`: the daemon picks the only available backend, or asks.
    pub backend: Option<BackendKind>,
    pub agent: AgentKind,
    pub access_mode: AccessMode,
    /// Archive a session (stopped, worktree removed when clean, branch kept) once its pull
    /// request is seen merged.
    pub archive_on_merge: bool,
}

/// The zellij backend's settings (`[zellij]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZellijSettings {
    pub program: Option<PathBuf>,
    /// `None`: full where bubblewrap works, else off.
    pub sandbox: Option<SandboxLevel>,
    /// Places hidden from sandboxed sessions beyond the built-in list.
    pub hide: Vec<String>,
    /// Host places sandboxed sessions may read beyond the built-in list.
    pub expose: Vec<String>,
}

/// The Sprites backend's settings (`[sprites]`). Its API token is the credential
/// `sprites_token` (env SPRITES_TOKEN, `<data dir>/secrets/sprites_token`, or a source under
/// `[credentials]`), read by the daemon alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpritesConfig {
    /// The API's base URL [default: `https://api.sprites.dev`].
    pub api_url: Option<String>,
}

/// The Kubernetes backend's settings (`[kubernetes]`); each has an environment variable that
/// wins (CLAUDERON_K8S_CONTEXT, _NAMESPACE, _IMAGE, _STORAGE_CLASS, _PROXY).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubernetesConfig {
    /// The kubeconfig context [default: the current one, or the in-cluster config].
    pub context: Option<String>,
    pub namespace: Option<String>,
    pub image: Option<String>,
    pub storage_class: Option<String>,
    /// `host:port` of the proxy's Service as pods reach it.
    pub proxy: Option<String>,
}

/// The Docker backend's settings (`[docker]`); the environment overrides the images.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DockerConfig {
    pub image: Option<String>,
    pub base_image: Option<String>,
    /// npm packages for clauderon's image; an empty list installs none.
    pub agent_packages: Option<Vec<String>>,
    /// Agent CLIs installed on the host, copied into clauderon's image.
    pub agents_from: Option<PathBuf>,
    /// Limits for sessions that give none.
    pub milli_cpus: Option<u32>,
    pub memory_bytes: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub daemon: DaemonSettings,
    pub proxy: ProxySettings,
    pub sessions: SessionDefaults,
    /// Egress allowlist, model hosts, interception exceptions (`[policy]`).
    pub policy: PolicySettings,
    /// What model calls cost (`[[prices]]` over the shipped table).
    pub prices: PriceTable,
    pub zellij: ZellijSettings,
    pub docker: DockerConfig,
    pub sprites: SpritesConfig,
    pub kubernetes: KubernetesConfig,
    /// `[[hooks]]`: commands and webhooks run on session events.
    pub hooks: Vec<hooks::Hook>,
    /// The config file that was read, if any.
    pub file: Option<PathBuf>,
}

impl Config {
    /// The token a client on this machine sends to the daemon of `layout`: the configured one
    /// (this config is loaded as the daemon loads it), else the generated file. `None` before
    /// the daemon's first start.
    pub fn api_token_for_local_client(&self, layout: &DataLayout) -> Result<Option<ApiToken>, CoreError> {
        match &self.daemon.api_token {
            Some(token) => Ok(Some(token.clone())),
            None => crate::api_token::read_generated(&layout.api_token()),
        }
    }
}

/// The environment layer, read once from the process (or given by a test).
#[derive(Debug, Clone, Default)]
pub struct EnvLayer {
    pub bind: Option<String>,
    pub proxy_bind: Option<String>,
    pub api_token: Option<String>,
    pub log: Option<String>,
}

impl EnvLayer {
    pub fn from_process() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        EnvLayer {
            bind: var("CLAUDERON_BIND"),
            proxy_bind: var("CLAUDERON_PROXY_BIND"),
            api_token: var("CLAUDERON_API_TOKEN"),
            log: var("CLAUDERON_LOG"),
        }
    }
}

/// The flags layer.
#[derive(Debug, Clone, Default)]
pub struct FlagLayer {
    pub bind: Option<SocketAddr>,
    pub proxy_bind: Option<SocketAddr>,
    pub log: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    daemon: RawDaemon,
    #[serde(default)]
    proxy: RawProxy,
    #[serde(default)]
    credentials: BTreeMap<String, String>,
    #[serde(default)]
    sessions: RawSessions,
    #[serde(default)]
    prices: Vec<RawPrice>,
    #[serde(default)]
    policy: policy::RawPolicy,
    #[serde(default)]
    zellij: RawZellij,
    #[serde(default)]
    docker: RawDocker,
    #[serde(default)]
    sprites: RawSprites,
    #[serde(default)]
    kubernetes: RawKubernetes,
    #[serde(default)]
    hooks: Vec<hooks::RawHook>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocker {
    image: Option<String>,
    base_image: Option<String>,
    agent_packages: Option<Vec<String>>,
    agents_from: Option<PathBuf>,
    cpus: Option<String>,
    memory: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSprites {
    api_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKubernetes {
    context: Option<String>,
    namespace: Option<String>,
    image: Option<String>,
    storage_class: Option<String>,
    proxy: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawZellij {
    program: Option<PathBuf>,
    sandbox: Option<String>,
    #[serde(default)]
    hide: Vec<String>,
    #[serde(default)]
    expose: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDaemon {
    bind: Option<String>,
    api_token_file: Option<PathBuf>,
    log: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProxy {
    bind: Option<String>,
    #[serde(default)]
    extra_ca_files: Vec<PathBuf>,
    #[serde(default)]
    upstream_overrides: BTreeMap<String, String>,
    #[serde(default)]
    rules: Vec<UserRuleConfig>,
    #[serde(default)]
    anthropic_oauth: RawAnthropicOAuth,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnthropicOAuth {
    token_url: Option<String>,
    client_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSessions {
    backend: Option<String>,
    agent: Option<String>,
    access_mode: Option<String>,
    archive_on_merge: Option<bool>,
}

fn parse_bind(value: &str, from: &str) -> Result<SocketAddr, CoreError> {
    value.parse().map_err(|_| {
        CoreError::Config(format!("{from}: `{value}` is not an address:port such as {DEFAULT_BIND}"))
    })
}

fn parse_kind<T: std::str::FromStr<Err = clauderon_types::ParseKindError>>(
    value: &str,
    from: &str,
) -> Result<T, CoreError> {
    value.parse().map_err(|e: clauderon_types::ParseKindError| CoreError::Config(format!("{from}: {e}")))
}

fn read_token_file(path: &Path) -> Result<ApiToken, CoreError> {
    crate::api_token::read_private(path, &format!("daemon.api_token_file ({})", path.display()))
}

impl Config {
    /// Load with this process's environment and no flags.
    pub fn load(layout: &DataLayout) -> Result<Config, CoreError> {
        Config::load_layers(layout, &EnvLayer::from_process(), &FlagLayer::default())
    }

    pub fn load_layers(layout: &DataLayout, env: &EnvLayer, flags: &FlagLayer) -> Result<Config, CoreError> {
        let path = layout.config_file();
        let (raw, file) = match std::fs::read_to_string(&path) {
            Ok(text) => {
                let raw: RawConfig = toml::from_str(&text)
                    .map_err(|e| CoreError::Config(format!("{}: {}", path.display(), e.message())))?;
                (raw, Some(path))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (RawConfig::default(), None),
            Err(e) => return Err(CoreError::Config(format!("{}: {e}", path.display()))),
        };
        Config::from_raw(raw, file, env, flags)
    }

    /// Parse a config file's text (for `config example` checks and tests).
    pub fn from_toml(text: &str) -> Result<Config, CoreError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| CoreError::Config(e.message().to_string()))?;
        Config::from_raw(raw, None, &EnvLayer::default(), &FlagLayer::default())
    }

    fn from_raw(
        raw: RawConfig,
        file: Option<PathBuf>,
        env: &EnvLayer,
        flags: &FlagLayer,
    ) -> Result<Config, CoreError> {
        let mut bind = parse_bind(DEFAULT_BIND, "default")?;
        if let Some(b) = &raw.daemon.bind {
            bind = parse_bind(b, "daemon.bind")?;
        }
        if let Some(b) = &env.bind {
            bind = parse_bind(b, "CLAUDERON_BIND")?;
        }
        if let Some(b) = flags.bind {
            bind = b;
        }

        let api_token = match (&env.api_token, &raw.daemon.api_token_file) {
            (Some(t), _) => Some(parse_api_token(t, "CLAUDERON_API_TOKEN")?),
            (None, Some(path)) => Some(read_token_file(path)?),
            (None, None) => None,
        };

        let proxy = Config::proxy_from_raw(raw.proxy, raw.credentials, env, flags)?;

        let log_filter = flags
            .log
            .clone()
            .or_else(|| env.log.clone())
            .or(raw.daemon.log)
            .unwrap_or_else(|| "info".to_string());

        let sessions = SessionDefaults {
            backend: raw
                .sessions
                .backend
                .as_deref()
                .map(|v| parse_kind(v, "sessions.backend"))
                .transpose()?,
            agent: raw
                .sessions
                .agent
                .as_deref()
                .map(|v| parse_kind(v, "sessions.agent"))
                .transpose()?
                .unwrap_or_default(),
            access_mode: raw
                .sessions
                .access_mode
                .as_deref()
                .map(|v| parse_kind(v, "sessions.access_mode"))
                .transpose()?
                .unwrap_or_default(),
            archive_on_merge: raw.sessions.archive_on_merge.unwrap_or(false),
        };
        let policy = policy::from_raw(raw.policy)?;
        let prices = PriceTable::from_config(raw.prices)?;
        let zellij = ZellijSettings {
            program: raw.zellij.program,
            sandbox: raw.zellij.sandbox.as_deref().map(|v| parse_kind(v, "zellij.sandbox")).transpose()?,
            hide: raw.zellij.hide,
            expose: raw.zellij.expose,
        };
        let docker = DockerConfig {
            image: raw.docker.image.filter(|v| !v.is_empty()),
            base_image: raw.docker.base_image.filter(|v| !v.is_empty()),
            agent_packages: raw.docker.agent_packages,
            agents_from: raw.docker.agents_from,
            milli_cpus: raw
                .docker
                .cpus
                .as_deref()
                .map(clauderon_types::options::parse_cpus)
                .transpose()
                .map_err(|e| CoreError::Config(format!("docker.cpus: {e}")))?,
            memory_bytes: raw
                .docker
                .memory
                .as_deref()
                .map(clauderon_types::options::parse_memory)
                .transpose()
                .map_err(|e| CoreError::Config(format!("docker.memory: {e}")))?,
        };
        let sprites = SpritesConfig { api_url: raw.sprites.api_url.filter(|v| !v.is_empty()) };
        if let Some(url) = &sprites.api_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(CoreError::Config(format!(
                "sprites.api_url `{url}`: give the API's URL, e.g. https://api.sprites.dev"
            )));
        }
        let nonempty = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
        let kubernetes = KubernetesConfig {
            context: nonempty(raw.kubernetes.context),
            namespace: nonempty(raw.kubernetes.namespace),
            image: nonempty(raw.kubernetes.image),
            storage_class: nonempty(raw.kubernetes.storage_class),
            proxy: nonempty(raw.kubernetes.proxy),
        };
        Ok(Config {
            daemon: DaemonSettings { bind, api_token, log_filter },
            proxy,
            sessions,
            policy,
            prices,
            zellij,
            docker,
            sprites,
            kubernetes,
            hooks: hooks::from_raw(raw.hooks)?,
            file,
        })
    }

    fn proxy_from_raw(
        raw: RawProxy,
        credentials: BTreeMap<String, String>,
        env: &EnvLayer,
        flags: &FlagLayer,
    ) -> Result<ProxySettings, CoreError> {
        let mut bind = parse_bind(DEFAULT_PROXY_BIND, "default")?;
        if let Some(b) = &raw.bind {
            bind = parse_bind(b, "proxy.bind")?;
        }
        if let Some(b) = &env.proxy_bind {
            bind = parse_bind(b, "CLAUDERON_PROXY_BIND")?;
        }
        if let Some(b) = flags.proxy_bind {
            bind = b;
        }
        let mut upstream_overrides = HashMap::new();
        for (host, addr) in raw.upstream_overrides {
            let addr = parse_bind(&addr, &format!("proxy.upstream_overrides.\"{host}\""))?;
            upstream_overrides.insert(host.to_ascii_lowercase(), addr);
        }
        let rules = raw
            .rules
            .into_iter()
            .map(|r| r.validate().map_err(|e| CoreError::Config(format!("proxy.rules: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let credentials = credentials
            .into_iter()
            .map(|(name, source)| {
                let parsed = source
                    .parse::<CredentialSource>()
                    .map_err(|e| CoreError::Config(format!("credentials.{name}: {e}")))?;
                Ok((name, parsed))
            })
            .collect::<Result<Vec<_>, CoreError>>()?;
        let anthropic_oauth = OAuthSettings::new(
            raw.anthropic_oauth.token_url.as_deref().unwrap_or(DEFAULT_TOKEN_URL),
            raw.anthropic_oauth.client_id.as_deref().unwrap_or(DEFAULT_CLIENT_ID),
        )
        .map_err(|e| CoreError::Config(format!("proxy.anthropic_oauth: {e}")))?;
        Ok(ProxySettings {
            bind,
            extra_ca_files: raw.extra_ca_files,
            upstream_overrides,
            rules,
            credentials,
            anthropic_oauth,
        })
    }

    /// The checks that only matter when this config starts a daemon.
    pub fn validate_for_daemon(&self) -> Result<(), CoreError> {
        if !self.daemon.bind.ip().is_loopback() && self.daemon.api_token.is_none() {
            return Err(CoreError::Config(format!(
                "refusing to listen on {} without an API token you chose: a daemon on the network needs one \
                 you hand to its clients. Set CLAUDERON_API_TOKEN or daemon.api_token_file (a 0600 file), \
                 or bind to 127.0.0.1",
                self.daemon.bind
            )));
        }
        Ok(())
    }

    /// The effective settings as TOML, secrets shown as `***`.
    pub fn to_toml_string(&self) -> String {
        let mut out = String::new();
        if let Some(file) = &self.file {
            out.push_str(&format!("# read from {}\n", file.display()));
        } else {
            out.push_str("# no config file: built-in defaults, environment and flags\n");
        }
        out.push_str("[daemon]\n");
        out.push_str(&format!("bind = \"{}\"\n", self.daemon.bind));
        if self.daemon.api_token.is_some() {
            out.push_str("api_token = \"***\"\n");
        }
        out.push_str(&format!("log = {:?}\n\n[proxy]\n", self.daemon.log_filter));
        out.push_str(&format!("bind = \"{}\"\n", self.proxy.bind));
        let cas: Vec<String> =
            self.proxy.extra_ca_files.iter().map(|p| format!("{:?}", p.display().to_string())).collect();
        out.push_str(&format!("extra_ca_files = [{}]\n", cas.join(", ")));
        let mut overrides: Vec<_> = self.proxy.upstream_overrides.iter().collect();
        overrides.sort();
        for (host, addr) in overrides {
            out.push_str(&format!("# upstream override: {host} -> {addr}\n"));
        }
        for rule in &self.proxy.rules {
            out.push_str(&format!("# rule: {} (credential {})\n", rule.name, rule.credential));
        }
        out.push_str(&format!(
            "\n[proxy.anthropic_oauth]\ntoken_url = \"{}\"\nclient_id = \"{}\"\n",
            self.proxy.anthropic_oauth.token_url(),
            self.proxy.anthropic_oauth.client_id()
        ));
        for (name, source) in &self.proxy.credentials {
            out.push_str(&format!("# credential {name}: {source}\n"));
        }
        out.push_str(&policy::to_toml(&self.policy));
        out.push_str("\n[sessions]\n");
        if let Some(b) = self.sessions.backend {
            out.push_str(&format!("backend = \"{b}\"\n"));
        }
        out.push_str(&format!(
            "agent = \"{}\"\naccess_mode = \"{}\"\narchive_on_merge = {}\n",
            self.sessions.agent, self.sessions.access_mode, self.sessions.archive_on_merge
        ));
        out.push_str("\n[zellij]\n");
        if let Some(p) = &self.zellij.program {
            out.push_str(&format!("program = {:?}\n", p.display().to_string()));
        }
        if let Some(level) = self.zellij.sandbox {
            out.push_str(&format!("sandbox = \"{level}\"\n"));
        }
        out.push_str(&format!("expose = {:?}\n", self.zellij.expose));
        out.push_str(&format!("hide = {:?}\n", self.zellij.hide));
        out.push_str("\n[docker]\n");
        for (key, value) in [("image", &self.docker.image), ("base_image", &self.docker.base_image)] {
            if let Some(v) = value {
                out.push_str(&format!("{key} = {v:?}\n"));
            }
        }
        if let Some(p) = &self.docker.agent_packages {
            out.push_str(&format!("agent_packages = {p:?}\n"));
        }
        if let Some(p) = &self.docker.agents_from {
            out.push_str(&format!("agents_from = {:?}\n", p.display().to_string()));
        }
        if let Some(m) = self.docker.milli_cpus {
            out.push_str(&format!("cpus = \"{}\"\n", f64::from(m) / 1000.0));
        }
        if let Some(b) = self.docker.memory_bytes {
            out.push_str(&format!("memory = \"{b}\"\n"));
        }
        out.push_str("\n[sprites]\n");
        if let Some(url) = &self.sprites.api_url {
            out.push_str(&format!("api_url = {url:?}\n"));
        }
        out.push_str("\n[kubernetes]\n");
        for (key, value) in [
            ("context", &self.kubernetes.context),
            ("namespace", &self.kubernetes.namespace),
            ("image", &self.kubernetes.image),
            ("storage_class", &self.kubernetes.storage_class),
            ("proxy", &self.kubernetes.proxy),
        ] {
            if let Some(v) = value {
                out.push_str(&format!("{key} = {v:?}\n"));
            }
        }
        for p in self.prices.configured() {
            out.push_str(&format!(
                "\n[[prices]]\nmodel = {:?}\ninput = {}\noutput = {}\ncache_read = {}\ncache_write = {}\n",
                p.model, p.input, p.output, p.cache_read, p.cache_write
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    fn layout_with(text: Option<&str>) -> (tempfile::TempDir, DataLayout) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let layout = DataLayout::new(dir.path());
        if let Some(text) = text {
            std::fs::write(layout.config_file(), text).unwrap_or_else(|e| panic!("{e}"));
        }
        (dir, layout)
    }

    fn load(layout: &DataLayout, env: EnvLayer, flags: FlagLayer) -> Result<Config, CoreError> {
        Config::load_layers(layout, &env, &flags)
    }

    #[test]
    fn example_config_parses_to_the_defaults() {
        let example = Config::from_toml(EXAMPLE_CONFIG).unwrap_or_else(|e| panic!("{e}"));
        let (_d, layout) = layout_with(None);
        let defaults =
            load(&layout, EnvLayer::default(), FlagLayer::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(example.daemon, defaults.daemon);
        assert_eq!(example.proxy.bind, defaults.proxy.bind);
        assert_eq!(example.proxy.anthropic_oauth, defaults.proxy.anthropic_oauth);
        assert_eq!(defaults.proxy.bind.to_string(), DEFAULT_PROXY_BIND);
        assert_eq!(example.sessions, defaults.sessions);
        assert_eq!(example.prices, defaults.prices);
        assert_eq!(example.policy, defaults.policy);
        assert_eq!(defaults.policy, PolicySettings::default());
        assert_eq!(defaults.daemon.bind.to_string(), DEFAULT_BIND);
    }

    #[test]
    fn configured_prices_win_over_the_shipped_ones() {
        let text = "[[prices]]\nmodel = \"gpt-4o*\"\ninput = 1.0\noutput = 2.0\n";
        let config = Config::from_toml(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            config.prices.price("gpt-4o-2024-08-06").map(|p| (p.input, p.cache_read)),
            Some((1.0, 1.0))
        );
        assert!(config.to_toml_string().contains("model = \"gpt-4o*\""));
        let bad = Config::from_toml("[[prices]]\nmodel = \"x\"\ninput = -1.0\noutput = 2.0\n");
        assert!(bad.err().is_some_and(|e| e.to_string().contains("prices[0]")));
    }

    #[test]
    fn layers_win_in_order_defaults_file_env_flags() {
        let (_d, layout) = layout_with(Some("[daemon]\nbind = \"127.0.0.1:4001\"\nlog = \"warn\"\n"));
        let file = load(&layout, EnvLayer::default(), FlagLayer::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(file.daemon.bind.port(), 4001);
        assert_eq!(file.daemon.log_filter, "warn");

        let env =
            EnvLayer { bind: Some("127.0.0.1:4002".into()), log: Some("debug".into()), ..Default::default() };
        let with_env = load(&layout, env.clone(), FlagLayer::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(with_env.daemon.bind.port(), 4002);
        assert_eq!(with_env.daemon.log_filter, "debug");

        let flags = FlagLayer {
            bind: "127.0.0.1:4003".parse().ok(),
            log: Some("trace".into()),
            ..Default::default()
        };
        let with_flags = load(&layout, env, flags).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(with_flags.daemon.bind.port(), 4003);
        assert_eq!(with_flags.daemon.log_filter, "trace");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_clear_errors() {
        let (_d, layout) = layout_with(Some("[daemon]\nbnd = \"x\"\n"));
        let err = load(&layout, EnvLayer::default(), FlagLayer::default()).err().map(|e| e.to_string());
        assert!(err.as_deref().unwrap_or("").contains("unknown field `bnd`"), "{err:?}");

        let (_d, layout) = layout_with(Some("[proxy.anthropic_oauth]\ntoken_url = \"http://x/t\"\n"));
        let err = load(&layout, EnvLayer::default(), FlagLayer::default()).err().map(|e| e.to_string());
        assert!(err.as_deref().unwrap_or("").contains("must be an https:// URL"), "{err:?}");

        let (_d, layout) = layout_with(Some("[sessions]\nagent = \"gpt\"\n"));
        let err = load(&layout, EnvLayer::default(), FlagLayer::default()).err().map(|e| e.to_string());
        assert!(err.as_deref().unwrap_or("").contains("expected one of claude, codex, gemini"), "{err:?}");
    }

    #[test]
    fn non_loopback_bind_needs_a_token() {
        let (_d, layout) = layout_with(None);
        let env = EnvLayer { bind: Some("0.0.0.0:3030".into()), ..Default::default() };
        let cfg = load(&layout, env.clone(), FlagLayer::default()).unwrap_or_else(|e| panic!("{e}"));
        let err = cfg.validate_for_daemon().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("without an API token"), "{err}");

        let env = EnvLayer { api_token: Some("0123456789abcdef0123".into()), ..env };
        let cfg = load(&layout, env, FlagLayer::default()).unwrap_or_else(|e| panic!("{e}"));
        assert!(cfg.validate_for_daemon().is_ok());
        assert!(!format!("{cfg:?}").contains("0123456789abcdef"));
        assert!(!cfg.to_toml_string().contains("0123456789abcdef"));
    }

    #[test]
    fn token_file_must_be_private() {
        let (dir, layout) = layout_with(None);
        let token = dir.path().join("token");
        let mut f = std::fs::File::create(&token).unwrap_or_else(|e| panic!("{e}"));
        f.write_all(b"0123456789abcdef0123\n").unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644))
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(layout.config_file(), format!("[daemon]\napi_token_file = {:?}\n", token))
            .unwrap_or_else(|e| panic!("{e}"));
        let err = load(&layout, EnvLayer::default(), FlagLayer::default()).err().map(|e| e.to_string());
        assert!(err.as_deref().unwrap_or("").contains("chmod 600"), "{err:?}");
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600))
            .unwrap_or_else(|e| panic!("{e}"));
        let cfg = load(&layout, EnvLayer::default(), FlagLayer::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            cfg.daemon.api_token.map(|t| t.expose().to_string()).as_deref(),
            Some("0123456789abcdef0123")
        );
    }

    #[test]
    fn sprites_and_kubernetes_sections_round_trip_and_refuse_what_is_not_theirs() {
        let text = "[sprites]\napi_url = \"http://127.0.0.1:9\"\n[kubernetes]\ncontext = \"kind-x\"\nnamespace = \"ns\"\nproxy = \"p.ns.svc:3128\"\n";
        let cfg = Config::from_toml(text).unwrap();
        assert_eq!(cfg.sprites.api_url.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(cfg.kubernetes.context.as_deref(), Some("kind-x"));
        assert_eq!(cfg.kubernetes.proxy.as_deref(), Some("p.ns.svc:3128"));
        let again = Config::from_toml(&cfg.to_toml_string()).unwrap();
        assert_eq!((again.sprites, again.kubernetes), (cfg.sprites, cfg.kubernetes));
        let err = Config::from_toml("[sprites]\napi_url = \"api.sprites.dev\"\n").unwrap_err().to_string();
        assert!(err.contains("sprites.api_url") && err.contains("https://"), "{err}");
        // The token is a credential, never a setting of the section.
        let err = Config::from_toml("[sprites]\ntoken = \"x\"\n").unwrap_err().to_string();
        assert!(err.contains("token"), "{err}");
    }

    #[test]
    fn docker_section_sets_images_packages_and_limits() {
        let text = "[docker]\nimage = \"img:1\"\nbase_image = \"debian\"\nagent_packages = []\nagents_from = \"/a\"\ncpus = \"1.5\"\nmemory = \"512m\"\n";
        let cfg = Config::from_toml(text).unwrap();
        assert_eq!(cfg.docker.image.as_deref(), Some("img:1"));
        assert_eq!(cfg.docker.agent_packages, Some(Vec::new()));
        assert_eq!(cfg.docker.agents_from.as_deref(), Some(std::path::Path::new("/a")));
        assert_eq!(cfg.docker.milli_cpus, Some(1500));
        assert_eq!(cfg.docker.memory_bytes, Some(512 << 20));
        let again = Config::from_toml(&cfg.to_toml_string()).unwrap();
        assert_eq!(again.docker, cfg.docker);
        let err = Config::from_toml("[docker]\ncpus = \"lots\"\n").unwrap_err().to_string();
        assert!(err.contains("docker.cpus") && err.contains("1.5"), "{err}");
        assert_eq!(Config::from_toml("").unwrap().docker, DockerConfig::default());
    }
}
