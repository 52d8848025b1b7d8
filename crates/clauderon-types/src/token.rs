//! The API token a non-loopback daemon requires. Its `Debug` never shows the value.

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
}
