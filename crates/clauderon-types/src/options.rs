//! What a session was created with beyond its name, repository and agent: the command it runs
//! instead of the agent, backend settings, egress additions. Stored with the session, so a
//! restart or a re-create runs it the same way.

use crate::kinds::{NetworkMode, SandboxLevel};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Longest `--command`, in bytes.
pub const MAX_COMMAND_BYTES: usize = 64 * 1024;

/// Every field is optional: absent means "the backend's or the config's default".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionOptions {
    /// A shell command to run instead of the agent (`sh -c`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// The agent's model, passed to its CLI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Container image (Docker); clauderon's agent image when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<SandboxLevel>,
    /// CPU limit in thousandths of a core (`--cpus 1.5` is 1500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub milli_cpus: Option<u32>,
    /// Memory limit in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// Hosts this session may reach beyond the configured allowlist; `*.example.com` for
    /// subdomains (checked by the proxy's host patterns when the session is created).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_hosts: Vec<String>,
    /// Model budget in tokens (input + output, all models): once reached, model calls are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_tokens: Option<u64>,
    /// Model budget in US cents, priced with the config's price table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_usd_cents: Option<u64>,
}

impl SessionOptions {
    /// The checks that need no IO. The message says what to change.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(c) = &self.command {
            if c.trim().is_empty() {
                return Err(
                    "--command is empty: give a shell command, or leave it out to run the agent".into()
                );
            }
            if c.len() > MAX_COMMAND_BYTES {
                return Err(format!(
                    "--command is {} bytes; the limit is {MAX_COMMAND_BYTES}: put it in a script in the repository",
                    c.len()
                ));
            }
        }
        if let Some(m) = self.milli_cpus
            && !(1..=1_024_000).contains(&m)
        {
            return Err(format!(
                "a CPU limit of {m} thousandths of a core is out of range: give --cpus as a number of cores such as 1 or 1.5"
            ));
        }
        if let Some(m) = self.memory_bytes
            && m < 6 * 1024 * 1024
        {
            return Err(format!("--memory {m} bytes is too small: give at least 6 MiB, e.g. 512m or 2g"));
        }
        if let Some(model) = &self.model
            && (model.is_empty()
                || model.len() > 200
                || model.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(format!("--model `{model}` is not a model name: no spaces, at most 200 characters"));
        }
        Ok(())
    }
}

/// `1.5` (cores) -> 1500 thousandths of a core.
pub fn parse_cpus(text: &str) -> Result<u32, String> {
    let cores: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a CPU count: give a number of cores such as 1 or 1.5"))?;
    if !(0.001..=1024.0).contains(&cores) {
        return Err(format!("`{text}` is not a CPU count: give a number of cores between 0.001 and 1024"));
    }
    Ok((cores * 1000.0).round() as u32)
}

/// `512m`, `2g`, `1.5G`, `1048576` (bytes) -> bytes.
pub fn parse_memory(text: &str) -> Result<u64, String> {
    let t = text.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').filter(|r| r.ends_with(['k', 'm', 'g'])).unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1u64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    let value: f64 = num.parse().map_err(|_| {
        format!("`{text}` is not a memory size: give a number with k, m or g, e.g. 512m or 2g")
    })?;
    if !(value.is_finite() && value > 0.0) {
        return Err(format!("`{text}` is not a memory size: it must be more than zero"));
    }
    Ok((value * mult as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_parse_with_units() {
        assert_eq!(parse_memory("512m"), Ok(512 << 20));
        assert_eq!(parse_memory("2G"), Ok(2 << 30));
        assert_eq!(parse_memory("1.5g"), Ok(3 << 29));
        assert_eq!(parse_memory("64kb"), Ok(64 << 10));
        assert_eq!(parse_memory("1048576"), Ok(1 << 20));
        assert!(parse_memory("lots").unwrap_err().contains("512m"));
        assert!(parse_memory("-1g").is_err());
    }

    #[test]
    fn cpu_counts_parse_to_thousandths() {
        assert_eq!(parse_cpus("1.5"), Ok(1500));
        assert_eq!(parse_cpus("2"), Ok(2000));
        assert!(parse_cpus("0").is_err());
        assert!(parse_cpus("many").unwrap_err().contains("1.5"));
    }

    #[test]
    fn options_are_checked_with_messages_that_say_what_to_do() {
        let o = SessionOptions { command: Some("  ".into()), ..Default::default() };
        assert!(o.validate().unwrap_err().contains("--command"));
        let o = SessionOptions { milli_cpus: Some(0), ..Default::default() };
        assert!(o.validate().unwrap_err().contains("1.5"));
        let o = SessionOptions { memory_bytes: Some(10), ..Default::default() };
        assert!(o.validate().unwrap_err().contains("512m"));
        let o =
            SessionOptions { command: Some("echo hi".into()), milli_cpus: Some(1500), ..Default::default() };
        assert_eq!(o.validate(), Ok(()));
    }

    #[test]
    fn empty_options_serialize_to_an_empty_object() {
        assert_eq!(serde_json::to_string(&SessionOptions::default()).unwrap(), "{}");
    }
}
