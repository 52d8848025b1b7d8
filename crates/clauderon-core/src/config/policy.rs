//! The `[policy]` section: egress allowlist, model hosts, interception exceptions, scrubbing.

use crate::error::CoreError;
use clauderon_proxy::policy::{EgressMode, PolicySettings};
use clauderon_proxy::rules::HostPattern;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    egress: Option<String>,
    builtin_allow_hosts: Option<bool>,
    #[serde(default)]
    allow_hosts: Vec<String>,
    #[serde(default)]
    inference_hosts: Vec<String>,
    #[serde(default)]
    tunnel_hosts: Vec<String>,
    scrub: Option<bool>,
}

fn host_patterns(list: &[String], key: &str) -> Result<Vec<HostPattern>, CoreError> {
    HostPattern::parse_list(list).map_err(|e| CoreError::Config(format!("policy.{key}: {e}")))
}

pub(super) fn from_raw(raw: RawPolicy) -> Result<PolicySettings, CoreError> {
    let defaults = PolicySettings::default();
    let egress = match raw.egress.as_deref() {
        None | Some("allowlist") => EgressMode::Allowlist,
        Some("open") => EgressMode::Open,
        Some(other) => {
            return Err(CoreError::Config(format!(
                "policy.egress: `{other}` is not an egress mode: use \"allowlist\" or \"open\""
            )));
        }
    };
    let mut allow_hosts =
        if raw.builtin_allow_hosts.unwrap_or(true) { defaults.allow_hosts } else { Vec::new() };
    allow_hosts.extend(host_patterns(&raw.allow_hosts, "allow_hosts")?);
    let mut inference_hosts = defaults.inference_hosts;
    inference_hosts.extend(host_patterns(&raw.inference_hosts, "inference_hosts")?);
    Ok(PolicySettings {
        egress,
        allow_hosts,
        inference_hosts,
        tunnel_hosts: host_patterns(&raw.tunnel_hosts, "tunnel_hosts")?,
        scrub: raw.scrub.unwrap_or(true),
    })
}

/// The `[policy]` section as `clauderon config show` prints it.
pub(super) fn to_toml(p: &PolicySettings) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "\n[policy]\negress = \"{}\"\n",
        match p.egress {
            EgressMode::Allowlist => "allowlist",
            EgressMode::Open => "open",
        }
    ));
    let list = |l: &[HostPattern]| l.iter().map(|p| format!("\"{p}\"")).collect::<Vec<_>>().join(", ");
    out.push_str(&format!(
        "# every host sessions may reach (built-in and configured)\nallow_hosts = [{}]\n",
        list(&p.allow_hosts)
    ));
    out.push_str(&format!("inference_hosts = [{}]\n", list(&p.inference_hosts)));
    out.push_str(&format!("tunnel_hosts = [{}]\n", list(&p.tunnel_hosts)));
    out.push_str(&format!("scrub = {}\n", p.scrub));
    out
}
