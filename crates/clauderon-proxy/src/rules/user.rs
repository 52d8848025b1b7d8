//! Rules a user writes in the config file, validated once into [`InjectionRule`]s.

use super::{HostPattern, InjectionRule, RuleError, ValueEncoding};
use crate::secret::{Secret, check_credential_name};
use http::HeaderName;
use serde::Deserialize;

/// Headers a rule may not set: they frame the request or belong to the proxy hop.
const FORBIDDEN_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-authorization",
    "proxy-connection",
];

/// One `[[proxy.rules]]` entry as written, e.g.
/// `{ name = "corp", host = "*.corp.example", header = "authorization", template = "Bearer {}", credential = "corp_token" }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRuleConfig {
    pub name: String,
    pub host: String,
    pub header: String,
    pub template: String,
    pub credential: String,
    /// When set, the secret is sent as HTTP Basic `base64("<username>:<secret>")` in the template's `{}`.
    #[serde(default)]
    pub basic_auth_username: Option<String>,
}

impl UserRuleConfig {
    pub fn validate(self) -> Result<InjectionRule, RuleError> {
        let label = if self.name.is_empty() { format!("for {}", self.host) } else { self.name.clone() };
        let invalid = |reason: String| RuleError::Invalid { rule: label.clone(), reason };

        let name_ok = !self.name.is_empty()
            && self.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
        if !name_ok {
            return Err(invalid("`name` must be letters, digits, `-`, `_` or `.`, e.g. `corp-api`".into()));
        }
        let host = HostPattern::parse(&self.host)?;
        let header = HeaderName::from_bytes(self.header.as_bytes()).map_err(|_| {
            invalid(format!("`header = {:?}` is not a valid header name, e.g. `authorization`", self.header))
        })?;
        if FORBIDDEN_HEADERS.contains(&header.as_str()) {
            return Err(invalid(format!("a rule cannot set `{header}`: it is managed by the proxy")));
        }
        if self.template.matches("{}").count() != 1 {
            return Err(invalid(format!(
                "`template = {:?}` must contain `{{}}` exactly once, where the credential goes, e.g. \"Bearer {{}}\"",
                self.template
            )));
        }
        check_credential_name(&self.credential).map_err(|e| invalid(e.to_string()))?;
        let encoding = match self.basic_auth_username {
            None => ValueEncoding::Plain,
            Some(username) => {
                if username.is_empty() || username.contains(':') || username.chars().any(char::is_control) {
                    return Err(invalid(
                        "`basic_auth_username` must be non-empty, without `:` or control characters".into(),
                    ));
                }
                ValueEncoding::BasicAuth { username }
            }
        };
        let rule = InjectionRule {
            name: self.name,
            host,
            header,
            template: self.template,
            credential: self.credential,
            encoding,
            extra_headers: Vec::new(),
        };
        // The fixed part of the template must itself be a valid header value.
        if rule.render(&Secret::new("x")).is_err() {
            return Err(invalid(format!(
                "`template = {:?}` contains characters a header value cannot hold",
                rule.template
            )));
        }
        Ok(rule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> UserRuleConfig {
        UserRuleConfig {
            name: "corp".into(),
            host: "*.corp.example".into(),
            header: "Authorization".into(),
            template: "Bearer {}".into(),
            credential: "corp_token".into(),
            basic_auth_username: None,
        }
    }

    #[test]
    fn a_good_rule_validates() {
        let rule = config().validate().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rule.header.as_str(), "authorization");
        assert_eq!(rule.host, HostPattern::Subdomains("corp.example".into()));
        assert_eq!(rule.encoding, ValueEncoding::Plain);
    }

    #[test]
    fn each_mistake_gets_a_message_that_names_it() {
        let cases: Vec<(UserRuleConfig, &str)> = vec![
            (UserRuleConfig { name: "".into(), ..config() }, "`name`"),
            (UserRuleConfig { host: "corp.example:8443".into(), ..config() }, "no port"),
            (UserRuleConfig { header: "bad header".into(), ..config() }, "not a valid header name"),
            (UserRuleConfig { header: "Host".into(), ..config() }, "cannot set `host`"),
            (UserRuleConfig { template: "Bearer".into(), ..config() }, "exactly once"),
            (UserRuleConfig { template: "{} {}".into(), ..config() }, "exactly once"),
            (UserRuleConfig { template: "Bearer\n{}".into(), ..config() }, "cannot hold"),
            (UserRuleConfig { credential: "../x".into(), ..config() }, "credential name"),
            (UserRuleConfig { basic_auth_username: Some("a:b".into()), ..config() }, "basic_auth_username"),
        ];
        for (cfg, hint) in cases {
            let shown = format!("{cfg:?}");
            let err = cfg.validate().err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains(hint), "{shown}: {err}");
        }
    }
}
