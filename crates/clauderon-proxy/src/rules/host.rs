//! Host patterns: `api.github.com` or `*.example.com`.

use super::RuleError;
use std::fmt;
use std::str::FromStr;

/// Which hosts a rule applies to. Matching ignores ASCII case and one trailing dot;
/// callers pass the host without its port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// Exactly this host (lowercase), e.g. `api.github.com` or `127.0.0.1`.
    Exact(String),
    /// `*.example.com`: any subdomain of `example.com` (stored without `*.`), not `example.com` itself.
    Subdomains(String),
}

impl HostPattern {
    pub fn parse(text: &str) -> Result<Self, RuleError> {
        let invalid =
            |reason: &str| RuleError::InvalidHost { host: text.to_string(), reason: reason.to_string() };
        let lower = text.trim_end_matches('.').to_ascii_lowercase();
        let (wildcard, name) = match lower.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, lower.as_str()),
        };
        if name.is_empty() {
            return Err(invalid("it is empty"));
        }
        if name.contains(':') && name.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(invalid("a host pattern has no port or scheme: write `api.example.com`"));
        }
        if name.contains('*') {
            return Err(invalid("`*` is only allowed as the first label, as in `*.example.com`"));
        }
        if name.parse::<std::net::IpAddr>().is_ok() {
            return if wildcard {
                Err(invalid("an IP address has no subdomains"))
            } else {
                Ok(HostPattern::Exact(name.to_string()))
            };
        }
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if name.len() > 253 || !name.split('.').all(label_ok) {
            return Err(invalid("expected a DNS name such as `api.example.com` or `*.example.com`"));
        }
        if wildcard && !name.contains('.') {
            return Err(invalid("`*.` needs a domain with a dot, e.g. `*.example.com`"));
        }
        Ok(if wildcard {
            HostPattern::Subdomains(name.to_string())
        } else {
            HostPattern::Exact(name.to_string())
        })
    }

    /// Parse every pattern of a list; the first bad one is the error.
    pub fn parse_list<S: AsRef<str>>(list: &[S]) -> Result<Vec<Self>, RuleError> {
        list.iter().map(|h| HostPattern::parse(h.as_ref())).collect()
    }

    /// Does `host` (without port) match? No allocation: this runs on every request.
    pub fn matches(&self, host: &str) -> bool {
        let host = host.strip_suffix('.').unwrap_or(host).as_bytes();
        match self {
            HostPattern::Exact(name) => host.eq_ignore_ascii_case(name.as_bytes()),
            HostPattern::Subdomains(domain) => {
                let domain = domain.as_bytes();
                host.len() > domain.len() + 1
                    && host[host.len() - domain.len() - 1] == b'.'
                    && host[host.len() - domain.len()..].eq_ignore_ascii_case(domain)
            }
        }
    }
}

impl FromStr for HostPattern {
    type Err = RuleError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        HostPattern::parse(text)
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Exact(name) => f.write_str(name),
            HostPattern::Subdomains(domain) => write!(f, "*.{domain}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> HostPattern {
        HostPattern::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn exact_hosts_match_ignoring_case_and_a_trailing_dot() {
        let p = pattern("API.GitHub.com");
        assert!(p.matches("api.github.com"));
        assert!(p.matches("Api.GITHUB.com."));
        assert!(!p.matches("github.com"));
        assert!(!p.matches("xapi.github.com"));
        assert!(!p.matches("api.github.com.evil.net"));
    }

    #[test]
    fn wildcards_match_subdomains_not_the_apex() {
        let p = pattern("*.example.com");
        assert!(p.matches("a.example.com"));
        assert!(p.matches("a.b.EXAMPLE.com"));
        assert!(!p.matches("example.com"));
        assert!(!p.matches("badexample.com"));
        assert!(!p.matches(".example.com"));
        assert!(!p.matches("é.example.co"));
        assert_eq!(p.to_string(), "*.example.com");
    }

    #[test]
    fn ip_addresses_are_exact_hosts() {
        assert!(pattern("127.0.0.1").matches("127.0.0.1"));
        assert!(pattern("::1").matches("::1"));
        assert!(HostPattern::parse("*.127.0.0.1").is_err());
    }

    #[test]
    fn bad_patterns_say_what_a_good_one_looks_like() {
        for (bad, hint) in [
            ("", "empty"),
            ("*", "first label"),
            ("api.example.com:443", "no port"),
            ("https://x.com", "no port"),
            ("a.*.com", "first label"),
            ("*.com", "needs a domain with a dot"),
            ("exa mple.com", "DNS name"),
            ("-x.com", "DNS name"),
        ] {
            let err = HostPattern::parse(bad).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains(hint), "{bad:?}: {err}");
        }
    }
}
