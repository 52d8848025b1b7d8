//! Injection rules: which header carries which credential, for which host.
//!
//! For a host, [`RuleSet::candidates`] returns the matching rules in priority order:
//! user rules first, then the built-ins. The caller resolves each candidate's credential in
//! turn and applies the first that is configured. This is how an Anthropic OAuth token, when
//! configured, is preferred over an API key: its rule comes first.

mod host;
mod user;

pub use host::HostPattern;
pub use user::UserRuleConfig;

use crate::secret::Secret;
use base64::Engine;
use http::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};

/// Headers that carry an API credential. An agent holds only placeholders, so whatever it
/// sent in these is removed before the real credential goes on.
pub static PLACEHOLDER_HEADERS: [HeaderName; 3] =
    [AUTHORIZATION, HeaderName::from_static("x-api-key"), HeaderName::from_static("x-goog-api-key")];

/// Never holds a secret: messages name the rule and the credential, not the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("host pattern `{host}` is not valid: {reason}")]
    InvalidHost { host: String, reason: String },
    #[error("rule `{rule}`: {reason}")]
    Invalid { rule: String, reason: String },
    #[error(
        "credential `{credential}` cannot go into a `{header}` header for rule `{rule}`: \
         it contains a line break, a control character or a non-ASCII byte; check how it is stored"
    )]
    UnusableSecret { rule: String, credential: String, header: String },
}

/// How the secret is turned into the text that replaces `{}` in the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueEncoding {
    /// The secret as it is.
    Plain,
    /// `base64("<username>:<secret>")`, for HTTP Basic authentication.
    BasicAuth { username: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectionRule {
    pub name: String,
    pub host: HostPattern,
    pub header: HeaderName,
    /// The header value with exactly one `{}` where the (encoded) secret goes, e.g. `Bearer {}`.
    pub template: String,
    /// The credential's name in the [`CredentialStore`](crate::credentials::CredentialStore).
    pub credential: String,
    pub encoding: ValueEncoding,
    /// Fixed headers the API needs alongside this credential. Each value is added as an item of a
    /// comma-separated list, keeping the items the agent sent (as `anthropic-beta` needs).
    pub extra_headers: Vec<(HeaderName, HeaderValue)>,
}

impl InjectionRule {
    /// Remove every placeholder the agent sent (this rule's header and [`PLACEHOLDER_HEADERS`]),
    /// then set the rendered value, marked sensitive, and add the extra headers.
    /// On error the headers are left as they were; the error never contains the secret.
    pub fn apply(&self, headers: &mut HeaderMap, secret: &Secret) -> Result<(), RuleError> {
        let value = self.render(secret)?;
        for name in PLACEHOLDER_HEADERS.iter().chain(std::iter::once(&self.header)) {
            headers.remove(name);
        }
        headers.insert(self.header.clone(), value);
        for (name, value) in &self.extra_headers {
            add_list_item(headers, name, value);
        }
        Ok(())
    }

    /// The header value for this secret, marked sensitive (HTTP/2 never indexes it).
    pub fn render(&self, secret: &Secret) -> Result<HeaderValue, RuleError> {
        let unusable = || RuleError::UnusableSecret {
            rule: self.name.clone(),
            credential: self.credential.clone(),
            header: self.header.to_string(),
        };
        // Checked before encoding too: a line break inside a Basic credential is as wrong as in the header.
        if !secret.expose().bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)) {
            return Err(unusable());
        }
        let encoded = match &self.encoding {
            ValueEncoding::Plain => None,
            ValueEncoding::BasicAuth { username } => Some(
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{}", secret.expose())),
            ),
        };
        let rendered =
            Secret::new(self.template.replacen("{}", encoded.as_deref().unwrap_or(secret.expose()), 1));
        let mut value = HeaderValue::from_str(rendered.expose()).map_err(|_| unusable())?;
        value.set_sensitive(true);
        Ok(value)
    }
}

/// Make `value` one of the comma-separated items of header `name`: set it when absent, append
/// it when the agent sent other items (Claude Code lists its own `anthropic-beta` values).
fn add_list_item(headers: &mut HeaderMap, name: &HeaderName, value: &HeaderValue) {
    let present = headers
        .get_all(name)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b','))
        .any(|item| item.trim_ascii() == value.as_bytes());
    if present {
        return;
    }
    let mut joined: Vec<u8> = Vec::new();
    for existing in headers.get_all(name) {
        joined.extend_from_slice(existing.as_bytes());
        joined.push(b',');
    }
    joined.extend_from_slice(value.as_bytes());
    // Joining valid values with commas gives a valid value; fall back to ours alone regardless.
    let merged = HeaderValue::from_bytes(&joined).unwrap_or_else(|_| value.clone());
    headers.insert(name.clone(), merged);
}

fn rule(name: &str, host: &str, header: &'static str, template: &str, credential: &str) -> InjectionRule {
    InjectionRule {
        name: name.to_string(),
        host: HostPattern::Exact(host.to_string()),
        header: HeaderName::from_static(header),
        template: template.to_string(),
        credential: credential.to_string(),
        encoding: ValueEncoding::Plain,
        extra_headers: Vec::new(),
    }
}

/// The rules clauderon ships, in priority order.
pub fn builtin_rules() -> Vec<InjectionRule> {
    vec![
        // Before the API key: a subscription token, when configured, wins.
        InjectionRule {
            extra_headers: vec![(
                HeaderName::from_static("anthropic-beta"),
                HeaderValue::from_static("oauth-2025-04-20"),
            )],
            ..rule(
                "anthropic-oauth",
                "api.anthropic.com",
                "authorization",
                "Bearer {}",
                "anthropic_oauth_token",
            )
        },
        rule("anthropic", "api.anthropic.com", "x-api-key", "{}", "anthropic_api_key"),
        rule("openai", "api.openai.com", "authorization", "Bearer {}", "openai_api_key"),
        rule("gemini", "generativelanguage.googleapis.com", "x-goog-api-key", "{}", "gemini_api_key"),
        rule("github-api", "api.github.com", "authorization", "Bearer {}", "github_token"),
        InjectionRule {
            encoding: ValueEncoding::BasicAuth { username: "x-access-token".to_string() },
            ..rule("github-git", "github.com", "authorization", "Basic {}", "github_token")
        },
    ]
}

/// All rules, user rules before built-ins.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<InjectionRule>,
}

impl RuleSet {
    pub fn new(builtin: Vec<InjectionRule>, user: Vec<InjectionRule>) -> Self {
        let mut rules = user;
        rules.extend(builtin);
        RuleSet { rules }
    }

    /// The rules for `host` (without port), in the order to try them: resolve each one's
    /// credential and apply the first that is configured.
    pub fn candidates(&self, host: &str) -> Vec<&InjectionRule> {
        self.rules.iter().filter(|r| r.host.matches(host)).collect()
    }

    /// Whether any rule applies to `host`, i.e. its TLS must be intercepted to inject.
    pub fn needs_interception(&self, host: &str) -> bool {
        self.rules.iter().any(|r| r.host.matches(host))
    }

    pub fn rules(&self) -> &[InjectionRule] {
        &self.rules
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_names_are_unique_and_credentials_are_known() {
        let rules = builtin_rules();
        for (i, r) in rules.iter().enumerate() {
            assert!(rules[..i].iter().all(|o| o.name != r.name), "{}", r.name);
            assert!(crate::credentials::builtin_credential(&r.credential).is_some(), "{}", r.credential);
            assert_eq!(r.template.matches("{}").count(), 1, "{}", r.name);
        }
    }

    #[test]
    fn a_failed_render_leaves_the_headers_alone() {
        let rules = builtin_rules();
        let Some(openai) = rules.iter().find(|r| r.name == "openai") else { panic!("no openai rule") };
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer placeholder"));
        assert!(openai.apply(&mut headers, &Secret::new("a\rb")).is_err());
        assert_eq!(headers.get(AUTHORIZATION), Some(&HeaderValue::from_static("Bearer placeholder")));
    }
}
