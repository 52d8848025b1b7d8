//! The environment every session gets, whatever runs it: placeholders for the configured
//! credentials, the proxy with the session's identity, and trust in clauderon's CA for every
//! tool that has its own idea of where certificates are. Backends differ only in the host name
//! the session uses for the proxy and in where the CA files are as the session sees them.

use crate::SessionSpec;
use std::path::Path;

/// Loopback and the local names: never through the proxy.
pub const NO_PROXY: &str = "localhost,127.0.0.1,::1";

/// Variables naming a CA *bundle* (they replace the default roots, so they get clauderon's CA
/// appended to the system's roots: hosts that are tunnelled keep their real certificates).
pub const CA_BUNDLE_VARS: &[&str] = &[
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "GIT_SSL_CAINFO",
    "CARGO_HTTP_CAINFO",
    "CODEX_CA_CERTIFICATE",
];

/// Variables naming certificates *added* to the default roots: clauderon's CA alone.
pub const CA_EXTRA_VARS: &[&str] = &["NODE_EXTRA_CA_CERTS", "DENO_CERT"];

/// Where the session finds things, as paths and names inside the session.
#[derive(Debug, Clone)]
pub struct SessionView<'a> {
    /// The proxy's host as the session reaches it (`127.0.0.1`, `host.docker.internal`…).
    pub proxy_host: &'a str,
    /// clauderon's CA certificate alone.
    pub ca_cert: &'a str,
    /// The system roots plus clauderon's CA (see [`ca_bundle`]).
    pub ca_bundle: &'a str,
    pub home: &'a str,
}

/// Every variable a session's process gets from clauderon, in a stable order: the agent's own
/// (telemetry off, workspace trust: [`clauderon_agents::profile::agent_env`]) among them.
/// Secrets: only the session's own proxy identity (useless outside the proxy) — never a real
/// credential.
pub fn session_env(spec: &SessionSpec, view: &SessionView<'_>) -> Vec<(String, String)> {
    let proxy = spec.proxy.url(view.proxy_host);
    let mut env: Vec<(String, String)> =
        vec![("HOME".into(), view.home.into()), ("CLAUDERON_SESSION".into(), spec.name.to_string())];
    for var in ["HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"] {
        env.push((var.into(), proxy.clone()));
    }
    for var in ["NO_PROXY", "no_proxy"] {
        env.push((var.into(), NO_PROXY.into()));
    }
    for var in CA_BUNDLE_VARS {
        env.push(((*var).into(), view.ca_bundle.into()));
    }
    for var in CA_EXTRA_VARS {
        env.push(((*var).into(), view.ca_cert.into()));
    }
    env.extend(clauderon_agents::profile::agent_env(spec.agent));
    env.extend(spec.placeholders.iter().cloned());
    env
}

/// The system's root bundle (the first that exists of the usual places) followed by clauderon's
/// CA, as one PEM text. Without a system bundle, clauderon's CA alone.
pub fn ca_bundle(clauderon_ca_pem: &str) -> String {
    let system = SYSTEM_BUNDLES.iter().find_map(|p| std::fs::read_to_string(p).ok()).unwrap_or_default();
    join_pem(&system, clauderon_ca_pem)
}

const SYSTEM_BUNDLES: &[&str] =
    &["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"];

fn join_pem(system: &str, ours: &str) -> String {
    let mut out = String::with_capacity(system.len() + ours.len() + 1);
    out.push_str(system);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(ours);
    out
}

/// Git settings for a session: SSH remotes of the common forges go over HTTPS (so through the
/// proxy, with the injected token), and the user's identity so commits carry their name.
pub fn gitconfig(user_name: Option<&str>, user_email: Option<&str>) -> String {
    let mut out = String::from("# Written by clauderon for this session.\n");
    if user_name.is_some() || user_email.is_some() {
        out.push_str("[user]\n");
        if let Some(n) = user_name {
            out.push_str(&format!("\tname = {}\n", quote(n)));
        }
        if let Some(e) = user_email {
            out.push_str(&format!("\temail = {}\n", quote(e)));
        }
    }
    for forge in FORGES {
        out.push_str(&format!(
            "[url \"https://{forge}/\"]\n\tinsteadOf = git@{forge}:\n\tinsteadOf = ssh://git@{forge}/\n"
        ));
    }
    out.push_str("[safe]\n\tdirectory = *\n");
    out
}

/// Forges whose SSH remotes are rewritten to HTTPS.
pub const FORGES: &[&str] = &["github.com", "gitlab.com", "bitbucket.org"];

/// A git config value in double quotes, with `\` and `"` escaped and line breaks dropped.
fn quote(value: &str) -> String {
    let clean: String = value.chars().filter(|c| *c != '\n' && *c != '\r').collect();
    format!("\"{}\"", clean.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Read the host user's git identity (`git config --get user.name`), for [`gitconfig`].
pub fn host_git_identity(repo: &Path) -> (Option<String>, Option<String>) {
    let get = |key: &str| {
        crate::host_git::command(repo)
            .args(["config", "--get", key])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
    };
    (get("user.name"), get("user.email"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProxyAccess;
    use clauderon_types::{AgentKind, SessionId, SessionName};

    fn spec() -> SessionSpec {
        SessionSpec {
            session_id: SessionId::new(),
            name: SessionName::parse("s1").unwrap(),
            worktree: "/w".into(),
            repo: "/r".into(),
            agent: AgentKind::Claude,
            prompt: String::new(),
            options: Default::default(),
            home: "/h".into(),
            placeholders: vec![("ANTHROPIC_API_KEY".into(), "clauderon-placeholder".into())],
            proxy: ProxyAccess {
                user: "s1".into(),
                secret: "sek".into(),
                port: 3128,
                ca_cert: "/ca.pem".into(),
            },
        }
    }

    #[test]
    fn env_has_proxy_both_cases_trust_and_placeholders() {
        let view =
            SessionView { proxy_host: "gw", ca_cert: "/ca.pem", ca_bundle: "/bundle.pem", home: "/home/s" };
        let env = session_env(&spec(), &view);
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("HTTPS_PROXY"), Some("http://s1:sek@gw:3128"));
        assert_eq!(get("http_proxy"), Some("http://s1:sek@gw:3128"));
        assert_eq!(get("NO_PROXY"), Some(NO_PROXY));
        assert_eq!(get("SSL_CERT_FILE"), Some("/bundle.pem"));
        assert_eq!(get("NODE_EXTRA_CA_CERTS"), Some("/ca.pem"));
        assert_eq!(get("ANTHROPIC_API_KEY"), Some("clauderon-placeholder"));
        assert_eq!(get("HOME"), Some("/home/s"));
        assert_eq!(get("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"), Some("1"), "the agent's own variables");
        assert_eq!(get("OPENAI_API_KEY"), None, "no placeholder for a credential that is not configured");
    }

    #[test]
    fn no_proxy_never_covers_the_proxys_own_host() {
        // Agents' status hooks reach clauderon.internal through the proxy (issue 6 §3): a
        // NO_PROXY entry matching it (exactly, as a suffix, or `*`) would send them nowhere.
        let host = clauderon_types::agent_status::INTERNAL_HOST;
        for entry in NO_PROXY.split(',').map(|e| e.trim().trim_start_matches('.')) {
            assert!(entry != "*" && !host.ends_with(entry), "NO_PROXY entry {entry:?} covers {host}");
        }
    }

    #[test]
    fn bundle_keeps_system_roots_and_adds_ours() {
        assert_eq!(join_pem("SYS", "OURS\n"), "SYS\nOURS\n");
        assert_eq!(join_pem("", "OURS\n"), "OURS\n");
    }

    #[test]
    fn gitconfig_rewrites_ssh_remotes_and_quotes_the_identity() {
        let text = gitconfig(Some("A \"B\"\nC"), None);
        assert!(text.contains("name = \"A \\\"B\\\"C\""), "{text}");
        assert!(text.contains("[url \"https://github.com/\"]\n\tinsteadOf = git@github.com:"), "{text}");
        assert!(!text.contains("email"));
    }
}
