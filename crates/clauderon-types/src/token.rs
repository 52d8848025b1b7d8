//! The API token every TCP client of the daemon sends (loopback included). Its `Debug` never
//! shows the value.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

impl ApiToken {
    pub fn new(token: impl Into<String>) -> Self {
        ApiToken(token.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Is `host` (a Host header value, a URL's authority or an Origin's host; a port allowed) a
/// loopback name: `localhost`, `*.localhost`, 127.0.0.0/8 or `[::1]`?
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [::1]:3030
        match rest.split_once(']') {
            Some((inner, _)) => inner,
            None => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
            _ => host,
        }
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn debug_hides_the_value() {
        assert_eq!(format!("{:?}", super::ApiToken::new("s3cret-value")), "***");
    }

    #[test]
    fn loopback_hosts() {
        for ok in [
            "localhost",
            "localhost:3030",
            "127.0.0.1:3030",
            "127.1.2.3",
            "[::1]:3030",
            "app.localhost:1",
            "LOCALHOST.",
        ] {
            assert!(super::is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "evil.com",
            "evil.com:3030",
            "127.0.0.1.evil.com",
            "localhost.evil.com",
            "[::2]:1",
            "10.0.0.1",
            "",
            "[::1",
        ] {
            assert!(!super::is_loopback_host(bad), "{bad}");
        }
    }
}
