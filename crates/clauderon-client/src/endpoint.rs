//! Where the daemon is: its Unix socket in the data dir, or an HTTP address.

use crate::ClientError;
use clauderon_types::DataLayout;
use std::fmt;
use std::path::PathBuf;

pub use clauderon_types::ApiToken;

/// Where the daemon listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// The daemon's Unix socket. Being able to open it is the permission: no token is sent.
    Unix(PathBuf),
    /// `host:port` over plain HTTP, and the API token to send, if any.
    Http { authority: String, token: Option<ApiToken> },
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "{}", p.display()),
            Endpoint::Http { authority, .. } => write!(f, "http://{authority}"),
        }
    }
}

impl Endpoint {
    /// `http://HOST:PORT` (a trailing `/` allowed). An empty token counts as none.
    pub fn from_url(url: &str, token: Option<String>) -> Result<Self, ClientError> {
        let invalid =
            |reason: &str| ClientError::InvalidUrl { url: url.to_string(), reason: reason.to_string() };
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| invalid("only http://HOST:PORT is supported, e.g. http://127.0.0.1:3030"))?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        let parsed: http::uri::Authority = authority
            .parse()
            .map_err(|_| invalid("expected http://HOST:PORT, e.g. http://127.0.0.1:3030"))?;
        if parsed.as_str().contains('@') || parsed.host().is_empty() {
            return Err(invalid("expected http://HOST:PORT, e.g. http://127.0.0.1:3030"));
        }
        if parsed.port_u16().is_none() {
            return Err(invalid("the port is missing, e.g. http://127.0.0.1:3030"));
        }
        let token = token.filter(|t| !t.is_empty()).map(ApiToken::new);
        Ok(Endpoint::Http { authority: parsed.as_str().to_string(), token })
    }

    /// Is this a TCP address on this machine (`localhost`, 127.0.0.0/8, `[::1]`)? Only then
    /// may a client send it a token read from the local data dir: a daemon elsewhere must
    /// never be handed this machine's token.
    pub fn is_loopback(&self) -> bool {
        match self {
            Endpoint::Unix(_) => false,
            Endpoint::Http { authority, .. } => clauderon_types::is_loopback_host(authority),
        }
    }

    /// The same address with this token (over the socket a token is never sent).
    pub fn with_token(self, token: Option<ApiToken>) -> Self {
        match self {
            Endpoint::Http { authority, .. } => Endpoint::Http { authority, token },
            unix => unix,
        }
    }

    /// `url` (from `--url` or `CLAUDERON_URL`) when given and not empty, with `token`;
    /// otherwise the socket in the data dir, and the token is not used.
    pub fn resolve(
        url: Option<&str>,
        token: Option<String>,
        layout: &DataLayout,
    ) -> Result<Self, ClientError> {
        match url.filter(|u| !u.is_empty()) {
            Some(url) => Endpoint::from_url(url, token),
            None => Ok(Endpoint::Unix(layout.socket())),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls_parse_to_an_authority() {
        let e = Endpoint::from_url("http://127.0.0.1:3030/", Some("t".into())).unwrap();
        assert_eq!(e, Endpoint::Http { authority: "127.0.0.1:3030".into(), token: Some(ApiToken::new("t")) });
        let e = Endpoint::from_url("http://[::1]:3030", Some(String::new())).unwrap();
        assert_eq!(e, Endpoint::Http { authority: "[::1]:3030".into(), token: None });
        assert_eq!(e.to_string(), "http://[::1]:3030");
    }

    #[test]
    fn bad_urls_say_what_is_expected() {
        for (url, want) in [
            ("https://x:1", "only http://"),
            ("127.0.0.1:3030", "only http://"),
            ("http://x/api", "HOST:PORT"),
            ("http://localhost", "port is missing"),
            ("http://", "HOST:PORT"),
            ("http://user@x:1", "HOST:PORT"),
        ] {
            let err = Endpoint::from_url(url, None).unwrap_err().to_string();
            assert!(err.contains(want) && err.contains(url), "{url}: {err}");
        }
    }

    #[test]
    fn the_token_never_shows_in_debug() {
        let e = Endpoint::from_url("http://h:1", Some("secret-token-value".into())).unwrap();
        let debug = format!("{e:?}");
        assert!(!debug.contains("secret") && debug.contains("***"), "{debug}");
    }

    #[test]
    fn only_loopback_addresses_count_as_this_machine() {
        for url in ["http://127.0.0.1:3030", "http://localhost:1", "http://[::1]:3030"] {
            assert!(Endpoint::from_url(url, None).unwrap().is_loopback(), "{url}");
        }
        for url in ["http://192.168.1.5:3030", "http://box.example:3030", "http://127.0.0.1.evil.com:1"] {
            assert!(!Endpoint::from_url(url, None).unwrap().is_loopback(), "{url}");
        }
        assert!(!Endpoint::Unix(PathBuf::from("/s")).is_loopback());
        let e = Endpoint::from_url("http://h:1", None).unwrap().with_token(Some(ApiToken::new("t")));
        assert_eq!(e, Endpoint::Http { authority: "h:1".into(), token: Some(ApiToken::new("t")) });
    }

    #[test]
    fn no_url_means_the_socket_in_the_data_dir() {
        let layout = DataLayout::new("/data");
        let e = Endpoint::resolve(None, Some("t".into()), &layout).unwrap();
        assert_eq!(e, Endpoint::Unix(PathBuf::from("/data/clauderon.sock")));
        assert_eq!(Endpoint::resolve(Some(""), None, &layout).unwrap(), e);
        assert!(matches!(Endpoint::resolve(Some("http://h:1"), None, &layout), Ok(Endpoint::Http { .. })));
    }
}
